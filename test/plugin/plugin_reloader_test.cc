#include "plugin/plugin_reloader.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "plugin_test_util.h"

namespace kubeai::plugin {
namespace {

using testing::InputBuilder;
using testing::TempDir;

core::AlgorithmOutput computeOk(const core::ScalingAlgorithm& algorithm) {
  InputBuilder input;
  input.replicas(4).gpu(2.0);
  auto output = algorithm.compute(input.build());
  REQUIRE(output.ok());
  return output.value();
}

std::vector<PluginLoadReport> reload(PluginReloader& reloader) {
  auto reports = reloader.reload();
  REQUIRE(reports.ok());
  return std::move(reports).value();
}

// Replaces a file the way an operator does: a new file renamed over the old.
void replaceWith(const std::filesystem::path& from, const std::filesystem::path& to) {
  const auto temporary = to.parent_path() / (".tmp-" + to.filename().string());
  std::filesystem::copy_file(from, temporary, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(temporary, to);
}

TEST_CASE("the reloader follows the directory: new, replaced, broken and removed plugins") {
  TempDir plugins;
  TempDir scratch;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  PluginReloader reloader(*registry, plugins.path(), scratch.path());
  CHECK(reload(reloader).empty());

  // New.
  plugins.copy(STEP_SCALE_SO, "algorithm.so");
  auto reports = reload(reloader);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].ok());
  CHECK(reports[0].file == plugins.path() / "algorithm.so");
  const auto stepScale = registry->find("StepScale");
  REQUIRE(stepScale != nullptr);

  // Unchanged: nothing is loaded again.
  reload(reloader);
  CHECK(registry->find("StepScale") == stepScale);

  // Replaced by another plugin under the same file name.
  replaceWith(CAPPED_SMOOTH_RATIO_SO, plugins.path() / "algorithm.so");
  reports = reload(reloader);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].ok());
  CHECK(registry->find("StepScale") == nullptr);
  REQUIRE(registry->find("CappedSmoothRatio") != nullptr);
  // A call that started on the old version still finishes on it.
  CHECK(computeOk(*stepScale).desiredReplicas == 5);
  CHECK(computeOk(*registry->find("CappedSmoothRatio")).desiredReplicas == 6);

  // Broken: reported, and the previous version keeps serving.
  plugins.write(".tmp", "not an ELF file");
  std::filesystem::rename(plugins.path() / ".tmp", plugins.path() / "algorithm.so");
  reports = reload(reloader);
  REQUIRE(reports.size() == 1);
  CHECK_FALSE(reports[0].ok());
  CHECK(reports[0].error.find("cannot load plugin " + (plugins.path() / "algorithm.so").string()) == 0);
  CHECK(reports[0].error.find("still serving the previous version") != std::string::npos);
  CHECK(registry->find("CappedSmoothRatio") != nullptr);

  // Removed.
  std::filesystem::remove(plugins.path() / "algorithm.so");
  CHECK(reload(reloader).empty());
  CHECK(registry->find("CappedSmoothRatio") == nullptr);
  CHECK(registry->find("MaxRatio") != nullptr);
  CHECK(std::filesystem::is_empty(scratch.path()));  // copies are unlinked once loaded
}

TEST_CASE("the reloader refuses a second file with the same algorithm, and built-in names") {
  TempDir plugins;
  TempDir scratch;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  PluginReloader reloader(*registry, plugins.path(), scratch.path());
  plugins.copy(STEP_SCALE_SO, "a.so");
  plugins.copy(STEP_SCALE_SO, "b.so");
  plugins.copy(FIXTURE_BUILTIN_NAME_SO, "c.so");
  const auto reports = reload(reloader);
  REQUIRE(reports.size() == 3);
  CHECK(reports[0].ok());
  CHECK(reports[1].error == "duplicate algorithm name \"StepScale\": already provided by another plugin");
  CHECK(reports[2].error == "duplicate algorithm name \"MaxRatio\": already provided by a built-in algorithm");
}

TEST_CASE("the reloader: a missing directory is an error") {
  TempDir scratch;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  PluginReloader reloader(*registry, "/nonexistent/plugins", scratch.path());
  auto reports = reloader.reload();
  REQUIRE_FALSE(reports.ok());
  CHECK(reports.error().message == "plugin directory not found: /nonexistent/plugins");
}

}  // namespace
}  // namespace kubeai::plugin

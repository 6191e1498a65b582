#include "plugin/plugin_reloader.h"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "plugin_test_util.h"

namespace kubeai::plugin {
namespace {

namespace fs = std::filesystem;
using testing::InputBuilder;
using testing::TempDir;

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

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
  auto registry = core::AlgorithmRegistry::withBuiltins();
  PluginReloader reloader(*registry, plugins.path());
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
}

TEST_CASE("the reloader refuses a second file with the same algorithm, and built-in names") {
  TempDir plugins;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  PluginReloader reloader(*registry, plugins.path());
  plugins.copy(STEP_SCALE_SO, "a.so");
  plugins.copy(STEP_SCALE_SO, "b.so");
  plugins.copy(FIXTURE_BUILTIN_NAME_SO, "c.so");
  const auto reports = reload(reloader);
  REQUIRE(reports.size() == 3);
  CHECK(reports[0].ok());
  CHECK(reports[1].error == "duplicate algorithm name \"StepScale\": already provided by another plugin");
  CHECK(reports[2].error == "duplicate algorithm name \"MaxRatio\": already provided by a built-in algorithm");
}

TEST_CASE("the reloader: a plugin copied in place is loaded once complete, never half") {
  TempDir plugins;
  ::chmod(plugins.path().c_str(), 0755);
  auto registry = core::AlgorithmRegistry::withBuiltins();
  PluginReloader reloader(*registry, plugins.path());
  const fs::path file = plugins.path() / "algorithm.so";
  const std::string stepScale = readAll(STEP_SCALE_SO);
  REQUIRE(stepScale.size() > 4096);

  // The first 4 KiB, the writer paused (as a slow cp or volume is).
  std::ofstream writer(file, std::ios::binary);
  writer << stepScale.substr(0, 4096);
  writer.flush();
  auto reports = reload(reloader);
  REQUIRE(reports.size() == 1);
  CHECK_FALSE(reports[0].ok());
  CHECK(reports[0].waiting);
  CHECK(reports[0].error.find("waiting for " + file.string() + " to be complete: ") == 0);
  CHECK(registry->find("StepScale") == nullptr);
  // Asked again with nothing changed: still waiting, still not loaded.
  reports = reload(reloader);
  CHECK(reports[0].waiting);

  // The rest: loaded.
  writer << stepScale.substr(4096);
  writer.close();
  reports = reload(reloader);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].ok());
  CHECK_FALSE(reports[0].waiting);
  REQUIRE(registry->find("StepScale") != nullptr);
  const auto loaded = registry->find("StepScale");
  CHECK(computeOk(*loaded).desiredReplicas == 5);

  // Replaced in place by another plugin, half written: the loaded version
  // keeps serving (and running: its bytes are a sealed copy, not the file).
  const std::string capped = readAll(CAPPED_SMOOTH_RATIO_SO);
  writer.open(file, std::ios::binary | std::ios::trunc);
  writer << capped.substr(0, 4096);
  writer.flush();
  reports = reload(reloader);
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].waiting);
  CHECK(reports[0].error.find("still serving the previous version") != std::string::npos);
  CHECK(registry->find("StepScale") == loaded);
  CHECK(computeOk(*loaded).desiredReplicas == 5);
  writer << capped.substr(4096);
  writer.close();
  reports = reload(reloader);
  CHECK(reports[0].ok());
  CHECK(registry->find("StepScale") == nullptr);
  REQUIRE(registry->find("CappedSmoothRatio") != nullptr);
  CHECK(computeOk(*loaded).desiredReplicas == 5);  // a call on the old version still works
}

TEST_CASE("the reloader refuses a world-writable plugin, and loads it once fixed") {
  TempDir plugins;
  ::chmod(plugins.path().c_str(), 0755);
  auto registry = core::AlgorithmRegistry::withBuiltins();
  PluginReloader reloader(*registry, plugins.path());
  const fs::path file = plugins.copy(STEP_SCALE_SO, "step.so");
  ::chmod(file.c_str(), 0666);
  auto reports = reload(reloader);
  REQUIRE(reports.size() == 1);
  CHECK_FALSE(reports[0].waiting);
  CHECK(reports[0].error == "plugin " + file.string() + " is writable by others (mode 0666): refused");
  CHECK(registry->find("StepScale") == nullptr);

  ::chmod(file.c_str(), 0644);
  reports = reload(reloader);
  CHECK(reports[0].ok());
  CHECK(registry->find("StepScale") != nullptr);

  // The directory made group-writable: a new plugin is refused (the loaded one stays).
  plugins.copy(CAPPED_SMOOTH_RATIO_SO, "capped.so");
  ::chmod(plugins.path().c_str(), 0775);
  reports = reload(reloader);
  REQUIRE(reports.size() == 2);
  CHECK(reports[0].error == "plugin directory " + plugins.path().string() +
                                " is writable by group (mode 0775): refused");
  CHECK(registry->find("CappedSmoothRatio") == nullptr);
  CHECK(registry->find("StepScale") != nullptr);
  // Only the directory's mode changes, not the file: retried all the same.
  ::chmod(plugins.path().c_str(), 0755);
  reports = reload(reloader);
  CHECK(reports[0].ok());
  CHECK(registry->find("CappedSmoothRatio") != nullptr);
}

TEST_CASE("the reloader writes no copies: nothing named kubeai-scaler-plugins-* under TMPDIR") {
  TempDir temporary;
  const char* previous = std::getenv("TMPDIR");
  const std::string restore = previous != nullptr ? previous : "";
  ::setenv("TMPDIR", temporary.path().c_str(), 1);
  {
    TempDir plugins;  // under the new TMPDIR
    ::chmod(plugins.path().c_str(), 0755);
    auto registry = core::AlgorithmRegistry::withBuiltins();
    PluginReloader reloader(*registry, plugins.path());
    plugins.copy(STEP_SCALE_SO, "a.so");
    REQUIRE(reload(reloader)[0].ok());
    replaceWith(CAPPED_SMOOTH_RATIO_SO, plugins.path() / "a.so");
    REQUIRE(reload(reloader)[0].ok());
    std::vector<std::string> entries;
    for (const auto& entry : fs::directory_iterator(temporary.path())) entries.push_back(entry.path().filename());
    CHECK(entries.size() == 1);  // the plugin directory, nothing else
  }
  if (previous != nullptr) {
    ::setenv("TMPDIR", restore.c_str(), 1);
  } else {
    ::unsetenv("TMPDIR");
  }
}

TEST_CASE("the reloader: a missing directory is an error") {
  auto registry = core::AlgorithmRegistry::withBuiltins();
  PluginReloader reloader(*registry, "/nonexistent/plugins");
  auto reports = reloader.reload();
  REQUIRE_FALSE(reports.ok());
  CHECK(reports.error().message == "plugin directory not found: /nonexistent/plugins");
}

}  // namespace
}  // namespace kubeai::plugin

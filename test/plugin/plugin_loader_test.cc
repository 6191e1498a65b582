// The loader against real shared objects: the fixtures in fixtures/ are built
// by test/plugin/CMakeLists.txt and their paths passed in as *_SO macros.
#include <cstddef>
#include <dlfcn.h>

#include <doctest/doctest.h>
#include <kubeai/scaler_plugin.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/algorithm_registry.h"
#include "plugin/plugin_algorithm.h"
#include "plugin/plugin_loader.h"
#include "plugin_test_util.h"

namespace kubeai::plugin {
namespace {

namespace fs = std::filesystem;
using testing::InputBuilder;
using testing::TempDir;

std::shared_ptr<const core::ScalingAlgorithm> mustLoad(const fs::path& file) {
  auto loaded = loadPlugin(file);
  REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? std::string() : loaded.error().message));
  return loaded.value();
}

std::string loadError(const fs::path& file) {
  auto loaded = loadPlugin(file);
  REQUIRE_FALSE(loaded.ok());
  return loaded.error().message;
}

std::string computeError(const core::ScalingAlgorithm& algorithm, const InputBuilder& input) {
  auto result = algorithm.compute(input.build());
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

core::AlgorithmOutput computeOk(const core::ScalingAlgorithm& algorithm, const InputBuilder& input) {
  auto result = algorithm.compute(input.build());
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.error().message));
  return result.value();
}

// Whether the dynamic loader still has the file mapped: plugins are loaded
// from a memfd copy named after the file ("/memfd:kubeai-plugin:NAME (deleted)").
bool isMapped(const fs::path& file) {
  std::ifstream maps("/proc/self/maps");
  const std::string memfd = "/memfd:kubeai-plugin:" + file.filename().string() + " ";
  for (std::string line; std::getline(maps, line);) {
    if (line.find(memfd) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST_CASE("a C plugin loads and computes through the ABI") {
  auto algorithm = mustLoad(FIXTURE_GOOD_A_SO);
  CHECK(algorithm->name() == "FixtureA");
  const auto* plugin = dynamic_cast<const PluginAlgorithm*>(algorithm.get());
  REQUIRE(plugin != nullptr);
  CHECK(plugin->file() == fs::path(FIXTURE_GOOD_A_SO));
  CHECK(plugin->abiVersion() == KUBEAI_SCALER_ABI_VERSION);

  const auto output = computeOk(*algorithm, InputBuilder().replicas(3).gpu(1.5));
  CHECK(output.desiredReplicas == 4);
  CHECK(output.reason == "fixture FixtureA");
  CHECK_FALSE(output.ratio.has_value());
}

TEST_CASE("the plugin sees every input field") {
  auto algorithm = mustLoad(FIXTURE_GOOD_A_SO);
  InputBuilder input;
  input.replicas(5).policy("team-a", "llama").withTolerance(0.25);
  input.min = 2;
  input.max = 9;
  input.ratio(core::MetricSlot::kLatencyP99, 1.5).ratio(core::MetricSlot::kGpuUtilization, 0.2);
  input.weights = {2.0, 1.0};
  input.parameter("mode", "echo").parameter("alpha", "1");
  const auto output = computeOk(*algorithm, input);
  CHECK(output.desiredReplicas == 5);
  std::string expected = "size=";
  expected += std::to_string(sizeof(kubeai_scaling_input));
  expected += " policy=team-a/llama current=5 min=2 max=9 tol=0.25 ratios=0:1.50,2:0.20 weights=2.00,1.00"
              " params=alpha=1;mode=echo";
  CHECK(output.reason == expected);
}

TEST_CASE("names longer than the stack buffer and many parameters still reach the plugin") {
  auto algorithm = mustLoad(FIXTURE_GOOD_A_SO);
  InputBuilder input;
  input.policy(std::string(300, 'n'), std::string(300, 'p')).gpu(1.0).parameter("mode", "lengths");
  for (int i = 0; i < 20; ++i) {
    std::string key = "k";  // not "k" + std::string: GCC 12's false -Wrestrict
    key += std::to_string(10 + i);
    input.parameter(key, "v");
  }
  const auto output = computeOk(*algorithm, input);
  // Parameters arrive in key order; "mode" sorts last.
  CHECK(output.reason == "name=300p namespace=300n uniform=1 parameters=21 last=mode=lengths");
}

TEST_CASE("how a plugin's answer becomes a core result") {
  auto algorithm = mustLoad(FIXTURE_GOOD_A_SO);
  const auto input = [](const char* mode) { return InputBuilder().replicas(4).gpu(2.0).parameter("mode", mode); };

  // An error with a message.
  CHECK(computeError(*algorithm, input("error")) == "fixture failure");
  // An error code without a message.
  CHECK(computeError(*algorithm, input("error-code")) == "returned error code 7");
  // A negative recommendation is refused.
  CHECK(computeError(*algorithm, input("negative")) == "returned negative desired replicas (-1)");
  // OK without a reason: desired was preset to current, the reason is supplied.
  auto output = computeOk(*algorithm, input("no-reason"));
  CHECK(output.desiredReplicas == 4);
  CHECK(output.reason == "computed by FixtureA");
  // A reason longer than the buffer is cut, still terminated.
  output = computeOk(*algorithm, input("long-reason"));
  CHECK(output.reason == std::string(PluginAlgorithm::kReasonCapacity - 1, 'x'));
  // A reason without a terminator is read up to the buffer's end, no further.
  output = computeOk(*algorithm, input("unterminated"));
  CHECK(output.reason == std::string(PluginAlgorithm::kReasonCapacity, 'y'));
}

TEST_CASE("a C++ plugin's exceptions become errors and the process survives") {
  auto algorithm = mustLoad(FIXTURE_CPP_SO);
  CHECK(algorithm->name() == "CppFixture");
  const auto input = [](const char* mode) { return InputBuilder().replicas(4).gpu(2.0).parameter("mode", mode); };

  // std::exception: its what().
  CHECK(computeError(*algorithm, input("throw-std")) == "boom from a C++ plugin");
  // Anything else.
  CHECK(computeError(*algorithm, input("throw-int")) == "unknown exception");
  // Result::failure, no exception at all.
  CHECK(computeError(*algorithm, input("failure")) == "refused politely");
  // And the plugin still works afterwards.
  const auto output = computeOk(*algorithm, InputBuilder().replicas(4).gpu(2.0));
  CHECK(output.desiredReplicas == 6);
  CHECK(output.reason == "cpp fixture");
}

TEST_CASE("an exception thrown across the C ABI without the SDK is caught by the host") {
  auto algorithm = mustLoad(FIXTURE_RAW_THROWING_SO);
  CHECK(computeError(*algorithm, InputBuilder().replicas(4).gpu(2.0)) ==
        "threw an exception across the C ABI: raw plugin exploded");
}

TEST_CASE("the C++ SDK's Input view reads what the host passed") {
  auto algorithm = mustLoad(FIXTURE_CPP_SO);
  InputBuilder input;
  input.replicas(3).policy("ns", "p").gpu(0.5).ratio(core::MetricSlot::kRequestQueueDepth, 1.75);
  input.min = 1;
  input.max = 7;
  input.weights = {1.0, 1.0, 3.0};
  input.parameter("mode", "echo").parameter("extra", "yes");
  const auto output = computeOk(*algorithm, input);
  CHECK(output.reason == "ns/p current=3 min=1 max=7 ratios=2 max_ratio=1.750000 weights=3 params=2 extra=yes");
}

TEST_CASE("a C++ plugin whose constructor throws fails that call and is retried") {
  auto algorithm = mustLoad(FIXTURE_THROWING_CONSTRUCTOR_SO);
  CHECK(computeError(*algorithm, InputBuilder().gpu(1.0)) ==
        "constructor failed on attempt 1");
  const auto output = computeOk(*algorithm, InputBuilder().replicas(2).gpu(1.0));
  CHECK(output.desiredReplicas == 2);
  CHECK(output.reason == "constructed after 2 attempts");
}

TEST_CASE("loader errors keep the seed's wording") {
  TempDir dir;

  SUBCASE("missing file") {
    const auto file = dir.path() / "absent.so";
    CHECK(loadError(file) == "plugin not found: " + file.string());
  }
  SUBCASE("not an ELF file") {
    const auto file = dir.write("fake.so", "hello");
    const auto error = loadError(file);
    CHECK(error.rfind("cannot load plugin " + file.string() + ": ", 0) == 0);
    // The file name is not repeated from dlerror().
    CHECK(error.find(file.string(), 20) == std::string::npos);
  }
  SUBCASE("no Algorithm symbol") {
    CHECK(loadError(FIXTURE_NO_SYMBOL_SO) == std::string("plugin missing Algorithm symbol: ") + FIXTURE_NO_SYMBOL_SO);
  }
  SUBCASE("another ABI major") {
    CHECK(loadError(FIXTURE_WRONG_MAJOR_SO) == std::string("does not implement ScalingAlgorithm: ") +
                                                   FIXTURE_WRONG_MAJOR_SO + ": ABI version 2.0, host supports 1.1");
  }
  SUBCASE("a newer minor than the host knows") {
    CHECK(loadError(FIXTURE_NEWER_MINOR_SO) == std::string("does not implement ScalingAlgorithm: ") +
                                                   FIXTURE_NEWER_MINOR_SO + ": ABI version 1.2, host supports 1.1");
  }
  SUBCASE("struct_size smaller than the v1.0 fields") {
    CHECK(loadError(FIXTURE_SMALL_STRUCT_SO) ==
          std::string("does not implement ScalingAlgorithm: ") + FIXTURE_SMALL_STRUCT_SO +
              ": Algorithm struct_size 8 is smaller than the " +
              std::to_string(offsetof(kubeai_scaling_algorithm, user_data) + sizeof(void*)) + " bytes of ABI 1.0");
  }
  SUBCASE("NULL compute") {
    CHECK(loadError(FIXTURE_NULL_COMPUTE_SO) ==
          std::string("does not implement ScalingAlgorithm: ") + FIXTURE_NULL_COMPUTE_SO + ": compute is NULL");
  }
  SUBCASE("empty name") {
    CHECK(loadError(FIXTURE_EMPTY_NAME_SO) ==
          std::string("does not implement ScalingAlgorithm: ") + FIXTURE_EMPTY_NAME_SO + ": name is NULL or empty");
  }
  SUBCASE("NULL name") {
    CHECK(loadError(FIXTURE_NULL_NAME_SO) ==
          std::string("does not implement ScalingAlgorithm: ") + FIXTURE_NULL_NAME_SO + ": name is NULL or empty");
  }
  SUBCASE("a directory named like a plugin") {
    fs::create_directory(dir.path() / "dir.so");
    CHECK(loadError(dir.path() / "dir.so").rfind("cannot load plugin " + (dir.path() / "dir.so").string() + ": ", 0) ==
          0);
  }
}

TEST_CASE("a bare file name is looked up in the current directory, not the library path") {
  TempDir dir;
  dir.copy(FIXTURE_GOOD_A_SO, "bare.so");
  struct RestoreCwd {
    fs::path saved = fs::current_path();
    ~RestoreCwd() { fs::current_path(saved); }
  } restore;
  fs::current_path(dir.path());
  auto algorithm = mustLoad("bare.so");
  CHECK(algorithm->name() == "FixtureA");
}

TEST_CASE("a directory mixing good and bad plugins loads the good ones") {
  TempDir dir;
  dir.copy(FIXTURE_GOOD_A_SO, "a_good.so");
  dir.copy(FIXTURE_WRONG_MAJOR_SO, "b_wrong_major.so");
  dir.copy(FIXTURE_NO_SYMBOL_SO, "c_no_symbol.so");
  dir.write("d_fake.so", "hello");
  dir.copy(FIXTURE_CPP_SO, "e_cpp.so");
  dir.copy(FIXTURE_GOOD_B_SO, "f_good.so");
  // Ignored: not *.so, versioned names, hidden files, directories.
  dir.write("README.txt", "not a plugin");
  dir.copy(FIXTURE_GOOD_B_SO, "libother.so.1");
  dir.copy(FIXTURE_GOOD_B_SO, ".hidden.so");
  fs::create_directory(dir.path() / "subdir.so");
  // A dangling symlink is reported, not skipped: it is most likely a mistake.
  fs::create_symlink(dir.path() / "nowhere.so", dir.path() / "g_dangling.so");

  auto loaded = loadPluginDirectory(dir.path());
  REQUIRE(loaded.ok());
  auto reports = std::move(loaded).value();
  REQUIRE(reports.size() == 7);

  std::vector<std::string> names;
  for (const auto& report : reports) {
    names.push_back(report.file.filename().string());
  }
  CHECK(names == std::vector<std::string>{"a_good.so", "b_wrong_major.so", "c_no_symbol.so", "d_fake.so", "e_cpp.so",
                                          "f_good.so", "g_dangling.so"});
  CHECK(reports[0].ok());
  CHECK(reports[0].error.empty());
  CHECK(reports[1].error.rfind("does not implement ScalingAlgorithm: ", 0) == 0);
  CHECK(reports[2].error.rfind("plugin missing Algorithm symbol: ", 0) == 0);
  CHECK(reports[3].error.rfind("cannot load plugin ", 0) == 0);
  CHECK(reports[4].ok());
  CHECK(reports[5].ok());
  CHECK(reports[6].error == "plugin not found: " + (dir.path() / "g_dangling.so").string());

  auto registry = core::AlgorithmRegistry::withBuiltins();
  registerPlugins(*registry, reports);
  CHECK(reports[0].ok());
  CHECK(reports[4].ok());
  CHECK(reports[5].ok());
  CHECK(registry->find("FixtureA") != nullptr);
  CHECK(registry->find("FixtureB") != nullptr);
  CHECK(registry->find("CppFixture") != nullptr);
  CHECK_FALSE(registry->isBuiltin("FixtureA"));
  // The failed reports are untouched.
  CHECK(reports[1].error.rfind("does not implement ScalingAlgorithm: ", 0) == 0);
}

TEST_CASE("directory errors") {
  TempDir dir;
  SUBCASE("missing directory") {
    auto loaded = loadPluginDirectory(dir.path() / "absent");
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message == "plugin directory not found: " + (dir.path() / "absent").string());
  }
  SUBCASE("a file, not a directory") {
    const auto file = dir.write("file", "x");
    auto loaded = loadPluginDirectory(file);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message == "cannot read plugin directory " + file.string() + ": not a directory");
  }
  SUBCASE("an empty directory is fine") {
    auto loaded = loadPluginDirectory(dir.path());
    REQUIRE(loaded.ok());
    CHECK(loaded.value().empty());
  }
}

TEST_CASE("a second plugin with a registered name is refused and the first kept") {
  TempDir dir;
  const auto first = dir.copy(FIXTURE_GOOD_A_SO, "a_first.so");
  dir.copy(FIXTURE_DUPLICATE_A_SO, "b_second.so");
  auto loaded = loadPluginDirectory(dir.path());
  REQUIRE(loaded.ok());
  auto reports = std::move(loaded).value();
  REQUIRE(reports.size() == 2);
  REQUIRE(reports[1].ok());

  auto registry = core::AlgorithmRegistry::withBuiltins();
  registerPlugins(*registry, reports);
  CHECK(reports[0].ok());
  CHECK_FALSE(reports[1].ok());
  CHECK(reports[1].error == "duplicate algorithm name \"FixtureA\": already provided by " + first.string());

  const auto* kept = dynamic_cast<const PluginAlgorithm*>(registry->find("FixtureA").get());
  REQUIRE(kept != nullptr);
  CHECK(kept->file() == first);
}

TEST_CASE("a plugin may not shadow a built-in") {
  TempDir dir;
  dir.copy(FIXTURE_BUILTIN_NAME_SO, "max_ratio.so");
  auto loaded = loadPluginDirectory(dir.path());
  REQUIRE(loaded.ok());
  auto reports = std::move(loaded).value();
  REQUIRE(reports.size() == 1);

  auto registry = core::AlgorithmRegistry::withBuiltins();
  registerPlugins(*registry, reports);
  CHECK_FALSE(reports[0].ok());
  CHECK(reports[0].error == "duplicate algorithm name \"MaxRatio\": already provided by a built-in algorithm");
  CHECK(registry->isBuiltin("MaxRatio"));
  CHECK(dynamic_cast<const PluginAlgorithm*>(registry->find("MaxRatio").get()) == nullptr);
}

TEST_CASE("the shared object stays mapped while any copy of its algorithm is alive") {
  TempDir dir;
  const auto file = dir.copy(FIXTURE_GOOD_B_SO, "lifetime.so");
  CHECK_FALSE(isMapped(file));

  auto registry = core::AlgorithmRegistry::withBuiltins();
  std::shared_ptr<const core::ScalingAlgorithm> inFlight;
  {
    std::vector<PluginLoadReport> reports{{file, mustLoad(file), {}, false}};
    registerPlugins(*registry, reports);
    REQUIRE(reports[0].ok());
    CHECK(isMapped(file));
    // A call that started before the plugin is removed holds a reference.
    inFlight = registry->find("FixtureB");
  }
  CHECK(registry->remove("FixtureB"));
  CHECK(isMapped(file));
  CHECK(computeOk(*inFlight, InputBuilder().replicas(1).gpu(1.0)).desiredReplicas == 2);

  inFlight.reset();
  CHECK_FALSE(isMapped(file));
}

TEST_CASE("a C++ plugin unloads too: the SDK helper keeps it free of GNU_UNIQUE symbols") {
  TempDir dir;
  const auto file = dir.copy(FIXTURE_CPP_SO, "cpp_lifetime.so");
  {
    auto algorithm = mustLoad(file);
    CHECK(computeOk(*algorithm, InputBuilder().replicas(1).gpu(1.0)).desiredReplicas == 3);
    CHECK(isMapped(file));
  }
  CHECK_FALSE(isMapped(file));
}

}  // namespace
}  // namespace kubeai::plugin

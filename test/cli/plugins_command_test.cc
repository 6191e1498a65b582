#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "command_runner.h"

namespace kubeai::testing {
namespace {

TEST_CASE("plugins lists each .so with its algorithm") {
  TempDir dir;
  std::filesystem::copy_file(CAPPED_SMOOTH_RATIO_SO, dir.path() / "capped_smooth_ratio.so");
  std::filesystem::copy_file(STEP_SCALE_SO, dir.path() / "step_scale.so");
  dir.write("README.txt", "not a plugin, not looked at");

  const CommandResult text = runScaler({"plugins", "--plugin-dir", dir.path().string()});
  CHECK(text.exitCode == 0);
  CHECK(text.out == "capped_smooth_ratio.so: CappedSmoothRatio\nstep_scale.so: StepScale\n");

  const CommandResult json = runScaler({"plugins", "--plugin-dir", dir.path().string(), "--output", "json"});
  CHECK(json.exitCode == 0);
  CHECK(nlohmann::json::parse(json.out) == nlohmann::json::parse(R"([
      {"file": "capped_smooth_ratio.so", "algorithm": "CappedSmoothRatio"},
      {"file": "step_scale.so", "algorithm": "StepScale"}])"));
}

TEST_CASE("plugins reports a broken plugin beside the good ones and exits 1") {
  TempDir dir;
  std::filesystem::copy_file(STEP_SCALE_SO, dir.path() / "step_scale.so");
  std::filesystem::copy_file(STEP_SCALE_SO, dir.path() / "step_scale_copy.so");  // same name: refused
  dir.write("garbage.so", "hello");

  const CommandResult result = runScaler({"plugins", "--plugin-dir", dir.path().string(), "--output", "json"});
  CHECK(result.exitCode == 1);
  const auto reports = nlohmann::json::parse(result.out);
  REQUIRE(reports.size() == 3);
  CHECK(reports[0]["file"] == "garbage.so");
  CHECK(reports[0].contains("error"));
  CHECK(reports[1] == nlohmann::json{{"file", "step_scale.so"}, {"algorithm", "StepScale"}});
  CHECK(reports[2]["file"] == "step_scale_copy.so");
  CHECK(reports[2]["error"].get<std::string>().find("duplicate algorithm name \"StepScale\"") != std::string::npos);
}

TEST_CASE("plugins: a missing directory is a bad argument") {
  const CommandResult result = runScaler({"plugins", "--plugin-dir", "/nonexistent/plugins"});
  CHECK(result.exitCode == 2);
  CHECK(result.err.find("/nonexistent/plugins") != std::string::npos);
}

TEST_CASE("plugins: an empty directory is fine") {
  TempDir dir;
  const CommandResult result = runScaler({"plugins", "--plugin-dir", dir.path().string(), "--output", "json"});
  CHECK(result.exitCode == 0);
  CHECK(nlohmann::json::parse(result.out).empty());
}

}  // namespace
}  // namespace kubeai::testing

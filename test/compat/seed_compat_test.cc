// Issue 12's "seed compatibility": every policy of examples/policies/ and of
// test/compat/policies/ (the seed document's) decides exactly as the code of
// commit 635ab70 did, on a fixed grid of inputs. seed_decisions.golden.jsonl
// holds those decisions; test/compat/make_golden.py made it (its docstring says
// how to regenerate it, which is only right when a decision is meant to change).
//
// Each case runs cli::runEvaluate, the very code of `kubeai-scaler evaluate`,
// in process, and compares only the fields the golden recorded: fields the
// JSON gains later are ignored.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli/evaluate_command.h"

namespace kubeai::testing {
namespace {

constexpr std::size_t kShownDifferences = 25;

struct GoldenCase {
  std::size_t line = 0;
  nlohmann::json json;
};

std::vector<GoldenCase> readGolden(const std::filesystem::path& file) {
  std::ifstream in(file);
  REQUIRE_MESSAGE(in.good(), "cannot read ", file.string());
  std::vector<GoldenCase> cases;
  std::string text;
  for (std::size_t line = 1; std::getline(in, text); ++line) {
    if (!text.empty()) {
      cases.push_back({line, nlohmann::json::parse(text)});
    }
  }
  return cases;
}

// The per-slot ratios by slot name, from `ratios` as evaluate prints it today
// ({"gpuUtilization": 1.2}) or as a list of {"name"|"slot", "ratio"|"value"}
// objects, should the shape change: the golden is keyed by slot name either way.
std::map<std::string, nlohmann::json> ratiosBySlot(const nlohmann::json& ratios) {
  std::map<std::string, nlohmann::json> out;
  const auto ratioOf = [](const nlohmann::json& entry) {
    if (entry.is_object()) {
      return entry.contains("ratio") ? entry["ratio"] : entry.value("value", nlohmann::json());
    }
    return entry;
  };
  if (ratios.is_object()) {
    for (const auto& [name, entry] : ratios.items()) {
      out[name] = ratioOf(entry);
    }
  } else if (ratios.is_array()) {
    for (const auto& entry : ratios) {
      const std::string name = entry.contains("name") ? entry.value("name", "") : entry.value("slot", "");
      out[name] = ratioOf(entry);
    }
  }
  return out;
}

// Numbers within 1e-12 (relative past 1: a queue ratio can be large) are the
// same ratio; anything else compares as JSON.
bool same(const nlohmann::json& expected, const nlohmann::json& actual) {
  if (expected.is_number() && actual.is_number()) {
    const double e = expected.get<double>();
    const double a = actual.get<double>();
    return e == a || std::fabs(e - a) <= 1e-12 * std::max(1.0, std::fabs(e));
  }
  return expected == actual;
}

// "test/compat/policies/x.yaml, currentReplicas 3, latencyP99Ms=550": what to
// run to see the case for oneself.
std::string describe(const nlohmann::json& golden) {
  std::string text = golden["policy"].get<std::string>() + ", currentReplicas " +
                     std::to_string(golden["currentReplicas"].get<int>());
  for (const auto& [key, value] : golden["metrics"].items()) {
    text += ", " + key + "=" + value.get<std::string>();
  }
  if (golden.value("pluginDir", false)) {
    text += ", with the example plugins";
  }
  return text;
}

class Differences {
 public:
  void add(const nlohmann::json& golden, const std::string& field, const nlohmann::json& expected,
           const nlohmann::json& actual) {
    ++count_;
    casesWithDifferences_.insert(describe(golden));
    if (shown_.size() < kShownDifferences) {
      shown_.push_back(describe(golden) + "\n    " + field + ": was " + expected.dump() + ", now " + actual.dump());
    }
  }
  [[nodiscard]] std::size_t count() const { return count_; }
  [[nodiscard]] std::size_t cases() const { return casesWithDifferences_.size(); }
  [[nodiscard]] std::string report() const {
    std::string text;
    for (const auto& line : shown_) {
      text += "  " + line + "\n";
    }
    return text;
  }

 private:
  std::size_t count_ = 0;
  std::set<std::string> casesWithDifferences_;
  std::vector<std::string> shown_;
};

void compareCase(const nlohmann::json& golden, Differences& differences) {
  cli::EvaluateOptions options;
  options.policyFile = std::filesystem::path(KUBEAI_SOURCE_DIR) / golden["policy"].get<std::string>();
  options.currentReplicas = golden["currentReplicas"].get<std::int32_t>();
  for (const auto& [key, value] : golden["metrics"].items()) {
    options.metrics.push_back(key + "=" + value.get<std::string>());
  }
  if (golden.value("pluginDir", false)) {
    options.pluginDir = KUBEAI_PLUGIN_BUILD_DIR;
  }
  options.output = "json";

  std::ostringstream out;
  std::ostringstream err;
  const int exitCode = cli::runEvaluate(options, out, err);
  if (exitCode != golden["exitCode"].get<int>()) {
    differences.add(golden, "exit code (stderr: " + err.str() + ")", golden["exitCode"], exitCode);
  }
  const nlohmann::json decision = nlohmann::json::parse(out.str(), nullptr, false);
  if (decision.is_discarded() || !decision.is_object()) {
    differences.add(golden, "output (stderr: " + err.str() + ")", "a JSON decision", out.str());
    return;
  }
  for (const auto& [field, expected] : golden["decision"].items()) {
    if (field == "ratios") {
      const auto was = ratiosBySlot(expected);
      const auto now = ratiosBySlot(decision.value("ratios", nlohmann::json()));
      std::set<std::string> slots;
      for (const auto& entry : was) slots.insert(entry.first);
      for (const auto& entry : now) slots.insert(entry.first);
      for (const std::string& slot : slots) {
        const nlohmann::json wasRatio = was.contains(slot) ? was.at(slot) : nlohmann::json("absent");
        const nlohmann::json nowRatio = now.contains(slot) ? now.at(slot) : nlohmann::json("absent");
        if (!same(wasRatio, nowRatio)) {
          differences.add(golden, "ratios." + slot, wasRatio, nowRatio);
        }
      }
      continue;
    }
    const nlohmann::json actual = decision.contains(field) ? decision[field] : nlohmann::json("(missing)");
    if (!same(expected, actual)) {
      differences.add(golden, field, expected, actual);
    }
  }
}

TEST_CASE("every seed and example policy decides as at commit 635ab70") {
  const std::vector<GoldenCase> golden = readGolden(KUBEAI_COMPAT_GOLDEN);
  // A truncated or emptied golden would compare nothing and pass.
  REQUIRE(golden.size() >= 4000);

  std::set<std::string> policies;
  Differences differences;
  for (const GoldenCase& entry : golden) {
    CAPTURE(entry.line);
    const std::string policy = entry.json["policy"].get<std::string>();
    if (policies.insert(policy).second) {
      // A policy that is gone (or renamed) would silently leave the comparison.
      CHECK_MESSAGE(std::filesystem::exists(std::filesystem::path(KUBEAI_SOURCE_DIR) / policy),
                    policy, " is in the golden but not in the tree");
    }
    compareCase(entry.json, differences);
  }

  // An example added since 635ab70 has no "before" to agree with: said, not failed.
  for (const auto& file : std::filesystem::directory_iterator(std::filesystem::path(KUBEAI_SOURCE_DIR) /
                                                              "examples/policies")) {
    const std::string relative = "examples/policies/" + file.path().filename().string();
    if (file.path().extension() == ".yaml" && !policies.contains(relative)) {
      MESSAGE(relative, " is newer than the golden: not compared");
    }
  }

  MESSAGE(golden.size(), " cases of ", policies.size(), " policies compared");
  CHECK_MESSAGE(differences.count() == 0, differences.count(), " differences in ", differences.cases(), " of ",
                golden.size(), " cases; the first ", std::min(differences.count(), kShownDifferences),
                " (was = commit 635ab70):\n", differences.report());
}

}  // namespace
}  // namespace kubeai::testing

// The engine presets as queries (source/prometheus/engine_queries.h): each
// expands for a Deployment and a StatefulSet target, selects exactly the
// target's pods, is valid PromQL (Debian's promtool), and is the query
// docs/metrics.md shows.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/engine_presets.h"
#include "source/prometheus/engine_queries.h"
#include "source/prometheus/query_template.h"
#include "support/temp_dir.h"

namespace kubeai::source::prometheus {
namespace {

core::TargetRef target(std::string kind, std::string name) {
  core::TargetRef ref;
  ref.kind = std::move(kind);
  ref.name = std::move(name);
  return ref;
}

// Expands `preset` for `ref` in namespace llm as the source will.
core::Result<std::string> expandPreset(const core::EnginePreset& preset, const core::TargetRef& ref) {
  const TargetPods pods = targetPods(ref);
  auto tmpl = presetTemplate(preset, pods);
  if (!tmpl.ok()) {
    return tmpl.error();
  }
  return expandTemplate(tmpl.value(), TemplateValues{"llm", presetTargetName(preset, ref, pods), "policy", {}});
}

bool has(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::string run(const std::string& command, int& exitCode) {
  std::array<char, 4096> buffer{};
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
    output += buffer.data();
  }
  const int status = ::pclose(pipe);
  exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return output;
}

TEST_CASE("engine presets expand for a Deployment and a StatefulSet target") {
  struct Row {
    core::TargetRef ref;
    std::string pods;  // the pods' matcher the expanded pod-scoped query holds
  };
  const std::string letter = "[bcdfghjklmnpqrstvwxz2456789]";
  const std::string longName(60, 'a');
  const std::vector<Row> rows = {
      // A Deployment: <name>-<hash>-<suffix>; the name regex-escaped.
      {target("Deployment", "llama-3.1"), "pod=~\"llama-3\\\\.1-" + letter + "{1,10}-" + letter + "{5}\""},
      // A StatefulSet: <name>-<ordinal>.
      {target("StatefulSet", "vllm"), "pod=~\"vllm-[0-9]+\""},
      // A Deployment name Kubernetes cuts in its pods' names: the first 58 characters.
      {target("Deployment", longName), "pod=~\"" + longName.substr(0, 58) + letter + "{5}\""},
  };
  for (const Row& row : rows) {
    for (const core::EnginePreset& preset : core::enginePresets()) {
      CAPTURE(row.ref.kind);
      CAPTURE(row.ref.name);
      CAPTURE(preset.engine);
      CAPTURE(preset.signal);
      auto expanded = expandPreset(preset, row.ref);
      REQUIRE_MESSAGE(expanded.ok(), (expanded.ok() ? "" : expanded.error().message));
      const std::string& query = expanded.value();
      CHECK_FALSE(has(query, "${"));
      CHECK(has(query, "namespace=\"llm\""));
      if (preset.podScoped) {
        CHECK(has(query, row.pods));
      } else {
        // Pool-level: the InferencePool named with the target's full name, exactly.
        CHECK_FALSE(has(query, "pod=~"));
        if (preset.signal != "requestsRunning") {
          const std::string& escaped = row.ref.name;  // "." is literal outside a regex matcher
          CHECK((has(query, "inference_pool=\"" + escaped + "\"") || has(query, "name=\"" + escaped + "\"")));
        }
      }
    }
  }
}

TEST_CASE("engine defaults expand with ${quantile} and name their scoping") {
  const core::TargetRef ref = target("Deployment", "chat");
  const TargetPods pods = targetPods(ref);
  for (const std::string_view engine : core::knownEngines()) {
    CAPTURE(engine);
    auto templates = engineDefaultTemplates(engine, pods);
    REQUIRE(templates.ok());
    const EngineDefaultTemplates& t = templates.value();
    CHECK(t.gpuUtilization.empty());
    if (!t.latency.empty()) {
      auto p99 = expandTemplate(t.latency, TemplateValues{"llm", pods.name, "p", kQuantileP99});
      REQUIRE(p99.ok());
      CHECK(p99.value().substr(0, 24) == "histogram_quantile(0.99,");
      CHECK(has(p99.value(), "pod=~\"chat-"));
      // Without a quantile the template is refused, as the seed default's is.
      CHECK_FALSE(expandTemplate(t.latency, TemplateValues{"llm", pods.name, "p", {}}).ok());
    }
    if (!t.requestQueueDepth.empty()) {
      const std::string_view name = t.requestQueueDepthPodScoped ? std::string_view(pods.name) : ref.name;
      auto queue = expandTemplate(t.requestQueueDepth, TemplateValues{"llm", name, "p", {}});
      REQUIRE(queue.ok());
      CHECK(queue.value().substr(0, 4) == "sum(");
      CHECK(t.requestQueueDepthPodScoped == (engine != "llm-d"));
    }
  }
  auto dcgm = engineDefaultTemplates("dcgm", pods);
  REQUIRE(dcgm.ok());
  CHECK(dcgm.value().latency.empty());
  CHECK(dcgm.value().requestQueueDepth.empty());
}

TEST_CASE("presetTemplate refuses to scope to no pods") {
  const core::EnginePreset* kv = core::findPreset("vllm", "kvCacheUtilization");
  REQUIRE(kv != nullptr);
  auto refused = presetTemplate(*kv, TargetPods{"", "x"});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message ==
        "engine vllm signal kvCacheUtilization: ${pods}: the target has no pods' regex to scope the query to");
  // A pool-level preset holds no ${pods}: nothing to refuse.
  const core::EnginePreset* queue = core::findPreset("llm-d", "requestsWaiting");
  REQUIRE(queue != nullptr);
  auto pool = presetTemplate(*queue, TargetPods{"", "x"});
  REQUIRE(pool.ok());
  CHECK(pool.value() == queue->query);
}

TEST_CASE("every engine preset is valid PromQL (promtool check rules)") {
  std::string rules = "groups:\n  - name: presets\n    rules:\n";
  int index = 0;
  for (const core::EnginePreset& preset : core::enginePresets()) {
    auto expanded = expandPreset(preset, target("Deployment", "llama"));
    REQUIRE(expanded.ok());
    std::string quoted;
    for (const char c : expanded.value()) {
      quoted += c;
      if (c == '\'') {
        quoted += '\'';
      }
    }
    rules += "      - record: preset_" + std::to_string(index++) + "\n        expr: '" + quoted + "'\n";
  }
  REQUIRE_MESSAGE(std::string(KUBEAI_PROMTOOL) != "", "promtool not found: run scripts/install-deps");
  testing::TempDir dir;
  const auto file = dir.write("presets.yaml", rules);
  int exitCode = -1;
  const std::string output = run(std::string(KUBEAI_PROMTOOL) + " check rules " + file.string() + " 2>&1", exitCode);
  CAPTURE(rules);
  CAPTURE(output);
  CHECK(exitCode == 0);
}

TEST_CASE("docs/metrics.md shows every engine preset's query") {
  std::ifstream stream(KUBEAI_DOCS_DIR "/metrics.md");
  REQUIRE(stream);
  std::ostringstream text;
  text << stream.rdbuf();
  const std::string doc = text.str();
  for (const core::EnginePreset& preset : core::enginePresets()) {
    CAPTURE(preset.engine);
    CAPTURE(preset.signal);
    std::string row = "| `";
    row += preset.engine;
    row += "` | `";
    row += preset.signal;
    row += "` | ";
    row += core::metricUnitName(preset.unit);
    row += " | `";
    row += preset.query;
    row += "` |";
    CHECK(has(doc, row));
  }
}

}  // namespace
}  // namespace kubeai::source::prometheus

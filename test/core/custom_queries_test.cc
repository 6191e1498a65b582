// serve --custom-queries=deny: which fields hold PromQL of a policy's own, and
// that every query the server writes itself is scoped to the policy's namespace.
#include "core/custom_queries.h"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "core/engine_presets.h"
#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

using testing::makePolicy;

CustomMetricSpec presetMetric() {
  CustomMetricSpec metric;
  metric.name = std::string("waiting");
  metric.engine = std::string("vllm");
  metric.signal = std::string("requestsWaiting");
  return metric;
}

CustomMetricSpec ownMetric(const char* query) {
  CustomMetricSpec metric;
  metric.name = std::string("mine");
  metric.prometheusQuery = std::string(query);  // moved: GCC 12 warns falsely (-Wrestrict) on = const char*
  return metric;
}

TEST_CASE("ownQueryFields and checkNoOwnQueries: every prometheusQuery set, by path, with the flag") {
  struct Row {
    const char* what;
    void (*edit)(Policy&);
    std::vector<std::string> fields;
  };
  const std::vector<Row> rows = {
      // default queries only: nothing of the author's
      {"defaults", [](Policy&) {}, {}},
      // spec.metrics.engine picks the server's queries, not the author's
      {"engine defaults", [](Policy& p) { p.spec.metrics.engine = std::string("vllm"); }, {}},
      // a custom metric from an engine preset
      {"preset", [](Policy& p) { p.spec.metrics.custom.push_back(presetMetric()); }, {}},
      // each seed metric's own query
      {"latency", [](Policy& p) { p.spec.metrics.latency->prometheusQuery = std::string("up"); }, {"spec.metrics.latency.prometheusQuery"}},
      {"gpu", [](Policy& p) { p.spec.metrics.gpuUtilization->prometheusQuery = std::string("up"); }, {"spec.metrics.gpuUtilization.prometheusQuery"}},
      {"queue", [](Policy& p) { p.spec.metrics.requestQueueDepth->prometheusQuery = std::string("up"); }, {"spec.metrics.requestQueueDepth.prometheusQuery"}},
      // a disabled metric's query too: one edit away from running
      {"disabled", [](Policy& p) { p.spec.metrics.gpuUtilization->enabled = false; p.spec.metrics.gpuUtilization->prometheusQuery = std::string("up"); },
       {"spec.metrics.gpuUtilization.prometheusQuery"}},
      // custom metrics by index, beside a preset
      {"custom", [](Policy& p) {
         p.spec.metrics.custom.push_back(presetMetric());
         p.spec.metrics.custom.push_back(ownMetric("sum(x)"));
       }, {"spec.metrics.custom[1].prometheusQuery"}},
      // every one at once, in field order
      {"all", [](Policy& p) {
         p.spec.metrics.latency->prometheusQuery = std::string("a");
         p.spec.metrics.custom.push_back(ownMetric("b"));
         p.spec.metrics.requestQueueDepth->prometheusQuery = std::string("c");
       }, {"spec.metrics.latency.prometheusQuery", "spec.metrics.requestQueueDepth.prometheusQuery", "spec.metrics.custom[0].prometheusQuery"}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    Policy policy = makePolicy();
    row.edit(policy);
    CHECK(ownQueryFields(policy) == row.fields);
    const Status checked = checkNoOwnQueries(policy);
    CHECK(checked.ok() == row.fields.empty());
    if (!checked.ok()) {
      const std::string& message = checked.error().message;
      CAPTURE(message);
      CHECK(message.starts_with(kCustomQueryDeniedPrefix));
      CHECK(message.find("--custom-queries=deny") != std::string::npos);
      CHECK(checked.error().reason == kCustomQueryDeniedReason);
      for (const std::string& field : row.fields) {
        CHECK(message.find(field) != std::string::npos);
      }
    }
  }
}

// Every label matcher set ({...}) of `query` holds namespace="${namespace}":
// what a tenant can read through the server's own queries is its namespace's.
bool everySelectorInNamespace(std::string_view query) {
  bool any = false;
  for (std::size_t from = query.find('{'); from != std::string_view::npos; from = query.find('{', from + 1)) {
    if (from > 0 && query[from - 1] == '$') {
      continue;  // a ${placeholder}, not a selector
    }
    // The selector ends at its own '}', past the placeholders inside it.
    std::size_t close = std::string_view::npos;
    int depth = 0;
    for (std::size_t i = from; i < query.size() && close == std::string_view::npos; ++i) {
      depth += query[i] == '{' ? 1 : query[i] == '}' ? -1 : 0;
      if (depth == 0) {
        close = i;
      }
    }
    if (close == std::string_view::npos ||
        query.substr(from, close - from).find(R"(namespace="${namespace}")") == std::string_view::npos) {
      return false;
    }
    any = true;
    from = close;
  }
  return any;
}

TEST_CASE("every engine preset and engine default is scoped to the policy's namespace in every selector") {
  CHECK(everySelectorInNamespace(R"(sum(x{namespace="${namespace}",pod=~"${pods}"}) or sum(y{namespace="${namespace}"}))"));
  CHECK_FALSE(everySelectorInNamespace(R"(sum(x{namespace="${namespace}"}) or sum(y{job="z"}))"));
  CHECK_FALSE(everySelectorInNamespace("sum(up)"));
  for (const EnginePreset& preset : enginePresets()) {
    CAPTURE(preset.engine);
    CAPTURE(preset.signal);
    CHECK(everySelectorInNamespace(preset.query));
  }
  for (const std::string_view engine : knownEngines()) {
    CAPTURE(engine);
    const EngineDefaults defaults = engineDefaults(engine);
    for (const std::string_view query : {defaults.latency, defaults.gpuUtilization, defaults.requestQueueDepth}) {
      CAPTURE(query);
      if (!query.empty()) {
        CHECK(everySelectorInNamespace(query));
      }
    }
  }
}

}  // namespace
}  // namespace kubeai::core

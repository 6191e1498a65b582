// The engine preset table (core/engine_presets.h): the lookups, and the
// table's own rules (no engine x signal twice, every engine known, the
// signals the issue lists present, units and scoping as documented).
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/engine_presets.h"

namespace kubeai::core {
namespace {

bool has(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

TEST_CASE("engine presets: the engines are the seven known ones, in table order") {
  const std::vector<std::string_view> engines(knownEngines().begin(), knownEngines().end());
  CHECK(engines == std::vector<std::string_view>{"vllm", "sglang", "trtllm", "triton", "tgi", "dcgm", "llm-d"});
  for (const std::string_view engine : engines) {
    CHECK(isKnownEngine(engine));
  }
  CHECK_FALSE(isKnownEngine("VLLM"));  // names are exact
  CHECK_FALSE(isKnownEngine(""));
  CHECK_FALSE(isKnownEngine("llmd"));

  // Grouped by engine in knownEngines()' order: each engine's rows are one run.
  std::vector<std::string_view> runs;
  for (const EnginePreset& preset : enginePresets()) {
    if (runs.empty() || runs.back() != preset.engine) {
      runs.push_back(preset.engine);
    }
  }
  CHECK(runs == engines);
}

TEST_CASE("engine presets: no engine x signal twice, every row complete") {
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (const EnginePreset& preset : enginePresets()) {
    CAPTURE(preset.engine);
    CAPTURE(preset.signal);
    CHECK(seen.insert({preset.engine, preset.signal}).second);
    CHECK(isKnownEngine(preset.engine));
    CHECK_FALSE(preset.query.empty());
    CHECK(preset.unit != MetricUnit::kNone);
    // A pod-scoped preset selects the target's pods in its namespace; a
    // pool-level one names no pods but still its namespace.
    CHECK(has(preset.query, R"(namespace="${namespace}")"));
    CHECK(has(preset.query, R"(pod=~"${pods}")") == preset.podScoped);
    // Presets are fixed quantiles (P95 and P99 are signals of their own).
    CHECK_FALSE(has(preset.query, "${quantile}"));
    // The signal is a camelCase identifier (it becomes a key in status and logs).
    REQUIRE_FALSE(preset.signal.empty());
    CHECK(preset.signal.front() >= 'a');
    CHECK(preset.signal.front() <= 'z');
    CHECK(preset.signal.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
          std::string_view::npos);
  }
}

TEST_CASE("engine presets: units follow the signal, with the normalisation in the query") {
  for (const EnginePreset& preset : enginePresets()) {
    CAPTURE(preset.engine);
    CAPTURE(preset.signal);
    const std::string_view s = preset.signal;
    if (has(s, "Latency") || has(s, "TimeP") || has(s, "TimeMean") || has(s, "FirstToken")) {
      CHECK(preset.unit == MetricUnit::kMilliseconds);
      // Seconds become ms, microseconds too; Triton's first-response histogram is in ms already.
      CHECK((has(preset.query, ") * 1000") || has(preset.query, ") / 1000") ||
             has(preset.query, "_histogram_ms_bucket")));
    } else if (has(s, "requests")) {
      CHECK(preset.unit == MetricUnit::kRequests);
      CHECK(preset.query.substr(0, 4) == "sum(");
    } else if (has(s, "Saturation")) {
      // The load over the capacity (llm-d's pool): it passes 100 with the load.
      CHECK(preset.unit == MetricUnit::kPercentOfCapacity);
      CHECK(has(preset.query, "* 100"));
    } else {
      CHECK(preset.unit == MetricUnit::kPercent);
      // DCGM's GPU_UTIL is a percentage already; every other one a fraction.
      if (preset.query.find("DCGM_FI_DEV_GPU_UTIL") == std::string_view::npos) {
        CHECK(has(preset.query, "* 100"));
      }
    }
    if (preset.podScoped && preset.unit == MetricUnit::kPercent) {
      CHECK(preset.query.substr(0, 4) == "avg(");  // averaged over the pods, as the HPA does
    }
  }
  CHECK(metricUnitName(MetricUnit::kPercent) == "percent");
  CHECK(metricUnitName(MetricUnit::kPercentOfCapacity) == "percent");  // one unit to read, two kinds to scale
  CHECK(metricUnitName(MetricUnit::kMilliseconds) == "ms");
  CHECK(metricUnitName(MetricUnit::kRequests) == "requests");
  CHECK(metricUnitName(MetricUnit::kNone).empty());
}

TEST_CASE("engine presets: every engine has at least the signals it exports") {
  const std::vector<std::string_view> latencies = {
      "timeToFirstTokenP95", "timeToFirstTokenP99", "interTokenLatencyP95", "interTokenLatencyP99",
      "e2eLatencyP95",       "e2eLatencyP99",       "queueTimeP95"};
  struct Row {
    std::string_view engine;
    std::vector<std::string_view> signals;
  };
  std::vector<Row> rows = {
      {"vllm", {"kvCacheUtilization", "requestsWaiting", "requestsRunning"}},
      {"sglang", {"kvCacheUtilization", "requestsWaiting", "requestsRunning"}},
      {"trtllm", {"kvCacheUtilization", "requestsWaiting", "requestsRunning"}},
      // Means, not quantiles, from Triton's counters; TTFT from its opt-in histogram.
      {"triton",
       {"kvCacheUtilization", "requestsWaiting", "requestsRunning", "gpuUtilization", "timeToFirstTokenP95",
        "timeToFirstTokenP99", "e2eLatencyMean", "queueTimeMean"}},
      // No KV gauge, no TTFT.
      {"tgi",
       {"requestsWaiting", "requestsRunning", "interTokenLatencyP95", "interTokenLatencyP99", "e2eLatencyP95",
        "e2eLatencyP99", "queueTimeP95"}},
      {"dcgm", {"gpuUtilization", "graphicsEngineActive", "smActive", "framebufferUsed"}},
      {"llm-d", {"requestsWaiting", "requestsRunning", "kvCacheUtilization", "poolSaturation"}},
  };
  for (Row& row : rows) {
    if (row.engine == "vllm" || row.engine == "sglang" || row.engine == "trtllm") {
      row.signals.insert(row.signals.end(), latencies.begin(), latencies.end());
    }
  }
  for (const Row& row : rows) {
    for (const std::string_view signal : row.signals) {
      CAPTURE(row.engine);
      CAPTURE(signal);
      const EnginePreset* preset = findPreset(row.engine, signal);
      REQUIRE(preset != nullptr);
      CHECK(preset->engine == row.engine);
      CHECK(preset->signal == signal);
    }
  }
  // What an engine lacks is nullptr, never another engine's row.
  CHECK(findPreset("tgi", "kvCacheUtilization") == nullptr);
  CHECK(findPreset("tgi", "timeToFirstTokenP95") == nullptr);
  CHECK(findPreset("triton", "e2eLatencyP95") == nullptr);
  CHECK(findPreset("vllm", "gpuUtilization") == nullptr);
  CHECK(findPreset("nope", "requestsWaiting") == nullptr);
  CHECK(findPreset("vllm", "") == nullptr);
  // Only llm-d's signals are pool-level.
  for (const EnginePreset& preset : enginePresets()) {
    CAPTURE(preset.engine);
    CHECK(preset.podScoped == (preset.engine != "llm-d"));
  }
}

TEST_CASE("engine presets: engineSignalList lists an engine's signals in table order") {
  CHECK(engineSignalList("dcgm") == "gpuUtilization, graphicsEngineActive, smActive, framebufferUsed");
  CHECK(engineSignalList("llm-d") == "requestsWaiting, requestsRunning, kvCacheUtilization, poolSaturation");
  CHECK(engineSignalList("nope").empty());
  for (const std::string_view engine : knownEngines()) {
    std::string expected;
    for (const EnginePreset& preset : enginePresets()) {
      if (preset.engine == engine) {
        expected += expected.empty() ? "" : ", ";
        expected += preset.signal;
      }
    }
    CHECK(engineSignalList(engine) == expected);
  }
}

TEST_CASE("engine presets: the renamed metrics fall back with or, preferring the new name") {
  struct Rename {
    std::string_view engine;
    std::string_view signal;
    std::string_view newer;
    std::string_view older;
  };
  for (const Rename& rename : {
           Rename{"vllm", "kvCacheUtilization", "vllm:kv_cache_usage_perc{", " or vllm:gpu_cache_usage_perc{"},
           Rename{"vllm", "interTokenLatencyP95", "rate(vllm:inter_token_latency_seconds_bucket{",
                  " or rate(vllm:time_per_output_token_seconds_bucket{"},
           Rename{"vllm", "interTokenLatencyP99", "rate(vllm:inter_token_latency_seconds_bucket{",
                  " or rate(vllm:time_per_output_token_seconds_bucket{"},
           Rename{"llm-d", "requestsWaiting", "sum(llm_d_epp_flow_control_queue_size{",
                  " or sum(inference_extension_flow_control_queue_size{"},
           Rename{"llm-d", "requestsRunning", "sum(llm_d_epp_request_running{",
                  " or sum(inference_objective_running_requests{"},
           Rename{"llm-d", "kvCacheUtilization", "max(llm_d_epp_average_kv_cache_utilization{",
                  " or max(inference_pool_average_kv_cache_utilization{"},
           Rename{"llm-d", "poolSaturation", "max(llm_d_epp_flow_control_pool_saturation{",
                  " or max(inference_extension_flow_control_pool_saturation{"},
       }) {
    CAPTURE(rename.engine);
    CAPTURE(rename.signal);
    const EnginePreset* preset = findPreset(rename.engine, rename.signal);
    REQUIRE(preset != nullptr);
    const std::size_t newer = preset->query.find(rename.newer);
    const std::size_t older = preset->query.find(rename.older);
    REQUIRE(newer != std::string_view::npos);
    REQUIRE(older != std::string_view::npos);
    CHECK(newer < older);  // `or` keeps its left side where both exist
  }
  // The histogram's `or` is inside sum by (le), between the rate vectors.
  const EnginePreset* itl = findPreset("vllm", "interTokenLatencyP95");
  REQUIRE(itl != nullptr);
  CHECK(has(itl->query, "sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{"));
}

TEST_CASE("engine presets: engineDefaults gives the seed four's templates per engine") {
  for (const std::string_view engine : {"vllm", "sglang", "trtllm", "tgi"}) {
    CAPTURE(engine);
    const EngineDefaults defaults = engineDefaults(engine);
    // Seconds with ${quantile}, as the seed's default latency query.
    CHECK(defaults.latency.substr(0, 31) == "histogram_quantile(${quantile},");
    CHECK_FALSE(has(defaults.latency, "* 1000"));
    CHECK(has(defaults.latency, "pod=~\"${pods}\""));
    // The queue is the engine's requestsWaiting preset.
    const EnginePreset* waiting = findPreset(engine, "requestsWaiting");
    REQUIRE(waiting != nullptr);
    CHECK(defaults.requestQueueDepth == waiting->query);
    CHECK(defaults.gpuUtilization.empty());  // the seed's DCGM default stays
  }
  CHECK(has(engineDefaults("vllm").latency, "vllm:e2e_request_latency_seconds_bucket"));
  CHECK(has(engineDefaults("sglang").latency, "sglang:e2e_request_latency_seconds_bucket"));
  CHECK(has(engineDefaults("trtllm").latency, "trtllm_e2e_request_latency_seconds_bucket"));
  CHECK(has(engineDefaults("tgi").latency, "tgi_request_duration_bucket"));
  // Triton has no latency histogram by default, DCGM neither a latency nor a queue.
  CHECK(engineDefaults("triton").latency.empty());
  CHECK(engineDefaults("triton").requestQueueDepth == findPreset("triton", "requestsWaiting")->query);
  const EngineDefaults dcgm = engineDefaults("dcgm");
  CHECK(dcgm.latency.empty());
  CHECK(dcgm.gpuUtilization.empty());
  CHECK(dcgm.requestQueueDepth.empty());
  CHECK(engineDefaults("llm-d").requestQueueDepth == findPreset("llm-d", "requestsWaiting")->query);
  const EngineDefaults unknown = engineDefaults("nope");
  CHECK(unknown.latency.empty());
  CHECK(unknown.requestQueueDepth.empty());
}

}  // namespace
}  // namespace kubeai::core

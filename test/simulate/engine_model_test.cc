#include "simulate/engine_model.h"

#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/engine_presets.h"

namespace kubeai::simulate {
namespace {

Capacity requestsOnly(double requestsPerSecond) {
  Capacity capacity;
  capacity.requestsPerSecond = requestsPerSecond;
  return capacity;
}

EngineInput interval(double requestsPerSecond, std::int32_t ready, double seconds = 15) {
  EngineInput input;
  input.seconds = seconds;
  input.requestsPerSecond = requestsPerSecond;
  input.readyReplicas = ready;
  return input;
}

EngineMetrics once(const Capacity& capacity, const EngineInput& input) {
  EngineState state;
  return advanceEngine(capacity, state, input);
}

// Every optional signal of the metrics, for the checks that walk all of them.
std::vector<std::optional<double>> everySignal(const EngineMetrics& m) {
  return {m.utilization,          m.admissionLimit,         m.e2eLatencyMeanMs,
          m.e2eLatencyP95Ms,      m.e2eLatencyP99Ms,        m.queueTimeMeanMs,
          m.queueTimeP95Ms,       m.queueTimeP99Ms,         m.timeToFirstTokenP95Ms,
          m.timeToFirstTokenP99Ms, m.interTokenLatencyP95Ms, m.interTokenLatencyP99Ms,
          m.requestsWaiting,      m.requestsRunning,        m.kvCacheUtilizationPercent,
          m.gpuUtilizationPercent, m.poolRequestsWaiting,   m.poolRequestsRunning,
          m.poolKvCacheUtilizationPercent, m.poolSaturationPercent};
}

TEST_CASE("engine model: M/M/1 at rho 0.5 without a KV limit matches the closed forms") {
  // mu = 2, lambda = 1 on one replica: rho = 0.5, the sojourn is exponential
  // with rate mu (1 - rho) = 1 per second.
  const EngineMetrics m = once(requestsOnly(2), interval(1, 1));
  REQUIRE(m.utilization);
  CHECK(*m.utilization == doctest::Approx(0.5));
  CHECK(m.servedRequestsPerSecond == doctest::Approx(1));
  CHECK(m.backlog == 0);
  CHECK_FALSE(m.admissionLimit);
  CHECK(*m.e2eLatencyP99Ms == doctest::Approx(4605.170));  // -ln(0.01) / 1 s
  CHECK(*m.e2eLatencyP95Ms == doctest::Approx(2995.732));  // -ln(0.05) / 1 s
  CHECK(*m.e2eLatencyMeanMs == doctest::Approx(1000));
  CHECK(*m.requestsRunning == doctest::Approx(1));  // rho / (1 - rho)
  CHECK(*m.requestsWaiting == doctest::Approx(0));  // every request admitted
  CHECK(*m.queueTimeP99Ms == doctest::Approx(0));
  CHECK(*m.gpuUtilizationPercent == doctest::Approx(50));
  CHECK(*m.poolSaturationPercent == doctest::Approx(50));
  // Without token counts or tokensPerSecond: no token times, no KV cache.
  CHECK_FALSE(m.timeToFirstTokenP95Ms);
  CHECK_FALSE(m.interTokenLatencyP99Ms);
  CHECK_FALSE(m.kvCacheUtilizationPercent);
}

TEST_CASE("engine model: K = 1 is M/M/1 first come first served") {
  // KV tokens per request: 100 + 200 / 2 = 200; 399 cache tokens hold one.
  Capacity capacity = requestsOnly(2);
  capacity.kvCacheTokens = 399;
  EngineInput input = interval(1, 1);
  input.meanContextTokens = 100;
  input.meanGeneratedTokens = 200;
  const EngineMetrics m = once(capacity, input);
  REQUIRE(m.admissionLimit);
  CHECK(*m.admissionLimit == 1);
  CHECK(*m.requestsWaiting == doctest::Approx(0.5));  // rho^2 / (1 - rho)
  CHECK(*m.requestsRunning == doctest::Approx(0.5));  // rho (1 - rho) / (1 - rho)
  CHECK(*m.kvCacheUtilizationPercent == doctest::Approx(100 * 0.5 * 200 / 399.0));
  // P(W > t) = 0.5 e^{-t}: the q-quantile is ln(0.5 / (1 - q)).
  CHECK(*m.queueTimeP99Ms == doctest::Approx(1000 * std::log(50.0)));
  CHECK(*m.queueTimeP95Ms == doctest::Approx(1000 * std::log(10.0)));
  CHECK(*m.queueTimeMeanMs == doctest::Approx(500));  // rho / (mu (1 - rho))
  // The token rate mu means: 2 x 300 = 600 tokens/s; with K = 1 a request runs alone.
  CHECK(*m.interTokenLatencyP99Ms == doctest::Approx(1000.0 / 600));
  CHECK(*m.timeToFirstTokenP99Ms == doctest::Approx(1000 * (std::log(50.0) + 100.0 / 600)));
  // The e2e quantiles do not depend on K (the queue is work-conserving).
  CHECK(*m.e2eLatencyP99Ms == doctest::Approx(4605.170));
}

TEST_CASE("engine model: token times from the batch a request joins") {
  // rho = 0.5, K unlimited, 600 tokens/s: the batch's q-quantile is
  // ln(1 - q) / ln(rho) (6.644 at p99, 4.322 at p95).
  EngineInput input = interval(1, 1);
  input.meanContextTokens = 100;
  input.meanGeneratedTokens = 200;
  const EngineMetrics m = once(requestsOnly(2), input);
  const double batch99 = std::log(0.01) / std::log(0.5);
  const double batch95 = std::log(0.05) / std::log(0.5);
  CHECK(*m.interTokenLatencyP99Ms == doctest::Approx(1000 * batch99 / 600));  // 11.07 ms
  CHECK(*m.interTokenLatencyP95Ms == doctest::Approx(1000 * batch95 / 600));  // 7.20 ms
  CHECK(*m.timeToFirstTokenP95Ms == doctest::Approx(1000 * 100 * batch95 / 600));  // no wait: prefill only
  // Without token counts the given token rate sets the gap; TTFT has no prompt size.
  Capacity capacity = requestsOnly(2);
  capacity.tokensPerSecond = 1000;
  const EngineMetrics rateOnly = once(capacity, interval(1, 1));
  CHECK(*rateOnly.interTokenLatencyP99Ms == doctest::Approx(batch99));
  CHECK_FALSE(rateOnly.timeToFirstTokenP99Ms);
}

TEST_CASE("engine model: overload builds the backlog and the spare capacity drains it") {
  // mu = 1, c = 2: the pool serves at most S = 0.98 x 2 = 1.96 requests/s.
  const Capacity capacity = requestsOnly(1);
  EngineState state;
  // lambda = 3 for 10 s, twice: B grows by (3 - 1.96) x 10 = 10.4 each time.
  EngineMetrics m = advanceEngine(capacity, state, interval(3, 2, 10));
  CHECK(m.servedRequestsPerSecond == doctest::Approx(1.96));
  CHECK(m.backlog == doctest::Approx(10.4));
  m = advanceEngine(capacity, state, interval(3, 2, 10));
  CHECK(m.backlog == doctest::Approx(20.8));
  CHECK(state.backlog == doctest::Approx(20.8));
  CHECK(*m.utilization == doctest::Approx(kMaxStableUtilization));
  CHECK(*m.gpuUtilizationPercent == doctest::Approx(100));
  CHECK(*m.requestsWaiting == doctest::Approx(20.8));  // the engines admit all (no K): the backlog waits
  CHECK(*m.poolSaturationPercent == doctest::Approx(150));  // 3 / (2 x 1)
  // The drain time B / (c mu) = 10.4 s is added to every latency.
  CHECK(*m.e2eLatencyP99Ms == doctest::Approx(1000 * (4.605170 / 0.02 + 10.4)));
  CHECK(*m.queueTimeP99Ms == doctest::Approx(10400));
  // lambda = 0.96: the spare capacity 1.96 - 0.96 = 1 request/s drains 10 per 10 s.
  m = advanceEngine(capacity, state, interval(0.96, 2, 10));
  CHECK(m.backlog == doctest::Approx(10.8));
  CHECK(*m.gpuUtilizationPercent == 100);  // busy draining
  CHECK(*m.poolSaturationPercent == doctest::Approx(48));  // demand over capacity, the backlog left out
  m = advanceEngine(capacity, state, interval(0.96, 2, 10));
  CHECK(m.backlog == doctest::Approx(0.8));
  // The last 0.8 fit: served 0.96 + 0.08 = 1.04, rho 0.52, nothing left.
  m = advanceEngine(capacity, state, interval(0.96, 2, 10));
  CHECK(m.backlog == 0);
  CHECK(m.servedRequestsPerSecond == doctest::Approx(1.04));
  CHECK(*m.utilization == doctest::Approx(0.52));
  CHECK(*m.gpuUtilizationPercent == doctest::Approx(52));  // the interval's share, drained part included
  m = advanceEngine(capacity, state, interval(0.96, 2, 10));
  CHECK(*m.utilization == doctest::Approx(0.48));
}

TEST_CASE("engine model: no ready replica serves nothing and only the pool has data") {
  EngineState state;
  state.poolKvCacheUtilizationPercent = 37;  // the EPP's last reading
  const EngineMetrics m = advanceEngine(requestsOnly(2), state, interval(2, 0, 15));
  CHECK(m.servedRequestsPerSecond == 0);
  CHECK(m.backlog == doctest::Approx(30));  // lambda dt
  CHECK_FALSE(m.utilization);
  CHECK_FALSE(m.e2eLatencyP99Ms);
  CHECK_FALSE(m.timeToFirstTokenP95Ms);
  CHECK_FALSE(m.requestsWaiting);
  CHECK_FALSE(m.gpuUtilizationPercent);
  CHECK(*m.poolRequestsWaiting == doctest::Approx(30));
  CHECK(*m.poolRequestsRunning == 0);
  CHECK(*m.poolSaturationPercent == 100);  // llm-d fails closed
  CHECK(*m.poolKvCacheUtilizationPercent == 37);
  CHECK(engineSignal(m, "requestsWaiting", false).value == m.poolRequestsWaiting);
  CHECK_FALSE(engineSignal(m, "requestsWaiting", true).value);
  CHECK_FALSE(engineSignal(m, "latencyP99").value);
  // A second interval adds to it; a replica that becomes ready drains it.
  CHECK(advanceEngine(requestsOnly(2), state, interval(2, 0, 15)).backlog == doctest::Approx(60));
  const EngineMetrics ready = advanceEngine(requestsOnly(2), state, interval(0, 1, 15));
  CHECK(ready.backlog == doctest::Approx(60 - 1.96 * 15));
  // Idle at zero: nothing waits, the pool is not saturated.
  const EngineMetrics idle = once(requestsOnly(2), interval(0, 0));
  CHECK(*idle.poolRequestsWaiting == 0);
  CHECK(*idle.poolSaturationPercent == 0);
}

TEST_CASE("engine model: idle replicas show service time only") {
  EngineInput input = interval(0, 3);
  input.meanContextTokens = 100;
  input.meanGeneratedTokens = 200;
  Capacity capacity = requestsOnly(2);
  capacity.kvCacheTokens = 10'000;
  const EngineMetrics m = once(capacity, input);
  CHECK(*m.utilization == 0);
  CHECK(*m.requestsWaiting == 0);
  CHECK(*m.requestsRunning == 0);
  CHECK(*m.gpuUtilizationPercent == 0);
  CHECK(*m.kvCacheUtilizationPercent == 0);
  CHECK(*m.queueTimeP99Ms == 0);
  CHECK(*m.e2eLatencyMeanMs == doctest::Approx(500));  // 1 / mu
  CHECK(*m.e2eLatencyP99Ms == doctest::Approx(1000 * 4.605170 / 2));
  CHECK(*m.interTokenLatencyP99Ms == doctest::Approx(1000.0 / 600));  // alone: 1 / (mu (Lc + Lg))
  CHECK(*m.timeToFirstTokenP99Ms == doctest::Approx(1000 * 100.0 / 600));
}

TEST_CASE("engine model: the token rate caps the request rate") {
  // 1500 tokens/s over 300 tokens a request: at most 5 requests/s, not 10.
  Capacity capacity = requestsOnly(10);
  capacity.tokensPerSecond = 1500;
  EngineInput input = interval(2.5, 1);
  input.meanContextTokens = 200;
  input.meanGeneratedTokens = 100;
  const EngineMetrics capped = once(capacity, input);
  CHECK(capped.serviceRate == doctest::Approx(5));
  CHECK(*capped.utilization == doctest::Approx(0.5));
  CHECK(*capped.e2eLatencyMeanMs == doctest::Approx(400));  // 1 / (5 x 0.5)
  // A token rate that allows more leaves requestsPerSecond in charge.
  capacity.tokensPerSecond = 1e6;
  CHECK(once(capacity, input).serviceRate == doctest::Approx(10));
  // No token counts: nothing to divide by, requestsPerSecond stands.
  capacity.tokensPerSecond = 1500;
  CHECK(once(capacity, interval(2.5, 1)).serviceRate == doctest::Approx(10));
}

TEST_CASE("engine model: every signal is monotonic in the demand") {
  Capacity capacity = requestsOnly(2);
  capacity.kvCacheTokens = 2000;  // K = 10 at 200 KV tokens a request
  std::optional<EngineMetrics> previous;
  for (int step = 0; step <= 120; ++step) {
    EngineInput input = interval(0.1 * step, 4);  // up to 12 requests/s against 8
    input.meanContextTokens = 100;
    input.meanGeneratedTokens = 200;
    const EngineMetrics m = once(capacity, input);
    if (previous) {
      const auto before = everySignal(*previous);
      const auto now = everySignal(m);
      for (std::size_t i = 0; i < now.size(); ++i) {
        CAPTURE(step);
        CAPTURE(i);
        REQUIRE(before[i].has_value() == now[i].has_value());
        if (now[i]) {
          CHECK(*now[i] >= *before[i] - 1e-9);
        }
      }
      CHECK(m.backlog >= previous->backlog);
    }
    previous = m;
  }
}

TEST_CASE("engine model: queue time <= TTFT <= e2e at every load and K") {
  for (const double kvCacheTokens : {200.0, 1000.0, 20'000.0, 1e9}) {
    for (int step = 0; step <= 100; ++step) {
      Capacity capacity = requestsOnly(2);
      capacity.kvCacheTokens = kvCacheTokens;
      EngineInput input = interval(0.02 * step, 1);
      input.meanContextTokens = 150;
      input.meanGeneratedTokens = 100;
      const EngineMetrics m = once(capacity, input);
      CAPTURE(kvCacheTokens);
      CAPTURE(step);
      CHECK(*m.queueTimeP95Ms <= *m.timeToFirstTokenP95Ms);
      CHECK(*m.queueTimeP99Ms <= *m.timeToFirstTokenP99Ms);
      CHECK(*m.timeToFirstTokenP95Ms <= *m.e2eLatencyP95Ms + 1e-9);
      CHECK(*m.timeToFirstTokenP99Ms <= *m.e2eLatencyP99Ms + 1e-9);
      CHECK(*m.kvCacheUtilizationPercent <= 100);
    }
  }
}

TEST_CASE("engine model: no NaN or infinity for any input") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::array<double, 9> values{0, -1, nan, inf, -inf, 1e-300, 1e300, 0.98 * 2 * (1 - 1e-15), 1};
  const std::array<std::int32_t, 4> replicas{0, 1, -5, std::numeric_limits<std::int32_t>::max()};
  int checked = 0;
  for (const double a : values) {
    for (const double b : values) {
      for (const std::int32_t c : replicas) {
        Capacity capacity;
        capacity.requestsPerSecond = a;
        capacity.tokensPerSecond = b;
        capacity.kvCacheTokens = a;
        EngineState state;
        state.backlog = b;
        state.poolKvCacheUtilizationPercent = a;
        EngineInput input;
        input.seconds = b;
        input.requestsPerSecond = a;
        input.meanContextTokens = b;
        input.meanGeneratedTokens = a;
        input.readyReplicas = c;
        for (int i = 0; i < 2; ++i) {  // the second from the state the first left
          const EngineMetrics m = advanceEngine(capacity, state, input);
          CAPTURE(a);
          CAPTURE(b);
          CAPTURE(c);
          CHECK(std::isfinite(m.backlog));
          CHECK(std::isfinite(m.servedRequestsPerSecond));
          CHECK(std::isfinite(state.backlog));
          for (const auto& value : everySignal(m)) {
            if (value) {
              CHECK(std::isfinite(*value));
              CHECK(*value >= 0);
            }
          }
          ++checked;
        }
      }
    }
  }
  CHECK(checked == 648);
}

TEST_CASE("engine model: rho near 1 and a huge K stay finite and continuous") {
  // Just below the ceiling and just above: the backlog starts from zero.
  Capacity capacity = requestsOnly(1);
  capacity.kvCacheTokens = 1e12;  // K = 5e9 at 200 KV tokens a request
  EngineInput input = interval(0.98 - 1e-12, 1);
  input.meanContextTokens = 100;
  input.meanGeneratedTokens = 200;
  const EngineMetrics below = once(capacity, input);
  input.requestsPerSecond = 0.98 + 1e-12;
  const EngineMetrics above = once(capacity, input);
  REQUIRE(below.admissionLimit);
  CHECK(*below.admissionLimit == 5e9);
  CHECK(above.backlog == doctest::Approx(0).epsilon(1e-9));
  CHECK(*above.e2eLatencyP99Ms == doctest::Approx(*below.e2eLatencyP99Ms));
  CHECK(*below.requestsWaiting == doctest::Approx(0));  // 0.98^(5e9) underflows to 0
  CHECK(*below.requestsRunning == doctest::Approx(49));
}

TEST_CASE("engine model: every preset signal and the seed four are known") {
  const EngineMetrics probe;
  int presets = 0;
  for (const core::EnginePreset& preset : core::enginePresets()) {
    CAPTURE(std::string(preset.engine));
    CAPTURE(std::string(preset.signal));
    CHECK(engineSignal(probe, preset.signal, preset.podScoped).known);
    ++presets;
  }
  CHECK(presets > 40);
  for (const std::string_view seed : {"latencyP99", "latencyP95", "gpuUtilization", "requestQueueDepth"}) {
    CAPTURE(std::string(seed));
    CHECK(engineSignal(probe, seed).known);
  }
  CHECK(engineSignal(probe, "requestQueueDepth", false).known);  // llm-d's queue is its EPP's
  // Unknown: a name the model lacks, and a latency asked at the pool.
  CHECK_FALSE(engineSignal(probe, "tokensGenerated").known);
  CHECK_FALSE(engineSignal(probe, "").known);
  CHECK_FALSE(engineSignal(probe, "e2eLatencyP99", false).known);
}

TEST_CASE("engine model: signal names map to the metrics they mean") {
  Capacity capacity = requestsOnly(2);
  capacity.kvCacheTokens = 1000;
  EngineInput input = interval(3, 2);
  input.meanContextTokens = 100;
  input.meanGeneratedTokens = 200;
  const EngineMetrics m = once(capacity, input);
  struct Row {
    std::string_view signal;
    bool podScoped;
    std::optional<double> expected;
  };
  const std::array rows{
      Row{"latencyP99", true, m.e2eLatencyP99Ms},
      Row{"latencyP95", true, m.e2eLatencyP95Ms},
      Row{"gpuUtilization", true, m.gpuUtilizationPercent},
      Row{"requestQueueDepth", true, m.requestsWaiting},
      Row{"requestQueueDepth", false, m.poolRequestsWaiting},
      Row{"e2eLatencyMean", true, m.e2eLatencyMeanMs},
      Row{"queueTimeMean", true, m.queueTimeMeanMs},
      Row{"queueTimeP95", true, m.queueTimeP95Ms},
      Row{"timeToFirstTokenP99", true, m.timeToFirstTokenP99Ms},
      Row{"interTokenLatencyP95", true, m.interTokenLatencyP95Ms},
      Row{"requestsRunning", true, m.requestsRunning},
      Row{"requestsRunning", false, m.poolRequestsRunning},
      Row{"kvCacheUtilization", false, m.poolKvCacheUtilizationPercent},
      // DCGM's activity counters are the one GPU utilization of the model.
      Row{"smActive", true, m.gpuUtilizationPercent},
      Row{"graphicsEngineActive", true, m.gpuUtilizationPercent},
      // The framebuffer's load-dependent part: the KV cache.
      Row{"framebufferUsed", true, m.kvCacheUtilizationPercent},
      Row{"poolSaturation", false, m.poolSaturationPercent},
  };
  for (const Row& row : rows) {
    CAPTURE(std::string(row.signal));
    REQUIRE(row.expected);
    const SignalValue value = engineSignal(m, row.signal, row.podScoped);
    CHECK(value.known);
    CHECK(value.value == row.expected);
  }
  CHECK(*m.poolSaturationPercent == doctest::Approx(75));  // 3 / (2 x 2)
}

TEST_CASE("engine model: what a signal needs from the workload") {
  Capacity bare = requestsOnly(2);
  Capacity full = requestsOnly(2);
  full.kvCacheTokens = 1000;
  full.tokensPerSecond = 500;
  const auto missing = [](std::string_view name, const Capacity& capacity, bool tokens) {
    return std::string(engineSignalMissingInput(*engineSignalId(name), capacity, tokens));
  };
  CHECK(missing("latencyP99", bare, false).empty());
  CHECK(missing("kvCacheUtilization", bare, true) == "capacity.kvCacheTokens");
  CHECK(missing("kvCacheUtilization", full, false) == "token counts in the demand (an arrivals trace)");
  CHECK(missing("kvCacheUtilization", full, true).empty());
  CHECK(missing("framebufferUsed", bare, true) == "capacity.kvCacheTokens");
  CHECK(missing("timeToFirstTokenP95", full, false) == "token counts in the demand (an arrivals trace)");
  CHECK(missing("interTokenLatencyP99", full, false).empty());  // tokensPerSecond serves
  CHECK_FALSE(missing("interTokenLatencyP99", bare, false).empty());
}

}  // namespace
}  // namespace kubeai::simulate

TEST_CASE("engine model: a drained backlog is exactly zero, so the GPU reads its real load again") {
  using namespace kubeai::simulate;  // NOLINT(google-build-using-namespace): one test
  Capacity capacity;
  capacity.requestsPerSecond = 1;
  EngineState state;
  // 3 requests/s on 2 replicas for 10 s builds a backlog; then demands whose
  // sums do not round to the backlog (0.1, 0.7) drain it.
  EngineInput input;
  input.seconds = 10;
  input.readyReplicas = 2;
  input.requestsPerSecond = 3;
  (void)advanceEngine(capacity, state, input);
  REQUIRE(state.backlog > 0);
  input.requestsPerSecond = 0.1;
  EngineMetrics metrics;
  for (int i = 0; i < 5; ++i) {
    metrics = advanceEngine(capacity, state, input);
  }
  CHECK(state.backlog == 0.0);
  CHECK(metrics.backlog == 0.0);
  input.requestsPerSecond = 0.7;
  metrics = advanceEngine(capacity, state, input);
  CHECK(state.backlog == 0.0);
  REQUIRE(metrics.gpuUtilizationPercent);
  CHECK(*metrics.gpuUtilizationPercent == doctest::Approx(35));
}

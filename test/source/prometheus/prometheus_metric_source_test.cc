#include "source/prometheus/prometheus_metric_source.h"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace kubeai::source::prometheus {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string vectorOf(const std::string& value) {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1732740000,")";
  body += value;
  body += R"("]}]}})";
  return body;
}

const std::string kEmpty = R"({"status":"success","data":{"resultType":"vector","result":[]}})";

// Below the adapter boundary: answers each expression by a function of it and
// records every call, so tests see exactly what would go over HTTP.
class FakeTransport final : public QueryTransport {
 public:
  using Answer = std::function<core::Result<HttpResponse>(const std::string&)>;
  explicit FakeTransport(Answer answer) : answer_(std::move(answer)) {}

  std::vector<core::Result<HttpResponse>> instantQueries(const std::vector<std::string>& expressions) override {
    calls.push_back(expressions);
    std::vector<core::Result<HttpResponse>> responses;
    for (const std::string& expression : expressions) {
      responses.push_back(answer_(expression));
    }
    return responses;
  }

  std::vector<std::vector<std::string>> calls;

 private:
  Answer answer_;
};

core::Policy policy(const std::string& ns, const std::string& name, const std::string& target) {
  core::Policy p;
  p.metadata.namespace_ = ns;
  p.metadata.name = name;
  p.spec.targetRef.kind = "Deployment";
  p.spec.targetRef.name = target;
  p.spec.maxReplicas = 10;
  p.spec.metrics.latency = core::LatencyMetricSpec{true, 500.0, 300.0, ""};
  p.spec.metrics.gpuUtilization = core::GpuUtilizationMetricSpec{true, 80.0, ""};
  p.spec.metrics.requestQueueDepth = core::RequestQueueDepthMetricSpec{true, 4.0, ""};
  return p;
}

// Answers by the metric name in the expression, so that every query of a
// policy has its own value.
core::Result<HttpResponse> byMetric(const std::string& expression) {
  if (contains(expression, "histogram_quantile(0.99")) {
    return HttpResponse{200, vectorOf("0.42")};
  }
  if (contains(expression, "histogram_quantile(0.95")) {
    return HttpResponse{200, vectorOf("0.3")};
  }
  if (contains(expression, "DCGM_FI_DEV_GPU_UTIL")) {
    return HttpResponse{200, vectorOf("81.5")};
  }
  if (contains(expression, "inference_request_queue_depth")) {
    return HttpResponse{200, vectorOf("12")};
  }
  if (contains(expression, "kube_deployment_spec_replicas")) {
    return HttpResponse{200, vectorOf("3")};
  }
  if (contains(expression, "kube_deployment_status_replicas_ready")) {
    return HttpResponse{200, vectorOf("2")};
  }
  return HttpResponse{200, kEmpty};
}

TEST_CASE("PrometheusMetricSource reads every metric, latency in milliseconds, the replicas and the ready ones") {
  FakeTransport transport(byMetric);
  PrometheusMetricSource source(transport);
  const auto readings = source.read({policy("llm", "chat", "chat")});
  REQUIRE(readings.size() == 1);
  REQUIRE(readings[0].ok());
  const MetricReading& reading = readings[0].value();
  CHECK(reading.latencyP99Ms == doctest::Approx(420.0));  // 0.42 s
  CHECK(reading.latencyP95Ms == doctest::Approx(300.0));
  CHECK(reading.gpuUtilizationPercent == 81.5);
  CHECK(reading.requestQueueDepth == 12.0);
  CHECK(reading.currentReplicas == 3);
  CHECK(reading.readyReplicas == 2);
  CHECK(reading.observation(1).readyReplicas == 2);
  REQUIRE(transport.calls.size() == 1);
  CHECK(transport.calls[0].size() == 6);
}

TEST_CASE("10,000 policies sharing 60 expressions make one call with exactly 60 distinct expressions") {
  // 10 namespaces x 1 target each, and 10 policies per target x 100 = 10,000
  // policies; each target needs 6 queries (P99, P95, GPU, queue, replicas,
  // ready replicas).
  std::vector<core::Policy> policies;
  for (int i = 0; i < 10'000; ++i) {
    const int target = i % 10;
    policies.push_back(policy("ns" + std::to_string(target), "policy-" + std::to_string(i), "model" + std::to_string(target)));
  }
  std::map<std::string, int> answered;
  FakeTransport transport([&](const std::string& expression) {
    ++answered[expression];
    return byMetric(expression);
  });
  PrometheusMetricSource source(transport);
  const auto readings = source.read(policies);

  REQUIRE(transport.calls.size() == 1);
  CHECK(transport.calls[0].size() == 60);
  CHECK(std::set<std::string>(transport.calls[0].begin(), transport.calls[0].end()).size() == 60);
  CHECK(answered.size() == 60);
  REQUIRE(readings.size() == 10'000);
  for (const auto& reading : readings) {
    REQUIRE(reading.ok());
    CHECK(reading.value().gpuUtilizationPercent == 81.5);
    CHECK(reading.value().readyReplicas == 2);
  }

  // The next cycle asks again, once.
  (void)source.read(policies);
  CHECK(transport.calls.size() == 2);
  CHECK(transport.calls[1].size() == 60);
}

TEST_CASE("each policy gets the answer to its own scoped query") {
  FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
    if (contains(expression, "DCGM_FI_DEV_GPU_UTIL")) {
      return HttpResponse{200, vectorOf(contains(expression, R"(namespace="a")") ? "10" : "90")};
    }
    return HttpResponse{200, kEmpty};
  });
  PrometheusMetricSource source(transport);
  const auto readings = source.read({policy("a", "p", "m"), policy("b", "p", "m")});
  REQUIRE(readings[0].ok());
  REQUIRE(readings[1].ok());
  CHECK(readings[0].value().gpuUtilizationPercent == 10.0);
  CHECK(readings[1].value().gpuUtilizationPercent == 90.0);
}

TEST_CASE("a failing query fails only the policies that use it") {
  core::Policy shared = policy("llm", "shared", "chat");
  core::Policy alsoShared = policy("llm", "also-shared", "chat");  // same target: same queries
  core::Policy other = policy("llm", "other", "embed");
  FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
    if (contains(expression, "DCGM_FI_DEV_GPU_UTIL") && contains(expression, "chat")) {
      return HttpResponse{503, R"({"status":"error","errorType":"unavailable","error":"too many queries"})"};
    }
    if (contains(expression, "queue_depth") && contains(expression, "chat")) {
      return core::Error{"GET http://prometheus:9090/api/v1/query: Timeout was reached"};
    }
    return byMetric(expression);
  });
  PrometheusMetricSource source(transport);
  const auto readings = source.read({shared, other, alsoShared});
  REQUIRE(readings.size() == 3);
  REQUIRE_FALSE(readings[0].ok());
  REQUIRE_FALSE(readings[2].ok());
  REQUIRE(readings[1].ok());
  CHECK(readings[1].value().gpuUtilizationPercent == 81.5);

  // The message names each failed metric with its query and Prometheus' cause.
  const std::string& message = readings[0].error().message;
  CHECK(contains(message, R"(gpuUtilization: query `avg(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~"chat-)"
                          R"([bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}"})`: )"
                          R"(HTTP 503: unavailable: too many queries)"));
  CHECK(contains(message, R"(requestQueueDepth: query `sum(inference_request_queue_depth{namespace="llm",pod=~"chat-)"
                          R"([bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}"})`: )"
                          R"(GET http://prometheus:9090/api/v1/query: Timeout was reached)"));
  CHECK_FALSE(contains(message, "latencyP99"));
  CHECK(readings[2].error().message == message);
}

TEST_CASE("no data leaves the metric out and is not an error") {
  FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
    if (contains(expression, "histogram_quantile")) {
      return HttpResponse{200, vectorOf("NaN")};  // no traffic
    }
    if (contains(expression, "DCGM")) {
      return HttpResponse{200, vectorOf("0")};  // idle: a real 0
    }
    return HttpResponse{200, kEmpty};
  });
  PrometheusMetricSource source(transport);
  const auto readings = source.read({policy("llm", "chat", "chat")});
  REQUIRE(readings[0].ok());
  CHECK_FALSE(readings[0].value().latencyP99Ms);
  CHECK_FALSE(readings[0].value().latencyP95Ms);
  CHECK_FALSE(readings[0].value().requestQueueDepth);
  CHECK_FALSE(readings[0].value().currentReplicas);  // the loop's fallback applies
  CHECK_FALSE(readings[0].value().readyReplicas);    // unknown, not 0
  CHECK(readings[0].value().gpuUtilizationPercent == 0.0);
}

TEST_CASE("treatEmptyAsZero: an empty result of that metric is 0 but NaN stays no data and an error an error") {
  // Every query answers by the metric name in it.
  struct Row {
    const char* what;
    std::string answer;  // the body for every metric query
    bool optIn;
    std::optional<double> value;  // each metric's reading; "error" rows fail instead
    bool error;
  };
  const std::string error503 = R"({"status":"error","errorType":"unavailable","error":"too many queries"})";
  const Row rows[] = {
      // The opt-in: the gauge vanished with the last waiting request (or pod).
      {"empty, opted in", kEmpty, true, 0.0, false},
      // The default: no series is no data, never 0.
      {"empty, not opted in", kEmpty, false, std::nullopt, false},
      // A series whose value is no number is not an empty result.
      {"NaN, opted in", vectorOf("NaN"), true, std::nullopt, false},
      {"+Inf, opted in", vectorOf("+Inf"), true, std::nullopt, false},
      // A real value is read as ever.
      {"a value, opted in", vectorOf("2"), true, 2.0, false},
      // A failed query is never 0.
      {"HTTP 503, opted in", error503, true, std::nullopt, true},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    core::Policy p = policy("llm", "chat", "chat");
    p.spec.metrics.latency->treatEmptyAsZero = row.optIn;
    p.spec.metrics.gpuUtilization->treatEmptyAsZero = row.optIn;
    p.spec.metrics.requestQueueDepth->treatEmptyAsZero = row.optIn;
    FakeTransport transport([&](const std::string& expression) -> core::Result<HttpResponse> {
      if (contains(expression, "kube_deployment_spec_replicas")) {
        return HttpResponse{200, kEmpty};  // replicas are never 0 for an empty result
      }
      return HttpResponse{row.answer == error503 ? 503L : 200L, row.answer};
    });
    PrometheusMetricSource source(transport);
    const auto readings = source.read({p});
    REQUIRE(readings.size() == 1);
    if (row.error) {
      REQUIRE_FALSE(readings[0].ok());
      CHECK(contains(readings[0].error().message, "HTTP 503: unavailable: too many queries"));
      continue;
    }
    REQUIRE(readings[0].ok());
    const MetricReading& reading = readings[0].value();
    // Latency in ms: 2 s reads 2000, 0 reads 0.
    const std::optional<double> latency = row.value ? std::optional<double>(*row.value * 1000.0) : std::nullopt;
    CHECK(reading.latencyP99Ms == latency);
    CHECK(reading.latencyP95Ms == latency);
    CHECK(reading.gpuUtilizationPercent == row.value);
    CHECK(reading.requestQueueDepth == row.value);
    CHECK_FALSE(reading.currentReplicas);
    if (row.answer == kEmpty) {
      CHECK_FALSE(reading.readyReplicas);  // never 0 for an empty result, whatever the metrics opt into
    }
  }
}

TEST_CASE("treatEmptyAsZero belongs to the policy, not to the query two policies share") {
  core::Policy zero = policy("llm", "zero", "chat");
  zero.spec.metrics.requestQueueDepth->treatEmptyAsZero = true;
  const core::Policy plain = policy("llm", "plain", "chat");  // the same target: the same queries
  FakeTransport transport([](const std::string&) -> core::Result<HttpResponse> { return HttpResponse{200, kEmpty}; });
  PrometheusMetricSource source(transport);
  const auto readings = source.read({zero, plain});
  REQUIRE(transport.calls.size() == 1);
  CHECK(transport.calls[0].size() == 6);  // sent once for both
  REQUIRE(readings[0].ok());
  REQUIRE(readings[1].ok());
  CHECK(readings[0].value().requestQueueDepth == 0.0);
  CHECK_FALSE(readings[0].value().gpuUtilizationPercent);  // not opted in on that metric
  CHECK_FALSE(readings[1].value().requestQueueDepth);
}

TEST_CASE("metrics disabled in the policy are not queried") {
  core::Policy p = policy("llm", "chat", "chat");
  p.spec.metrics.latency->enabled = false;
  p.spec.metrics.requestQueueDepth->enabled = false;
  FakeTransport transport(byMetric);
  PrometheusMetricSource source(transport);
  const auto readings = source.read({p});
  REQUIRE(transport.calls.size() == 1);
  for (const std::string& expression : transport.calls[0]) {
    CHECK_FALSE(contains(expression, "histogram_quantile"));
    CHECK_FALSE(contains(expression, "queue_depth"));
  }
  CHECK(transport.calls[0].size() == 3);  // GPU, replicas and ready replicas
  REQUIRE(readings[0].ok());
  CHECK_FALSE(readings[0].value().latencyP99Ms);
  CHECK_FALSE(readings[0].value().requestQueueDepth);
  CHECK(readings[0].value().gpuUtilizationPercent == 81.5);
}

TEST_CASE("the replicas query") {
  SUBCASE("a StatefulSet's replicas come from kube_statefulset_replicas") {
    core::Policy p = policy("llm", "chat", "vllm");
    p.spec.targetRef.kind = "StatefulSet";
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      if (expression == R"(max(kube_statefulset_replicas{namespace="llm",statefulset="vllm"}))") {
        return HttpResponse{200, vectorOf("7")};
      }
      return HttpResponse{200, kEmpty};
    });
    PrometheusMetricSource source(transport);
    const auto readings = source.read({p});
    REQUIRE(readings[0].ok());
    CHECK(readings[0].value().currentReplicas == 7);
  }
  SUBCASE("--replicas-query replaces it") {
    PrometheusSourceOptions options;
    options.queries.replicasQuery = R"(max(my_replicas{app="${target}"}))";
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      return HttpResponse{200, vectorOf(expression == R"(max(my_replicas{app="chat"}))" ? "2.6" : "1")};
    });
    PrometheusMetricSource source(transport, options);
    const auto readings = source.read({policy("llm", "chat", "chat")});
    REQUIRE(readings[0].ok());
    CHECK(readings[0].value().currentReplicas == 3);  // the nearest whole number
  }
  SUBCASE("a failed replicas query fails the reading like any other") {
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      if (contains(expression, "kube_deployment_spec_replicas")) {
        return HttpResponse{401, "Unauthorized"};
      }
      return byMetric(expression);
    });
    PrometheusMetricSource source(transport);
    const auto readings = source.read({policy("llm", "chat", "chat")});
    REQUIRE_FALSE(readings[0].ok());
    CHECK(contains(readings[0].error().message, "replicas: query `max(kube_deployment_spec_replicas{"));
    CHECK(contains(readings[0].error().message, "HTTP 401: Unauthorized"));
  }
  SUBCASE("a StatefulSet's ready replicas come from kube_statefulset_status_replicas_ready") {
    core::Policy p = policy("llm", "chat", "vllm");
    p.spec.targetRef.kind = "StatefulSet";
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      if (expression == R"(max(kube_statefulset_replicas{namespace="llm",statefulset="vllm"}))") {
        return HttpResponse{200, vectorOf("7")};
      }
      if (expression == R"(max(kube_statefulset_status_replicas_ready{namespace="llm",statefulset="vllm"}))") {
        return HttpResponse{200, vectorOf("4")};
      }
      return HttpResponse{200, kEmpty};
    });
    PrometheusMetricSource source(transport);
    const auto readings = source.read({p});
    REQUIRE(readings[0].ok());
    CHECK(readings[0].value().currentReplicas == 7);
    CHECK(readings[0].value().readyReplicas == 4);
  }
  SUBCASE("no ready series: the ready replicas are unknown, and the reading stands") {
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      if (contains(expression, "kube_deployment_status_replicas_ready")) {
        return HttpResponse{200, kEmpty};
      }
      return byMetric(expression);
    });
    PrometheusMetricSource source(transport);
    const auto readings = source.read({policy("llm", "chat", "chat")});
    REQUIRE(readings[0].ok());
    CHECK(readings[0].value().currentReplicas == 3);
    CHECK_FALSE(readings[0].value().readyReplicas);
    CHECK(readings[0].value().gpuUtilizationPercent == 81.5);
  }
  SUBCASE("0 ready is a value: every replica still starting") {
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      if (contains(expression, "kube_deployment_status_replicas_ready")) {
        return HttpResponse{200, vectorOf("0")};
      }
      return byMetric(expression);
    });
    PrometheusMetricSource source(transport);
    const auto readings = source.read({policy("llm", "chat", "chat")});
    REQUIRE(readings[0].ok());
    CHECK(readings[0].value().readyReplicas == 0);
  }
  SUBCASE("--replicas-query leaves the ready replicas to kube-state-metrics") {
    PrometheusSourceOptions options;
    options.queries.replicasQuery = R"(max(my_replicas{app="${target}"}))";
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      if (expression == R"(max(my_replicas{app="chat"}))") {
        return HttpResponse{200, vectorOf("4")};
      }
      return byMetric(expression);
    });
    PrometheusMetricSource source(transport, options);
    const auto readings = source.read({policy("llm", "chat", "chat")});
    REQUIRE(readings[0].ok());
    CHECK(readings[0].value().currentReplicas == 4);
    CHECK(readings[0].value().readyReplicas == 2);
  }
  SUBCASE("a failed ready replicas query leaves them unknown: the policy is still decided") {
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      if (contains(expression, "kube_deployment_status_replicas_ready")) {
        return HttpResponse{503, R"({"status":"error","errorType":"unavailable","error":"too many queries"})"};
      }
      return byMetric(expression);
    });
    PrometheusMetricSource source(transport);
    const auto readings = source.read({policy("llm", "chat", "chat")});
    REQUIRE(readings[0].ok());
    CHECK_FALSE(readings[0].value().readyReplicas.has_value());
    CHECK(readings[0].value().currentReplicas.has_value());
  }
  SUBCASE("another source of the replicas (serve --kubernetes): neither replicas query is sent") {
    PrometheusSourceOptions options;
    options.queries.queryReplicas = false;
    FakeTransport transport(byMetric);
    PrometheusMetricSource source(transport, options);
    const auto readings = source.read({policy("llm", "chat", "chat")});
    REQUIRE(readings[0].ok());
    REQUIRE(transport.calls.size() == 1);
    CHECK(transport.calls[0].size() == 4);  // the seed four
    for (const std::string& expression : transport.calls[0]) {
      CHECK_FALSE(contains(expression, "kube_deployment"));
    }
    CHECK_FALSE(readings[0].value().currentReplicas);
    CHECK_FALSE(readings[0].value().readyReplicas);
  }
  SUBCASE("a negative count is an error") {
    FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
      return HttpResponse{200, vectorOf(contains(expression, "replicas") ? "-1" : "1")};
    });
    PrometheusMetricSource source(transport);
    const auto readings = source.read({policy("llm", "chat", "chat")});
    REQUIRE_FALSE(readings[0].ok());
    CHECK(contains(readings[0].error().message, "not a replica count"));
  }
}

TEST_CASE("two series fail the policy with a message that says to aggregate") {
  core::Policy p = policy("llm", "chat", "chat");
  p.spec.metrics.gpuUtilization->prometheusQuery = R"(DCGM_FI_DEV_GPU_UTIL{namespace="${namespace}"})";
  FakeTransport transport([](const std::string& expression) -> core::Result<HttpResponse> {
    if (expression == R"(DCGM_FI_DEV_GPU_UTIL{namespace="llm"})") {
      return HttpResponse{200, R"({"status":"success","data":{"resultType":"vector","result":[)"
                               R"({"metric":{"gpu":"0"},"value":[1,"80"]},{"metric":{"gpu":"1"},"value":[1,"60"]}]}})"};
    }
    return byMetric(expression);
  });
  PrometheusMetricSource source(transport);
  const auto readings = source.read({p});
  REQUIRE_FALSE(readings[0].ok());
  CHECK(contains(readings[0].error().message, R"(gpuUtilization: query `DCGM_FI_DEV_GPU_UTIL{namespace="llm"}`: returned 2 series)"));
  CHECK(contains(readings[0].error().message, "sum(...) or avg(...)"));
}

TEST_CASE("a policy whose query does not expand fails alone, and check() reports it at load") {
  core::Policy broken = policy("llm", "broken", "chat");
  broken.spec.metrics.gpuUtilization->prometheusQuery = R"(avg(x{model="${model}"}))";
  FakeTransport transport(byMetric);
  PrometheusMetricSource source(transport);

  const core::Status checked = source.check(broken);
  REQUIRE_FALSE(checked.ok());
  CHECK(contains(checked.error().message, "spec.metrics.gpuUtilization.prometheusQuery: unknown placeholder ${model}"));
  CHECK(source.check(policy("llm", "fine", "chat")).ok());

  const auto readings = source.read({broken, policy("llm", "fine", "chat")});
  REQUIRE_FALSE(readings[0].ok());
  CHECK(readings[0].error().message == checked.error().message);
  CHECK(readings[1].ok());
  for (const std::string& expression : transport.calls.at(0)) {
    CHECK_FALSE(contains(expression, "model"));  // nothing of the broken policy is sent
  }
}

TEST_CASE("Prometheus warnings are told once per distinct message, not every cycle") {
  std::vector<std::pair<std::string, std::string>> told;
  PrometheusSourceOptions options;
  options.onWarning = [&](const std::string& query, const std::string& warning) { told.emplace_back(query, warning); };
  std::string warning = "partial response: store eu-1 unreachable";
  FakeTransport transport([&](const std::string& expression) -> core::Result<HttpResponse> {
    if (contains(expression, "DCGM") || contains(expression, "queue_depth")) {
      std::string body = R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":[")";
      body += warning;
      body += R"("]})";
      return HttpResponse{200, body};
    }
    return byMetric(expression);
  });
  PrometheusMetricSource source(transport, options);
  const std::vector<core::Policy> policies = {policy("llm", "chat", "chat")};
  for (int cycle = 0; cycle < 3; ++cycle) {
    const auto readings = source.read(policies);
    REQUIRE(readings[0].ok());  // a warning is no error
  }
  REQUIRE(told.size() == 1);  // two queries, three cycles: one message
  CHECK(told[0].second == "partial response: store eu-1 unreachable");
  CHECK(contains(told[0].first, "DCGM") != contains(told[0].first, "queue_depth"));

  warning = "partial response: store us-1 unreachable";
  (void)source.read(policies);
  REQUIRE(told.size() == 2);
  CHECK(told[1].second == warning);
}

TEST_CASE("a transport that answers the wrong number of queries fails every reading, without a crash") {
  class ShortTransport final : public QueryTransport {
   public:
    std::vector<core::Result<HttpResponse>> instantQueries(const std::vector<std::string>&) override { return {}; }
  } transport;
  PrometheusMetricSource source(transport);
  const auto readings = source.read({policy("a", "p", "m"), policy("b", "p", "m")});
  REQUIRE(readings.size() == 2);
  CHECK_FALSE(readings[0].ok());
  CHECK_FALSE(readings[1].ok());
  CHECK(contains(readings[0].error().message, "returned 0 answers for 12 queries"));  // 6 per target
}

TEST_CASE("no policies, no queries") {
  FakeTransport transport(byMetric);
  PrometheusMetricSource source(transport);
  CHECK(source.read({}).empty());
  CHECK(transport.calls.empty());
}

}  // namespace
}  // namespace kubeai::source::prometheus

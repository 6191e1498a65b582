#pragma once

// `kubeai-scaler serve --prometheus-url` end to end, as in a cluster: the real
// binary (a child process), a real Prometheus scraping exporters the test
// controls every second, and KEDA's side as a gRPC client built from the same
// proto. Shared by the serve_prometheus_*_test.cc files.

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "serve/serve_process.h"
#include "support/http_get.h"
#include "support/prometheus_server.h"
#include "support/temp_dir.h"
#include "support/test_exporter.h"
#include "support/wait.h"

namespace kubeai::testing {

inline constexpr std::chrono::seconds kRpcDeadline{5};
// Prometheus 2.42 first scrapes about 5 s after it starts (its scrape manager
// applies targets on a 5 s tick), then every second; serve evaluates every
// second. Generous: a passing test never waits for these.
inline const auto kFirstDecision = stretched(std::chrono::seconds(40));
inline const auto kFollow = stretched(std::chrono::seconds(20));
// --metrics-stale-after
inline constexpr std::chrono::seconds kStaleAfter{4};

inline std::string policyYaml(const std::string& ns, const std::string& name, const std::string& kind,
                              const std::string& target, int minReplicas, const std::string& metrics) {
  return concat("apiVersion: kubeai.io/v1alpha1\nkind: AIInferenceAutoscalerPolicy\nmetadata:\n  name: ", name,
                "\n  namespace: ", ns, "\nspec:\n  targetRef:\n    kind: ", kind, "\n    name: ", target,
                "\n  minReplicas: ", std::to_string(minReplicas),
                "\n  maxReplicas: 10\n  cooldownPeriod: 0\n  metrics:\n", metrics);
}

// What GetMetrics answered: a desired replica count, or the status.
struct Answer {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  std::int64_t desired = -1;

  [[nodiscard]] bool is(std::int64_t replicas) const { return code == grpc::StatusCode::OK && desired == replicas; }
  [[nodiscard]] std::string show() const {
    return code == grpc::StatusCode::OK ? concat("desired ", std::to_string(desired))
                                        : concat("status ", std::to_string(static_cast<int>(code)), ": ", message);
  }
};

// The exporters, Prometheus scraping them, and serve reading Prometheus.
struct World {
  using Clock = std::chrono::steady_clock;

  TempDir dir;
  TestExporter exporter;
  // More exporters Prometheus scrapes as well, e.g. a second kube-state-metrics.
  std::vector<std::unique_ptr<TestExporter>> more;
  std::unique_ptr<PrometheusServer> prometheus;
  std::unique_ptr<ServeProcess> serve;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub;

  // Writes the policies, starts `extraExporters` more exporters, Prometheus
  // (scraping them and `moreTargets`, e.g. a SnapshotExporter's address) and serve.
  explicit World(const std::vector<std::string>& policies, int extraExporters = 0,
                 const std::vector<std::string>& moreTargets = {}) {
    const auto policyDir = dir.path() / "policies";
    std::filesystem::create_directories(policyDir);
    for (std::size_t i = 0; i < policies.size(); ++i) {
      std::ofstream(policyDir / concat("policy-", std::to_string(i), ".yaml")) << policies[i];
    }
    PrometheusServerOptions options;
    options.targets = {exporter.address()};
    for (int i = 0; i < extraExporters; ++i) {
      more.push_back(std::make_unique<TestExporter>());
      options.targets.push_back(more.back()->address());
    }
    options.targets.insert(options.targets.end(), moreTargets.begin(), moreTargets.end());
    prometheus = std::make_unique<PrometheusServer>(options);
    serve = std::make_unique<ServeProcess>(
        KUBEAI_SCALER_BIN,
        std::vector<std::string>{"--policy-dir", policyDir.string(), "--prometheus-url", prometheus->url(),
                                 "--prometheus-timeout", "1s", "--evaluation-interval", "1s",
                                 "--metrics-stale-after", "4s"},
        dir.path() / "serve.log", dir.path());
    stub = externalscaler::ExternalScaler::NewStub(
        grpc::CreateChannel(serve->grpcAddress(), grpc::InsecureChannelCredentials()));
  }

  static externalscaler::ScaledObjectRef ref(const std::string& ns, const std::string& policy) {
    externalscaler::ScaledObjectRef ref;
    ref.set_name(policy);
    ref.set_namespace_(ns);
    return ref;
  }

  Answer getMetrics(const std::string& ns, const std::string& policy) {
    externalscaler::GetMetricsRequest request;
    *request.mutable_scaledobjectref() = ref(ns, policy);
    const std::string metricName = concat("kubeai-", policy);
    request.set_metricname(metricName);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
    externalscaler::GetMetricsResponse response;
    const grpc::Status status = stub->GetMetrics(&context, request, &response);
    Answer answer;
    answer.code = status.error_code();
    answer.message = status.error_message();
    if (status.ok()) {
      REQUIRE(response.metricvalues_size() == 1);
      CHECK(response.metricvalues(0).metricname() == metricName);
      answer.desired = response.metricvalues(0).metricvalue();
    }
    return answer;
  }

  // IsActive as KEDA asks it; a failed call is no answer at all.
  std::optional<bool> isActive(const std::string& ns, const std::string& policy) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
    externalscaler::IsActiveResponse response;
    const grpc::Status status = stub->IsActive(&context, ref(ns, policy), &response);
    if (!status.ok()) {
      return std::nullopt;
    }
    return response.result();
  }

  // Waits until GetMetrics answers as `accept` wants; returns that answer.
  Answer waitFor(const std::string& ns, const std::string& policy, const std::function<bool(const Answer&)>& accept,
                 Clock::duration timeout, const std::string& what) {
    Answer last;
    waitUntil(
        [&] {
          last = getMetrics(ns, policy);
          return accept(last);
        },
        timeout, concat(ns, "/", policy, ": ", what),
        [&] { return concat("last answer: ", last.show(), "\nserve log:\n", serve->logText()); },
        std::chrono::milliseconds(100));
    return last;
  }

  Answer waitForDesired(const std::string& ns, const std::string& policy, std::int64_t replicas,
                        Clock::duration timeout) {
    return waitFor(
        ns, policy, [&](const Answer& a) { return a.is(replicas); }, timeout,
        concat("desired ", std::to_string(replicas)));
  }

  HttpGetResult http(const std::string& path) { return httpGet(concat("http://", serve->httpAddress(), path)); }
};

}  // namespace kubeai::testing

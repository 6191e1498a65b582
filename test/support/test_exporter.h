#pragma once

// An exporter the tests control, scraped by a real Prometheus: the series an
// inference cluster exposes, with the labels of their real exporters —
//   DCGM_FI_DEV_GPU_UTIL{namespace,pod,gpu}              NVIDIA DCGM exporter
//   inference_request_duration_seconds{namespace,pod}    a latency histogram
//   inference_request_queue_depth{namespace,pod}         a queue gauge
//   kube_deployment_spec_replicas{namespace,deployment}  kube-state-metrics
//   kube_statefulset_replicas{namespace,statefulset}     kube-state-metrics
// served by prometheus-cpp's pull library on 127.0.0.1:0. Scrape it with
// `honor_labels: true` so that its namespace/pod labels stay as exported.
// Link prometheus-cpp::pull.

#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace kubeai::testing {

class TestExporter {
 public:
  // The latency buckets, in seconds (those of common inference servers).
  static prometheus::Histogram::BucketBoundaries latencyBuckets() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  }

  TestExporter()
      : registry_(std::make_shared<prometheus::Registry>()),
        gpu_(prometheus::BuildGauge()
                 .Name("DCGM_FI_DEV_GPU_UTIL")
                 .Help("GPU utilization (in %).")
                 .Register(*registry_)),
        latency_(prometheus::BuildHistogram()
                     .Name("inference_request_duration_seconds")
                     .Help("Inference request latency.")
                     .Register(*registry_)),
        queue_(prometheus::BuildGauge()
                   .Name("inference_request_queue_depth")
                   .Help("Requests waiting.")
                   .Register(*registry_)),
        deploymentReplicas_(prometheus::BuildGauge()
                                .Name("kube_deployment_spec_replicas")
                                .Help("Number of desired pods for a deployment.")
                                .Register(*registry_)),
        statefulSetReplicas_(prometheus::BuildGauge()
                                 .Name("kube_statefulset_replicas")
                                 .Help("Number of desired pods for a StatefulSet.")
                                 .Register(*registry_)),
        exposer_(std::make_unique<prometheus::Exposer>("127.0.0.1:0", 2)) {
    exposer_->RegisterCollectable(registry_);
    const auto ports = exposer_->GetListeningPorts();
    if (ports.empty() || ports.front() == 0) {
      throw std::runtime_error("test exporter: no listening port");
    }
    port_ = ports.front();
  }

  TestExporter(const TestExporter&) = delete;
  TestExporter& operator=(const TestExporter&) = delete;

  // host:port, for a scrape config's targets.
  [[nodiscard]] std::string address() const {
    std::string address = "127.0.0.1:";
    address += std::to_string(port_);
    return address;
  }

  // Setting a series creates it; Family::Add returns the existing one.
  void setGpuUtilization(const std::string& ns, const std::string& pod, const std::string& gpu, double percent) {
    gpu_.Add({{"namespace", ns}, {"pod", pod}, {"gpu", gpu}}).Set(percent);
  }
  void removeGpuUtilization(const std::string& ns, const std::string& pod, const std::string& gpu) {
    gpu_.Remove(&gpu_.Add({{"namespace", ns}, {"pod", pod}, {"gpu", gpu}}));
  }
  void setQueueDepth(const std::string& ns, const std::string& pod, double depth) {
    queue_.Add({{"namespace", ns}, {"pod", pod}}).Set(depth);
  }
  // Records `count` requests that each took `seconds`.
  void observeLatency(const std::string& ns, const std::string& pod, double seconds, int count = 1) {
    auto& histogram = latency_.Add({{"namespace", ns}, {"pod", pod}}, latencyBuckets());
    for (int i = 0; i < count; ++i) {
      histogram.Observe(seconds);
    }
  }
  // Declares the histogram without a request in it (histogram_quantile then gives NaN).
  void declareLatency(const std::string& ns, const std::string& pod) {
    latency_.Add({{"namespace", ns}, {"pod", pod}}, latencyBuckets());
  }
  void setDeploymentReplicas(const std::string& ns, const std::string& deployment, double replicas) {
    deploymentReplicas_.Add({{"namespace", ns}, {"deployment", deployment}}).Set(replicas);
  }
  void setStatefulSetReplicas(const std::string& ns, const std::string& statefulSet, double replicas) {
    statefulSetReplicas_.Add({{"namespace", ns}, {"statefulset", statefulSet}}).Set(replicas);
  }

  // For series of the test's own.
  [[nodiscard]] prometheus::Registry& registry() noexcept { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Gauge>& gpu_;
  prometheus::Family<prometheus::Histogram>& latency_;
  prometheus::Family<prometheus::Gauge>& queue_;
  prometheus::Family<prometheus::Gauge>& deploymentReplicas_;
  prometheus::Family<prometheus::Gauge>& statefulSetReplicas_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
};

}  // namespace kubeai::testing

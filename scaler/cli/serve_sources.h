#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/serve_command.h"
#include "cli/status_bridge.h"
#include "core/result.h"
#include "kube/client/kube_client.h"
#include "kube/leader_elector.h"
#include "kube/policy_watcher.h"
#include "kube/status_writer.h"
#include "source/file_metric_source.h"
#include "source/metric_source.h"
#include "source/prometheus/client/prometheus_client.h"
#include "source/prometheus/prometheus_metric_source.h"

namespace kubeai::cli {

// Where serve reads metrics from: the metrics file, or Prometheus through the
// libcurl client. `source` is the one in use; the others are null.
struct MetricSources {
  std::unique_ptr<source::FileMetricSource> file;
  std::unique_ptr<source::prometheus::PrometheusClient> prometheusClient;
  std::unique_ptr<source::prometheus::PrometheusMetricSource> prometheus;
  source::MetricSource* source = nullptr;
};

// The metric sources of `options`, the file read once (an error names it);
// says where Prometheus is and how it is reached, never a credential.
core::Result<MetricSources> makeMetricSources(const ServeOptions& options);

// With --kubernetes: status and Events, written by the holder of the Lease
// (`elector` null with --leader-elect=false: this replica always writes).
struct StatusWriting {
  std::unique_ptr<kube::LeaderElector> elector;
  std::unique_ptr<kube::StatusWriter> writer;
  std::unique_ptr<StatusBridge> bridge;
};

// The Lease goes to --lease-namespace, else $POD_NAMESPACE, else
// `defaultNamespace` (the kubeconfig's). The elector sends through
// `leaseClient` (its own rate limit) when given, else through `client`.
StatusWriting makeStatusWriting(const ServeOptions& options, kube::KubeClient& client, kube::KubeClient* leaseClient,
                                const std::string& defaultNamespace, std::vector<std::string> algorithms);

// The policy watcher's and the elector's words, as serve's log lines.
void logWatch(kube::WatchLogLevel level, std::string_view message, const kube::WatchLogFields& fields);

}  // namespace kubeai::cli

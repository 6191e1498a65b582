#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace kubeai::cli {

struct ServeOptions {
  // Dual stack (IPv6 and IPv4, IPv4 alone on a kernel without IPv6): the
  // kubelet's probes and KEDA reach the pod on whichever family the cluster has.
  std::string grpcAddress = "[::]:6000";
  std::string metricsAddress = "[::]:8080";  // /metrics, /healthz, /readyz
  std::string healthAddress;                    // plaintext grpc.health.v1, for probes when TLS is on
  std::filesystem::path policyDir;
  // Policies from the Kubernetes API instead of --policy-dir; replicas from
  // each target's /scale; status and Events written back (by the Lease holder).
  bool kubernetes = false;
  std::optional<std::filesystem::path> kubeconfig;  // default $KUBECONFIG, ~/.kube/config, in-cluster
  std::string kubeNamespace;                        // namespaces, comma-separated; empty = all
  bool leaderElect = true;                          // only with --kubernetes
  std::string leaseName{};  // empty: leaseNameOf()'s default
  std::string leaseNamespace;  // default $POD_NAMESPACE, else the kubeconfig's namespace
  // Sharding (docs/install.md, "Sharding"): the policies served, by label
  // (kubectl's -l syntax; the API server selects), and the shard's name,
  // written in each policy's status.shard (default: shardNameOf()).
  std::string policySelector{};
  std::string shardName{};
  double statusQps = 20;       // status writes and Events per second; 0 = unlimited
  int statusBurst = 40;
  // Every request to the Kubernetes API, client-go's QPS and Burst (0 = unlimited).
  double kubeQps = 50;
  int kubeBurst = 100;
  std::filesystem::path metricsFile;             // the metrics come from this file or from Prometheus
  std::string prometheusUrl;                     // base URL; may carry a path prefix (Thanos, Mimir)
  std::chrono::milliseconds prometheusTimeout{2000};  // per query
  std::filesystem::path prometheusBearerTokenFile;    // re-read when it changes
  std::string prometheusBasicAuthUser;
  std::filesystem::path prometheusBasicAuthPasswordFile;
  std::filesystem::path prometheusCaFile;             // empty = the system's CAs
  bool prometheusInsecureSkipVerify = false;
  std::vector<std::pair<std::string, std::string>> prometheusHeaders;  // X-Scope-OrgID and the like
  std::string replicasQuery;  // empty = kube-state-metrics' spec replicas of the target's kind
  std::optional<std::filesystem::path> pluginDir;
  // "process" (each plugin file in its own plugin-host process) or "in-process"
  // (dlopen'd into serve: a crashing plugin takes the server down).
  std::string pluginIsolation = "process";
  std::chrono::milliseconds pluginTimeout{1000};  // every call to an isolated plugin
  int pluginFailuresBeforeUnavailable = 3;        // failed calls in a row
  std::chrono::milliseconds evaluationInterval{15'000};
  std::optional<std::chrono::milliseconds> metricsStaleAfter;  // default 3 x evaluationInterval
  // Every metric read's deadline; default 2 x evaluationInterval, at most metricsStaleAfter.
  std::optional<std::chrono::milliseconds> metricsReadDeadline;
  // How long our own published change counts as current while the workload
  // has not reached it (core::DecideSettings).
  std::chrono::milliseconds reactionTime{30'000};
  std::string tlsCertFile;
  std::string tlsKeyFile;
  std::string tlsClientCaFile;  // mTLS: a client certificate signed by it is required
  std::string logLevel = "info";
  std::string logFormat = "text";
  // Tenancy (docs/install.md, "Trust model"): a ScaledObject may use a policy
  // of another namespace; "deny" refuses policies with a query of their own
  // (prometheusQuery); each policy's queries carry X-Scope-OrgID: <namespace>.
  bool allowCrossNamespacePolicies{};
  std::string customQueries{"allow"};  // allow | deny
  bool prometheusTenantFromNamespace{};
  // KEDA's gRPC connections: a ping after this long without traffic, the
  // connection closed when it is not answered within the timeout.
  std::chrono::milliseconds grpcKeepaliveTime{60'000};
  std::chrono::milliseconds grpcKeepaliveTimeout{20'000};
  // HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS. KEDA multiplexes every
  // StreamIsActive of every ScaledObject using this address over one connection.
  int grpcMaxStreamsPerConnection{100'000};
};

// The checks no single flag makes (sources exclusive or missing, intervals,
// --replicas-query's template); an Error says what to change.
core::Status checkServeOptions(const ServeOptions& options);

// --policy-selector parses, --shard-name is a DNS-1123 label, --namespace a
// list of them; the error names the flag (serve_shard.cc).
core::Status checkShardOptions(const ServeOptions& options);
// --shard-name alone ("" is fine: the default); serve and validate check it alike.
core::Status checkShardName(const std::string& shardName);
// --policy-selector's canonical text (kube::LabelSelector::text()), as sent to the API.
[[nodiscard]] std::string policySelectorOf(const ServeOptions& options);
// --shard-name, or its default: --policy-selector's canonical text, then
// " ns=a,b" with --namespace's list ("ns=a,b" alone without a selector), or
// "all"; a default over 1024 characters (status.shard's maxLength) is cut
// to 1024, ending "... #<8 hex digits of the whole>". validate names the shard by it too.
[[nodiscard]] std::string shardNameOf(const ServeOptions& options);
// --lease-name, or its default: kubeai-scaler; kubeai-scaler-<shard-name>
// with --shard-name; else, with --policy-selector or --namespace,
// kubeai-scaler-shard-<8 hex digits of the hash of the selector and the
// namespaces>, so that shards never share a Lease.
[[nodiscard]] std::string leaseNameOf(const ServeOptions& options);
// --namespace as a sorted list (kube::parseNamespaceList); empty = all.
[[nodiscard]] std::vector<std::string> namespacesOf(const ServeOptions& options);

// --metrics-stale-after, or its default: 3 x --evaluation-interval.
[[nodiscard]] std::chrono::milliseconds staleAfterOf(const ServeOptions& options);
// --metrics-read-deadline, or its default: 2 x --evaluation-interval, at most
// the staleness bound (server::DeadlineMetricSource::defaultDeadline).
[[nodiscard]] std::chrono::milliseconds readDeadlineOf(const ServeOptions& options);

// Parses a --prometheus-header value, NAME=VALUE: NAME an HTTP header name
// (letters, digits and !#$%&'*+-.^_`|~), VALUE not empty and on one line.
core::Result<std::pair<std::string, std::string>> parseHeaderFlag(std::string_view text);

// Runs the server until SIGTERM or SIGINT: evaluates every policy on a timer
// and on changes, answers KEDA's ExternalScaler calls from memory, serves
// /metrics, /healthz and /readyz, and reloads the policy directory, the
// metrics file, the plugins and the TLS certificates when they change on disk.
// With --kubernetes, policies come from the API (list + watch), current
// replicas from /scale, and the Lease holder writes status and Events; gRPC
// health and /readyz say ready once the first list is in.
// Metrics come from --metrics-file or from Prometheus (--prometheus-url), one
// query per distinct expression per cycle, each read bounded by
// --metrics-read-deadline: a slow Prometheus delays decisions, never an RPC,
// and a decision whose metrics are older than --metrics-stale-after is
// refused (UNAVAILABLE) on time. /healthz fails when no evaluation cycle has
// completed for telemetry::LoopLiveness::limitFor() (a plugin call that never
// returns), so that the kubelet restarts the pod.
// Returns the exit code: 0 after a clean shutdown, 1 when something it needs
// cannot start (a port in use), 2 for bad options or unreadable start-up files.
int runServe(const ServeOptions& options);

}  // namespace kubeai::cli

#include "cli/serve_sources.h"

#include <cstdlib>
#include <utility>

#include "cli/logging.h"

namespace kubeai::cli {
namespace {

std::string formatMs(std::chrono::milliseconds duration) { return std::to_string(duration.count()) + "ms"; }

// What serve says about its Prometheus at start: where, and which kinds of
// credentials; never a credential, nor a header's value.
void logPrometheus(const ServeOptions& options) {
  std::string auth = "none";
  if (!options.prometheusBearerTokenFile.empty()) {
    auth = "bearer";
  } else if (!options.prometheusBasicAuthUser.empty()) {
    auth = "basic";
  }
  std::string headers;
  for (const auto& header : options.prometheusHeaders) {
    headers += headers.empty() ? "" : ",";
    headers += header.first;
  }
  std::string tls = "system CAs";
  if (options.prometheusInsecureSkipVerify) {
    tls = "not verified";
  } else if (!options.prometheusCaFile.empty()) {
    tls = options.prometheusCaFile.string();
  }
  logEvent(LogLevel::kInfo, "metrics from Prometheus",
           {{"url", options.prometheusUrl},
            {"timeout", formatMs(options.prometheusTimeout)},
            {"auth", auth},
            {"tls", tls},
            {"headers", headers},
            {"replicasQuery", options.kubernetes ? "none (/scale)"
                                                 : (options.replicasQuery.empty() ? "kube-state-metrics"
                                                                                  : options.replicasQuery)}});
}

}  // namespace

core::Result<MetricSources> makeMetricSources(const ServeOptions& options) {
  MetricSources sources;
  if (options.prometheusUrl.empty()) {
    sources.file = std::make_unique<source::FileMetricSource>(options.metricsFile);
    if (auto loaded = sources.file->reload(); !loaded.ok()) {
      return loaded.error();
    }
    sources.source = sources.file.get();
    return sources;
  }
  source::prometheus::PrometheusClientOptions clientOptions;
  clientOptions.url = options.prometheusUrl;
  clientOptions.timeout = options.prometheusTimeout;
  clientOptions.bearerTokenFile = options.prometheusBearerTokenFile;
  clientOptions.basicAuthUser = options.prometheusBasicAuthUser;
  clientOptions.basicAuthPasswordFile = options.prometheusBasicAuthPasswordFile;
  clientOptions.caFile = options.prometheusCaFile;
  clientOptions.insecureSkipVerify = options.prometheusInsecureSkipVerify;
  clientOptions.headers = options.prometheusHeaders;
  auto client = source::prometheus::PrometheusClient::create(std::move(clientOptions));
  if (!client.ok()) {
    return client.error();
  }
  sources.prometheusClient = std::move(client).value();
  source::prometheus::PrometheusSourceOptions sourceOptions;
  sourceOptions.queries.replicasQuery = options.replicasQuery;
  // With --kubernetes the replicas come from the targets (ScaleReplicaSource).
  sourceOptions.queries.queryReplicas = !options.kubernetes;
  sourceOptions.tenantFromNamespace = options.prometheusTenantFromNamespace;
  sourceOptions.onWarning = [](const std::string& query, const std::string& warning) {
    logEvent(LogLevel::kWarn, "Prometheus warning", {{"warning", warning}, {"query", query}});
  };
  sources.prometheus =
      std::make_unique<source::prometheus::PrometheusMetricSource>(*sources.prometheusClient, std::move(sourceOptions));
  sources.source = sources.prometheus.get();
  logPrometheus(options);
  return sources;
}

StatusWriting makeStatusWriting(const ServeOptions& options, kube::KubeClient& client, kube::KubeClient* leaseClient,
                                const std::string& defaultNamespace, std::vector<std::string> algorithms) {
  StatusWriting writing;
  if (options.leaderElect) {
    kube::LeaderElectionOptions lease;
    lease.leaseName = leaseNameOf(options);
    lease.leaseNamespace = options.leaseNamespace;
    if (lease.leaseNamespace.empty()) {
      const char* podNamespace = std::getenv("POD_NAMESPACE");
      lease.leaseNamespace = podNamespace != nullptr && *podNamespace != '\0' ? podNamespace : defaultNamespace;
    }
    lease.onError = [](const std::string& error) { logEvent(LogLevel::kWarn, "leader election", {{"error", error}}); };
    logEvent(LogLevel::kInfo, "leader election", {{"lease", lease.leaseNamespace + "/" + lease.leaseName}});
    kube::KubeClient& electorClient = leaseClient != nullptr ? *leaseClient : client;
    writing.elector = std::make_unique<kube::LeaderElector>(electorClient, std::move(lease), [](bool leading) {
      logEvent(LogLevel::kInfo, leading ? "leading: writing status and Events" : "not leading: status writes stopped");
    });
  }
  kube::StatusWriterOptions writerOptions;
  writerOptions.availableAlgorithms = std::move(algorithms);
  writerOptions.maxRequestsPerSecond = options.statusQps;
  writerOptions.maxBurst = options.statusBurst;
  writerOptions.shard = shardNameOf(options);
  writerOptions.onWriteError = [](const std::string& policy, const std::string& error) {
    logEvent(LogLevel::kWarn, "status write", {{"policy", policy}, {"error", error}});
  };
  writerOptions.onShardOverlap = [](const std::string& policy, const std::string& ours, const std::string& other) {
    logEvent(LogLevel::kWarn, "policy selected by two shards: their --policy-selector or --namespace overlap",
             {{"policy", policy}, {"shard", ours}, {"otherShard", other}});
  };
  kube::LeaderElector* leader = writing.elector.get();
  if (leader != nullptr) {
    // No request may still be in flight when leadership could have passed on.
    writerOptions.leadershipRemaining = [leader] { return leader->remaining(); };
  }
  writing.writer = std::make_unique<kube::StatusWriter>(client, std::move(writerOptions), [leader] {
    return leader == nullptr || leader->isLeader();
  });
  writing.bridge = std::make_unique<StatusBridge>(*writing.writer);
  return writing;
}

void logWatch(kube::WatchLogLevel level, std::string_view message, const kube::WatchLogFields& fields) {
  LogLevel mapped = LogLevel::kInfo;
  switch (level) {
    case kube::WatchLogLevel::kDebug:
      mapped = LogLevel::kDebug;
      break;
    case kube::WatchLogLevel::kInfo:
      mapped = LogLevel::kInfo;
      break;
    case kube::WatchLogLevel::kWarn:
      mapped = LogLevel::kWarn;
      break;
    case kube::WatchLogLevel::kError:
      mapped = LogLevel::kError;
      break;
  }
  // logEvent takes a fixed list: the watcher says at most three fields.
  auto field = [&](std::size_t i) {
    return i < fields.size() ? LogField{fields[i].first, fields[i].second} : LogField{"", ""};
  };
  switch (fields.size()) {
    case 0:
      logEvent(mapped, message);
      break;
    case 1:
      logEvent(mapped, message, {field(0)});
      break;
    case 2:
      logEvent(mapped, message, {field(0), field(1)});
      break;
    default:
      logEvent(mapped, message, {field(0), field(1), field(2)});
      break;
  }
}

}  // namespace kubeai::cli

#include "cli/serve_command.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <tuple>
#include <utility>

#include "cli/exit_codes.h"
#include "cli/freed_memory.h"
#include "cli/logging.h"
#include "core/algorithm_registry.h"
#include "kube/client/kube_client.h"
#include "kube/leader_elector.h"
#include "kube/policy_watcher.h"
#include "kube/scale_replica_source.h"
#include "kube/status_writer.h"
#include "plugin/plugin_reloader.h"
#include "server/decision_store.h"
#include "server/evaluation_loop.h"
#include "server/external_scaler_service.h"
#include "source/file_metric_source.h"
#include "source/policy_directory.h"
#include "source/prometheus/client/prometheus_client.h"
#include "source/prometheus/prometheus_metric_source.h"
#include "telemetry/http_endpoint.h"
#include "telemetry/telemetry.h"
#include "watch/file_watcher.h"

namespace kubeai::cli {
namespace {

std::string formatMs(std::chrono::milliseconds duration) { return std::to_string(duration.count()) + "ms"; }

// With --kubernetes: hands what the evaluation loop decided to the status
// writer. The loop names a failing policy by namespace/name only; the policy
// itself (uid, generation) comes from the watcher's latest set.
class StatusBridge {
 public:
  explicit StatusBridge(kube::StatusWriter& writer) : writer_(writer) {}

  // Watcher thread.
  void setPolicies(const kube::PolicySnapshot& snapshot) {
    const std::lock_guard lock(mutex_);
    policies_ = snapshot.policies;
    invalidGenerations_ = snapshot.invalidGenerations;
  }

  // Evaluation thread, from here on.
  void onDecision(const core::Policy& policy, const core::Decision& decision, const core::Observation& observation,
                  std::optional<core::TimePoint> lastScaleTime) {
    writer_.onDecision(policy, decision, observation, lastScaleTime);
  }

  void onError(const std::string& ns, const std::string& name, const std::string& type, const std::string& message) {
    std::shared_ptr<const std::vector<core::Policy>> policies;
    std::optional<std::int64_t> invalidGeneration;
    {
      const std::lock_guard lock(mutex_);
      policies = policies_;
      if (auto found = invalidGenerations_.find(ns + "/" + name); found != invalidGenerations_.end()) {
        invalidGeneration = found->second;
      }
    }
    const core::Policy* policy = find(*policies, ns, name);
    if (type == "invalid") {
      // Refused by the parser (its generation kept by the watcher), or valid
      // but refused by serve (a Prometheus query that does not expand).
      const std::int64_t generation =
          invalidGeneration.value_or(policy != nullptr ? policy->metadata.generation : std::int64_t{0});
      writer_.onInvalid(ns, name, generation, message);
      return;
    }
    if (policy == nullptr) {
      return;  // deleted since the loop's cycle began: onRemoved follows
    }
    // A missing target is a metrics read failure to the loop (ScaleReplicaSource's
    // kTargetNotFoundPrefix); the status says TargetNotFound.
    const std::size_t at = message.find(kube::kTargetNotFoundPrefix);
    if ((type == "metrics" || type == "stale") && at != std::string::npos) {
      writer_.onError(*policy, "target_not_found", message.substr(at + kube::kTargetNotFoundPrefix.size()));
      return;
    }
    writer_.onError(*policy, type, message);
  }

  void onRemoved(const std::string& ns, const std::string& name) { writer_.onRemoved(ns, name); }

 private:
  // The set is sorted by namespace then name (PolicySnapshot).
  static const core::Policy* find(const std::vector<core::Policy>& policies, const std::string& ns,
                                  const std::string& name) {
    const auto found = std::lower_bound(policies.begin(), policies.end(), std::pair{&ns, &name},
                                        [](const core::Policy& policy, const auto& key) {
                                          return std::tie(policy.metadata.namespace_, policy.metadata.name) <
                                                 std::tie(*key.first, *key.second);
                                        });
    if (found == policies.end() || found->metadata.namespace_ != ns || found->metadata.name != name) {
      return nullptr;
    }
    return &*found;
  }

  kube::StatusWriter& writer_;
  std::mutex mutex_;
  std::shared_ptr<const std::vector<core::Policy>> policies_ = std::make_shared<const std::vector<core::Policy>>();
  std::map<std::string, std::int64_t> invalidGenerations_;
};

// Telemetry and logs for what the evaluation loop does; evaluation thread only.
class ServeListener final : public server::EvaluationListener {
 public:
  ServeListener(telemetry::Telemetry& telemetry, StatusBridge* status) : telemetry_(telemetry), status_(status) {}

  void onDecision(const core::Policy& policy, const core::Decision& decision, const core::Observation& observation,
                  bool cooldownActive, std::optional<core::TimePoint> lastScaleTime, double seconds) override {
    telemetry_.recordDecision(policy, decision, observation, cooldownActive, lastScaleTime, seconds);
    if (status_ != nullptr) {
      status_->onDecision(policy, decision, observation, lastScaleTime);
    }
    const std::string key = policy.key();
    auto [last, inserted] = lastDesired_.try_emplace(key, decision.desiredReplicas);
    if (inserted || last->second != decision.desiredReplicas) {
      const std::string from = inserted ? "" : std::to_string(last->second);
      last->second = decision.desiredReplicas;
      logEvent(LogLevel::kInfo, "desired replicas", {{"policy", key},
                                                     {"from", from},
                                                     {"desired", std::to_string(decision.desiredReplicas)},
                                                     {"current", std::to_string(decision.currentReplicas)},
                                                     {"algorithm", decision.algorithm},
                                                     {"reason", decision.reason},
                                                     {"limitedBy", std::string(core::limitedByName(decision.limitedBy))}});
    }
    if (!decision.algorithmValid && unknownAlgorithm_.insert(key).second) {
      logEvent(LogLevel::kWarn, "unknown algorithm, using MaxRatio",
               {{"policy", key}, {"algorithm", decision.requestedAlgorithm}});
    } else if (decision.algorithmValid) {
      unknownAlgorithm_.erase(key);
    }
  }

  void onError(const std::string& ns, const std::string& name, const std::string& type,
               const std::string& message) override {
    telemetry_.recordError(ns, name, type);
    if (status_ != nullptr) {
      status_->onError(ns, name, type, message);
    }
    // Said once per distinct problem, not every cycle.
    std::string& last = lastError_[ns + "/" + name + "/" + type];
    if (last != message) {
      last = message;
      logEvent(LogLevel::kWarn, "policy error", {{"policy", ns + "/" + name}, {"type", type}, {"error", message}});
    }
  }

  void onRemoved(const std::string& ns, const std::string& name) override {
    telemetry_.removePolicy(ns, name);
    if (status_ != nullptr) {
      status_->onRemoved(ns, name);
    }
    const std::string key = ns + "/" + name;
    lastDesired_.erase(key);
    unknownAlgorithm_.erase(key);
    std::erase_if(lastError_, [&](const auto& entry) { return entry.first.rfind(key + "/", 0) == 0; });
    logEvent(LogLevel::kInfo, "policy removed", {{"policy", key}});
  }

  void onCycle(const std::map<std::string, std::size_t>& states, double seconds) override {
    telemetry_.setPolicyStates(states);
    telemetry_.recordCycle(seconds);
    // After reloads and /metrics scrapes, whose garbage has been freed by now.
    releaseFreedMemory();
  }

 private:
  telemetry::Telemetry& telemetry_;
  StatusBridge* const status_;  // null without --kubernetes
  std::map<std::string, std::int32_t> lastDesired_;
  std::set<std::string> unknownAlgorithm_;
  std::map<std::string, std::string> lastError_;
};

// Says each reload's problems once: a reload that finds what the previous one
// found (the catch-up reload at start, an edit elsewhere in the directory)
// does not log it again.
class RepeatFilter {
 public:
  // True when `line` was not said by the previous round.
  bool fresh(const std::string& line) {
    current_.insert(line);
    return previous_.count(line) == 0;
  }
  void endRound() { previous_ = std::exchange(current_, {}); }

 private:
  std::set<std::string> previous_;
  std::set<std::string> current_;
};

// Splits the directory's set into what is served and what is refused. With
// Prometheus, a policy whose prometheusQuery does not expand (an unknown
// placeholder) is refused here, once, rather than failing every cycle.
void applyPolicySet(const std::shared_ptr<const std::vector<core::Policy>>& policies,
                    std::vector<server::InvalidPolicy> invalid, server::EvaluationLoop& loop,
                    const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said) {
  if (prometheus == nullptr) {
    said.endRound();
    loop.setPolicies(policies, std::move(invalid));
    return;
  }
  // The set is shared with its source; copy it only when one is refused.
  std::vector<core::Policy> accepted;
  bool refused = false;
  for (std::size_t i = 0; i < policies->size(); ++i) {
    const core::Policy& policy = (*policies)[i];
    const core::Status queries = prometheus->check(policy);
    if (queries.ok()) {
      if (refused) {
        accepted.push_back(policy);
      }
      continue;
    }
    if (!refused) {
      refused = true;
      accepted.assign(policies->begin(), policies->begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (said.fresh(policy.key() + ": " + queries.error().message)) {
      logEvent(LogLevel::kWarn, "policy problem", {{"policy", policy.key()}, {"error", queries.error().message}});
    }
    invalid.push_back({policy.metadata.namespace_, policy.metadata.name, queries.error().message});
  }
  said.endRound();
  if (refused) {
    loop.setPolicies(std::move(accepted), std::move(invalid));
  } else {
    loop.setPolicies(policies, std::move(invalid));
  }
}

void applyPolicies(const source::PolicySet& set, server::EvaluationLoop& loop,
                   const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said) {
  std::vector<server::InvalidPolicy> invalid;
  for (const auto& problem : set.problems) {
    if (said.fresh(problem.toString())) {
      logEvent(LogLevel::kWarn, "policy problem",
               {{"file", problem.file.string()}, {"policy", problem.policy}, {"error", problem.message}});
    }
    const std::size_t slash = problem.policy.find('/');
    if (slash != std::string::npos) {
      invalid.push_back({problem.policy.substr(0, slash), problem.policy.substr(slash + 1), problem.message});
    }
  }
  applyPolicySet(set.policies, std::move(invalid), loop, prometheus, said);
}

// The same for the Kubernetes API's set: each refused policy said once.
void applyWatchedPolicies(kube::PolicySnapshot snapshot, server::EvaluationLoop& loop,
                          const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said) {
  for (const auto& refused : snapshot.invalid) {
    const std::string key = refused.ns + "/" + refused.name;
    if (said.fresh(key + ": " + refused.message)) {
      logEvent(LogLevel::kWarn, "policy problem", {{"policy", key}, {"error", refused.message}});
    }
  }
  applyPolicySet(snapshot.policies, std::move(snapshot.invalid), loop, prometheus, said);
}

// The watcher's and the elector's words, as serve's log lines.
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

bool isHeaderNameChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void reportPlugins(const std::vector<plugin::PluginLoadReport>& reports, telemetry::Telemetry& telemetry,
                   RepeatFilter& said) {
  std::size_t loaded = 0;
  std::size_t failed = 0;
  for (const auto& report : reports) {
    if (report.ok()) {
      ++loaded;
      // The algorithm object is new for each version loaded, so a replaced
      // file is said again.
      const std::string name(report.algorithm->name());
      if (said.fresh(report.file.string() + "\n" + name + "\n" +
                     std::to_string(reinterpret_cast<std::uintptr_t>(report.algorithm.get())))) {
        logEvent(LogLevel::kInfo, "plugin loaded", {{"file", report.file.string()}, {"algorithm", name}});
      }
    } else {
      ++failed;
      if (said.fresh(report.file.string() + "\n" + report.error)) {
        logEvent(LogLevel::kError, "plugin failed", {{"file", report.file.string()}, {"error", report.error}});
      }
    }
  }
  said.endRound();
  telemetry.setPlugins(loaded, failed);
}

core::Status checkReadable(const std::string& path, const char* flag) {
  std::ifstream stream(path);
  if (!stream) {
    return core::Error{std::string(flag) + ": cannot read " + path};
  }
  return core::Ok{};
}

core::Result<std::shared_ptr<grpc::ServerCredentials>> serverCredentials(const ServeOptions& options) {
  if (options.tlsCertFile.empty() && options.tlsKeyFile.empty()) {
    if (!options.tlsClientCaFile.empty()) {
      return core::Error{"--tls-client-ca-file needs --tls-cert-file and --tls-key-file"};
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tlsCertFile.empty() || options.tlsKeyFile.empty()) {
    return core::Error{"--tls-cert-file and --tls-key-file go together"};
  }
  for (const auto& [path, flag] : {std::pair{options.tlsCertFile, "--tls-cert-file"},
                                   std::pair{options.tlsKeyFile, "--tls-key-file"},
                                   std::pair{options.tlsClientCaFile, "--tls-client-ca-file"}}) {
    if (!path.empty()) {
      if (auto status = checkReadable(path, flag); !status.ok()) {
        return status.error();
      }
    }
  }
  // Re-read every second: cert-manager replaces the files in place, and the
  // next handshake uses the new certificate without a restart.
  constexpr unsigned kRefreshSeconds = 1;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.tlsKeyFile, options.tlsCertFile, options.tlsClientCaFile, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.tlsClientCaFile.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

// The plaintext health port serves grpc.health.v1 only. gRPC will not start a
// server without a service of its own ("at least one of the completion queues
// must be frequently polled"), so this answers every other method
// UNIMPLEMENTED: the scaler API never leaks onto the plaintext port.
class HealthOnlyService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* /*context*/) override {
    // gRPC's callback API owns reactors through `new`/OnDone(): deleting itself there is the contract.
    class Refusal final : public grpc::ServerGenericBidiReactor {
     public:
      Refusal() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "only grpc.health.v1 is served on this port")); }
      void OnDone() override { delete this; }
    };
    return new Refusal;
  }
};

std::string hostOf(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace

core::Result<std::pair<std::string, std::string>> parseHeaderFlag(std::string_view text) {
  // Built with += : GCC 12 warns falsely (-Wrestrict) on "literal" + string chains.
  auto error = [](std::string_view subject, std::string_view problem) {
    std::string message = "--prometheus-header ";
    message += subject;
    message += ": ";
    message += problem;
    return core::Error{std::move(message)};
  };
  // A malformed flag is not echoed: it may well be "Authorization: Bearer <token>".
  const std::size_t equals = text.find('=');
  if (equals == std::string_view::npos) {
    return core::Error{"--prometheus-header: expected NAME=VALUE, e.g. X-Scope-OrgID=team-a"};
  }
  const std::string_view name = text.substr(0, equals);
  const std::string_view value = text.substr(equals + 1);
  if (name.empty() || !std::all_of(name.begin(), name.end(), isHeaderNameChar)) {
    return core::Error{"--prometheus-header: NAME must be an HTTP header name: letters, digits and !#$%&'*+-.^_`|~"};
  }
  if (value.empty()) {
    return error(name, "the value is empty");
  }
  // A line break would start another header (or end them all).
  const bool control = std::any_of(value.begin(), value.end(), [](char c) {
    return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f;
  });
  if (control) {
    return error(name, "the value holds a control character");
  }
  return std::pair{std::string(name), std::string(value)};
}

int runServe(const ServeOptions& options) {
  // Signals are taken by sigwait() on this thread only: block them before any
  // thread (gRPC, civetweb, the loop, the watcher) exists, so all inherit it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (auto logging = setUpLogging(options.logLevel, options.logFormat); !logging.ok()) {
    std::fprintf(stderr, "error: %s\n", logging.error().message.c_str());
    return kExitUsage;
  }
  auto fail = [](int code, const std::string& message) {
    logEvent(LogLevel::kError, message);
    return code;
  };
  if (options.kubernetes && !options.policyDir.empty()) {
    return fail(kExitUsage, "--kubernetes and --policy-dir are exclusive: policies come from one source");
  }
  if (!options.kubernetes && options.policyDir.empty()) {
    return fail(kExitUsage, "serve needs --policy-dir or --kubernetes");
  }
  const bool fromPrometheus = !options.prometheusUrl.empty();
  if (fromPrometheus && !options.metricsFile.empty()) {
    return fail(kExitUsage, "--prometheus-url and --metrics-file are exclusive: metrics come from one source");
  }
  if (!fromPrometheus && options.metricsFile.empty()) {
    return fail(kExitUsage, "serve needs --metrics-file or --prometheus-url");
  }
  if (fromPrometheus && options.prometheusTimeout.count() <= 0) {
    return fail(kExitUsage, "--prometheus-timeout must be greater than 0");
  }
  if (options.kubernetes && !options.replicasQuery.empty()) {
    return fail(kExitUsage, "--replicas-query has no use with --kubernetes: the replicas come from /scale");
  }
  if (fromPrometheus && !options.replicasQuery.empty()) {
    if (auto replicas = source::prometheus::checkReplicasQuery(options.replicasQuery); !replicas.ok()) {
      return fail(kExitUsage, replicas.error().withContext("--replicas-query").message);
    }
  }
  if (options.evaluationInterval.count() <= 0) {
    return fail(kExitUsage, "--evaluation-interval must be greater than 0");
  }
  const std::chrono::milliseconds staleAfter = options.metricsStaleAfter.value_or(3 * options.evaluationInterval);
  auto credentials = serverCredentials(options);
  if (!credentials.ok()) {
    return fail(kExitUsage, credentials.error().message);
  }

  telemetry::Telemetry telemetry;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  RepeatFilter pluginsSaid;
  RepeatFilter problemsSaid;
  std::unique_ptr<plugin::PluginReloader> plugins;
  std::filesystem::path pluginScratch;
  // The loaded copies are unlinked at once; the directory goes when serve does.
  struct ScratchRemover {
    std::filesystem::path& path;
    ~ScratchRemover() {
      std::error_code ignored;
      if (!path.empty()) {
        std::filesystem::remove_all(path, ignored);
      }
    }
  } scratchRemover{pluginScratch};
  if (options.pluginDir) {
    pluginScratch = std::filesystem::temp_directory_path() /
                    ("kubeai-scaler-plugins-" + std::to_string(::getpid()));
    const auto& scratch = pluginScratch;
    plugins = std::make_unique<plugin::PluginReloader>(*registry, *options.pluginDir, scratch);
    auto reports = plugins->reload();
    if (!reports.ok()) {
      return fail(kExitUsage, reports.error().message);
    }
    reportPlugins(reports.value(), telemetry, pluginsSaid);
  }

  // Policies from a directory, or from the Kubernetes API (read once serving).
  std::optional<source::PolicyDirectory> policies;
  core::Result<source::PolicySet> initialPolicies = source::PolicySet{};
  std::unique_ptr<kube::KubeClient> kubeClient;
  kube::KubeConfig kubeConfig;
  if (options.kubernetes) {
    auto config = kube::loadKubeConfig(options.kubeconfig);
    if (!config.ok()) {
      return fail(kExitUsage, config.error().withContext("Kubernetes configuration").message);
    }
    kubeConfig = std::move(config).value();
    // Where the API is, never how it is reached (tokens, keys).
    logEvent(LogLevel::kInfo, "Kubernetes API",
             {{"server", kubeConfig.server},
              {"source", kubeConfig.source},
              {"namespace", options.kubeNamespace.empty() ? "all" : options.kubeNamespace}});
    auto client = kube::KubeClient::create(kubeConfig);
    if (!client.ok()) {
      return fail(kExitUsage, client.error().withContext("Kubernetes client").message);
    }
    kubeClient = std::move(client).value();
  } else {
    policies.emplace(options.policyDir);
    initialPolicies = policies->reload();
    if (!initialPolicies.ok()) {
      return fail(kExitUsage, initialPolicies.error().message);
    }
  }
  // One metric source: the file, or Prometheus through the libcurl client.
  std::unique_ptr<source::FileMetricSource> fileMetrics;
  std::unique_ptr<source::prometheus::PrometheusClient> prometheusClient;
  std::unique_ptr<source::prometheus::PrometheusMetricSource> prometheusMetrics;
  source::MetricSource* metrics = nullptr;
  if (fromPrometheus) {
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
      return fail(kExitUsage, client.error().message);
    }
    prometheusClient = std::move(client).value();
    source::prometheus::PrometheusSourceOptions sourceOptions;
    sourceOptions.queries.replicasQuery = options.replicasQuery;
    // With --kubernetes the replicas come from /scale (ScaleReplicaSource).
    sourceOptions.queries.queryReplicas = !options.kubernetes;
    sourceOptions.onWarning = [](const std::string& query, const std::string& warning) {
      logEvent(LogLevel::kWarn, "Prometheus warning", {{"warning", warning}, {"query", query}});
    };
    prometheusMetrics =
        std::make_unique<source::prometheus::PrometheusMetricSource>(*prometheusClient, std::move(sourceOptions));
    metrics = prometheusMetrics.get();
    logPrometheus(options);
  } else {
    fileMetrics = std::make_unique<source::FileMetricSource>(options.metricsFile);
    if (auto loaded = fileMetrics->reload(); !loaded.ok()) {
      return fail(kExitUsage, loaded.error().message);
    }
    metrics = fileMetrics.get();
  }

  // With --kubernetes: replicas from each target's /scale, over the metrics;
  // status and Events written by the holder of the Lease.
  std::unique_ptr<kube::ScaleReplicaSource> scaleReplicas;
  std::unique_ptr<kube::LeaderElector> elector;
  std::unique_ptr<kube::StatusWriter> statusWriter;
  std::unique_ptr<StatusBridge> statusBridge;
  if (kubeClient) {
    scaleReplicas = std::make_unique<kube::ScaleReplicaSource>(*metrics, *kubeClient);
    metrics = scaleReplicas.get();
    if (options.leaderElect) {
      kube::LeaderElectionOptions lease;
      lease.leaseName = options.leaseName;
      lease.leaseNamespace = options.leaseNamespace;
      if (lease.leaseNamespace.empty()) {
        const char* podNamespace = std::getenv("POD_NAMESPACE");
        lease.leaseNamespace = podNamespace != nullptr && *podNamespace != '\0' ? podNamespace : kubeConfig.ns;
      }
      lease.onError = [](const std::string& error) {
        logEvent(LogLevel::kWarn, "leader election", {{"error", error}});
      };
      logEvent(LogLevel::kInfo, "leader election", {{"lease", lease.leaseNamespace + "/" + lease.leaseName}});
      elector = std::make_unique<kube::LeaderElector>(*kubeClient, std::move(lease), [](bool leading) {
        logEvent(LogLevel::kInfo, leading ? "leading: writing status and Events" : "not leading: status writes stopped");
      });
    }
    kube::StatusWriterOptions writerOptions;
    writerOptions.availableAlgorithms = registry->names();
    writerOptions.maxRequestsPerSecond = options.statusQps;
    writerOptions.maxBurst = options.statusBurst;
    writerOptions.onWriteError = [](const std::string& policy, const std::string& error) {
      logEvent(LogLevel::kWarn, "status write", {{"policy", policy}, {"error", error}});
    };
    kube::LeaderElector* leader = elector.get();
    statusWriter = std::make_unique<kube::StatusWriter>(*kubeClient, std::move(writerOptions), [leader] {
      return leader == nullptr || leader->isLeader();
    });
    statusBridge = std::make_unique<StatusBridge>(*statusWriter);
  }

  server::DecisionStore store;
  ServeListener listener(telemetry, statusBridge.get());
  server::EvaluationLoop loop(store, *registry, *metrics, {options.evaluationInterval, staleAfter},
                              server::EvaluationLoop::systemClock(), &listener);
  if (!options.kubernetes) {
    applyPolicies(initialPolicies.value(), loop, prometheusMetrics.get(), problemsSaid);
    loop.runOnce();  // decisions exist before the first RPC can arrive
    logEvent(LogLevel::kInfo, "policies loaded",
             {{"policies", std::to_string(initialPolicies.value().policies->size())},
              {"problems", std::to_string(initialPolicies.value().problems.size())},
              {"interval", formatMs(options.evaluationInterval)},
              {"staleAfter", formatMs(staleAfter)}});
  }

  server::ExternalScalerService service(store, [&telemetry](std::string_view method, grpc::StatusCode code,
                                                            double seconds) {
    telemetry.recordRpc(method, static_cast<int>(code), seconds);
  });
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int grpcPort = 0;
  builder.AddListeningPort(options.grpcAddress, credentials.value(), &grpcPort);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> grpcServer = builder.BuildAndStart();
  if (!grpcServer || grpcPort == 0) {
    return fail(kExitFailure, "cannot listen for gRPC on " + options.grpcAddress);
  }
  // From the API, the policies arrive after the first list: not serving until then.
  grpcServer->GetHealthCheckService()->SetServingStatus(!options.kubernetes);
  logEvent(LogLevel::kInfo, "serving gRPC",
           {{"address", hostOf(options.grpcAddress) + ":" + std::to_string(grpcPort)},
            {"tls", options.tlsCertFile.empty() ? "off" : (options.tlsClientCaFile.empty() ? "on" : "mutual")}});

  HealthOnlyService healthOnly;
  std::unique_ptr<grpc::Server> healthServer;
  if (!options.healthAddress.empty()) {
    grpc::ServerBuilder healthBuilder;
    healthBuilder.RegisterCallbackGenericService(&healthOnly);
    int healthPort = 0;
    healthBuilder.AddListeningPort(options.healthAddress, grpc::InsecureServerCredentials(), &healthPort);
    healthServer = healthBuilder.BuildAndStart();
    if (!healthServer || healthPort == 0) {
      return fail(kExitFailure, "cannot listen for gRPC health on " + options.healthAddress);
    }
    healthServer->GetHealthCheckService()->SetServingStatus(!options.kubernetes);
    logEvent(LogLevel::kInfo, "serving gRPC health",
             {{"address", hostOf(options.healthAddress) + ":" + std::to_string(healthPort)}});
  }

  // The first list from the API is in (always so with --policy-dir).
  std::atomic<bool> listed{!options.kubernetes};
  std::unique_ptr<telemetry::HttpEndpoint> http;
  try {
    telemetry::HttpEndpoint::Options httpOptions;
    httpOptions.address = options.metricsAddress;
    httpOptions.collectables = telemetry.collectables();
    httpOptions.readiness = [&store, &listed] {
      if (!listed.load()) {
        return telemetry::ReadyReport{false, "policies not listed yet from the Kubernetes API\n"};
      }
      telemetry::ReadyReport report{true, "ok\n"};
      for (const auto& entry : store.all()) {
        if (entry->state != server::PolicyState::kReady) {
          report.body += entry->ns + "/" + entry->name + ": " + std::string(server::policyStateName(entry->state)) +
                         ": " + entry->message + "\n";
        }
      }
      return report;
    };
    http = std::make_unique<telemetry::HttpEndpoint>(std::move(httpOptions));
  } catch (const std::exception& e) {
    grpcServer->Shutdown();
    return fail(kExitFailure, e.what());
  }
  logEvent(LogLevel::kInfo, "serving HTTP", {{"address", http->address()}});

  // Each reload runs under one lock: on the watcher's thread, and once more
  // here after the watches exist, so that a change made while serve was
  // starting (after the first read, before the watch) is not missed.
  std::mutex reloadMutex;
  auto reloadPolicies = [&] {
    const std::lock_guard lock(reloadMutex);
    auto set = policies->reload();
    if (!set.ok()) {
      telemetry.recordReloadError("policy-dir");
      logEvent(LogLevel::kError, "policy directory", {{"error", set.error().message}});
      return;
    }
    if (!set.value().problems.empty()) {
      telemetry.recordReloadError("policy-dir");
    }
    applyPolicies(set.value(), loop, prometheusMetrics.get(), problemsSaid);
  };
  auto reloadMetrics = [&] {
    const std::lock_guard lock(reloadMutex);
    if (auto loaded = fileMetrics->reload(); !loaded.ok()) {
      telemetry.recordReloadError("metrics-file");
      logEvent(LogLevel::kError, "metrics file, keeping the last good one", {{"error", loaded.error().message}});
      return;
    }
    loop.trigger();
  };
  auto reloadPlugins = [&] {
    const std::lock_guard lock(reloadMutex);
    auto reports = plugins->reload();
    if (!reports.ok()) {
      telemetry.recordReloadError("plugin-dir");
      logEvent(LogLevel::kError, "plugin directory", {{"error", reports.error().message}});
      return;
    }
    reportPlugins(reports.value(), telemetry, pluginsSaid);
    if (statusWriter) {
      statusWriter->setAvailableAlgorithms(registry->names());
    }
    loop.trigger();
  };

  watch::FileWatcher::Options watchOptions;
  watchOptions.onError = [](std::string_view message) {
    logEvent(LogLevel::kError, "file watch", {{"error", std::string(message)}});
  };
  watch::FileWatcher watcher(watchOptions);
  if (policies) {
    watcher.watch(options.policyDir, reloadPolicies);
  }
  if (fileMetrics) {
    watcher.watch(options.metricsFile, reloadMetrics);
  }
  if (plugins) {
    watcher.watch(*options.pluginDir, reloadPlugins);
  }
  // Catch up with what changed between the first read and the watches.
  if (policies) {
    reloadPolicies();
  }
  if (fileMetrics) {
    reloadMetrics();
  }
  if (plugins) {
    reloadPlugins();
  }
  // The API's policies: each set applied as the directory's are; the first one
  // evaluated at once, then serve says it is ready.
  std::unique_ptr<kube::PolicyWatcher> policyWatcher;
  if (kubeClient) {
    if (elector) {
      elector->start();
    }
    statusWriter->start();
    kube::PolicyWatcherOptions policyWatchOptions;
    policyWatchOptions.ns = options.kubeNamespace;
    policyWatchOptions.log = logWatch;
    policyWatcher = std::make_unique<kube::PolicyWatcher>(
        *kubeClient, std::move(policyWatchOptions), [&](kube::PolicySnapshot snapshot) {
          const std::lock_guard lock(reloadMutex);
          const std::size_t count = snapshot.policies->size();
          const std::size_t refused = snapshot.invalid.size();
          statusBridge->setPolicies(snapshot);
          applyWatchedPolicies(std::move(snapshot), loop, prometheusMetrics.get(), problemsSaid);
          if (!listed.load()) {
            loop.runOnce();  // decisions exist before serve says it is ready
            listed = true;
            grpcServer->GetHealthCheckService()->SetServingStatus(true);
            if (healthServer) {
              healthServer->GetHealthCheckService()->SetServingStatus(true);
            }
            logEvent(LogLevel::kInfo, "policies loaded",
                     {{"policies", std::to_string(count)},
                      {"problems", std::to_string(refused)},
                      {"interval", formatMs(options.evaluationInterval)},
                      {"staleAfter", formatMs(staleAfter)}});
          }
        });
    policyWatcher->start();
  }
  loop.start();

  int received = 0;
  sigwait(&signals, &received);
  logEvent(LogLevel::kInfo, "shutting down", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  if (policyWatcher) {
    policyWatcher->stop();  // no more policy sets (nor health changes) from here
  }
  grpcServer->GetHealthCheckService()->SetServingStatus(false);
  // KEDA keeps its streams open forever: end them (UNAVAILABLE, so KEDA
  // reconnects, to another replica) instead of waiting out the deadline,
  // which now only bounds unary calls still running.
  service.finishStreams();
  grpcServer->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpcServer->Wait();
  if (healthServer) {
    healthServer->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    healthServer->Wait();
  }
  loop.stop();
  if (statusWriter) {
    statusWriter->stop();
  }
  if (elector) {
    elector->stop();  // releases the Lease: another replica takes over at once
  }
  return kExitOk;
}

}  // namespace kubeai::cli

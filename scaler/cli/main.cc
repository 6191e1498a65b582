// Wiring only: parse the command line and hand each command its options.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "cli/duration.h"
#include "cli/evaluate_command.h"
#include "cli/exit_codes.h"
#include "cli/plugins_command.h"
#include "cli/query_command.h"
#include "cli/serve_command.h"
#include "cli/simulate_command.h"
#include "cli/validate_command.h"
#include "plugin_host/host_process.h"

int main(int argc, char** argv) {
  using namespace kubeai::cli;  // NOLINT(google-build-using-namespace): main.cc only

  CLI::App app{"kubeai-scaler: a KEDA external scaler for AI inference workloads"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kubeai-scaler " KUBEAI_SCALER_VERSION);

  EvaluateOptions evaluate;
  std::string pluginDir;
  auto* evaluateCommand = app.add_subcommand(
      "evaluate", "Decide once for one policy, without history; or once per row of --history, as serve would");
  evaluateCommand->add_option("--policy", evaluate.policyFile, "Policy file (YAML or JSON)")->required();
  evaluateCommand->add_option("--name", evaluate.name, "Policy NAME or NAMESPACE/NAME when the file holds several");
  std::int32_t currentReplicas = 0;
  auto* currentReplicasOption =
      evaluateCommand->add_option("--current-replicas", currentReplicas, "Current replicas (required without --history)");
  std::int32_t readyReplicas = 0;
  auto* readyReplicasOption = evaluateCommand->add_option(
      "--ready-replicas", readyReplicas, "Ready replicas (status.readyReplicas; not given = unknown)");
  evaluateCommand->add_option("--metric", evaluate.metrics,
                              "KEY=VALUE, KEY one of latencyP99Ms, latencyP95Ms, gpuUtilizationPercent, "
                              "requestQueueDepth or a custom metric's name (repeatable; a metric not given has no data)");
  std::string historyFile;
  auto* historyOption = evaluateCommand->add_option(
      "--history", historyFile,
      "YAML or JSON list of observations in time order ({time, currentReplicas, readyReplicas, metric keys as "
      "--metric's}): one decision per row, history carried from row to row as serve does; the last row's is "
      "what serve would publish. Not with --current-replicas, --ready-replicas, --metric");
  std::string evaluateReactionTime = "30s";
  evaluateCommand->add_option("--reaction-time", evaluateReactionTime,
                              "With --history: how long a published change counts as current, as serve's")
      ->capture_default_str()
      ->needs(historyOption);
  evaluateCommand->add_flag("--ignore-status", evaluate.ignoreStatus,
                            "Start from first sight (--history) or no history, not from the status in the policy file "
                            "(kubectl get -o yaml), which otherwise seeds the first decision as serve's after a restart");
  evaluateCommand->add_option("--plugin-dir", pluginDir, "Directory of algorithm plugins (*.so)");
  evaluateCommand->add_option("--output", evaluate.output, "text or json")->check(CLI::IsMember({"text", "json"}));

  ValidateOptions validate;
  std::string validatePluginDir;
  auto* validateCommand = app.add_subcommand("validate", "Check policy files; one line per policy");
  validateCommand->add_option("files", validate.paths, "Policy files or directories")->required();
  validateCommand->add_option("--plugin-dir", validatePluginDir, "Check algorithm names against these plugins");
  validateCommand->add_option("--policy-selector", validate.policySelector,
                              "Say per policy whether serve --policy-selector (kubectl's -l syntax) selects it");
  validateCommand->add_option("--shard-name", validate.shardName, "The shard's name, as serve's --shard-name");
  validateCommand->add_option("--namespace", validate.kubeNamespace,
                              "serve's --namespace list (NS[,NS...]): a policy of another namespace is another shard's");

  PluginsOptions plugins;
  auto* pluginsCommand = app.add_subcommand("plugins", "Load each plugin in a directory and report it");
  pluginsCommand->add_option("--plugin-dir", plugins.pluginDir, "Directory of algorithm plugins (*.so)")->required();
  pluginsCommand->add_option("--output", plugins.output, "text or json")->check(CLI::IsMember({"text", "json"}));

  SimulateCommandOptions simulateOptions;
  std::string simulatePluginDir;
  std::string simulateReport;
  std::string simulatePluginTimeout = "1s";
  auto* simulateCommand =
      app.add_subcommand("simulate", "Replay a workload's demand through policies on a simulated clock, closed loop");
  simulateCommand->add_option("--policy", simulateOptions.policyFiles, "Policy file (repeatable; every policy in it runs)")
      ->required();
  simulateCommand->add_option("--workload", simulateOptions.workloadFile, "SimulationWorkload file (YAML)")->required();
  simulateCommand->add_option("--plugin-dir", simulatePluginDir, "Directory of algorithm plugins (*.so)");
  simulateCommand->add_option("--output", simulateOptions.output, "text (summary table), json or csv (timeline)")
      ->check(CLI::IsMember({"text", "json", "csv"}))
      ->capture_default_str();
  simulateCommand->add_option("--report", simulateReport, "Write a self-contained HTML report to this file");
  simulateCommand->add_flag("--summary-only", simulateOptions.summaryOnly,
                            "Keep no timeline (memory independent of the trace's length)");
  simulateCommand->add_option("--plugin-isolation", simulateOptions.pluginIsolation, "process or in-process, as serve's")
      ->check(CLI::IsMember({"process", "in-process"}))
      ->capture_default_str();
  simulateCommand->add_option("--plugin-timeout", simulatePluginTimeout, "Deadline of each plugin call")
      ->capture_default_str();
  std::string simulateReactionTime = "30s";
  simulateCommand->add_option("--reaction-time", simulateReactionTime,
                              "How long our own published change counts as current, as serve's")
      ->capture_default_str();
  // spec.demand.prometheus's server: serve's --prometheus-* flags, parsed the same way.
  std::string simulatePrometheusTimeout = "30s";
  std::vector<std::string> simulatePrometheusHeaders;
  auto& simulatePrometheus = simulateOptions.prometheus;
  auto* simulatePrometheusUrl = simulateCommand->add_option(
      "--prometheus-url", simulatePrometheus.url,
      "Read spec.demand.prometheus from this Prometheus-compatible API (http[s]://host:port[/prefix])");
  simulateCommand->add_option("--prometheus-timeout", simulatePrometheusTimeout,
                              "Deadline of each range query (a long range takes a while)")
      ->capture_default_str()
      ->needs(simulatePrometheusUrl);
  simulateCommand->add_option("--prometheus-bearer-token-file", simulatePrometheus.bearerTokenFile,
                              "Bearer token for Prometheus")
      ->needs(simulatePrometheusUrl);
  simulateCommand->add_option("--prometheus-basic-auth-user", simulatePrometheus.basicAuthUser,
                              "Basic auth user for Prometheus")
      ->needs(simulatePrometheusUrl);
  simulateCommand->add_option("--prometheus-basic-auth-password-file", simulatePrometheus.basicAuthPasswordFile,
                              "Basic auth password for Prometheus")
      ->needs(simulatePrometheusUrl);
  simulateCommand->add_option("--prometheus-ca-file", simulatePrometheus.caFile,
                              "CA bundle to verify Prometheus' certificate")
      ->needs(simulatePrometheusUrl);
  simulateCommand->add_flag("--prometheus-insecure-skip-verify", simulatePrometheus.insecureSkipVerify,
                            "Do not verify Prometheus' TLS certificate")
      ->needs(simulatePrometheusUrl);
  simulateCommand->add_option("--prometheus-header", simulatePrometheusHeaders,
                              "NAME=VALUE sent with every Prometheus query, e.g. X-Scope-OrgID=team-a (repeatable)")
      ->needs(simulatePrometheusUrl);

  ServeOptions serve;
  std::string servePluginDir;
  std::string interval = "15s";
  std::string staleAfter;
  std::string readDeadline;
  std::string reactionTime = "30s";
  std::string pluginTimeout = "1s";
  std::string prometheusTimeout = "2s";
  std::string grpcKeepaliveTime = "60s";
  std::string grpcKeepaliveTimeout = "20s";
  std::vector<std::string> prometheusHeaders;
  std::string kubeconfig;
  auto* serveCommand = app.add_subcommand("serve", "Run the KEDA external scaler");
  serveCommand->add_option("--grpc-address", serve.grpcAddress,
                           "KEDA's ExternalScaler gRPC address ([::]:PORT is IPv6 and IPv4)")
      ->capture_default_str();
  serveCommand->add_option("--metrics-address", serve.metricsAddress,
                           "HTTP address of /metrics, /healthz, /readyz: [::]:PORT is IPv6 and IPv4, [::1]:PORT "
                           "IPv6 only, 0.0.0.0:PORT IPv4 only")
      ->capture_default_str();
  serveCommand->add_option("--grpc-keepalive-time", grpcKeepaliveTime,
                           "Ping a KEDA connection after this long without traffic (below cloud load balancers' "
                           "idle timeouts, ~4 min and up)")
      ->capture_default_str();
  serveCommand->add_option("--grpc-keepalive-timeout", grpcKeepaliveTimeout,
                           "Close a connection whose ping is not answered in this long, and end its streams")
      ->capture_default_str();
  serveCommand->add_option("--grpc-max-streams-per-connection", serve.grpcMaxStreamsPerConnection,
                           "Concurrent streams on one connection; KEDA puts every StreamIsActive of every "
                           "ScaledObject using this address on one connection")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serveCommand->add_option("--health-address", serve.healthAddress,
                           "Plaintext grpc.health.v1 address for probes when TLS is on");
  auto* policyDir = serveCommand->add_option("--policy-dir", serve.policyDir, "Directory of policy manifests (watched)");
  auto* kubernetes = serveCommand->add_flag(
      "--kubernetes", serve.kubernetes,
      "Read policies from the Kubernetes API (list + watch), replicas from each target; write status and Events");
  kubernetes->excludes(policyDir);
  serveCommand->add_option("--kubeconfig", kubeconfig,
                           "kubeconfig file (default $KUBECONFIG, then ~/.kube/config, then in-cluster)")
      ->needs(kubernetes);
  serveCommand->add_option("--namespace", serve.kubeNamespace,
                           "Watch policies in these namespaces only, NS[,NS...]: one list and watch each, so a Role "
                           "per namespace suffices (default all)")
      ->needs(kubernetes);
  serveCommand->add_flag("--leader-elect", serve.leaderElect,
                         "Write status and Events only while holding a Lease (default; --leader-elect=false: always)")
      ->needs(kubernetes);
  serveCommand->add_option("--lease-name", serve.leaseName,
                           "Name of the coordination.k8s.io Lease (default kubeai-scaler; kubeai-scaler-SHARD with "
                           "--shard-name; else one of its own per --policy-selector and --namespace)")
      ->needs(kubernetes);
  serveCommand->add_option("--policy-selector", serve.policySelector,
                           "Serve only the policies with these labels (kubectl's -l syntax: a=b, a!=b, 'a in (x,y)', "
                           "a, !a; comma = and); the API server selects, so each shard holds its own")
      ->needs(kubernetes);
  serveCommand->add_option("--shard-name", serve.shardName,
                           "This shard's name, written in each policy's status.shard and in the default Lease name "
                           "(default: the --policy-selector's text, then ' ns=A,B' with --namespace, or all)")
      ->needs(kubernetes);
  serveCommand->add_option("--lease-namespace", serve.leaseNamespace,
                           "Namespace of the Lease (default $POD_NAMESPACE, else the kubeconfig's namespace)")
      ->needs(kubernetes);
  serveCommand->add_option("--status-qps", serve.statusQps,
                           "Status writes and Events per second, on average (0: unlimited); a new leader "
                           "rewrites every status once at this rate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(kubernetes);
  serveCommand->add_option("--status-burst", serve.statusBurst, "Status writes and Events sent at once after a quiet spell")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(kubernetes);
  serveCommand->add_option("--kube-qps", serve.kubeQps,
                           "All Kubernetes API requests per second, on average (client-go's QPS; 0: unlimited); "
                           "50 as kube-scheduler, which also watches a whole cluster")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(kubernetes);
  serveCommand->add_option("--kube-burst", serve.kubeBurst,
                           "Kubernetes API requests sent at once after a quiet spell (client-go's Burst)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(kubernetes);
  serveCommand->add_option("--metrics-file", serve.metricsFile, "YAML file of metric values per policy (watched)");
  auto* prometheusUrl = serveCommand->add_option(
      "--prometheus-url", serve.prometheusUrl,
      "Read metrics from this Prometheus-compatible API (http[s]://host:port[/prefix]) instead of --metrics-file");
  serveCommand->add_option("--prometheus-timeout", prometheusTimeout, "Deadline of each Prometheus query")
      ->capture_default_str()
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-bearer-token-file", serve.prometheusBearerTokenFile,
                           "Bearer token for Prometheus (re-read when it changes)")
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-basic-auth-user", serve.prometheusBasicAuthUser,
                           "Basic auth user for Prometheus")
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-basic-auth-password-file", serve.prometheusBasicAuthPasswordFile,
                           "Basic auth password for Prometheus (re-read when it changes)")
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-ca-file", serve.prometheusCaFile, "CA bundle to verify Prometheus' certificate")
      ->needs(prometheusUrl);
  serveCommand->add_flag("--prometheus-insecure-skip-verify", serve.prometheusInsecureSkipVerify,
                         "Do not verify Prometheus' TLS certificate")
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-header", prometheusHeaders,
                           "NAME=VALUE sent with every Prometheus query, e.g. X-Scope-OrgID=team-a (repeatable)")
      ->needs(prometheusUrl);
  serveCommand->add_option("--replicas-query", serve.replicasQuery,
                           "PromQL for a target's current replicas (default: kube-state-metrics' "
                           "kube_deployment_spec_replicas / kube_statefulset_replicas)")
      ->needs(prometheusUrl);
  serveCommand->add_option("--plugin-dir", servePluginDir, "Directory of algorithm plugins (*.so, watched)");
  serveCommand->add_option("--plugin-isolation", serve.pluginIsolation,
                           "process: each plugin file in its own plugin-host process (a crash fails its calls "
                           "only); in-process: loaded into serve (a crash takes the server down)")
      ->check(CLI::IsMember({"process", "in-process"}))
      ->capture_default_str();
  serveCommand->add_option("--plugin-timeout", pluginTimeout,
                           "Deadline of every call to an isolated plugin; a call past it kills its host")
      ->capture_default_str();
  serveCommand->add_option("--plugin-failures-before-unavailable", serve.pluginFailuresBeforeUnavailable,
                           "Failed calls in a row after which an isolated plugin's policies answer UNAVAILABLE")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serveCommand->add_option("--evaluation-interval", interval, "How often every policy is evaluated")
      ->capture_default_str();
  serveCommand->add_option("--metrics-stale-after", staleAfter,
                           "After this long without metrics a policy answers UNAVAILABLE (default 3 x interval)");
  serveCommand->add_option("--metrics-read-deadline", readDeadline,
                           "A metric read not back by then fails for its policies; the loop goes on "
                           "(default 2 x interval, at most --metrics-stale-after)");
  serveCommand->add_option("--reaction-time", reactionTime,
                           "How long a published change counts as current while the workload has not reached it "
                           "(two HPA sync periods)")
      ->capture_default_str();
  serveCommand->add_option("--tls-cert-file", serve.tlsCertFile, "Server certificate (PEM; reloaded when it changes)");
  serveCommand->add_option("--tls-key-file", serve.tlsKeyFile, "Server private key (PEM)");
  serveCommand->add_option("--tls-client-ca-file", serve.tlsClientCaFile,
                           "CA for client certificates: mutual TLS, a client certificate is required");
  serveCommand->add_option("--log-level", serve.logLevel, "debug, info, warn or error")->capture_default_str();
  serveCommand->add_option("--log-format", serve.logFormat, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  serveCommand->add_flag("--allow-cross-namespace-policies", serve.allowCrossNamespacePolicies,
                         "Let a ScaledObject use a policy of another namespace (scalerMetadata.policyNamespace)");
  serveCommand->add_option("--custom-queries", serve.customQueries,
                           "allow, or deny: a policy with a prometheusQuery of its own is refused (the engine "
                           "presets and default queries, scoped by the server, stay)")
      ->check(CLI::IsMember({"allow", "deny"}))
      ->capture_default_str();
  serveCommand->add_flag("--prometheus-tenant-from-namespace", serve.prometheusTenantFromNamespace,
                         "Send each policy's queries with X-Scope-OrgID: <its namespace> (Mimir, Cortex); "
                         "the replicas queries with none")
      ->needs(prometheusUrl);

  QueryOptions query;
  std::string queryTimeout = "3s";
  auto* queryCommand = app.add_subcommand("query", "Call what KEDA calls (GetMetricSpec, GetMetrics, IsActive)");
  queryCommand->add_option("--address", query.address, "The server's gRPC address, HOST:PORT")->required();
  queryCommand->add_option("--policy", query.policy, "Policy name (the trigger's policyName)")->required();
  queryCommand->add_option("--namespace", query.ns, "Policy namespace (the trigger's policyNamespace)");
  queryCommand->add_option("--output", query.output, "text or json")->check(CLI::IsMember({"text", "json"}));
  queryCommand->add_option("--timeout", queryTimeout, "Deadline for the three calls (e.g. 3s)");
  queryCommand->add_option("--tls-ca-file", query.tlsCaFile, "CA bundle: use TLS and verify the server with it");
  queryCommand->add_option("--tls-cert-file", query.tlsCertFile, "Client certificate (mTLS)");
  queryCommand->add_option("--tls-key-file", query.tlsKeyFile, "Client key (mTLS)");
  queryCommand->add_option("--tls-server-name", query.tlsServerName, "Name to verify in the server's certificate");

  // Hidden: what serve starts for each plugin file (DESIGN §5, isolation).
  kubeai::plugin::host::HostProcessArgs host;
  std::string hostFile;
  auto* hostCommand = app.add_subcommand("plugin-host", "")->group("");
  hostCommand->add_option("--socket-fd", host.socketFd)->required();
  hostCommand->add_option("--image-fd", host.imageFd)->required();
  hostCommand->add_option("--parent-pid", host.parentPid)->required();
  hostCommand->add_option("--file", hostFile)->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    (void)app.exit(e);
    return kExitUsage;
  }

  if (*hostCommand) {
    host.file = hostFile;
    return kubeai::plugin::host::runPluginHost(host);
  }
  if (*evaluateCommand) {
    if (!pluginDir.empty()) {
      evaluate.pluginDir = pluginDir;
    }
    if (currentReplicasOption->count() > 0) {
      evaluate.currentReplicas = currentReplicas;
    }
    if (readyReplicasOption->count() > 0) {
      evaluate.readyReplicas = readyReplicas;
    }
    if (historyOption->count() > 0) {
      evaluate.historyFile = historyFile;
    }
    auto reaction = parseDuration(evaluateReactionTime);
    if (!reaction.ok()) {
      std::cerr << "error: --reaction-time: " << reaction.error().message << "\n";
      return kExitUsage;
    }
    evaluate.reactionTime = reaction.value();
    return runEvaluate(evaluate, std::cout, std::cerr);
  }
  if (*simulateCommand) {
    if (!simulatePluginDir.empty()) {
      simulateOptions.pluginDir = simulatePluginDir;
    }
    if (!simulateReport.empty()) {
      simulateOptions.report = simulateReport;
    }
    auto timeout = parseDuration(simulatePluginTimeout);
    if (!timeout.ok()) {
      std::cerr << "error: --plugin-timeout: " << timeout.error().message << "\n";
      return kExitUsage;
    }
    simulateOptions.pluginTimeout = timeout.value();
    auto reaction = parseDuration(simulateReactionTime);
    if (!reaction.ok()) {
      std::cerr << "error: --reaction-time: " << reaction.error().message << "\n";
      return kExitUsage;
    }
    simulateOptions.reactionTime = reaction.value();
    auto rangeTimeout = parseDuration(simulatePrometheusTimeout);
    if (!rangeTimeout.ok()) {
      std::cerr << "error: --prometheus-timeout: " << rangeTimeout.error().message << "\n";
      return kExitUsage;
    }
    simulatePrometheus.timeout = rangeTimeout.value();
    for (const std::string& header : simulatePrometheusHeaders) {
      auto parsed = parseHeaderFlag(header);
      if (!parsed.ok()) {
        std::cerr << "error: " << parsed.error().message << "\n";
        return kExitUsage;
      }
      simulatePrometheus.headers.push_back(std::move(parsed).value());
    }
    return runSimulate(simulateOptions, std::cout, std::cerr);
  }
  if (*validateCommand) {
    if (!validatePluginDir.empty()) {
      validate.pluginDir = validatePluginDir;
    }
    return runValidate(validate, std::cout, std::cerr);
  }
  if (*pluginsCommand) {
    return runPlugins(plugins, std::cout, std::cerr);
  }
  if (*serveCommand) {
    // Every duration flag the same way: a bad one is said with its name.
    bool durationsOk = true;
    auto duration = [&](const char* flag, const std::string& text) {
      auto parsed = parseDuration(text);
      if (!parsed.ok()) {
        std::cerr << "error: " << flag << ": " << parsed.error().message << "\n";
        durationsOk = false;
        return std::chrono::milliseconds{0};
      }
      return parsed.value();
    };
    serve.evaluationInterval = duration("--evaluation-interval", interval);
    if (!staleAfter.empty()) {
      serve.metricsStaleAfter = duration("--metrics-stale-after", staleAfter);
    }
    serve.reactionTime = duration("--reaction-time", reactionTime);
    serve.pluginTimeout = duration("--plugin-timeout", pluginTimeout);
    if (!readDeadline.empty()) {
      serve.metricsReadDeadline = duration("--metrics-read-deadline", readDeadline);
    }
    serve.prometheusTimeout = duration("--prometheus-timeout", prometheusTimeout);
    serve.grpcKeepaliveTime = duration("--grpc-keepalive-time", grpcKeepaliveTime);
    serve.grpcKeepaliveTimeout = duration("--grpc-keepalive-timeout", grpcKeepaliveTimeout);
    if (!durationsOk) {
      return kExitUsage;
    }
    for (const std::string& header : prometheusHeaders) {
      auto parsed = parseHeaderFlag(header);
      if (!parsed.ok()) {
        std::cerr << "error: " << parsed.error().message << "\n";
        return kExitUsage;
      }
      serve.prometheusHeaders.push_back(std::move(parsed).value());
    }
    if (!servePluginDir.empty()) {
      serve.pluginDir = servePluginDir;
    }
    if (!kubeconfig.empty()) {
      serve.kubeconfig = kubeconfig;
    }
    return runServe(serve);
  }
  if (*queryCommand) {
    auto timeout = parseDuration(queryTimeout);
    if (!timeout.ok()) {
      std::cerr << "error: --timeout: " << timeout.error().message << "\n";
      return kExitUsage;
    }
    query.timeout = timeout.value();
    return runQuery(query, std::cout, std::cerr);
  }
  return kExitUsage;
}

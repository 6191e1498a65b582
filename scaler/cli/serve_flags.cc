#include "cli/serve_flags.h"

#include <chrono>
#include <utility>

#include "cli/duration.h"
#include "cli/exit_codes.h"

namespace kubeai::cli {

CLI::App* addServeCommand(CLI::App& app, ServeFlags& flags) {
  CLI::App* serveCommand = app.add_subcommand("serve", "Run the KEDA external scaler");
  serveCommand->add_option("--grpc-address", flags.options.grpcAddress,
                           "KEDA's ExternalScaler gRPC address ([::]:PORT is IPv6 and IPv4)")
      ->capture_default_str();
  serveCommand->add_option("--metrics-address", flags.options.metricsAddress,
                           "HTTP address of /metrics, /healthz, /readyz: [::]:PORT is IPv6 and IPv4, [::1]:PORT "
                           "IPv6 only, 0.0.0.0:PORT IPv4 only")
      ->capture_default_str();
  serveCommand->add_option("--grpc-keepalive-time", flags.grpcKeepaliveTime,
                           "Ping a KEDA connection after this long without traffic (below cloud load balancers' "
                           "idle timeouts, ~4 min and up)")
      ->capture_default_str();
  serveCommand->add_option("--grpc-keepalive-timeout", flags.grpcKeepaliveTimeout,
                           "Close a connection whose ping is not answered in this long, and end its streams")
      ->capture_default_str();
  serveCommand->add_option("--grpc-max-streams-per-connection", flags.options.grpcMaxStreamsPerConnection,
                           "Concurrent streams on one connection; KEDA puts every StreamIsActive of every "
                           "ScaledObject using this address on one connection")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serveCommand->add_option("--health-address", flags.options.healthAddress,
                           "Plaintext grpc.health.v1 address for probes when TLS is on");
  auto* policyDir =
      serveCommand->add_option("--policy-dir", flags.options.policyDir, "Directory of policy manifests (watched)");
  auto* kubernetes = serveCommand->add_flag(
      "--kubernetes", flags.options.kubernetes,
      "Read policies from the Kubernetes API (list + watch), replicas from each target; write status and Events");
  kubernetes->excludes(policyDir);
  serveCommand->add_option("--kubeconfig", flags.kubeconfig,
                           "kubeconfig file (default $KUBECONFIG, then ~/.kube/config, then in-cluster)")
      ->needs(kubernetes);
  serveCommand->add_option("--namespace", flags.options.kubeNamespace,
                           "Watch policies in these namespaces only, NS[,NS...]: one list and watch each, so a Role "
                           "per namespace suffices (default all)")
      ->needs(kubernetes);
  serveCommand->add_flag("--leader-elect", flags.options.leaderElect,
                         "Write status and Events only while holding a Lease (default; --leader-elect=false: always)")
      ->needs(kubernetes);
  serveCommand->add_option("--lease-name", flags.options.leaseName,
                           "Name of the coordination.k8s.io Lease (default kubeai-scaler; kubeai-scaler-SHARD with "
                           "--shard-name; else one of its own per --policy-selector and --namespace)")
      ->needs(kubernetes);
  serveCommand->add_option("--policy-selector", flags.options.policySelector,
                           "Serve only the policies with these labels (kubectl's -l syntax: a=b, a!=b, 'a in (x,y)', "
                           "a, !a; comma = and); the API server selects, so each shard holds its own")
      ->needs(kubernetes);
  serveCommand->add_option("--shard-name", flags.options.shardName,
                           "This shard's name, written in each policy's status.shard and in the default Lease name "
                           "(default: the --policy-selector's text, then ' ns=A,B' with --namespace, or all)")
      ->needs(kubernetes);
  serveCommand->add_option("--lease-namespace", flags.options.leaseNamespace,
                           "Namespace of the Lease (default $POD_NAMESPACE, else the kubeconfig's namespace)")
      ->needs(kubernetes);
  serveCommand->add_option("--status-qps", flags.options.statusQps,
                           "Status writes and Events per second, on average (0: unlimited); a new leader "
                           "rewrites every status once at this rate")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(kubernetes);
  serveCommand->add_option("--status-burst", flags.options.statusBurst,
                           "Status writes and Events sent at once after a quiet spell")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(kubernetes);
  serveCommand->add_option("--kube-qps", flags.options.kubeQps,
                           "All Kubernetes API requests per second, on average (client-go's QPS; 0: unlimited); "
                           "50 as kube-scheduler, which also watches a whole cluster")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber)
      ->needs(kubernetes);
  serveCommand->add_option("--kube-burst", flags.options.kubeBurst,
                           "Kubernetes API requests sent at once after a quiet spell (client-go's Burst)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber)
      ->needs(kubernetes);
  serveCommand->add_option("--metrics-file", flags.options.metricsFile,
                           "YAML file of metric values per policy (watched)");
  auto* prometheusUrl = serveCommand->add_option(
      "--prometheus-url", flags.options.prometheusUrl,
      "Read metrics from this Prometheus-compatible API (http[s]://host:port[/prefix]) instead of --metrics-file");
  serveCommand->add_option("--prometheus-timeout", flags.prometheusTimeout, "Deadline of each Prometheus query")
      ->capture_default_str()
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-bearer-token-file", flags.options.prometheusBearerTokenFile,
                           "Bearer token for Prometheus (re-read when it changes)")
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-basic-auth-user", flags.options.prometheusBasicAuthUser,
                           "Basic auth user for Prometheus")
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-basic-auth-password-file", flags.options.prometheusBasicAuthPasswordFile,
                           "Basic auth password for Prometheus (re-read when it changes)")
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-ca-file", flags.options.prometheusCaFile,
                           "CA bundle to verify Prometheus' certificate")
      ->needs(prometheusUrl);
  serveCommand->add_flag("--prometheus-insecure-skip-verify", flags.options.prometheusInsecureSkipVerify,
                         "Do not verify Prometheus' TLS certificate")
      ->needs(prometheusUrl);
  serveCommand->add_option("--prometheus-header", flags.prometheusHeaders,
                           "NAME=VALUE sent with every Prometheus query, e.g. X-Scope-OrgID=team-a (repeatable)")
      ->needs(prometheusUrl);
  serveCommand->add_option("--replicas-query", flags.options.replicasQuery,
                           "PromQL for a target's current replicas (default: kube-state-metrics' "
                           "kube_deployment_spec_replicas / kube_statefulset_replicas)")
      ->needs(prometheusUrl);
  serveCommand->add_option("--plugin-dir", flags.pluginDir, "Directory of algorithm plugins (*.so, watched)");
  serveCommand->add_option("--plugin-isolation", flags.options.pluginIsolation,
                           "process: each plugin file in its own plugin-host process (a crash fails its calls "
                           "only); in-process: loaded into serve (a crash takes the server down)")
      ->check(CLI::IsMember({"process", "in-process"}))
      ->capture_default_str();
  serveCommand->add_option("--plugin-timeout", flags.pluginTimeout,
                           "Deadline of every call to an isolated plugin; a call past it kills its host")
      ->capture_default_str();
  serveCommand->add_option("--plugin-failures-before-unavailable", flags.options.pluginFailuresBeforeUnavailable,
                           "Failed calls in a row after which an isolated plugin's policies answer UNAVAILABLE")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serveCommand->add_option("--evaluation-interval", flags.interval, "How often every policy is evaluated")
      ->capture_default_str();
  serveCommand->add_option("--metrics-stale-after", flags.staleAfter,
                           "After this long without metrics a policy answers UNAVAILABLE (default 3 x interval)");
  serveCommand->add_option("--metrics-read-deadline", flags.readDeadline,
                           "A metric read not back by then fails for its policies; the loop goes on "
                           "(default 2 x interval, at most --metrics-stale-after)");
  serveCommand->add_option("--reaction-time", flags.reactionTime,
                           "How long a published change counts as current while the workload has not reached it "
                           "(two HPA sync periods)")
      ->capture_default_str();
  serveCommand->add_option("--tls-cert-file", flags.options.tlsCertFile,
                           "Server certificate (PEM; reloaded when it changes)");
  serveCommand->add_option("--tls-key-file", flags.options.tlsKeyFile, "Server private key (PEM)");
  serveCommand->add_option("--tls-client-ca-file", flags.options.tlsClientCaFile,
                           "CA for client certificates: mutual TLS, a client certificate is required");
  serveCommand->add_option("--log-level", flags.options.logLevel, "debug, info, warn or error")->capture_default_str();
  serveCommand->add_option("--log-format", flags.options.logFormat, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  serveCommand->add_flag("--allow-cross-namespace-policies", flags.options.allowCrossNamespacePolicies,
                         "Let a ScaledObject use a policy of another namespace (scalerMetadata.policyNamespace)");
  serveCommand->add_option("--custom-queries", flags.options.customQueries,
                           "allow, or deny: a policy with a prometheusQuery of its own is refused (the engine "
                           "presets and default queries, scoped by the server, stay)")
      ->check(CLI::IsMember({"allow", "deny"}))
      ->capture_default_str();
  serveCommand->add_flag("--prometheus-tenant-from-namespace", flags.options.prometheusTenantFromNamespace,
                         "Send each policy's queries with X-Scope-OrgID: <its namespace> (Mimir, Cortex); "
                         "the replicas queries with none")
      ->needs(prometheusUrl);
  return serveCommand;
}

int runServeCommand(ServeFlags& flags, std::ostream& err) {
  // Every duration flag the same way: a bad one is said with its name.
  bool durationsOk = true;
  auto duration = [&](const char* flag, const std::string& text) {
    auto parsed = parseDuration(text);
    if (!parsed.ok()) {
      err << "error: " << flag << ": " << parsed.error().message << "\n";
      durationsOk = false;
      return std::chrono::milliseconds{0};
    }
    return parsed.value();
  };
  flags.options.evaluationInterval = duration("--evaluation-interval", flags.interval);
  if (!flags.staleAfter.empty()) {
    flags.options.metricsStaleAfter = duration("--metrics-stale-after", flags.staleAfter);
  }
  flags.options.reactionTime = duration("--reaction-time", flags.reactionTime);
  flags.options.pluginTimeout = duration("--plugin-timeout", flags.pluginTimeout);
  if (!flags.readDeadline.empty()) {
    flags.options.metricsReadDeadline = duration("--metrics-read-deadline", flags.readDeadline);
  }
  flags.options.prometheusTimeout = duration("--prometheus-timeout", flags.prometheusTimeout);
  flags.options.grpcKeepaliveTime = duration("--grpc-keepalive-time", flags.grpcKeepaliveTime);
  flags.options.grpcKeepaliveTimeout = duration("--grpc-keepalive-timeout", flags.grpcKeepaliveTimeout);
  if (!durationsOk) {
    return kExitUsage;
  }
  for (const std::string& header : flags.prometheusHeaders) {
    auto parsed = parseHeaderFlag(header);
    if (!parsed.ok()) {
      err << "error: " << parsed.error().message << "\n";
      return kExitUsage;
    }
    flags.options.prometheusHeaders.push_back(std::move(parsed).value());
  }
  if (!flags.pluginDir.empty()) {
    flags.options.pluginDir = flags.pluginDir;
  }
  if (!flags.kubeconfig.empty()) {
    flags.options.kubeconfig = flags.kubeconfig;
  }
  return runServe(flags.options);
}

}  // namespace kubeai::cli

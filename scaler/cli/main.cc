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
#include "cli/serve_flags.h"
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

  ServeFlags serve;
  CLI::App* serveCommand = addServeCommand(app, serve);

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
    return runServeCommand(serve, std::cerr);
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

#include "cli/serve_command.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "cli/exit_codes.h"
#include "cli/freed_memory.h"
#include "cli/logging.h"
#include "cli/serve_grpc.h"
#include "cli/serve_health.h"
#include "cli/serve_kube.h"
#include "cli/serve_listener.h"
#include "cli/serve_plugins.h"
#include "cli/serve_reload.h"
#include "cli/serve_sources.h"
#include "cli/status_bridge.h"
#include "core/algorithm_registry.h"
#include "kube/client/kube_client.h"
#include "kube/leader_elector.h"
#include "kube/policy_watch_set.h"
#include "kube/policy_watcher.h"
#include "kube/scale_replica_source.h"
#include "kube/status_writer.h"
#include "plugin/plugin_reloader.h"
#include "server/deadline_metric_source.h"
#include "server/decision_store.h"
#include "server/duration_text.h"
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

// How long shutdown waits for the evaluation loop, then for a metric read
// still running past its deadline, after gRPC has stopped.
constexpr std::chrono::milliseconds kStuckGrace{2000};

// Ends the process at once, exit code 0, when shutdown cannot wait for a
// thread stuck in a plugin call or a metric read: destroying what it runs in
// would be undefined, and joining it could take forever. Everything KEDA and
// the cluster see (streams, gRPC, the Lease) has already been shut down.
[[noreturn]] void exitLeavingStuck(std::string_view what) {
  logEvent(LogLevel::kWarn, "exiting without waiting for a stuck thread", {{"stuck", std::string(what)}});
  std::_Exit(kExitOk);
}

}  // namespace

int runServe(const ServeOptions& options) {
  // Signals are taken by sigwait() on this thread only: block them before any
  // thread (gRPC, civetweb, the loop, the watcher) exists, so all inherit it.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // Before any thread exists too: each would otherwise take an arena of its own (freed_memory.h says why not).
  limitMallocArenas(std::getenv("MALLOC_ARENA_MAX"), std::getenv("GLIBC_TUNABLES"));

  if (auto logging = setUpLogging(options.logLevel, options.logFormat); !logging.ok()) {
    std::fprintf(stderr, "error: %s\n", logging.error().message.c_str());
    return kExitUsage;
  }
  auto fail = [](int code, const std::string& message) {
    logEvent(LogLevel::kError, message);
    return code;
  };
  if (auto checked = checkServeOptions(options); !checked.ok()) {
    return fail(kExitUsage, checked.error().message);
  }
  const std::chrono::milliseconds staleAfter = staleAfterOf(options);
  const std::chrono::milliseconds readDeadline = readDeadlineOf(options);
  auto credentials = serverCredentials(options);
  if (!credentials.ok()) {
    return fail(kExitUsage, credentials.error().message);
  }

  telemetry::Telemetry telemetry;
  // Before the registry: isolated plugins count their failures here until they go.
  telemetry::PluginTelemetry pluginTelemetry(*telemetry.registry());
  auto registry = core::AlgorithmRegistry::withBuiltins();
  RepeatFilter pluginsSaid;
  RepeatFilter problemsSaid;
  std::unique_ptr<plugin::PluginReloader> plugins;
  // What the last plugin reload left loaded: a full cycle only when it changed
  // (the watches' catch-up reload at start-up usually changes nothing).
  std::vector<const core::ScalingAlgorithm*> pluginsLoaded;
  const auto loadedBy = [](const std::vector<plugin::PluginLoadReport>& reports) {
    std::vector<const core::ScalingAlgorithm*> loaded;
    loaded.reserve(reports.size());
    for (const plugin::PluginLoadReport& report : reports) {
      loaded.push_back(report.algorithm.get());
    }
    return loaded;
  };
  if (options.pluginDir) {
    auto loader = makePluginLoader(options, pluginTelemetry);
    if (!loader.ok()) {
      return fail(kExitFailure, loader.error().message);
    }
    plugins = std::make_unique<plugin::PluginReloader>(*registry, *options.pluginDir, std::move(loader).value());
    auto reports = plugins->reload();
    if (!reports.ok()) {
      return fail(kExitUsage, reports.error().message);
    }
    reportPlugins(reports.value(), telemetry, pluginsSaid);
    pluginsLoaded = loadedBy(reports.value());
  }

  // Policies from a directory, or from the Kubernetes API (read once serving).
  std::optional<source::PolicyDirectory> policies;
  core::Result<source::PolicySet> initialPolicies = source::PolicySet{};
  std::unique_ptr<kube::KubeClient> kubeClient;
  std::unique_ptr<kube::KubeClient> leaseClient;  // outlives the elector (`writing`, below)
  kube::KubeConfig kubeConfig;
  if (options.kubernetes) {
    auto config = kube::loadKubeConfig(options.kubeconfig);
    if (!config.ok()) {
      return fail(kExitUsage, config.error().withContext("Kubernetes configuration").message);
    }
    kubeConfig = std::move(config).value();
    // Where the API is, never how it is reached (tokens, keys).
    logEvent(LogLevel::kInfo, "Kubernetes API",
             {{"server", kube::serverForMessages(kubeConfig.server)},
              {"source", kubeConfig.source},
              {"namespace", options.kubeNamespace.empty() ? "all" : options.kubeNamespace},
              {"shard", shardNameOf(options)},
              {"policySelector", policySelectorOf(options)}});
    // One client, so one rate limit, for every request serve sends but the
    // Lease's: those have a client (and a bucket of the same size) of their
    // own, as kube-scheduler's and kube-controller-manager's leader election,
    // so a renewal never queues behind a deep queue of watches, GETs and
    // status writes and misses its deadline.
    kube::KubeClientOptions clientOptions;
    clientOptions.qps = options.kubeQps;
    clientOptions.burst = options.kubeBurst;
    auto client = kube::KubeClient::create(kubeConfig, clientOptions);
    if (!client.ok()) {
      return fail(kExitUsage, client.error().withContext("Kubernetes client").message);
    }
    kubeClient = std::move(client).value();
    if (options.leaderElect) {
      auto forLease = kube::KubeClient::create(kubeConfig, clientOptions);
      if (!forLease.ok()) {
        return fail(kExitUsage, forLease.error().withContext("Kubernetes client for the Lease").message);
      }
      leaseClient = std::move(forLease).value();
    }
  } else {
    policies.emplace(options.policyDir);
    initialPolicies = policies->reload();
    if (!initialPolicies.ok()) {
      return fail(kExitUsage, initialPolicies.error().message);
    }
  }
  // One metric source: the file, or Prometheus through the libcurl client.
  auto madeSources = makeMetricSources(options);
  if (!madeSources.ok()) {
    return fail(kExitUsage, madeSources.error().message);
  }
  MetricSources sources = std::move(madeSources).value();
  source::FileMetricSource* const fileMetrics = sources.file.get();
  source::prometheus::PrometheusMetricSource* const prometheusMetrics = sources.prometheus.get();
  source::MetricSource* metrics = sources.source;
  const bool denyCustomQueries = options.customQueries == "deny";

  // With --kubernetes: replicas from a watch of the targets (/scale for other
  // APIs), over the metrics; status and Events written by the holder of the Lease.
  std::unique_ptr<kube::TargetWatcher> targetWatcher;
  std::unique_ptr<kube::ScaleReplicaSource> scaleReplicas;
  StatusWriting writing;
  if (kubeClient) {
    targetWatcher = startTargetWatcher(*kubeClient, namespacesOf(options));
    kube::ScaleReplicaSourceOptions replicaOptions;
    replicaOptions.targets = &targetWatcher->cache();
    // A watch failing this long (RBAC drift, API unreachable) makes its
    // policies' readings errors, and the loop's staleness follows.
    replicaOptions.targetsUnhealthyAfter = staleAfter;
    scaleReplicas = std::make_unique<kube::ScaleReplicaSource>(*metrics, *kubeClient, replicaOptions);
    metrics = scaleReplicas.get();
    writing = makeStatusWriting(options, *kubeClient, leaseClient.get(), kubeConfig.ns, registry->names());
  }
  kube::LeaderElector* const elector = writing.elector.get();
  kube::StatusWriter* const statusWriter = writing.writer.get();
  StatusBridge* const statusBridge = writing.bridge.get();
  // Outermost: every read of the cycle, /scale included, has the deadline.
  server::DeadlineMetricSource deadlinedMetrics(*metrics, readDeadline);
  metrics = &deadlinedMetrics;

  server::DecisionStore store;
  telemetry::LoopLiveness liveness(telemetry::LoopLiveness::limitFor(options.evaluationInterval, readDeadline));
  ServeListener listener(telemetry, liveness, statusBridge);
  server::EvaluationOptions loopOptions;
  loopOptions.interval = options.evaluationInterval;
  loopOptions.staleAfter = staleAfter;
  loopOptions.decide.reactionTime = options.reactionTime;
  if (statusWriter) {
    // A restart, a new leader or a rolling update resumes from the published status.
    loopOptions.seed = [writer = statusWriter](const core::Policy& policy) { return writer->seedFor(policy); };
  }
  server::EvaluationLoop loop(store, *registry, *metrics, loopOptions,
                              server::EvaluationLoop::systemClock(), &listener);
  if (!options.kubernetes) {
    applyPolicies(initialPolicies.value(), loop, prometheusMetrics, problemsSaid, denyCustomQueries);
    loop.runOnce();  // decisions exist before the first RPC can arrive
    logEvent(LogLevel::kInfo, "policies loaded",
             {{"policies", std::to_string(initialPolicies.value().policies->size())},
              {"problems", std::to_string(initialPolicies.value().problems.size())},
              {"interval", formatMs(options.evaluationInterval)},
              {"staleAfter", formatMs(staleAfter)},
              {"readDeadline", formatMs(readDeadline)},
              {"livenessLimit", formatMs(liveness.limit())}});
  }

  server::ExternalScalerService service(
      store,
      [&telemetry](std::string_view method, grpc::StatusCode code, double seconds) {
        telemetry.recordRpc(method, static_cast<int>(code), seconds);
      },
      server::StalenessCheck{staleAfter, server::EvaluationLoop::systemClock()}, options.allowCrossNamespacePolicies);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  applyConnectionSettings(builder, options);
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
    httpOptions.readiness = [&store, &listed, &targetWatcher, staleAfter] {
      if (!listed.load()) {  // set once the policies and the targets are listed
        return telemetry::ReadyReport{false, targetWatcher && !targetWatcher->synced()
                                                 ? "policies not listed yet from the Kubernetes API\n"
                                                   "Deployments and StatefulSets not listed yet either\n"
                                                 : "policies not listed yet from the Kubernetes API\n"};
      }
      return readinessReport(store, server::EvaluationLoop::systemClock()(), staleAfter);
    };
    httpOptions.liveness = [&liveness] { return liveness.report(); };
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
  bool stopping = false;  // under reloadMutex
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
    applyPolicies(set.value(), loop, prometheusMetrics, problemsSaid, denyCustomQueries);
  };
  auto reloadMetrics = [&] {
    const std::lock_guard lock(reloadMutex);
    std::vector<std::string> changed;
    if (auto loaded = fileMetrics->reload(&changed); !loaded.ok()) {
      telemetry.recordReloadError("metrics-file");
      logEvent(LogLevel::kError, "metrics file, keeping the last good one", {{"error", loaded.error().message}});
      return;
    }
    loop.reevaluate(changed);  // the policies whose entries changed, and no others
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
    if (auto loaded = loadedBy(reports.value()); loaded != pluginsLoaded) {
      pluginsLoaded = std::move(loaded);
      loop.trigger();
    }
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
    // A plugin copied in place is read once closed, not at every write.
    watcher.watch(*options.pluginDir, reloadPlugins, {.completeWritesOnly = true});
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
  std::unique_ptr<kube::PolicyWatchSet> policyWatcher;
  if (kubeClient) {
    if (elector) {
      elector->start();
    }
    statusWriter->start();
    kube::PolicyWatcherOptions policyWatchOptions;
    policyWatchOptions.labelSelector = policySelectorOf(options);  // the API server selects the shard's
    policyWatchOptions.log = logWatch;
    policyWatchOptions.onStatus = [bridge = statusBridge](const std::string& ns, const std::string& name,
                                                                const std::string& status) {
      bridge->observeStatus(ns, name, status);
    };
    // One list + watch per namespace of --namespace (RBAC per namespace), merged.
    policyWatcher = std::make_unique<kube::PolicyWatchSet>(
        *kubeClient, policyWatchOptions, namespacesOf(options), [&](kube::PolicySnapshot snapshot) {
          if (!listed.load()) {
            targetWatcher->waitSynced();  // the first evaluation needs the targets (false: stopping)
          }
          const std::lock_guard lock(reloadMutex);
          const std::size_t count = snapshot.policies->size();
          const std::size_t refused = snapshot.invalid.size();
          statusBridge->setPolicies(snapshot);
          applyWatchedPolicies(std::move(snapshot), loop, prometheusMetrics, problemsSaid, denyCustomQueries);
          if (!listed.load() && !stopping) {
            loop.runOnceForCurrentSet();  // decisions exist before serve says it is ready
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
  // Not ready from here: the probes, and KEDA's next connection, go to
  // another replica. Under the reload lock, so that a first list arriving
  // now cannot say ready again.
  {
    const std::lock_guard lock(reloadMutex);
    stopping = true;
    grpcServer->GetHealthCheckService()->SetServingStatus(false);
    if (healthServer) {
      healthServer->GetHealthCheckService()->SetServingStatus(false);
    }
  }
  // The kubelet kills the pod terminationGracePeriodSeconds (30 s) after
  // SIGTERM, so the slow steps run side by side, not one after another: the
  // status writer finishes its request in flight and the Lease is released
  // (another replica writes status at once instead of after the lease
  // duration); the policy watcher may be waiting on a list request.
  std::jthread handOver([&] {
    if (statusWriter) {
      statusWriter->stop();  // no more writes: the Lease can go
    }
    if (elector) {
      elector->stop();  // releases the Lease
    }
  });
  std::jthread unwatch([&] {
    if (targetWatcher) {
      targetWatcher->stop();  // first: a first policy set may be waiting for it
    }
    if (policyWatcher) {
      policyWatcher->stop();  // no more policy sets (nor health changes) from here
    }
  });
  // KEDA keeps its streams open forever: end them (OK, so that KEDA
  // reconnects at once, to another replica) instead of waiting out the
  // deadline, which now only bounds unary calls still running.
  service.finishStreams();
  grpcServer->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpcServer->Wait();
  if (healthServer) {
    healthServer->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    healthServer->Wait();
  }
  unwatch.join();
  handOver.join();
  // After the watcher, which hands the loop its policy sets. The loop may be
  // in a plugin call that never returns; its metric reads have a deadline,
  // but one past it may still be running in the source.
  if (!stopLoopWithin(loop, kStuckGrace)) {
    exitLeavingStuck("evaluation loop (a plugin call that never returns?)");
  }
  if (!deadlinedMetrics.waitIdle(kStuckGrace)) {
    exitLeavingStuck("metric read past its deadline");
  }
  return kExitOk;
}

}  // namespace kubeai::cli

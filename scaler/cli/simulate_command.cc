#include "cli/simulate_command.h"

#include <fstream>
#include <new>
#include <ostream>

#include "cli/algorithm_setup.h"
#include "cli/exit_codes.h"
#include "cli/simulate_prometheus_demand.h"
#include "core/algorithm_registry.h"
#include "core/validation.h"
#include "plugin/plugin_image.h"
#include "plugin/plugin_loader.h"
#include "plugin_host/isolated_plugin_algorithm.h"
#include "plugin_host/plugin_host.h"
#include "policy/policy_parser.h"
#include "simulate/demand.h"
#include "simulate/html_report.h"
#include "simulate/simulation_output.h"
#include "simulate/simulator.h"
#include "simulate/workload.h"

namespace kubeai::cli {
namespace {

core::Result<simulate::DemandSeries> loadDemand(const simulate::Workload& workload,
                                                const SimulateCommandOptions& options, std::ostream& err) {
  const simulate::DemandSpec& spec = workload.demand;
  core::Result<simulate::DemandSeries> series = core::Error{"the workload has no demand"};
  if (spec.arrivals) {
    series = simulate::loadArrivalsCsv(*spec.arrivals, workload.interval);
  } else if (spec.rate) {
    series = simulate::loadRateCsv(*spec.rate, workload.interval);
  } else if (spec.prometheus) {
    PrometheusDemandOptions prometheus;
    prometheus.client = options.prometheus;
    prometheus.onWarning = [&err](const std::string& warning) { err << "warning: " << warning << "\n"; };
    series = loadPrometheusDemand(*spec.prometheus, workload.interval, prometheus);
  }
  if (series.ok()) {
    simulate::scaleDemand(series.value(), spec.scale);
  }
  return series;
}

// The built-ins and every plugin of the directory; plugins in their own
// plugin-host processes unless in-process is asked for, as in serve.
core::Result<std::unique_ptr<core::AlgorithmRegistry>> setUpRegistry(const SimulateCommandOptions& options,
                                                                    std::ostream& err, bool& pluginFailed) {
  auto registry = core::AlgorithmRegistry::withBuiltins();
  if (!options.pluginDir) {
    return registry;
  }
  plugin::PluginImageLoader loader;
  if (options.pluginIsolation == "process") {
    if (auto protectedMemory = plugin::host::protectServerMemory(); !protectedMemory.ok()) {
      return protectedMemory.error();
    }
    plugin::host::PluginHostSettings settings;
    settings.executable = "/proc/self/exe";
    settings.callTimeout = options.pluginTimeout;
    loader = [settings](plugin::PluginImage image) {
      return plugin::host::loadIsolatedPlugin(std::move(image), settings);
    };
  }
  auto reports = plugin::loadPluginDirectory(*options.pluginDir, loader);
  if (!reports.ok()) {
    return reports.error();
  }
  plugin::registerPlugins(*registry, reports.value());
  for (const plugin::PluginLoadReport& report : reports.value()) {
    if (!report.ok()) {
      err << "error: " << report.error << "\n";
      pluginFailed = true;
    }
  }
  return registry;
}

}  // namespace

int runSimulate(const SimulateCommandOptions& options, std::ostream& out, std::ostream& err) {
  if (options.summaryOnly && options.output == "csv") {
    err << "error: --summary-only writes no timeline, and --output csv is the timeline\n";
    return kExitUsage;
  }
  if (options.summaryOnly && options.report) {
    err << "error: --report draws the timelines, which --summary-only does not keep\n";
    return kExitUsage;
  }
  const simulate::WorkloadDocument workload = simulate::loadWorkloadFile(options.workloadFile);
  if (!workload.ok()) {
    for (const core::FieldError& error : workload.errors) {
      err << "error: " << options.workloadFile.string() << ": " << error.toString() << "\n";
    }
    return kExitUsage;
  }
  auto demand = loadDemand(workload.workload, options, err);
  if (!demand.ok()) {
    err << "error: " << options.workloadFile.string() << ": " << demand.error().message << "\n";
    // A server that is not there is no fault of the input: it may work next time.
    return demand.error().reason == kPrometheusUnavailable ? kExitFailure : kExitUsage;
  }

  std::vector<core::Policy> policies;
  std::vector<std::string> policyFiles;  // each policy's file, for what is said of it below
  bool policiesOk = true;
  for (const std::filesystem::path& file : options.policyFiles) {
    const policy::PolicyFile parsed = policy::loadPolicyFile(file);
    if (parsed.error) {
      err << "error: " << parsed.error->message << "\n";
      policiesOk = false;
      continue;
    }
    if (parsed.policies.empty()) {
      err << "error: " << file.string() << ": no AIInferenceAutoscalerPolicy in the file\n";
      policiesOk = false;
    }
    for (const policy::PolicyDocument& document : parsed.policies) {
      for (const core::FieldError& error : document.errors) {
        err << "error: " << file.string() << ": policy " << document.displayName() << ": " << error.toString() << "\n";
      }
      policiesOk = policiesOk && document.ok();
      if (document.ok()) {
        policies.push_back(document.policy);
        policyFiles.push_back(file.string());
      }
    }
  }
  if (!policiesOk) {
    return kExitUsage;
  }

  bool pluginFailed = false;
  auto registry = setUpRegistry(options, err, pluginFailed);
  if (!registry.ok()) {
    err << "error: " << registry.error().message << "\n";
    return kExitFailure;
  }
  // Every policy's algorithm and its parameters, all said before any runs
  // (as validate says them): a policy whose algorithm is not loaded runs as
  // serve would run it, on MaxRatio, and must not pass for the one it names.
  bool parametersOk = true;
  for (std::size_t i = 0; i < policies.size(); ++i) {
    const core::Policy& policy = policies[i];
    const std::string prefix = policyFiles[i] + ": policy " + policy.key() + ": ";
    const auto algorithm = registry.value()->find(policy.spec.algorithm.name);
    if (!algorithm) {
      err << "warning: " << prefix << unknownAlgorithmWarning(*registry.value(), policy.spec.algorithm.name)
          << (options.pluginDir ? "" : " (no --plugin-dir)") << "\n";
      continue;
    }
    if (const core::Status accepted = core::checkAlgorithmParameters(policy, *algorithm); !accepted.ok()) {
      err << "error: " << prefix << accepted.error().message << "\n";
      parametersOk = false;
    }
  }
  if (!parametersOk) {
    return kExitUsage;
  }

  simulate::SimulateOptions simulateOptions;
  simulateOptions.reactionTime = options.reactionTime;
  simulateOptions.keepTimeline = !options.summaryOnly && (options.output == "json" || options.report);
  bool csvStarted = false;
  if (options.output == "csv") {
    // The header with the first row: a run refused before it writes nothing to out.
    simulateOptions.onRow = [&out, &csvStarted](const simulate::PolicyRun& run, const simulate::TimelineRow& row) {
      if (!csvStarted) {
        simulate::writeCsvHeader(out);
        csvStarted = true;
      }
      simulate::writeCsvRow(out, run, row);
    };
  }
  core::Result<simulate::SimulationResult> result = core::Error{""};
  try {
    result = simulate::runSimulation(workload.workload, demand.value(), policies, *registry.value(), simulateOptions);
  } catch (const std::bad_alloc&) {
    err << "error: out of memory: the timelines of this run do not fit; try --summary-only or --output csv\n";
    return kExitFailure;
  }
  if (!result.ok()) {
    err << "error: " << result.error().message << "\n";
    return kExitUsage;
  }
  if (options.output == "csv" && !csvStarted) {
    simulate::writeCsvHeader(out);
  }
  if (options.output == "json") {
    simulate::writeJson(out, result.value());
  } else if (options.output == "text") {
    simulate::writeSummaryText(out, result.value());
  }
  if (options.report) {
    std::ofstream report(*options.report, std::ios::binary | std::ios::trunc);
    if (report) {
      simulate::writeHtmlReport(report, result.value());
    }
    if (!report) {
      err << "error: cannot write the report " << options.report->string() << "\n";
      return kExitFailure;
    }
  }
  return pluginFailed ? kExitFailure : kExitOk;
}

}  // namespace kubeai::cli

// Wiring only: parse the command line and hand each command its options.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/evaluate_command.h"
#include "cli/exit_codes.h"
#include "cli/plugins_command.h"
#include "cli/validate_command.h"

int main(int argc, char** argv) {
  using namespace kubeai::cli;  // NOLINT(google-build-using-namespace): main.cc only

  CLI::App app{"kubeai-scaler: a KEDA external scaler for AI inference workloads"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "kubeai-scaler " KUBEAI_SCALER_VERSION);

  EvaluateOptions evaluate;
  std::string pluginDir;
  auto* evaluateCommand = app.add_subcommand("evaluate", "Decide once for one policy, without history");
  evaluateCommand->add_option("--policy", evaluate.policyFile, "Policy file (YAML or JSON)")->required();
  evaluateCommand->add_option("--name", evaluate.name, "Policy NAME or NAMESPACE/NAME when the file holds several");
  evaluateCommand->add_option("--current-replicas", evaluate.currentReplicas, "Current replicas")->required();
  evaluateCommand->add_option("--metric", evaluate.metrics,
                              "KEY=VALUE, KEY one of latencyP99Ms, latencyP95Ms, gpuUtilizationPercent, "
                              "requestQueueDepth (repeatable; a metric not given has no data)");
  evaluateCommand->add_option("--plugin-dir", pluginDir, "Directory of algorithm plugins (*.so)");
  evaluateCommand->add_option("--output", evaluate.output, "text or json")->check(CLI::IsMember({"text", "json"}));

  ValidateOptions validate;
  std::string validatePluginDir;
  auto* validateCommand = app.add_subcommand("validate", "Check policy files; one line per policy");
  validateCommand->add_option("files", validate.paths, "Policy files or directories")->required();
  validateCommand->add_option("--plugin-dir", validatePluginDir, "Check algorithm names against these plugins");

  PluginsOptions plugins;
  auto* pluginsCommand = app.add_subcommand("plugins", "Load each plugin in a directory and report it");
  pluginsCommand->add_option("--plugin-dir", plugins.pluginDir, "Directory of algorithm plugins (*.so)")->required();
  pluginsCommand->add_option("--output", plugins.output, "text or json")->check(CLI::IsMember({"text", "json"}));

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

  if (*evaluateCommand) {
    if (!pluginDir.empty()) {
      evaluate.pluginDir = pluginDir;
    }
    return runEvaluate(evaluate, std::cout, std::cerr);
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
  return kExitUsage;
}

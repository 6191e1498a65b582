#include "cli/plugins_command.h"

#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/algorithm_setup.h"
#include "cli/exit_codes.h"

namespace kubeai::cli {

int runPlugins(const PluginsOptions& options, std::ostream& out, std::ostream& err) {
  if (options.output != "text" && options.output != "json") {
    err << "error: --output must be text or json\n";
    return kExitUsage;
  }
  auto setup = setUpAlgorithms(options.pluginDir);
  if (!setup.ok()) {
    err << "error: " << setup.error().message << "\n";
    return kExitUsage;
  }
  const auto& reports = setup.value().plugins;
  if (options.output == "json") {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& report : reports) {
      const std::string file = report.file.filename().string();
      if (report.ok()) {
        array.push_back({{"file", file}, {"algorithm", std::string(report.algorithm->name())}});
      } else {
        array.push_back({{"file", file}, {"error", report.error}});
      }
    }
    out << array.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    if (reports.empty()) {
      out << "no *.so plugins in " << options.pluginDir.string() << "\n";
    }
    for (const auto& report : reports) {
      out << report.file.filename().string() << ": "
          << (report.ok() ? std::string(report.algorithm->name()) : "error: " + report.error) << "\n";
    }
  }
  return setup.value().anyPluginFailed() ? kExitFailure : kExitOk;
}

}  // namespace kubeai::cli

// `serve`'s command line (main.cc wires every command; serve's flags are
// most of it): the flags bound to ServeOptions, and the text of those read
// after the parse, durations and headers, each refused with its flag's name.
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "cli/serve_command.h"

namespace kubeai::cli {

struct ServeFlags {
  ServeOptions options;
  std::string pluginDir;
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
};

// Adds the `serve` subcommand to `app`, its flags bound to `flags`, which
// must outlive the parse.
CLI::App* addServeCommand(CLI::App& app, ServeFlags& flags);

// After the parse: the durations and headers into flags.options (a bad one
// said on `err`, with its flag: kExitUsage), then runServe's exit status.
int runServeCommand(ServeFlags& flags, std::ostream& err);

}  // namespace kubeai::cli

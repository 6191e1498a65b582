#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>

namespace kubeai::cli {

struct ServeOptions {
  std::string grpcAddress = "0.0.0.0:6000";
  std::string metricsAddress = "0.0.0.0:8080";  // /metrics, /healthz, /readyz
  std::string healthAddress;                    // plaintext grpc.health.v1, for probes when TLS is on
  std::filesystem::path policyDir;
  std::filesystem::path metricsFile;
  std::optional<std::filesystem::path> pluginDir;
  std::chrono::milliseconds evaluationInterval{15'000};
  std::optional<std::chrono::milliseconds> metricsStaleAfter;  // default 3 x evaluationInterval
  std::string tlsCertFile;
  std::string tlsKeyFile;
  std::string tlsClientCaFile;  // mTLS: a client certificate signed by it is required
  std::string logLevel = "info";
  std::string logFormat = "text";
};

// Runs the server until SIGTERM or SIGINT: evaluates every policy on a timer
// and on changes, answers KEDA's ExternalScaler calls from memory, serves
// /metrics, /healthz and /readyz, and reloads the policy directory, the
// metrics file, the plugins and the TLS certificates when they change on disk.
// Returns the exit code: 0 after a clean shutdown, 1 when something it needs
// cannot start (a port in use), 2 for bad options or unreadable start-up files.
int runServe(const ServeOptions& options);

}  // namespace kubeai::cli

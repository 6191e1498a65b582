// serve's options: the checks no single flag can make, and --prometheus-header.
#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include "cli/serve_command.h"
#include "server/deadline_metric_source.h"
#include "server/duration_text.h"
#include "source/prometheus/query_template.h"

namespace kubeai::cli {
namespace {

bool isHeaderNameChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string asciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace

core::Status checkServeOptions(const ServeOptions& options) {
  if (options.kubernetes && !options.policyDir.empty()) {
    return core::Error{"--kubernetes and --policy-dir are exclusive: policies come from one source"};
  }
  if (!options.kubernetes && options.policyDir.empty()) {
    return core::Error{"serve needs --policy-dir or --kubernetes"};
  }
  const bool fromPrometheus = !options.prometheusUrl.empty();
  if (fromPrometheus && !options.metricsFile.empty()) {
    return core::Error{"--prometheus-url and --metrics-file are exclusive: metrics come from one source"};
  }
  if (!fromPrometheus && options.metricsFile.empty()) {
    return core::Error{"serve needs --metrics-file or --prometheus-url"};
  }
  if (fromPrometheus && options.prometheusTimeout.count() <= 0) {
    return core::Error{"--prometheus-timeout must be greater than 0"};
  }
  if (options.kubernetes && !options.replicasQuery.empty()) {
    return core::Error{"--replicas-query has no use with --kubernetes: the replicas come from the Kubernetes API"};
  }
  if (fromPrometheus && !options.replicasQuery.empty()) {
    if (auto replicas = source::prometheus::checkReplicasQuery(options.replicasQuery); !replicas.ok()) {
      return replicas.error().withContext("--replicas-query");
    }
  }
  if (options.prometheusTenantFromNamespace) {
    for (const auto& header : options.prometheusHeaders) {
      if (asciiLower(header.first) == "x-scope-orgid") {
        return core::Error{"--prometheus-tenant-from-namespace and --prometheus-header " + header.first +
                           " are exclusive: the tenant is each policy's namespace, or the one header's"};
      }
    }
  }
  if (options.customQueries != "allow" && options.customQueries != "deny") {
    return core::Error{"--custom-queries must be allow or deny"};
  }
  if (auto shard = checkShardOptions(options); !shard.ok()) {
    return shard;
  }
  if (options.evaluationInterval.count() <= 0) {
    return core::Error{"--evaluation-interval must be greater than 0"};
  }
  if (options.reactionTime.count() < 0) {
    return core::Error{"--reaction-time must not be negative"};
  }
  // Calls are made one policy after another in the cycle: a plugin that hangs
  // costs one timeout of the cycle (its host is then down, and its calls fail
  // at once), which must leave the cycle time to finish.
  if (options.pluginDir && options.pluginIsolation == "process" &&
      (options.pluginTimeout.count() <= 0 || options.pluginTimeout > options.evaluationInterval)) {
    return core::Error{"--plugin-timeout must be greater than 0 and at most --evaluation-interval (" +
                       std::to_string(options.evaluationInterval.count()) + "ms)"};
  }
  if (options.metricsStaleAfter && *options.metricsStaleAfter <= options.evaluationInterval) {
    // The RPC path checks each decision's age on the clock: a bound within one
    // interval would make every decision stale before the next cycle.
    std::string message = "--metrics-stale-after (";
    message += server::formatDuration(*options.metricsStaleAfter);
    message += ") must be longer than --evaluation-interval (";
    message += server::formatDuration(options.evaluationInterval);
    message += "): every decision would go stale before the next cycle";
    return core::Error{std::move(message)};
  }
  if (options.metricsReadDeadline) {
    if (options.metricsReadDeadline->count() <= 0) {
      return core::Error{"--metrics-read-deadline must be greater than 0"};
    }
    if (*options.metricsReadDeadline > staleAfterOf(options)) {
      std::string message = "--metrics-read-deadline (";
      message += server::formatDuration(*options.metricsReadDeadline);
      message += ") must not be longer than --metrics-stale-after (";
      message += server::formatDuration(staleAfterOf(options));
      message += "): a read that takes longer can only bring stale metrics";
      return core::Error{std::move(message)};
    }
  }
  if (!std::isfinite(options.statusQps) || options.statusQps < 0 ||
      (options.statusQps > 0 && options.statusQps < 0.001)) {
    return core::Error{"--status-qps must be 0 (unlimited) or a finite rate of at least 0.001"};
  }
  if (options.statusBurst < 1 || options.statusBurst > 100'000) {
    return core::Error{"--status-burst must be between 1 and 100000"};
  }
  if (!std::isfinite(options.kubeQps) || options.kubeQps < 0 || (options.kubeQps > 0 && options.kubeQps < 0.001)) {
    return core::Error{"--kube-qps must be 0 (unlimited) or a finite rate of at least 0.001"};
  }
  if (options.kubeBurst < 1 || options.kubeBurst > 100'000) {
    return core::Error{"--kube-burst must be between 1 and 100000"};
  }
  // gRPC takes milliseconds as an int; under a second, pings would be most of the traffic.
  if (options.grpcKeepaliveTime < std::chrono::seconds(1) || options.grpcKeepaliveTime > std::chrono::hours(24)) {
    return core::Error{"--grpc-keepalive-time must be between 1s and 24h"};
  }
  if (options.grpcKeepaliveTimeout < std::chrono::seconds(1) ||
      options.grpcKeepaliveTimeout > std::chrono::hours(24)) {
    return core::Error{"--grpc-keepalive-timeout must be between 1s and 24h"};
  }
  if (options.grpcMaxStreamsPerConnection < 1) {
    return core::Error{"--grpc-max-streams-per-connection must be at least 1"};
  }
  return core::Ok{};
}

std::chrono::milliseconds staleAfterOf(const ServeOptions& options) {
  return options.metricsStaleAfter.value_or(3 * options.evaluationInterval);
}

std::chrono::milliseconds readDeadlineOf(const ServeOptions& options) {
  return options.metricsReadDeadline.value_or(
      server::DeadlineMetricSource::defaultDeadline(options.evaluationInterval, staleAfterOf(options)));
}

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

}  // namespace kubeai::cli

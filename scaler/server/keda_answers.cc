#include "server/keda_answers.h"

#include <string>
#include <utility>

namespace kubeai::server::detail {
namespace {

using externalscaler::GetMetricSpecResponse;
using externalscaler::IsActiveResponse;

// An entry's own message can be long (every validation error of a policy);
// the status keeps its start.
constexpr std::size_t kEntryMessageMaxBytes = 1024;

// The status of a known policy without a decision to serve. The names come
// from the request and passed validation, so they are safe to echo as-is.
grpc::Status unavailable(const PolicyRef& ref, const PolicyEntry& entry) {
  std::string message = "policy " + ref.display();
  if (entry.state == PolicyState::kReady) {
    message += " has no decision yet";
  } else {
    message += " is ";
    message += policyStateName(entry.state);
  }
  if (!entry.message.empty()) {
    message += ": " + escapeForMessage(entry.message, kEntryMessageMaxBytes);
  }
  return {grpc::StatusCode::UNAVAILABLE, std::move(message)};
}

// A ready decision whose metrics are too old: stale on the clock, before the
// evaluation loop says so (it may be waiting on a read, or stuck).
grpc::Status staleOnTime(const PolicyRef& ref, const PolicyEntry& entry, core::TimePoint now,
                         std::chrono::milliseconds bound) {
  std::string message = "policy " + ref.display();
  message += " is stale: ";
  message += staleOnTimeMessage(entry, now, bound);
  return {grpc::StatusCode::UNAVAILABLE, std::move(message)};
}

}  // namespace

grpc::Status notFound(const PolicyRef& ref) {
  return {grpc::StatusCode::NOT_FOUND, "policy " + ref.display() + " not found"};
}

grpc::Status servableNow(const StalenessCheck& staleness, const PolicyRef& ref, const PolicyEntry* entry) {
  if (entry == nullptr) {
    return notFound(ref);
  }
  if (!entry->servable()) {
    return unavailable(ref, *entry);
  }
  if (staleness.bound && entry->metricsReadAt) {
    const core::TimePoint now = staleness.clock();
    if (readTooLongAgo(*entry, now, *staleness.bound)) {
      return staleOnTime(ref, *entry, now, *staleness.bound);
    }
  }
  return grpc::Status::OK;
}

grpc::Status answerIsActive(const StalenessCheck& staleness, const PolicyRef& ref, const PolicyEntry* entry,
                            IsActiveResponse& out) {
  grpc::Status status = servableNow(staleness, ref, entry);
  if (status.ok()) {
    out.set_result(entry->active());
  }
  return status;
}

grpc::Status answerMetricSpec(const StalenessCheck& /*staleness*/, const PolicyRef& ref, const PolicyEntry* entry,
                              GetMetricSpecResponse& out) {
  if (entry == nullptr) {
    return notFound(ref);
  }
  auto* spec = out.add_metricspecs();
  spec->set_metricname(ref.metricName());
  spec->set_targetsize(1);
  spec->set_targetsizefloat(1.0);
  return grpc::Status::OK;
}

bool sameAnswer(const IsActiveResponse& a, const IsActiveResponse& b) { return a.result() == b.result(); }

bool sameAnswer(const GetMetricSpecResponse& a, const GetMetricSpecResponse& b) {
  if (a.metricspecs_size() != b.metricspecs_size()) {
    return false;
  }
  for (int i = 0; i < a.metricspecs_size(); ++i) {
    const auto& x = a.metricspecs(i);
    const auto& y = b.metricspecs(i);
    if (x.metricname() != y.metricname() || x.targetsize() != y.targetsize() ||
        x.targetsizefloat() != y.targetsizefloat()) {
      return false;
    }
  }
  return true;
}

grpc::Status invalidArgument(const core::Error& error) { return {grpc::StatusCode::INVALID_ARGUMENT, error.message}; }

}  // namespace kubeai::server::detail

#include "kube/scale_object.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace kubeai::kube::detail {
namespace {

using json = nlohmann::json;

// `object`'s `field`: `absent` when missing or null, the count when an int32
// >= 0, else an error naming `owner`'s `path` and the value.
core::Result<std::int32_t> replicaCount(const json& object, const char* field, std::int32_t absent,
                                        std::string_view owner, std::string_view path) {
  const auto value = object.find(field);
  if (value == object.end() || value->is_null()) {
    return absent;
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());
  if (value->is_number_unsigned() && value->get<std::uint64_t>() <= kMax) {
    return static_cast<std::int32_t>(value->get<std::uint64_t>());
  }
  std::string message = "the ";
  message += owner;
  message += "'s ";
  message += path;
  message += " ";
  message += value->dump(-1, ' ', false, json::error_handler_t::replace);
  message += " is not an integer from 0 to 2147483647";
  return core::Error{std::move(message)};
}

}  // namespace

core::Result<std::int32_t> parseScaleReplicas(std::string_view body) {
  const json scale = json::parse(body, nullptr, false);
  if (scale.is_discarded() || !scale.is_object()) {
    return core::Error{"the response is not a JSON object"};
  }
  // Not status.replicas: during a rolling update it counts the surge pods
  // (13 for a Deployment of 10 with maxSurge 30 %), and a recommendation
  // anchored on it would publish the surge as the new size at every rollout.
  const auto spec = scale.find("spec");
  if (spec == scale.end() || spec->is_null()) {
    return std::int32_t{0};
  }
  if (!spec->is_object()) {
    return core::Error{"the Scale's spec is not an object"};
  }
  return replicaCount(*spec, "replicas", 0, "Scale", "spec.replicas");
}

core::Result<WorkloadReplicas> parseWorkloadReplicas(std::string_view body, std::string_view kind) {
  const json workload = json::parse(body, nullptr, false);
  if (workload.is_discarded() || !workload.is_object()) {
    return core::Error{"the response is not a JSON object"};
  }
  // A Deployment or StatefulSet always has a spec (its selector and pod
  // template are required): without one this is no such object.
  const auto spec = workload.find("spec");
  if (spec == workload.end() || !spec->is_object()) {
    std::string message = "the ";
    message += kind;
    message += " has no spec object";
    return core::Error{std::move(message)};
  }
  // spec.replicas, as /scale gives it: never status.replicas, which counts a
  // rolling update's surge pods.
  auto replicas = replicaCount(*spec, "replicas", 1, kind, "spec.replicas");
  if (!replicas.ok()) {
    return replicas.error();
  }
  WorkloadReplicas out;
  out.replicas = replicas.value();
  const auto status = workload.find("status");
  if (status == workload.end() || status->is_null()) {
    return out;  // not reconciled yet: nothing ready
  }
  if (!status->is_object()) {
    std::string message = "the ";
    message += kind;
    message += "'s status is not an object";
    return core::Error{std::move(message)};
  }
  auto ready = replicaCount(*status, "readyReplicas", 0, kind, "status.readyReplicas");
  if (!ready.ok()) {
    return ready.error();
  }
  out.readyReplicas = ready.value();
  return out;
}

}  // namespace kubeai::kube::detail

#include "kube/scale_object.h"

#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace kubeai::kube::detail {

core::Result<std::int32_t> parseScaleReplicas(std::string_view body) {
  using json = nlohmann::json;
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
  const auto replicas = spec->find("replicas");
  if (replicas == spec->end() || replicas->is_null()) {
    return std::int32_t{0};
  }
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int32_t>::max());
  if (replicas->is_number_unsigned() && replicas->get<std::uint64_t>() <= kMax) {
    return static_cast<std::int32_t>(replicas->get<std::uint64_t>());
  }
  std::string message = "the Scale's spec.replicas ";
  message += replicas->dump(-1, ' ', false, json::error_handler_t::replace);
  message += " is not an integer from 0 to 2147483647";
  return core::Error{std::move(message)};
}

}  // namespace kubeai::kube::detail

// A policy's .status as the API holds it (what an earlier process, another
// replica or a person wrote), read back by the status writer and the restart
// seed: kube::parseApiStatus(statusJson), kube::seedFromApiStatus. The first
// 8 bytes are the policy's generation. Checks: an object is always read (a
// status that is not an object is refused, never thrown on); written back as
// the merge patch we send (statusMergePatch) and read again it is stable (the
// first write rounds metrics to cents, a second changes nothing); a seed only
// comes from a status of this generation, with at most one model per slot and
// no negative start-up time or panic replicas.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/policy_status.h"
#include "kube/status_seed.h"

namespace {

using kubeai::kube::PolicyStatus;

// What statusMergePatch sends as the status, read back as the API would hold it.
std::optional<PolicyStatus> writtenAndRead(const PolicyStatus& status) {
  const nlohmann::json patch = nlohmann::json::parse(kubeai::kube::statusMergePatch(status));
  return kubeai::kube::parseApiStatus(patch.at("status").dump());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < sizeof(std::int64_t)) {
    return 0;
  }
  std::int64_t generation = 0;
  std::memcpy(&generation, data, sizeof generation);
  const std::string_view text(reinterpret_cast<const char*>(data + sizeof generation), size - sizeof generation);

  const std::optional<PolicyStatus> status = kubeai::kube::parseApiStatus(text);
  // The seed four's slots: a model of any other metric is skipped.
  const kubeai::core::MetricsSpec metrics;
  const auto seed = kubeai::kube::seedFromApiStatus(status, generation, metrics);
  if (seed) {
    KUBEAI_FUZZ_CHECK(status && status->observedGeneration == generation && generation >= 1 &&
                          status->desiredReplicas && seed->desiredReplicas == *status->desiredReplicas &&
                          seed->desiredReplicas >= 0 && seed->maxPanicReplicas >= 0 &&
                          seed->forecastModels.size() <= kubeai::core::kMetricSlotCount &&
                          (!seed->measuredStartup || seed->measuredStartup->count() >= 0),
                      std::string(text));
  }
  const nlohmann::json body = nlohmann::json::parse(text, nullptr, false);
  if (!body.is_discarded() && (body.is_object() || body.is_null())) {
    KUBEAI_FUZZ_CHECK(status.has_value(), std::string(text));
  }
  if (!status) {
    return 0;
  }
  const std::optional<PolicyStatus> once = writtenAndRead(*status);
  KUBEAI_FUZZ_CHECK(once.has_value(), kubeai::kube::statusMergePatch(*status));
  const std::optional<PolicyStatus> twice = writtenAndRead(*once);
  KUBEAI_FUZZ_CHECK(twice.has_value() && *twice == *once, kubeai::kube::statusMergePatch(*once));
  return 0;
}

// A target's Scale (GET .../deployments/NAME/scale): the current replicas,
// kube::detail::parseScaleReplicas. Checks: replicas are never negative; an
// accepted count written back as a Scale reads the same; a refused one says
// so in a message (never a guess, never a throw).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/scale_object.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto replicas = kubeai::kube::detail::parseScaleReplicas(body);
  if (!replicas.ok()) {
    KUBEAI_FUZZ_CHECK(!replicas.error().message.empty(), std::string(body));
    return 0;
  }
  KUBEAI_FUZZ_CHECK(replicas.value() >= 0, std::string(body));
  const std::string written = R"({"kind":"Scale","apiVersion":"autoscaling/v1","spec":{"replicas":)" +
                              std::to_string(replicas.value()) + "}}";
  const auto again = kubeai::kube::detail::parseScaleReplicas(written);
  KUBEAI_FUZZ_CHECK(again.ok() && again.value() == replicas.value(), written);
  return 0;
}

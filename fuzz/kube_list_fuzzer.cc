// A page of the policy list (GET .../aiinferenceautoscalerpolicies?limit=500):
// kube::detail::decodeListPage, as the policy watcher reads it. Checks: a page
// is read or refused, never thrown on, never half-read; every item is a valid
// policy under its own name or refused with a message, and a status kept from
// it is one the status writer reads; a refused page says why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/watch_decoding.h"
#include "watched_policy_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto page = kubeai::kube::detail::decodeListPage(body);
  if (!page.ok()) {
    KUBEAI_FUZZ_CHECK(!page.error().message.empty(), std::string(body));
    return 0;
  }
  for (const auto& item : page.value().items) {
    kubeai::fuzz::checkDecodedPolicy(item);
  }
  return 0;
}

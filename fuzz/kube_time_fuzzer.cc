// The API's timestamps (lastScaleTime, a Lease's renewTime, a condition's
// lastTransitionTime, an ExecCredential's expirationTimestamp):
// kube::parseTime and kube::parseExpiryTime. Checks: an accepted text has
// digits where RFC 3339 has them; an accepted time written back
// (formatMicroTime) reads the same to the microsecond; an expiry agrees
// with parseTime wherever parseTime answers.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/client/kube_time.h"

namespace {

bool digitsWhereRfc3339HasThem(std::string_view text) {
  for (const std::size_t pos : {0U, 1U, 2U, 3U, 5U, 6U, 8U, 9U, 11U, 12U, 14U, 15U, 17U, 18U}) {
    if (pos >= text.size() || text[pos] < '0' || text[pos] > '9') {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto time = kubeai::kube::parseTime(text);
  const auto expiry = kubeai::kube::parseExpiryTime(text);
  if (time) {
    KUBEAI_FUZZ_CHECK(digitsWhereRfc3339HasThem(text), std::string(text));
    KUBEAI_FUZZ_CHECK(expiry && *expiry == *time, std::string(text));
    const std::string written = kubeai::kube::formatMicroTime(*time);
    const auto again = kubeai::kube::parseTime(written);
    KUBEAI_FUZZ_CHECK(again && *again == std::chrono::floor<std::chrono::microseconds>(*time),
                      std::string(text) + " -> " + written);
    (void)kubeai::kube::formatTime(*time);
  } else if (expiry) {
    // Only a valid time after the representable range reads as "never".
    KUBEAI_FUZZ_CHECK(*expiry == kubeai::core::TimePoint::max(), std::string(text));
    KUBEAI_FUZZ_CHECK(digitsWhereRfc3339HasThem(text), std::string(text));
  }
  return 0;
}

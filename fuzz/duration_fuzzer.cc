// The duration flags (--interval, --metrics-stale-after, --reaction-time...):
// cli::parseDuration. Checks: an accepted duration is within [0, a week], and
// written back as "<n>ms" it reads the same.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/duration.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = kubeai::cli::parseDuration(text);
  if (!parsed.ok()) {
    KUBEAI_FUZZ_CHECK(!parsed.error().message.empty(), std::string(text));
    return 0;
  }
  const std::chrono::milliseconds value = parsed.value();
  KUBEAI_FUZZ_CHECK(value.count() >= 0 && value <= std::chrono::hours(24 * 7), std::to_string(value.count()));
  const std::string written = std::to_string(value.count()) + "ms";
  const auto again = kubeai::cli::parseDuration(written);
  KUBEAI_FUZZ_CHECK(again.ok() && again.value() == value, written);
  return 0;
}

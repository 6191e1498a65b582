#include "cli/duration.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

namespace kubeai::cli {

core::Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string chains.
  std::string quoted = "\"";
  quoted.append(text.substr(0, 64));
  quoted += '"';
  if (text.empty()) {
    return core::Error{"empty duration (use e.g. 500ms, 15s, 2m)"};
  }
  double totalMs = 0.0;
  std::string_view rest = text;
  while (!rest.empty()) {
    double value = 0.0;
    const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
    if (error != std::errc() || end == rest.data() || value < 0.0 || !std::isfinite(value)) {
      return core::Error{"invalid duration " + quoted + " (use e.g. 500ms, 15s, 2m)"};
    }
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
    double unitMs = 0.0;
    if (rest.rfind("ms", 0) == 0) {
      unitMs = 1.0;
      rest.remove_prefix(2);
    } else if (rest.rfind("s", 0) == 0) {
      unitMs = 1000.0;
      rest.remove_prefix(1);
    } else if (rest.rfind("m", 0) == 0) {
      unitMs = 60'000.0;
      rest.remove_prefix(1);
    } else if (rest.rfind("h", 0) == 0) {
      unitMs = 3'600'000.0;
      rest.remove_prefix(1);
    } else {
      return core::Error{"invalid duration " + quoted + ": a unit is required (ms, s, m or h)"};
    }
    totalMs += value * unitMs;
  }
  // A week is far beyond any interval this server has; it keeps the cast safe.
  if (totalMs > 7.0 * 24 * 3'600'000.0) {
    return core::Error{"invalid duration " + quoted + ": longer than a week"};
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(totalMs)));
}

}  // namespace kubeai::cli

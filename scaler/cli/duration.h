#pragma once

#include <chrono>
#include <string_view>

#include "core/result.h"

namespace kubeai::cli {

// Parses a duration flag: a non-negative integer or decimal followed by a unit,
// "ms", "s", "m" or "h" ("500ms", "15s", "1.5s", "2m"); several terms may be
// joined as Go's time.ParseDuration allows ("1m30s"). A bare number is refused:
// the unit is what makes "15" unambiguous.
core::Result<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace kubeai::cli

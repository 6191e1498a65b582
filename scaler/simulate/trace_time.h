#pragma once

// The times of a demand trace (demand.h) and of a workload's Prometheus range.

#include <cstdint>
#include <optional>
#include <string_view>

namespace kubeai::simulate {

// A trace time as microseconds since the Unix epoch: "YYYY-MM-DD HH:MM:SS[.f]"
// or RFC 3339 ("2023-11-16T18:17:03.97Z", "...+01:00"); no offset means UTC.
// Years 0001-9999; digits beyond microseconds are truncated. Shared with the
// workload's prometheus start/end check.
std::optional<std::int64_t> parseTimestampMicros(std::string_view text);

namespace detail {
inline constexpr std::int64_t kMicrosPerSecond = 1'000'000;
}  // namespace detail

}  // namespace kubeai::simulate

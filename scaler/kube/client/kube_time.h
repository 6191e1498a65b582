#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/history.h"

// The API's time formats, for the client (exec credentials' expiry) and the
// adapters (status, Events, Leases).
namespace kubeai::kube {

// RFC 3339 in UTC with seconds ("2026-11-28T01:00:00Z"), as metav1.Time.
std::string formatTime(core::TimePoint time);
// With microseconds ("2026-11-28T01:00:00.000000Z"), as metav1.MicroTime.
std::string formatMicroTime(core::TimePoint time);
// Either of the above, or any RFC 3339 time with an offset; nullopt if not one.
std::optional<core::TimePoint> parseTime(std::string_view text);

}  // namespace kubeai::kube

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
// Either of the above, or any RFC 3339 time with an offset; nullopt if not
// one, or if it is outside what a core::TimePoint holds (nanoseconds since
// 1970 in 64 bits: about 1678-09-22 to 2262-04-11), rather than a wrapped
// time ("9999-12-31T23:59:59Z" is not a time in 1816). A caller that reads
// nullopt for a Lease's renewTime falls back on when it saw the record change.
std::optional<core::TimePoint> parseTime(std::string_view text);
// As parseTime, for an expiry: a valid time after the representable range is
// core::TimePoint::max(), "never expires" (an ExecCredential's
// expirationTimestamp of 9999-12-31 is not expired). One before the range is
// nullopt like a malformed one. max() must not have anything added to it.
std::optional<core::TimePoint> parseExpiryTime(std::string_view text);

}  // namespace kubeai::kube

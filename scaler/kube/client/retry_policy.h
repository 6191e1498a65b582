#pragma once

// When KubeClient::request sends a request again by itself: client-go's
// rest/request.go (checkWait, retryAfterSeconds, maxRetries 10), narrowed to
// what is safe to send twice. Pure: no clock, no I/O.

#include <chrono>
#include <optional>
#include <string_view>

namespace kubeai::kube::detail {

// client-go's default Request.maxRetries: after this many retries the last
// answer is returned as it is.
inline constexpr int kDefaultMaxRetries = 10;
// The server's Retry-After is taken within these bounds: 0 would retry in a
// hot loop, and an hour would outlive any caller's deadline anyway.
inline constexpr std::chrono::seconds kMinRetryWait{1};
inline constexpr std::chrono::seconds kMaxRetryWait{60};

// A Retry-After header's value in whole seconds, as client-go reads it
// (strconv.Atoi): digits only, else nullopt (an HTTP-date is not honoured, as
// in client-go; the API server always sends seconds).
std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value);

// How long to wait before sending the request again, or nullopt to return the
// answer to the caller. As client-go, only an answer carrying Retry-After is
// retried, and only a 429 or a 5xx. Unlike client-go (which resends any
// method), a 5xx is retried for a GET only: a POST, PUT, PATCH or DELETE
// answered 5xx may have been carried out. A 429 is retried whatever the
// method: the server (max-in-flight or priority and fairness) refused it
// before acting on it. The wait is Retry-After within [kMinRetryWait, kMaxRetryWait].
std::optional<std::chrono::seconds> retryWait(std::string_view method, long status,
                                              std::optional<std::chrono::seconds> retryAfter);

}  // namespace kubeai::kube::detail

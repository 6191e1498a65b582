#include "kube/client/retry_policy.h"

#include <algorithm>

namespace kubeai::kube::detail {

std::optional<std::chrono::seconds> parseRetryAfter(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  if (value.empty()) {
    return std::nullopt;
  }
  // Saturates instead of overflowing: a huge number still means "wait long".
  constexpr std::chrono::seconds::rep kSaturated = 999'999'999;
  std::chrono::seconds::rep seconds = 0;
  for (const char c : value) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    seconds = std::min(kSaturated, seconds * 10 + (c - '0'));
  }
  return std::chrono::seconds(seconds);
}

std::optional<std::chrono::seconds> retryWait(std::string_view method, long status,
                                              std::optional<std::chrono::seconds> retryAfter) {
  if (!retryAfter) {
    return std::nullopt;
  }
  const bool tooMany = status == 429;
  const bool serverError = status >= 500 && status <= 599 && method == "GET";
  if (!tooMany && !serverError) {
    return std::nullopt;
  }
  return std::clamp(*retryAfter, kMinRetryWait, kMaxRetryWait);
}

}  // namespace kubeai::kube::detail

#pragma once

#include <chrono>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

// Internal to kubeai::kube (source-only): what the adapters share about the
// API's answers.
namespace kubeai::kube::detail {

// A metav1.Status from an error answer, or what could be read of one.
struct ApiStatus {
  long code = 0;           // Status.code, else the HTTP status
  std::string reason;      // "NotFound", "Expired", "TooManyRequests"
  std::string message;     // the server's words; may be empty
  // details.retryAfterSeconds when positive, at most kMaxRetryAfter: the
  // server's number is not trusted to be sane (a huge one would overflow a
  // duration); callers clamp further to their own back-off bounds.
  std::optional<std::chrono::milliseconds> retryAfter;

  // "HTTP 503: etcd is down" (or "HTTP 503" without a message).
  [[nodiscard]] std::string describe() const;
};

// The most any answer's retryAfterSeconds is taken to mean.
inline constexpr std::chrono::seconds kMaxRetryAfter{3600};

// Reads a Status body; httpStatus is used when the body does not say.
ApiStatus parseApiStatus(long httpStatus, std::string_view body);
// The same from an already parsed Status (a watch ERROR event's object), so
// that it need not be dumped and parsed again (a name of its own: a
// std::string converts to both string_view and json). Never throws.
ApiStatus parseApiStatusJson(long httpStatus, const nlohmann::json& object);

// A failed request for errors and logs: "POST /api/v1/namespaces/NS/events:
// HTTP 403: <the server's message>", or the start of a body that is not a
// Status (a proxy's page).
std::string describeFailure(std::string_view method, std::string_view path, long httpStatus, std::string_view body);

// For a query value (a continue token is base64: '+', '/', '=').
std::string percentEncode(std::string_view text);

}  // namespace kubeai::kube::detail

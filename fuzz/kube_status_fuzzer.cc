// A failed request's answer (metav1.Status, or a proxy's page in its place),
// as every Kubernetes adapter reads it: kube::detail::parseApiStatus and
// describeFailure. The first byte picks the HTTP status. Checks: the code is
// the body's int32 code or the HTTP status; retryAfter is within
// [1 s, kMaxRetryAfter]; the text and the parsed-object entry points agree.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/api_status.h"

namespace {

constexpr long kStatuses[] = {400, 401, 403, 404, 409, 410, 422, 429, 500, 503, 504, 0};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  namespace detail = kubeai::kube::detail;
  const long httpStatus = kStatuses[data[0] % std::size(kStatuses)];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const detail::ApiStatus status = detail::parseApiStatus(httpStatus, body);
  KUBEAI_FUZZ_CHECK(status.code == httpStatus || (status.code > 0 && status.code <= INT32_MAX), std::string(body));
  if (status.retryAfter) {
    KUBEAI_FUZZ_CHECK(*status.retryAfter >= std::chrono::seconds(1) && *status.retryAfter <= detail::kMaxRetryAfter,
                      std::string(body));
  }
  const std::string described = status.describe();
  KUBEAI_FUZZ_CHECK(described.rfind("HTTP " + std::to_string(status.code), 0) == 0, described);

  if (const auto object = nlohmann::json::parse(body, nullptr, false); !object.is_discarded()) {
    const detail::ApiStatus fromObject = detail::parseApiStatusJson(httpStatus, object);
    KUBEAI_FUZZ_CHECK(fromObject.code == status.code && fromObject.reason == status.reason &&
                          fromObject.message == status.message && fromObject.retryAfter == status.retryAfter,
                      std::string(body));
  }
  const std::string failure = detail::describeFailure("GET", "/apis/x", httpStatus, body);
  KUBEAI_FUZZ_CHECK(failure.rfind("GET /apis/x: HTTP " + std::to_string(httpStatus), 0) == 0, failure);
  return 0;
}

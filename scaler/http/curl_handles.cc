#include "http/curl_handles.h"

#include <mutex>
#include <string>

namespace kubeai::http {

core::Status initCurlOnce() {
  static std::once_flag once;
  static CURLcode code = CURLE_OK;
  std::call_once(once, [] { code = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (code != CURLE_OK) {
    std::string message = "libcurl initialisation failed: ";
    message += curl_easy_strerror(code);
    return core::Error{message};
  }
  return core::Ok{};
}

std::size_t appendToBoundedBody(char* data, std::size_t size, std::size_t count, void* body) noexcept {
  auto* bounded = static_cast<BoundedBody*>(body);
  const std::size_t bytes = size * count;
  if (bounded->data.size() + bytes > bounded->limit) {
    bounded->tooLarge = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  try {
    bounded->data.append(data, bytes);
  } catch (...) {
    return 0;
  }
  return bytes;
}

}  // namespace kubeai::http

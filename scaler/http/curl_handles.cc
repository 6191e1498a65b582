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

}  // namespace kubeai::http

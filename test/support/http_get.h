#pragma once

// One HTTP GET with libcurl's easy interface, for test harnesses (readiness
// probes, Prometheus queries): independent of the client under test.
// Link CURL::libcurl.

#include <curl/curl.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace kubeai::testing {

struct HttpGetOptions {
  std::chrono::milliseconds timeout{5000};
  std::string user;  // basic auth when not empty
  std::string password;
  std::string caFile;
  bool insecure = false;
};

struct HttpGetResult {
  long status = 0;      // 0 when the transfer failed
  std::string body;
  std::string error;    // curl's message when the transfer failed
};

inline HttpGetResult httpGet(const std::string& url, const HttpGetOptions& options = {}) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  struct Deleter {
    void operator()(CURL* handle) const noexcept { curl_easy_cleanup(handle); }
  };
  const std::unique_ptr<CURL, Deleter> easy(curl_easy_init());
  HttpGetResult result;
  if (!easy) {
    result.error = "curl_easy_init failed";
    return result;
  }
  auto append = +[](char* data, std::size_t size, std::size_t count, void* user) -> std::size_t {
    static_cast<std::string*>(user)->append(data, size * count);
    return size * count;
  };
  curl_easy_setopt(easy.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy.get(), CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &result.body);
  if (!options.user.empty()) {
    curl_easy_setopt(easy.get(), CURLOPT_USERNAME, options.user.c_str());
    curl_easy_setopt(easy.get(), CURLOPT_PASSWORD, options.password.c_str());
  }
  if (!options.caFile.empty()) {
    curl_easy_setopt(easy.get(), CURLOPT_CAINFO, options.caFile.c_str());
  }
  if (options.insecure) {
    curl_easy_setopt(easy.get(), CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy.get(), CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const CURLcode code = curl_easy_perform(easy.get());
  if (code != CURLE_OK) {
    result.error = curl_easy_strerror(code);
    return result;
  }
  curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &result.status);
  return result;
}

// Percent-encodes a query parameter value.
inline std::string urlEncode(const std::string& text) {
  std::string out;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4U];
      out += kHex[byte & 0x0FU];
    }
  }
  return out;
}

}  // namespace kubeai::testing

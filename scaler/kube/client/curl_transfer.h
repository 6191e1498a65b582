#pragma once

// What every libcurl transfer to the API server is set up with: its URL, TLS,
// credentials and headers; and how one's outcome is read back (source-only:
// kube_client.cc).

#include <curl/curl.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/curl_handles.h"
#include "kube/client/credentials.h"
#include "kube/client/kube_client.h"
#include "kube/client/kube_endpoint.h"

namespace kubeai::kube::detail {

// One API server's settings, applied to each easy handle before its transfer.
class TransferSetup {
 public:
  // Fails only out of memory (CURLOPT_CONNECT_TO's list).
  static core::Result<TransferSetup> create(KubeConfig config, Endpoint endpoint);

  [[nodiscard]] const KubeConfig& config() const noexcept { return config_; }
  [[nodiscard]] const Endpoint& endpoint() const noexcept { return endpoint_; }

  // Accept, Expect, the Content-Type when there is one, the Host header for tls-server-name.
  [[nodiscard]] core::Result<http::HeaderList> buildHeaders(std::string_view contentType) const;

  // The options every transfer has: URL, TLS, credentials, headers. `headers`
  // and `errorBuffer` must outlive the transfer.
  void configure(CURL* easy, const std::string& path, const Credential& credential, curl_slist* headers,
                 char* errorBuffer) const;

 private:
  TransferSetup(KubeConfig config, Endpoint endpoint);

  KubeConfig config_;
  Endpoint endpoint_;
  // CURLOPT_CONNECT_TO takes a curl_slist that must live as long as the handles use it.
  http::HeaderList connectTo_;
};

// Appends `line` to `list`; false when out of memory (the list unchanged).
bool appendHeader(http::HeaderList& list, const std::string& line);

// The answer's Retry-After header in seconds; nullopt when absent or not seconds.
std::optional<std::chrono::seconds> readRetryAfter(CURL* easy);

// "GET https://server/path", for messages.
std::string methodAndUrl(std::string_view method, const std::string& display, const std::string& path);

// `what`, curl's words for `code`, and the error buffer's detail when there is one.
core::Error curlError(const std::string& what, CURLcode code, const char* errorBuffer);

}  // namespace kubeai::kube::detail

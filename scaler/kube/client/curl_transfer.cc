#include "kube/client/curl_transfer.h"

#include <utility>

#include "kube/client/retry_policy.h"

namespace kubeai::kube::detail {
namespace {

constexpr const char* kUserAgent = "kubeai-scaler";

}  // namespace

TransferSetup::TransferSetup(KubeConfig config, Endpoint endpoint)
    : config_(std::move(config)), endpoint_(std::move(endpoint)) {}

core::Result<TransferSetup> TransferSetup::create(KubeConfig config, Endpoint endpoint) {
  TransferSetup setup(std::move(config), std::move(endpoint));
  if (!setup.endpoint_.connectTo.empty()) {
    if (!appendHeader(setup.connectTo_, setup.endpoint_.connectTo)) {
      return core::Error{"out of memory"};
    }
  }
  return setup;
}

core::Result<http::HeaderList> TransferSetup::buildHeaders(std::string_view contentType) const {
  http::HeaderList list;
  // "Expect:" stops curl from waiting for "100 Continue" before a large body.
  bool ok = appendHeader(list, "Accept: application/json") && appendHeader(list, "Expect:");
  if (!contentType.empty()) {
    std::string line = "Content-Type: ";
    line += contentType;
    ok = ok && appendHeader(list, line);
  }
  if (!endpoint_.hostHeader.empty()) {
    ok = ok && appendHeader(list, endpoint_.hostHeader);
  }
  if (!ok) {
    return core::Error{"out of memory building the headers"};
  }
  return list;
}

void TransferSetup::configure(CURL* easy, const std::string& path, const Credential& credential,
                              curl_slist* headers, char* errorBuffer) const {
  std::string url = endpoint_.base;
  url += path;
  curl_easy_setopt(easy, CURLOPT_URL, url.c_str());  // curl copies strings it is given
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errorBuffer);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, kUserAgent);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // the API server does not redirect; a token must not follow one
  if (!endpoint_.connectTo.empty()) {
    // curl does not copy the list: connectTo_ lives as long as the client.
    curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connectTo_.get());
  }
  if (!config_.caData.empty()) {
    curl_blob ca{const_cast<char*>(config_.caData.data()), config_.caData.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca);
  }
  if (config_.insecureSkipTlsVerify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  // An exec plugin's certificate wins over the kubeconfig's, as in client-go.
  const std::string& cert = credential.clientCertData.empty() ? config_.clientCertData : credential.clientCertData;
  const std::string& key = credential.clientCertData.empty() ? config_.clientKeyData : credential.clientKeyData;
  if (!cert.empty()) {
    curl_blob certBlob{const_cast<char*>(cert.data()), cert.size(), CURL_BLOB_COPY};
    curl_blob keyBlob{const_cast<char*>(key.data()), key.size(), CURL_BLOB_COPY};
    curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &certBlob);
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &keyBlob);
    curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (!credential.token.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
    curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, credential.token.c_str());
  }
}

bool appendHeader(http::HeaderList& list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown == nullptr) {
    return false;
  }
  static_cast<void>(list.release());  // now owned by `grown`
  list.reset(grown);
  return true;
}

std::optional<std::chrono::seconds> readRetryAfter(CURL* easy) {
  curl_header* retryAfter = nullptr;
  if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &retryAfter) == CURLHE_OK &&
      retryAfter != nullptr) {
    return parseRetryAfter(retryAfter->value);
  }
  return std::nullopt;
}

std::string methodAndUrl(std::string_view method, const std::string& display, const std::string& path) {
  std::string text(method);
  text += ' ';
  text += display;
  text += path;
  return text;
}

core::Error curlError(const std::string& what, CURLcode code, const char* errorBuffer) {
  std::string message = what;
  message += ": ";
  message += curl_easy_strerror(code);
  if (errorBuffer != nullptr && errorBuffer[0] != '\0') {
    message += ": ";
    message += errorBuffer;
  }
  return core::Error{message};
}

}  // namespace kubeai::kube::detail

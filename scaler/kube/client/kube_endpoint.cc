// The server URL taken apart with curl's URL parser (kube_endpoint.h), and
// the URL as messages may show it (kube_client.h).
#include "kube/client/kube_endpoint.h"

#include <curl/curl.h>

#include <string_view>

#include "http/curl_handles.h"

namespace kubeai::kube {
namespace detail {

using http::CurlString;
using http::UrlHandle;

core::Result<Endpoint> parseServer(const KubeConfig& config) {
  // Never config.server verbatim: messages are logged.
  std::string shown = serverForMessages(config.server);
  auto fail = [&](std::string_view why) {
    std::string message = "kubernetes server ";
    message += '"';
    message += shown;
    message += "\": ";
    message += why;
    return core::Error{message};
  };
  UrlHandle url(curl_url());
  if (!url) {
    return fail("out of memory");
  }
  if (const CURLUcode code = curl_url_set(url.get(), CURLUPART_URL, config.server.c_str(), CURLU_NON_SUPPORT_SCHEME);
      code != CURLUE_OK) {
    return fail(curl_url_strerror(code));
  }
  auto part = [&](CURLUPart which, unsigned flags = 0) -> std::string {
    char* raw = nullptr;
    if (curl_url_get(url.get(), which, &raw, flags) != CURLUE_OK || raw == nullptr) {
      return {};
    }
    const CurlString owned(raw);
    return owned.get();
  };
  Endpoint endpoint;
  const std::string scheme = part(CURLUPART_SCHEME);
  const std::string host = part(CURLUPART_HOST);  // IPv6 comes bracketed
  const std::string explicitPort = part(CURLUPART_PORT);
  // From here on, the parts curl found: scheme://host:port and nothing else.
  shown = scheme;
  shown += "://";
  shown += host;
  if (!explicitPort.empty()) {
    shown += ':';
    shown += explicitPort;
  }
  if (scheme != "https" && scheme != "http") {
    return fail("the scheme must be https (or http)");
  }
  endpoint.https = scheme == "https";
  if (host.empty()) {
    return fail("no host");
  }
  if (!part(CURLUPART_USER).empty() || !part(CURLUPART_PASSWORD).empty() || !part(CURLUPART_OPTIONS).empty()) {
    return fail("credentials (user:password@) are not accepted in the server URL: give the kubeconfig user a "
                "token, a client certificate or an exec plugin");
  }
  if (!part(CURLUPART_QUERY).empty() || !part(CURLUPART_FRAGMENT).empty()) {
    return fail("a query or a fragment is not accepted in the server URL");
  }
  const std::string port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  std::string path = part(CURLUPART_PATH);
  while (!path.empty() && path.back() == '/') {
    path.pop_back();  // a server behind a path prefix (Rancher): "https://host/k8s/clusters/c-1"
  }
  endpoint.display = scheme;
  endpoint.display += "://";
  endpoint.display += host;
  if (!explicitPort.empty()) {
    endpoint.display += ':';
    endpoint.display += explicitPort;
  }
  endpoint.display += path;
  if (config.tlsServerName.empty() || !endpoint.https) {
    endpoint.base = endpoint.display;
    return endpoint;
  }
  endpoint.base = "https://";
  endpoint.base += config.tlsServerName;
  endpoint.base += ':';
  endpoint.base += port;
  endpoint.base += path;
  endpoint.connectTo = config.tlsServerName;
  endpoint.connectTo += ':';
  endpoint.connectTo += port;
  endpoint.connectTo += ':';
  endpoint.connectTo += host;
  endpoint.connectTo += ':';
  endpoint.connectTo += port;
  endpoint.hostHeader = "Host: ";
  endpoint.hostHeader += host;
  if (!explicitPort.empty()) {
    endpoint.hostHeader += ':';
    endpoint.hostHeader += explicitPort;
  }
  return endpoint;
}

}  // namespace detail

// For a URL curl cannot parse: everything up to the last '@' goes (a
// password may hold '/' or '?'), then everything from the first '/', '?'
// or '#'.
std::string serverForMessages(std::string_view server) {
  std::string out;
  if (const std::size_t sep = server.find("://"); sep != std::string_view::npos) {
    out = server.substr(0, sep + 3);
    server.remove_prefix(sep + 3);
  }
  if (const std::size_t at = server.rfind('@'); at != std::string_view::npos) {
    server.remove_prefix(at + 1);
  }
  out += server.substr(0, server.find_first_of("/?#"));
  return out;
}

}  // namespace kubeai::kube

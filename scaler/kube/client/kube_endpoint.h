#pragma once

// Where KubeClient's requests go, from KubeConfig's server and tls-server-name
// (source-only: kube_client.cc and its tests).

#include <string>

#include "core/result.h"
#include "kube/client/kube_client.h"

namespace kubeai::kube::detail {

// Where requests go. With tls-server-name the URL names that host (so curl
// sends it as SNI and verifies the certificate against it), CURLOPT_CONNECT_TO
// sends the connection to the real server, and the Host header names the real
// server again, as client-go does (tls.Config.ServerName changes TLS only).
struct Endpoint {
  std::string base;        // what paths are appended to
  std::string display;     // scheme://host:port and path prefix, for messages (never user:password@ or a query)
  std::string connectTo;   // "name:port:host:port", or empty
  std::string hostHeader;  // "Host: host:port", or empty
  bool https = false;
};

// Parses config.server (http or https, host, port, a path prefix); refuses
// credentials, a query or a fragment in it. Errors show the server only as
// serverForMessages does.
core::Result<Endpoint> parseServer(const KubeConfig& config);

}  // namespace kubeai::kube::detail

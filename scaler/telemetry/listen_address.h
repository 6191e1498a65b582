#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace kubeai::telemetry {

// Where the HTTP endpoint listens, checked before anything is bound.
//   "0.0.0.0:8080", "127.0.0.1:0"  IPv4 only; "localhost" means 127.0.0.1
//   "[::1]:8080"                   IPv6 only (a specific IPv6 address)
//   "[::]:8080"                    dual stack: IPv6 and IPv4 (as mapped
//                                  addresses) on one socket, IPV6_V6ONLY off
// Host names are not resolved: a probe address must not depend on DNS.
struct ListenAddress {
  std::string host;  // as written back in logs: "127.0.0.1", "::1", "::"
  std::uint16_t port = 0;
  bool ipv6 = false;
  bool dualStack = false;  // "[::]": IPv4 clients too

  // "127.0.0.1:8080", "[::1]:8080".
  [[nodiscard]] std::string text() const;
  // The socket address to bind, its length in `length`.
  [[nodiscard]] sockaddr_storage socketAddress(socklen_t& length) const;
};

// Throws std::invalid_argument naming `address` and what is wrong with it.
ListenAddress parseListenAddress(std::string_view address);

}  // namespace kubeai::telemetry

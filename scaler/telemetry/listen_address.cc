#include "telemetry/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <stdexcept>

namespace kubeai::telemetry {

std::string ListenAddress::text() const {
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

sockaddr_storage ListenAddress::socketAddress(socklen_t& length) const {
  sockaddr_storage storage{};
  if (ipv6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
    address->sin6_family = AF_INET6;
    address->sin6_port = htons(port);
    inet_pton(AF_INET6, host.c_str(), &address->sin6_addr);  // checked by parseListenAddress
    length = sizeof(sockaddr_in6);
  } else {
    auto* address = reinterpret_cast<sockaddr_in*>(&storage);
    address->sin_family = AF_INET;
    address->sin_port = htons(port);
    inet_pton(AF_INET, host.c_str(), &address->sin_addr);
    length = sizeof(sockaddr_in);
  }
  return storage;
}

ListenAddress parseListenAddress(std::string_view address) {
  const auto fail = [&](std::string_view why) {
    return std::invalid_argument("metrics address \"" + std::string(address) + "\": " + std::string(why));
  };
  ListenAddress listen;
  std::string host;
  std::string_view portText;
  if (!address.empty() && address.front() == '[') {
    const std::size_t close = address.find(']');
    if (close == std::string_view::npos || close < 2) throw fail("an IPv6 address goes in brackets, e.g. [::1]:8080");
    if (close + 1 >= address.size() || address[close + 1] != ':') throw fail("expected [IPV6]:PORT, e.g. [::]:8080");
    host = std::string(address.substr(1, close - 1));
    portText = address.substr(close + 2);
    in6_addr parsed{};
    if (inet_pton(AF_INET6, host.c_str(), &parsed) != 1) {
      throw fail("host in brackets must be an IPv6 address such as :: or ::1");
    }
    listen.ipv6 = true;
    listen.dualStack = IN6_IS_ADDR_UNSPECIFIED(&parsed);
  } else {
    const std::size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) throw fail("expected HOST:PORT, e.g. [::]:8080 or 0.0.0.0:8080");
    host = std::string(address.substr(0, colon));
    portText = address.substr(colon + 1);
    if (host.empty()) throw fail("expected HOST:PORT with a host, e.g. [::]:8080 or 0.0.0.0:8080");
    if (host.find(':') != std::string::npos) throw fail("an IPv6 address goes in brackets, e.g. [::1]:8080");
    if (host == "localhost") host = "127.0.0.1";
    in_addr parsed{};
    if (inet_pton(AF_INET, host.c_str(), &parsed) != 1) {
      throw fail("host must be an IPv4 address such as 0.0.0.0, or an IPv6 one in brackets such as [::]");
    }
  }
  unsigned port = 0;
  const auto [end, error] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (portText.empty() || error != std::errc() || end != portText.data() + portText.size() || port > 65535) {
    throw fail("port must be a number from 0 to 65535");
  }
  listen.host = std::move(host);
  listen.port = static_cast<std::uint16_t>(port);
  return listen;
}

}  // namespace kubeai::telemetry

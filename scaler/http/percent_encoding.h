#pragma once

#include <string>
#include <string_view>

namespace kubeai::http {

// RFC 3986 unreserved characters stay, every other byte is %XX: valid in a
// query string and in an application/x-www-form-urlencoded body alike.
std::string percentEncode(std::string_view text);

}  // namespace kubeai::http

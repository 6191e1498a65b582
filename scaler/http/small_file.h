#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.h"

namespace kubeai::http {

// What readSmallFile does with a file longer than its limit.
enum class Oversize { kError, kTruncate };

// A credential or CA file of the HTTP clients, read whole (re-read as it
// rotates, so no caching here), up to `limit` bytes. Errors name what the
// file is for: "<what> <path>: <why>", e.g. "prometheus bearer token file
// /var/run/token: No such file or directory".
core::Result<std::string> readSmallFile(const std::filesystem::path& path, std::string_view what, std::size_t limit,
                                        Oversize oversize = Oversize::kError);

// A bearer token file: read as above, trimmed of surrounding whitespace (as
// Prometheus and client-go do); an empty token is an error.
core::Result<std::string> readTokenFile(const std::filesystem::path& path, std::string_view what, std::size_t limit);

}  // namespace kubeai::http

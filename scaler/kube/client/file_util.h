// Private to kubeai::kube_client: reading credential files (over
// http::readSmallFile, shared with the Prometheus client) and base64.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "core/result.h"

namespace kubeai::kube::detail {

// A token, a CA bundle or a key is far below this: anything bigger is the wrong file.
inline constexpr std::size_t kMaxCredentialFileBytes = 4 * 1024 * 1024;

// The whole file. Errors: "<what> <path>: <why>".
core::Result<std::string> readSmallFile(const std::filesystem::path& path, std::string_view what);

// A bearer token file, trimmed of surrounding whitespace; empty is an error.
core::Result<std::string> readTokenFile(const std::filesystem::path& path, std::string_view what);

// Standard base64 (kubeconfig *-data fields), whitespace ignored; an Error
// "not valid base64" for anything else.
core::Result<std::string> decodeBase64(std::string_view text);

}  // namespace kubeai::kube::detail

#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace kubeai::policy {

// Far above any real manifest (the API server stores objects up to 1.5 MiB).
inline constexpr std::uintmax_t kMaxManifestFileBytes = 16u * 1024u * 1024u;

// Each YAML document of `text` as JSON (see yamlToJson), in order. The outer
// error is the text as a whole ("invalid YAML at line 3, column 5: ..."); an
// inner error is one document that could not be converted (too large, too
// deep). Guards against yaml-cpp's known endless loops. Never throws.
core::Result<std::vector<core::Result<nlohmann::json>>> parseYamlDocuments(std::string_view text);

// The contents of a regular file of at most kMaxManifestFileBytes. Errors:
// "no such file: PATH", "PATH: not a regular file", "PATH: N bytes, larger
// than ...", "cannot read PATH". Refusing devices and FIFOs matters: /dev/zero
// would never end.
core::Result<std::string> readManifestFile(const std::filesystem::path& path);

}  // namespace kubeai::policy

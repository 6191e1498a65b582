#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace kubeai::cli {

struct ValidateOptions {
  std::vector<std::string> paths;  // files, or directories of *.yaml / *.yml / *.json
  std::optional<std::filesystem::path> pluginDir;  // to check algorithm names against
  // serve's sharding flags: with either, each policy's line says whether this
  // shard owns it, from its metadata.labels.
  std::string policySelector{};
  std::string shardName{};
  std::string kubeNamespace{};  // serve's --namespace list: a policy elsewhere is another shard's
};

// One line per policy on `out`: "FILE: NAMESPACE/NAME: ok", or one line per
// error with its field path. Exit 0 when every policy is valid; 2, with a
// summary on `err`, when one is invalid, a file cannot be read, or an argument
// holds no policy at all, or --policy-selector, --shard-name or --namespace
// is refused (serve's checkShardOptions). With any of the three, one more
// line per policy: "owned by shard NAME" (serve's shardNameOf), "not selected
// by --policy-selector \"SEL\": another shard owns it" or "namespace NS not in
// --namespace LIST: another shard owns it" (not errors). A label the API
// server refuses is a warning, an error when --policy-selector names it.
int runValidate(const ValidateOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kubeai::cli

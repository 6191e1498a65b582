// serve's sharding options (--policy-selector, --shard-name, --namespace's
// list) and what follows from them: the shard's name and the Lease's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/serve_command.h"
#include "kube/label_selector.h"
#include "kube/policy_watch_set.h"

namespace kubeai::cli {
namespace {

constexpr std::string_view kDefaultLeaseName = "kubeai-scaler";
// status.shard's maxLength in the CRD.
constexpr std::size_t kMaxDefaultShardName = 1024;

// FNV-1a, 32 bits: a short, stable name for a selector in a Lease's name.
std::uint32_t fnv1a(std::string_view text) {
  std::uint32_t hash = 2166136261U;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return hash;
}

std::string hex8(std::uint32_t hash) {
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string digits(8, '0');
  for (auto it = digits.rbegin(); it != digits.rend(); ++it, hash >>= 4U) {
    *it = kHex[hash & 0xFU];
  }
  return digits;
}

std::string canonicalSelector(const ServeOptions& options) {
  auto selector = kube::LabelSelector::parse(options.policySelector);
  return selector.ok() ? selector.value().text() : options.policySelector;
}

std::string joinedNamespaces(const ServeOptions& options) {
  std::string text;
  for (const std::string& ns : namespacesOf(options)) {
    text += text.empty() ? "" : ",";
    text += ns;
  }
  return text;
}

std::string defaultShardName(const std::string& selector, const std::string& namespaces) {
  if (selector.empty() && namespaces.empty()) {
    return "all";
  }
  std::string name = selector;
  if (!namespaces.empty()) {
    // Shards split by namespace alone, or by namespace and the same selector,
    // are told apart in status.shard.
    name += name.empty() ? "" : " ";
    name += "ns=";
    name += namespaces;
  }
  if (name.size() > kMaxDefaultShardName) {
    // status.shard is at most 1024 characters (the CRD): a longer one would
    // have every status patch refused (422). The head says which selector,
    // the hash of the whole keeps two long ones apart.
    std::string capped = name.substr(0, kMaxDefaultShardName - 13);
    capped += "... #";
    capped += hex8(fnv1a(name));
    return capped;
  }
  return name;
}

}  // namespace

core::Status checkShardOptions(const ServeOptions& options) {
  if (auto selector = kube::LabelSelector::parse(options.policySelector); !selector.ok()) {
    std::string context = "--policy-selector \"";
    context += options.policySelector;
    context += "\"";
    return selector.error().withContext(context);
  }
  if (auto shard = checkShardName(options.shardName); !shard.ok()) {
    return shard;
  }
  if (auto namespaces = kube::parseNamespaceList(options.kubeNamespace); !namespaces.ok()) {
    return namespaces.error().withContext("--namespace");
  }
  return core::Ok{};
}

core::Status checkShardName(const std::string& shardName) {
  if (shardName.empty()) {
    return core::Ok{};
  }
  // A DNS-1123 label is at most 63 characters: far within status.shard's
  // maxLength (1024), so a status patch is never refused for it.
  if (std::string problem = kube::dns1123LabelProblem(shardName); !problem.empty()) {
    std::string message = "--shard-name \"";
    message += shardName;
    message += "\": ";
    message += problem;
    message += " (it names the shard's Lease)";
    return core::Error{std::move(message)};
  }
  return core::Ok{};
}

std::string policySelectorOf(const ServeOptions& options) { return canonicalSelector(options); }

std::string shardNameOf(const ServeOptions& options) {
  if (!options.shardName.empty()) {
    return options.shardName;
  }
  return defaultShardName(canonicalSelector(options), joinedNamespaces(options));
}

std::string leaseNameOf(const ServeOptions& options) {
  if (!options.leaseName.empty()) {
    return options.leaseName;
  }
  std::string name(kDefaultLeaseName);
  if (!options.shardName.empty()) {
    name += "-";
    name += options.shardName;
    return name;
  }
  const std::string selector = canonicalSelector(options);
  const std::string namespaces = joinedNamespaces(options);
  if (!selector.empty() || !namespaces.empty()) {
    // Shards told apart by their selectors or their namespaces alone must
    // not share a Lease: only one of them would write status. Neither is a
    // Lease name; their hash is. '|' is in neither, so no two pairs join alike.
    // A selector alone hashes as before namespaces counted (its Lease kept
    // across an upgrade).
    name += "-shard-";
    name += hex8(fnv1a(namespaces.empty() ? selector : selector + "|" + namespaces));
  }
  return name;
}

std::vector<std::string> namespacesOf(const ServeOptions& options) {
  auto namespaces = kube::parseNamespaceList(options.kubeNamespace);
  return namespaces.ok() ? std::move(namespaces).value() : std::vector<std::string>{};
}

}  // namespace kubeai::cli

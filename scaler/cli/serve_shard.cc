// serve's sharding options (--policy-selector, --shard-name, --namespace's
// list) and what follows from them: the shard's name and the Lease's.
#include <cstdint>
#include <string>
#include <vector>

#include "cli/serve_command.h"
#include "kube/label_selector.h"
#include "kube/policy_watch_set.h"

namespace kubeai::cli {
namespace {

constexpr std::string_view kDefaultLeaseName = "kubeai-scaler";

// FNV-1a, 32 bits: a short, stable name for a selector in a Lease's name.
std::uint32_t fnv1a(std::string_view text) {
  std::uint32_t hash = 2166136261U;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  return hash;
}

std::string canonicalSelector(const ServeOptions& options) {
  auto selector = kube::LabelSelector::parse(options.policySelector);
  return selector.ok() ? selector.value().text() : options.policySelector;
}

}  // namespace

core::Status checkShardOptions(const ServeOptions& options) {
  if (auto selector = kube::LabelSelector::parse(options.policySelector); !selector.ok()) {
    std::string context = "--policy-selector \"";
    context += options.policySelector;
    context += "\"";
    return selector.error().withContext(context);
  }
  if (!options.shardName.empty()) {
    if (std::string problem = kube::dns1123LabelProblem(options.shardName); !problem.empty()) {
      std::string message = "--shard-name \"";
      message += options.shardName;
      message += "\": ";
      message += problem;
      message += " (it names the shard's Lease)";
      return core::Error{std::move(message)};
    }
  }
  if (auto namespaces = kube::parseNamespaceList(options.kubeNamespace); !namespaces.ok()) {
    return namespaces.error().withContext("--namespace");
  }
  return core::Ok{};
}

std::string policySelectorOf(const ServeOptions& options) { return canonicalSelector(options); }

std::string shardNameOf(const ServeOptions& options) {
  if (!options.shardName.empty()) {
    return options.shardName;
  }
  std::string selector = canonicalSelector(options);
  return selector.empty() ? std::string("all") : selector;
}

std::string leaseNameOf(const ServeOptions& options) {
  if (!options.leaseName.empty()) {
    return options.leaseName;
  }
  std::string name(kDefaultLeaseName);
  if (!options.shardName.empty()) {
    name += "-";
    name += options.shardName;
  } else if (const std::string selector = canonicalSelector(options); !selector.empty()) {
    // Shards told apart by their selectors alone must not share a Lease:
    // only one of them would write status. The selector is no Lease name.
    static constexpr std::string_view kHex = "0123456789abcdef";
    std::uint32_t hash = fnv1a(selector);
    std::string digits(8, '0');
    for (auto it = digits.rbegin(); it != digits.rend(); ++it, hash >>= 4U) {
      *it = kHex[hash & 0xFU];
    }
    name += "-shard-";
    name += digits;
  }
  return name;
}

std::vector<std::string> namespacesOf(const ServeOptions& options) {
  auto namespaces = kube::parseNamespaceList(options.kubeNamespace);
  return namespaces.ok() ? std::move(namespaces).value() : std::vector<std::string>{};
}

}  // namespace kubeai::cli

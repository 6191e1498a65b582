#include "cli/validate_command.h"

#include <algorithm>
#include <ostream>

#include "cli/algorithm_setup.h"
#include "cli/exit_codes.h"
#include "core/validation.h"
#include "kube/label_selector.h"
#include "policy/policy_parser.h"
#include "source/prometheus/query_template.h"

namespace kubeai::cli {
namespace {

bool isManifest(const std::filesystem::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

std::vector<std::filesystem::path> expand(const std::string& argument) {
  const std::filesystem::path path(argument);
  std::error_code ec;
  if (!std::filesystem::is_directory(path, ec)) {
    return {path};
  }
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    if (entry.is_regular_file(ec) && isManifest(entry.path())) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string joined(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) {
    text += text.empty() ? "" : ", ";
    text += name;
  }
  return text;
}

}  // namespace

int runValidate(const ValidateOptions& options, std::ostream& out, std::ostream& err) {
  if (options.paths.empty()) {
    err << "error: validate needs at least one FILE\n";
    return kExitUsage;
  }
  auto setup = setUpAlgorithms(options.pluginDir);
  if (!setup.ok()) {
    err << "error: " << setup.error().message << "\n";
    return kExitUsage;
  }
  const core::AlgorithmRegistry& registry = *setup.value().registry;
  auto selector = kube::LabelSelector::parse(options.policySelector);
  if (!selector.ok()) {
    err << "error: --policy-selector \"" << options.policySelector << "\": " << selector.error().message << "\n";
    return kExitUsage;
  }
  const bool sharded = !options.policySelector.empty() || !options.shardName.empty();
  // As serve names the shard (shardNameOf).
  const std::string shard = !options.shardName.empty()         ? options.shardName
                            : !selector.value().empty() ? selector.value().text()
                                                        : std::string("all");

  std::size_t policies = 0;
  std::size_t invalid = 0;
  std::size_t unreadable = 0;
  std::size_t empty = 0;
  for (const std::string& argument : options.paths) {
    const auto files = expand(argument);
    if (files.empty()) {
      out << argument << ": no *.yaml, *.yml or *.json files\n";
    }
    std::size_t found = 0;
    for (const auto& path : files) {
      const std::string file = path.string();
      const policy::PolicyFile parsed = policy::loadPolicyFile(path);
      if (parsed.error) {
        out << file << ": error: " << parsed.error->message << "\n";
        ++unreadable;
        continue;
      }
      found += parsed.policies.size();
      policies += parsed.policies.size();
      if (parsed.policies.empty()) {
        out << file << ": no " << policy::kPolicyKind << " found\n";
      }
      for (const auto& document : parsed.policies) {
        const std::string prefix = file + ": " + document.displayName() + ": ";
        for (const auto& warning : document.warnings) {
          out << prefix << "warning: " << warning.toString() << "\n";
        }
        if (sharded) {
          if (selector.value().matches(document.labels)) {
            out << prefix << "owned by shard " << shard << "\n";
          } else {
            out << prefix << "not selected by --policy-selector \"" << selector.value().text()
                << "\": another shard owns it\n";
          }
        }
        if (document.ok() && !registry.find(document.policy.spec.algorithm.name)) {
          out << prefix << "warning: spec.algorithm.name: unknown algorithm \""
              << document.policy.spec.algorithm.name << "\" (available: " << joined(registry.names())
              << "); MaxRatio will be used\n";
        }
        if (document.ok()) {
          // The algorithm's own check of its parameters (ABI 1.1's
          // validate_parameters), as serve makes it before first use.
          if (const auto algorithm = registry.find(document.policy.spec.algorithm.name)) {
            if (const core::Status accepted = core::checkAlgorithmParameters(document.policy, *algorithm);
                !accepted.ok()) {
              ++invalid;
              out << prefix << accepted.error().message << "\n";
              continue;
            }
          }
          // The policy's own prometheusQuery templates, expanded as serve
          // --prometheus-url does: it refuses a policy whose template does not.
          const auto queries = source::prometheus::policyQueries(document.policy, {});
          if (queries.ok()) {
            out << prefix << "ok\n";
          } else {
            ++invalid;
            out << prefix << queries.error().message << "\n";
          }
          continue;
        }
        ++invalid;
        for (const auto& error : document.errors) {
          out << prefix << error.toString() << "\n";
        }
      }
    }
    // Asked to validate policies, finding none is a mistake (wrong path, wrong file).
    if (found == 0) {
      ++empty;
    }
  }
  if (invalid == 0 && unreadable == 0 && empty == 0) {
    return kExitOk;
  }
  err << "error: " << invalid << " of " << policies << " policies invalid";
  if (unreadable > 0) {
    err << ", " << unreadable << " file(s) unreadable";
  }
  if (empty > 0) {
    err << ", " << empty << " argument(s) without any policy";
  }
  err << "\n";
  return kExitUsage;
}

}  // namespace kubeai::cli

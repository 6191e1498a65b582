#include "cli/validate_command.h"

#include <algorithm>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "cli/algorithm_setup.h"
#include "cli/exit_codes.h"
#include "cli/serve_command.h"
#include "cli/validate_workload.h"
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

// A label the API server would refuse (not a string, a bad key or value):
// an error when --policy-selector needs it (which shard owns the policy
// cannot be said), else a warning (serve --policy-dir never reads labels).
struct LabelProblem {
  std::string text;
  bool needed = false;
};

std::vector<LabelProblem> labelProblems(const policy::PolicyDocument& document, const kube::LabelSelector& selector) {
  const auto needs = [&](const std::string& key) {
    return std::any_of(selector.requirements().begin(), selector.requirements().end(),
                       [&](const kube::LabelRequirement& requirement) {
                         return key.empty() || requirement.key == key;  // "": every label unreadable
                       });
  };
  std::vector<LabelProblem> problems;
  const auto add = [&](const std::string& key, const std::string& problem) {
    const bool needed = needs(key);
    std::string text = key.empty() ? std::string("metadata.labels") : "metadata.labels." + key;
    text += ": ";
    text += problem;
    text += needed ? " (--policy-selector needs it)" : " (the API server refuses it)";
    problems.push_back({std::move(text), needed});
  };
  for (const auto& [key, problem] : document.labelProblems) {
    add(key, problem);
  }
  for (const auto& [key, value] : document.labels) {
    if (std::string problem = kube::labelKeyProblem(key); !problem.empty()) {
      add(key, "key: " + problem);
    } else if (std::string valueProblem = kube::labelValueProblem(value); !valueProblem.empty()) {
      add(key, "value \"" + value + "\": " + valueProblem);
    }
  }
  return problems;
}

// `spec.algorithm.parameters: MaxRatio takes none; ignored: alpha, beta`.
std::string ignoredParametersWarning(const core::ScalingAlgorithm& algorithm, const core::Policy& policy) {
  std::string text = "spec.algorithm.parameters: " + std::string(algorithm.name()) + " takes none; ignored: ";
  bool first = true;
  for (const auto& [key, value] : policy.spec.algorithm.parameters) {
    text += first ? "" : ", ";
    text += key;
    first = false;
  }
  return text;
}

// A built-in's parameter problems come as one message ("; " between each
// spec.algorithm.parameters.<key>): one line each, as every other field's.
// A user's value is quoted and escaped in it (core's numberParameter), so a
// separator inside quotes is the value's own text.
void writeParameterProblems(std::ostream& out, const std::string& prefix, std::string_view message) {
  constexpr std::string_view kNext = "; spec.algorithm.parameters.";
  bool quoted = false;
  std::size_t start = 0;
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\\') {
      ++i;  // an escaped character, a quote too
    } else if (message[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && message.substr(i).starts_with(kNext)) {
      out << prefix << message.substr(start, i - start) << "\n";
      start = i + 2;
    }
  }
  out << prefix << message.substr(start) << "\n";
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
  // serve's own checks and names (serve_shard.cc), so validate cannot disagree with serve.
  ServeOptions shardOptions;
  shardOptions.policySelector = options.policySelector;
  shardOptions.shardName = options.shardName;
  shardOptions.kubeNamespace = options.kubeNamespace;
  if (const core::Status checked = checkShardOptions(shardOptions); !checked.ok()) {
    err << "error: " << checked.error().message << "\n";
    return kExitUsage;
  }
  const auto selector = kube::LabelSelector::parse(policySelectorOf(shardOptions));
  const std::vector<std::string> namespaces = namespacesOf(shardOptions);
  const bool sharded = !options.policySelector.empty() || !options.shardName.empty() || !namespaces.empty();
  const std::string shard = shardNameOf(shardOptions);

  std::size_t policies = 0;
  std::size_t invalid = 0;
  std::size_t unreadable = 0;
  std::size_t empty = 0;
  std::size_t workloadsInvalid = 0;
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
      if (const std::optional<bool> workload = validateWorkloadFile(path, parsed, out)) {
        ++found;
        workloadsInvalid += *workload ? 0U : 1U;
        continue;
      }
      if (parsed.policies.empty()) {
        out << file << ": no " << policy::kPolicyKind << " found\n";
      }
      for (const auto& document : parsed.policies) {
        const std::string prefix = file + ": " + document.displayName() + ": ";
        for (const auto& warning : document.warnings) {
          out << prefix << "warning: " << warning.toString() << "\n";
        }
        bool labelsNeeded = false;
        for (const LabelProblem& problem : labelProblems(document, selector.value())) {
          labelsNeeded = labelsNeeded || problem.needed;
          out << prefix << (problem.needed ? "" : "warning: ") << problem.text << "\n";
        }
        if (labelsNeeded) {
          ++invalid;
          continue;  // which shard owns it cannot be said
        }
        if (sharded) {
          const std::string& ns = document.policy.metadata.namespace_;
          if (!selector.value().matches(document.labels)) {
            out << prefix << "not selected by --policy-selector \"" << selector.value().text()
                << "\": another shard owns it\n";
          } else if (!namespaces.empty() && std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end()) {
            out << prefix << "namespace " << ns << " not in --namespace " << shardOptions.kubeNamespace
                << ": another shard owns it\n";
          } else {
            out << prefix << "owned by shard " << shard << "\n";
          }
        }
        if (document.ok() && !registry.find(document.policy.spec.algorithm.name)) {
          out << prefix << "warning: " << unknownAlgorithmWarning(registry, document.policy.spec.algorithm.name)
              << (options.pluginDir ? "" : " (no --plugin-dir)") << "\n";
        }
        if (document.ok()) {
          // The algorithm's own check of its parameters (ABI 1.1's
          // validate_parameters), as serve makes it before first use.
          if (const auto algorithm = registry.find(document.policy.spec.algorithm.name)) {
            if (!algorithm->takesParameters() && !document.policy.spec.algorithm.parameters.empty()) {
              out << prefix << "warning: " << ignoredParametersWarning(*algorithm, document.policy) << "\n";
            }
            if (const core::Status accepted = core::checkAlgorithmParameters(document.policy, *algorithm);
                !accepted.ok()) {
              ++invalid;
              writeParameterProblems(out, prefix, accepted.error().message);
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
        // The parameters too, that every problem is said at once.
        if (const auto algorithm = registry.find(document.policy.spec.algorithm.name)) {
          if (const core::Status accepted = core::checkAlgorithmParameters(document.policy, *algorithm);
              !accepted.ok()) {
            writeParameterProblems(out, prefix, accepted.error().message);
          }
        }
      }
    }
    // Asked to validate policies, finding none is a mistake (wrong path, wrong file).
    if (found == 0) {
      ++empty;
    }
  }
  if (invalid == 0 && unreadable == 0 && empty == 0 && workloadsInvalid == 0) {
    return kExitOk;
  }
  std::string summary;
  const auto add = [&summary](const std::string& part) { summary += (summary.empty() ? "" : ", ") + part; };
  if (policies > 0 || workloadsInvalid == 0) {
    add(std::to_string(invalid) + " of " + std::to_string(policies) + " policies invalid");
  }
  if (workloadsInvalid > 0) {
    add(std::to_string(workloadsInvalid) + " workload(s) invalid");
  }
  if (unreadable > 0) {
    add(std::to_string(unreadable) + " file(s) unreadable");
  }
  if (empty > 0) {
    add(std::to_string(empty) + " argument(s) without any policy");
  }
  err << "error: " << summary << "\n";
  return kExitUsage;
}

}  // namespace kubeai::cli

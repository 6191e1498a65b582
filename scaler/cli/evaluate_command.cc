#include "cli/evaluate_command.h"

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/algorithm_setup.h"
#include "cli/decision_output.h"
#include "cli/exit_codes.h"
#include "core/decide.h"
#include "core/validation.h"
#include "policy/policy_parser.h"

namespace kubeai::cli {
namespace {

struct MetricKey {
  const char* name;
  std::optional<double> core::Observation::*field;
};

constexpr MetricKey kMetricKeys[] = {
    {"latencyP99Ms", &core::Observation::latencyP99Ms},
    {"latencyP95Ms", &core::Observation::latencyP95Ms},
    {"gpuUtilizationPercent", &core::Observation::gpuUtilizationPercent},
    {"requestQueueDepth", &core::Observation::requestQueueDepth},
};

std::string knownKeys(const core::MetricsSpec& policyMetrics) {
  std::string keys;
  for (const auto& key : kMetricKeys) {
    keys += keys.empty() ? "" : ", ";
    keys += key.name;
  }
  for (const core::CustomMetricSpec& custom : policyMetrics.custom) {
    keys += ", ";
    keys += custom.name;
  }
  return keys;
}

// The value a --metric KEY sets: a seed field, or custom[i] of the policy.
std::optional<double>* metricField(core::Observation& observation, const std::string& key,
                                   const core::MetricsSpec& policyMetrics) {
  for (const auto& candidate : kMetricKeys) {
    if (key == candidate.name) {
      return &(observation.*(candidate.field));
    }
  }
  for (std::size_t i = 0; i < policyMetrics.custom.size() && i < observation.custom.size(); ++i) {
    if (key == policyMetrics.custom[i].name) {
      return &observation.custom[i];
    }
  }
  return nullptr;
}

// Picks the policy named by --name, or the only one in the file.
core::Result<const policy::PolicyDocument*> selectPolicy(const policy::PolicyFile& file, const std::string& name,
                                                         const std::string& fileName) {
  if (file.policies.empty()) {
    return core::Error{fileName + ": no " + std::string(policy::kPolicyKind) + " found"};
  }
  if (name.empty()) {
    if (file.policies.size() > 1) {
      std::string names;
      for (const auto& document : file.policies) {
        names += names.empty() ? "" : ", ";
        names += document.displayName();
      }
      return core::Error{fileName + " holds " + std::to_string(file.policies.size()) +
                         " policies; choose one with --name (" + names + ")"};
    }
    return &file.policies.front();
  }
  const policy::PolicyDocument* match = nullptr;
  for (const auto& document : file.policies) {
    const bool matches = name.find('/') == std::string::npos ? document.policy.metadata.name == name
                                                             : document.policy.key() == name;
    if (matches) {
      if (match != nullptr) {
        return core::Error{fileName + ": more than one policy is named \"" + name +
                           "\"; use NAMESPACE/NAME"};
      }
      match = &document;
    }
  }
  if (match == nullptr) {
    return core::Error{fileName + ": no policy named \"" + name + "\""};
  }
  return match;
}

}  // namespace

core::Result<core::Observation> parseMetricArguments(std::int32_t currentReplicas,
                                                     const std::vector<std::string>& metrics,
                                                     const core::MetricsSpec& policyMetrics) {
  core::Observation observation;
  observation.currentReplicas = currentReplicas;
  for (const std::string& argument : metrics) {
    const std::size_t equals = argument.find('=');
    if (equals == std::string::npos) {
      return core::Error{"--metric " + argument + ": expected KEY=VALUE"};
    }
    const std::string key = argument.substr(0, equals);
    const std::string text = argument.substr(equals + 1);
    std::optional<double>* field = metricField(observation, key, policyMetrics);
    if (field == nullptr) {
      return core::Error{"--metric " + argument + ": unknown metric \"" + key + "\" (one of " +
                         knownKeys(policyMetrics) + ")"};
    }
    // ERANGE is not an error here: an overflow reads as infinite (no data, as
    // for a query) and an underflow as (nearly) zero, which is what was meant.
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0') {
      return core::Error{"--metric " + argument + ": \"" + text + "\" is not a number"};
    }
    if (*field) {
      return core::Error{"--metric " + key + " given more than once"};
    }
    // NaN and infinities are passed on: the pipeline treats them as no data,
    // exactly as it does for a query that returns them.
    *field = value;
  }
  return observation;
}

core::Result<core::Observation> evaluateObservation(const EvaluateOptions& options,
                                                    const core::MetricsSpec& policyMetrics) {
  auto observation = parseMetricArguments(options.currentReplicas, options.metrics, policyMetrics);
  if (observation.ok()) {
    observation.value().readyReplicas = options.readyReplicas;
  }
  return observation;
}

int runEvaluate(const EvaluateOptions& options, std::ostream& out, std::ostream& err) {
  if (options.output != "text" && options.output != "json") {
    err << "error: --output must be text or json\n";
    return kExitUsage;
  }
  if (options.currentReplicas < 0) {
    err << "error: --current-replicas must be >= 0\n";
    return kExitUsage;
  }
  // More ready than current is allowed: a rollout's surge pods, a scale-down
  // not yet through, are ready replicas beyond spec.replicas.
  if (options.readyReplicas && *options.readyReplicas < 0) {
    err << "error: --ready-replicas must be >= 0\n";
    return kExitUsage;
  }
  const policy::PolicyFile file = policy::loadPolicyFile(options.policyFile);
  if (file.error) {
    err << "error: " << file.error->message << "\n";
    return kExitUsage;
  }
  auto selected = selectPolicy(file, options.name, options.policyFile.string());
  if (!selected.ok()) {
    err << "error: " << selected.error().message << "\n";
    return kExitUsage;
  }
  const policy::PolicyDocument& document = *selected.value();
  if (!document.ok()) {
    err << "error: policy " << document.displayName() << " is invalid:\n";
    for (const auto& error : document.errors) {
      err << "  " << error.toString() << "\n";
    }
    return kExitUsage;
  }
  auto observation = evaluateObservation(options, document.policy.spec.metrics);
  if (!observation.ok()) {
    err << "error: " << observation.error().message << "\n";
    return kExitUsage;
  }

  auto setup = setUpAlgorithms(options.pluginDir);
  if (!setup.ok()) {
    err << "error: " << setup.error().message << "\n";
    return kExitUsage;
  }
  for (const auto& report : setup.value().plugins) {
    if (!report.ok()) {
      err << "error: " << report.error << "\n";
    }
  }

  // The algorithm's own check of its parameters (ABI 1.1), before first use as serve makes it.
  if (const auto algorithm = setup.value().registry->find(document.policy.spec.algorithm.name)) {
    if (const core::Status accepted = core::checkAlgorithmParameters(document.policy, *algorithm); !accepted.ok()) {
      err << "error: policy " << document.policy.key() << ": " << accepted.error().message << "\n";
      return kExitUsage;
    }
  }

  // Plugins see the wall clock and CallReason::kEvaluate (DecideSettings' default).
  const core::Outcome outcome = core::decide(document.policy, observation.value(), core::History{},
                                             std::chrono::system_clock::now(), *setup.value().registry);
  const core::Decision& decision = outcome.decision;
  if (!decision.algorithmValid) {
    err << "warning: algorithm \"" << decision.requestedAlgorithm << "\" is not registered; using "
        << decision.algorithm << "\n";
  }
  if (options.output == "json") {
    nlohmann::json json = decisionToJson(decision, document.policy.spec.metrics);
    json["policy"] = document.policy.key();
    out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    out << decisionToText(document.policy.key(), decision, document.policy.spec.metrics);
  }
  if (!decision.algorithmError.empty()) {
    err << "error: " << decision.algorithmError << "\n";
    return kExitFailure;
  }
  return setup.value().anyPluginFailed() ? kExitFailure : kExitOk;
}

}  // namespace kubeai::cli

#include "cli/evaluate_command.h"

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <ostream>

#include "cli/algorithm_setup.h"
#include "cli/decision_output.h"
#include "cli/evaluate_history.h"
#include "cli/evaluate_history_output.h"
#include "cli/evaluate_seed.h"
#include "cli/exit_codes.h"
#include "core/decide.h"
#include "core/validation.h"
#include "kube/client/kube_time.h"
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

std::string knownMetricKeys(const core::MetricsSpec& policyMetrics) {
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
                         knownMetricKeys(policyMetrics) + ")"};
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
  auto observation = parseMetricArguments(options.currentReplicas.value_or(0), options.metrics, policyMetrics);
  if (observation.ok()) {
    observation.value().readyReplicas = options.readyReplicas;
  }
  return observation;
}

namespace {

// The flags, before any file is read.
std::optional<std::string> checkFlags(const EvaluateOptions& options) {
  if (options.output != "text" && options.output != "json") {
    return "--output must be text or json";
  }
  if (options.historyFile) {
    // One source of observations: a flag beside the rows would be a row of
    // its own at no time, or would silently override every row.
    if (options.currentReplicas || options.readyReplicas || !options.metrics.empty()) {
      return "--history gives the replicas and metrics of every row: --current-replicas, --ready-replicas and "
             "--metric are not taken with it";
    }
    if (options.reactionTime.count() < 0) {
      return "--reaction-time must be >= 0";
    }
    return std::nullopt;
  }
  if (!options.currentReplicas) {
    return "--current-replicas is required (or --history FILE)";
  }
  if (*options.currentReplicas < 0) {
    return "--current-replicas must be >= 0";
  }
  // More ready than current is allowed: a rollout's surge pods, a scale-down
  // not yet through, are ready replicas beyond spec.replicas.
  if (options.readyReplicas && *options.readyReplicas < 0) {
    return "--ready-replicas must be >= 0";
  }
  return std::nullopt;
}

// The policy evaluated, valid, and the algorithms, with the algorithm's own
// check of the policy's parameters done (ABI 1.1) before first use, as serve
// makes it. nullopt when evaluate cannot go on (said on `err`).
struct Prepared {
  policy::PolicyFile file;
  std::size_t index = 0;  // of the policy evaluated, in file.policies (an index survives a move)
  AlgorithmSetup setup;

  [[nodiscard]] const policy::PolicyDocument& document() const { return file.policies[index]; }
};

std::optional<Prepared> prepare(const EvaluateOptions& options, std::ostream& err) {
  Prepared prepared;
  prepared.file = policy::loadPolicyFile(options.policyFile);
  if (prepared.file.error) {
    err << "error: " << prepared.file.error->message << "\n";
    return std::nullopt;
  }
  auto selected = selectPolicy(prepared.file, options.name, options.policyFile.string());
  if (!selected.ok()) {
    err << "error: " << selected.error().message << "\n";
    return std::nullopt;
  }
  prepared.index = static_cast<std::size_t>(selected.value() - prepared.file.policies.data());
  const policy::PolicyDocument& document = prepared.document();
  if (!document.ok()) {
    err << "error: policy " << document.displayName() << " is invalid:\n";
    for (const auto& error : document.errors) {
      err << "  " << error.toString() << "\n";
    }
    return std::nullopt;
  }
  auto setup = setUpAlgorithms(options.pluginDir);
  if (!setup.ok()) {
    err << "error: " << setup.error().message << "\n";
    return std::nullopt;
  }
  prepared.setup = std::move(setup).value();
  for (const auto& report : prepared.setup.plugins) {
    if (!report.ok()) {
      err << "error: " << report.error << "\n";
    }
  }
  if (const auto algorithm = prepared.setup.registry->find(document.policy.spec.algorithm.name)) {
    if (const core::Status accepted = core::checkAlgorithmParameters(document.policy, *algorithm); !accepted.ok()) {
      err << "error: policy " << document.policy.key() << ": " << accepted.error().message << "\n";
      return std::nullopt;
    }
  }
  return prepared;
}

void warnUnknownAlgorithm(const core::Decision& decision, std::ostream& err) {
  if (!decision.algorithmValid) {
    err << "warning: algorithm \"" << decision.requestedAlgorithm << "\" is not registered; using "
        << decision.algorithm << "\n";
  }
}

// The seed from the policy file's status, its line said on `err`; none with
// --ignore-status.
EvaluateSeed statusSeed(const EvaluateOptions& options, const Prepared& prepared, std::ostream& err) {
  if (options.ignoreStatus) {
    return {};
  }
  const WithoutStatus without = options.historyFile ? WithoutStatus::kFirstSight : WithoutStatus::kNoHistory;
  EvaluateSeed seed = seedFromPolicyStatus(prepared.document(), options.policyFile.string(), without);
  if (!seed.message.empty()) {
    err << seed.message << "\n";
  }
  return seed;
}

// Rows that begin before the status's time: serve reads such a status as
// from the future (history.cc takes its times as now, drops its models),
// which is a clock gone wrong there and a file mistake here (seconds from
// the start are times of 2024-01-01).
std::optional<std::string> rowsBeforeSeed(const EvaluateOptions& options, const EvaluateSeed& seed,
                                          const HistoryRow& first) {
  if (!seed.seed || !seed.latest || first.at >= *seed.latest) {
    return std::nullopt;
  }
  std::string message = options.historyFile->string();
  message += ": row 1: time ";
  if (first.timestamp.empty()) {
    message += kube::formatTime(first.at);
    message += " (seconds from the start count from 2024-01-01T00:00:00Z)";
  } else {
    message += first.timestamp;
  }
  message += " is before the status in ";
  message += options.policyFile.string();
  message += " (";
  message += seed.latestField;
  message += " ";
  message += kube::formatTime(*seed.latest);
  message += "): the rows must come after the decision the status published; give them RFC 3339 times after it, "
             "or --ignore-status to start from first sight";
  return message;
}

// Enough to find the first problems; a file of thousands of bad rows would
// otherwise bury them.
constexpr std::size_t kMaxHistoryErrorsShown = 20;

int runEvaluateHistory(const EvaluateOptions& options, const Prepared& prepared, std::ostream& out,
                       std::ostream& err) {
  const core::Policy& policy = prepared.document().policy;
  const HistoryFile history = loadHistory(*options.historyFile, policy.spec.metrics);
  if (!history.errors.empty()) {
    for (std::size_t i = 0; i < history.errors.size() && i < kMaxHistoryErrorsShown; ++i) {
      err << "error: " << history.errors[i] << "\n";
    }
    if (history.errors.size() > kMaxHistoryErrorsShown) {
      err << "error: " << options.historyFile->string() << ": " << history.errors.size() - kMaxHistoryErrorsShown
          << " more errors not shown\n";
    }
    return kExitUsage;
  }
  const EvaluateSeed seed = statusSeed(options, prepared, err);
  if (const auto problem = rowsBeforeSeed(options, seed, history.rows.front())) {
    err << "error: " << *problem << "\n";
    return kExitUsage;
  }
  // Plugins see the rows' times and CallReason::kEvaluate, each row a cycle.
  core::DecideSettings settings;
  settings.reactionTime = options.reactionTime;
  const std::vector<core::Decision> decisions =
      replayHistory(policy, history.rows, *prepared.setup.registry, settings, seed.seed);
  warnUnknownAlgorithm(decisions.front(), err);
  if (options.output == "json") {
    out << historyToJson(policy.key(), history.rows, decisions, policy.spec.metrics)
               .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
        << "\n";
  } else {
    out << historyToText(policy.key(), history.rows, decisions, policy.spec.metrics);
  }
  bool failed = false;
  for (std::size_t i = 0; i < decisions.size(); ++i) {
    if (!decisions[i].algorithmError.empty()) {
      err << "error: row " << i + 1 << ": " << decisions[i].algorithmError << "\n";
      failed = true;
    }
  }
  return failed || prepared.setup.anyPluginFailed() ? kExitFailure : kExitOk;
}

}  // namespace

int runEvaluate(const EvaluateOptions& options, std::ostream& out, std::ostream& err) {
  if (const auto problem = checkFlags(options)) {
    err << "error: " << *problem << "\n";
    return kExitUsage;
  }
  const std::optional<Prepared> prepared = prepare(options, err);
  if (!prepared) {
    return kExitUsage;
  }
  if (options.historyFile) {
    return runEvaluateHistory(options, *prepared, out, err);
  }
  const policy::PolicyDocument& document = prepared->document();
  auto observation = evaluateObservation(options, document.policy.spec.metrics);
  if (!observation.ok()) {
    err << "error: " << observation.error().message << "\n";
    return kExitUsage;
  }

  // Plugins see the wall clock and CallReason::kEvaluate (DecideSettings' default).
  const core::TimePoint now = std::chrono::system_clock::now();
  // No history for a policy file without a status (or with --ignore-status).
  // A file with one (`kubectl get -o yaml`) is a policy serve has decided
  // for: the decision is the one serve would make now, restarted, its first
  // sight of the policy (the scale-down window holds the current replicas),
  // seeded when serve would seed from that status and unseeded, as serve's,
  // when it would not (the warning says "first sight": so it is).
  const EvaluateSeed seed = statusSeed(options, *prepared, err);
  const bool firstSight = document.status && !options.ignoreStatus;
  core::History history = firstSight ? core::firstSightHistory(observation.value().currentReplicas, now, seed.seed)
                                     : core::History{};
  const core::Outcome outcome =
      core::decide(document.policy, observation.value(), std::move(history), now, *prepared->setup.registry);
  const core::Decision& decision = outcome.decision;
  warnUnknownAlgorithm(decision, err);
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
  return prepared->setup.anyPluginFailed() ? kExitFailure : kExitOk;
}

}  // namespace kubeai::cli

#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "cli/status_bridge.h"
#include "server/evaluation_loop.h"
#include "telemetry/loop_liveness.h"
#include "telemetry/telemetry.h"

namespace kubeai::cli {

// What serve does with what the evaluation loop reports: telemetry, log lines
// (a changed decision, a new problem: each said once, not every cycle),
// /healthz's record of completed cycles and, with --kubernetes, the status
// writer. Evaluation thread only.
class ServeListener final : public server::EvaluationListener {
 public:
  // `status`: null without --kubernetes.
  ServeListener(telemetry::Telemetry& telemetry, telemetry::LoopLiveness& liveness, StatusBridge* status)
      : telemetry_(telemetry), liveness_(liveness), status_(status) {}

  void onDecision(const core::Policy& policy, const core::Decision& decision, const core::Observation& observation,
                  bool cooldownActive, std::optional<core::TimePoint> lastScaleTime, double seconds) override;
  void onError(const std::string& ns, const std::string& name, const std::string& type,
               const std::string& message) override;
  void onRemoved(const std::string& ns, const std::string& name) override;
  void onSuperseded(const core::Policy& served, const std::string& problem) override;
  void onCycle(const std::map<std::string, std::size_t>& states, double seconds) override;
  // The state gauges and a histogram of its own: a partial evaluation is not
  // a cycle (neither the cycle histogram nor liveness counts it).
  void onPartial(const std::map<std::string, std::size_t>& states, std::size_t evaluated, double seconds) override;

 private:
  telemetry::Telemetry& telemetry_;
  telemetry::LoopLiveness& liveness_;
  StatusBridge* const status_;
  std::map<std::string, std::int32_t> lastDesired_;
  std::set<std::string> unknownAlgorithm_;
  std::map<std::string, std::string> lastError_;
};

}  // namespace kubeai::cli

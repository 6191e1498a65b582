// The observation `evaluate` decides on, from its flags (cli::evaluateObservation):
// --ready-replicas beside --current-replicas and the --metric arguments.
#include <doctest/doctest.h>

#include "cli/evaluate_command.h"

namespace kubeai::cli {
namespace {

TEST_CASE("evaluate's observation carries --ready-replicas, unknown when not given") {
  EvaluateOptions options;
  options.currentReplicas = 5;
  options.metrics = {"gpuUtilizationPercent=90"};
  const core::MetricsSpec metrics;

  auto unknown = evaluateObservation(options, metrics);
  REQUIRE(unknown.ok());
  CHECK(unknown.value().currentReplicas == 5);
  CHECK_FALSE(unknown.value().readyReplicas.has_value());  // never 0, never current
  CHECK(unknown.value().gpuUtilizationPercent == 90.0);

  options.readyReplicas = 2;  // 3 of the 5 still starting
  auto starting = evaluateObservation(options, metrics);
  REQUIRE(starting.ok());
  CHECK(starting.value().currentReplicas == 5);
  CHECK(starting.value().readyReplicas == 2);
  CHECK(starting.value().gpuUtilizationPercent == 90.0);

  options.readyReplicas = 0;  // a real 0: every replica starting
  CHECK(evaluateObservation(options, metrics).value().readyReplicas == 0);

  options.metrics = {"gpu"};  // a bad --metric is still the error
  auto bad = evaluateObservation(options, metrics);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "--metric gpu: expected KEY=VALUE");
}

}  // namespace
}  // namespace kubeai::cli

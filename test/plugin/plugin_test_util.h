#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm.h"
#include "core/metric_slot.h"
#include "support/temp_dir.h"

namespace kubeai::plugin::testing {

using kubeai::testing::TempDir;

// Owns what an AlgorithmInput views.
struct InputBuilder {
  std::int32_t current = 1;
  std::int32_t min = 1;
  std::int32_t max = 100;
  double tolerance = 0.1;
  std::vector<core::MetricRatio> ratios;
  std::vector<double> weights;
  core::AlgorithmParameters parameters;
  std::string policyName = "chat";
  std::string policyNamespace = "default";

  InputBuilder& replicas(std::int32_t value) {
    current = value;
    return *this;
  }
  InputBuilder& ratio(core::MetricSlot slot, double value) {
    ratios.push_back({slot, value});
    return *this;
  }
  InputBuilder& gpu(double value) { return ratio(core::MetricSlot::kGpuUtilization, value); }
  InputBuilder& parameter(std::string key, std::string value) {
    parameters[std::move(key)] = std::move(value);
    return *this;
  }
  InputBuilder& policy(std::string ns, std::string name) {
    policyNamespace = std::move(ns);
    policyName = std::move(name);
    return *this;
  }
  InputBuilder& withTolerance(double value) {
    tolerance = value;
    return *this;
  }

  [[nodiscard]] core::AlgorithmInput build() const {
    core::AlgorithmInput input;
    input.currentReplicas = current;
    input.minReplicas = min;
    input.maxReplicas = max;
    input.ratios = ratios;
    input.tolerance = tolerance;
    input.weights = weights;
    input.policyName = policyName;
    input.policyNamespace = policyNamespace;
    input.parameters = &parameters;
    return input;
  }
};

}  // namespace kubeai::plugin::testing

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

namespace kubeai::plugin::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = std::filesystem::temp_directory_path() /
            ("kubeai-plugin-test-" + std::to_string(random()) + "-" + std::to_string(now) + "-" +
             std::to_string(counter.fetch_add(1)));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  // Copies a built plugin in under another name (copies are distinct files,
  // so the dynamic loader maps each of them separately).
  std::filesystem::path copy(const std::filesystem::path& from, std::string_view name) const {
    const auto to = path_ / name;
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
    return to;
  }

  std::filesystem::path write(std::string_view name, std::string_view content) const {
    const auto to = path_ / name;
    std::ofstream(to, std::ios::binary) << content;
    return to;
  }

 private:
  std::filesystem::path path_;
};

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

// C++ convenience layer over <kubeai/scaler_plugin.h> (ABI v1.x), C++17 or later.
//
//   #include <kubeai/scaler_plugin.hpp>
//
//   class MyAlgorithm {
//    public:
//     kubeai::plugin_sdk::Result compute(const kubeai::plugin_sdk::Input& input) { ... }
//   };
//   KUBEAI_SCALER_PLUGIN(MyAlgorithm, "MyAlgorithm");
//
// Only the plain-C kubeai_scaling_algorithm crosses the boundary: everything in
// this header is compiled into the plugin, so the plugin need not share the
// host's compiler or standard library. The macro's trampoline catches every
// exception, because unwinding into the host would be undefined behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "kubeai/scaler_plugin.h"

namespace kubeai::plugin_sdk {

using MetricRatio = kubeai_metric_ratio;  // {int32_t slot; double ratio;}, slot a kubeai_metric_slot
using Parameter = kubeai_parameter;       // {const char* key; const char* value;}

// A read-only, non-owning view of a C array that the host owns for the
// duration of one compute() call. A contiguous range: in C++20 it converts to
// std::span<const T> through span's range constructor.
template <typename T>
class View {
 public:
  constexpr View() noexcept = default;
  constexpr View(const T* data, std::size_t size) noexcept
      : data_(data), size_(data == nullptr ? 0 : size) {}

  [[nodiscard]] constexpr const T* begin() const noexcept { return data_; }
  [[nodiscard]] constexpr const T* end() const noexcept { return data_ + size_; }
  [[nodiscard]] constexpr const T* data() const noexcept { return data_; }
  [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
  [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] constexpr const T& operator[](std::size_t index) const noexcept { return data_[index]; }

 private:
  const T* data_ = nullptr;
  std::size_t size_ = 0;
};

// Read-only view of the kubeai_scaling_input handed to compute(). Every getter
// first checks that the host's struct_size covers the field, so a plugin built
// against a newer minor SDK still runs on an older host: a field the host does
// not know reads as zero / empty. Valid only during the compute() call.
class Input {
 public:
  explicit Input(const kubeai_scaling_input& raw) noexcept : raw_(&raw) {}

  [[nodiscard]] std::int32_t currentReplicas() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, current_replicas) ? raw_->current_replicas : 0;
  }
  [[nodiscard]] std::int32_t minReplicas() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, min_replicas) ? raw_->min_replicas : 0;
  }
  [[nodiscard]] std::int32_t maxReplicas() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, max_replicas) ? raw_->max_replicas : 0;
  }

  // Present metric slots only, in slot order: {slot, ratio} with ratio finite and >= 0.
  [[nodiscard]] View<MetricRatio> ratios() const noexcept {
    // ratio_count follows ratios, so covering it covers both.
    if (!KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, ratio_count)) {
      return {};
    }
    return {raw_->ratios, raw_->ratio_count};
  }

  // The largest present ratio; nullopt when no slot is present.
  [[nodiscard]] std::optional<double> maxRatio() const noexcept {
    std::optional<double> max;
    for (const MetricRatio& r : ratios()) {
      if (!max || r.ratio > *max) {
        max = r.ratio;
      }
    }
    return max;
  }

  [[nodiscard]] double tolerance() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, tolerance) ? raw_->tolerance : 0.0;
  }
  [[nodiscard]] std::string_view policyName() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, policy_name) ? text(raw_->policy_name)
                                                                            : std::string_view();
  }
  [[nodiscard]] std::string_view policyNamespace() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, policy_namespace) ? text(raw_->policy_namespace)
                                                                                 : std::string_view();
  }

  // spec.algorithm.parameters, in the host's order.
  [[nodiscard]] View<Parameter> parameters() const noexcept {
    if (!KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, parameter_count)) {
      return {};
    }
    return {raw_->parameters, raw_->parameter_count};
  }

  // One parameter's value; nullopt when the policy does not set it.
  [[nodiscard]] std::optional<std::string_view> parameter(std::string_view key) const noexcept {
    for (const Parameter& p : parameters()) {
      if (p.key != nullptr && std::string_view(p.key) == key) {
        return text(p.value);
      }
    }
    return std::nullopt;
  }

  // spec.algorithm.weights as written (indexed by slot), possibly empty.
  [[nodiscard]] View<double> weights() const noexcept {
    if (!KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, weight_count)) {
      return {};
    }
    return {raw_->weights, raw_->weight_count};
  }

  // The C struct itself, for fields newer than this header's helpers.
  [[nodiscard]] const kubeai_scaling_input& raw() const noexcept { return *raw_; }

 private:
  static std::string_view text(const char* s) noexcept { return s == nullptr ? std::string_view() : s; }

  const kubeai_scaling_input* raw_;
};

// What compute() returns. desiredReplicas is the recommendation before the
// host applies behaviour and min/max; it must be >= 0. Left unset it holds the
// current replicas (a default-constructed Result never means "scale to 0"). A non-empty error makes
// the call fail with that message (the host then holds the current replicas),
// for plugins that prefer not to throw; desiredReplicas and reason are then ignored.
struct Result {
  std::optional<std::int32_t> desiredReplicas;
  std::string reason;
  std::string error;

  [[nodiscard]] static Result failure(std::string message) {
    Result result;
    result.error = std::move(message);
    return result;
  }
};

namespace detail {

// The body of every KUBEAI_SCALER_PLUGIN trampoline. noexcept and catching
// everything: no exception may unwind into the host, which may not be C++.
template <typename Algorithm>
int invoke(Algorithm& (*instance)(), const kubeai_scaling_input* input, kubeai_scaling_result* result) noexcept {
  if (result == nullptr) {
    return KUBEAI_SCALER_ERROR;
  }
  if (input == nullptr) {
    kubeai_result_set_error(result, "no input");
    return KUBEAI_SCALER_ERROR;
  }
  try {
    const Input view(*input);
    Result out = instance().compute(view);
    if (!out.error.empty()) {
      kubeai_result_set_error(result, out.error.c_str());
      return KUBEAI_SCALER_ERROR;
    }
    if (out.desiredReplicas) {
      result->desired_replicas = *out.desiredReplicas;  // else the host's preset: the current replicas
    }
    kubeai_result_set_reason(result, out.reason.c_str());
    return KUBEAI_SCALER_OK;
  } catch (const std::exception& e) {
    const char* what = e.what();
    kubeai_result_set_error(result, what != nullptr && *what != '\0' ? what : "exception without a message");
  } catch (...) {
    kubeai_result_set_error(result, "unknown exception");
  }
  return KUBEAI_SCALER_ERROR;
}

}  // namespace detail
}  // namespace kubeai::plugin_sdk

// Exports ClassName as this shared object's `Algorithm` under AlgorithmName (a
// string literal). Use once per plugin, at global scope, followed by `;`.
// ClassName needs a default constructor and a member
//     kubeai::plugin_sdk::Result compute(const kubeai::plugin_sdk::Input&)   (const or not)
// that is safe to call from several threads at once.
//
// One instance is built on first use (thread-safe, C++11 "magic static"; a
// constructor that throws becomes that call's error and is retried next call)
// and destroyed when the host unloads the plugin. The instance lives in an
// internal-linkage function on purpose: a static local of a template or inline
// function would be an STB_GNU_UNIQUE symbol, which glibc shares between every
// plugin in the process despite RTLD_LOCAL, and which keeps the .so from unloading.
#define KUBEAI_SCALER_PLUGIN(ClassName, AlgorithmName)                                             \
  namespace {                                                                                      \
  ClassName& kubeaiScalerPluginInstance() {                                                        \
    static ClassName instance;                                                                     \
    return instance;                                                                               \
  }                                                                                                \
  int kubeaiScalerPluginCompute(const kubeai_scaling_algorithm* /*self*/, const kubeai_scaling_input* input, \
                                kubeai_scaling_result* result) noexcept {                          \
    return ::kubeai::plugin_sdk::detail::invoke(&kubeaiScalerPluginInstance, input, result);       \
  }                                                                                                \
  }                                                                                                \
  extern "C" KUBEAI_SCALER_EXPORT const kubeai_scaling_algorithm Algorithm = {                     \
      KUBEAI_SCALER_ABI_VERSION, static_cast<std::uint32_t>(sizeof(kubeai_scaling_algorithm)),      \
      AlgorithmName, &kubeaiScalerPluginCompute, nullptr}

// C++ convenience layer over <kubeai/scaler_plugin.h> (ABI 1.1), C++17 or later.
//
//   #include <kubeai/scaler_plugin.hpp>
//
//   class MyAlgorithm {
//    public:
//     using State = MyState;  // optional: per-policy state, see Input::state<T>()
//     kubeai::plugin_sdk::Result compute(const kubeai::plugin_sdk::Input& input) { ... }
//     // optional, checked before a policy's first use (validate, evaluate, serve):
//     std::string validateParameters(const kubeai::plugin_sdk::ValidateInput& input) const { ... }
//   };
//   KUBEAI_SCALER_PLUGIN(MyAlgorithm, "MyAlgorithm");
//
// Only the plain-C kubeai_scaling_algorithm crosses the boundary: everything in
// this header is compiled into the plugin, so the plugin need not share the
// host's compiler or standard library. The macro's trampolines catch every
// exception, because unwinding into the host would be undefined behaviour.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "kubeai/scaler_plugin.h"
#include "kubeai/scaler_plugin_input.hpp"

namespace kubeai::plugin_sdk {

// What compute() returns. desiredReplicas is the recommendation before the
// host applies behaviour and min/max; it must be >= 0. Left unset it holds the
// current replicas (a default-constructed Result never means "scale to 0"). A non-empty error makes
// the call fail with that message (the host then holds the current replicas),
// for plugins that prefer not to throw; desiredReplicas and reason are then ignored.
struct Result {
  std::optional<std::int32_t> desiredReplicas;
  std::string reason;
  std::string error;
  // ABI 1.1, both optional (an aggregate `{replicas, reason, {}}` leaves them unset):
  // true: the current replicas are kept on purpose (within tolerance, say), so a
  // change still on its way to the workload is kept too; false: a computed
  // number. Unset: desired == current counts as a hold, as under 1.0.
  std::optional<bool> held{};
  // The ratio the decision turned on, shown in status and by evaluate.
  std::optional<double> decidedRatio{};

  [[nodiscard]] static Result failure(std::string message) {
    Result result;
    result.error = std::move(message);
    return result;
  }
};

namespace detail {

template <typename Algorithm, typename = void>
struct HasState : std::false_type {};
template <typename Algorithm>
struct HasState<Algorithm, std::void_t<typename Algorithm::State>> : std::true_type {};

// Algorithm.destroy_state: deletes the class's State, or NULL without one.
template <typename Algorithm>
constexpr kubeai_destroy_state_fn destroyStateOf() noexcept {
  if constexpr (HasState<Algorithm>::value) {
    static_assert(std::is_object_v<typename Algorithm::State>, "State must be an object type");
    return &destroyState<typename Algorithm::State>;
  } else {
    return nullptr;
  }
}

// Whether the class has a validateParameters(const ValidateInput&) member
// (const or not, or static), detected at compile time.
template <typename Algorithm, typename = void>
struct HasValidate : std::false_type {};
template <typename Algorithm>
struct HasValidate<Algorithm, std::void_t<decltype(std::declval<Algorithm&>().validateParameters(
                                  std::declval<const ValidateInput&>()))>> : std::true_type {};

inline void setText(char* buffer, std::size_t capacity, const std::exception& e) noexcept {
  const char* what = e.what();
  kubeai_copy_text(buffer, capacity, what != nullptr && *what != '\0' ? what : "exception without a message");
}

// The body of every KUBEAI_SCALER_PLUGIN compute trampoline. noexcept and
// catching everything: no exception may unwind into the host, which may not be C++.
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
    const Input view(*input, destroyStateOf<Algorithm>());
    Result out = instance().compute(view);
    if (!out.error.empty()) {
      kubeai_result_set_error(result, out.error.c_str());
      return KUBEAI_SCALER_ERROR;
    }
    if (out.desiredReplicas) {
      result->desired_replicas = *out.desiredReplicas;  // else the host's preset: the current replicas
    }
    kubeai_result_set_reason(result, out.reason.c_str());
    // A 1.0 host's result ends before these: they are simply not said.
    if (out.held && KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_result, result, held)) {
      result->held = *out.held ? 1 : 0;
    }
    if (out.decidedRatio && KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_result, result, decided_ratio)) {
      result->decided_ratio = *out.decidedRatio;
    }
    return KUBEAI_SCALER_OK;
  } catch (const std::exception& e) {
    setText(result->error, result->error_capacity, e);
  } catch (...) {
    kubeai_result_set_error(result, "unknown exception");
  }
  return KUBEAI_SCALER_ERROR;
}

// The body of the validate_parameters trampoline. validateParameters() may
// return void (throw to refuse), a std::string (non-empty: refused with it) or
// a std::optional<std::string> (set: refused). Without the member, accepts.
template <typename Algorithm>
int validate(Algorithm& (*instance)(), const kubeai_validate_input* input, char* error,
             std::size_t errorCapacity) noexcept {
  if constexpr (!HasValidate<Algorithm>::value) {
    (void)instance;
    (void)input;
    (void)error;
    (void)errorCapacity;
    return KUBEAI_SCALER_OK;
  } else {
    if (input == nullptr) {
      kubeai_copy_text(error, errorCapacity, "no input");
      return KUBEAI_SCALER_ERROR;
    }
    try {
      const ValidateInput view(*input);
      using Returned = decltype(instance().validateParameters(view));
      if constexpr (std::is_void_v<Returned>) {
        instance().validateParameters(view);
      } else {
        const std::optional<std::string> refusal = instance().validateParameters(view);
        if constexpr (std::is_convertible_v<Returned, std::string_view>) {
          if (refusal && !refusal->empty()) {  // a string: empty means fine
            kubeai_copy_text(error, errorCapacity, refusal->c_str());
            return KUBEAI_SCALER_ERROR;
          }
        } else if (refusal) {  // an optional: set means refused
          kubeai_copy_text(error, errorCapacity, refusal->empty() ? "parameters refused" : refusal->c_str());
          return KUBEAI_SCALER_ERROR;
        }
      }
      return KUBEAI_SCALER_OK;
    } catch (const std::exception& e) {
      setText(error, errorCapacity, e);
    } catch (...) {
      kubeai_copy_text(error, errorCapacity, "unknown exception");
    }
    return KUBEAI_SCALER_ERROR;
  }
}

}  // namespace detail
}  // namespace kubeai::plugin_sdk

// Exports ClassName as this shared object's `Algorithm` (ABI 1.1) under
// AlgorithmName (a string literal). Use once per plugin, at global scope,
// followed by `;`. ClassName needs a default constructor and a member
//     kubeai::plugin_sdk::Result compute(const kubeai::plugin_sdk::Input&)   (const or not)
// that is safe to call from several threads at once (for different policies).
// Optional: `using State = T;` (Algorithm.destroy_state deletes a T, see
// Input::state<T>()) and validateParameters(const ValidateInput&)
// (Algorithm.validate_parameters, see detail::validate()).
//
// One instance is built on first use (thread-safe, C++11 "magic static"; a
// constructor that throws becomes that call's error and is retried next call)
// and destroyed when the host unloads the plugin. The instance lives in an
// internal-linkage function on purpose: a static local of a template or inline
// function would be an STB_GNU_UNIQUE symbol, which glibc shares between every
// plugin in the process despite RTLD_LOCAL, and which keeps the .so from unloading.
#define KUBEAI_SCALER_PLUGIN(ClassName, AlgorithmName)                                                       \
  namespace {                                                                                                \
  ClassName& kubeaiScalerPluginInstance() {                                                                  \
    static ClassName instance;                                                                               \
    return instance;                                                                                         \
  }                                                                                                          \
  int kubeaiScalerPluginCompute(const kubeai_scaling_algorithm* /*self*/, const kubeai_scaling_input* input, \
                                kubeai_scaling_result* result) noexcept {                                    \
    return ::kubeai::plugin_sdk::detail::invoke(&kubeaiScalerPluginInstance, input, result);                 \
  }                                                                                                          \
  int kubeaiScalerPluginValidate(const kubeai_scaling_algorithm* /*self*/, const kubeai_validate_input* input, \
                                 char* error, std::size_t errorCapacity) noexcept {                          \
    return ::kubeai::plugin_sdk::detail::validate(&kubeaiScalerPluginInstance, input, error, errorCapacity);  \
  }                                                                                                          \
  }                                                                                                          \
  extern "C" KUBEAI_SCALER_EXPORT const kubeai_scaling_algorithm Algorithm = {                               \
      KUBEAI_SCALER_ABI_VERSION,                                                                             \
      static_cast<std::uint32_t>(sizeof(kubeai_scaling_algorithm)),                                          \
      AlgorithmName,                                                                                         \
      &kubeaiScalerPluginCompute,                                                                            \
      nullptr,                                                                                               \
      ::kubeai::plugin_sdk::detail::HasValidate<ClassName>::value ? &kubeaiScalerPluginValidate : nullptr,   \
      ::kubeai::plugin_sdk::detail::destroyStateOf<ClassName>()}

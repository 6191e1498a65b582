// The views of what the host hands a plugin, for <kubeai/scaler_plugin.hpp>
// (include that one): Input (compute()'s input), ValidateInput
// (validateParameters()'s), View, the ABI 1.1 enums, and the rounding the
// built-in algorithms use. C++17 or later.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include "kubeai/scaler_plugin.h"

namespace kubeai::plugin_sdk {

using MetricRatio = kubeai_metric_ratio;  // {int32_t slot; double ratio;}, slot a kubeai_metric_slot
using Parameter = kubeai_parameter;       // {const char* key; const char* value;}
using Metric = kubeai_metric;             // ABI 1.1: {slot, name, value, unit, target, target_type, ratio}

// Why compute() is called (ABI 1.1). A 1.0 host does not say: it reads as kCycle.
enum class CallReason : std::int32_t {
  kCycle = KUBEAI_CALL_CYCLE,          // serve's timed cycle
  kTriggered = KUBEAI_CALL_TRIGGERED,  // serve re-evaluating at once after a change
  kEvaluate = KUBEAI_CALL_EVALUATE,    // the evaluate command
  kSimulate = KUBEAI_CALL_SIMULATE,    // the simulate command (simulated time)
};

// "cycle", "triggered", "evaluate", "simulate", or "unknown" for a value a newer host may add.
[[nodiscard]] constexpr std::string_view callReasonName(CallReason reason) noexcept {
  switch (reason) {
    case CallReason::kCycle: return "cycle";
    case CallReason::kTriggered: return "triggered";
    case CallReason::kEvaluate: return "evaluate";
    case CallReason::kSimulate: return "simulate";
  }
  return "unknown";
}

// Levels of Input::log() (ABI 1.1).
enum class LogLevel : std::int32_t {
  kDebug = KUBEAI_LOG_DEBUG,
  kInfo = KUBEAI_LOG_INFO,
  kWarn = KUBEAI_LOG_WARN,
  kError = KUBEAI_LOG_ERROR,
};

// A C string of the host's as a view; NULL reads as "". For Metric's name,
// unit and target_type, and Parameter's key and value.
[[nodiscard]] inline std::string_view textOf(const char* text) noexcept {
  return text == nullptr ? std::string_view() : std::string_view(text);
}

// Rounds replicas up as the built-in algorithms do: ceil, except that a product
// within 1e-9 of an integer counts as that integer (10 x 1.2 is
// 12.000000000000002 in floating point: 12, not 13). Saturates at the int32
// range; NaN and values <= 0 give 0.
[[nodiscard]] inline std::int32_t ceilReplicas(double value) noexcept {
  constexpr double kIntegerSlack = 1e-9;
  constexpr auto kMax = static_cast<double>(std::numeric_limits<std::int32_t>::max());
  if (!(value > 0.0)) {
    return 0;
  }
  if (value >= kMax) {
    return std::numeric_limits<std::int32_t>::max();
  }
  const double nearest = std::round(value);
  return static_cast<std::int32_t>(std::fabs(value - nearest) <= kIntegerSlack ? nearest : std::ceil(value));
}

// True when ratio lies within [1 - tolerance, 1 + tolerance], both bounds
// included with the same 1e-9 slack as the built-ins.
[[nodiscard]] inline bool withinTolerance(double ratio, double tolerance) noexcept {
  constexpr double kIntegerSlack = 1e-9;
  return ratio >= 1.0 - tolerance - kIntegerSlack && ratio <= 1.0 + tolerance + kIntegerSlack;
}

// A read-only, non-owning view of a C array that the host owns for the
// duration of one call. A contiguous range: in C++20 it converts to
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

namespace detail {

inline std::optional<std::string_view> findParameter(View<Parameter> parameters, std::string_view key) noexcept {
  for (const Parameter& p : parameters) {
    if (p.key != nullptr && std::string_view(p.key) == key) {
      return textOf(p.value);
    }
  }
  return std::nullopt;
}

// Algorithm.destroy_state for a State type T: the state was made by
// Input::state<T>() with std::make_unique<T>. Its address also tells
// Input::state<T>() which type the slot holds.
template <typename T>
void destroyState(const kubeai_scaling_algorithm* /*self*/, void* state) noexcept {
  std::unique_ptr<T> owned(static_cast<T*>(state));
}

}  // namespace detail

// Read-only view of the kubeai_scaling_input handed to compute(). Every getter
// first checks that the host's struct_size covers the field, so a plugin built
// against a newer minor SDK still runs on an older host: a field the host does
// not know reads as zero / empty. Valid only during the compute() call.
class Input {
 public:
  explicit Input(const kubeai_scaling_input& raw) noexcept : raw_(&raw) {}
  // As the macro builds it: `destroyState` is the algorithm's destroy_state,
  // which names the type its state slot holds (NULL: the class declares no State).
  Input(const kubeai_scaling_input& raw, kubeai_destroy_state_fn destroyState) noexcept
      : raw_(&raw), destroyState_(destroyState) {}

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
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, policy_name) ? textOf(raw_->policy_name)
                                                                            : std::string_view();
  }
  [[nodiscard]] std::string_view policyNamespace() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, policy_namespace) ? textOf(raw_->policy_namespace)
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
    return detail::findParameter(parameters(), key);
  }

  // spec.algorithm.weights as written (indexed by slot), possibly empty; with
  // custom metrics one weight per slot (missing seed weights 1.0, then each
  // custom metric's own).
  [[nodiscard]] View<double> weights() const noexcept {
    if (!KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, weight_count)) {
      return {};
    }
    return {raw_->weights, raw_->weight_count};
  }

  // --- ABI 1.1 (a 1.0 host: empty, 0, kCycle, no state, log a no-op) ---------

  // Each present metric in full, in slot order, one per ratio: its name, the
  // value as read, unit, target and target type (textOf() reads the strings).
  [[nodiscard]] View<Metric> metrics() const noexcept {
    if (!KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, metric_count)) {
      return {};
    }
    return {raw_->metrics, raw_->metric_count};
  }

  // The metric of one slot (a kubeai_metric_slot), or nullptr when it is not present.
  [[nodiscard]] const Metric* metric(std::int32_t slot) const noexcept {
    for (const Metric& m : metrics()) {
      if (m.slot == slot) {
        return &m;
      }
    }
    return nullptr;
  }

  // The metric named `name` ("kvCache", a custom metric of the policy, or a
  // seed one such as "latencyP99"), or nullptr when it is not present.
  [[nodiscard]] const Metric* metric(std::string_view name) const noexcept {
    for (const Metric& m : metrics()) {
      if (m.name != nullptr && name == m.name) {
        return &m;
      }
    }
    return nullptr;
  }

  // The evaluation time in milliseconds since the Unix epoch (simulated time
  // under simulate); 0 on a 1.0 host. Use it rather than reading a clock, so
  // simulate replays the same decisions.
  [[nodiscard]] std::int64_t nowUnixMs() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, now_unix_ms) ? raw_->now_unix_ms : 0;
  }
  // The same as a time point (millisecond precision); the epoch on a 1.0 host.
  [[nodiscard]] std::chrono::system_clock::time_point now() const noexcept {
    return std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::milliseconds(nowUnixMs())));
  }

  [[nodiscard]] CallReason callReason() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, call_reason)
               ? static_cast<CallReason>(raw_->call_reason)
               : CallReason::kCycle;
  }
  // serve's cycle number (from 1), simulate's step, 0 under evaluate and on a 1.0 host.
  [[nodiscard]] std::uint64_t cycle() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, cycle) ? raw_->cycle : 0;
  }

  // One line in the server's structured log, with plugin and policy fields
  // added (the host keeps at most 16 lines of 1 KiB per call). Never throws; a
  // no-op on a 1.0 host.
  void log(LogLevel level, std::string_view message) const noexcept {
    if (!KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, host) || raw_->host == nullptr ||
        !KUBEAI_SCALER_HAS_FIELD(kubeai_host, raw_->host, log) || raw_->host->log == nullptr) {
      return;
    }
    try {
      const std::string line(message);  // the host wants NUL-terminated text
      raw_->host->log(raw_->host->context, static_cast<std::int32_t>(level), line.c_str());
    } catch (...) {
      // Out of memory for a log line: drop the line, not the decision.
    }
  }

  // True when the host keeps a state slot for this policy (always on a 1.1 host).
  [[nodiscard]] bool hasState() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_scaling_input, raw_, state) && raw_->state != nullptr;
  }

  // This policy's state, made with `new T()` on the policy's first call and
  // handed back on each later one; the host destroys it (`delete`, through the
  // destroy_state the macro exports) when the policy is deleted, moves to
  // another algorithm, or the plugin is unloaded or replaced. Hot reload and a
  // restarted plugin host start from a fresh T. T must be the class's
  // `using State = T;` (else std::logic_error, which fails the call). Calls for
  // one policy never overlap, so T needs no lock. Throws std::logic_error
  // without a state slot (a 1.0 host, which never loads a 1.1 plugin anyway).
  template <typename T>
  [[nodiscard]] T& state() const {
    static_assert(std::is_default_constructible_v<T>, "a plugin's State must be default-constructible");
    if (!hasState()) {
      throw std::logic_error("no per-policy state slot: the host is older than plugin ABI 1.1");
    }
    if (destroyState_ != static_cast<kubeai_destroy_state_fn>(&detail::destroyState<T>)) {
      throw std::logic_error("Input::state<T>(): T is not the algorithm's State (declare `using State = T;`)");
    }
    void*& slot = *raw_->state;
    if (slot == nullptr) {
      slot = std::make_unique<T>().release();  // owned by the host from here on, freed by destroyState<T>
    }
    return *static_cast<T*>(slot);
  }

  // The C struct itself, for fields newer than this header's helpers.
  [[nodiscard]] const kubeai_scaling_input& raw() const noexcept { return *raw_; }

 private:
  const kubeai_scaling_input* raw_;
  kubeai_destroy_state_fn destroyState_ = nullptr;
};

// What validateParameters() is given (ABI 1.1): the policy and its
// spec.algorithm parameters and weights, as compute() will see them.
class ValidateInput {
 public:
  explicit ValidateInput(const kubeai_validate_input& raw) noexcept : raw_(&raw) {}

  [[nodiscard]] std::string_view policyName() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_validate_input, raw_, policy_name) ? textOf(raw_->policy_name)
                                                                             : std::string_view();
  }
  [[nodiscard]] std::string_view policyNamespace() const noexcept {
    return KUBEAI_SCALER_HAS_FIELD(kubeai_validate_input, raw_, policy_namespace) ? textOf(raw_->policy_namespace)
                                                                                  : std::string_view();
  }
  [[nodiscard]] View<Parameter> parameters() const noexcept {
    if (!KUBEAI_SCALER_HAS_FIELD(kubeai_validate_input, raw_, parameter_count)) {
      return {};
    }
    return {raw_->parameters, raw_->parameter_count};
  }
  [[nodiscard]] std::optional<std::string_view> parameter(std::string_view key) const noexcept {
    return detail::findParameter(parameters(), key);
  }
  [[nodiscard]] View<double> weights() const noexcept {
    if (!KUBEAI_SCALER_HAS_FIELD(kubeai_validate_input, raw_, weight_count)) {
      return {};
    }
    return {raw_->weights, raw_->weight_count};
  }
  [[nodiscard]] const kubeai_validate_input& raw() const noexcept { return *raw_; }

 private:
  const kubeai_validate_input* raw_;
};
}  // namespace kubeai::plugin_sdk

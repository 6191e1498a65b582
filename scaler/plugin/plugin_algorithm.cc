#include "plugin/plugin_algorithm.h"

#include <kubeai/scaler_plugin.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/metric_slot.h"

namespace kubeai::plugin {
namespace {

static_assert(std::is_same_v<kubeai_plugin_compute_fn, kubeai_compute_fn> &&
                  std::is_same_v<kubeai_plugin_validate_fn, kubeai_validate_fn> &&
                  std::is_same_v<kubeai_plugin_destroy_state_fn, kubeai_destroy_state_fn>,
              "plugin_algorithm.h must declare the SDK's entry point signatures");
static_assert(static_cast<int>(core::CallReason::kCycle) == KUBEAI_CALL_CYCLE &&
                  static_cast<int>(core::CallReason::kTriggered) == KUBEAI_CALL_TRIGGERED &&
                  static_cast<int>(core::CallReason::kEvaluate) == KUBEAI_CALL_EVALUATE &&
                  static_cast<int>(core::CallReason::kSimulate) == KUBEAI_CALL_SIMULATE,
              "core and ABI number the call reasons alike");
static_assert(static_cast<int>(core::MetricSlot::kLatencyP99) == KUBEAI_SLOT_LATENCY_P99 &&
                  static_cast<int>(core::MetricSlot::kLatencyP95) == KUBEAI_SLOT_LATENCY_P95 &&
                  static_cast<int>(core::MetricSlot::kGpuUtilization) == KUBEAI_SLOT_GPU_UTILIZATION &&
                  static_cast<int>(core::MetricSlot::kRequestQueueDepth) == KUBEAI_SLOT_REQUEST_QUEUE_DEPTH,
              "core and ABI number the metric slots alike");
static_assert(KUBEAI_SLOT_CUSTOM_FIRST == core::kMetricSlotCount && KUBEAI_SLOT_COUNT_MAX == core::kMaxMetricSlots,
              "core and ABI place the custom metrics' slots alike");

// Up to N elements on the stack, more on the heap: the common case (at most
// four ratios, a handful of parameters) allocates nothing.
template <typename T, std::size_t N>
class SmallArray {
 public:
  explicit SmallArray(std::size_t size) : size_(size) {
    if (size > N) {
      heap_.resize(size);
    }
  }
  SmallArray(const SmallArray&) = delete;
  SmallArray& operator=(const SmallArray&) = delete;

  [[nodiscard]] T* data() noexcept { return size_ > N ? heap_.data() : stack_.data(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::array<T, N> stack_;  // left uninitialised: every used element is written
  std::vector<T> heap_;
  std::size_t size_;
};

// A NUL-terminated copy of a string_view (which need not be terminated), on
// the stack when it fits. Kubernetes names are at most 253 characters.
template <std::size_t N>
class CString {
 public:
  explicit CString(std::string_view text) {
    if (text.size() < N) {
      if (!text.empty()) {
        std::memcpy(stack_.data(), text.data(), text.size());
      }
      stack_[text.size()] = '\0';
      text_ = stack_.data();
    } else {
      heap_.assign(text);
      text_ = heap_.c_str();
    }
  }
  CString(const CString&) = delete;
  CString& operator=(const CString&) = delete;

  [[nodiscard]] const char* c_str() const noexcept { return text_; }

 private:
  std::array<char, N> stack_;
  std::string heap_;
  const char* text_ = nullptr;
};

constexpr std::size_t kStackParameters = 16;

// The policy's parameters as the C ABI hands them; `out` holds their count.
void fillParameters(const core::AlgorithmParameters* parameters, kubeai_parameter* out) noexcept {
  if (parameters == nullptr) {
    return;
  }
  std::size_t i = 0;
  for (const auto& [key, value] : *parameters) {
    out[i++] = kubeai_parameter{key.c_str(), value.c_str()};
  }
}
constexpr std::size_t kStackNameLength = 256;

// The v1.1 entry points end after destroy_state.
constexpr std::size_t kAlgorithmV11Size =
    offsetof(kubeai_scaling_algorithm, destroy_state) + sizeof(kubeai_destroy_state_fn);

// What the host logger's context points at during one compute() call.
struct LogContext {
  const PluginLogSink* sink;
  std::string_view plugin;
  std::string_view file;
  std::string_view ns;
  std::string_view name;
  int lines = 0;
  int dropped = 0;
};

}  // namespace

extern "C" {
// The ABI's logger: never lets an exception out into the plugin.
static void kubeaiHostLog(void* context, std::int32_t level, const char* message) noexcept {
  auto* log = static_cast<LogContext*>(context);
  if (log == nullptr || message == nullptr || log->sink == nullptr || !*log->sink) {
    return;
  }
  if (log->lines >= kMaxLogLinesPerCall) {
    ++log->dropped;
    return;
  }
  ++log->lines;
  const std::size_t length = ::strnlen(message, kMaxLogLineBytes);
  try {
    (*log->sink)(PluginLogLine{std::clamp(level, 0, 3), log->plugin, log->file, log->ns, log->name,
                               std::string_view(message, length)});
  } catch (...) {
    // A log line is never worth a failed decision.
  }
}
}

namespace {

// Text a plugin wrote into a host buffer; tolerates a missing terminator.
std::string_view bufferText(const char* buffer, std::size_t capacity) noexcept {
  const void* end = std::memchr(buffer, '\0', capacity);
  return {buffer, end == nullptr ? capacity : static_cast<std::size_t>(static_cast<const char*>(end) - buffer)};
}

}  // namespace

PluginAlgorithm::PluginAlgorithm(std::string name, std::filesystem::path file, std::shared_ptr<void> library,
                                 const kubeai_scaling_algorithm* self, kubeai_plugin_compute_fn computeFn,
                                 std::uint32_t abiVersion, PluginLogSink log)
    : name_(std::move(name)),
      file_(std::move(file)),
      library_(std::move(library)),
      self_(self),
      compute_(computeFn),
      abiVersion_(abiVersion),
      hasV11Input_(KUBEAI_SCALER_ABI_MINOR(abiVersion) >= 1),
      log_(std::move(log)) {
  // Read only what the plugin declared: a 1.0 struct ends at user_data.
  if (self_ != nullptr && hasV11Input_ && self_->struct_size >= kAlgorithmV11Size) {
    validate_ = self_->validate_parameters;
    destroyState_ = self_->destroy_state;
  }
}

PluginAlgorithm::~PluginAlgorithm() {
  // Unloaded or replaced: every policy's state goes back to the plugin while
  // its code is still mapped (library_ is released after this body).
  const std::lock_guard lock(statesMutex_);
  for (auto& [key, slot] : states_) {
    destroy(slot->state);
  }
  states_.clear();
}

void PluginAlgorithm::destroy(void* state) const noexcept {
  if (state == nullptr || destroyState_ == nullptr) {
    return;
  }
  try {
    destroyState_(self_, state);
  } catch (...) {
    // The ABI forbids it; a leak beats unwinding through the plugin.
  }
}

std::shared_ptr<PluginAlgorithm::StateSlot> PluginAlgorithm::slotFor(std::string_view ns,
                                                                      std::string_view name) const {
  const std::lock_guard lock(statesMutex_);
  auto found = states_.find(KeyView{ns, name});
  if (found == states_.end()) {
    found = states_.emplace(PolicyKey{std::string(ns), std::string(name)}, std::make_shared<StateSlot>()).first;
  }
  return found->second;
}

void PluginAlgorithm::forgetPolicy(std::string_view ns, std::string_view name) const {
  std::shared_ptr<StateSlot> slot;
  {
    const std::lock_guard lock(statesMutex_);
    const auto found = states_.find(KeyView{ns, name});
    if (found == states_.end()) {
      return;
    }
    slot = std::move(found->second);
    states_.erase(found);
  }
  // Waits for a call still on this slot; what that call stored goes too.
  const std::lock_guard hold(slot->mutex);
  destroy(slot->state);
  slot->state = nullptr;
  slot->forgotten = true;
}

core::Status PluginAlgorithm::validateParameters(const core::ValidateInput& input) const {
  if (validate_ == nullptr) {
    return core::Ok{};
  }
  const std::size_t parameterCount = input.parameters == nullptr ? 0 : input.parameters->size();
  SmallArray<kubeai_parameter, kStackParameters> parameters(parameterCount);
  fillParameters(input.parameters, parameters.data());
  const CString<kStackNameLength> policyName(input.policyName);
  const CString<kStackNameLength> policyNamespace(input.policyNamespace);
  kubeai_validate_input in{};
  in.struct_size = static_cast<std::uint32_t>(sizeof(kubeai_validate_input));
  in.policy_name = policyName.c_str();
  in.policy_namespace = policyNamespace.c_str();
  in.parameters = parameterCount == 0 ? nullptr : parameters.data();
  in.parameter_count = parameterCount;
  in.weights = input.weights.empty() ? nullptr : input.weights.data();
  in.weight_count = input.weights.size();

  std::array<char, kErrorCapacity> error;
  error[0] = '\0';
  int status = KUBEAI_SCALER_ERROR;
  try {
    status = validate_(self_, &in, error.data(), error.size());
  } catch (const std::exception& e) {
    return core::Error{std::string("validate_parameters threw an exception across the C ABI: ") + e.what()};
  } catch (...) {
    return core::Error{"validate_parameters threw an exception across the C ABI"};
  }
  if (status == KUBEAI_SCALER_OK) {
    return core::Ok{};
  }
  const std::string_view text = bufferText(error.data(), error.size());
  return core::Error{text.empty() ? "validate_parameters returned error code " + std::to_string(status)
                                  : std::string(text)};
}

core::Result<core::AlgorithmOutput> PluginAlgorithm::compute(const core::AlgorithmInput& input) const {
  // A 1.0 plugin knows the seed's four slots only (it may index an array of
  // four by slot): it never sees a custom metric's slot.
  std::size_t ratioCount = 0;
  SmallArray<kubeai_metric_ratio, core::kMaxMetricSlots> ratios(input.ratios.size());
  for (const core::MetricRatio& ratio : input.ratios) {
    if (hasV11Input_ || !core::isCustomSlot(ratio.slot)) {
      ratios.data()[ratioCount++] = kubeai_metric_ratio{static_cast<std::int32_t>(ratio.slot), ratio.ratio};
    }
  }
  if (ratioCount == 0 && !input.ratios.empty()) {
    return core::AlgorithmOutput{input.currentReplicas,
                                 "no metrics available to plugin " + name_ +
                                     " (custom metrics reach plugins of ABI 1.1 only)",
                                 std::nullopt, true, {}, {}};
  }

  const std::size_t parameterCount = input.parameters == nullptr ? 0 : input.parameters->size();
  SmallArray<kubeai_parameter, kStackParameters> parameters(parameterCount);
  fillParameters(input.parameters, parameters.data());

  const CString<kStackNameLength> policyName(input.policyName);
  const CString<kStackNameLength> policyNamespace(input.policyNamespace);

  kubeai_scaling_input in{};
  in.struct_size = static_cast<std::uint32_t>(sizeof(kubeai_scaling_input));
  in.current_replicas = input.currentReplicas;
  in.min_replicas = input.minReplicas;
  in.max_replicas = input.maxReplicas;
  in.ratios = ratioCount == 0 ? nullptr : ratios.data();
  in.ratio_count = ratioCount;
  in.tolerance = input.tolerance;
  in.policy_name = policyName.c_str();
  in.policy_namespace = policyNamespace.c_str();
  in.parameters = parameterCount == 0 ? nullptr : parameters.data();
  in.parameter_count = parameterCount;
  in.weights = input.weights.empty() ? nullptr : input.weights.data();
  in.weight_count = input.weights.size();

  // ABI 1.1. The core's texts are views of terminated strings (MetricDetail
  // says so): handed over as they are, nothing copied.
  SmallArray<kubeai_metric, core::kMaxMetricSlots> metrics(input.metrics.size());
  for (std::size_t i = 0; i < input.metrics.size(); ++i) {
    const core::MetricDetail& detail = input.metrics[i];
    metrics.data()[i] = kubeai_metric{static_cast<std::int32_t>(detail.slot), detail.name.data(), detail.value,
                                      detail.unit.data(),                       detail.target,      detail.targetType.data(),
                                      detail.ratio};
  }
  in.metrics = metrics.size() == 0 ? nullptr : metrics.data();
  in.metric_count = metrics.size();
  in.now_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(input.now.time_since_epoch()).count();
  in.call_reason = static_cast<std::int32_t>(input.reason);
  in.cycle = input.cycle;
  LogContext logContext{&log_, name_, file_.native(), input.policyNamespace, input.policyName, 0, 0};
  const kubeai_host host{static_cast<std::uint32_t>(sizeof(kubeai_host)), &logContext, &kubeaiHostLog};
  in.host = &host;
  // Only a plugin that can free a state gets a slot (the ABI says so); the
  // others skip the lookup, which is most of what 1.1 costs per call.
  const std::shared_ptr<StateSlot> slot =
      destroyState_ != nullptr ? slotFor(input.policyNamespace, input.policyName) : nullptr;
  std::unique_lock<std::mutex> slotLock;
  void* forgottenState = nullptr;  // a slot forgotten before this call got it: state for this call only
  if (slot != nullptr) {
    slotLock = std::unique_lock(slot->mutex);
    in.state = slot->forgotten ? &forgottenState : &slot->state;
  }

  // Only the first byte is cleared: the plugin writes terminated text, and
  // bufferText() bounds the read in case it does not.
  std::array<char, kReasonCapacity> reason;
  std::array<char, kErrorCapacity> error;
  reason[0] = '\0';
  error[0] = '\0';

  kubeai_scaling_result out{};
  out.struct_size = static_cast<std::uint32_t>(sizeof(kubeai_scaling_result));
  out.desired_replicas = input.currentReplicas;  // a plugin that only returns OK holds
  out.reason = reason.data();
  out.reason_capacity = reason.size();
  out.error = error.data();
  out.error_capacity = error.size();
  out.held = -1;  // unknown: a plugin that says nothing holds when it answers the current replicas
  out.decided_ratio = std::numeric_limits<double>::quiet_NaN();

  int status = KUBEAI_SCALER_ERROR;
  // The ABI forbids unwinding out of compute(), but a plugin written without
  // the SDK's macro may throw anyway; that must not reach the server's threads.
  try {
    status = compute_(self_, &in, &out);
  } catch (const std::exception& e) {
    return core::Error{std::string("threw an exception across the C ABI: ") + e.what()};
  } catch (...) {
    return core::Error{"threw an exception across the C ABI"};
  }
  if (forgottenState != nullptr) {
    destroy(forgottenState);
  }
  if (logContext.dropped > 0) {
    if (log_) {
      const std::string note = std::to_string(logContext.dropped) + " more log lines of this call dropped (at most " +
                               std::to_string(kMaxLogLinesPerCall) + " per call)";
      log_(PluginLogLine{KUBEAI_LOG_WARN, name_, file_.native(), input.policyNamespace, input.policyName, note});
    }
  }

  if (status != KUBEAI_SCALER_OK) {
    const std::string_view text = bufferText(error.data(), error.size());
    // No "algorithm NAME" prefix: decide() adds that context to the reason.
    return core::Error{text.empty() ? "returned error code " + std::to_string(status) : std::string(text)};
  }
  if (out.desired_replicas < 0) {
    return core::Error{"returned negative desired replicas (" + std::to_string(out.desired_replicas) + ")"};
  }

  core::AlgorithmOutput output;
  output.desiredReplicas = out.desired_replicas;
  // ABI 1.0 cannot say so (nor a 1.1 plugin that leaves held at -1): a
  // plugin that answers the current replicas is taken to hold them.
  output.held = out.held == -1 ? out.desired_replicas == input.currentReplicas : out.held != 0;
  // A ratio is finite and >= 0, in process and through the host alike (whose
  // protocol refuses anything else): another value is "none".
  if (std::isfinite(out.decided_ratio) && out.decided_ratio >= 0.0) {
    output.ratio = out.decided_ratio;
  }
  const std::string_view text = bufferText(reason.data(), reason.size());
  output.reason = text.empty() ? "computed by " + name_ : std::string(text);
  return output;
}

}  // namespace kubeai::plugin

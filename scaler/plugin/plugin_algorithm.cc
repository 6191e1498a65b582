#include "plugin/plugin_algorithm.h"

#include <kubeai/scaler_plugin.h>

#include <array>
#include <cstring>
#include <exception>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/metric_slot.h"

namespace kubeai::plugin {
namespace {

static_assert(std::is_same_v<kubeai_plugin_compute_fn, kubeai_compute_fn>,
              "plugin_algorithm.h must declare the SDK's compute signature");
static_assert(static_cast<int>(core::MetricSlot::kLatencyP99) == KUBEAI_SLOT_LATENCY_P99 &&
                  static_cast<int>(core::MetricSlot::kLatencyP95) == KUBEAI_SLOT_LATENCY_P95 &&
                  static_cast<int>(core::MetricSlot::kGpuUtilization) == KUBEAI_SLOT_GPU_UTILIZATION &&
                  static_cast<int>(core::MetricSlot::kRequestQueueDepth) == KUBEAI_SLOT_REQUEST_QUEUE_DEPTH,
              "core and ABI number the metric slots alike");

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
constexpr std::size_t kStackNameLength = 256;

// Text a plugin wrote into a host buffer; tolerates a missing terminator.
std::string_view bufferText(const char* buffer, std::size_t capacity) noexcept {
  const void* end = std::memchr(buffer, '\0', capacity);
  return {buffer, end == nullptr ? capacity : static_cast<std::size_t>(static_cast<const char*>(end) - buffer)};
}

}  // namespace

PluginAlgorithm::PluginAlgorithm(std::string name, std::filesystem::path file, std::shared_ptr<void> library,
                                 const kubeai_scaling_algorithm* self, kubeai_plugin_compute_fn computeFn,
                                 std::uint32_t abiVersion)
    : name_(std::move(name)),
      file_(std::move(file)),
      library_(std::move(library)),
      self_(self),
      compute_(computeFn),
      abiVersion_(abiVersion) {}

core::Result<core::AlgorithmOutput> PluginAlgorithm::compute(const core::AlgorithmInput& input) const {
  SmallArray<kubeai_metric_ratio, core::kMetricSlotCount> ratios(input.ratios.size());
  for (std::size_t i = 0; i < input.ratios.size(); ++i) {
    ratios.data()[i] = kubeai_metric_ratio{static_cast<std::int32_t>(input.ratios[i].slot), input.ratios[i].ratio};
  }

  const std::size_t parameterCount = input.parameters == nullptr ? 0 : input.parameters->size();
  SmallArray<kubeai_parameter, kStackParameters> parameters(parameterCount);
  if (input.parameters != nullptr) {
    std::size_t i = 0;
    for (const auto& [key, value] : *input.parameters) {
      parameters.data()[i++] = kubeai_parameter{key.c_str(), value.c_str()};
    }
  }

  const CString<kStackNameLength> policyName(input.policyName);
  const CString<kStackNameLength> policyNamespace(input.policyNamespace);

  kubeai_scaling_input in{};
  in.struct_size = static_cast<std::uint32_t>(sizeof(kubeai_scaling_input));
  in.current_replicas = input.currentReplicas;
  in.min_replicas = input.minReplicas;
  in.max_replicas = input.maxReplicas;
  in.ratios = ratios.size() == 0 ? nullptr : ratios.data();
  in.ratio_count = ratios.size();
  in.tolerance = input.tolerance;
  in.policy_name = policyName.c_str();
  in.policy_namespace = policyNamespace.c_str();
  in.parameters = parameterCount == 0 ? nullptr : parameters.data();
  in.parameter_count = parameterCount;
  in.weights = input.weights.empty() ? nullptr : input.weights.data();
  in.weight_count = input.weights.size();

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
  // ABI 1.0 cannot say so: a plugin that answers the current replicas is taken to hold them.
  output.held = out.desired_replicas == input.currentReplicas;
  const std::string_view text = bufferText(reason.data(), reason.size());
  output.reason = text.empty() ? "computed by " + name_ : std::string(text);
  return output;
}

}  // namespace kubeai::plugin

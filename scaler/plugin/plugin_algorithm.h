#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <unordered_map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/algorithm.h"
#include "core/result.h"
#include "plugin/plugin_log.h"

// The plain-C ABI types of <kubeai/scaler_plugin.h>, declared here so that
// users of this header need not see the SDK (it is linked PRIVATE).
extern "C" {
struct kubeai_scaling_algorithm;
struct kubeai_scaling_input;
struct kubeai_scaling_result;
struct kubeai_validate_input;
// Same signatures as kubeai_compute_fn, kubeai_validate_fn and
// kubeai_destroy_state_fn, with C language linkage like them.
typedef int (*kubeai_plugin_compute_fn)(const kubeai_scaling_algorithm* self, const kubeai_scaling_input* input,
                                        kubeai_scaling_result* result);
typedef int (*kubeai_plugin_validate_fn)(const kubeai_scaling_algorithm* self, const kubeai_validate_input* input,
                                         char* error, std::size_t error_capacity);
typedef void (*kubeai_plugin_destroy_state_fn)(const kubeai_scaling_algorithm* self, void* state);
}

namespace kubeai::plugin {

// A plugin's Algorithm as a core::ScalingAlgorithm.
//
// It holds the dlopen handle through a shared_ptr whose deleter calls dlclose,
// so the shared object stays mapped while any copy of this algorithm is alive:
// when the registry swaps in a new version of a plugin, the calls already
// running on the old one finish on the old code before it is unloaded.
//
// compute() is cheap on purpose (a plugin call must cost no more than ~1.5x a
// built-in decision): the C input and the reason/error buffers live on the
// stack, and the heap is touched only for unusual sizes (many parameters, very
// long names) and for the std::string of the result.
//
// ABI 1.1: each policy's state slot lives here, one per namespace/name, and
// calls for one policy are serialised on it. forgetPolicy() and the
// destructor (the plugin unloaded or replaced: hot reload resets state) hand
// each slot to the plugin's destroy_state.
class PluginAlgorithm final : public core::ScalingAlgorithm {
 public:
  // Capacity of the reason and error buffers handed to the plugin; longer
  // text is cut by the SDK's kubeai_copy_text().
  static constexpr std::size_t kReasonCapacity = 320;
  static constexpr std::size_t kErrorCapacity = 320;

  // `self` is the plugin's own exported Algorithm (handed back to compute as
  // is); `computeFn` comes from the loader's validated, zero-filled copy of it.
  // The 1.1 entry points (validate_parameters, destroy_state) are read from
  // `self` within the struct_size it declares.
  PluginAlgorithm(std::string name, std::filesystem::path file, std::shared_ptr<void> library,
                  const kubeai_scaling_algorithm* self, kubeai_plugin_compute_fn computeFn, std::uint32_t abiVersion,
                  PluginLogSink log = {});
  ~PluginAlgorithm() override;
  PluginAlgorithm(const PluginAlgorithm&) = delete;
  PluginAlgorithm& operator=(const PluginAlgorithm&) = delete;

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] core::Result<core::AlgorithmOutput> compute(const core::AlgorithmInput& input) const override;
  [[nodiscard]] core::Status validateParameters(const core::ValidateInput& input) const override;
  void forgetPolicy(std::string_view ns, std::string_view name) const override;

  // Where the plugin's log lines go; set before the algorithm is shared.
  void setLogSink(PluginLogSink log) { log_ = std::move(log); }
  // Whether the plugin has a validate_parameters entry point.
  [[nodiscard]] bool validates() const noexcept { return validate_ != nullptr; }

  // The shared object it came from.
  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
  // The ABI version the plugin was compiled against (major << 16 | minor).
  [[nodiscard]] std::uint32_t abiVersion() const noexcept { return abiVersion_; }

 private:
  struct PolicyKey {
    std::string ns;
    std::string name;
  };
  struct KeyView {
    std::string_view ns;
    std::string_view name;
  };
  // Looked up with a KeyView on every call: no key string is built.
  struct KeyHash {
    using is_transparent = void;
    template <typename K>
    std::size_t operator()(const K& key) const noexcept {
      const std::size_t a = std::hash<std::string_view>{}(key.ns);
      return a ^ (std::hash<std::string_view>{}(key.name) + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
    }
  };
  struct KeyEqual {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      return std::string_view(a.ns) == std::string_view(b.ns) && std::string_view(a.name) == std::string_view(b.name);
    }
  };
  // One policy's slot; its mutex is held for the whole compute() call.
  struct StateSlot {
    std::mutex mutex;
    void* state = nullptr;
    bool forgotten = false;  // destroyed by forgetPolicy(): a call still on it keeps nothing
  };
  // Shared: a call holds its slot even if forgetPolicy() drops it meanwhile.
  std::shared_ptr<StateSlot> slotFor(std::string_view ns, std::string_view name) const;
  void destroy(void* state) const noexcept;

  std::string name_;
  std::filesystem::path file_;
  std::shared_ptr<void> library_;  // keeps self_ and compute_ mapped
  const kubeai_scaling_algorithm* self_;
  kubeai_plugin_compute_fn compute_;
  kubeai_plugin_validate_fn validate_ = nullptr;
  kubeai_plugin_destroy_state_fn destroyState_ = nullptr;
  std::uint32_t abiVersion_;
  bool hasV11Input_ = false;  // a 1.1 plugin: its 1.1 entry points are read
  PluginLogSink log_;

  mutable std::mutex statesMutex_;  // guards the map, not the slots
  mutable std::unordered_map<PolicyKey, std::shared_ptr<StateSlot>, KeyHash, KeyEqual> states_;
};

}  // namespace kubeai::plugin

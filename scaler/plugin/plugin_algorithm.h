#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/algorithm.h"
#include "core/result.h"

// The plain-C ABI types of <kubeai/scaler_plugin.h>, declared here so that
// users of this header need not see the SDK (it is linked PRIVATE).
extern "C" {
struct kubeai_scaling_algorithm;
struct kubeai_scaling_input;
struct kubeai_scaling_result;
// Same signature as kubeai_compute_fn, with C language linkage like it.
typedef int (*kubeai_plugin_compute_fn)(const kubeai_scaling_algorithm* self, const kubeai_scaling_input* input,
                                        kubeai_scaling_result* result);
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
class PluginAlgorithm final : public core::ScalingAlgorithm {
 public:
  // Capacity of the reason and error buffers handed to the plugin; longer
  // text is cut by the SDK's kubeai_copy_text().
  static constexpr std::size_t kReasonCapacity = 320;
  static constexpr std::size_t kErrorCapacity = 320;

  // `self` is the plugin's own exported Algorithm (handed back to compute as
  // is); `computeFn` comes from the loader's validated, zero-filled copy of it.
  PluginAlgorithm(std::string name, std::filesystem::path file, std::shared_ptr<void> library,
                  const kubeai_scaling_algorithm* self, kubeai_plugin_compute_fn computeFn, std::uint32_t abiVersion);

  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] core::Result<core::AlgorithmOutput> compute(const core::AlgorithmInput& input) const override;

  // The shared object it came from.
  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
  // The ABI version the plugin was compiled against (major << 16 | minor).
  [[nodiscard]] std::uint32_t abiVersion() const noexcept { return abiVersion_; }

 private:
  std::string name_;
  std::filesystem::path file_;
  std::shared_ptr<void> library_;  // keeps self_ and compute_ mapped
  const kubeai_scaling_algorithm* self_;
  kubeai_plugin_compute_fn compute_;
  std::uint32_t abiVersion_;
};

}  // namespace kubeai::plugin

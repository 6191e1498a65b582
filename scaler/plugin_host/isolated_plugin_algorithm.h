#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/algorithm.h"
#include "plugin/plugin_image.h"
#include "plugin_host/plugin_host.h"

namespace kubeai::plugin::host {

// A plugin run in its own plugin-host process, as a core::ScalingAlgorithm.
// Destroying it (the plugin replaced or removed, the server stopping) asks
// the process to free its states and exit.
class IsolatedPluginAlgorithm final : public core::ScalingAlgorithm {
 public:
  explicit IsolatedPluginAlgorithm(std::shared_ptr<PluginHost> host) : host_(std::move(host)) {}

  [[nodiscard]] std::string_view name() const noexcept override { return host_->algorithm(); }
  [[nodiscard]] core::Result<core::AlgorithmOutput> compute(const core::AlgorithmInput& input) const override {
    return host_->compute(input);
  }
  [[nodiscard]] core::Status validateParameters(const core::ValidateInput& input) const override {
    return host_->validate(input);
  }
  void forgetPolicy(std::string_view ns, std::string_view name) const override { host_->forget(ns, name); }
  [[nodiscard]] std::optional<std::string> unservableReason() const override { return host_->unservableReason(); }

  [[nodiscard]] const std::filesystem::path& file() const noexcept { return host_->file(); }
  [[nodiscard]] PluginHost& host() const noexcept { return *host_; }

 private:
  std::shared_ptr<PluginHost> host_;
};

// Starts a plugin host for `image`; errors keep the loader's wording.
core::Result<std::shared_ptr<const core::ScalingAlgorithm>> loadIsolatedPlugin(PluginImage image,
                                                                                const PluginHostSettings& settings);

}  // namespace kubeai::plugin::host

#include "plugin_host/isolated_plugin_algorithm.h"

#include <utility>

namespace kubeai::plugin::host {

core::Result<std::shared_ptr<const core::ScalingAlgorithm>> loadIsolatedPlugin(PluginImage image,
                                                                                const PluginHostSettings& settings) {
  auto host = PluginHost::start(std::move(image), settings);
  if (!host.ok()) {
    return host.error();
  }
  return std::shared_ptr<const core::ScalingAlgorithm>(
      std::make_shared<IsolatedPluginAlgorithm>(std::move(host).value()));
}

}  // namespace kubeai::plugin::host

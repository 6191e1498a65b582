#include "cli/serve_kube.h"

#include <utility>

#include "cli/logging.h"
#include "cli/serve_sources.h"

namespace kubeai::cli {

std::unique_ptr<kube::TargetWatcher> startTargetWatcher(kube::KubeClient& client, std::vector<std::string> namespaces) {
  kube::TargetWatcherOptions options;
  options.namespaces = std::move(namespaces);
  options.timing.log = logWatch;
  auto watcher = std::make_unique<kube::TargetWatcher>(client, std::move(options));
  std::string collections;
  for (const std::string& path : watcher->collectionPaths()) {
    collections += collections.empty() ? "" : " ";
    collections += path;
  }
  logEvent(LogLevel::kInfo, "watching targets", {{"collections", collections}});
  watcher->start();
  return watcher;
}

}  // namespace kubeai::cli

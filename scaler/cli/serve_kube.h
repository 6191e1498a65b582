#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kube/client/kube_client.h"
#include "kube/target_watcher.h"

namespace kubeai::cli {

// serve --kubernetes's targets: a TargetWatcher of the Deployments and
// StatefulSets in `namespaces` (empty: all), started, its words in serve's
// log. ScaleReplicaSource reads its cache; serve is ready once it synced.
std::unique_ptr<kube::TargetWatcher> startTargetWatcher(kube::KubeClient& client, std::vector<std::string> namespaces);

}  // namespace kubeai::cli

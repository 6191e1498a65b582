// Private to kubeai::kube_client (and its tests and fuzz/): a kubeconfig's
// text as loadKubeConfig reads it, apart from reading the file itself.
#pragma once

#include <filesystem>
#include <string_view>

#include "core/result.h"
#include "kube/client/kube_client.h"

namespace kubeai::kube::detail {

// The current context's cluster and user (kube_client.h, loadKubeConfig, says
// what is read and refused). `file` is the kubeconfig's path: errors start
// "kubeconfig <file>: ", and the relative paths in it are relative to its
// directory. The files it names (certificate-authority, client-certificate,
// client-key, tokenFile) are read. Never throws.
core::Result<KubeConfig> parseKubeconfigText(std::string_view text, const std::filesystem::path& file);

}  // namespace kubeai::kube::detail

#pragma once

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace YAML {
class Node;
}

namespace kubeai::policy {

// Converts a YAML node to JSON the way Kubernetes reads manifests (sigs.k8s.io/yaml:
// YAML -> JSON -> typed decode), so a policy written in YAML and one served by
// the API as JSON go through one decoder. Plain scalars resolve by the YAML 1.2
// core schema (null, true/false, integers, floats, .inf/.nan); quoted scalars
// and !!str stay strings. Guards against alias bombs and deep nesting.
core::Result<nlohmann::json> yamlToJson(const YAML::Node& node);

}  // namespace kubeai::policy

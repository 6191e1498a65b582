#pragma once

#include "core/policy.h"
#include "core/validation.h"

namespace kubeai::core {

// spec.metrics.engine and spec.metrics.custom[]: names (camelCase, unique, not
// a seed name), a query or a preset the engine has, the target and weight.
// Appends to `report`, every problem with its field path.
void validateCustomMetrics(const MetricsSpec& metrics, ValidationReport& report);

// Whether `name` may name a custom metric (camelCase, 1..63 characters, not
// one of the seed's names nor a key of the metrics file's entries).
bool isCustomMetricName(std::string_view name) noexcept;

}  // namespace kubeai::core

#pragma once

#include <initializer_list>
#include <optional>
#include <string_view>

#include "core/algorithm.h"
#include "core/result.h"

namespace kubeai::core {

// spec.algorithm.parameters of the built-ins that take some (Predictive,
// Burst): every value a decimal number in a stated range, every key known.

struct NumberParameter {
  std::string_view key;
  double min = 0.0;
  double max = 0.0;
  bool minExclusive = false;  // (min, max] rather than [min, max]
};

// The number under `key`, nullopt when absent, or an Error naming
// spec.algorithm.parameters.<key>, what it must be, and the algorithm.
Result<std::optional<double>> numberParameter(const AlgorithmParameters& parameters, const NumberParameter& spec,
                                              std::string_view algorithm);

// An Error for the first key not among `known`, naming every known one.
Status knownParameters(const AlgorithmParameters& parameters, std::initializer_list<std::string_view> known,
                       std::string_view algorithm);

}  // namespace kubeai::core

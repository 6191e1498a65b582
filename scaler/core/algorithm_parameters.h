#pragma once

#include <initializer_list>
#include <optional>
#include <string>
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
  // Said after a value that is not a number at all ("2m", "measured"):
  // what to write instead.
  std::string_view hint{};
};

// The number under `key`, nullopt when absent, or an Error naming
// spec.algorithm.parameters.<key>, what it must be, and the algorithm.
Result<std::optional<double>> numberParameter(const AlgorithmParameters& parameters, const NumberParameter& spec,
                                              std::string_view algorithm);

// An Error for the keys not among `known` (each, "; " between), naming every
// known one.
Status knownParameters(const AlgorithmParameters& parameters, std::initializer_list<std::string_view> known,
                       std::string_view algorithm);

// Every problem of a policy's parameters, said at once ("; " between), so
// that a user fixes them in one edit, not one per run of validate.
class ParameterProblems {
 public:
  void add(const Status& status) {
    if (!status.ok()) {
      add(status.error());
    }
  }
  template <typename T>
  void add(const Result<T>& result) {
    if (!result.ok()) {
      add(result.error());
    }
  }
  void add(const Error& error);
  [[nodiscard]] bool any() const noexcept { return !message_.empty(); }
  [[nodiscard]] Error error() const { return Error{message_}; }

 private:
  std::string message_;
};

}  // namespace kubeai::core

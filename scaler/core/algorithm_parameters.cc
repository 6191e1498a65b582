#include "core/algorithm_parameters.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <string>

namespace kubeai::core {
namespace {

std::string formatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

Result<std::optional<double>> numberParameter(const AlgorithmParameters& parameters, const NumberParameter& spec,
                                              std::string_view algorithm) {
  const auto found = parameters.find(spec.key);
  if (found == parameters.end()) {
    return std::optional<double>();
  }
  const std::string& text = found->second;
  double value = 0.0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  const bool number = !text.empty() && ec == std::errc() && ptr == end && std::isfinite(value);
  const bool low = spec.minExclusive ? !(value > spec.min) : !(value >= spec.min);
  if (number && !low && value <= spec.max) {
    return std::optional<double>(value);  // the common case builds no message
  }
  const std::string field = "spec.algorithm.parameters." + std::string(spec.key);
  const std::string range = std::string(spec.minExclusive ? "> " : ">= ") + formatNumber(spec.min) + " and <= " +
                            formatNumber(spec.max);
  if (!number) {
    return Error{field + ": must be a number " + range + " (" + std::string(algorithm) + "), got \"" + text + "\""};
  }
  return Error{field + ": must be " + range + " (" + std::string(algorithm) + "), got " + text};
}

Status knownParameters(const AlgorithmParameters& parameters, std::initializer_list<std::string_view> known,
                       std::string_view algorithm) {
  ParameterProblems problems;
  for (const auto& [key, value] : parameters) {
    bool isKnown = false;
    for (const std::string_view name : known) {
      isKnown = isKnown || key == name;
    }
    if (!isKnown) {
      std::string names;
      for (const std::string_view name : known) {
        names += (names.empty() ? "" : ", ") + std::string(name);
      }
      problems.add(Error{"spec.algorithm.parameters." + key + ": unknown parameter of " + std::string(algorithm) +
                         " (known: " + names + ")"});
    }
  }
  if (problems.any()) {
    return problems.error();
  }
  return Ok{};
}

void ParameterProblems::add(const Error& error) {
  message_ += message_.empty() ? "" : "; ";
  message_ += error.message;
}

}  // namespace kubeai::core

#include "core/algorithm_parameters.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <string>
#include <utility>

#include "core/json_escape.h"

namespace kubeai::core {
namespace {

std::string formatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A user's text in a message, on one line (a YAML block scalar's "60\n" must
// not break the line validate prints, nor a quote end the quoted value early).
std::string escaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendJsonEscaped(out, text);
  return out;
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
  const std::string field = "spec.algorithm.parameters." + escaped(spec.key);
  const std::string range = std::string(spec.minExclusive ? "> " : ">= ") + formatNumber(spec.min) + " and <= " +
                            formatNumber(spec.max);
  if (!number) {
    std::string message =
        field + ": must be a number " + range + " (" + std::string(algorithm) + "), got \"" + escaped(text) + "\"";
    if (!spec.hint.empty()) {
      message += " (" + std::string(spec.hint) + ")";
    }
    return Error{std::move(message)};
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
      problems.add(Error{"spec.algorithm.parameters." + escaped(key) + ": unknown parameter of " + std::string(algorithm) +
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

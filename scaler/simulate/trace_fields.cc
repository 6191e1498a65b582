#include "simulate/trace_fields.h"

#include <cmath>

namespace kubeai::simulate::detail {
namespace {

// No real count of tokens or rate comes near; the bound keeps every sum finite.
constexpr double kMaxTraceValue = 1e12;

}  // namespace

std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f && c != '"') ? static_cast<char>(c) : '?';
  }
  if (text.size() > kMax) {
    out += "...";
  }
  out += '"';
  return out;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

core::Result<double> readValue(std::string_view field, std::string_view column) {
  const std::string_view text = trim(field);
  const auto value = wholeNumber(text);
  std::string problem;
  if (!value) {
    problem = text.empty() ? "empty" : "not a number: " + quote(text);
  } else if (std::isnan(*value)) {
    problem = "NaN, a number is required";
  } else if (std::isinf(*value)) {
    problem = "infinite, a finite number is required";
  } else if (*value < 0) {
    problem = "negative (" + quote(text) + "), must be >= 0";
  } else if (*value > kMaxTraceValue) {
    problem = quote(text) + " is larger than 1e12";
  } else {
    return *value;
  }
  return core::Error{std::string(column) + ": " + problem};
}

}  // namespace kubeai::simulate::detail

#include "simulate/svg_text.h"

#include <array>
#include <charconv>
#include <cmath>
#include <system_error>

namespace kubeai::simulate::svg {

std::string formatFixed(double value, int decimals) {
  if (!std::isfinite(value)) {
    return "n/a";
  }
  std::array<char, 400> buffer{};  // the largest double in fixed notation fits
  const std::to_chars_result written = std::to_chars(
      buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed, decimals);
  std::string text(buffer.data(), written.ec == std::errc() ? written.ptr : buffer.data());
  // "-0.0" and the like: a value that rounds to zero is written as zero.
  if (!text.empty() && text.front() == '-' &&
      text.find_first_not_of("0.", 1) == std::string::npos) {
    text.erase(0, 1);
  }
  return text;
}

std::string escapeText(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default:
        // Control characters are not allowed in XML 1.0 text: a space instead.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          escaped += ' ';
        } else {
          escaped += c;
        }
    }
  }
  return escaped;
}

}  // namespace kubeai::simulate::svg

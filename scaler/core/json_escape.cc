#include "core/json_escape.h"

namespace kubeai::core {
namespace {

void appendEscaped(std::string& out, std::string_view text, bool quotesToo) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    switch (c) {
      case '"': out += quotesToo ? "\\\"" : "\""; break;
      case '\\': out += quotesToo ? "\\\\" : "\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += kHex[(static_cast<unsigned char>(c) >> 4) & 0xf];
          out += kHex[static_cast<unsigned char>(c) & 0xf];
        } else {
          out += c;
        }
    }
  }
}

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view text) { appendEscaped(out, text, true); }

std::string withControlCharactersEscaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  appendEscaped(out, text, false);
  return out;
}

}  // namespace kubeai::core

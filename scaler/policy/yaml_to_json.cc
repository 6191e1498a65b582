#include "policy/yaml_to_json.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>
#include <string_view>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

namespace kubeai::policy {
namespace {

// Far beyond any policy, far below what could exhaust memory or the stack
// (an alias bomb expands exponentially when turned into a tree).
constexpr std::size_t kMaxNodes = 100'000;
constexpr int kMaxDepth = 64;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool oneOf(std::string_view text, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), text) != words.end();
}

// [-+]?[0-9]+
bool isInteger(std::string_view text) {
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    text.remove_prefix(1);
  }
  return !text.empty() && std::all_of(text.begin(), text.end(), isDigit);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?, scanned by hand: a
// std::regex recurses once per character and overflows the stack on a long
// enough number.
bool isFloat(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
    ++i;
  }
  std::size_t digits = 0;
  while (i < text.size() && isDigit(text[i])) {
    ++i;
    ++digits;
  }
  if (i < text.size() && text[i] == '.') {
    ++i;
    std::size_t fraction = 0;
    while (i < text.size() && isDigit(text[i])) {
      ++i;
      ++fraction;
    }
    if (digits == 0 && fraction == 0) {
      return false;
    }
  } else if (digits == 0) {
    return false;
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) {
      ++i;
    }
    std::size_t exponent = 0;
    while (i < text.size() && isDigit(text[i])) {
      ++i;
      ++exponent;
    }
    if (exponent == 0) {
      return false;
    }
  }
  return i == text.size();
}

double toDouble(const std::string& text) {
  // strtod, not from_chars: it accepts the leading '+' YAML allows. Overflow
  // gives +-HUGE_VAL (infinite), which validation refuses like any infinity.
  return std::strtod(text.c_str(), nullptr);
}

nlohmann::json resolvePlainScalar(const std::string& text) {
  if (oneOf(text, {"", "~", "null", "Null", "NULL"})) {
    return nullptr;
  }
  // YAML 1.1 booleans as well as 1.2's, as kubectl (sigs.k8s.io/yaml) reads
  // manifests: `enabled: no` is false there, so it is false here.
  if (oneOf(text, {"true", "True", "TRUE", "yes", "Yes", "YES", "y", "Y", "on", "On", "ON"})) {
    return true;
  }
  if (oneOf(text, {"false", "False", "FALSE", "no", "No", "NO", "n", "N", "off", "Off", "OFF"})) {
    return false;
  }
  if (isInteger(text)) {
    std::int64_t value = 0;
    const char* begin = text.data() + (text.front() == '+' ? 1 : 0);
    const auto [end, error] = std::from_chars(begin, text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size()) {
      return value;
    }
    return toDouble(text);  // out of int64 range: keep the magnitude
  }
  if (isFloat(text)) {
    return toDouble(text);
  }
  if (oneOf(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    return std::numeric_limits<double>::infinity();
  }
  if (oneOf(text, {"-.inf", "-.Inf", "-.INF"})) {
    return -std::numeric_limits<double>::infinity();
  }
  if (oneOf(text, {".nan", ".NaN", ".NAN"})) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return text;
}

class Converter {
 public:
  core::Result<nlohmann::json> convert(const YAML::Node& node, int depth) {
    if (++nodes_ > kMaxNodes) {
      return core::Error{"document too large (more than " + std::to_string(kMaxNodes) + " nodes after aliases)"};
    }
    if (depth > kMaxDepth) {
      return core::Error{"document nested deeper than " + std::to_string(kMaxDepth) + " levels"};
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nlohmann::json(nullptr);
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        nlohmann::json array = nlohmann::json::array();
        for (const auto& item : node) {
          auto converted = convert(item, depth + 1);
          if (!converted.ok()) {
            return converted;
          }
          array.push_back(std::move(converted).value());
        }
        return array;
      }
      case YAML::NodeType::Map: {
        nlohmann::json object = nlohmann::json::object();
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) {
            return core::Error{"line " + std::to_string(entry.first.Mark().line + 1) + ": mapping keys must be scalars"};
          }
          auto converted = convert(entry.second, depth + 1);
          if (!converted.ok()) {
            return converted;
          }
          object[entry.first.Scalar()] = std::move(converted).value();
        }
        return object;
      }
    }
    return nlohmann::json(nullptr);
  }

 private:
  static nlohmann::json scalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    // "!" marks a quoted (non-plain) scalar: always a string.
    if (tag == "!" || tag == "tag:yaml.org,2002:str") {
      return node.Scalar();
    }
    return resolvePlainScalar(node.Scalar());
  }

  std::size_t nodes_ = 0;
};

}  // namespace

core::Result<nlohmann::json> yamlToJson(const YAML::Node& node) {
  Converter converter;
  return converter.convert(node, 0);
}

}  // namespace kubeai::policy

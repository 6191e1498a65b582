#include "simulate/workload_fields.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include "cli/duration.h"
#include "simulate/trace_time.h"
#include "simulate/workload.h"

namespace kubeai::simulate::detail {

using nlohmann::json;
using policy::detail::typeName;

std::string describe(double value) {
  if (std::isnan(value)) {
    return ".nan";
  }
  if (std::isinf(value)) {
    return value > 0 ? ".inf" : "-.inf";
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

bool positive(double value) { return std::isfinite(value) && value > 0; }
bool nonNegative(double value) { return std::isfinite(value) && value >= 0; }

const json* present(const json& parent, const char* key) {
  auto found = parent.find(key);
  return found == parent.end() || found->is_null() ? nullptr : &*found;
}

WorkloadFieldReader::WorkloadFieldReader(std::filesystem::path baseDir) : baseDir_(std::move(baseDir)) {}

std::vector<core::FieldError> WorkloadFieldReader::takeErrors() { return std::move(scratch_.errors); }

void WorkloadFieldReader::unknownFields(const json& object, const std::string& path,
                                        std::initializer_list<const char*> known) {
  const std::set<std::string_view> names(known.begin(), known.end());
  for (const auto& [key, value] : object.items()) {
    if (names.count(key) == 0) {
      error(path.empty() ? key : path + "." + key, "unknown field");
    }
  }
}

void WorkloadFieldReader::required(const json& parent, const char* key, const std::string& path, const char* what) {
  if (present(parent, key) == nullptr) {
    error(path, what == nullptr ? "required" : std::string("required (") + what + ")");
  }
}

std::optional<std::chrono::milliseconds> WorkloadFieldReader::duration(const json& parent, const char* key,
                                                                       const std::string& path) {
  const json* value = present(parent, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    error(path, value->is_number() ? "must be a duration with a unit such as 15s, got " + value->dump()
                                   : "must be a duration such as 15s, got " + typeName(*value));
    return std::nullopt;
  }
  auto parsed = cli::parseDuration(value->get<std::string>());
  if (!parsed.ok()) {
    error(path, parsed.error().message);
    return std::nullopt;
  }
  if (parsed.value().count() <= 0) {
    error(path, "must be greater than 0");
    return std::nullopt;
  }
  return parsed.value();
}

std::optional<double> WorkloadFieldReader::positiveNumber(const json& parent, const char* key,
                                                          const std::string& path) {
  const auto value = in_.number(parent, key, path);
  if (value && !positive(*value)) {
    error(path, std::string(std::isfinite(*value) ? "must be" : "must be a finite number") + " greater than 0, got " +
                    describe(*value));
    return std::nullopt;
  }
  return value;
}

std::optional<double> WorkloadFieldReader::nonNegativeNumber(const json& parent, const char* key,
                                                             const std::string& path) {
  const auto value = in_.number(parent, key, path);
  if (value && !nonNegative(*value)) {
    error(path, std::string(std::isfinite(*value) ? "must be" : "must be a finite number") + " >= 0, got " +
                    describe(*value));
    return std::nullopt;
  }
  return value;
}

std::optional<double> WorkloadFieldReader::replicaSeconds(const json& parent, const char* key,
                                                          const std::string& path) {
  const auto value = nonNegativeNumber(parent, key, path);
  if (value && *value > kMaxReplicaSeconds) {
    error(path, "must be at most " + describe(kMaxReplicaSeconds) + " (a week), got " + describe(*value));
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> WorkloadFieldReader::nonEmptyString(const json& parent, const char* key,
                                                               const std::string& path) {
  auto value = in_.string(parent, key, path);
  if (value && value->empty()) {
    error(path, "must not be empty");
    return std::nullopt;
  }
  return value;
}

std::filesystem::path WorkloadFieldReader::resolve(const std::string& file) const {
  std::filesystem::path path(file);
  return path.is_relative() && !baseDir_.empty() ? baseDir_ / path : path;
}

std::optional<std::string> WorkloadFieldReader::readTime(const json& parent, const char* key, const std::string& path,
                                                         std::optional<double>& seconds) {
  const json* value = present(parent, key);
  if (value == nullptr) {
    required(parent, key, path, "RFC 3339 or Unix seconds");
    return std::nullopt;
  }
  if (value->is_number()) {
    const double number = value->get<double>();
    if (!nonNegative(number)) {
      error(path, "must be Unix seconds >= 0 or an RFC 3339 time, got " + describe(number));
      return std::nullopt;
    }
    seconds = number;
    return value->dump();
  }
  if (!value->is_string()) {
    error(path, "must be an RFC 3339 time or Unix seconds, got " + typeName(*value));
    return std::nullopt;
  }
  const auto text = value->get<std::string>();
  if (const auto micros = parseTimestampMicros(text)) {
    seconds = static_cast<double>(*micros) / 1e6;
    return text;
  }
  double number = 0;
  const auto [rest, failure] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (failure == std::errc() && rest == text.data() + text.size() && !text.empty() && nonNegative(number)) {
    seconds = number;
    return text;
  }
  error(path, "must be an RFC 3339 time (2023-11-16T18:17:03Z) or Unix seconds, got \"" + text.substr(0, 64) + "\"");
  return std::nullopt;
}

}  // namespace kubeai::simulate::detail

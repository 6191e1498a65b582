#include "cli/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace kubeai::cli {
namespace {

std::atomic<bool> jsonFormat{false};

spdlog::level::level_enum toSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return spdlog::level::debug;
    case LogLevel::kInfo: return spdlog::level::info;
    case LogLevel::kWarn: return spdlog::level::warn;
    case LogLevel::kError: return spdlog::level::err;
  }
  return spdlog::level::info;
}

// key=value, quoted when the value has spaces, quotes or is empty.
std::string textValue(const std::string& value) {
  const bool plain = !value.empty() && value.find_first_of(" \t\n\"=") == std::string::npos;
  if (plain) {
    return value;
  }
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

core::Status setUpLogging(std::string_view level, std::string_view format) {
  spdlog::level::level_enum parsed = spdlog::level::info;
  if (level == "debug") {
    parsed = spdlog::level::debug;
  } else if (level == "info") {
    parsed = spdlog::level::info;
  } else if (level == "warn" || level == "warning") {
    parsed = spdlog::level::warn;
  } else if (level == "error") {
    parsed = spdlog::level::err;
  } else {
    return core::Error{"--log-level must be debug, info, warn or error"};
  }
  if (format != "text" && format != "json") {
    return core::Error{"--log-format must be text or json"};
  }
  auto logger = spdlog::stderr_logger_mt("kubeai-scaler");
  spdlog::set_default_logger(logger);
  spdlog::set_level(parsed);
  jsonFormat = format == "json";
  // JSON lines are built whole below; spdlog only adds the newline.
  spdlog::set_pattern(jsonFormat ? "%v" : "%Y-%m-%dT%H:%M:%S.%eZ %-5l %v", spdlog::pattern_time_type::utc);
  spdlog::flush_on(spdlog::level::info);
  return core::Ok{};
}

void logEvent(LogLevel level, std::string_view message, std::initializer_list<LogField> fields) {
  logEvent(level, message, std::span<const LogField>(fields.begin(), fields.size()));
}

void logEvent(LogLevel level, std::string_view message, std::span<const LogField> fields) {
  const auto spdLevel = toSpdlog(level);
  if (!spdlog::default_logger_raw()->should_log(spdLevel)) {
    return;
  }
  if (jsonFormat) {
    nlohmann::json line;
    const auto now = std::chrono::system_clock::now();
    const auto seconds = std::chrono::system_clock::to_time_t(now);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm utc{};
    gmtime_r(&seconds, &utc);
    char base[32];
    std::strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &utc);
    char stamp[48];
    std::snprintf(stamp, sizeof stamp, "%s.%03dZ", base, static_cast<int>(millis));
    line["time"] = stamp;
    line["level"] = spdlog::level::to_string_view(spdLevel).data();
    line["msg"] = std::string(message);
    for (const auto& [key, value] : fields) {
      line[std::string(key)] = value;
    }
    spdlog::log(spdLevel, "{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    return;
  }
  std::string text(message);
  for (const auto& [key, value] : fields) {
    text += " ";
    text += key;
    text += "=";
    text += textValue(value);
  }
  spdlog::log(spdLevel, "{}", text);
}

}  // namespace kubeai::cli

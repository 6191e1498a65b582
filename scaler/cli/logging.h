#pragma once

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"

namespace kubeai::cli {

// Structured logs on stderr through spdlog: `--log-format text` prints
// `2026-11-27T21:30:48.123Z info  message key=value ...`, `json` prints one
// JSON object per line with "time", "level", "msg" and the fields (values
// escaped, so a policy name or an error text can never break the line).
// Never log secrets: fields are printed as given.
enum class LogLevel { kDebug, kInfo, kWarn, kError };

core::Status setUpLogging(std::string_view level, std::string_view format);

using LogField = std::pair<std::string_view, std::string>;
void logEvent(LogLevel level, std::string_view message, std::initializer_list<LogField> fields = {});
// The same, for fields known only at run time (a decision's ratio per metric).
void logEvent(LogLevel level, std::string_view message, std::span<const LogField> fields);

}  // namespace kubeai::cli

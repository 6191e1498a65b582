#include "simulate/trace_parser.h"

#include "simulate/trace_fields.h"
#include "simulate/trace_time.h"

namespace kubeai::simulate::detail {
namespace {

// Longer intervals are refused: they would overflow the step arithmetic, and
// parseDuration gives at most a week.
constexpr std::int64_t kMaxIntervalMs = 7LL * 24 * 3600 * 1000;

}  // namespace

std::string intervalText(std::int64_t intervalMicros) {
  return std::to_string(intervalMicros / 1000) + " ms";
}

TraceParser::TraceParser(std::string_view name, std::chrono::milliseconds interval, std::string_view header)
    : name_(name),
      intervalMicros_(interval.count() > 0 && interval.count() <= kMaxIntervalMs ? interval.count() * 1000 : 0),
      header_(header) {}

core::Result<DemandSeries> TraceParser::finish() {
  if (!error_.message.empty()) {
    return error_;
  }
  if (!headerSeen_) {
    return core::Error{std::string(name_) + ": empty file, expected the header " + std::string(header_)};
  }
  if (rows_ == 0) {
    return core::Error{std::string(name_) + ": no data rows (an empty trace)"};
  }
  DemandSeries series;
  series.interval = std::chrono::milliseconds(intervalMicros_ / 1000);
  finishSteps(series);
  return series;
}

void TraceParser::tooLong() {
  ++lineNumber_;
  fail("line longer than " + std::to_string(kMaxTraceLineBytes) + " bytes");
}

bool TraceParser::fail(const std::string& message) {
  error_ = core::Error{std::string(name_) + ":" + std::to_string(lineNumber_) + ": " + message};
  return false;
}

void TraceParser::failFile(const std::string& message) { error_ = core::Error{std::string(name_) + ": " + message}; }

bool TraceParser::readHeader(std::string_view text) {
  const auto expected = split<4>(header_);
  const auto got = split<4>(text);
  bool same = got.count == expected.count;
  for (std::size_t i = 0; same && i < expected.count; ++i) {
    same = equalsIgnoringCase(trim(got.field[i]), expected.field[i]);
  }
  if (same) {
    return true;
  }
  const std::string_view first = trim(got.field[0]);
  if (parseTimestampMicros(first) || wholeNumber(first)) {
    return fail("missing header: line 1 must be " + std::string(header_) + ", got a data row");
  }
  return fail("wrong header: must be " + std::string(header_) + ", got " + quote(text));
}

core::Result<DemandSeries> parseText(std::string_view text, TraceParser& parser) {
  if (!parser.validInterval()) {
    parser.failFile("the interval must be greater than 0 and at most a week");
    return parser.finish();
  }
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    if (!parser.line(text.substr(0, newline))) {
      break;
    }
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
  }
  return parser.finish();
}

}  // namespace kubeai::simulate::detail

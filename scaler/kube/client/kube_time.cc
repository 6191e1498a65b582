#include "kube/client/kube_time.h"

#include <charconv>
#include <cstdint>
#include <cstdio>

namespace kubeai::kube {
namespace {

std::string formatWith(core::TimePoint time, bool micros) {
  using std::chrono::duration_cast;
  // Whole seconds and what is left, without ever converting a floored value
  // back to the TimePoint's nanoseconds: near TimePoint::min() the start of
  // the day is not representable in them.
  const auto sinceEpoch = time.time_since_epoch();
  auto whole = duration_cast<std::chrono::seconds>(sinceEpoch);  // towards zero: no overflow
  auto fraction = sinceEpoch - duration_cast<core::TimePoint::duration>(whole);
  if (fraction < core::TimePoint::duration::zero()) {
    whole -= std::chrono::seconds(1);
    fraction += std::chrono::seconds(1);
  }
  const auto days = std::chrono::floor<std::chrono::days>(whole);
  const std::chrono::year_month_day date{std::chrono::sys_days{days}};
  const std::chrono::hh_mm_ss clock{duration_cast<std::chrono::microseconds>(whole - days) +
                                    std::chrono::floor<std::chrono::microseconds>(fraction)};
  char buffer[48];
  const int year = static_cast<int>(date.year());
  const unsigned month = static_cast<unsigned>(date.month());
  const unsigned day = static_cast<unsigned>(date.day());
  const auto hours = clock.hours().count();
  const auto minutes = clock.minutes().count();
  const auto seconds = clock.seconds().count();
  if (micros) {
    std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", year, month, day,
                  static_cast<long long>(hours), static_cast<long long>(minutes), static_cast<long long>(seconds),
                  static_cast<long long>(clock.subseconds().count()));
  } else {
    std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", year, month, day,
                  static_cast<long long>(hours), static_cast<long long>(minutes), static_cast<long long>(seconds));
  }
  return buffer;
}

// Exactly `width` ASCII digits: from_chars alone also takes a '-', and
// "01:-1:00" read as minute -1 was a time (found by fuzz/kube_time).
bool readInt(std::string_view text, std::size_t pos, std::size_t width, int& out) {
  if (pos + width > text.size()) {
    return false;
  }
  const char* first = text.data() + pos;
  for (std::size_t i = 0; i < width; ++i) {
    if (first[i] < '0' || first[i] > '9') {
      return false;
    }
  }
  const auto [end, error] = std::from_chars(first, first + width, out);
  return error == std::errc{} && end == first + width;
}

}  // namespace

std::string formatTime(core::TimePoint time) { return formatWith(time, false); }
std::string formatMicroTime(core::TimePoint time) { return formatWith(time, true); }

namespace {

enum class TimeRange { kInRange, kBeforeRange, kAfterRange, kMalformed };

struct ParsedTime {
  TimeRange range;
  core::TimePoint time;  // when kInRange
};

ParsedTime parseTimeInRange(std::string_view text) {
  constexpr ParsedTime kMalformed{TimeRange::kMalformed, {}};
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!readInt(text, 0, 4, year) || text.size() < 20 || text[4] != '-' || !readInt(text, 5, 2, month) ||
      text[7] != '-' || !readInt(text, 8, 2, day) || (text[10] != 'T' && text[10] != 't') ||
      !readInt(text, 11, 2, hour) || text[13] != ':' || !readInt(text, 14, 2, minute) || text[16] != ':' ||
      !readInt(text, 17, 2, second)) {
    return kMalformed;
  }
  std::size_t pos = 19;
  std::chrono::microseconds fraction{0};
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::int64_t scale = 100000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      fraction += std::chrono::microseconds((text[pos] - '0') * scale);
      scale /= 10;
      ++pos;
    }
  }
  std::int64_t offsetSeconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offsetHours = 0;
    int offsetMinutes = 0;
    if (!readInt(text, pos + 1, 2, offsetHours) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !readInt(text, pos + 4, 2, offsetMinutes) || offsetHours > 23 || offsetMinutes > 59) {
      return kMalformed;
    }
    offsetSeconds = offsetHours * 3600 + offsetMinutes * 60;
    if (text[pos] == '-') {
      offsetSeconds = -offsetSeconds;
    }
    pos += 6;
  } else {
    return kMalformed;
  }
  if (pos != text.size()) {
    return kMalformed;
  }
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return kMalformed;
  }
  // In seconds first: a year from 0000 to 9999 fits in 64 bits of seconds,
  // not always in the nanoseconds of a system_clock time_point (about
  // 1678 to 2262), where it would wrap (9999 became 1816).
  const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds;
  using Seconds = std::chrono::seconds;
  // One second of margin each side leaves room for the fraction.
  const std::int64_t last = std::chrono::floor<Seconds>(core::TimePoint::max().time_since_epoch()).count() - 1;
  const std::int64_t first = std::chrono::ceil<Seconds>(core::TimePoint::min().time_since_epoch()).count() + 1;
  if (seconds > last) {
    return {TimeRange::kAfterRange, {}};
  }
  if (seconds < first) {
    return {TimeRange::kBeforeRange, {}};
  }
  return {TimeRange::kInRange, core::TimePoint{} + std::chrono::duration_cast<core::TimePoint::duration>(Seconds(seconds)) +
                                   std::chrono::duration_cast<core::TimePoint::duration>(fraction)};
}

}  // namespace

std::optional<core::TimePoint> parseTime(std::string_view text) {
  const ParsedTime parsed = parseTimeInRange(text);
  if (parsed.range != TimeRange::kInRange) {
    return std::nullopt;
  }
  return parsed.time;
}

std::optional<core::TimePoint> parseExpiryTime(std::string_view text) {
  const ParsedTime parsed = parseTimeInRange(text);
  switch (parsed.range) {
    case TimeRange::kInRange:
      return parsed.time;
    case TimeRange::kAfterRange:
      return core::TimePoint::max();
    case TimeRange::kBeforeRange:  // nonsense for an expiry: refused rather than guessed
    case TimeRange::kMalformed:
      break;
  }
  return std::nullopt;
}

}  // namespace kubeai::kube

#include "kube/client/kube_time.h"

#include <charconv>
#include <cstdint>
#include <cstdio>

namespace kubeai::kube {
namespace {

std::string formatWith(core::TimePoint time, bool micros) {
  const auto sinceEpoch = time.time_since_epoch();
  const auto days = std::chrono::floor<std::chrono::days>(sinceEpoch);
  const std::chrono::year_month_day date{std::chrono::sys_days{days}};
  const std::chrono::hh_mm_ss clock{std::chrono::floor<std::chrono::microseconds>(sinceEpoch - days)};
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

bool readInt(std::string_view text, std::size_t pos, std::size_t width, int& out) {
  if (pos + width > text.size()) {
    return false;
  }
  const char* first = text.data() + pos;
  const auto [end, error] = std::from_chars(first, first + width, out);
  return error == std::errc{} && end == first + width;
}

}  // namespace

std::string formatTime(core::TimePoint time) { return formatWith(time, false); }
std::string formatMicroTime(core::TimePoint time) { return formatWith(time, true); }

std::optional<core::TimePoint> parseTime(std::string_view text) {
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
    return std::nullopt;
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
  std::chrono::minutes offset{0};
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offsetHours = 0;
    int offsetMinutes = 0;
    if (!readInt(text, pos + 1, 2, offsetHours) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !readInt(text, pos + 4, 2, offsetMinutes)) {
      return std::nullopt;
    }
    offset = std::chrono::hours(offsetHours) + std::chrono::minutes(offsetMinutes);
    if (text[pos] == '-') {
      offset = -offset;
    }
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok() || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  const auto time = std::chrono::sys_days(date) + std::chrono::hours(hour) + std::chrono::minutes(minute) +
                    std::chrono::seconds(second) + fraction - offset;
  return std::chrono::time_point_cast<core::TimePoint::duration>(time);
}

}  // namespace kubeai::kube

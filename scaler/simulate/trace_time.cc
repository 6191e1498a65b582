#include "simulate/trace_time.h"

#include <array>
#include <cstddef>

namespace kubeai::simulate {
namespace {

using detail::kMicrosPerSecond;

bool digitsAt(std::string_view text, std::size_t position, std::size_t count, int& out) {
  if (position + count > text.size()) {
    return false;
  }
  int value = 0;
  for (std::size_t i = position; i < position + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  return true;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t daysFromCivil(int year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const int yearOfEra = year - era * 400;
  const int dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
  return static_cast<std::int64_t>(era) * 146097 + dayOfEra - 719468;
}

int daysInMonth(int year, int month) {
  static constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

}  // namespace

std::optional<std::int64_t> parseTimestampMicros(std::string_view text) {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  if (!digitsAt(text, 0, 4, year) || text.size() < 19 || text[4] != '-' || !digitsAt(text, 5, 2, month) ||
      text[7] != '-' || !digitsAt(text, 8, 2, day) ||
      (text[10] != ' ' && text[10] != 'T' && text[10] != 't') || !digitsAt(text, 11, 2, hour) ||
      text[13] != ':' || !digitsAt(text, 14, 2, minute) || text[16] != ':' || !digitsAt(text, 17, 2, second)) {
    return std::nullopt;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t position = 19;
  std::int64_t micros = 0;
  if (position < text.size() && text[position] == '.') {
    ++position;
    const std::size_t digitsStart = position;
    std::int64_t scale = 100'000;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') {
      micros += (text[position] - '0') * scale;
      scale /= 10;
      ++position;
    }
    if (position == digitsStart) {
      return std::nullopt;
    }
  }
  std::int64_t offsetSeconds = 0;
  if (position < text.size()) {
    const char zone = text[position];
    if ((zone == 'Z' || zone == 'z') && position + 1 == text.size()) {
      position = text.size();
    } else if (zone == '+' || zone == '-') {
      int offsetHours = 0;
      int offsetMinutes = 0;
      if (position + 6 != text.size() || !digitsAt(text, position + 1, 2, offsetHours) ||
          text[position + 3] != ':' || !digitsAt(text, position + 4, 2, offsetMinutes) || offsetHours > 23 ||
          offsetMinutes > 59) {
        return std::nullopt;
      }
      offsetSeconds = (zone == '+' ? 1 : -1) * (offsetHours * 3600 + offsetMinutes * 60);
      position = text.size();
    } else {
      return std::nullopt;
    }
  }
  const std::int64_t seconds =
      daysFromCivil(year, month, day) * 86'400 + hour * 3600 + minute * 60 + second - offsetSeconds;
  return seconds * kMicrosPerSecond + micros;
}

}  // namespace kubeai::simulate

#include "simulate/demand.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>

namespace kubeai::simulate {
namespace {

constexpr std::int64_t kMicrosPerSecond = 1'000'000;
// Rate times in seconds beyond ~3,000 years are typos, and would overflow microseconds.
constexpr double kMaxRateSeconds = 1e11;
// Longer intervals are refused: they would overflow the step arithmetic, and
// parseDuration gives at most a week.
constexpr std::int64_t kMaxIntervalMs = 7LL * 24 * 3600 * 1000;
// No real count of tokens or rate comes near; the bound keeps every sum finite.
constexpr double kMaxTraceValue = 1e12;
// The loader's read size: big enough that fread is not the cost, small enough
// that a 500 MB trace is never held whole.
constexpr std::size_t kReadChunkBytes = 64 * 1024;

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// The start of a field for a message: quoted, printable, at most 40 bytes
// (the input may be anything).
std::string quote(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    out += (c >= 0x20 && c < 0x7f && c != '"') ? static_cast<char>(c) : '?';
  }
  if (text.size() > kMax) {
    out += "...";
  }
  out += '"';
  return out;
}

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) {
      return false;
    }
  }
  return true;
}

// A field's number: the whole field, as from_chars reads it (no '+', no spaces).
std::optional<double> wholeNumber(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// A count or a rate: finite, >= 0 and at most kMaxTraceValue. `column` names the column in the message.
core::Result<double> readValue(std::string_view field, std::string_view column) {
  const std::string_view text = trim(field);
  const auto value = wholeNumber(text);
  std::string problem;
  if (!value) {
    problem = text.empty() ? "empty" : "not a number: " + quote(text);
  } else if (std::isnan(*value)) {
    problem = "NaN, a number is required";
  } else if (std::isinf(*value)) {
    problem = "infinite, a finite number is required";
  } else if (*value < 0) {
    problem = "negative (" + quote(text) + "), must be >= 0";
  } else if (*value > kMaxTraceValue) {
    problem = quote(text) + " is larger than 1e12";
  } else {
    return *value;
  }
  return core::Error{std::string(column) + ": " + problem};
}

// Up to kFields fields of a line and how many there were in all.
template <std::size_t kFields>
struct Fields {
  std::array<std::string_view, kFields> field{};
  std::size_t count = 0;
};

template <std::size_t kFields>
Fields<kFields> split(std::string_view line) {
  Fields<kFields> out;
  while (true) {
    const std::size_t comma = line.find(',');
    if (out.count < kFields) {
      out.field[out.count] = line.substr(0, comma);
    }
    ++out.count;
    if (comma == std::string_view::npos) {
      return out;
    }
    line.remove_prefix(comma + 1);
  }
}

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

std::string intervalText(std::int64_t intervalMicros) {
  return std::to_string(intervalMicros / 1000) + " ms";
}

// What both formats share: lines, CR, BOM, the header, empty lines, errors
// with file:line. A format reads its data rows.
class TraceParser {
 public:
  TraceParser(std::string_view name, std::chrono::milliseconds interval, std::string_view header)
      : name_(name),
        intervalMicros_(interval.count() > 0 && interval.count() <= kMaxIntervalMs ? interval.count() * 1000 : 0),
        header_(header) {}
  virtual ~TraceParser() = default;
  TraceParser(const TraceParser&) = delete;
  TraceParser& operator=(const TraceParser&) = delete;

  // One line without its '\n'. False once an error was set (error()).
  bool line(std::string_view text) {
    ++lineNumber_;
    if (!text.empty() && text.back() == '\r') {
      text.remove_suffix(1);
    }
    if (text.size() > kMaxTraceLineBytes) {
      return fail("line longer than " + std::to_string(kMaxTraceLineBytes) + " bytes");
    }
    if (!headerSeen_) {
      headerSeen_ = true;
      if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) {
        text.remove_prefix(3);
      }
      return readHeader(text);
    }
    if (text.empty()) {
      return true;
    }
    ++rows_;
    return row(text);
  }

  core::Result<DemandSeries> finish() {
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

  [[nodiscard]] const core::Error& error() const { return error_; }
  [[nodiscard]] std::size_t lineNumber() const { return lineNumber_; }
  [[nodiscard]] bool validInterval() const { return intervalMicros_ > 0; }

  // The next line is longer than any trace line (the loader finds it before the line ends).
  void tooLong() {
    ++lineNumber_;
    fail("line longer than " + std::to_string(kMaxTraceLineBytes) + " bytes");
  }

  bool fail(const std::string& message) {
    error_ = core::Error{std::string(name_) + ":" + std::to_string(lineNumber_) + ": " + message};
    return false;
  }
  void failFile(const std::string& message) { error_ = core::Error{std::string(name_) + ": " + message}; }

 protected:
  virtual bool row(std::string_view text) = 0;
  virtual void finishSteps(DemandSeries& series) = 0;

  // Makes room for step `index` (relative to the first row); false (and the
  // error) past kMaxDemandSteps.
  bool reserveStep(std::int64_t index) {
    if (index < 0 || static_cast<std::uint64_t>(index) >= kMaxDemandSteps) {
      return fail("the trace spans more than " + std::to_string(kMaxDemandSteps) + " intervals of " +
                  intervalText(intervalMicros_) + " from its first row (line " + std::to_string(firstLine_) +
                  ")");
    }
    if (static_cast<std::size_t>(index) >= steps_.size()) {
      steps_.resize(static_cast<std::size_t>(index) + 1);
    }
    return true;
  }

  std::string_view name_;
  std::int64_t intervalMicros_;
  std::size_t lineNumber_ = 0;
  std::size_t firstLine_ = 0;
  // While reading, a format keeps its sums in these; finishSteps() turns them into means.
  std::vector<DemandStep> steps_;

 private:
  bool readHeader(std::string_view text) {
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

  std::string_view header_;
  bool headerSeen_ = false;
  std::size_t rows_ = 0;
  core::Error error_{};
};

// A time in a message: the field as written (kept in a fixed buffer, not a string per line).
class TimeText {
 public:
  void set(std::string_view text) {
    size_ = std::min(text.size(), text_.size());
    std::memcpy(text_.data(), text.data(), size_);
  }
  [[nodiscard]] std::string quoted() const { return quote(std::string_view(text_.data(), size_)); }

 private:
  std::array<char, 48> text_{};
  std::size_t size_ = 0;
};

class ArrivalsParser final : public TraceParser {
 public:
  ArrivalsParser(std::string_view name, std::chrono::milliseconds interval)
      : TraceParser(name, interval, "TIMESTAMP,ContextTokens,GeneratedTokens") {}

 protected:
  bool row(std::string_view text) override {
    const auto fields = split<3>(text);
    if (fields.count < 3) {
      static constexpr std::array<const char*, 3> kNames{"TIMESTAMP", "ContextTokens", "GeneratedTokens"};
      return fail("missing column " + std::string(kNames[fields.count]) +
                  " (3 columns: TIMESTAMP,ContextTokens,GeneratedTokens)");
    }
    if (fields.count > 3) {
      return fail("extra column: 3 columns (TIMESTAMP,ContextTokens,GeneratedTokens), got " +
                  std::to_string(fields.count));
    }
    const std::string_view timeField = trim(fields.field[0]);
    const auto time = parseTimestampMicros(timeField);
    if (!time) {
      return fail("TIMESTAMP: not a time: " + quote(timeField) +
                  " (use 2023-11-16 18:17:03.97, UTC, or RFC 3339 2023-11-16T18:17:03.97Z)");
    }
    const auto context = readValue(fields.field[1], "ContextTokens");
    if (!context.ok()) {
      return fail(context.error().message);
    }
    const auto generated = readValue(fields.field[2], "GeneratedTokens");
    if (!generated.ok()) {
      return fail(generated.error().message);
    }
    if (requests_ == 0) {
      first_ = *time;
      firstLine_ = lineNumber_;
    } else if (*time < previous_) {
      return fail("time goes back: " + quote(timeField) + " is before line " + std::to_string(previousLine_) +
                  "'s " + previousText_.quoted() + " (arrivals must be in time order)");
    }
    if (!reserveStep((*time - first_) / intervalMicros_)) {
      return false;
    }
    DemandStep& step = steps_[static_cast<std::size_t>((*time - first_) / intervalMicros_)];
    step.requestsPerSecond += 1;  // a count until finishSteps()
    step.meanContextTokens += context.value();
    step.meanGeneratedTokens += generated.value();
    contextSum_ += context.value();
    generatedSum_ += generated.value();
    ++requests_;
    previous_ = *time;
    previousLine_ = lineNumber_;
    previousText_.set(timeField);
    return true;
  }

  void finishSteps(DemandSeries& series) override {
    const double seconds = static_cast<double>(intervalMicros_) / kMicrosPerSecond;
    for (DemandStep& step : steps_) {
      const double count = step.requestsPerSecond;
      if (count > 0) {
        step.meanContextTokens /= count;
        step.meanGeneratedTokens /= count;
      }
      step.requestsPerSecond = count / seconds;
    }
    series.steps = std::move(steps_);
    series.meanContextTokens = contextSum_ / static_cast<double>(requests_);
    series.meanGeneratedTokens = generatedSum_ / static_cast<double>(requests_);
  }

 private:
  std::int64_t first_ = 0;
  std::int64_t previous_ = 0;
  std::size_t previousLine_ = 0;
  TimeText previousText_;
  std::size_t requests_ = 0;
  double contextSum_ = 0;
  double generatedSum_ = 0;
};

class RateParser final : public TraceParser {
 public:
  RateParser(std::string_view name, std::chrono::milliseconds interval)
      : TraceParser(name, interval, "time,requestsPerSecond") {}

 protected:
  bool row(std::string_view text) override {
    const auto fields = split<2>(text);
    if (fields.count < 2) {
      return fail("missing column requestsPerSecond (2 columns: time,requestsPerSecond)");
    }
    if (fields.count > 2) {
      return fail("extra column: 2 columns (time,requestsPerSecond), got " + std::to_string(fields.count));
    }
    const std::string_view timeField = trim(fields.field[0]);
    std::int64_t time = 0;
    bool seconds = false;
    if (const auto number = wholeNumber(timeField)) {
      if (!std::isfinite(*number) || *number < 0 || *number > kMaxRateSeconds) {
        return fail("time: " + quote(timeField) + " must be seconds in [0, 1e11] or an RFC 3339 time");
      }
      time = std::llround(*number * kMicrosPerSecond);
      seconds = true;
    } else if (const auto stamp = parseTimestampMicros(timeField)) {
      time = *stamp;
    } else {
      return fail("time: not a time: " + quote(timeField) +
                  " (use seconds from the start, or RFC 3339 2023-11-16T18:17:03Z)");
    }
    const auto value = readValue(fields.field[1], "requestsPerSecond");
    if (!value.ok()) {
      return fail(value.error().message);
    }
    if (!haveRow_) {
      seconds_ = seconds;
      first_ = time;
      firstLine_ = lineNumber_;
    } else {
      if (seconds != seconds_) {
        return fail(std::string("time: ") + (seconds ? "seconds" : "an RFC 3339 time") + ", but line " +
                    std::to_string(firstLine_) + " has " + (seconds_ ? "seconds" : "RFC 3339 times") +
                    " (one kind per file)");
      }
      if (time == previous_) {
        return fail("duplicate time " + quote(timeField) + " (also line " + std::to_string(previousLine_) +
                    "); times must be strictly increasing");
      }
      if (time < previous_) {
        return fail("time goes back: " + quote(timeField) + " is before line " + std::to_string(previousLine_) +
                    "'s " + previousText_.quoted() + "; times must be strictly increasing");
      }
    }
    // The row's own step, so that finishSteps() has room for the last value.
    if (!reserveStep((time - first_) / intervalMicros_)) {
      return false;
    }
    if (haveRow_) {
      addSegment(previous_ - first_, time - first_, previousValue_);
    }
    haveRow_ = true;
    previous_ = time;
    previousValue_ = value.value();
    previousLine_ = lineNumber_;
    previousText_.set(timeField);
    return true;
  }

  void finishSteps(DemandSeries& series) override {
    // The last value holds until the end of its interval.
    const std::int64_t start = previous_ - first_;
    const std::int64_t end = (start / intervalMicros_ + 1) * intervalMicros_;
    addSegment(start, end, previousValue_);
    for (DemandStep& step : steps_) {
      step.requestsPerSecond /= static_cast<double>(intervalMicros_);
    }
    series.steps = std::move(steps_);
  }

 private:
  // Adds `value` over [begin, end) (microseconds from the first row) to the
  // steps it overlaps, weighted by the overlap: each step ends up with the
  // time-weighted mean once divided by the interval. The steps up to `end`'s
  // row are reserved (row()).
  void addSegment(std::int64_t begin, std::int64_t end, double value) {
    std::int64_t index = begin / intervalMicros_;
    while (begin < end) {
      const std::int64_t stepEnd = std::min(end, (index + 1) * intervalMicros_);
      steps_[static_cast<std::size_t>(index)].requestsPerSecond += value * static_cast<double>(stepEnd - begin);
      begin = stepEnd;
      ++index;
    }
  }

  bool haveRow_ = false;
  bool seconds_ = false;
  std::int64_t first_ = 0;
  std::int64_t previous_ = 0;
  double previousValue_ = 0;
  std::size_t previousLine_ = 0;
  TimeText previousText_;
};

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

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

core::Result<DemandSeries> loadFile(const std::filesystem::path& path, TraceParser& parser) {
  const std::string name = path.string();
  if (!parser.validInterval()) {
    parser.failFile("the interval must be greater than 0 and at most a week");
    return parser.finish();
  }
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    return core::Error{"no such file: " + name};
  }
  if (!std::filesystem::is_regular_file(status)) {
    return core::Error{name + ": not a regular file"};
  }
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error) {
    return core::Error{"cannot read " + name + ": " + error.message()};
  }
  if (size > kMaxTraceFileBytes) {
    return core::Error{name + ": " + std::to_string(size) + " bytes, larger than the " +
                       std::to_string(kMaxTraceFileBytes) + " a trace may have"};
  }
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(name.c_str(), "rb"));
  if (!file) {
    return core::Error{"cannot read " + name + ": " + std::strerror(errno)};
  }
  std::vector<char> buffer(kReadChunkBytes);
  // A line cut by a chunk's end; bounded by the longest line a trace may have.
  std::string partial;
  std::uintmax_t total = 0;
  bool going = true;
  while (going) {
    const std::size_t read = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (read == 0) {
      break;
    }
    total += read;
    if (total > kMaxTraceFileBytes) {
      return core::Error{name + ": grew past the " + std::to_string(kMaxTraceFileBytes) +
                         " bytes a trace may have while being read"};
    }
    std::string_view chunk(buffer.data(), read);
    while (going) {
      const std::size_t newline = chunk.find('\n');
      if (newline == std::string_view::npos) {
        // + 1: the line's '\r', which line() takes off before it counts.
        if (partial.size() + chunk.size() > kMaxTraceLineBytes + 1) {
          parser.tooLong();
          going = false;
          break;
        }
        partial.append(chunk);
        break;
      }
      if (partial.empty()) {
        going = parser.line(chunk.substr(0, newline));
      } else {
        partial.append(chunk.substr(0, newline));
        going = parser.line(partial);
        partial.clear();
      }
      chunk.remove_prefix(newline + 1);
    }
  }
  if (std::ferror(file.get()) != 0) {
    return core::Error{"cannot read " + name};
  }
  if (going && !partial.empty()) {
    parser.line(partial);
  }
  return parser.finish();
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

core::Result<DemandSeries> parseArrivalsCsv(std::string_view text, std::string_view name,
                                            std::chrono::milliseconds interval) {
  ArrivalsParser parser(name, interval);
  return parseText(text, parser);
}

core::Result<DemandSeries> parseRateCsv(std::string_view text, std::string_view name,
                                        std::chrono::milliseconds interval) {
  RateParser parser(name, interval);
  return parseText(text, parser);
}

core::Result<DemandSeries> loadArrivalsCsv(const std::filesystem::path& path, std::chrono::milliseconds interval) {
  const std::string name = path.string();
  ArrivalsParser parser(name, interval);
  return loadFile(path, parser);
}

core::Result<DemandSeries> loadRateCsv(const std::filesystem::path& path, std::chrono::milliseconds interval) {
  const std::string name = path.string();
  RateParser parser(name, interval);
  return loadFile(path, parser);
}

void scaleDemand(DemandSeries& series, double scale) {
  for (DemandStep& step : series.steps) {
    step.requestsPerSecond *= scale;
  }
}

}  // namespace kubeai::simulate

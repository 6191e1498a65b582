#include "simulate/demand.h"

// The rate series (parseRateCsv, demand.h): a rate per row that holds until
// the next, binned per interval as time-weighted means.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "simulate/trace_fields.h"
#include "simulate/trace_file.h"
#include "simulate/trace_parser.h"
#include "simulate/trace_time.h"

namespace kubeai::simulate {
namespace {

using detail::kMicrosPerSecond;
using detail::loadFile;
using detail::parseText;
using detail::quote;
using detail::readValue;
using detail::split;
using detail::TimeText;
using detail::trim;
using detail::wholeNumber;

// Rate times in seconds beyond ~3,000 years are typos, and would overflow microseconds.
constexpr double kMaxRateSeconds = 1e11;

class RateParser final : public detail::TraceParser {
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

}  // namespace

core::Result<DemandSeries> parseRateCsv(std::string_view text, std::string_view name,
                                        std::chrono::milliseconds interval) {
  RateParser parser(name, interval);
  return parseText(text, parser);
}

core::Result<DemandSeries> loadRateCsv(const std::filesystem::path& path, std::chrono::milliseconds interval) {
  const std::string name = path.string();
  RateParser parser(name, interval);
  return loadFile(path, parser);
}

}  // namespace kubeai::simulate

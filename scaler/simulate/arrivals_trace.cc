#include "simulate/demand.h"

// The arrivals trace (parseArrivalsCsv, demand.h): one request per line,
// binned per interval as a rate with the means of its token counts.

#include <array>
#include <chrono>
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

class ArrivalsParser final : public detail::TraceParser {
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

}  // namespace

core::Result<DemandSeries> parseArrivalsCsv(std::string_view text, std::string_view name,
                                            std::chrono::milliseconds interval) {
  ArrivalsParser parser(name, interval);
  return parseText(text, parser);
}

core::Result<DemandSeries> loadArrivalsCsv(const std::filesystem::path& path, std::chrono::milliseconds interval) {
  const std::string name = path.string();
  ArrivalsParser parser(name, interval);
  return loadFile(path, parser);
}

}  // namespace kubeai::simulate

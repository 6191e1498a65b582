#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "simulate/trace_time.h"  // parseTimestampMicros: part of this interface

namespace kubeai::simulate {

// The demand during one evaluation interval [i * interval, (i + 1) * interval).
struct DemandStep {
  double requestsPerSecond = 0;
  // Means over the interval's requests; 0 when the trace has no token counts
  // or the interval has no requests (the model then uses the trace's means).
  double meanContextTokens = 0;
  double meanGeneratedTokens = 0;
};

// Demand binned per evaluation interval from time 0 (the trace's first
// timestamp, or its first row for a rate series).
struct DemandSeries {
  std::chrono::milliseconds interval{15'000};
  std::vector<DemandStep> steps;
  // Means over the whole trace (0 without token counts): what a quiet interval uses.
  double meanContextTokens = 0;
  double meanGeneratedTokens = 0;
};

// Far above a week of any real trace at one line per request; a larger file is refused.
inline constexpr std::uintmax_t kMaxTraceFileBytes = 512u * 1024u * 1024u;
// A trace spanning more intervals than this is refused (a typo in a year must
// not allocate gigabytes of steps): a week at 1 s steps is 604,800.
inline constexpr std::size_t kMaxDemandSteps = std::size_t{1} << 21;
// A line of a trace is a few numbers; a longer one is not a trace.
inline constexpr std::size_t kMaxTraceLineBytes = 4096;

// An arrivals trace in the Azure LLM inference trace format, header line
// TIMESTAMP,ContextTokens,GeneratedTokens, one request per line, times
// "YYYY-MM-DD HH:MM:SS[.fraction]" (UTC) or RFC 3339, in non-decreasing order.
// Errors name the file (`name`) and the line: "trace.csv:12: time goes back ...".
// CRLF line ends, a UTF-8 BOM and empty lines are accepted; header names are
// matched case-insensitively. One pass, no allocation per line
// (docs/simulate.md, "Demand traces").
core::Result<DemandSeries> parseArrivalsCsv(std::string_view text, std::string_view name,
                                            std::chrono::milliseconds interval);

// A rate series: header time,requestsPerSecond; time in seconds from the
// start or RFC 3339, strictly increasing; each value holds until the next row
// (the last until the end of its interval).
core::Result<DemandSeries> parseRateCsv(std::string_view text, std::string_view name,
                                        std::chrono::milliseconds interval);

// Read a file (at most kMaxTraceFileBytes, regular; its size is checked before
// reading) in chunks and parse it as above: memory is the steps, not the file.
core::Result<DemandSeries> loadArrivalsCsv(const std::filesystem::path& path, std::chrono::milliseconds interval);
core::Result<DemandSeries> loadRateCsv(const std::filesystem::path& path, std::chrono::milliseconds interval);

// Multiplies every step's requestsPerSecond by `scale`.
void scaleDemand(DemandSeries& series, double scale);

}  // namespace kubeai::simulate

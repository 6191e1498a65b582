// Demand traces (a workload's spec.demand.arrivals and spec.demand.rate):
// simulate::parseArrivalsCsv and parseRateCsv. The first byte picks the
// parser (bit 0) and the interval (bits 1-2: 1 ms, 1 s, 15 s, 1 h); the rest
// is the file. Checks: an error names the file and is one printable line; an
// accepted trace has 1 to kMaxDemandSteps steps of the interval, every rate
// and token mean finite and >= 0; for arrivals, the steps hold exactly one
// request per data line (requestsPerSecond x interval summed).
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "simulate/demand.h"

namespace {

bool finiteNonNegative(double value) { return std::isfinite(value) && value >= 0; }

// Data lines as the parser counts them: after the first, not empty once a trailing '\r' is off.
std::size_t dataLines(std::string_view text) {
  std::size_t count = 0;
  bool first = true;
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (!first && !line.empty()) {
      ++count;
    }
    first = false;
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  static constexpr std::chrono::milliseconds kIntervals[] = {std::chrono::milliseconds(1), std::chrono::seconds(1),
                                                              std::chrono::seconds(15), std::chrono::hours(1)};
  const bool arrivals = (data[0] & 1) == 0;
  const auto interval = kIntervals[(data[0] >> 1) & 3];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto parsed = arrivals ? kubeai::simulate::parseArrivalsCsv(text, "fuzz.csv", interval)
                               : kubeai::simulate::parseRateCsv(text, "fuzz.csv", interval);
  if (!parsed.ok()) {
    const std::string& message = parsed.error().message;
    KUBEAI_FUZZ_CHECK(message.rfind("fuzz.csv:", 0) == 0, message);
    for (const char c : message) {
      KUBEAI_FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f, message);
    }
    return 0;
  }
  const auto& series = parsed.value();
  KUBEAI_FUZZ_CHECK(series.interval == interval, std::string(text));
  KUBEAI_FUZZ_CHECK(!series.steps.empty() && series.steps.size() <= kubeai::simulate::kMaxDemandSteps,
                    std::to_string(series.steps.size()));
  KUBEAI_FUZZ_CHECK(finiteNonNegative(series.meanContextTokens) && finiteNonNegative(series.meanGeneratedTokens),
                    std::string(text));
  double requests = 0;
  for (const auto& step : series.steps) {
    KUBEAI_FUZZ_CHECK(finiteNonNegative(step.requestsPerSecond) && finiteNonNegative(step.meanContextTokens) &&
                          finiteNonNegative(step.meanGeneratedTokens),
                      std::string(text));
    requests += step.requestsPerSecond * std::chrono::duration<double>(interval).count();
  }
  if (arrivals) {
    const auto lines = static_cast<double>(dataLines(text));
    KUBEAI_FUZZ_CHECK(std::fabs(requests - lines) <= 1e-6 * lines, std::to_string(requests) + " requests in " +
                                                                       std::to_string(lines) + " lines");
  }
  return 0;
}

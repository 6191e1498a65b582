#include "cli/simulate_prometheus_demand.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

namespace kubeai::cli {
namespace {

using namespace std::chrono_literals;
using source::prometheus::RangeSample;

constexpr std::int64_t kStart = 1704067200000;  // 2024-01-01T00:00:00Z

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Samples every `stepMs` from kStart with these values.
std::vector<RangeSample> every(std::int64_t stepMs, const std::vector<double>& values) {
  std::vector<RangeSample> samples;
  for (std::size_t i = 0; i < values.size(); ++i) {
    samples.push_back(RangeSample{kStart + static_cast<std::int64_t>(i) * stepMs, values[i]});
  }
  return samples;
}

std::vector<double> rates(const std::vector<RangeSample>& samples, std::chrono::milliseconds step,
                          std::chrono::milliseconds interval) {
  auto series = binRateSamples(samples, step, interval);
  REQUIRE_MESSAGE(series.ok(), (series.ok() ? "" : series.error().message));
  CHECK(series.value().interval == interval);
  std::vector<double> out;
  for (const auto& s : series.value().steps) {
    out.push_back(s.requestsPerSecond);
    // A rate series has no token counts: the engine model then uses requestsPerSecond alone.
    CHECK(s.meanContextTokens == 0);
    CHECK(s.meanGeneratedTokens == 0);
  }
  return out;
}

TEST_CASE("prometheus demand: the step equal to the interval gives the samples themselves") {
  CHECK(rates(every(15'000, {1, 2, 3}), 15s, 15s) == std::vector<double>{1, 2, 3});
}

TEST_CASE("prometheus demand: a longer interval is the time-weighted mean of the samples in it") {
  // [0,30): (1+3)/2; [30,60): (5+7)/2.
  CHECK(rates(every(15'000, {1, 3, 5, 7}), 15s, 30s) == std::vector<double>{2, 6});
}

TEST_CASE("prometheus demand: intervals that cut steps weight each sample by its overlap") {
  // Samples at 0, 15, 30, 45 s hold [0,15), [15,30), [30,45), [45,60); 20 s intervals:
  // [0,20): (15*4 + 5*8)/20 = 5; [20,40): (10*8 + 10*2)/20 = 5; [40,60): (5*2 + 15*6)/20 = 5.
  CHECK(rates(every(15'000, {4, 8, 2, 6}), 15s, 20s) == std::vector<double>{5, 5, 5});
}

TEST_CASE("prometheus demand: the last sample holds one step, then to the end of its interval") {
  // Samples at 0, 15, 30 s cover [0, 45); 30 s intervals: [0,30) = (2+4)/2 = 3,
  // [30,60) = the last value, 10, held on (as parseRateCsv's last row).
  CHECK(rates(every(15'000, {2, 4, 10}), 15s, 30s) == std::vector<double>{3, 10});
  // One sample: one step of it, in one interval.
  CHECK(rates(every(15'000, {7}), 15s, 60s) == std::vector<double>{7});
  // A step longer than the interval spreads the last sample over its step.
  CHECK(rates(every(60'000, {1, 3}), 60s, 30s) == std::vector<double>{1, 1, 3, 3});
}

TEST_CASE("prometheus demand: time 0 is the first sample's, and a gap holds the value before it") {
  // Prometheus leaves out the times without data: 0 s and 45 s here, 30 s missing.
  std::vector<RangeSample> samples{{kStart + 15'000, 2}, {kStart + 30'000, 4}, {kStart + 60'000, 8}};
  // From 15 s: [15,45) = (2+4)/2, [45,75) = (4+8)/2 (4 held over the gap, 8 for its step).
  CHECK(rates(samples, 15s, 30s) == std::vector<double>{3, 6});
}

TEST_CASE("prometheus demand: samples a binning refuses") {
  struct Row {
    std::vector<RangeSample> samples;
    const char* problem;
  };
  const std::vector<Row> rows = {
      {{}, "no samples"},
      {{{kStart, -1}}, "sample 1: the rate must be finite, >= 0"},
      {{{kStart, 1}, {kStart + 15'000, 1e13}}, "sample 2: the rate must be finite, >= 0 and at most 1e12"},
      {{{kStart, 1}, {kStart, 1}}, "sample 2: times must be strictly increasing"},
      // 100 days at 1 s intervals: more steps than a demand may have.
      {{{kStart, 1}, {kStart + 100LL * 86'400'000, 1}}, "more than 2097152 intervals of 1 s"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.problem);
    auto series = binRateSamples(row.samples, 15s, 1s);
    REQUIRE_FALSE(series.ok());
    CHECK(contains(series.error().message, row.problem));
  }
}

TEST_CASE("prometheus demand: start and end as RFC 3339 or Unix seconds") {
  CHECK(parseRangeTime("2024-01-01T00:00:00Z").value() == kStart);
  CHECK(parseRangeTime("2024-01-01T01:00:00+01:00").value() == kStart);
  CHECK(parseRangeTime("2024-01-01T00:00:00.25Z").value() == kStart + 250);
  CHECK(parseRangeTime("1704067200").value() == kStart);
  CHECK(parseRangeTime("1704067200.5").value() == kStart + 500);
  CHECK_FALSE(parseRangeTime("yesterday").ok());
  CHECK_FALSE(parseRangeTime("-5").ok());
  CHECK_FALSE(parseRangeTime("").ok());
}

TEST_CASE("prometheus demand: what is refused before any query") {
  simulate::PrometheusDemand demand;
  demand.query = "sum(rate(x[1m]))";
  demand.start = "2024-01-01T00:00:00Z";
  demand.end = "2024-01-01T01:00:00Z";
  PrometheusDemandOptions options;
  // No --prometheus-url.
  auto missing = loadPrometheusDemand(demand, 15s, options);
  REQUIRE_FALSE(missing.ok());
  CHECK(contains(missing.error().message, "spec.demand.prometheus: reading the demand from Prometheus needs --prometheus-url"));
  CHECK(missing.error().reason.empty());  // an input problem: exit 2
  // A URL that is none: the client's own check, naming the flag's value.
  options.client.url = "ftp://example.com";
  auto badUrl = loadPrometheusDemand(demand, 15s, options);
  REQUIRE_FALSE(badUrl.ok());
  CHECK(contains(badUrl.error().message, "prometheus URL \"ftp://example.com\": the scheme must be http or https"));
  // More points than a demand may have: refused before asking Prometheus for them.
  options.client.url = "http://127.0.0.1:1";
  demand.end = "2024-12-31T00:00:00Z";
  demand.step = 1s;
  auto tooLong = loadPrometheusDemand(demand, 15s, options);
  REQUIRE_FALSE(tooLong.ok());
  CHECK(contains(tooLong.error().message, "more than the 2097152 a demand may have (use a longer step)"));
}

}  // namespace
}  // namespace kubeai::cli

#include "cli/simulate_prometheus_demand.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <system_error>
#include <utility>

namespace kubeai::cli {
namespace {

namespace prometheus = source::prometheus;

// As the rate series' bound (simulate/demand.cc): no real rate comes near,
// and it keeps every sum of value x milliseconds finite.
constexpr double kMaxRate = 1e12;
// Unix seconds beyond this are a typo (year ~5138), and overflow milliseconds.
constexpr double kMaxUnixSeconds = 1e11;

std::string secondsText(std::chrono::milliseconds ms) {
  const auto count = ms.count();
  std::string text = std::to_string(count / 1000);
  if (count % 1000 != 0) {
    std::string fraction = std::to_string(count % 1000);
    fraction.insert(0, 3 - fraction.size(), '0');
    while (fraction.back() == '0') {
      fraction.pop_back();
    }
    text += '.';
    text += fraction;
  }
  return text + " s";
}

core::Error unavailable(core::Error error) {
  error.reason = std::string(kPrometheusUnavailable);
  return error;
}

}  // namespace

core::Result<std::int64_t> parseRangeTime(std::string_view text) {
  if (const auto micros = simulate::parseTimestampMicros(text)) {
    // Floor to the millisecond: Prometheus takes nothing finer.
    return *micros >= 0 ? *micros / 1000 : -((-*micros + 999) / 1000);
  }
  double seconds = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > kMaxUnixSeconds) {
    return core::Error{std::string("\"") + std::string(text.substr(0, 64)) +
                       "\" is neither an RFC 3339 time (2023-11-16T18:17:03Z) nor Unix seconds"};
  }
  return static_cast<std::int64_t>(std::llround(seconds * 1000));
}

core::Result<simulate::DemandSeries> binRateSamples(const std::vector<prometheus::RangeSample>& samples,
                                                    std::chrono::milliseconds step,
                                                    std::chrono::milliseconds interval) {
  const std::int64_t intervalMs = interval.count();
  const std::int64_t stepMs = step.count();
  if (intervalMs <= 0 || stepMs <= 0) {
    return core::Error{"the interval and the step must be greater than 0"};
  }
  if (samples.empty()) {
    return core::Error{"no samples: no data to replay"};
  }
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const double value = samples[i].value;
    if (!std::isfinite(value) || value < 0 || value > kMaxRate) {
      return core::Error{std::string("sample ") + std::to_string(i + 1) + ": the rate must be finite, >= 0 and at most 1e12"};
    }
    if (i > 0 && samples[i].unixMs <= samples[i - 1].unixMs) {
      return core::Error{std::string("sample ") + std::to_string(i + 1) + ": times must be strictly increasing"};
    }
  }
  const std::int64_t first = samples.front().unixMs;
  // Where the last sample's step ends, from the first sample; the series
  // then runs to the end of that interval.
  const std::int64_t lastEnd = samples.back().unixMs - first + stepMs;
  const std::int64_t count = (lastEnd + intervalMs - 1) / intervalMs;
  if (count <= 0 || static_cast<std::uint64_t>(count) > simulate::kMaxDemandSteps) {
    return core::Error{std::string("the samples span more than ") + std::to_string(simulate::kMaxDemandSteps) +
                       " intervals of " + secondsText(interval)};
  }
  std::vector<double> weighted(static_cast<std::size_t>(count), 0.0);
  // Adds `value` over [begin, end) (ms from the first sample) to the
  // intervals it overlaps, weighted by the overlap.
  auto addSegment = [&](std::int64_t begin, std::int64_t end, double value) {
    std::int64_t index = begin / intervalMs;
    while (begin < end) {
      const std::int64_t stepEnd = std::min(end, (index + 1) * intervalMs);
      weighted[static_cast<std::size_t>(index)] += value * static_cast<double>(stepEnd - begin);
      begin = stepEnd;
      ++index;
    }
  };
  for (std::size_t i = 0; i + 1 < samples.size(); ++i) {
    addSegment(samples[i].unixMs - first, samples[i + 1].unixMs - first, samples[i].value);
  }
  addSegment(samples.back().unixMs - first, count * intervalMs, samples.back().value);

  simulate::DemandSeries series;
  series.interval = interval;
  series.steps.resize(weighted.size());
  for (std::size_t i = 0; i < weighted.size(); ++i) {
    series.steps[i].requestsPerSecond = weighted[i] / static_cast<double>(intervalMs);
  }
  return series;
}

core::Result<simulate::DemandSeries> loadPrometheusDemand(const simulate::PrometheusDemand& demand,
                                                          std::chrono::milliseconds interval,
                                                          const PrometheusDemandOptions& options) {
  const std::string context = "spec.demand.prometheus";
  if (options.client.url.empty()) {
    return core::Error{context + ": reading the demand from Prometheus needs --prometheus-url"};
  }
  auto start = parseRangeTime(demand.start);
  if (!start.ok()) {
    return start.error().withContext(context + ".start");
  }
  auto end = parseRangeTime(demand.end);
  if (!end.ok()) {
    return end.error().withContext(context + ".end");
  }
  const std::int64_t stepMs = demand.step.count();
  if (stepMs <= 0) {
    return core::Error{context + ".step: must be greater than 0"};
  }
  if (end.value() <= start.value()) {
    return core::Error{context + ".end: must be after start"};
  }
  const std::int64_t points = (end.value() - start.value()) / stepMs + 1;
  if (static_cast<std::uint64_t>(points) > simulate::kMaxDemandSteps) {
    return core::Error{context + ": from start to end at a step of " + secondsText(demand.step) + " are " +
                       std::to_string(points) + " points, more than the " +
                       std::to_string(simulate::kMaxDemandSteps) + " a demand may have (use a longer step)"};
  }
  if (options.maxPointsPerQuery == 0) {
    return core::Error{context + ": at least one point per query"};
  }

  auto client = prometheus::PrometheusClient::create(options.client);
  if (!client.ok()) {
    return client.error();  // names the flag ("prometheus URL ...: ...")
  }
  std::vector<prometheus::RangeSample> samples;
  // Consecutive pieces, each of at most maxPointsPerQuery evaluation times,
  // on the same grid start + k * step as one query would be.
  const auto piecePoints = static_cast<std::int64_t>(
      std::min<std::uint64_t>(options.maxPointsPerQuery, static_cast<std::uint64_t>(points)));
  for (std::int64_t pieceStart = start.value(); pieceStart <= end.value();) {
    prometheus::RangeQuery query;
    query.expression = demand.query;
    query.startUnixMs = pieceStart;
    query.endUnixMs = std::min(end.value(), pieceStart + (piecePoints - 1) * stepMs);
    query.step = demand.step;
    auto response = client.value()->rangeQuery(query);
    if (!response.ok()) {
      return unavailable(response.error().withContext(context + ": query `" + demand.query + "`"));
    }
    auto read = prometheus::readRangeResponse(response.value(), demand.query);
    if (!read.ok()) {
      core::Error error = read.error().withContext(context);
      // 5xx: the server failed (overloaded, a proxy without a backend), not the query.
      return response.value().status >= 500 ? unavailable(std::move(error)) : error;
    }
    if (options.onWarning) {
      for (const std::string& warning : read.value().warnings) {
        options.onWarning(context + ": query `" + demand.query + "`: " + warning);
      }
    }
    for (const prometheus::RangeSample& sample : read.value().samples) {
      if (sample.unixMs < query.startUnixMs || sample.unixMs > query.endUnixMs ||
          (!samples.empty() && sample.unixMs <= samples.back().unixMs)) {
        return core::Error{context + ": query `" + demand.query +
                           "`: unexpected response: a sample outside the range asked for, or out of order"};
      }
      samples.push_back(sample);
    }
    pieceStart = query.endUnixMs + stepMs;
  }
  if (samples.empty()) {
    return core::Error{context + ": query `" + demand.query + "`: returned no data between start " + demand.start +
                       " and end " + demand.end + " (does the metric exist then, with these labels?)"};
  }
  auto series = binRateSamples(samples, demand.step, interval);
  if (!series.ok()) {
    return series.error().withContext(context + ": query `" + demand.query + "`");
  }
  return series;
}

}  // namespace kubeai::cli

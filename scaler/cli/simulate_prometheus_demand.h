#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "simulate/demand.h"
#include "simulate/workload.h"
#include "source/prometheus/client/prometheus_client.h"
#include "source/prometheus/query_result.h"

// The demand of a workload's `spec.demand.prometheus`, read with a range
// query. Here and not in simulate/: the simulator stays free of HTTP; the
// command wires the Prometheus client to it.
namespace kubeai::cli {

// The reason (core::Error::reason) of an error that is the server's, not the
// input's: it could not be reached (connect, TLS, timeout) or answered 5xx.
// The command exits 1 for it, 2 for everything else (docs/simulate.md).
inline constexpr std::string_view kPrometheusUnavailable = "PrometheusUnavailable";

// Prometheus refuses a range query of more than 11,000 points per series;
// Thanos, Mimir and VictoriaMetrics have like limits. A longer range is read
// in pieces of this many points.
inline constexpr std::size_t kMaxPointsPerRangeQuery = 10'000;

struct PrometheusDemandOptions {
  source::prometheus::PrometheusClientOptions client;  // client.url empty: not given
  std::size_t maxPointsPerQuery = kMaxPointsPerRangeQuery;
  // Prometheus' `warnings`, one call each; none when empty.
  std::function<void(const std::string&)> onWarning;
};

// Runs `demand.query` from start to end at `step` (in pieces of at most
// maxPointsPerQuery points, concatenated) and bins the one series it returns
// into `interval` steps (binRateSamples). Errors name the query; a server
// that cannot be reached or answers 5xx gives an error of reason
// kPrometheusUnavailable naming the URL.
core::Result<simulate::DemandSeries> loadPrometheusDemand(const simulate::PrometheusDemand& demand,
                                                          std::chrono::milliseconds interval,
                                                          const PrometheusDemandOptions& options);

// Samples `step` apart (Prometheus' range query) as a rate series: each value
// holds until the next sample, the last for one step and then to the end of
// the interval it ends in (parseRateCsv's rule for its last row); binned per
// `interval` from the first sample's time as time-weighted means. A gap
// between samples (no data there) holds the value before it. Values must be
// finite, >= 0 and at most 1e12, times strictly increasing.
core::Result<simulate::DemandSeries> binRateSamples(const std::vector<source::prometheus::RangeSample>& samples,
                                                    std::chrono::milliseconds step,
                                                    std::chrono::milliseconds interval);

// start or end of spec.demand.prometheus as Unix milliseconds: RFC 3339 or
// Unix seconds, as the workload parser accepts them.
core::Result<std::int64_t> parseRangeTime(std::string_view text);

}  // namespace kubeai::cli

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "source/prometheus/client/query_transport.h"

namespace kubeai::source::prometheus {

// What one instant query said. `value` empty = no data (an empty vector, NaN,
// +Inf or -Inf): the slot is left out, never read as 0 — unless its metric
// opted in with treatEmptyAsZero and `empty` says no series matched at all
// (NaN is a series whose value is no number: it stays no data).
struct QueryValue {
  std::optional<double> value;
  bool empty = false;  // a vector without a sample
  std::vector<std::string> warnings;  // Prometheus' `warnings`, for the log
};

// Reads the answer of GET /api/v1/query for `query` (pure: no I/O).
//
// - `data.resultType` "vector" with one sample, or "scalar" -> its value.
// - "vector" with no sample -> no data, and `empty`.
// - a value NaN or ±Inf -> no data.
// - "vector" with two or more series -> an error that says to aggregate.
// - "matrix" or "string" -> an error: a range vector or a string is no reading.
// - HTTP status outside 2xx, `"status": "error"`, a body that is not the JSON
//   Prometheus sends -> an error with the HTTP status and Prometheus' own
//   `errorType`/`error`, or the start of the body (an auth proxy's "401
//   Unauthorized" is plain text).
//
// Every error message starts with the query, so it reads on its own.
core::Result<QueryValue> readQueryResponse(const HttpResponse& response, std::string_view query);

// One point of a range query's series: its time (Unix milliseconds) and value.
struct RangeSample {
  std::int64_t unixMs = 0;
  double value = 0;
};

// What one range query said: its one series' points, in time order.
struct RangeSeries {
  std::vector<RangeSample> samples;
  std::vector<std::string> warnings;  // Prometheus' `warnings`, for the log
};

// Reads the answer of /api/v1/query_range for `query` as a rate to replay
// (pure: no I/O), strictly:
//
// - `data.resultType` must be "matrix" with at most one series: none gives
//   no samples (no data in the range; the caller decides whether that is an
//   error), several are an error that says how many and to sum() them.
// - every value finite and >= 0; NaN, ±Inf or a negative value is an error
//   naming its time ("at 1704067215 (2024-01-01T00:00:15Z)").
// - times strictly increasing (Prometheus sends them so; anything else is
//   not Prometheus).
// - HTTP status outside 2xx, `"status": "error"`, a body that is not
//   Prometheus' JSON -> an error as readQueryResponse's.
//
// Every error message starts with the query, so it reads on its own.
core::Result<RangeSeries> readRangeResponse(const HttpResponse& response, std::string_view query);

// A sample value as Prometheus writes it: "1", "0.25", "1e3", "NaN", "+Inf",
// "-Inf". std::nullopt when the text is not a number.
std::optional<double> parseSampleValue(std::string_view text);

}  // namespace kubeai::source::prometheus

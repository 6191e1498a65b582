#include <doctest/doctest.h>

#include <string>

#include "source/prometheus/query_result.h"

namespace kubeai::source::prometheus {
namespace {

constexpr const char* kQuery = "sum(rate(vllm:request_success_total[1m]))";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

RangeSeries read(long status, const std::string& body) {
  auto result = readRangeResponse(HttpResponse{status, body}, kQuery);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
  return result.value();
}

std::string readError(long status, const std::string& body) {
  auto result = readRangeResponse(HttpResponse{status, body}, kQuery);
  REQUIRE_MESSAGE(!result.ok(), "expected an error for: " << body);
  // Every error names the query, so it reads on its own.
  CHECK(contains(result.error().message, std::string("query `") + kQuery + "`: "));
  return result.error().message;
}

// A query_range body as Prometheus 2.x/3.x sends it, with one series of these values.
std::string matrixOf(const std::string& values) {
  return R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[)" + values +
         "]}]}}";
}

TEST_CASE("range: one series gives its samples in order, times in milliseconds") {
  const RangeSeries series =
      read(200, matrixOf(R"([1704067200,"1.5"],[1704067215,"0"],[1704067230.25,"2e1"],[1704067245,"+0"])"));
  REQUIRE(series.samples.size() == 4);
  CHECK(series.samples[0].unixMs == 1704067200000);
  CHECK(series.samples[0].value == 1.5);
  // A real 0 is a rate of 0, kept.
  CHECK(series.samples[1].value == 0.0);
  // Fractional seconds, as Prometheus writes a start that is not whole.
  CHECK(series.samples[2].unixMs == 1704067230250);
  CHECK(series.samples[2].value == 20.0);
  CHECK(series.samples[3].value == 0.0);
  CHECK(series.warnings.empty());
}

TEST_CASE("range: a series with labels, and the warnings, are read") {
  const RangeSeries series = read(
      200, R"({"status":"success","warnings":["partial response"],"data":{"resultType":"matrix","result":[{"metric":{"job":"vllm"},"values":[[1704067200,"3"]]}]}})");
  REQUIRE(series.samples.size() == 1);
  CHECK(series.samples[0].value == 3.0);
  REQUIRE(series.warnings.size() == 1);
  CHECK(series.warnings[0] == "partial response");
}

TEST_CASE("range: no series is no samples, for the caller to judge") {
  // A selector that matches nothing in the range.
  CHECK(read(200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})").samples.empty());
}

TEST_CASE("range: several series are an error that says how many and to sum them") {
  const std::string message = readError(
      200, R"({"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"pod":"a"},"values":[[1704067200,"1"]]},
        {"metric":{"pod":"b"},"values":[[1704067200,"2"]]},
        {"metric":{"pod":"c"},"values":[[1704067200,"3"]]}]}})");
  CHECK(contains(message, "returned 3 series, expected one"));
  CHECK(contains(message, "sum("));
  // The first two, to show where they differ.
  CHECK(contains(message, R"({pod="a"}, {pod="b"}, ...)"));
}

TEST_CASE("range: NaN, infinities and negative values are errors naming the time") {
  struct Row {
    const char* value;
    const char* problem;
  };
  const Row rows[] = {
      {"NaN", "returned NaN at 1704067215 (2024-01-01T00:00:15Z)"},      // 0/0 over a quiet range
      {"+Inf", "returned +Inf at 1704067215 (2024-01-01T00:00:15Z)"},    // x/0
      {"-Inf", "returned -Inf at 1704067215 (2024-01-01T00:00:15Z)"},
      {"-0.5", "returned a negative rate (-0.5) at 1704067215 (2024-01-01T00:00:15Z)"},  // a delta, not a rate
      {"fast", "returned a value that is not a number (\"fast\") at 1704067215"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.value);
    const std::string message =
        readError(200, matrixOf(std::string(R"([1704067200,"1"],[1704067215,")") + row.value + "\"]"));
    CHECK(contains(message, row.problem));
  }
  // A fractional time is shown with its fraction.
  CHECK(contains(readError(200, matrixOf(R"([1704067200.5,"NaN"])")),
                 "at 1704067200.5 (2024-01-01T00:00:00.500Z)"));
}

TEST_CASE("range: times that do not increase are an error") {
  // Repeated.
  CHECK(contains(readError(200, matrixOf(R"([1704067200,"1"],[1704067200,"2"])")),
                 "sample times not increasing at 1704067200 (2024-01-01T00:00:00Z)"));
  // Going back.
  CHECK(contains(readError(200, matrixOf(R"([1704067215,"1"],[1704067200,"2"])")),
                 "not increasing at 1704067200"));
}

TEST_CASE("range: Prometheus' own errors are passed on with the query") {
  // A PromQL syntax error: 400 with errorType bad_data.
  const std::string syntax = readError(
      400, R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \")\""})");
  CHECK(contains(syntax, "HTTP 400: bad_data: 1:5: parse error"));
  // Too many points: Prometheus' limit of 11,000 per series.
  CHECK(contains(readError(400, R"json({"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"})json"),
                 "exceeded maximum resolution"));
  // An error with a 2xx status, as some proxies pass it on.
  CHECK(contains(readError(200, R"({"status":"error","errorType":"execution","error":"query timed out"})"),
                 "execution: query timed out"));
  // Not Prometheus at all: an auth proxy's page.
  const std::string proxy = readError(401, "401 Unauthorized");
  CHECK(contains(proxy, "HTTP 401: 401 Unauthorized"));
  CHECK(contains(proxy, "--prometheus-bearer-token-file"));
}

TEST_CASE("range: anything but a matrix of [time, \"value\"] pairs is an error") {
  struct Row {
    const char* body;
    const char* problem;
  };
  const Row rows[] = {
      // An instant query's answer, not a range query's.
      {R"({"status":"success","data":{"resultType":"vector","result":[]}})", "resultType \"vector\""},
      {R"({"status":"success","data":{"resultType":"scalar","result":[1704067200,"1"]}})", "resultType \"scalar\""},
      {R"({"status":"success","data":{"resultType":"matrix"}})", "no \"data.result\""},
      {R"({"status":"success","data":{"resultType":"matrix","result":{}}})", "not a list"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[1]}})", "not an object"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{}}]}})", "has no values"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[]}]}})",
       "a series without samples"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"histograms":[]}]}})",
       "native histograms"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1704067200,1]]}]}})",
       "not [time, \"value\"]"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[["x","1"]]}]}})",
       "not [time, \"value\"]"},
      {R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1e300,"1"]]}]}})",
       "not a Unix time"},
      {R"({"status":"success"})", "no \"data\" object"},
      {R"({"status":"pending","data":{}})", "neither \"success\" nor \"error\""},
      {"", "not Prometheus' JSON: (empty body)"},
      {"[1,2", "not Prometheus' JSON"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.body);
    CHECK(contains(readError(200, row.body), row.problem));
  }
}

}  // namespace
}  // namespace kubeai::source::prometheus

#include "source/prometheus/query_result.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

namespace kubeai::source::prometheus {
namespace {

constexpr const char* kQuery = R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~"chat-.*"}))";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

QueryValue read(long status, const std::string& body) {
  auto result = readQueryResponse(HttpResponse{status, body}, kQuery);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
  return result.value();
}

std::string readError(long status, const std::string& body) {
  auto result = readQueryResponse(HttpResponse{status, body}, kQuery);
  REQUIRE_MESSAGE(!result.ok(), "expected an error for: " << body);
  // Every error names the query, so it reads on its own in a log line.
  CHECK(contains(result.error().message, std::string("query `") + kQuery + "`: "));
  return result.error().message;
}

// Bodies as Prometheus 2.x/3.x sends them for GET /api/v1/query.
std::string vectorOf(const std::string& value) {
  std::string body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1732740000.123,")";
  body += value;
  body += R"("]}]}})";
  return body;
}

TEST_CASE("one sample or a scalar is the value") {
  // One series with its labels, as sum by (...) or a plain selector returns.
  CHECK(read(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"namespace":"llm"},"value":[1732740000.123,"81.5"]}]}})")
            .value == 81.5);
  CHECK(read(200, R"({"status":"success","data":{"resultType":"scalar","result":[1732740000.123,"0.42"]}})").value ==
        0.42);
  // A real 0 is data, not "no data".
  CHECK(read(200, vectorOf("0")).value == 0.0);
  CHECK(read(200, vectorOf("1e3")).value == 1000.0);
  CHECK(read(200, vectorOf("-2.5e-1")).value == -0.25);
  // Any 2xx is a success.
  CHECK(read(204, vectorOf("3")).value == 3.0);
}

TEST_CASE("an empty vector, NaN and infinities are no data, never 0") {
  // histogram_quantile over no traffic gives NaN; a selector matching nothing gives [].
  CHECK_FALSE(read(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})").value);
  CHECK_FALSE(read(200, vectorOf("NaN")).value);
  CHECK_FALSE(read(200, vectorOf("+Inf")).value);
  CHECK_FALSE(read(200, vectorOf("-Inf")).value);
  CHECK_FALSE(read(200, R"({"status":"success","data":{"resultType":"scalar","result":[1732740000,"NaN"]}})").value);
}

TEST_CASE("only a vector without a sample is empty (what treatEmptyAsZero reads as 0)") {
  CHECK(read(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})").empty);
  // A series whose value is no number is there: not empty.
  CHECK_FALSE(read(200, vectorOf("NaN")).empty);
  CHECK_FALSE(read(200, vectorOf("+Inf")).empty);
  CHECK_FALSE(read(200, vectorOf("0")).empty);
  CHECK_FALSE(read(200, R"({"status":"success","data":{"resultType":"scalar","result":[1732740000,"NaN"]}})").empty);
}

TEST_CASE("more than one series is an error that says to aggregate") {
  const std::string message = readError(
      200,
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"__name__":"DCGM_FI_DEV_GPU_UTIL","pod":"chat-a"},"value":[1732740000,"80"]},)"
      R"({"metric":{"__name__":"DCGM_FI_DEV_GPU_UTIL","pod":"chat-b"},"value":[1732740000,"60"]},)"
      R"({"metric":{"pod":"chat-c"},"value":[1732740000,"70"]}]}})");
  CHECK(contains(message, "returned 3 series, expected one"));
  CHECK(contains(message, "sum(...) or avg(...)"));
  CHECK(contains(message, R"(pod="chat-a")"));  // which series collided
  CHECK(contains(message, R"(pod="chat-b")"));
  CHECK_FALSE(contains(message, R"(pod="chat-c")"));  // bounded
}

TEST_CASE("a range vector or a string is an error") {
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1732740000,"1"],[1732740015,"2"]]}]}})"),
                 "range vector"));
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"string","result":[1732740000,"hello"]}})"),
                 "returned a string"));
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"streams","result":[]}})"),
                 "unknown resultType \"streams\""));
}

TEST_CASE("a native histogram sample is an error that says how to read it") {
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1732740000,{"count":"3","sum":"1.5","buckets":[]}]}]}})"),
                 "histogram_quantile()"));
}

TEST_CASE("Prometheus' own error is carried with the HTTP status") {
  // Rows as Prometheus answers them.
  // A PromQL syntax error: 400 bad_data.
  CHECK(contains(readError(400, R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected \"}\""})"),
                 R"(HTTP 400: bad_data: invalid parameter "query": 1:5: parse error: unexpected "}")"));
  // The query was cancelled or timed out on the server: 503 / 422.
  CHECK(contains(readError(503, R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})"),
                 "HTTP 503: timeout: query timed out in expression evaluation"));
  CHECK(contains(readError(422, R"({"status":"error","errorType":"execution","error":"found duplicate series for the match group"})"),
                 "HTTP 422: execution: found duplicate series for the match group"));
  // status "error" on a 200 (some proxies) is still an error.
  CHECK(contains(readError(200, R"({"status":"error","errorType":"internal","error":"boom"})"), "internal: boom"));
}

TEST_CASE("a body that is not Prometheus' JSON is an error with the status and the body's start") {
  // An auth proxy's plain-text refusals.
  CHECK(contains(readError(401, "Unauthorized\n"), "HTTP 401: Unauthorized"));
  CHECK(contains(readError(401, "Unauthorized\n"), "check the credentials: --prometheus-bearer-token-file"));
  CHECK(contains(readError(403, "Forbidden"), "check the credentials"));
  CHECK_FALSE(contains(readError(503, "Service Unavailable"), "credentials"));
  CHECK(contains(readError(403, "Forbidden: tenant \"team-a\" may not read\r\n"),
                 R"(HTTP 403: Forbidden: tenant "team-a" may not read)"));
  // A load balancer with no backend, and an empty answer.
  CHECK(contains(readError(503, "<html>\n<body>503 Service Unavailable</body>\n</html>"),
                 "HTTP 503: <html> <body>503 Service Unavailable</body> </html>"));
  CHECK(contains(readError(502, ""), "HTTP 502: (empty body)"));
  // A long page is cut short.
  const std::string message = readError(500, std::string(5000, 'x'));
  CHECK(message.size() < 400);
  CHECK(contains(message, "..."));
  // A 200 whose body was cut mid-way, or is not JSON.
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"val)"),
                 "HTTP 200: the response is not Prometheus' JSON"));
  CHECK(contains(readError(200, "OK"), "the response is not Prometheus' JSON: OK"));
  CHECK(contains(readError(200, "[1,2]"), "not Prometheus' JSON"));
}

TEST_CASE("malformed success bodies are errors, not crashes") {
  // Rows: body, expected part of the message.
  CHECK(contains(readError(200, R"({"status":"success"})"), "no \"data\" object"));
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"vector"}})"), "no \"data.result\""));
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"vector","result":{}}})"), "not a list"));
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}})"),
                 "not [time, \"value\"]"));
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"lots"]}]}})"),
                 R"(sample value "lots" is not a number)"));
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})"), "no value"));
  CHECK(contains(readError(200, R"({"status":"success","data":{"resultType":"vector","result":[7]}})"), "not an object"));
  CHECK(contains(readError(200, R"({"status":"maybe","data":{}})"), "neither \"success\" nor \"error\""));
}

TEST_CASE("warnings are returned with the value") {
  const QueryValue value =
      read(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1732740000,"5"]}]},)"
                R"("warnings":["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"inference_request_queue_depth\"","partial response: store eu-1 unreachable"]})");
  CHECK(value.value == 5.0);
  REQUIRE(value.warnings.size() == 2);
  CHECK(contains(value.warnings[0], "might not be a counter"));
  CHECK(value.warnings[1] == "partial response: store eu-1 unreachable");
  // With no data too.
  CHECK(read(200, R"({"status":"success","data":{"resultType":"vector","result":[]},"warnings":["w"]})").warnings ==
        std::vector<std::string>{"w"});
}

TEST_CASE("parseSampleValue reads Prometheus' number formats") {
  CHECK(parseSampleValue("1") == 1.0);
  CHECK(parseSampleValue("0.25") == 0.25);
  CHECK(parseSampleValue("1e3") == 1000.0);
  CHECK(parseSampleValue("1.5E-3") == 0.0015);
  CHECK(parseSampleValue("-7") == -7.0);
  CHECK(std::isnan(*parseSampleValue("NaN")));
  CHECK(std::isinf(*parseSampleValue("+Inf")));
  CHECK(*parseSampleValue("+Inf") > 0.0);
  CHECK(*parseSampleValue("-Inf") < 0.0);
  CHECK_FALSE(parseSampleValue(""));
  CHECK_FALSE(parseSampleValue("+"));
  CHECK_FALSE(parseSampleValue("+-1"));
  CHECK_FALSE(parseSampleValue("1x"));
  CHECK_FALSE(parseSampleValue(" 1"));
}

}  // namespace
}  // namespace kubeai::source::prometheus

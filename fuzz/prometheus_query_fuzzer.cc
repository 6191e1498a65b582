// What Prometheus (or whatever answers in its place: a proxy, a load
// balancer) sends back for an instant query:
// source::prometheus::readQueryResponse, readRangeResponse (the same body as
// a range query's answer), and parseSampleValue. The first byte
// picks the HTTP status, the rest is the body. Checks: every error starts with
// the query; a reading is a finite number, and `empty` only without one; a
// reading written back as a one-sample vector reads the same.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "source/prometheus/query_result.h"

namespace {

using kubeai::source::prometheus::HttpResponse;
using kubeai::source::prometheus::parseSampleValue;
using kubeai::source::prometheus::readQueryResponse;
using kubeai::source::prometheus::readRangeResponse;

constexpr std::string_view kQuery = "sum(rate(vllm:num_requests_waiting{pod=~\"llama-.*\"}[1m]))";
constexpr long kStatuses[] = {200, 200, 200, 200, 204, 400, 401, 403, 422, 500, 502, 503};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  HttpResponse response;
  response.status = kStatuses[data[0] % std::size(kStatuses)];
  response.body.assign(reinterpret_cast<const char*>(data + 1), size - 1);

  if (const auto sample = parseSampleValue(response.body); sample && std::isfinite(*sample)) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", *sample);
    const auto again = parseSampleValue(text);
    KUBEAI_FUZZ_CHECK(again && *again == *sample, text);
  }

  // The same body as a range query's answer (simulate's demand): an error
  // starts with the query; samples are finite, >= 0, in strictly increasing time.
  if (const auto range = readRangeResponse(response, kQuery); !range.ok()) {
    const std::string prefix = "query `" + std::string(kQuery) + "`: ";
    KUBEAI_FUZZ_CHECK(range.error().message.rfind(prefix, 0) == 0, range.error().message);
  } else {
    KUBEAI_FUZZ_CHECK(response.status >= 200 && response.status < 300, response.body);
    const auto& samples = range.value().samples;
    for (std::size_t i = 0; i < samples.size(); ++i) {
      KUBEAI_FUZZ_CHECK(std::isfinite(samples[i].value) && samples[i].value >= 0, response.body);
      KUBEAI_FUZZ_CHECK(i == 0 || samples[i].unixMs > samples[i - 1].unixMs, response.body);
    }
  }

  const auto read = readQueryResponse(response, kQuery);
  if (!read.ok()) {
    const std::string prefix = "query `" + std::string(kQuery) + "`: ";
    KUBEAI_FUZZ_CHECK(read.error().message.rfind(prefix, 0) == 0, read.error().message);
    return 0;
  }
  KUBEAI_FUZZ_CHECK(response.status >= 200 && response.status < 300, response.body);
  const auto& value = read.value();
  KUBEAI_FUZZ_CHECK(!value.value || std::isfinite(*value.value), response.body);
  KUBEAI_FUZZ_CHECK(!(value.empty && value.value), response.body);
  if (value.value) {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", *value.value);
    HttpResponse written;
    written.status = 200;
    written.body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,")";
    written.body += text;
    written.body += R"("]}]}})";
    const auto again = readQueryResponse(written, kQuery);
    KUBEAI_FUZZ_CHECK(again.ok() && again.value().value && *again.value().value == *value.value, written.body);
  }
  return 0;
}

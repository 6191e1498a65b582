#include "source/prometheus/query_result.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace kubeai::source::prometheus {
namespace {

using nlohmann::json;

constexpr std::size_t kBodyExcerpt = 200;
constexpr std::size_t kSeriesShown = 2;

// The start of a body for a message: one line, bounded, so that an HTML error
// page from a proxy does not flood the log.
std::string excerpt(std::string_view body) {
  std::string out;
  for (const char c : body.substr(0, kBodyExcerpt)) {
    const bool control = static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    if (control) {
      if (!out.empty() && out.back() != ' ') {
        out += ' ';
      }
    } else {
      out += c;
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  if (body.size() > kBodyExcerpt) {
    out += "...";
  }
  return out.empty() ? "(empty body)" : out;
}

core::Error queryError(std::string_view query, std::string_view cause) {
  std::string message = "query `";
  message += query;
  message += "`: ";
  message += cause;
  return core::Error{std::move(message)};
}

std::string httpPrefix(long status) {
  std::string text = "HTTP ";
  text += std::to_string(status);
  text += ": ";
  return text;
}

std::string stringField(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Prometheus' own words for a failed query: "bad_data: parse error ...".
std::optional<std::string> prometheusError(const json& body) {
  if (!body.is_object() || stringField(body, "status") != "error") {
    return std::nullopt;
  }
  const std::string type = stringField(body, "errorType");
  const std::string error = stringField(body, "error");
  std::string text = type;
  if (!type.empty() && !error.empty()) {
    text += ": ";
  }
  text += error;
  return text.empty() ? "error (no message)" : text;
}

// A series' labels as PromQL writes them, to show which series collided.
std::string labels(const json& sample) {
  const auto metric = sample.find("metric");
  if (metric == sample.end() || !metric->is_object()) {
    return "{}";
  }
  std::string text = "{";
  for (const auto& [name, value] : metric->items()) {
    if (text.size() > 1) {
      text += ", ";
    }
    text += name;
    text += "=";
    // Labels are UTF-8 as parsed; `replace` keeps dump() from ever throwing.
    text += value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  text += "}";
  return text;
}

// [<unix time>, "<value>"] -> the value; NaN and ±Inf are no data.
core::Result<std::optional<double>> samplePair(const json& pair, std::string_view query) {
  if (!pair.is_array() || pair.size() != 2 || !pair[1].is_string()) {
    return queryError(query, "unexpected response: a sample is not [time, \"value\"]");
  }
  const std::string text = pair[1].get<std::string>();
  const std::optional<double> value = parseSampleValue(text);
  if (!value) {
    std::string cause = "unexpected response: sample value \"";
    cause += text;
    cause += "\" is not a number";
    return queryError(query, cause);
  }
  if (!std::isfinite(*value)) {
    return std::optional<double>{};
  }
  return value;
}

core::Result<std::optional<double>> vectorValue(const json& result, std::string_view query) {
  if (!result.is_array()) {
    return queryError(query, "unexpected response: data.result of a vector is not a list");
  }
  if (result.empty()) {
    return std::optional<double>{};  // the caller marks it `empty`
  }
  if (result.size() > 1) {
    std::string cause = "returned ";
    cause += std::to_string(result.size());
    cause += " series, expected one: aggregate the query to a single series, e.g. wrap it in sum(...) or avg(...) (";
    for (std::size_t i = 0; i < result.size() && i < kSeriesShown; ++i) {
      cause += i == 0 ? "" : ", ";
      cause += labels(result[i]);
    }
    cause += result.size() > kSeriesShown ? ", ...)" : ")";
    return queryError(query, cause);
  }
  const json& sample = result[0];
  if (!sample.is_object()) {
    return queryError(query, "unexpected response: a vector sample is not an object");
  }
  const auto value = sample.find("value");
  if (value == sample.end()) {
    if (sample.contains("histogram")) {
      return queryError(query,
                        "returned a native histogram, not a number: read it with histogram_quantile(), "
                        "histogram_sum() or histogram_count()");
    }
    return queryError(query, "unexpected response: a vector sample has no value");
  }
  return samplePair(*value, query);
}

// What every answer of the API shares: a 2xx status, Prometheus' JSON,
// "status": "success" and a "data" object. Returns that object (in `body`),
// or the error as readQueryResponse documents it.
core::Result<const json*> checkEnvelope(const HttpResponse& response, const json& body, std::string_view query) {
  const bool success = response.status >= 200 && response.status < 300;
  if (!success) {
    std::string cause = httpPrefix(response.status);
    if (auto error = prometheusError(body)) {
      cause += *error;
    } else {
      cause += excerpt(response.body);  // not Prometheus' JSON: an auth proxy, a load balancer
    }
    if (response.status == 401 || response.status == 403) {
      cause += " (check the credentials: --prometheus-bearer-token-file, or --prometheus-basic-auth-user "
               "and --prometheus-basic-auth-password-file)";
    }
    return queryError(query, cause);
  }
  if (body.is_discarded() || !body.is_object()) {
    std::string cause = httpPrefix(response.status);
    cause += "the response is not Prometheus' JSON: ";
    cause += excerpt(response.body);
    return queryError(query, cause);
  }
  if (auto error = prometheusError(body)) {
    return queryError(query, *error);
  }
  if (stringField(body, "status") != "success") {
    return queryError(query, "unexpected response: \"status\" is neither \"success\" nor \"error\"");
  }
  const auto data = body.find("data");
  if (data == body.end() || !data->is_object()) {
    return queryError(query, "unexpected response: no \"data\" object");
  }
  return &*data;
}

std::vector<std::string> warningsOf(const json& body) {
  std::vector<std::string> out;
  if (const auto warnings = body.find("warnings"); warnings != body.end() && warnings->is_array()) {
    for (const json& warning : *warnings) {
      if (warning.is_string()) {
        out.push_back(warning.get<std::string>());
      }
    }
  }
  return out;
}

// Unix seconds beyond this (year ~5138) are no sample time, and would
// overflow milliseconds on the way.
constexpr double kMaxUnixSeconds = 1e11;

// A sample time for a message: "1704067215 (2024-01-01T00:00:15Z)",
// "1704067215.5 (2024-01-01T00:00:15.500Z)".
std::string timeText(std::int64_t unixMs) {
  const std::int64_t seconds = unixMs >= 0 ? unixMs / 1000 : -((-unixMs + 999) / 1000);
  const auto ms = static_cast<int>(unixMs - seconds * 1000);
  std::string text = std::to_string(seconds);
  char fraction[16] = {};
  if (ms != 0) {
    std::snprintf(fraction, sizeof fraction, ".%03d", ms);
    std::string digits = fraction;
    while (digits.back() == '0') {
      digits.pop_back();
    }
    text += digits;
  }
  // Days to a civil date (H. Hinnant's civil_from_days).
  const std::int64_t days = seconds >= 0 ? seconds / 86400 : -((-seconds + 86399) / 86400);
  const std::int64_t secondOfDay = seconds - days * 86400;
  const std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t dayOfEra = z - era * 146097;
  const std::int64_t yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365;
  const std::int64_t dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100);
  const std::int64_t monthIndex = (5 * dayOfYear + 2) / 153;
  const std::int64_t day = dayOfYear - (153 * monthIndex + 2) / 5 + 1;
  const std::int64_t month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  const std::int64_t year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  char civil[160] = {};
  std::snprintf(civil, sizeof civil, " (%04lld-%02lld-%02lldT%02lld:%02lld:%02lld%sZ)", static_cast<long long>(year),
                static_cast<long long>(month), static_cast<long long>(day),
                static_cast<long long>(secondOfDay / 3600), static_cast<long long>(secondOfDay / 60 % 60),
                static_cast<long long>(secondOfDay % 60), ms != 0 ? fraction : "");
  text += civil;
  return text;
}

core::Result<RangeSeries> matrixSeries(const json& result, std::string_view query) {
  if (!result.is_array()) {
    return queryError(query, "unexpected response: data.result of a matrix is not a list");
  }
  if (result.empty()) {
    return RangeSeries{};  // no data in the range: the caller says what that means
  }
  if (result.size() > 1) {
    std::string cause = "returned ";
    cause += std::to_string(result.size());
    cause += " series, expected one: the demand is one rate, so sum them, e.g. sum(...) around the query (";
    for (std::size_t i = 0; i < result.size() && i < kSeriesShown; ++i) {
      cause += i == 0 ? "" : ", ";
      cause += labels(result[i]);
    }
    cause += result.size() > kSeriesShown ? ", ...)" : ")";
    return queryError(query, cause);
  }
  const json& series = result[0];
  if (!series.is_object()) {
    return queryError(query, "unexpected response: a matrix series is not an object");
  }
  const auto values = series.find("values");
  if (values == series.end()) {
    if (series.contains("histograms")) {
      return queryError(query,
                        "returned native histograms, not numbers: read a rate from them with "
                        "histogram_count(rate(...))");
    }
    return queryError(query, "unexpected response: a matrix series has no values");
  }
  if (!values->is_array()) {
    return queryError(query, "unexpected response: a matrix series' values are not a list");
  }
  if (values->empty()) {
    return queryError(query, "returned a series without samples: no data to replay");
  }
  RangeSeries out;
  out.samples.reserve(values->size());
  for (const json& pair : *values) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
      return queryError(query, "unexpected response: a sample is not [time, \"value\"]");
    }
    const double seconds = pair[0].get<double>();
    if (!std::isfinite(seconds) || std::abs(seconds) > kMaxUnixSeconds) {
      return queryError(query, "unexpected response: a sample time is not a Unix time");
    }
    const std::int64_t unixMs = std::llround(seconds * 1000);
    const std::string text = pair[1].get<std::string>();
    const std::optional<double> value = parseSampleValue(text);
    std::string problem;
    if (!value) {
      problem = "a value that is not a number (\"" + text.substr(0, 40) + "\")";
    } else if (std::isnan(*value)) {
      problem = "NaN";
    } else if (std::isinf(*value)) {
      problem = *value > 0 ? "+Inf" : "-Inf";
    } else if (*value < 0) {
      problem = "a negative rate (" + text.substr(0, 40) + ")";
    }
    if (!problem.empty()) {
      return queryError(query, "returned " + problem + " at " + timeText(unixMs) +
                                   ": a demand is a finite rate >= 0 at every step");
    }
    if (!out.samples.empty() && unixMs <= out.samples.back().unixMs) {
      return queryError(query, "unexpected response: sample times not increasing at " + timeText(unixMs) +
                                   " (after " + timeText(out.samples.back().unixMs) + ")");
    }
    out.samples.push_back(RangeSample{unixMs, *value});
  }
  return out;
}

}  // namespace

std::optional<double> parseSampleValue(std::string_view text) {
  // Go's strconv.FormatFloat writes "+Inf"; from_chars takes no leading '+'.
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
      return std::nullopt;
    }
  }
  if (text.empty()) {
    return std::nullopt;
  }
  double value = 0.0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

core::Result<QueryValue> readQueryResponse(const HttpResponse& response, std::string_view query) {
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const core::Result<const json*> envelope = checkEnvelope(response, body, query);
  if (!envelope.ok()) {
    return envelope.error();
  }
  const json* data = envelope.value();

  QueryValue out;
  out.warnings = warningsOf(body);
  const std::string resultType = stringField(*data, "resultType");
  const auto result = data->find("result");
  if (result == data->end()) {
    return queryError(query, "unexpected response: no \"data.result\"");
  }
  core::Result<std::optional<double>> value = std::optional<double>{};
  if (resultType == "vector") {
    value = vectorValue(*result, query);
    out.empty = result->is_array() && result->empty();
  } else if (resultType == "scalar") {
    value = samplePair(*result, query);
  } else if (resultType == "matrix") {
    return queryError(query,
                      "returned a range vector (matrix), not one value: remove the trailing [range] selector, "
                      "or aggregate over time, e.g. avg_over_time(...[5m])");
  } else if (resultType == "string") {
    return queryError(query, "returned a string, not a number");
  } else {
    std::string cause = "unexpected response: unknown resultType \"";
    cause += resultType;
    cause += "\"";
    return queryError(query, cause);
  }
  if (!value.ok()) {
    return value.error();
  }
  out.value = value.value();
  return out;
}

core::Result<RangeSeries> readRangeResponse(const HttpResponse& response, std::string_view query) {
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const core::Result<const json*> envelope = checkEnvelope(response, body, query);
  if (!envelope.ok()) {
    return envelope.error();
  }
  const json* data = envelope.value();
  const std::string resultType = stringField(*data, "resultType");
  if (resultType != "matrix") {
    return queryError(query, "unexpected response: resultType \"" + resultType.substr(0, 40) +
                                 "\" for a range query, expected \"matrix\"");
  }
  const auto result = data->find("result");
  if (result == data->end()) {
    return queryError(query, "unexpected response: no \"data.result\"");
  }
  auto series = matrixSeries(*result, query);
  if (series.ok()) {
    series.value().warnings = warningsOf(body);
  }
  return series;
}

}  // namespace kubeai::source::prometheus

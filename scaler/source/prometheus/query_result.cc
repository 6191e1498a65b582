#include "source/prometheus/query_result.h"

#include <charconv>
#include <cmath>
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
  const bool success = response.status >= 200 && response.status < 300;
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
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

  QueryValue out;
  if (const auto warnings = body.find("warnings"); warnings != body.end() && warnings->is_array()) {
    for (const json& warning : *warnings) {
      if (warning.is_string()) {
        out.warnings.push_back(warning.get<std::string>());
      }
    }
  }
  const auto data = body.find("data");
  if (data == body.end() || !data->is_object()) {
    return queryError(query, "unexpected response: no \"data\" object");
  }
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

}  // namespace kubeai::source::prometheus

#include "kube/api_status.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>

#include "http/percent_encoding.h"

namespace kubeai::kube::detail {

std::string ApiStatus::describe() const {
  std::string text = "HTTP ";
  text += std::to_string(code);
  if (!message.empty()) {
    text += ": ";
    text += message;
  }
  return text;
}

ApiStatus parseApiStatus(long httpStatus, std::string_view body) {
  const nlohmann::json object = nlohmann::json::parse(body, nullptr, false);
  if (object.is_discarded()) {
    ApiStatus status;
    status.code = httpStatus;
    return status;
  }
  return parseApiStatusJson(httpStatus, object);
}

ApiStatus parseApiStatusJson(long httpStatus, const nlohmann::json& object) {
  ApiStatus status;
  status.code = httpStatus;
  if (!object.is_object()) {
    return status;
  }
  // Status.code is an int32: anything else (a huge or unsigned number) is not one.
  if (auto code = object.find("code"); code != object.end() && code->is_number_integer()) {
    const auto value = code->get<std::int64_t>();
    if (value > 0 && value <= std::numeric_limits<std::int32_t>::max()) {
      status.code = static_cast<long>(value);
    }
  }
  if (auto reason = object.find("reason"); reason != object.end() && reason->is_string()) {
    status.reason = reason->get<std::string>();
  }
  if (auto message = object.find("message"); message != object.end() && message->is_string()) {
    status.message = message->get<std::string>();
  }
  if (auto details = object.find("details"); details != object.end() && details->is_object()) {
    if (auto retry = details->find("retryAfterSeconds"); retry != details->end() && retry->is_number_integer()) {
      // Bounded before it becomes a duration: seconds → milliseconds of a
      // number near INT64_MAX overflows (UB), and a server asking for days
      // would freeze whoever waits.
      const auto limit = static_cast<std::uint64_t>(kMaxRetryAfter.count());
      std::uint64_t seconds = 0;
      if (retry->is_number_unsigned()) {
        seconds = std::min(retry->get<std::uint64_t>(), limit);
      } else if (const auto value = retry->get<std::int64_t>(); value > 0) {
        seconds = std::min(static_cast<std::uint64_t>(value), limit);
      }
      if (seconds > 0) {
        status.retryAfter = std::chrono::seconds(static_cast<std::int64_t>(seconds));
      }
    }
  }
  return status;
}

std::string describeFailure(std::string_view method, std::string_view path, long httpStatus, std::string_view body) {
  std::string text(method);
  text += ' ';
  text += path;
  text += ": HTTP ";
  text += std::to_string(httpStatus);
  const ApiStatus status = parseApiStatus(httpStatus, body);
  if (!status.message.empty()) {
    text += ": ";
    text += status.message;
  } else if (!body.empty() && !nlohmann::json::accept(body)) {
    text += ": ";
    text += body.substr(0, 200);
  }
  return text;
}

std::string percentEncode(std::string_view text) { return http::percentEncode(text); }

}  // namespace kubeai::kube::detail

#include "kube/api_status.h"

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
  ApiStatus status;
  status.code = httpStatus;
  const nlohmann::json object = nlohmann::json::parse(body, nullptr, false);
  if (object.is_discarded() || !object.is_object()) {
    return status;
  }
  if (auto code = object.find("code"); code != object.end() && code->is_number_integer() && code->get<long>() != 0) {
    status.code = code->get<long>();
  }
  if (auto reason = object.find("reason"); reason != object.end() && reason->is_string()) {
    status.reason = reason->get<std::string>();
  }
  if (auto message = object.find("message"); message != object.end() && message->is_string()) {
    status.message = message->get<std::string>();
  }
  if (auto details = object.find("details"); details != object.end() && details->is_object()) {
    if (auto retry = details->find("retryAfterSeconds"); retry != details->end() && retry->is_number_integer() &&
                                                         retry->get<long>() > 0) {
      status.retryAfter = std::chrono::seconds(retry->get<long>());
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

#include "kube/api_status.h"

#include <nlohmann/json.hpp>

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

std::string percentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4U];
      out += kHex[byte & 0x0FU];
    }
  }
  return out;
}

}  // namespace kubeai::kube::detail

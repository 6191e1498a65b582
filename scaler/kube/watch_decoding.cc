#include "kube/watch_decoding.h"

#include <nlohmann/json.hpp>

#include "policy/policy_parser.h"

namespace kubeai::kube::detail {
namespace {

using json = nlohmann::json;

// Joins with +=: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

// The field's text when it is a string; null when absent or of another type.
const std::string* stringField(const json& object, const char* key) {
  if (!object.is_object()) {
    return nullptr;
  }
  const auto found = object.find(key);
  return found != object.end() && found->is_string() ? found->get_ptr<const std::string*>() : nullptr;
}

// What is wrong with a list page's shape, if anything.
std::optional<std::string> listPageProblem(const json& body) {
  if (!body.is_object()) {
    return concat("the response is not a JSON object, got ", body.type_name());
  }
  if (auto items = body.find("items"); items != body.end() && !items->is_null() && !items->is_array()) {
    return concat("items: must be a list, got ", items->type_name());
  }
  auto metadata = body.find("metadata");
  if (metadata == body.end() || metadata->is_null()) {
    return std::nullopt;
  }
  if (!metadata->is_object()) {
    return concat("metadata: must be an object, got ", metadata->type_name());
  }
  for (const char* key : {"resourceVersion", "continue"}) {
    if (auto field = metadata->find(key); field != metadata->end() && !field->is_null() && !field->is_string()) {
      return concat("metadata.", key, ": must be a string, got ", field->type_name());
    }
  }
  return std::nullopt;
}

std::string stringAt(const json& object, std::string_view outer, std::string_view inner) {
  const auto first = object.find(outer);
  if (first == object.end() || !first->is_object()) {
    return {};
  }
  const auto second = first->find(inner);
  return second != first->end() && second->is_string() ? second->get<std::string>() : std::string();
}

}  // namespace

json parseBounded(std::string_view text, std::string& error) {
  bool tooDeep = false;
  json value = json::parse(
      text,
      [&tooDeep](int depth, json::parse_event_t event, json& /*parsed*/) {
        if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
            depth >= kMaxJsonDepth) {
          tooDeep = true;
          return false;  // not kept: nothing below it is stored either
        }
        return true;
      },
      false);
  if (tooDeep) {
    error = concat("nested deeper than ", std::to_string(kMaxJsonDepth), " levels");
    return json(json::value_t::discarded);
  }
  if (value.is_discarded()) {
    error = "not JSON";
  }
  return value;
}

DecodedPolicy decodePolicy(json& object) {
  if (object.is_object()) {
    if (!object.contains("apiVersion")) {
      object["apiVersion"] = std::string(policy::kPolicyApiVersion);  // == kPolicyGroupVersion (policy_watcher.cc)
    }
    if (!object.contains("kind")) {
      object["kind"] = std::string(policy::kPolicyKind);
    }
  }
  policy::PolicyDocument document = policy::parsePolicyJson(object);
  DecodedPolicy decoded;
  decoded.object.generation = document.policy.metadata.generation;
  decoded.key = {document.policy.metadata.namespace_, document.policy.metadata.name};
  // Kept for the status writer, valid or not; only the status, so that the
  // rest of the object is not held twice.
  if (object.is_object()) {
    if (auto status = object.find("status"); status != object.end() && status->is_object()) {
      decoded.object.apiStatus = status->dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  if (document.ok()) {
    decoded.object.policy = std::make_shared<const core::Policy>(std::move(document.policy));
  } else {
    for (const auto& error : document.errors) {
      if (!decoded.object.invalidMessage.empty()) {
        decoded.object.invalidMessage += "; ";
      }
      decoded.object.invalidMessage += error.toString();
    }
  }
  return decoded;
}

core::Result<ListPage> decodeListPage(std::string_view body) {
  std::string parseError;
  json page = parseBounded(body, parseError);
  if (page.is_discarded()) {
    return core::Error{concat("the response is ", parseError)};
  }
  if (auto problem = listPageProblem(page)) {
    return core::Error{std::move(*problem)};
  }
  ListPage decoded;
  if (auto items = page.find("items"); items != page.end() && items->is_array()) {
    decoded.items.reserve(items->size());
    for (json& item : *items) {
      decoded.items.push_back(decodePolicy(item));
    }
  }
  decoded.resourceVersion = stringAt(page, "metadata", "resourceVersion");
  decoded.continueToken = stringAt(page, "metadata", "continue");
  return decoded;
}

WatchEvent decodeWatchLine(std::string_view line) {
  WatchEvent decoded;
  std::string parseError;
  json event = parseBounded(line, parseError);
  if (event.is_discarded() || !event.is_object()) {
    decoded.kind = WatchEvent::Kind::kRefused;
    decoded.error = event.is_discarded() ? parseError : concat("not a JSON object, got ", event.type_name());
    return decoded;
  }
  // A failed watch request answers a Status object, not an event.
  const std::string* kind = stringField(event, "kind");
  if (!event.contains("type") && kind != nullptr && *kind == "Status") {
    decoded.kind = WatchEvent::Kind::kStatus;
    decoded.status = parseApiStatusJson(0, event);
    return decoded;
  }
  const std::string* typeText = stringField(event, "type");
  if (typeText == nullptr) {
    const auto found = event.find("type");
    decoded.kind = WatchEvent::Kind::kNoType;
    decoded.error = found == event.end() ? std::string("absent") : concat("a ", found->type_name());
    return decoded;
  }
  decoded.type = *typeText;
  auto objectIt = event.find("object");
  if (objectIt == event.end() || !objectIt->is_object()) {
    decoded.kind = WatchEvent::Kind::kNoObject;
    return decoded;
  }
  json& object = *objectIt;
  if (decoded.type == "ERROR") {
    decoded.kind = WatchEvent::Kind::kStatus;
    decoded.errorEvent = true;
    decoded.status = parseApiStatusJson(0, object);
    return decoded;
  }
  decoded.resourceVersion = stringAt(object, "metadata", "resourceVersion");
  if (decoded.type == "BOOKMARK") {
    decoded.kind = WatchEvent::Kind::kBookmark;
    return decoded;
  }
  if (decoded.type != "ADDED" && decoded.type != "MODIFIED" && decoded.type != "DELETED") {
    decoded.kind = WatchEvent::Kind::kUnknownType;
    return decoded;
  }
  decoded.kind = WatchEvent::Kind::kChange;
  decoded.policy = decodePolicy(object);
  return decoded;
}

}  // namespace kubeai::kube::detail

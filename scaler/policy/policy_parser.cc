#include "policy/policy_parser.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "policy/json_decoder.h"
#include "policy/metrics_decoder.h"
#include "policy/yaml_documents.h"

namespace kubeai::policy {
namespace {

using nlohmann::json;

using detail::Decoder;
using detail::typeName;

void decodeMetadata(Decoder& in, const json& root, core::PolicyMetadata& metadata) {
  const json* object = in.object(root, "metadata", "metadata");
  if (object == nullptr) {
    in.error("metadata", "required");
    return;
  }
  metadata.name = in.string(*object, "name", "metadata.name").value_or("");
  if (auto ns = in.string(*object, "namespace", "metadata.namespace"); ns && !ns->empty()) {
    metadata.namespace_ = *ns;
  }
  metadata.generation = in.int64(*object, "generation").value_or(0);
  if (auto found = object->find("resourceVersion"); found != object->end() && found->is_string()) {
    metadata.resourceVersion = found->get<std::string>();
  }
  if (auto found = object->find("uid"); found != object->end() && found->is_string()) {
    metadata.uid = found->get<std::string>();
  }
}

// Labels are strings (the API server refuses anything else). One that is not
// refuses nothing: serve --policy-dir never reads labels, and before
// validate --policy-selector they were not read at all; validate says so
// when the selector needs that label (labelProblems).
void decodeLabels(const json& root, PolicyDocument& document) {
  // decodeMetadata reports a missing or mistyped metadata.
  const auto metadata = root.find("metadata");
  if (metadata == root.end() || !metadata->is_object()) {
    return;
  }
  const auto object = metadata->find("labels");
  if (object == metadata->end() || object->is_null()) {
    return;
  }
  if (!object->is_object()) {
    document.labelProblems.emplace("", "must be a map of strings, got " + typeName(*object));
    return;
  }
  for (const auto& [key, value] : object->items()) {
    if (value.is_string()) {
      document.labels.emplace(key, value.get<std::string>());
    } else {
      document.labelProblems.emplace(key, "must be a string, got " + typeName(value));
    }
  }
}

void decodeTargetRef(Decoder& in, const json& spec, core::TargetRef& target) {
  const json* object = in.object(spec, "targetRef", "spec.targetRef");
  if (object == nullptr) {
    in.error("spec.targetRef", "required");
    return;
  }
  if (auto apiVersion = in.string(*object, "apiVersion", "spec.targetRef.apiVersion")) {
    target.apiVersion = *apiVersion;
  }
  target.kind = in.string(*object, "kind", "spec.targetRef.kind").value_or("");
  target.name = in.string(*object, "name", "spec.targetRef.name").value_or("");
  in.unknownFields(*object, "spec.targetRef", {"apiVersion", "kind", "name"});
}

void decodeAlgorithm(Decoder& in, const json& spec, core::AlgorithmSpec& algorithm) {
  const json* object = in.object(spec, "algorithm", "spec.algorithm");
  if (object == nullptr) {
    return;
  }
  if (auto name = in.string(*object, "name", "spec.algorithm.name")) {
    algorithm.name = *name;
  }
  if (auto tolerance = in.number(*object, "tolerance", "spec.algorithm.tolerance")) {
    algorithm.tolerance = *tolerance;
  }
  if (const json* weights = in.array(*object, "weights", "spec.algorithm.weights")) {
    for (std::size_t i = 0; i < weights->size(); ++i) {
      const std::string path = "spec.algorithm.weights[" + std::to_string(i) + "]";
      // Keep positions: weights index fixed slots, a bad entry must not shift the rest.
      algorithm.weights.push_back(in.number((*weights)[i], path).value_or(1.0));
    }
  }
  if (const json* parameters = in.object(*object, "parameters", "spec.algorithm.parameters")) {
    for (const auto& [key, value] : parameters->items()) {
      const std::string path = "spec.algorithm.parameters." + key;
      if (value.is_string()) {
        algorithm.parameters.emplace(key, value.get<std::string>());
      } else if (value.is_number_integer() || value.is_boolean()) {
        algorithm.parameters.emplace(key, value.dump());
      } else if (value.is_number_float()) {
        // Shortest text that reads back as the same double: 0.3 stays "0.3".
        // JSON has no infinity or NaN (dump() writes "null"): YAML's .inf and
        // .nan are kept as the words a reader recognises.
        const double number = value.get<double>();
        algorithm.parameters.emplace(key, std::isnan(number) ? "nan"
                                          : std::isinf(number) ? (number > 0 ? "inf" : "-inf")
                                                               : value.dump());
      } else {
        in.error(path, "must be a string, number or boolean, got " + typeName(value));
      }
    }
  }
  in.unknownFields(*object, "spec.algorithm", {"name", "tolerance", "weights", "parameters"});
}

std::optional<core::ScalingRules> decodeRules(Decoder& in, const json& spec, const char* key) {
  const std::string path = std::string("spec.") + key;
  const json* object = in.object(spec, key, path);
  if (object == nullptr) {
    return std::nullopt;
  }
  core::ScalingRules rules;
  rules.stabilizationWindowSeconds =
      in.int32(*object, "stabilizationWindowSeconds", path + ".stabilizationWindowSeconds").value_or(0);
  if (auto select = in.string(*object, "selectPolicy", path + ".selectPolicy")) {
    if (*select == "Max") {
      rules.selectPolicy = core::SelectPolicy::kMax;
    } else if (*select == "Min") {
      rules.selectPolicy = core::SelectPolicy::kMin;
    } else if (*select == "Disabled") {
      rules.selectPolicy = core::SelectPolicy::kDisabled;
    } else {
      in.error(path + ".selectPolicy", "must be Max, Min or Disabled, got \"" + *select + "\"");
    }
  }
  if (const json* policies = in.array(*object, "policies", path + ".policies")) {
    for (std::size_t i = 0; i < policies->size(); ++i) {
      const std::string item = path + ".policies[" + std::to_string(i) + "]";
      const json& entry = (*policies)[i];
      if (!entry.is_object()) {
        in.error(item, "must be an object, got " + typeName(entry));
        continue;
      }
      core::ScalingPolicy policy;
      const auto type = in.string(entry, "type", item + ".type");
      if (!type) {
        in.error(item + ".type", "required (Pods or Percent)");
      } else if (*type == "Pods") {
        policy.type = core::ScalingPolicyType::kPods;
      } else if (*type == "Percent") {
        policy.type = core::ScalingPolicyType::kPercent;
      } else {
        in.error(item + ".type", "must be Pods or Percent, got \"" + *type + "\"");
      }
      const auto value = in.int32(entry, "value", item + ".value");
      const auto period = in.int32(entry, "periodSeconds", item + ".periodSeconds");
      if (!entry.contains("value")) {
        in.error(item + ".value", "required");
      }
      if (!entry.contains("periodSeconds")) {
        in.error(item + ".periodSeconds", "required");
      }
      policy.value = value.value_or(1);
      policy.periodSeconds = period.value_or(1);
      in.unknownFields(entry, item, {"type", "value", "periodSeconds"});
      rules.policies.push_back(policy);
    }
  }
  in.unknownFields(*object, path, {"stabilizationWindowSeconds", "policies", "selectPolicy"});
  return rules;
}

void decodeSpec(Decoder& in, const json& root, core::PolicySpec& spec) {
  const json* object = in.object(root, "spec", "spec");
  if (object == nullptr) {
    in.error("spec", "required");
    return;
  }
  decodeTargetRef(in, *object, spec.targetRef);
  spec.minReplicas = in.int32(*object, "minReplicas", "spec.minReplicas");
  if (auto max = in.int32(*object, "maxReplicas", "spec.maxReplicas")) {
    spec.maxReplicas = *max;
  } else if (!object->contains("maxReplicas") || (*object)["maxReplicas"].is_null()) {
    in.error("spec.maxReplicas", "required");
  }
  spec.cooldownPeriod = in.int32(*object, "cooldownPeriod", "spec.cooldownPeriod");
  detail::decodeMetrics(in, *object, spec.metrics);
  decodeAlgorithm(in, *object, spec.algorithm);
  spec.scaleUp = decodeRules(in, *object, "scaleUp");
  spec.scaleDown = decodeRules(in, *object, "scaleDown");
  spec.startupAware = in.boolean(*object, "startupAware", "spec.startupAware");
  in.unknownFields(*object, "spec",
                   {"targetRef", "minReplicas", "maxReplicas", "cooldownPeriod", "metrics", "algorithm", "scaleUp",
                    "scaleDown", "startupAware"});
}

// Type errors come first; validation then adds what the values mean, except
// for fields that already failed to decode (one message per field is enough).
void validate(PolicyDocument& document) {
  std::set<std::string> failed;
  for (const auto& error : document.errors) {
    failed.insert(error.field);
  }
  // A field that failed to decode also silences checks on the object holding
  // it: `enabled: maybe` should not add "latency needs a target" as well; and
  // on the fields inside it: a missing `target` should not add "target.value
  // must be greater than 0".
  const auto within = [](const std::string& inner, const std::string& outer) {
    return inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
           (inner[outer.size()] == '.' || inner[outer.size()] == '[');
  };
  auto decodedBadly = [&](const std::string& field) {
    for (const auto& bad : failed) {
      if (bad == field || within(bad, field) || within(field, bad)) {
        return true;
      }
    }
    return false;
  };
  core::ValidationReport report = core::validatePolicy(document.policy);
  for (auto& error : report.errors) {
    if (!decodedBadly(error.field)) {
      document.errors.push_back(std::move(error));
    }
  }
  for (auto& warning : report.warnings) {
    document.warnings.push_back(std::move(warning));
  }
}

bool isPolicyKind(const json& object) {
  auto kind = object.find("kind");
  return kind != object.end() && kind->is_string() && kind->get<std::string>() == kPolicyKind;
}

std::string kindOf(const json& object) {
  auto kind = object.find("kind");
  if (kind == object.end() || !kind->is_string()) {
    return "";
  }
  return kind->get<std::string>();
}

void collect(const json& object, std::size_t index, PolicyFile& file) {
  const std::string documentName = "document " + std::to_string(index + 1);
  if (object.is_null()) {
    return;  // an empty document, e.g. after a trailing "---"
  }
  if (!object.is_object()) {
    file.skipped.push_back(documentName + ": not a Kubernetes object");
    return;
  }
  const std::string kind = kindOf(object);
  if (kind == "List" || kind == std::string(kPolicyKind) + "List") {
    auto items = object.find("items");
    if (items != object.end() && items->is_array()) {
      for (const auto& item : *items) {
        collect(item, index, file);
      }
    }
    return;
  }
  if (kind.empty()) {
    PolicyDocument document;
    document.index = index;
    document.errors.push_back({"kind", "required (" + std::string(kPolicyKind) + ")"});
    file.policies.push_back(std::move(document));
    return;
  }
  if (!isPolicyKind(object)) {
    file.skipped.push_back(documentName + ": kind " + kind + " (not a policy)");
    return;
  }
  PolicyDocument document = parsePolicyJson(object);
  document.index = index;
  if (const auto status = object.find("status"); status != object.end() && !status->is_null()) {
    document.status = status->dump(-1, ' ', false, json::error_handler_t::replace);
  }
  file.policies.push_back(std::move(document));
}

}  // namespace

std::string PolicyDocument::displayName() const {
  if (policy.metadata.name.empty()) {
    return "document " + std::to_string(index + 1);
  }
  return policy.key();
}

PolicyDocument parsePolicyJson(const json& object) {
  PolicyDocument document;
  if (!object.is_object()) {
    document.errors.push_back({"", "a policy must be a JSON object, got " + typeName(object)});
    return document;
  }
  Decoder in(document);
  auto apiVersion = in.string(object, "apiVersion", "apiVersion");
  if (!apiVersion) {
    in.error("apiVersion", "required (" + std::string(kPolicyApiVersion) + ")");
  } else if (*apiVersion != kPolicyApiVersion) {
    in.error("apiVersion", "must be " + std::string(kPolicyApiVersion) + ", got \"" + *apiVersion + "\"");
  }
  if (!isPolicyKind(object)) {
    in.error("kind", "must be " + std::string(kPolicyKind));
  }
  decodeMetadata(in, object, document.policy.metadata);
  decodeLabels(object, document);
  decodeSpec(in, object, document.policy.spec);
  validate(document);
  return document;
}

PolicyDocument parsePolicyJsonText(std::string_view text) {
  json object = json::parse(text, nullptr, false);
  if (object.is_discarded()) {
    PolicyDocument document;
    document.errors.push_back({"", "invalid JSON"});
    return document;
  }
  return parsePolicyJson(object);
}

PolicyFile parsePolicyYaml(std::string_view text) {
  PolicyFile file;
  auto documents = parseYamlDocuments(text);
  if (!documents.ok()) {
    file.error = documents.error();
    return file;
  }
  for (std::size_t i = 0; i < documents.value().size(); ++i) {
    const auto& converted = documents.value()[i];
    if (!converted.ok()) {
      PolicyDocument document;
      document.index = i;
      document.errors.push_back({"", converted.error().message});
      file.policies.push_back(std::move(document));
      continue;
    }
    collect(converted.value(), i, file);
  }
  return file;
}

PolicyFile loadPolicyFile(const std::filesystem::path& path) {
  auto contents = readManifestFile(path);
  if (!contents.ok()) {
    PolicyFile file;
    file.error = contents.error();
    return file;
  }
  PolicyFile file = parsePolicyYaml(contents.value());
  if (file.error) {
    file.error = file.error->withContext(path.string());
  }
  return file;
}

}  // namespace kubeai::policy

#include "source/metrics_file.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/custom_metric_validation.h"
#include "core/validation.h"
#include "policy/yaml_documents.h"

namespace kubeai::source {
namespace {

using nlohmann::json;

struct Field {
  const char* name;
  std::optional<double> MetricsFileEntry::*value;
};

constexpr Field kValueFields[] = {
    {"latencyP99Ms", &MetricsFileEntry::latencyP99Ms},
    {"latencyP95Ms", &MetricsFileEntry::latencyP95Ms},
    {"gpuUtilizationPercent", &MetricsFileEntry::gpuUtilizationPercent},
    {"requestQueueDepth", &MetricsFileEntry::requestQueueDepth},
};

// The replica counts: integers, apart from the metrics. Neither is a custom
// metric's name, even though both are camelCase.
std::optional<std::int32_t> MetricsFileEntry::*replicaField(const std::string& name) {
  if (name == "currentReplicas") {
    return &MetricsFileEntry::currentReplicas;
  }
  if (name == "readyReplicas") {
    return &MetricsFileEntry::readyReplicas;
  }
  return nullptr;
}

// "<namespace>/<name>" with Kubernetes' name rules on each side.
bool isPolicyKey(const std::string& key) {
  const std::size_t slash = key.find('/');
  if (slash == std::string::npos || key.find('/', slash + 1) != std::string::npos) {
    return false;
  }
  return core::isDns1123Label(key.substr(0, slash)) && core::isDns1123Subdomain(key.substr(slash + 1));
}

void decodeEntry(const std::string& key, const json& object, MetricsFile& file,
                 std::vector<core::FieldError>& errors) {
  MetricsFileEntry entry;
  for (const auto& [name, value] : object.items()) {
    const std::string path = key + "." + name;
    if (value.is_null()) {
      continue;  // written but empty: no data, like a key left out
    }
    if (std::optional<std::int32_t> MetricsFileEntry::*replicas = replicaField(name); replicas != nullptr) {
      const double number = value.is_number() ? value.get<double>() : -1.0;
      if (!value.is_number() || std::trunc(number) != number || number < 0 ||
          number > std::numeric_limits<std::int32_t>::max()) {
        errors.push_back({path, "must be an integer >= 0"});
        continue;
      }
      entry.*replicas = static_cast<std::int32_t>(number);
      continue;
    }
    const Field* field = nullptr;
    for (const Field& candidate : kValueFields) {
      if (name == candidate.name) {
        field = &candidate;
      }
    }
    // Any other camelCase name is a custom metric's (the file does not know
    // the policies: a name no policy has is read by none).
    const bool custom = field == nullptr && core::isCustomMetricName(name);
    if (field == nullptr && !custom) {
      file.warnings.push_back({path, "unknown field, ignored (not a seed metric, nor a custom metric's name)"});
      continue;
    }
    if (!value.is_number()) {
      errors.push_back({path, "must be a number"});
      continue;
    }
    const double number = value.get<double>();
    // .nan and .inf are accepted: the pipeline reads them as no data, exactly
    // as it does for a Prometheus query that returns them.
    if (number < 0) {
      errors.push_back({path, "must be >= 0"});
      continue;
    }
    if (custom) {
      entry.named.emplace(name, number);
    } else {
      entry.*(field->value) = number;
    }
  }
  file.entries.emplace(key, entry);
}

}  // namespace

MetricReading MetricsFileEntry::reading() const {
  MetricReading out;
  out.currentReplicas = currentReplicas;
  out.readyReplicas = readyReplicas;
  out.latencyP99Ms = latencyP99Ms;
  out.latencyP95Ms = latencyP95Ms;
  out.gpuUtilizationPercent = gpuUtilizationPercent;
  out.requestQueueDepth = requestQueueDepth;
  return out;
}

MetricReading MetricsFileEntry::readingFor(const core::Policy& policy) const {
  MetricReading out = reading();
  const auto& custom = policy.spec.metrics.custom;
  const std::size_t count = std::min(custom.size(), out.custom.size());
  for (std::size_t i = 0; i < count && !named.empty(); ++i) {
    if (const auto found = named.find(custom[i].name); found != named.end()) {
      out.custom[i] = found->second;
    }
  }
  return out;
}

const MetricsFileEntry* MetricsFile::find(std::string_view policyKey) const {
  const auto found = entries.find(policyKey);
  return found == entries.end() ? nullptr : &found->second;
}

core::Result<MetricsFile> parseMetricsFile(std::string_view text) {
  auto documents = policy::parseYamlDocuments(text);
  if (!documents.ok()) {
    return documents.error();
  }
  MetricsFile file;
  if (documents.value().empty()) {
    return file;  // an empty file: no data for anyone
  }
  if (documents.value().size() > 1) {
    return core::Error{"expected one YAML document, got " + std::to_string(documents.value().size())};
  }
  const auto& root = documents.value().front();
  if (!root.ok()) {
    return root.error();
  }
  if (root.value().is_null()) {
    return file;
  }
  if (!root.value().is_object()) {
    return core::Error{"must be a mapping of \"<namespace>/<policyName>\" to metric values"};
  }
  std::vector<core::FieldError> errors;
  for (const auto& [key, value] : root.value().items()) {
    if (!isPolicyKey(key)) {
      errors.push_back({key, "key must be \"<namespace>/<policyName>\""});
      continue;
    }
    if (value.is_null()) {
      file.entries.emplace(key, MetricsFileEntry{});  // listed, but no data at all
      continue;
    }
    if (!value.is_object()) {
      errors.push_back({key, "must be a mapping of metric names to values"});
      continue;
    }
    decodeEntry(key, value, file, errors);
  }
  if (!errors.empty()) {
    std::string message = std::to_string(errors.size()) + (errors.size() == 1 ? " error: " : " errors: ");
    for (std::size_t i = 0; i < errors.size(); ++i) {
      message += (i == 0 ? "" : "; ") + errors[i].toString();
    }
    return core::Error{message};
  }
  return file;
}

core::Result<MetricsFile> loadMetricsFile(const std::filesystem::path& path) {
  auto contents = policy::readManifestFile(path);
  if (!contents.ok()) {
    return contents.error();
  }
  auto parsed = parseMetricsFile(contents.value());
  if (!parsed.ok()) {
    return parsed.error().withContext("metrics file " + path.string());
  }
  return parsed;
}

}  // namespace kubeai::source

// The metrics file (--metrics-file, YAML): source::parseMetricsFile. Checks:
// every key of an accepted file is "<namespace>/<name>"; every value is >= 0
// (or NaN: no data); the entries written back as YAML (.nan and .inf as YAML
// spells them) read the same.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_check.h"
#include "source/metrics_file.h"

namespace {

using kubeai::source::MetricsFileEntry;

void writeNumber(std::vector<std::string>& fields, const char* name, const std::optional<double>& value) {
  if (!value) {
    return;
  }
  std::string out = name;
  out += ": ";
  if (std::isnan(*value)) {
    out += ".nan";
  } else if (std::isinf(*value)) {
    out += *value > 0 ? ".inf" : "-.inf";
  } else {
    char text[64];
    std::snprintf(text, sizeof text, "%.17g", *value);
    out += text;
  }
  fields.push_back(std::move(out));
}

bool same(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || *a == *b || (std::isnan(*a) && std::isnan(*b)));
}

bool same(const MetricsFileEntry& a, const MetricsFileEntry& b) {
  return a.currentReplicas == b.currentReplicas && same(a.latencyP99Ms, b.latencyP99Ms) &&
         same(a.latencyP95Ms, b.latencyP95Ms) && same(a.gpuUtilizationPercent, b.gpuUtilizationPercent) &&
         same(a.requestQueueDepth, b.requestQueueDepth);
}

bool nonNegative(const std::optional<double>& value) { return !value || std::isnan(*value) || *value >= 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = kubeai::source::parseMetricsFile(text);
  if (!parsed.ok()) {
    KUBEAI_FUZZ_CHECK(!parsed.error().message.empty(), std::string(text));
    return 0;
  }
  std::string written;
  for (const auto& [key, entry] : parsed.value().entries) {
    KUBEAI_FUZZ_CHECK(key.find('/') != std::string::npos && key.find_first_of(" :\"'\n") == std::string::npos, key);
    KUBEAI_FUZZ_CHECK(!entry.currentReplicas || *entry.currentReplicas >= 0, key);
    KUBEAI_FUZZ_CHECK(nonNegative(entry.latencyP99Ms) && nonNegative(entry.latencyP95Ms) &&
                          nonNegative(entry.gpuUtilizationPercent) && nonNegative(entry.requestQueueDepth),
                      key);
    std::vector<std::string> fields;
    if (entry.currentReplicas) {
      fields.push_back("currentReplicas: " + std::to_string(*entry.currentReplicas));
    }
    writeNumber(fields, "latencyP99Ms", entry.latencyP99Ms);
    writeNumber(fields, "latencyP95Ms", entry.latencyP95Ms);
    writeNumber(fields, "gpuUtilizationPercent", entry.gpuUtilizationPercent);
    writeNumber(fields, "requestQueueDepth", entry.requestQueueDepth);
    written += key;
    written += ": {";
    for (std::size_t i = 0; i < fields.size(); ++i) {
      written += i == 0 ? "" : ", ";
      written += fields[i];
    }
    written += "}\n";
  }
  const auto again = kubeai::source::parseMetricsFile(written);
  KUBEAI_FUZZ_CHECK(again.ok(), written + " -> " + (again.ok() ? "" : again.error().message));
  KUBEAI_FUZZ_CHECK(again.value().entries.size() == parsed.value().entries.size(), written);
  for (const auto& [key, entry] : parsed.value().entries) {
    const MetricsFileEntry* found = again.value().find(key);
    KUBEAI_FUZZ_CHECK(found != nullptr && same(*found, entry), written);
  }
  return 0;
}

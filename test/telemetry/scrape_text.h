#pragma once

// What /metrics would show, for the telemetry tests: every collectable of a
// Telemetry serialized as HttpEndpoint serializes them, and one sample's value.

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <cstddef>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "telemetry/telemetry.h"

namespace kubeai::telemetry::testing {

inline std::string scrape(const Telemetry& telemetry) {
  std::vector<prometheus::MetricFamily> families;
  for (const auto& collectable : telemetry.collectables()) {
    auto more = collectable->Collect();
    families.insert(families.end(), more.begin(), more.end());
  }
  return prometheus::TextSerializer().Serialize(families);
}

// The value of the sample whose name and labels (in prometheus-cpp's order:
// sorted by label name) are exactly `series`; nullopt when absent.
inline std::optional<double> sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

// How many samples of `name` (followed by '{') the scrape has.
inline std::size_t countSamples(const std::string& text, const std::string& name) {
  std::size_t count = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.compare(0, name.size() + 1, name + "{") == 0) ++count;
  }
  return count;
}

}  // namespace kubeai::telemetry::testing

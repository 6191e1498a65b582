#include "cli/evaluate_history.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "cli/evaluate_command.h"
#include "kube/client/kube_time.h"
#include "policy/yaml_documents.h"

namespace kubeai::cli {
namespace {

using nlohmann::json;

constexpr std::chrono::seconds kEpoch{1'704'067'200};  // 2024-01-01T00:00:00Z, as simulate's
// Far beyond any recording, and far inside what a TimePoint holds past the epoch.
constexpr double kMaxSeconds = 1e9;

// Collects one row's problems as "row N: FIELD: message".
class RowErrors {
 public:
  RowErrors(std::vector<std::string>& errors, std::size_t row) : errors_(errors), prefix_("row " + std::to_string(row)) {}
  void add(const std::string& field, const std::string& message) {
    std::string line = prefix_;
    line += ": ";
    line += field;
    line += ": ";
    line += message;
    errors_.push_back(std::move(line));
  }
  [[nodiscard]] std::size_t count() const { return errors_.size(); }

 private:
  std::vector<std::string>& errors_;
  std::string prefix_;
};

// Every digit a given time has (%g would print 1000001.5 as 1e+06).
std::string formatNumber(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.15g", value);
  return buffer;
}

// An integer >= 0, as the metrics file takes currentReplicas and readyReplicas.
std::optional<std::int32_t> replicas(const json& value) {
  if (!value.is_number()) {
    return std::nullopt;
  }
  const double number = value.get<double>();
  if (std::trunc(number) != number || number < 0 || number > std::numeric_limits<std::int32_t>::max()) {
    return std::nullopt;
  }
  return static_cast<std::int32_t>(number);
}

// The row's `time`, and which form it came in (seconds or a timestamp).
struct RowTime {
  core::TimePoint at;
  std::optional<double> seconds;
  std::string timestamp;
};

std::optional<RowTime> rowTime(const json& value, RowErrors& errors) {
  if (value.is_number()) {
    const double seconds = value.get<double>();
    if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxSeconds) {
      errors.add("time", "seconds from the start must be a number from 0 to 1e9");
      return std::nullopt;
    }
    return RowTime{historyTime(seconds), seconds, {}};
  }
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    const auto at = kube::parseExpiryTime(text);  // max(): a valid time past the clock's range
    if (at && *at != core::TimePoint::max()) {
      return RowTime{*at, std::nullopt, text};
    }
    std::string message = "\"";
    message += text;
    message += at ? "\" is after 2262-04-11, beyond what the clock holds"
                  : "\" is not an RFC 3339 time (e.g. 2024-01-01T00:00:15Z)";
    errors.add("time", message);
    return std::nullopt;
  }
  errors.add("time", value.is_null() ? "required (seconds from the start, or an RFC 3339 time)"
                                     : "must be seconds from the start or an RFC 3339 time");
  return std::nullopt;
}

void decodeMetric(const std::string& key, const json& value, core::Observation& observation,
                  const core::MetricsSpec& policyMetrics, RowErrors& errors) {
  std::optional<double>* field = metricField(observation, key, policyMetrics);
  if (field == nullptr) {
    std::string message = "unknown metric (one of currentReplicas, readyReplicas, time, ";
    message += knownMetricKeys(policyMetrics);
    message += ")";
    errors.add(key, message);
    return;
  }
  if (value.is_null()) {
    return;  // written but empty: no data, as in the metrics file
  }
  if (!value.is_number()) {
    errors.add(key, "must be a number");
    return;
  }
  const double number = value.get<double>();
  // NaN and infinities are passed on, as for the metrics file: no data.
  if (number < 0) {
    errors.add(key, "must be >= 0");
    return;
  }
  *field = number;
}

// One row; nullopt when it has a problem (said in `errors`).
std::optional<HistoryRow> decodeRow(const json& object, const core::MetricsSpec& policyMetrics, RowErrors& errors) {
  if (!object.is_object()) {
    errors.add("(row)", "must be a mapping of time, currentReplicas and metrics");
    return std::nullopt;
  }
  bool ok = true;
  HistoryRow row;
  const auto time = object.find("time");
  std::optional<RowTime> at = rowTime(time == object.end() ? json(nullptr) : *time, errors);
  ok = ok && at.has_value();
  const auto current = object.find("currentReplicas");
  if (current == object.end() || current->is_null()) {
    errors.add("currentReplicas", "required");
    ok = false;
  } else if (const auto value = replicas(*current)) {
    row.observation.currentReplicas = *value;
  } else {
    errors.add("currentReplicas", "must be an integer >= 0");
    ok = false;
  }
  if (const auto ready = object.find("readyReplicas"); ready != object.end() && !ready->is_null()) {
    if (const auto value = replicas(*ready)) {
      row.observation.readyReplicas = *value;
    } else {
      errors.add("readyReplicas", "must be an integer >= 0");
      ok = false;
    }
  }
  for (const auto& [key, value] : object.items()) {
    if (key == "time" || key == "currentReplicas" || key == "readyReplicas") {
      continue;
    }
    const std::size_t before = errors.count();
    decodeMetric(key, value, row.observation, policyMetrics, errors);
    ok = ok && errors.count() == before;
  }
  if (!ok) {
    return std::nullopt;
  }
  row.at = at->at;
  row.seconds = at->seconds;
  row.timestamp = std::move(at->timestamp);
  return row;
}

}  // namespace

core::TimePoint historyTime(double secondsFromStart) {
  return core::TimePoint(std::chrono::duration_cast<core::TimePoint::duration>(kEpoch) +
                         std::chrono::duration_cast<core::TimePoint::duration>(
                             std::chrono::duration<double>(secondsFromStart)));
}

namespace {

// The file's one list: JSON read as it is (any length), else YAML, which is
// read as policies are (at most 100,000 values after aliases).
core::Result<json> historyDocument(std::string_view text) {
  const auto start = text.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && text[start] == '[') {
    json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!parsed.is_discarded()) {
      return parsed;
    }
  }
  auto documents = policy::parseYamlDocuments(text);
  if (!documents.ok()) {
    std::string message = documents.error().message;
    if (message.find("too large") != std::string::npos) {
      message += ": a YAML history holds at most 100,000 values (rows x fields); write a longer one as JSON";
    }
    return core::Error{message};
  }
  if (documents.value().empty()) {
    return core::Error{"empty: must be a list of observations ({time, currentReplicas, metrics...})"};
  }
  if (documents.value().size() != 1) {
    return core::Error{"expected one YAML document (a list of observations), got " +
                       std::to_string(documents.value().size())};
  }
  return documents.value().front();
}

}  // namespace

HistoryFile parseHistory(std::string_view text, const core::MetricsSpec& policyMetrics) {
  HistoryFile file;
  const auto root = historyDocument(text);
  if (!root.ok()) {
    file.errors.push_back(root.error().message);
    return file;
  }
  if (!root.value().is_array() || root.value().empty()) {
    file.errors.push_back("must be a list of observations ({time, currentReplicas, metrics...}), at least one");
    return file;
  }
  // The row before, for the order of times: the last one that had a good time.
  struct Previous {
    std::size_t number = 0;
    core::TimePoint at;
    std::string time;  // as given
  };
  std::optional<Previous> previous;
  std::optional<bool> inSeconds;  // the form of the first good time
  std::size_t formRow = 0;         // the row that gave it
  for (std::size_t i = 0; i < root.value().size(); ++i) {
    const std::size_t number = i + 1;
    RowErrors errors(file.errors, number);
    std::optional<HistoryRow> row = decodeRow(root.value()[i], policyMetrics, errors);
    if (!row) {
      continue;
    }
    const bool seconds = row->seconds.has_value();
    if (inSeconds && *inSeconds != seconds) {
      std::string message = "row ";
      message += std::to_string(formRow);
      message += *inSeconds ? " gives seconds from the start" : " gives an RFC 3339 time";
      message += ": use one form in the whole file";
      errors.add("time", message);
      continue;
    }
    if (!inSeconds) {
      formRow = number;
    }
    inSeconds = seconds;
    std::string given = seconds ? formatNumber(*row->seconds) : row->timestamp;
    if (previous && row->at <= previous->at) {
      const std::string before = "row " + std::to_string(previous->number);
      errors.add("time", row->at < previous->at
                             ? given + " goes backwards, before " + before + "'s " + previous->time +
                                   ": rows must be in time order"
                             : given + " is " + before + "'s time too: each row must be later than the one before");
      continue;
    }
    previous = Previous{number, row->at, std::move(given)};
    file.rows.push_back(std::move(*row));
  }
  if (!file.errors.empty()) {
    file.rows.clear();
  }
  return file;
}

HistoryFile loadHistory(const std::filesystem::path& path, const core::MetricsSpec& policyMetrics) {
  auto contents = policy::readManifestFile(path);
  if (!contents.ok()) {
    HistoryFile file;
    file.errors.push_back(contents.error().message);  // names the file already
    return file;
  }
  HistoryFile file = parseHistory(contents.value(), policyMetrics);
  for (std::string& error : file.errors) {
    error.insert(0, path.string() + ": ");
  }
  return file;
}

std::vector<core::Decision> replayHistory(const core::Policy& policy, const std::vector<HistoryRow>& rows,
                                          const core::AlgorithmRegistry& algorithms,
                                          const core::DecideSettings& settings,
                                          const std::optional<core::PublishedSeed>& seed) {
  std::vector<core::Decision> decisions;
  decisions.reserve(rows.size());
  core::History history;
  core::DecideSettings each = settings;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const HistoryRow& row = rows[i];
    if (i == 0) {
      // First sight, as serve's loop seeds a policy it has not decided for yet.
      history = core::firstSightHistory(row.observation.currentReplicas, row.at, seed);
    }
    each.cycle = i + 1;
    core::Outcome outcome = core::decide(policy, row.observation, std::move(history), row.at, algorithms, each);
    history = std::move(outcome.history);
    decisions.push_back(std::move(outcome.decision));
  }
  return decisions;
}

}  // namespace kubeai::cli

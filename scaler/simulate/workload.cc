#include "simulate/workload.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <utility>

#include "cli/duration.h"
#include "policy/json_decoder.h"
#include "policy/yaml_documents.h"
#include "simulate/demand.h"

namespace kubeai::simulate {
namespace {

using nlohmann::json;
using policy::detail::typeName;

std::string describe(double value) {
  if (std::isnan(value)) {
    return ".nan";
  }
  if (std::isinf(value)) {
    return value > 0 ? ".inf" : "-.inf";
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.10g", value);
  return text;
}

bool positive(double value) { return std::isfinite(value) && value > 0; }
bool nonNegative(double value) { return std::isfinite(value) && value >= 0; }

const json* present(const json& parent, const char* key) {
  auto found = parent.find(key);
  return found == parent.end() || found->is_null() ? nullptr : &*found;
}

// The typed reads of policy::detail::Decoder, its errors collected into a
// scratch PolicyDocument and moved into the workload's at the end; plus what
// a workload has and a policy does not: durations, and unknown fields as errors.
class WorkloadReader {
 public:
  explicit WorkloadReader(std::filesystem::path baseDir) : baseDir_(std::move(baseDir)) {}

  void read(const json& root, Workload& workload);
  std::vector<core::FieldError> takeErrors() { return std::move(scratch_.errors); }

 private:
  void error(const std::string& path, std::string message) { in_.error(path, std::move(message)); }

  // A misspelt field must not pass unjudged (`latencyP99: 500` would leave the SLO unchecked).
  void unknownFields(const json& object, const std::string& path, std::initializer_list<const char*> known) {
    const std::set<std::string_view> names(known.begin(), known.end());
    for (const auto& [key, value] : object.items()) {
      if (names.count(key) == 0) {
        error(path.empty() ? key : path + "." + key, "unknown field");
      }
    }
  }

  void required(const json& parent, const char* key, const std::string& path, const char* what = nullptr) {
    if (present(parent, key) == nullptr) {
      error(path, what == nullptr ? "required" : std::string("required (") + what + ")");
    }
  }

  std::optional<std::chrono::milliseconds> duration(const json& parent, const char* key, const std::string& path) {
    const json* value = present(parent, key);
    if (value == nullptr) {
      return std::nullopt;
    }
    if (!value->is_string()) {
      error(path, value->is_number() ? "must be a duration with a unit such as 15s, got " + value->dump()
                                     : "must be a duration such as 15s, got " + typeName(*value));
      return std::nullopt;
    }
    auto parsed = cli::parseDuration(value->get<std::string>());
    if (!parsed.ok()) {
      error(path, parsed.error().message);
      return std::nullopt;
    }
    if (parsed.value().count() <= 0) {
      error(path, "must be greater than 0");
      return std::nullopt;
    }
    return parsed.value();
  }

  // A number that must be > 0 (finite).
  std::optional<double> positiveNumber(const json& parent, const char* key, const std::string& path) {
    const auto value = in_.number(parent, key, path);
    if (value && !positive(*value)) {
      error(path, "must be greater than 0, got " + describe(*value));
      return std::nullopt;
    }
    return value;
  }

  std::optional<double> nonNegativeNumber(const json& parent, const char* key, const std::string& path) {
    const auto value = in_.number(parent, key, path);
    if (value && !nonNegative(*value)) {
      error(path, "must be >= 0, got " + describe(*value));
      return std::nullopt;
    }
    return value;
  }

  // Seconds of a replica's life (start-up, shutdown): >= 0 and at most a week.
  std::optional<double> replicaSeconds(const json& parent, const char* key, const std::string& path) {
    const auto value = nonNegativeNumber(parent, key, path);
    if (value && *value > kMaxReplicaSeconds) {
      error(path, "must be at most " + describe(kMaxReplicaSeconds) + " (a week), got " + describe(*value));
      return std::nullopt;
    }
    return value;
  }

  std::optional<std::string> nonEmptyString(const json& parent, const char* key, const std::string& path) {
    auto value = in_.string(parent, key, path);
    if (value && value->empty()) {
      error(path, "must not be empty");
      return std::nullopt;
    }
    return value;
  }

  std::filesystem::path resolve(const std::string& file) const {
    std::filesystem::path path(file);
    return path.is_relative() && !baseDir_.empty() ? baseDir_ / path : path;
  }

  void readMetadata(const json& root, Workload& workload);
  void readSpec(const json& spec, Workload& workload);
  void readSeed(const json& spec, Workload& workload);
  void readHpa(const json& spec, HpaModel& hpa);
  void readKeda(const json& spec, KedaModel& keda);
  void readReplicas(const json& spec, ReplicasModel& replicas);
  void readStartup(const json& replicas, StartupSeconds& startup);
  void readCapacity(const json& spec, Capacity& capacity);
  void readSlo(const json& spec, Slo& slo);
  void readDemand(const json& spec, DemandSpec& demand);
  void readPrometheus(const json& demand, PrometheusDemand& prometheus);
  std::optional<std::string> readTime(const json& parent, const char* key, const std::string& path,
                                      std::optional<double>& seconds);

  std::filesystem::path baseDir_;
  policy::PolicyDocument scratch_;
  policy::detail::Decoder in_{scratch_};
};

void WorkloadReader::read(const json& root, Workload& workload) {
  if (!root.is_object()) {
    error("", "a workload must be an object, got " + typeName(root));
    return;
  }
  if (auto apiVersion = in_.string(root, "apiVersion", "apiVersion")) {
    if (*apiVersion != kWorkloadApiVersion) {
      error("apiVersion", "must be " + std::string(kWorkloadApiVersion) + ", got \"" + *apiVersion + "\"");
    }
  } else {
    required(root, "apiVersion", "apiVersion", kWorkloadApiVersion.data());
  }
  if (auto kind = in_.string(root, "kind", "kind")) {
    if (*kind != kWorkloadKind) {
      error("kind", "must be " + std::string(kWorkloadKind) + ", got \"" + *kind + "\"");
    }
  } else {
    required(root, "kind", "kind", kWorkloadKind.data());
  }
  readMetadata(root, workload);
  if (const json* spec = in_.object(root, "spec", "spec")) {
    readSpec(*spec, workload);
  } else {
    required(root, "spec", "spec");
  }
  unknownFields(root, "", {"apiVersion", "kind", "metadata", "spec"});
}

void WorkloadReader::readMetadata(const json& root, Workload& workload) {
  const json* metadata = in_.object(root, "metadata", "metadata");
  if (metadata == nullptr) {
    required(root, "metadata", "metadata");
    return;
  }
  if (auto name = nonEmptyString(*metadata, "name", "metadata.name")) {
    workload.name = *name;
  } else {
    required(*metadata, "name", "metadata.name");
  }
  // What Kubernetes tooling puts in any object's metadata; a workload uses none of it.
  (void)in_.string(*metadata, "namespace", "metadata.namespace");
  (void)in_.object(*metadata, "labels", "metadata.labels");
  (void)in_.object(*metadata, "annotations", "metadata.annotations");
  unknownFields(*metadata, "metadata", {"name", "namespace", "labels", "annotations"});
}

void WorkloadReader::readSpec(const json& spec, Workload& workload) {
  if (auto interval = duration(spec, "interval", "spec.interval")) {
    workload.interval = *interval;
  }
  workload.duration = duration(spec, "duration", "spec.duration");
  if (workload.duration && workload.interval.count() > 0 &&
      workload.duration->count() / workload.interval.count() >= kMaxRunSteps) {
    error("spec.duration", "spans more than " + std::to_string(kMaxRunSteps) + " intervals of " +
                               std::to_string(workload.interval.count()) + " ms");
  }
  readSeed(spec, workload);
  readHpa(spec, workload.hpa);
  readKeda(spec, workload.keda);
  readReplicas(spec, workload.replicas);
  readCapacity(spec, workload.capacity);
  if (auto gpus = in_.int32(spec, "gpusPerReplica", "spec.gpusPerReplica")) {
    if (*gpus < 1) {
      error("spec.gpusPerReplica", "must be at least 1, got " + std::to_string(*gpus));
    } else {
      workload.gpusPerReplica = *gpus;
    }
  }
  workload.costPerGpuHour = nonNegativeNumber(spec, "costPerGpuHour", "spec.costPerGpuHour");
  readSlo(spec, workload.slo);
  readDemand(spec, workload.demand);
  unknownFields(spec, "spec",
                {"interval", "duration", "seed", "hpa", "keda", "replicas", "capacity", "gpusPerReplica", "costPerGpuHour",
                 "slo", "demand"});
}

void WorkloadReader::readSeed(const json& spec, Workload& workload) {
  const json* seed = present(spec, "seed");
  if (seed == nullptr) {
    return;
  }
  if (seed->is_number_unsigned()) {
    workload.seed = seed->get<std::uint64_t>();
    return;
  }
  if (seed->is_number_integer() && seed->get<std::int64_t>() >= 0) {
    workload.seed = static_cast<std::uint64_t>(seed->get<std::int64_t>());
    return;
  }
  // 2^53: the integers a double holds exactly (YAML may give "1.0").
  constexpr double kExact = 9007199254740992.0;
  if (seed->is_number_float()) {
    const double value = seed->get<double>();
    if (std::isfinite(value) && value >= 0 && value <= kExact && std::trunc(value) == value) {
      workload.seed = static_cast<std::uint64_t>(value);
      return;
    }
  }
  error("spec.seed", seed->is_number() ? "must be an integer >= 0, got " + seed->dump()
                                       : "must be an integer >= 0, got " + typeName(*seed));
}

void WorkloadReader::readHpa(const json& spec, HpaModel& hpa) {
  const json* object = in_.object(spec, "hpa", "spec.hpa");
  if (object == nullptr) {
    return;
  }
  if (auto period = duration(*object, "syncPeriod", "spec.hpa.syncPeriod")) {
    hpa.syncPeriod = *period;
  }
  if (auto tolerance = in_.number(*object, "tolerance", "spec.hpa.tolerance")) {
    if (!(*tolerance >= 0 && *tolerance < 1)) {
      error("spec.hpa.tolerance", "must be in [0, 1), got " + describe(*tolerance));
    } else {
      hpa.tolerance = *tolerance;
    }
  }
  if (hpa.syncPeriod < std::chrono::seconds(1)) {
    // The controller manager's flag takes seconds; below that the run would
    // be syncs, not decisions.
    error("spec.hpa.syncPeriod", "must be at least 1s, got " + std::to_string(hpa.syncPeriod.count()) + "ms");
  }
  if (auto pods = in_.int32(*object, "scaleUpPods", "spec.hpa.scaleUpPods")) {
    if (*pods < 0) {
      error("spec.hpa.scaleUpPods", "must be >= 0 (0: no Pods policy), got " + std::to_string(*pods));
    } else {
      hpa.scaleUpPods = *pods;
    }
  }
  if (auto percent = in_.int32(*object, "scaleUpPercent", "spec.hpa.scaleUpPercent")) {
    if (*percent < 0) {
      error("spec.hpa.scaleUpPercent", "must be >= 0 (0: no Percent policy), got " + std::to_string(*percent));
    } else {
      hpa.scaleUpPercent = *percent;
    }
  }
  if (auto period = duration(*object, "scaleUpPeriod", "spec.hpa.scaleUpPeriod")) {
    if (*period < std::chrono::seconds(1) || *period > std::chrono::seconds(1800)) {
      error("spec.hpa.scaleUpPeriod", "must be within 1s and 30m, as a policy's periodSeconds, got " +
                                          std::to_string(period->count()) + "ms");
    } else {
      hpa.scaleUpPeriod = *period;
    }
  }
  unknownFields(*object, "spec.hpa", {"syncPeriod", "tolerance", "scaleUpPods", "scaleUpPercent", "scaleUpPeriod"});
}

void WorkloadReader::readKeda(const json& spec, KedaModel& keda) {
  const json* object = in_.object(spec, "keda", "spec.keda");
  if (object == nullptr) {
    return;
  }
  if (auto cooldown = duration(*object, "cooldownPeriod", "spec.keda.cooldownPeriod")) {
    keda.cooldownPeriod = *cooldown;
  }
  if (auto minimum = in_.int32(*object, "minReplicaCount", "spec.keda.minReplicaCount")) {
    if (*minimum < 0) {
      error("spec.keda.minReplicaCount", "must be >= 0, got " + std::to_string(*minimum));
    } else {
      keda.minReplicaCount = *minimum;
    }
  }
  unknownFields(*object, "spec.keda", {"cooldownPeriod", "minReplicaCount"});
}

void WorkloadReader::readReplicas(const json& spec, ReplicasModel& replicas) {
  const json* object = in_.object(spec, "replicas", "spec.replicas");
  if (object == nullptr) {
    return;
  }
  if (auto initial = in_.int32(*object, "initial", "spec.replicas.initial")) {
    if (*initial < 0) {
      error("spec.replicas.initial", "must be >= 0, got " + std::to_string(*initial));
    } else {
      replicas.initial = *initial;
    }
  }
  readStartup(*object, replicas.startup);
  if (auto shutdown = replicaSeconds(*object, "shutdownSeconds", "spec.replicas.shutdownSeconds")) {
    replicas.shutdownSeconds = *shutdown;
  }
  unknownFields(*object, "spec.replicas", {"initial", "startupSeconds", "shutdownSeconds"});
}

void WorkloadReader::readStartup(const json& replicas, StartupSeconds& startup) {
  const std::string path = "spec.replicas.startupSeconds";
  const json* value = present(replicas, "startupSeconds");
  if (value == nullptr) {
    return;
  }
  if (value->is_number()) {
    if (auto seconds = replicaSeconds(replicas, "startupSeconds", path)) {
      startup = {*seconds, *seconds};
    }
    return;
  }
  if (!value->is_object()) {
    error(path, "must be a number of seconds or {min, max}, got " + typeName(*value));
    return;
  }
  const auto min = replicaSeconds(*value, "min", path + ".min");
  const auto max = replicaSeconds(*value, "max", path + ".max");
  required(*value, "min", path + ".min");
  required(*value, "max", path + ".max");
  if (min && max) {
    if (*min > *max) {
      error(path, "min (" + describe(*min) + ") must not be greater than max (" + describe(*max) + ")");
    } else {
      startup = {*min, *max};
    }
  }
  unknownFields(*value, path, {"min", "max"});
}

void WorkloadReader::readCapacity(const json& spec, Capacity& capacity) {
  const json* object = in_.object(spec, "capacity", "spec.capacity");
  if (object == nullptr) {
    required(spec, "capacity", "spec.capacity");
    return;
  }
  if (auto rate = positiveNumber(*object, "requestsPerSecond", "spec.capacity.requestsPerSecond")) {
    capacity.requestsPerSecond = *rate;
  } else {
    required(*object, "requestsPerSecond", "spec.capacity.requestsPerSecond");
  }
  capacity.tokensPerSecond = positiveNumber(*object, "tokensPerSecond", "spec.capacity.tokensPerSecond");
  capacity.kvCacheTokens = positiveNumber(*object, "kvCacheTokens", "spec.capacity.kvCacheTokens");
  unknownFields(*object, "spec.capacity", {"requestsPerSecond", "tokensPerSecond", "kvCacheTokens"});
}

void WorkloadReader::readSlo(const json& spec, Slo& slo) {
  const json* object = in_.object(spec, "slo", "spec.slo");
  if (object == nullptr) {
    return;
  }
  slo.latencyP99Ms = positiveNumber(*object, "latencyP99Ms", "spec.slo.latencyP99Ms");
  slo.timeToFirstTokenP95Ms = positiveNumber(*object, "timeToFirstTokenP95Ms", "spec.slo.timeToFirstTokenP95Ms");
  slo.requestsWaiting = positiveNumber(*object, "requestsWaiting", "spec.slo.requestsWaiting");
  unknownFields(*object, "spec.slo", {"latencyP99Ms", "timeToFirstTokenP95Ms", "requestsWaiting"});
}

void WorkloadReader::readDemand(const json& spec, DemandSpec& demand) {
  const json* object = in_.object(spec, "demand", "spec.demand");
  if (object == nullptr) {
    required(spec, "demand", "spec.demand", "one of arrivals, rate or prometheus");
    return;
  }
  std::vector<std::string> given;
  for (const char* key : {"arrivals", "rate", "prometheus"}) {
    if (present(*object, key) != nullptr) {
      given.emplace_back(key);
    }
  }
  if (given.empty()) {
    error("spec.demand", "one of arrivals, rate or prometheus is required");
  } else if (given.size() > 1) {
    std::string list = given[0];
    for (std::size_t i = 1; i < given.size(); ++i) {
      list += (i + 1 == given.size() ? " and " : ", ") + given[i];
    }
    error("spec.demand", "exactly one of arrivals, rate or prometheus, got " + list);
  }
  if (auto arrivals = nonEmptyString(*object, "arrivals", "spec.demand.arrivals")) {
    demand.arrivals = resolve(*arrivals);
  }
  if (auto rate = nonEmptyString(*object, "rate", "spec.demand.rate")) {
    demand.rate = resolve(*rate);
  }
  if (const json* prometheus = in_.object(*object, "prometheus", "spec.demand.prometheus")) {
    PrometheusDemand query;
    readPrometheus(*prometheus, query);
    demand.prometheus = std::move(query);
  }
  if (auto scale = positiveNumber(*object, "scale", "spec.demand.scale")) {
    demand.scale = *scale;
  }
  unknownFields(*object, "spec.demand", {"arrivals", "rate", "prometheus", "scale"});
}

void WorkloadReader::readPrometheus(const json& object, PrometheusDemand& prometheus) {
  const std::string path = "spec.demand.prometheus";
  if (auto query = nonEmptyString(object, "query", path + ".query")) {
    prometheus.query = *query;
  } else {
    required(object, "query", path + ".query", "a PromQL expression");
  }
  std::optional<double> start;
  std::optional<double> end;
  prometheus.start = readTime(object, "start", path + ".start", start).value_or("");
  prometheus.end = readTime(object, "end", path + ".end", end).value_or("");
  if (start && end && !(*end > *start)) {
    error(path + ".end", "must be after start");
  }
  if (auto step = duration(object, "step", path + ".step")) {
    prometheus.step = *step;
  }
  unknownFields(object, path, {"query", "start", "end", "step"});
}

// start or end of a range query: RFC 3339 or Unix seconds, as query_range
// takes them; `seconds` gets the instant, to check that end is after start.
std::optional<std::string> WorkloadReader::readTime(const json& parent, const char* key, const std::string& path,
                                                    std::optional<double>& seconds) {
  const json* value = present(parent, key);
  if (value == nullptr) {
    required(parent, key, path, "RFC 3339 or Unix seconds");
    return std::nullopt;
  }
  if (value->is_number()) {
    const double number = value->get<double>();
    if (!nonNegative(number)) {
      error(path, "must be Unix seconds >= 0 or an RFC 3339 time, got " + describe(number));
      return std::nullopt;
    }
    seconds = number;
    return value->dump();
  }
  if (!value->is_string()) {
    error(path, "must be an RFC 3339 time or Unix seconds, got " + typeName(*value));
    return std::nullopt;
  }
  const auto text = value->get<std::string>();
  if (const auto micros = parseTimestampMicros(text)) {
    seconds = static_cast<double>(*micros) / 1e6;
    return text;
  }
  double number = 0;
  const auto [rest, failure] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (failure == std::errc() && rest == text.data() + text.size() && !text.empty() && nonNegative(number)) {
    seconds = number;
    return text;
  }
  error(path, "must be an RFC 3339 time (2023-11-16T18:17:03Z) or Unix seconds, got \"" + text.substr(0, 64) + "\"");
  return std::nullopt;
}

}  // namespace

WorkloadDocument parseWorkloadYaml(std::string_view text, const std::filesystem::path& baseDir) {
  WorkloadDocument document;
  try {
    auto documents = policy::parseYamlDocuments(text);
    if (!documents.ok()) {
      document.errors.push_back({"", documents.error().message});
      return document;
    }
    const json* root = nullptr;
    std::size_t count = 0;
    for (const auto& converted : documents.value()) {
      if (!converted.ok()) {
        document.errors.push_back({"", converted.error().message});
        return document;
      }
      if (converted.value().is_null()) {
        continue;  // an empty document, e.g. after a trailing "---"
      }
      ++count;
      root = &converted.value();
    }
    if (count == 0) {
      document.errors.push_back({"", "empty: expected a " + std::string(kWorkloadKind)});
      return document;
    }
    if (count > 1) {
      document.errors.push_back(
          {"", std::to_string(count) + " documents: a workload file holds one " + std::string(kWorkloadKind)});
      return document;
    }
    WorkloadReader reader(baseDir);
    reader.read(*root, document.workload);
    document.errors = reader.takeErrors();
  } catch (const std::exception& exception) {
    // Nothing above should throw; if it does, the file is still only refused.
    document.errors.push_back({"", std::string("cannot read the workload: ") + exception.what()});
  }
  return document;
}

WorkloadDocument loadWorkloadFile(const std::filesystem::path& path) {
  auto contents = policy::readManifestFile(path);
  if (!contents.ok()) {
    WorkloadDocument document;
    document.errors.push_back({"", contents.error().message});
    return document;
  }
  WorkloadDocument document = parseWorkloadYaml(contents.value(), path.parent_path());
  for (auto& error : document.errors) {
    if (error.field.empty()) {
      error.message = path.string() + ": " + error.message;
    }
  }
  return document;
}

}  // namespace kubeai::simulate

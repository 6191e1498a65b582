#include "simulate/workload.h"

#include <cmath>
#include <exception>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "policy/json_decoder.h"
#include "policy/yaml_documents.h"
#include "simulate/workload_fields.h"

namespace kubeai::simulate {
namespace {

using nlohmann::json;
using policy::detail::typeName;
using detail::describe;
using detail::present;

// A workload's sections (what each holds and how its fields relate), read
// with WorkloadFieldReader's field reads.
class WorkloadReader : private detail::WorkloadFieldReader {
 public:
  using WorkloadFieldReader::WorkloadFieldReader;
  using WorkloadFieldReader::takeErrors;

  void read(const json& root, Workload& workload);

 private:
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
    error(path, "must be a number of seconds (without a unit) or {min, max}, got " +
                    (value->is_string() ? value->dump() : typeName(*value)));
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

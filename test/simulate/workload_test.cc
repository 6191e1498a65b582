#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "simulate/workload.h"
#include "support/temp_dir.h"

namespace {

using kubeai::simulate::loadWorkloadFile;
using kubeai::simulate::parseWorkloadYaml;
using kubeai::simulate::WorkloadDocument;
using namespace std::chrono_literals;

// The workload of issue 13, as written there.
constexpr const char* kIssueExample = R"(apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: code-assistant}
spec:
  interval: 15s                 # evaluation interval (KEDA/HPA); default 15s
  duration: 1h                  # optional; default: the span of the demand
  seed: 1                       # any randomness (start-up distributions) comes from it
  hpa: {syncPeriod: 15s, tolerance: 0.1}   # the HPA drops changes within its tolerance
  replicas: {initial: 2, startupSeconds: 120, shutdownSeconds: 0}
  capacity: {requestsPerSecond: 2.5, tokensPerSecond: 5000, kvCacheTokens: 200000}
  gpusPerReplica: 1
  costPerGpuHour: 2.5           # optional
  slo: {latencyP99Ms: 8000, timeToFirstTokenP95Ms: 1000, requestsWaiting: 20}
  demand:
    arrivals: trace.csv         # TIMESTAMP,ContextTokens,GeneratedTokens (Azure trace format)
    # rate: rate.csv            # time,requestsPerSecond  (time: seconds or RFC 3339)
    # prometheus: {query: 'sum(rate(vllm:request_success_total[1m]))', start: ..., end: ..., step: 15s}
    scale: 1.0                  # multiplies the demand
)";

// A valid workload with `spec` as its spec (flow or block YAML, indented by two).
std::string withSpec(const std::string& spec) {
  return "apiVersion: kubeai.io/v1alpha1\nkind: SimulationWorkload\nmetadata: {name: w}\nspec:\n" + spec;
}

constexpr const char* kMinimalSpec =
    "  capacity: {requestsPerSecond: 2}\n"
    "  demand: {rate: rate.csv}\n";

std::string errorsOf(const WorkloadDocument& document) {
  std::string out;
  for (const auto& error : document.errors) {
    out += error.toString() + "\n";
  }
  return out;
}

bool hasError(const WorkloadDocument& document, const std::string& field, const std::string& message) {
  return std::any_of(document.errors.begin(), document.errors.end(), [&](const auto& error) {
    return error.field == field && error.message.find(message) != std::string::npos;
  });
}

// A scratch directory, removed at the end of the test.

}  // namespace

TEST_CASE("the workload of issue 13 parses to its values") {
  const WorkloadDocument document = parseWorkloadYaml(kIssueExample, "/data/workloads");
  REQUIRE_MESSAGE(document.ok(), errorsOf(document));
  const auto& w = document.workload;
  CHECK(w.name == "code-assistant");
  CHECK(w.interval == 15s);
  REQUIRE(w.duration.has_value());
  CHECK(*w.duration == 1h);
  CHECK(w.seed == 1);
  CHECK(w.hpa.syncPeriod == 15s);
  CHECK(w.hpa.tolerance == doctest::Approx(0.1));
  CHECK(w.replicas.initial == 2);
  CHECK(w.replicas.startup.min == 120);
  CHECK(w.replicas.startup.max == 120);
  CHECK(w.replicas.shutdownSeconds == 0);
  CHECK(w.capacity.requestsPerSecond == 2.5);
  CHECK(w.capacity.tokensPerSecond == 5000);
  CHECK(w.capacity.kvCacheTokens == 200000);
  CHECK(w.gpusPerReplica == 1);
  CHECK(w.costPerGpuHour == 2.5);
  CHECK(w.slo.latencyP99Ms == 8000);
  CHECK(w.slo.timeToFirstTokenP95Ms == 1000);
  CHECK(w.slo.requestsWaiting == 20);
  REQUIRE(w.demand.arrivals.has_value());
  CHECK(*w.demand.arrivals == std::filesystem::path("/data/workloads/trace.csv"));
  CHECK_FALSE(w.demand.rate.has_value());
  CHECK_FALSE(w.demand.prometheus.has_value());
  CHECK(w.demand.scale == 1.0);
}

TEST_CASE("an absent field takes its documented default") {
  const WorkloadDocument document = parseWorkloadYaml(withSpec(kMinimalSpec), "");
  REQUIRE_MESSAGE(document.ok(), errorsOf(document));
  const auto& w = document.workload;
  CHECK(w.interval == 15s);
  CHECK_FALSE(w.duration.has_value());
  CHECK(w.seed == 1);
  CHECK(w.hpa.syncPeriod == 15s);
  CHECK(w.hpa.tolerance == doctest::Approx(0.1));
  CHECK(w.replicas.initial == 1);
  CHECK(w.replicas.startup.min == 0);
  CHECK(w.replicas.startup.max == 0);
  CHECK(w.replicas.shutdownSeconds == 0);
  CHECK_FALSE(w.capacity.tokensPerSecond.has_value());
  CHECK_FALSE(w.capacity.kvCacheTokens.has_value());
  CHECK(w.gpusPerReplica == 1);
  CHECK_FALSE(w.costPerGpuHour.has_value());
  CHECK_FALSE(w.slo.latencyP99Ms.has_value());
  CHECK_FALSE(w.slo.timeToFirstTokenP95Ms.has_value());
  CHECK_FALSE(w.slo.requestsWaiting.has_value());
  CHECK(w.demand.scale == 1.0);
  // No base directory: a relative path stays relative (to the working directory).
  CHECK(*w.demand.rate == std::filesystem::path("rate.csv"));
}

TEST_CASE("startupSeconds as a range, durations with several terms, a prometheus demand") {
  const WorkloadDocument document = parseWorkloadYaml(withSpec(R"(  interval: 1m30s
  duration: 90m
  seed: 9223372036854775807
  replicas: {startupSeconds: {min: 60, max: 180}}
  capacity: {requestsPerSecond: 1}
  demand:
    prometheus:
      query: 'sum(rate(vllm:request_success_total[1m]))'
      start: 2023-11-16T18:00:00Z
      end: 1700160000
    scale: 2.5
)"),
                                                      "/base");
  REQUIRE_MESSAGE(document.ok(), errorsOf(document));
  const auto& w = document.workload;
  CHECK(w.interval == 90s);
  CHECK(*w.duration == 90min);
  CHECK(w.seed == 9223372036854775807ull);
  CHECK(w.replicas.startup.min == 60);
  CHECK(w.replicas.startup.max == 180);
  REQUIRE(w.demand.prometheus.has_value());
  CHECK(w.demand.prometheus->query == "sum(rate(vllm:request_success_total[1m]))");
  CHECK(w.demand.prometheus->start == "2023-11-16T18:00:00Z");
  CHECK(w.demand.prometheus->end == "1700160000");
  CHECK(w.demand.prometheus->step == 15s);  // the default
  CHECK(w.demand.scale == 2.5);
}

TEST_CASE("an absolute demand path is kept as written") {
  const WorkloadDocument document =
      parseWorkloadYaml(withSpec("  capacity: {requestsPerSecond: 1}\n  demand: {arrivals: /traces/a.csv}\n"), "/base");
  REQUIRE_MESSAGE(document.ok(), errorsOf(document));
  CHECK(*document.workload.demand.arrivals == std::filesystem::path("/traces/a.csv"));
}

TEST_CASE("every invalid field is reported with its path") {
  struct Row {
    const char* spec;  // the whole spec, indented by two
    const char* field;
    const char* message;
  };
  const std::string cap = "  capacity: {requestsPerSecond: 1}\n";
  const std::string rate = "  demand: {rate: r.csv}\n";
  const std::vector<Row> rows = {
      // interval must be > 0, and a duration with a unit
      {"  interval: 0s\n", "spec.interval", "must be greater than 0"},
      {"  interval: 15\n", "spec.interval", "must be a duration with a unit such as 15s, got 15"},
      {"  interval: soon\n", "spec.interval", "invalid duration \"soon\""},
      {"  interval: [15s]\n", "spec.interval", "must be a duration such as 15s, got array"},
      // duration > 0 when set
      {"  duration: 0ms\n", "spec.duration", "must be greater than 0"},
      // the seed is a non-negative integer
      {"  seed: -1\n", "spec.seed", "must be an integer >= 0, got -1"},
      {"  seed: 1.5\n", "spec.seed", "must be an integer >= 0, got 1.5"},
      {"  seed: one\n", "spec.seed", "must be an integer >= 0, got string"},
      // hpa.tolerance in [0, 1); syncPeriod > 0
      {"  hpa: {tolerance: 1}\n", "spec.hpa.tolerance", "must be in [0, 1), got 1"},
      {"  hpa: {tolerance: -0.1}\n", "spec.hpa.tolerance", "must be in [0, 1), got -0.1"},
      {"  hpa: {tolerance: .nan}\n", "spec.hpa.tolerance", "must be in [0, 1), got .nan"},
      {"  hpa: {syncPeriod: 0s}\n", "spec.hpa.syncPeriod", "must be greater than 0"},
      {"  hpa: 3\n", "spec.hpa", "must be an object, got integer"},
      // replicas
      {"  replicas: {initial: -1}\n", "spec.replicas.initial", "must be >= 0, got -1"},
      {"  replicas: {initial: 1.5}\n", "spec.replicas.initial", "must be an integer"},
      {"  replicas: {startupSeconds: -5}\n", "spec.replicas.startupSeconds", "must be >= 0, got -5"},
      {"  replicas: {startupSeconds: {min: 180, max: 60}}\n", "spec.replicas.startupSeconds",
       "min (180) must not be greater than max (60)"},
      {"  replicas: {startupSeconds: {min: -1, max: 60}}\n", "spec.replicas.startupSeconds.min", "must be >= 0"},
      {"  replicas: {startupSeconds: {min: 10}}\n", "spec.replicas.startupSeconds.max", "required"},
      {"  replicas: {startupSeconds: 2m}\n", "spec.replicas.startupSeconds",
       "must be a number of seconds (without a unit) or {min, max}, got \"2m\""},
      {"  replicas: {shutdownSeconds: .inf}\n", "spec.replicas.shutdownSeconds", "must be a finite number >= 0, got .inf"},
      // gpusPerReplica >= 1, costPerGpuHour >= 0
      {"  gpusPerReplica: 0\n", "spec.gpusPerReplica", "must be at least 1, got 0"},
      {"  costPerGpuHour: -2.5\n", "spec.costPerGpuHour", "must be >= 0, got -2.5"},
      {"  costPerGpuHour: cheap\n", "spec.costPerGpuHour", "must be a number, got string"},
      // slo values > 0
      {"  slo: {latencyP99Ms: 0}\n", "spec.slo.latencyP99Ms", "must be greater than 0, got 0"},
      {"  slo: {timeToFirstTokenP95Ms: -1}\n", "spec.slo.timeToFirstTokenP95Ms", "must be greater than 0"},
      {"  slo: {requestsWaiting: .inf}\n", "spec.slo.requestsWaiting", "must be a finite number greater than 0, got .inf"},
      // demand.scale > 0
      {"  demand: {rate: r.csv, scale: 0}\n", "spec.demand.scale", "must be greater than 0, got 0"},
      {"  demand: {rate: ''}\n", "spec.demand.rate", "must not be empty"},
  };
  for (const Row& row : rows) {
    std::string spec = row.spec;
    if (spec.find("capacity") == std::string::npos) {
      spec += cap;
    }
    if (spec.find("demand") == std::string::npos) {
      spec += rate;
    }
    const WorkloadDocument document = parseWorkloadYaml(withSpec(spec), "");
    INFO(row.spec);
    INFO(errorsOf(document));
    CHECK(hasError(document, row.field, row.message));
    CHECK(document.errors.size() == 1);
  }
}

TEST_CASE("capacity and demand are required, and the demand is exactly one source") {
  struct Row {
    const char* spec;
    const char* field;
    const char* message;
  };
  const std::vector<Row> rows = {
      {"  demand: {rate: r.csv}\n", "spec.capacity", "required"},
      {"  capacity: {}\n  demand: {rate: r.csv}\n", "spec.capacity.requestsPerSecond", "required"},
      {"  capacity: {requestsPerSecond: 0}\n  demand: {rate: r.csv}\n", "spec.capacity.requestsPerSecond",
       "must be greater than 0, got 0"},
      {"  capacity: {requestsPerSecond: 1, tokensPerSecond: 0}\n  demand: {rate: r.csv}\n",
       "spec.capacity.tokensPerSecond", "must be greater than 0"},
      {"  capacity: {requestsPerSecond: 1, kvCacheTokens: -1}\n  demand: {rate: r.csv}\n",
       "spec.capacity.kvCacheTokens", "must be greater than 0"},
      {"  capacity: {requestsPerSecond: 1}\n", "spec.demand", "required"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {scale: 2}\n", "spec.demand",
       "one of arrivals, rate or prometheus is required"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {arrivals: a.csv, rate: r.csv}\n", "spec.demand",
       "exactly one of arrivals, rate or prometheus, got arrivals and rate"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {arrivals: a.csv, rate: r.csv, prometheus: {query: q, "
       "start: 0, end: 1}}\n",
       "spec.demand", "got arrivals, rate and prometheus"},
      // prometheus: query, start and end required, end after start, step a duration > 0
      {"  capacity: {requestsPerSecond: 1}\n  demand: {prometheus: {start: 0, end: 60}}\n",
       "spec.demand.prometheus.query", "required"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {prometheus: {query: up, end: 60}}\n",
       "spec.demand.prometheus.start", "required"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {prometheus: {query: up, start: 0}}\n",
       "spec.demand.prometheus.end", "required"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {prometheus: {query: up, start: 60, end: 60}}\n",
       "spec.demand.prometheus.end", "must be after start"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {prometheus: {query: up, start: yesterday, end: 60}}\n",
       "spec.demand.prometheus.start", "must be an RFC 3339 time"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {prometheus: {query: up, start: 0, end: 60, step: 0s}}\n",
       "spec.demand.prometheus.step", "must be greater than 0"},
      {"  capacity: {requestsPerSecond: 1}\n  demand: {prometheus: {query: up, start: 0, end: 60, step: 15}}\n",
       "spec.demand.prometheus.step", "must be a duration with a unit"},
  };
  for (const Row& row : rows) {
    const WorkloadDocument document = parseWorkloadYaml(withSpec(row.spec), "");
    INFO(row.spec);
    INFO(errorsOf(document));
    CHECK(hasError(document, row.field, row.message));
    CHECK(document.errors.size() == 1);
  }
}

TEST_CASE("an unknown field at any level is an error naming its path") {
  struct Row {
    std::string yaml;
    const char* field;
  };
  const std::string head = "apiVersion: kubeai.io/v1alpha1\nkind: SimulationWorkload\n";
  const std::vector<Row> rows = {
      {head + "metadata: {name: w}\nspec: {capacity: {requestsPerSecond: 1}, demand: {rate: r}}\nstatus: {}\n",
       "status"},
      {head + "metadata: {name: w, nmae: x}\nspec: {capacity: {requestsPerSecond: 1}, demand: {rate: r}}\n",
       "metadata.nmae"},
      {withSpec(std::string(kMinimalSpec) + "  intervl: 15s\n"), "spec.intervl"},
      {withSpec(std::string(kMinimalSpec) + "  hpa: {tolerence: 0.1}\n"), "spec.hpa.tolerence"},
      {withSpec(std::string(kMinimalSpec) + "  replicas: {startup: 120}\n"), "spec.replicas.startup"},
      {withSpec(std::string(kMinimalSpec) + "  replicas: {startupSeconds: {min: 1, max: 2, mode: 1}}\n"),
       "spec.replicas.startupSeconds.mode"},
      {withSpec("  capacity: {requestsPerSecond: 1, gpus: 2}\n  demand: {rate: r}\n"), "spec.capacity.gpus"},
      // The issue's own example of a typo that must not pass unjudged.
      {withSpec(std::string(kMinimalSpec) + "  slo: {latencyP99: 8000}\n"), "spec.slo.latencyP99"},
      {withSpec("  capacity: {requestsPerSecond: 1}\n  demand: {rate: r, scael: 2}\n"), "spec.demand.scael"},
      {withSpec("  capacity: {requestsPerSecond: 1}\n  demand: {prometheus: {query: q, start: 0, end: 1, "
                "stepp: 15s}}\n"),
       "spec.demand.prometheus.stepp"},
  };
  for (const Row& row : rows) {
    const WorkloadDocument document = parseWorkloadYaml(row.yaml, "");
    INFO(row.yaml);
    INFO(errorsOf(document));
    CHECK(hasError(document, row.field, "unknown field"));
    CHECK(document.errors.size() == 1);
  }
  // Exactly as the lead's messages print it.
  const WorkloadDocument typo = parseWorkloadYaml(withSpec(std::string(kMinimalSpec) + "  slo: {latencyP99: 1}\n"), "");
  REQUIRE(typo.errors.size() == 1);
  CHECK(typo.errors[0].toString() == "spec.slo.latencyP99: unknown field");
}

TEST_CASE("every error of a workload is reported at once") {
  const WorkloadDocument document = parseWorkloadYaml(R"(apiVersion: kubeai.io/v1beta9
kind: SimulationWorkload
metadata: {}
spec:
  interval: 0s
  hpa: {tolerance: 2}
  replicas: {initial: -3}
  capacity: {requestsPerSecond: -1}
  gpusPerReplica: 0
  slo: {latencyP99Ms: 0, latencyP95Ms: 5}
  demand: {arrivals: a.csv, rate: b.csv, scale: -1}
)",
                                                      "");
  INFO(errorsOf(document));
  CHECK(hasError(document, "apiVersion", "must be kubeai.io/v1alpha1, got \"kubeai.io/v1beta9\""));
  CHECK(hasError(document, "metadata.name", "required"));
  CHECK(hasError(document, "spec.interval", "must be greater than 0"));
  CHECK(hasError(document, "spec.hpa.tolerance", "must be in [0, 1)"));
  CHECK(hasError(document, "spec.replicas.initial", "must be >= 0"));
  CHECK(hasError(document, "spec.capacity.requestsPerSecond", "must be greater than 0"));
  CHECK(hasError(document, "spec.gpusPerReplica", "must be at least 1"));
  CHECK(hasError(document, "spec.slo.latencyP99Ms", "must be greater than 0"));
  CHECK(hasError(document, "spec.slo.latencyP95Ms", "unknown field"));
  CHECK(hasError(document, "spec.demand", "exactly one of"));
  CHECK(hasError(document, "spec.demand.scale", "must be greater than 0"));
  CHECK(document.errors.size() == 11);
}

TEST_CASE("the object around the spec: apiVersion, kind, metadata, spec") {
  struct Row {
    std::string yaml;
    const char* field;
    const char* message;
  };
  const std::string spec = "spec: {capacity: {requestsPerSecond: 1}, demand: {rate: r}}\n";
  const std::vector<Row> rows = {
      {"kind: SimulationWorkload\nmetadata: {name: w}\n" + spec, "apiVersion", "required (kubeai.io/v1alpha1)"},
      {"apiVersion: kubeai.io/v1alpha1\nmetadata: {name: w}\n" + spec, "kind", "required (SimulationWorkload)"},
      {"apiVersion: kubeai.io/v1alpha1\nkind: AIInferenceAutoscalerPolicy\nmetadata: {name: w}\n" + spec, "kind",
       "must be SimulationWorkload, got \"AIInferenceAutoscalerPolicy\""},
      {"apiVersion: kubeai.io/v1alpha1\nkind: SimulationWorkload\n" + spec, "metadata", "required"},
      {"apiVersion: kubeai.io/v1alpha1\nkind: SimulationWorkload\nmetadata: {name: ''}\n" + spec, "metadata.name",
       "must not be empty"},
      {"apiVersion: kubeai.io/v1alpha1\nkind: SimulationWorkload\nmetadata: {name: w}\n", "spec", "required"},
      {"apiVersion: kubeai.io/v1alpha1\nkind: SimulationWorkload\nmetadata: {name: w}\nspec: [1]\n", "spec",
       "must be an object, got array"},
      {"[1, 2]\n", "", "a workload must be an object, got array"},
      {"", "", "empty: expected a SimulationWorkload"},
      {"a: 1\n---\nb: 2\n", "", "2 documents: a workload file holds one SimulationWorkload"},
      {"spec: {a: [1, 2}\n", "", "invalid YAML"},
  };
  for (const Row& row : rows) {
    const WorkloadDocument document = parseWorkloadYaml(row.yaml, "");
    INFO(row.yaml);
    INFO(errorsOf(document));
    CHECK(hasError(document, row.field, row.message));
  }
  // Kubernetes-style metadata is accepted and ignored; a trailing "---" is no second document.
  const WorkloadDocument labelled = parseWorkloadYaml(
      "apiVersion: kubeai.io/v1alpha1\nkind: SimulationWorkload\nmetadata: {name: w, namespace: default, labels: {a: b}, "
      "annotations: {c: d}}\n" +
          spec + "---\n",
      "");
  CHECK_MESSAGE(labelled.ok(), errorsOf(labelled));
}

TEST_CASE("no input makes the parser throw or crash") {
  const std::vector<std::string> inputs = {
      std::string("\0\xff\xfe", 3), "{{{{", "spec: !!binary AAAA", std::string(5000, '['), "&a [*a]",
      withSpec("  interval: 99999999999999999999h\n"), withSpec("  seed: 1e400\n"),
      withSpec("  replicas: {initial: 1e300}\n"), withSpec("  demand: {prometheus: {start: 1e400, end: .inf}}\n")};
  for (const auto& input : inputs) {
    WorkloadDocument document;
    CHECK_NOTHROW(document = parseWorkloadYaml(input, "/base"));
    CHECK_FALSE(document.ok());
  }
}

TEST_CASE("loadWorkloadFile resolves demand paths against the file's directory and names the file") {
  kubeai::testing::TempDir dir;
  const auto path = dir.write("w.yaml", kIssueExample);
  const WorkloadDocument document = loadWorkloadFile(path);
  REQUIRE_MESSAGE(document.ok(), errorsOf(document));
  CHECK(*document.workload.demand.arrivals == dir.path() / "trace.csv");

  const WorkloadDocument missing = loadWorkloadFile(dir.path() / "absent.yaml");
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].field.empty());
  CHECK(missing.errors[0].message == "no such file: " + (dir.path() / "absent.yaml").string());

  const auto broken = dir.write("broken.yaml", "spec: {a: [1, 2}\n");
  const WorkloadDocument invalid = loadWorkloadFile(broken);
  REQUIRE(invalid.errors.size() == 1);
  CHECK(invalid.errors[0].message.rfind(broken.string() + ": invalid YAML", 0) == 0);

  // A field error keeps its path as the field; the file is what the caller prints before it.
  const auto typo = dir.write("typo.yaml", withSpec(std::string(kMinimalSpec) + "  slo: {latencyP99: 1}\n"));
  const WorkloadDocument unknown = loadWorkloadFile(typo);
  REQUIRE(unknown.errors.size() == 1);
  CHECK(unknown.errors[0].toString() == "spec.slo.latencyP99: unknown field");

  const WorkloadDocument device = loadWorkloadFile("/dev/zero");
  REQUIRE(device.errors.size() == 1);
  CHECK(device.errors[0].message == "/dev/zero: not a regular file");
}

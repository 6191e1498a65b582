// The closed loop of simulate through time (issue 13's acceptance): synthetic
// step loads, each row checked against the HPA's rules as DESIGN §3 states them.
#include "simulate/simulator.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/algorithm_registry.h"
#include "policy/policy_parser.h"
#include "simulate/simulation_output.h"

namespace kubeai::simulate {
namespace {

// One replica serves 1 request/s; the HPA syncs with every evaluation, drops
// nothing (tolerance 0) and limits nothing (no scale-up policies), and KEDA
// keeps at least one replica: what is asserted is the policy's behaviour.
Workload stepWorkload(std::int32_t initial, double startupSeconds) {
  Workload workload;
  workload.name = "steps";
  workload.interval = std::chrono::milliseconds(15'000);
  workload.hpa.syncPeriod = std::chrono::milliseconds(15'000);
  workload.hpa.tolerance = 0;
  workload.hpa.scaleUpPods = 0;
  workload.hpa.scaleUpPercent = 0;
  workload.keda.minReplicaCount = 1;
  workload.replicas.initial = initial;
  workload.replicas.startup = {startupSeconds, startupSeconds};
  workload.capacity.requestsPerSecond = 1;
  workload.slo.requestsWaiting = 5;
  return workload;
}

// `rates[k]` requests/s for `counts[k]` steps each.
DemandSeries demandOf(std::initializer_list<std::pair<double, int>> runs) {
  DemandSeries demand;
  demand.interval = std::chrono::milliseconds(15'000);
  for (const auto& [rate, count] : runs) {
    for (int i = 0; i < count; ++i) {
      demand.steps.push_back(DemandStep{rate, 0, 0});
    }
  }
  return demand;
}

// The pool's saturation (llm-d's EPP: 100 x demand / ready capacity) against
// 100: MaxRatio recommends ceil(demand / per-replica rate) from what is ready.
core::Policy saturationPolicy(const std::string& behaviour, std::int32_t maxReplicas = 20) {
  const std::string yaml = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: steps, namespace: default}
spec:
  targetRef: {kind: Deployment, name: model}
  minReplicas: 1
  maxReplicas: )" + std::to_string(maxReplicas) + R"(
  metrics:
    custom:
      - {name: saturation, engine: llm-d, signal: poolSaturation, target: {type: Value, value: 100}}
  algorithm: {name: MaxRatio, tolerance: 0}
)" + behaviour;
  policy::PolicyFile file = policy::parsePolicyYaml(yaml);
  REQUIRE(file.policies.size() == 1);
  for (const auto& error : file.policies[0].errors) {
    INFO(error.toString());
  }
  REQUIRE(file.policies[0].ok());
  return file.policies[0].policy;
}

// Predictive or Burst on the pool's saturation against 50: a replica at half
// its rate is on target, so the load before a burst is under 100 % (a
// percentage at 100 % is over Burst's threshold whatever the ratio).
core::Policy lookAheadPolicy(const std::string& algorithm, const std::string& parameters = "") {
  std::string yaml = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: ahead, namespace: default}
spec:
  targetRef: {kind: Deployment, name: model}
  minReplicas: 1
  maxReplicas: 40
  cooldownPeriod: 0
  scaleDown: {stabilizationWindowSeconds: 0}
  metrics:
    custom:
      - {name: saturation, engine: llm-d, signal: poolSaturation, target: {type: Value, value: 50}}
  algorithm:
    name: )" + algorithm + "\n    tolerance: 0\n";
  if (!parameters.empty()) {
    yaml += "    parameters: " + parameters + "\n";
  }
  policy::PolicyFile file = policy::parsePolicyYaml(yaml);
  REQUIRE(file.policies.size() == 1);
  for (const auto& error : file.policies[0].errors) {
    INFO(error.toString());
  }
  REQUIRE(file.policies[0].ok());
  return file.policies[0].policy;
}

// The CSV of one run: the header's names to each line's cells (no cell in
// these runs is quoted: split on commas).
std::vector<std::map<std::string, std::string>> csvRows(const PolicyRun& run) {
  std::ostringstream out;
  writeCsvHeader(out);
  for (const TimelineRow& row : run.timeline) {
    writeCsvRow(out, run, row);
  }
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::istringstream stream(line);
    for (std::string cell; std::getline(stream, cell, ',');) {
      cells.push_back(cell);
    }
    if (!line.empty() && line.back() == ',') {
      cells.emplace_back();  // getline drops a last empty cell
    }
    return cells;
  };
  std::istringstream lines(out.str());
  std::string line;
  std::getline(lines, line);
  const std::vector<std::string> names = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(lines, line)) {
    const std::vector<std::string> cells = split(line);
    REQUIRE(cells.size() == names.size());
    std::map<std::string, std::string>& row = rows.emplace_back();
    for (std::size_t i = 0; i < names.size(); ++i) {
      row[names[i]] = cells[i];
    }
  }
  return rows;
}

nlohmann::json timelineJson(const SimulationResult& result) {
  std::ostringstream text;
  writeJson(text, result);
  return nlohmann::json::parse(text.str())["policies"][0]["timeline"];
}

PolicyRun runOne(const Workload& workload, const DemandSeries& demand, const core::Policy& policy) {
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  const std::vector<core::Policy> policies{policy};
  auto result = runSimulation(workload, demand, policies, *registry);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
  REQUIRE(result.value().policies.size() == 1);
  return result.value().policies[0];
}

// Step index of time t (seconds).
std::size_t at(double t) { return static_cast<std::size_t>(t / 15); }

}  // namespace

TEST_CASE("simulate, no limits: the replicas follow a demand step within one interval") {
  const core::Policy policy = saturationPolicy("  cooldownPeriod: 0\n  scaleDown: {stabilizationWindowSeconds: 0}\n");
  const PolicyRun run = runOne(stepWorkload(2, 0), demandOf({{2, 10}, {8, 10}}), policy);
  REQUIRE(run.timeline.size() == 20);
  for (std::size_t i = 0; i < 10; ++i) {
    CHECK(run.timeline[i].desiredReplicas == 2);
    CHECK(run.timeline[i].readyReplicas == 2);
  }
  // The step arrives at t=150; the decision at its end (t=165) asks for 8 and
  // the HPA's sync at t=165 makes them; with no start-up they serve from t=165.
  CHECK(run.timeline[at(150)].desiredReplicas == 8);
  CHECK(run.timeline[at(150)].readyReplicas == 2);
  CHECK(run.timeline[at(165)].requestedReplicas == 8);
  CHECK(run.timeline[at(165)].readyReplicas == 8);
  CHECK(run.timeline[at(165)].replicas == 8);
  for (std::size_t i = at(165); i < 20; ++i) {
    CHECK(run.timeline[i].desiredReplicas == 8);
  }
  CHECK(run.summary.scaleUps == 1);
  CHECK(run.summary.scaleDowns == 0);
  // 10 steps at 2 replicas, 10 at 8 (the one that asked for them still ran 2).
  CHECK(run.summary.replicaSeconds == doctest::Approx(11 * 2 * 15 + 9 * 8 * 15));
}

TEST_CASE("simulate, start-up: new replicas cost from the scale-up and serve after the start-up time") {
  const core::Policy policy =
      saturationPolicy("  cooldownPeriod: 0\n  scaleDown: {stabilizationWindowSeconds: 0}\n", 8);
  const PolicyRun run = runOne(stepWorkload(2, 120), demandOf({{2, 10}, {8, 20}}), policy);
  // Scaled to 8 at t=165: they exist from then, ready at 165 + 120 = 285.
  for (double t = 165; t < 285; t += 15) {
    INFO("t=" << t);
    CHECK(run.timeline[at(t)].replicas == 8);
    CHECK(run.timeline[at(t)].readyReplicas == 2);
  }
  CHECK(run.timeline[at(285)].readyReplicas == 8);
  // While only 2 serve 8 requests/s a backlog builds and the SLO breaks.
  CHECK(run.timeline[at(270)].backlog > 0);
  CHECK(run.summary.sloViolationSeconds.requestsWaiting > 0);
  // Short of capacity once: from the step at t=150 (2 ready for 8 requests/s)
  // to the first step with 8 ready (t=285).
  CHECK(run.summary.timeToCapacity.count == 1);
  CHECK(run.summary.timeToCapacity.maxSeconds == 135);
  CHECK(run.summary.timeToCapacity.meanSeconds == 135);
}

TEST_CASE("simulate, a scale-up Pods policy limits the climb to its value per period") {
  const core::Policy policy = saturationPolicy(
      "  cooldownPeriod: 0\n  scaleUp:\n    policies: [{type: Pods, value: 2, periodSeconds: 60}]\n"
      "  scaleDown: {stabilizationWindowSeconds: 0}\n");
  const PolicyRun run = runOne(stepWorkload(1, 0), demandOf({{1, 10}, {10, 30}}), policy);
  // The step at t=150 needs 10. From 1: +2 per 60 s, the period starting at
  // the replicas of 60 s before (an event counts while its time + 60 s is
  // after now, as in the HPA): 3 at 165, 5 at 225, 7 at 285, 9 at 345, 10 at 405.
  const std::vector<std::pair<double, std::int32_t>> expected{
      {150, 1}, {165, 3}, {210, 3}, {225, 5}, {270, 5}, {285, 7}, {330, 7}, {345, 9}, {390, 9}, {405, 10}, {420, 10}};
  for (const auto& [t, replicas] : expected) {
    INFO("t=" << t);
    CHECK(run.timeline[at(t)].requestedReplicas == replicas);
  }
  CHECK(run.timeline[at(150)].limitedBy == "scaleUpPolicy");
  CHECK(run.summary.scaleUps == 5);
}

TEST_CASE("simulate, a scale-down stabilization window delays the fall by exactly the window") {
  const core::Policy policy =
      saturationPolicy("  cooldownPeriod: 0\n  scaleDown: {stabilizationWindowSeconds: 120}\n");
  const PolicyRun run = runOne(stepWorkload(10, 0), demandOf({{10, 20}, {2, 20}}), policy);
  // The demand falls at t=300; the last recommendation of 10 was made at its
  // start (t=300, the end of the step before). The window holds 10 while that
  // recommendation is within it: until t=420 (300 + 120), when 2 is published
  // (without the window: at t=315).
  // Row t is decided at t + 15: the decisions at 315 ... 405 hold 10.
  for (double t = 300; t < 405; t += 15) {
    INFO("t=" << t);
    CHECK(run.timeline[at(t)].desiredReplicas == 10);
  }
  CHECK(run.timeline[at(300)].limitedBy == "stabilization");
  CHECK(run.timeline[at(405)].desiredReplicas == 2);
  CHECK(run.timeline[at(420)].requestedReplicas == 2);
  CHECK(run.summary.scaleDowns == 1);
}

TEST_CASE("simulate, cooldown holds the replicas for cooldownPeriod after the last change") {
  const core::Policy policy =
      saturationPolicy("  cooldownPeriod: 60\n  scaleDown: {stabilizationWindowSeconds: 0}\n");
  const PolicyRun run = runOne(stepWorkload(2, 0), demandOf({{2, 10}, {8, 2}, {4, 20}}), policy);
  // Up to 8 at t=165 (the first change: no cooldown before it). The demand
  // falls to 4 at t=180; the cooldown holds 8 while now - 165 < 60: through
  // the decisions at t=195 and t=210; at t=225 it has passed and 4 is published.
  CHECK(run.timeline[at(150)].desiredReplicas == 8);
  CHECK(run.timeline[at(180)].desiredReplicas == 8);
  CHECK(run.timeline[at(180)].limitedBy == "cooldown");
  CHECK(run.timeline[at(195)].desiredReplicas == 8);
  CHECK(run.timeline[at(210)].desiredReplicas == 4);
  CHECK(run.timeline[at(225)].requestedReplicas == 4);
}

TEST_CASE("simulate, the HPA drops a change within its tolerance, bounds included") {
  const core::Policy policy = saturationPolicy("  cooldownPeriod: 0\n  scaleDown: {stabilizationWindowSeconds: 0}\n", 40);
  Workload workload = stepWorkload(10, 0);
  workload.hpa.tolerance = 0.1;
  // 11 requests/s asks for 11: 11/10 is within 1 +- 0.1 (Kubernetes >= 1.33
  // compares with the bounds, so exactly 10 % holds), so the HPA keeps 10;
  // 12 is outside.
  const PolicyRun run = runOne(workload, demandOf({{10, 4}, {11, 4}, {12, 4}}), policy);
  CHECK(run.timeline[at(60)].desiredReplicas == 11);
  CHECK(run.timeline[at(75)].requestedReplicas == 10);
  CHECK(run.timeline[at(105)].requestedReplicas == 10);
  CHECK(run.timeline[at(120)].desiredReplicas == 12);
  CHECK(run.timeline[at(135)].requestedReplicas == 12);
}

TEST_CASE("simulate, the HPA's default scale-up policies: at most max(+4, +100 %) per 15 s") {
  const core::Policy policy = saturationPolicy("  cooldownPeriod: 0\n  scaleDown: {stabilizationWindowSeconds: 0}\n", 40);
  Workload workload = stepWorkload(2, 0);
  workload.hpa.scaleUpPods = 4;
  workload.hpa.scaleUpPercent = 100;
  // The policy asks for 20 at t=165; the HPA takes 2 -> 6 (2 + 4 beats 2 x 2),
  // then 6 -> 12 (x 2 beats + 4) at the next sync, its last event 15 s old
  // and out of the period, then 20.
  const PolicyRun run = runOne(workload, demandOf({{2, 10}, {20, 10}}), policy);
  CHECK(run.timeline[at(150)].desiredReplicas == 20);
  CHECK(run.timeline[at(165)].requestedReplicas == 6);
  CHECK(run.timeline[at(180)].requestedReplicas == 12);
  CHECK(run.timeline[at(195)].requestedReplicas == 20);
}

// Scale from and to zero through KEDA: the pool's waiting requests (llm-d's
// EPP, present with no replica) against 2 a replica.
core::Policy zeroPolicy() {
  policy::PolicyFile file = policy::parsePolicyYaml(R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: zero, namespace: default}
spec:
  targetRef: {kind: Deployment, name: model}
  minReplicas: 0
  maxReplicas: 10
  cooldownPeriod: 0
  metrics:
    custom:
      - {name: queue, engine: llm-d, signal: requestsWaiting, target: {type: AverageValue, value: 2}}
  algorithm: {name: MaxRatio, tolerance: 0}
)");
  REQUIRE(file.policies.at(0).ok());
  return file.policies[0].policy;
}

TEST_CASE("simulate, KEDA activates a workload at zero to one replica, then the HPA takes over") {
  Workload workload = stepWorkload(0, 0);
  workload.keda.minReplicaCount = 0;
  workload.hpa.scaleUpPods = 4;
  workload.hpa.scaleUpPercent = 100;
  const PolicyRun run = runOne(workload, demandOf({{0, 4}, {4, 12}}), zeroPolicy());
  CHECK(run.timeline[at(45)].requestedReplicas == 0);
  // Requests wait at the gateway from t=60; the decision at 75 wants more
  // than 0; KEDA's activation at that sync makes 1, the HPA then climbs.
  CHECK(run.timeline[at(60)].desiredReplicas > 0);
  CHECK(run.timeline[at(75)].requestedReplicas == 1);
  CHECK(run.timeline[at(90)].requestedReplicas > 1);
}

TEST_CASE("simulate, KEDA scales to zero only after its cooldownPeriod of an inactive trigger") {
  Workload workload = stepWorkload(2, 0);
  workload.keda.minReplicaCount = 0;
  workload.keda.cooldownPeriod = std::chrono::milliseconds(120'000);
  const PolicyRun run = runOne(workload, demandOf({{2, 8}, {0, 20}}), zeroPolicy());
  // The demand stops at t=120. Published 0 from the first decision that sees
  // no waiting request; the HPA's floor keeps 1 until 120 s after the last
  // active decision (the sync that read it), then KEDA takes it to 0.
  std::optional<double> lastActive;
  std::optional<double> zeroAt;
  for (const TimelineRow& row : run.timeline) {
    if (row.desiredReplicas > 0) {
      lastActive = row.time + 15;  // published at the step's end
    }
    if (!zeroAt && row.requestedReplicas == 0) {
      zeroAt = row.time;
    }
  }
  REQUIRE(lastActive);
  REQUIRE(zeroAt);
  CHECK(*zeroAt == *lastActive + 120);
  // Before that, at least one replica all along.
  for (const TimelineRow& row : run.timeline) {
    if (row.time < *zeroAt) {
      CHECK(row.requestedReplicas >= 1);
    }
  }
}

TEST_CASE("simulate is deterministic: the same inputs write the same bytes") {
  const core::Policy policy = saturationPolicy("");
  Workload workload = stepWorkload(2, 0);
  workload.replicas.startup = {30, 150};  // drawn from the seed
  const DemandSeries demand = demandOf({{2, 20}, {9, 20}, {1, 20}});
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  const std::vector<core::Policy> policies{policy};
  std::ostringstream first;
  std::ostringstream second;
  writeJson(first, runSimulation(workload, demand, policies, *registry).value());
  writeJson(second, runSimulation(workload, demand, policies, *registry).value());
  CHECK(first.str() == second.str());
  workload.seed = 2;
  std::ostringstream other;
  writeJson(other, runSimulation(workload, demand, policies, *registry).value());
  CHECK(other.str() != first.str());
}

TEST_CASE("simulate's summary equals what its JSON timeline adds up to") {
  const core::Policy policy = saturationPolicy(
      "  cooldownPeriod: 30\n  scaleUp:\n    policies: [{type: Pods, value: 3, periodSeconds: 45}]\n"
      "  scaleDown: {stabilizationWindowSeconds: 60}\n");
  Workload workload = stepWorkload(2, 60);
  workload.gpusPerReplica = 2;
  workload.costPerGpuHour = 2.5;
  workload.slo.latencyP99Ms = 4000;
  const DemandSeries demand = demandOf({{2, 10}, {9, 10}, {3, 5}, {7, 5}, {1, 20}, {6, 10}});
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  const std::vector<core::Policy> policies{policy};
  std::ostringstream text;
  writeJson(text, runSimulation(workload, demand, policies, *registry).value());
  const nlohmann::json json = nlohmann::json::parse(text.str());
  const nlohmann::json& run = json["policies"][0];
  const nlohmann::json& timeline = run["timeline"];
  const double interval = json["interval"].get<double>();
  REQUIRE(timeline.size() == demand.steps.size());

  double replicaSeconds = 0;
  double latency = 0;
  double waiting = 0;
  double peakBacklog = 0;
  int ups = 0;
  int downs = 0;
  int minReplicas = 1 << 30;
  int maxReplicas = 0;
  double any = 0;
  int reversals = 0;
  int lastDirection = 0;
  double lastChangeAt = 0;
  int shortTimes = 0;
  double shortSince = -1;
  double shortTotal = 0;
  double shortMax = 0;
  for (std::size_t i = 0; i < timeline.size(); ++i) {
    const nlohmann::json& row = timeline[i];
    replicaSeconds += row["replicas"].get<double>() * interval;
    const bool noLatency = row["latencyP99Ms"].is_null();
    latency += (noLatency ? row["readyReplicas"].get<int>() == 0 && row["demand"].get<double>() > 0
                          : row["latencyP99Ms"].get<double>() > 4000)
                   ? interval
                   : 0;
    waiting += row["requestsWaiting"].get<double>() > 5 ? interval : 0;
    peakBacklog = std::max(peakBacklog, row["backlog"].get<double>());
    minReplicas = std::min(minReplicas, row["replicas"].get<int>());
    maxReplicas = std::max(maxReplicas, row["replicas"].get<int>());
    const bool latencyBroken =
        noLatency ? row["readyReplicas"].get<int>() == 0 && row["demand"].get<double>() > 0
                  : row["latencyP99Ms"].get<double>() > 4000;
    any += latencyBroken || row["requestsWaiting"].get<double>() > 5 ? interval : 0;
    if (i > 0) {
      // One sync per step (syncPeriod = interval): a change shows in the row
      // that starts at its sync.
      const int before = timeline[i - 1]["requestedReplicas"].get<int>();
      const int now = row["requestedReplicas"].get<int>();
      ups += now > before ? 1 : 0;
      downs += now < before ? 1 : 0;
      if (now != before) {
        const int direction = now > before ? 1 : -1;
        const double at = row["time"].get<double>();
        reversals += lastDirection != 0 && direction != lastDirection && at - lastChangeAt <= 300 ? 1 : 0;
        lastDirection = direction;
        lastChangeAt = at;
      }
    }
    // A replica serves 1 request/s (no token counts): short while ready < demand.
    const bool enough = row["readyReplicas"].get<double>() >= row["demand"].get<double>();
    if (!enough && shortSince < 0) {
      shortSince = row["time"].get<double>();
    } else if (enough && shortSince >= 0) {
      const double waited = row["time"].get<double>() - shortSince;
      ++shortTimes;
      shortTotal += waited;
      shortMax = std::max(shortMax, waited);
      shortSince = -1;
    }
  }
  if (shortSince >= 0) {
    const double waited = static_cast<double>(timeline.size()) * interval - shortSince;
    ++shortTimes;
    shortTotal += waited;
    shortMax = std::max(shortMax, waited);
  }
  const nlohmann::json& summary = run["summary"];
  CHECK(summary["replicaSeconds"].get<double>() == doctest::Approx(replicaSeconds));
  CHECK(summary["gpuHours"].get<double>() == doctest::Approx(replicaSeconds * 2 / 3600));
  CHECK(summary["cost"].get<double>() == doctest::Approx(replicaSeconds * 2 / 3600 * 2.5));
  CHECK(summary["sloViolationSeconds"]["latencyP99Ms"].get<double>() == doctest::Approx(latency));
  CHECK(summary["sloViolationSeconds"]["requestsWaiting"].get<double>() == doctest::Approx(waiting));
  CHECK(summary["peakBacklog"].get<double>() == doctest::Approx(peakBacklog));
  CHECK(summary["scaleUps"].get<int>() == ups);
  CHECK(summary["scaleDowns"].get<int>() == downs);
  CHECK(summary["minReplicas"].get<int>() == minReplicas);
  CHECK(summary["maxReplicas"].get<int>() == maxReplicas);
  CHECK(summary["sloViolationSeconds"]["any"].get<double>() == doctest::Approx(any));
  CHECK(summary["reversals"].get<int>() == reversals);
  CHECK(summary["timeToCapacity"]["count"].get<int>() == shortTimes);
  CHECK(summary["timeToCapacity"]["maxSeconds"].get<double>() == doctest::Approx(shortMax));
  REQUIRE(shortTimes > 0);
  CHECK(summary["timeToCapacity"]["meanSeconds"].get<double>() == doctest::Approx(shortTotal / shortTimes));
  // Something happened to add up.
  CHECK(ups >= 2);
  CHECK(downs >= 1);
  CHECK(waiting > 0);
}

TEST_CASE("simulate refuses a metric the model cannot produce, naming the policy and the metric") {
  policy::PolicyFile file = policy::parsePolicyYaml(R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: custom, namespace: team}
spec:
  targetRef: {kind: Deployment, name: model}
  maxReplicas: 5
  metrics:
    custom:
      - {name: tokensPerPod, prometheusQuery: 'sum(rate(x[1m]))', target: {type: Value, value: 10}}
)");
  REQUIRE(file.policies.at(0).ok());
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  const std::vector<core::Policy> policies{file.policies[0].policy};
  auto result = runSimulation(stepWorkload(1, 0), demandOf({{1, 4}}), policies, *registry);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message.find("policy team/custom") != std::string::npos);
  CHECK(result.error().message.find("metric tokensPerPod") != std::string::npos);
  CHECK(result.error().message.find("spec.metrics.custom[0]") != std::string::npos);
}

TEST_CASE("simulate's timeline says what Predictive saw: its forecast and horizon, in JSON and CSV") {
  const core::Policy policy = lookAheadPolicy("Predictive", "{horizonSeconds: \"60\"}");
  // Flat at 1 request/s, then a ramp of +0.5 requests/s per step.
  DemandSeries demand = demandOf({{1, 8}});
  for (int k = 1; k <= 12; ++k) {
    demand.steps.push_back(DemandStep{1 + 0.5 * k, 0, 0});
  }
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  const std::vector<core::Policy> policies{policy};
  auto result = runSimulation(stepWorkload(2, 0), demand, policies, *registry);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
  const PolicyRun& run = result.value().policies.at(0);
  REQUIRE(run.timeline.size() == demand.steps.size());
  const nlohmann::json timeline = timelineJson(result.value());
  const auto csv = csvRows(run);
  REQUIRE(csv.size() == run.timeline.size());
  bool decidedOnce = false;
  for (std::size_t i = 0; i < run.timeline.size(); ++i) {
    INFO("row " << i);
    const TimelineRow& row = run.timeline[i];
    REQUIRE(row.forecastReplicas);
    CHECK(timeline[i]["horizonSeconds"] == 60);
    CHECK(timeline[i]["horizonSource"] == "parameter");
    CHECK(timeline[i]["forecastReplicas"].get<double>() == *row.forecastReplicas);
    CHECK(timeline[i]["forecastDecided"].is_boolean());
    CHECK(timeline[i]["panicking"].is_null());  // not Burst
    CHECK(timeline[i]["panicSince"].is_null());
    CHECK(csv[i].at("horizonSeconds") == "60");
    CHECK(csv[i].at("horizonSource") == "parameter");
    CHECK(std::stod(csv[i].at("forecastReplicas")) == *row.forecastReplicas);
    CHECK(csv[i].at("forecastDecided") == (*row.forecastDecided ? "true" : "false"));
    // MaxRatio's answer beside it; the forecast raised what is published
    // where its answer was above that one (maxReplicas 40 is not reached).
    REQUIRE(row.reactiveReplicas);
    CHECK(timeline[i]["reactiveReplicas"] == *row.reactiveReplicas);
    CHECK(csv[i].at("reactiveReplicas") == std::to_string(*row.reactiveReplicas));
    CHECK(timeline[i]["forecastRaised"] == *row.forecastDecided);
    CHECK(csv[i].at("forecastRaised") == csv[i].at("forecastDecided"));
    CHECK(csv[i].at("panicking").empty());
    CHECK(csv[i].at("panicSince").empty());
    decidedOnce = decidedOnce || *row.forecastDecided;
  }
  // Flat: the forecast is the demand now, 1 request/s at 50 % is 2 replicas'
  // worth; a ramp is forecast above it, and the forecast wins a decision.
  CHECK(*run.timeline[at(90)].forecastReplicas == doctest::Approx(2));
  CHECK_FALSE(*run.timeline[at(90)].forecastDecided);
  CHECK(*run.timeline.back().forecastReplicas > 2 * demand.steps.back().requestsPerSecond);
  CHECK(decidedOnce);
}

TEST_CASE("simulate's timeline: a MaxRatio policy's rows carry no forecast and no panic") {
  const core::Policy policy = lookAheadPolicy("MaxRatio");
  const PolicyRun run = runOne(stepWorkload(2, 0), demandOf({{1, 4}, {4, 4}}), policy);
  const auto csv = csvRows(run);
  REQUIRE(csv.size() == 8);
  for (std::size_t i = 0; i < run.timeline.size(); ++i) {
    INFO("row " << i);
    CHECK_FALSE(run.timeline[i].forecastReplicas);
    CHECK_FALSE(run.timeline[i].panicking);
    for (const char* column :
         {"forecastReplicas", "horizonSeconds", "horizonSource", "forecastDecided", "panicking", "panicSince",
          "reactiveReplicas", "forecastRaised"}) {
      CHECK(csv[i].at(column).empty());
    }
  }
}

TEST_CASE("simulate's timeline: Predictive's horizon is the default until the start-up time is measured") {
  const core::Policy policy = lookAheadPolicy("Predictive");
  // A step at t=150 that the 2 replicas cannot serve; new ones take 120 s.
  const PolicyRun run = runOne(stepWorkload(2, 120), demandOf({{1, 10}, {4, 30}}), policy);
  REQUIRE(run.timeline.size() == 40);
  // Nothing measured yet: the default, until the replicas asked for at the
  // sync at t=165 are seen ready (the row from t=285): 120 s, measured.
  for (std::size_t i = 0; i < at(285); ++i) {
    INFO("row " << i);
    CHECK(run.timeline[i].horizonSource == "default");
  }
  for (std::size_t i = at(285); i < run.timeline.size(); ++i) {
    INFO("row " << i);
    CHECK(run.timeline[i].horizonSource == "measured");
    REQUIRE(run.timeline[i].horizonSeconds);
    CHECK(*run.timeline[i].horizonSeconds == 120);
  }
}

TEST_CASE("simulate's timeline says when Burst panicked: off before a burst, on with its start during it") {
  const core::Policy policy = lookAheadPolicy("Burst");
  // 1 request/s on 2 replicas (50 %: on target), then 4 requests/s from t=150.
  const DemandSeries demand = demandOf({{1, 10}, {4, 20}});
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  const std::vector<core::Policy> policies{policy};
  auto result = runSimulation(stepWorkload(2, 0), demand, policies, *registry);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
  const PolicyRun& run = result.value().policies.at(0);
  const nlohmann::json timeline = timelineJson(result.value());
  const auto csv = csvRows(run);
  REQUIRE(run.timeline.size() == 30);
  for (std::size_t i = 0; i < at(150); ++i) {
    INFO("row " << i);
    CHECK(run.timeline[i].panicking == false);
    CHECK_FALSE(run.timeline[i].panicSince);
    CHECK(timeline[i]["panicking"] == false);
    CHECK(timeline[i]["panicSince"].is_null());
    CHECK(timeline[i]["forecastReplicas"].is_null());  // not Predictive
    CHECK(csv[i].at("panicking") == "false");
    CHECK(csv[i].at("panicSince").empty());
  }
  // The burst's first decision (at the end of the step from t=150, t=165)
  // sees 400 % on 2 replicas: it panics from then, and says so on every row
  // while the panic lasts.
  CHECK(run.timeline[at(150)].panicking == true);
  CHECK(timeline[at(150)]["panicking"] == true);
  CHECK(timeline[at(150)]["panicSince"] == 165);
  CHECK(csv[at(150)].at("panicking") == "true");
  CHECK(csv[at(150)].at("panicSince") == "165");
  // Scaled to what 4 requests/s need at 50 % (8), it is under the threshold
  // from t=180's decision on; the panic lasts a stable window (60 s) past
  // the last time over it (t=165): the decisions up to t=210 still panic,
  // t=225's (the row from t=210) ends it.
  for (std::size_t i = at(150); i < at(210); ++i) {
    INFO("row " << i);
    CHECK(timeline[i]["panicking"] == true);
    CHECK(timeline[i]["panicSince"] == 165);
  }
  for (std::size_t i = at(210); i < run.timeline.size(); ++i) {
    INFO("row " << i);
    CHECK(run.timeline[i].panicking == false);
    CHECK_FALSE(run.timeline[i].panicSince);
    CHECK(csv[i].at("panicking") == "false");
    CHECK(csv[i].at("panicSince").empty());
  }
  // The summary: one panic, its four decisions' intervals (t=165 to 210's),
  // and the same without timelines (--summary-only).
  CHECK(run.summary.panics == 1);
  CHECK(run.summary.panicSeconds == 60);
  CHECK_FALSE(run.summary.forecastRaised);
  SimulateOptions summaryOnly;
  summaryOnly.keepTimeline = false;
  const auto quiet = runSimulation(stepWorkload(2, 0), demand, policies, *registry, summaryOnly);
  REQUIRE(quiet.ok());
  CHECK(quiet.value().policies.at(0).timeline.empty());
  CHECK(quiet.value().policies.at(0).summary.panics == 1);
  CHECK(quiet.value().policies.at(0).summary.panicSeconds == 60);
}

TEST_CASE("simulate's summary counts the decisions Predictive's forecast raised, and none for MaxRatio") {
  // Flat, then a ramp the forecast runs ahead of.
  DemandSeries demand = demandOf({{1, 8}});
  for (int k = 1; k <= 12; ++k) {
    demand.steps.push_back(DemandStep{1 + 0.5 * k, 0, 0});
  }
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  std::vector<core::Policy> policies{lookAheadPolicy("Predictive", "{horizonSeconds: \"60\"}"),
                                     lookAheadPolicy("MaxRatio")};
  policies[1].metadata.name = "reactive";
  // The same Predictive capped at 4 replicas: a forecast over MaxRatio's
  // answer once both are at 4 raised nothing that is published.
  policies.push_back(policies[0]);
  policies[2].metadata.name = "capped";
  policies[2].spec.maxReplicas = 4;
  SimulateOptions summaryOnly;
  summaryOnly.keepTimeline = false;
  for (const bool keep : {true, false}) {
    CAPTURE(keep);
    auto result = runSimulation(stepWorkload(2, 0), demand, policies, *registry,
                                keep ? SimulateOptions{} : summaryOnly);
    REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
    const PolicySummary& predictive = result.value().policies.at(0).summary;
    REQUIRE(predictive.forecastRaised);
    if (keep) {
      const auto& timeline = result.value().policies.at(0).timeline;
      const auto raised = std::count_if(timeline.begin(), timeline.end(), [](const TimelineRow& row) {
        return row.forecastRaised.value_or(false);
      });
      CHECK(raised > 0);
      CHECK(*predictive.forecastRaised == raised);
    } else {
      CHECK(*predictive.forecastRaised > 0);
    }
    CHECK_FALSE(predictive.panics);
    CHECK_FALSE(predictive.panicSeconds);
    const PolicySummary& maxRatio = result.value().policies.at(1).summary;
    CHECK_FALSE(maxRatio.forecastRaised);
    CHECK_FALSE(maxRatio.panics);
    const PolicySummary& capped = result.value().policies.at(2).summary;
    REQUIRE(capped.forecastRaised);
    if (keep) {
      const auto& timeline = result.value().policies.at(2).timeline;
      const auto count = [&](auto field) {
        return std::count_if(timeline.begin(), timeline.end(),
                             [&](const TimelineRow& row) { return (row.*field).value_or(false); });
      };
      const auto decided = count(&TimelineRow::forecastDecided);
      const auto raised = count(&TimelineRow::forecastRaised);
      CHECK(*capped.forecastRaised == raised);
      // Without the bounds every decided row was counted.
      CHECK(decided > raised);
      for (const TimelineRow& row : timeline) {
        if (row.forecastDecided.value_or(false) && !row.forecastRaised.value_or(false)) {
          CHECK(row.desiredReplicas == 4);
        }
      }
    }
  }
}

}  // namespace kubeai::simulate

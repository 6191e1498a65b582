// simulate's writers: the JSON of issue 13 (the shape is the interface), the
// CSV timeline and the side-by-side table.
#include "simulate/simulation_output.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace kubeai::simulate {
namespace {

SimulationResult twoPolicies() {
  SimulationResult result;
  result.workload = "code-assistant";
  result.interval = 15;
  result.duration = 30;
  result.costPerGpuHour = 2.5;
  result.sloLatencyP99Ms = 8000;
  PolicyRun first;
  first.policy = "default/llm-max-ratio";
  first.algorithm = "MaxRatio";
  first.summary.replicaSeconds = 90;
  first.summary.gpuHours = 0.025;
  first.summary.cost = 0.0625;
  first.summary.sloViolationSeconds.latencyP99Ms = 15;
  first.summary.sloViolationSeconds.any = 15;
  first.summary.scaleUps = 1;
  first.summary.minReplicas = 2;
  first.summary.maxReplicas = 4;
  first.summary.timeToCapacity = {1, 15, 15};
  TimelineRow row;
  row.time = 0;
  row.demand = 2.5;
  row.replicas = 2;
  row.readyReplicas = 2;
  row.requestedReplicas = 2;
  row.desiredReplicas = 4;
  row.metrics = {{"gpuUtilization", 91.5}, {"kvCache", std::nullopt}};
  row.reason = "scale up: \"gpuUtilization\" at 1.31x, over target";
  row.latencyP99Ms = 9100;
  row.violatesLatencyP99 = true;
  first.timeline.push_back(row);
  row.time = 15;
  row.replicas = 4;
  row.limitedBy = "scaleUpPolicy";
  row.latencyP99Ms.reset();
  row.reason = "a,b";
  first.timeline.push_back(row);
  PolicyRun second = first;
  second.policy = "team/other";
  second.algorithm = "CappedSmoothRatio";
  result.policies = {first, second};
  return result;
}

bool timelineHasNullGpu(const nlohmann::json& timeline) {
  for (const auto& row : timeline) {
    if (!row["gpuUtilization"].is_null()) {
      return false;
    }
  }
  return !timeline.empty();
}

}  // namespace

TEST_CASE("simulate's JSON has the issue's shape, with null for no data and no limit") {
  std::ostringstream out;
  writeJson(out, twoPolicies());
  const nlohmann::json json = nlohmann::json::parse(out.str());
  CHECK(json["workload"] == "code-assistant");
  CHECK(json["interval"] == 15);
  REQUIRE(json["policies"].size() == 2);
  const nlohmann::json& run = json["policies"][0];
  CHECK(run["policy"] == "default/llm-max-ratio");
  CHECK(run["algorithm"] == "MaxRatio");
  const nlohmann::json& summary = run["summary"];
  for (const char* key : {"replicaSeconds", "gpuHours", "cost", "sloViolationSeconds", "peakBacklog", "scaleUps",
                          "scaleDowns", "reversals", "minReplicas", "maxReplicas"}) {
    INFO(key);
    CHECK(summary.contains(key));
  }
  CHECK(summary["replicaSeconds"] == 90);
  CHECK(summary["cost"] == 0.0625);
  CHECK(summary["sloViolationSeconds"]["latencyP99Ms"] == 15);
  // SLOs the workload does not set are not judged: null, not 0.
  CHECK(summary["sloViolationSeconds"]["timeToFirstTokenP95Ms"].is_null());
  CHECK(summary["sloViolationSeconds"]["requestsWaiting"].is_null());
  CHECK(summary["sloViolationSeconds"]["any"] == 15);
  CHECK(summary["timeToCapacity"]["count"] == 1);
  CHECK(summary["timeToCapacity"]["maxSeconds"] == 15);
  CHECK(timelineHasNullGpu(run["timeline"]));
  const nlohmann::json& timeline = run["timeline"];
  REQUIRE(timeline.size() == 2);
  for (const char* key : {"time", "demand", "replicas", "readyReplicas", "desiredReplicas", "metrics", "limitedBy",
                          "reason"}) {
    INFO(key);
    CHECK(timeline[0].contains(key));
  }
  CHECK(timeline[0]["limitedBy"].is_null());
  CHECK(timeline[1]["limitedBy"] == "scaleUpPolicy");
  CHECK(timeline[0]["metrics"]["gpuUtilization"] == 91.5);
  CHECK(timeline[0]["metrics"]["kvCache"].is_null());
  CHECK(timeline[0]["reason"] == "scale up: \"gpuUtilization\" at 1.31x, over target");
  CHECK(timeline[1]["latencyP99Ms"].is_null());
  CHECK(json["policies"][1]["algorithm"] == "CappedSmoothRatio");
}

TEST_CASE("simulate's JSON without a price or timelines") {
  SimulationResult result = twoPolicies();
  result.costPerGpuHour.reset();
  for (PolicyRun& run : result.policies) {
    run.summary.cost.reset();
    run.timeline.clear();
  }
  std::ostringstream out;
  writeJson(out, result);
  const nlohmann::json json = nlohmann::json::parse(out.str());
  CHECK(json["costPerGpuHour"].is_null());
  CHECK(json["policies"][0]["summary"]["cost"].is_null());
  CHECK(json["policies"][0]["timeline"].empty());
  std::ostringstream none;
  writeJson(none, SimulationResult{});
  CHECK(nlohmann::json::parse(none.str())["policies"].empty());
}

TEST_CASE("simulate's CSV: one header, one line per row, fields quoted where needed") {
  const SimulationResult result = twoPolicies();
  std::ostringstream out;
  writeCsvHeader(out);
  for (const TimelineRow& row : result.policies[0].timeline) {
    writeCsvRow(out, result.policies[0], row);
  }
  std::istringstream lines(out.str());
  std::string header;
  std::string first;
  std::string second;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  // Columns added later come last, so a reader by position keeps its own.
  CHECK(header == "policy,time,demand,replicas,readyReplicas,requestedReplicas,desiredReplicas,latencyP99Ms,"
                  "timeToFirstTokenP95Ms,requestsWaiting,backlog,gpuUtilization,limitedBy,reason,metrics,"
                  "forecastReplicas,horizonSeconds,horizonSource,forecastDecided,panicking,panicSince,"
                  "reactiveReplicas,forecastRaised");
  // No GPU utilization (no ready replica): an empty field, as every "no data";
  // MaxRatio's rows have no forecast and no panic: empty too.
  CHECK(first == "default/llm-max-ratio,0,2.5,2,2,2,4,9100,,0,0,,,\"scale up: \"\"gpuUtilization\"\" at 1.31x, "
                 "over target\",gpuUtilization=91.5;kvCache=,,,,,,,,");
  CHECK(second ==
        "default/llm-max-ratio,15,2.5,4,2,2,4,,,0,0,,scaleUpPolicy,\"a,b\",gpuUtilization=91.5;kvCache=,,,,,,,,");
  std::string rest;
  CHECK_FALSE(std::getline(lines, rest));
}

TEST_CASE("simulate's JSON and CSV rows say what Predictive and Burst saw, null or empty when absent") {
  TimelineRow predictive;
  predictive.time = 30;
  predictive.forecastReplicas = 6.5;
  predictive.horizonSeconds = 120;
  predictive.horizonSource = "measured";
  predictive.reactiveReplicas = 4;
  predictive.forecastDecided = true;
  predictive.forecastRaised = true;
  TimelineRow panicking;
  panicking.time = 45;
  panicking.panicking = true;
  panicking.panicSince = 30;
  TimelineRow calm;
  calm.time = 60;
  calm.panicking = false;
  SimulationResult result;
  PolicyRun run;
  run.policy = "default/ahead";
  run.timeline = {predictive, panicking, calm};
  result.policies = {run};

  std::ostringstream json;
  writeJson(json, result);
  const nlohmann::json timeline = nlohmann::json::parse(json.str())["policies"][0]["timeline"];
  REQUIRE(timeline.size() == 3);
  CHECK(timeline[0]["forecastReplicas"] == 6.5);
  CHECK(timeline[0]["horizonSeconds"] == 120);
  CHECK(timeline[0]["horizonSource"] == "measured");
  CHECK(timeline[0]["reactiveReplicas"] == 4);
  CHECK(timeline[0]["forecastDecided"] == true);
  CHECK(timeline[0]["forecastRaised"] == true);
  CHECK(timeline[0]["panicking"].is_null());
  CHECK(timeline[0]["panicSince"].is_null());
  CHECK(timeline[1]["forecastReplicas"].is_null());
  CHECK(timeline[1]["horizonSeconds"].is_null());
  CHECK(timeline[1]["horizonSource"].is_null());
  CHECK(timeline[1]["forecastDecided"].is_null());
  CHECK(timeline[1]["reactiveReplicas"].is_null());
  CHECK(timeline[1]["forecastRaised"].is_null());
  CHECK(timeline[1]["panicking"] == true);
  CHECK(timeline[1]["panicSince"] == 30);
  CHECK(timeline[2]["panicking"] == false);
  CHECK(timeline[2]["panicSince"].is_null());

  std::ostringstream csv;
  for (const TimelineRow& row : result.policies[0].timeline) {
    writeCsvRow(csv, result.policies[0], row);
  }
  CHECK(csv.str() ==
        "default/ahead,30,0,0,0,0,0,,,0,0,,,,,6.5,120,measured,true,,,4,true\n"
        "default/ahead,45,0,0,0,0,0,,,0,0,,,,,,,,,true,30,,\n"
        "default/ahead,60,0,0,0,0,0,,,0,0,,,,,,,,,false,,,\n");
}

TEST_CASE("simulate's table puts the policies side by side") {
  std::ostringstream out;
  writeSummaryText(out, twoPolicies());
  const std::string text = out.str();
  CHECK(text.find("workload code-assistant: 30 s at 15 s steps, 2 policies") != std::string::npos);
  CHECK(text.find("default/llm-max-ratio") != std::string::npos);
  CHECK(text.find("team/other") != std::string::npos);
  CHECK(text.find("cost") != std::string::npos);
  CHECK(text.find("0.06") != std::string::npos);
  CHECK(text.find("latencyP99Ms (s)") != std::string::npos);
  // No SLO on TTFT, so no row for it.
  CHECK(text.find("timeToFirstTokenP95Ms") == std::string::npos);
  // Both columns on the policy line.
  const std::size_t line = text.find("policy ");
  REQUIRE(line != std::string::npos);
  const std::string policyLine = text.substr(line, text.find('\n', line) - line);
  CHECK(policyLine.find("default/llm-max-ratio") < policyLine.find("team/other"));
}

TEST_CASE("simulate's table and JSON summary say what the forecast raised and how long Burst panicked") {
  SimulationResult result = twoPolicies();
  std::ostringstream plain;
  writeSummaryText(plain, result);
  // Neither algorithm forecast nor panicked: no rows for them.
  CHECK(plain.str().find("forecast raised") == std::string::npos);
  CHECK(plain.str().find("panic") == std::string::npos);
  std::ostringstream plainJson;
  writeJson(plainJson, result);
  const nlohmann::json none = nlohmann::json::parse(plainJson.str())["policies"][0]["summary"];
  CHECK(none["forecastRaised"].is_null());
  CHECK(none["panics"].is_null());
  CHECK(none["panicSeconds"].is_null());

  result.policies[0].algorithm = "Predictive";
  result.policies[0].summary.forecastRaised = 7;
  result.policies[1].algorithm = "Burst";
  result.policies[1].summary.panics = 2;
  result.policies[1].summary.panicSeconds = 135;
  std::ostringstream text;
  writeSummaryText(text, result);
  const auto line = [&text](const std::string& label) {
    const std::string all = text.str();
    const std::size_t at = all.find(label);
    return at == std::string::npos ? std::string() : all.substr(at, all.find('\n', at) - at);
  };
  const std::string forecast = line("forecast raised the answer");
  CHECK(forecast.find("7 decisions") != std::string::npos);
  CHECK(forecast.ends_with("-"));  // the Burst column
  const std::string panic = line("panics / seconds in panic");
  CHECK(panic.find("  -  ") != std::string::npos);  // the Predictive column
  CHECK(panic.ends_with("2 / 135"));
  std::ostringstream json;
  writeJson(json, result);
  const nlohmann::json policies = nlohmann::json::parse(json.str())["policies"];
  CHECK(policies[0]["summary"]["forecastRaised"] == 7);
  CHECK(policies[0]["summary"]["panics"].is_null());
  CHECK(policies[1]["summary"]["forecastRaised"].is_null());
  CHECK(policies[1]["summary"]["panics"] == 2);
  CHECK(policies[1]["summary"]["panicSeconds"] == 135);
}

TEST_CASE("simulate's outputs: with no SLO at all, no violation figure is judged, 'any' neither") {
  SimulationResult result = twoPolicies();
  result.sloLatencyP99Ms.reset();
  std::ostringstream json;
  writeJson(json, result);
  const nlohmann::json slo = nlohmann::json::parse(json.str())["policies"][0]["summary"]["sloViolationSeconds"];
  CHECK(slo["latencyP99Ms"].is_null());
  CHECK(slo["any"].is_null());
  std::ostringstream text;
  writeSummaryText(text, result);
  CHECK(text.str().find("SLO violated, any (s)") != std::string::npos);
  CHECK(text.str().find("- (no SLO set)") != std::string::npos);
}

TEST_CASE("simulate's outputs say the replicas' model the figures depend on: start-up, capacity, initial") {
  SimulationResult result = twoPolicies();
  result.initialReplicas = 2;
  result.startupMinSeconds = 120;
  result.startupMaxSeconds = 120;
  result.capacityRequestsPerSecond = 3;
  CHECK(replicaModelText(result) == "start-up 120 s, 3 requests/s a replica, 2 replicas at the start");
  std::ostringstream text;
  writeSummaryText(text, result);
  CHECK(text.str().rfind("workload code-assistant: 30 s at 15 s steps, 2 policies; start-up 120 s, 3 requests/s a "
                         "replica, 2 replicas at the start\n",
                         0) == 0);
  std::ostringstream json;
  writeJson(json, result);
  const nlohmann::json parsed = nlohmann::json::parse(json.str());
  CHECK(parsed["replicas"]["initial"] == 2);
  CHECK(parsed["replicas"]["startupSeconds"]["min"] == 120);
  CHECK(parsed["replicas"]["startupSeconds"]["max"] == 120);
  CHECK(parsed["replicas"]["shutdownSeconds"] == 0);
  CHECK(parsed["capacityRequestsPerSecond"] == 3);

  // A range, a shutdown that costs, one replica; and no start-up at all,
  // which a GPU workload would not have: said, not left to a default.
  result.startupMinSeconds = 60;
  result.startupMaxSeconds = 180.5;
  result.shutdownSeconds = 30;
  result.initialReplicas = 1;
  CHECK(replicaModelText(result) ==
        "start-up 60-180.5 s (uniform), shutdown 30 s, 3 requests/s a replica, 1 replica at the start");
  result.startupMinSeconds = 0;
  result.startupMaxSeconds = 0;
  result.shutdownSeconds = 0;
  CHECK(replicaModelText(result).rfind("start-up 0 s (ready at once), ", 0) == 0);
}

}  // namespace kubeai::simulate

// `kubeai-scaler simulate` with `spec.demand.prometheus`, against a real
// Prometheus (Debian's) holding a known rate series: backfilled with
// `promtool tsdb create-blocks-from openmetrics` at 2024-01-01, so the
// expected demand is computed here from the same numbers. Also
// loadPrometheusDemand itself, read in pieces, and the errors the command
// gives (two series, a bad query, no data, negative values, no server).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/command_runner.h"
#include "cli/simulate_prometheus_demand.h"
#include "support/prometheus_server.h"
#include "support/temp_dir.h"

namespace {

using kubeai::testing::CommandResult;
using kubeai::testing::PrometheusServer;
using kubeai::testing::PrometheusServerOptions;
using kubeai::testing::runScaler;
using kubeai::testing::TempDir;
using namespace std::chrono_literals;

constexpr long long kStart = 1704067200;  // 2024-01-01T00:00:00Z
constexpr int kStepSeconds = 15;
// Two pools of the short series, 12 samples each (0 .. 165 s).
const std::vector<double> kPoolA{1, 3, 0, 8, 2, 2, 5, 0, 1, 9, 4, 6};
const std::vector<double> kPoolB{2, 0, 4, 1, 1, 7, 3, 3, 0, 2, 5, 1};
// The long series: two days at 15 s, past Prometheus' 11,000 points a query.
constexpr int kLongSamples = 11'600;
double longValue(int k) { return static_cast<double>((k * 7) % 11); }

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string openMetrics() {
  std::string text = "# HELP kubeai_test_demand_rps Requests per second of a pool.\n"
                     "# TYPE kubeai_test_demand_rps gauge\n";
  for (const auto& [pool, values] : {std::pair{"a", kPoolA}, std::pair{"b", kPoolB}}) {
    for (std::size_t k = 0; k < values.size(); ++k) {
      text += std::string("kubeai_test_demand_rps{pool=\"") + pool + "\"} " + std::to_string(values[k]) + " " +
              std::to_string(kStart + static_cast<long long>(k) * kStepSeconds) + "\n";
    }
  }
  text += "# HELP kubeai_test_long_rps Two days of a rate.\n# TYPE kubeai_test_long_rps gauge\n";
  for (int k = 0; k < kLongSamples; ++k) {
    text += std::string("kubeai_test_long_rps ") + std::to_string(longValue(k)) + " " +
            std::to_string(kStart + static_cast<long long>(k) * kStepSeconds) + "\n";
  }
  text += "# EOF\n";
  return text;
}

// A Prometheus with the series above in its TSDB: started once (so that its
// data directory exists), stopped, backfilled, started again on the same data.
PrometheusServer& prometheus() {
  static const std::unique_ptr<PrometheusServer> server = [] {
    auto started = std::make_unique<PrometheusServer>(PrometheusServerOptions{});
    started->stop();
    const auto input = started->directory() / "backfill.om";
    {
      std::ofstream file(input);
      file << openMetrics();
    }
    const std::string command = std::string("/usr/bin/promtool tsdb create-blocks-from openmetrics '") + input.string() + "' '" +
                                started->dataDir().string() + "' > '" +
                                (started->directory() / "promtool.log").string() + "' 2>&1";
    if (std::system(command.c_str()) != 0) {
      throw std::runtime_error(std::string("promtool backfill failed: ") +
                               kubeai::testing::readAll(started->directory() / "promtool.log"));
    }
    started->restart();
    return started;
  }();
  return *server;
}

// The time-weighted mean of each `interval` from the first sample, computed
// second by second (every breakpoint here is a whole second): each sample
// holds for its step and the last one on to the end of its interval.
std::vector<double> expectedMeans(const std::vector<double>& values, int stepSeconds, int intervalSeconds) {
  const int covered = static_cast<int>(values.size()) * stepSeconds;
  const int intervals = (covered + intervalSeconds - 1) / intervalSeconds;
  std::vector<double> means;
  for (int i = 0; i < intervals; ++i) {
    double sum = 0;
    for (int s = i * intervalSeconds; s < (i + 1) * intervalSeconds; ++s) {
      const auto k = std::min<std::size_t>(static_cast<std::size_t>(s / stepSeconds), values.size() - 1);
      sum += values[k];
    }
    means.push_back(sum / intervalSeconds);
  }
  return means;
}

const char* kPolicy = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: gpu, namespace: default}
spec:
  targetRef: {kind: Deployment, name: model}
  minReplicas: 1
  maxReplicas: 20
  algorithm: {name: MaxRatio}
  metrics:
    gpuUtilization: {targetPercentage: 60}
)";

// A workload reading `query` from start to end (Unix seconds) at 15 s.
std::string workload(const std::string& query, long long start, long long end, const std::string& interval,
                     double scale = 1.0) {
  return "apiVersion: kubeai.io/v1alpha1\nkind: SimulationWorkload\nmetadata: {name: from-prometheus}\nspec:\n"
         "  interval: " + interval + "\n  replicas: {initial: 1, startupSeconds: 0}\n"
         "  capacity: {requestsPerSecond: 2}\n"
         "  demand:\n    prometheus:\n      query: '" + query + "'\n      start: " + std::to_string(start) +
         "\n      end: " + std::to_string(end) + "\n      step: 15s\n    scale: " + std::to_string(scale) + "\n";
}

struct Run {
  TempDir dir;
  CommandResult result;
};

std::unique_ptr<Run> simulate(const std::string& workloadText, const std::vector<std::string>& extra) {
  auto run = std::make_unique<Run>();
  run->dir.write("workload.yaml", workloadText);
  run->dir.write("policy.yaml", kPolicy);
  std::vector<std::string> args{"simulate", "--workload", (run->dir.path() / "workload.yaml").string(), "--policy",
                                (run->dir.path() / "policy.yaml").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  run->result = runScaler(args);
  return run;
}

std::vector<double> timelineDemand(const std::string& out) {
  const nlohmann::json json = nlohmann::json::parse(out);
  std::vector<double> demand;
  for (const auto& row : json.at("policies").at(0).at("timeline")) {
    demand.push_back(row.at("demand").get<double>());
  }
  return demand;
}

void checkNear(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-12));
  }
}

int closedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  REQUIRE(fd >= 0);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);  // nothing listens there now: connections are refused
  return ntohs(address.sin_port);
}

}  // namespace

TEST_CASE("simulate replays a Prometheus range query as the demand, time-weighted per interval") {
  PrometheusServer& server = prometheus();
  std::vector<double> total;
  for (std::size_t k = 0; k < kPoolA.size(); ++k) {
    total.push_back(kPoolA[k] + kPoolB[k]);
  }
  // 20 s intervals over 15 s samples: each interval weights the samples it cuts.
  const auto run = simulate(workload("sum(kubeai_test_demand_rps)", kStart, kStart + 165, "20s"),
                            {"--prometheus-url", server.url(), "--output", "json"});
  INFO(run->result.err);
  REQUIRE(run->result.exitCode == 0);
  const std::vector<double> expected = expectedMeans(total, kStepSeconds, 20);
  REQUIRE(expected.size() == 9);  // 12 samples x 15 s = 180 s
  checkNear(timelineDemand(run->result.out), expected);
  // The first interval: (15 s x 3 + 5 s x 3) / 20 s; the second: (10 s x 3 + 10 s x 4) / 20 s.
  CHECK(timelineDemand(run->result.out)[0] == 3.0);
  CHECK(timelineDemand(run->result.out)[1] == 3.5);

  // The same at 60 s intervals, scaled by 2, with the range given in RFC 3339.
  std::string rfc = workload("sum(kubeai_test_demand_rps)", kStart, kStart + 165, "60s", 2.0);
  rfc.replace(rfc.find("start: "), std::string("start: 1704067200").size(), "start: '2024-01-01T00:00:00Z'");
  rfc.replace(rfc.find("end: "), std::string("end: 1704067365").size(), "end: '2024-01-01T00:02:45Z'");
  const auto scaled = simulate(rfc, {"--prometheus-url", server.url() + "/", "--output", "json"});
  INFO(scaled->result.err);
  REQUIRE(scaled->result.exitCode == 0);
  std::vector<double> doubled = expectedMeans(total, kStepSeconds, 60);
  for (double& value : doubled) {
    value *= 2;
  }
  checkNear(timelineDemand(scaled->result.out), doubled);
}

TEST_CASE("simulate reads two days at 15 s, more than one query may return, in pieces") {
  PrometheusServer& server = prometheus();
  std::vector<double> values;
  for (int k = 0; k < kLongSamples; ++k) {
    values.push_back(longValue(k));
  }
  const long long end = kStart + static_cast<long long>(kLongSamples - 1) * kStepSeconds;
  // 11,600 points: Prometheus refuses more than 11,000 in one query.
  const auto run = simulate(workload("kubeai_test_long_rps", kStart, end, "60s"),
                            {"--prometheus-url", server.url(), "--output", "json"});
  INFO(run->result.err);
  REQUIRE(run->result.exitCode == 0);
  checkNear(timelineDemand(run->result.out), expectedMeans(values, kStepSeconds, 60));
}

TEST_CASE("loadPrometheusDemand in pieces of any size gives what one query gives") {
  PrometheusServer& server = prometheus();
  kubeai::simulate::PrometheusDemand demand;
  demand.query = "sum(kubeai_test_demand_rps)";
  demand.start = std::to_string(kStart);
  demand.end = std::to_string(kStart + 165);
  demand.step = 15s;
  kubeai::cli::PrometheusDemandOptions options;
  options.client.url = server.url();
  auto whole = kubeai::cli::loadPrometheusDemand(demand, 20s, options);
  REQUIRE_MESSAGE(whole.ok(), (whole.ok() ? "" : whole.error().message));
  for (const std::size_t points : {std::size_t{1}, std::size_t{5}, std::size_t{11}, std::size_t{12}}) {
    CAPTURE(points);
    options.maxPointsPerQuery = points;
    auto pieces = kubeai::cli::loadPrometheusDemand(demand, 20s, options);
    REQUIRE_MESSAGE(pieces.ok(), (pieces.ok() ? "" : pieces.error().message));
    REQUIRE(pieces.value().steps.size() == whole.value().steps.size());
    for (std::size_t i = 0; i < whole.value().steps.size(); ++i) {
      CHECK(pieces.value().steps[i].requestsPerSecond == whole.value().steps[i].requestsPerSecond);
    }
  }
}

TEST_CASE("simulate says what is wrong with a Prometheus demand, exit 2 for the input") {
  PrometheusServer& server = prometheus();
  struct Row {
    std::string query;
    long long start;
    long long end;
    std::vector<std::string> said;
  };
  const std::vector<Row> rows = {
      // Two pools, not summed.
      {"kubeai_test_demand_rps", kStart, kStart + 165,
       {"spec.demand.prometheus: query `kubeai_test_demand_rps`: returned 2 series, expected one", "sum(",
        R"({__name__="kubeai_test_demand_rps", pool="a"})"}},
      // Not PromQL: Prometheus' own words.
      {"sum(kubeai_test_demand_rps", kStart, kStart + 165, {"HTTP 400: bad_data:", "parse error"}},
      // A range without data.
      {"sum(kubeai_test_demand_rps)", kStart + 86'400 * 30, kStart + 86'400 * 30 + 60,
       {"returned no data between start", "does the metric exist then"}},
      // A negative rate, named with its time.
      {"sum(kubeai_test_demand_rps) - 4", kStart, kStart + 165,
       {"returned a negative rate (-1) at 1704067200 (2024-01-01T00:00:00Z)"}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.query);
    const auto run = simulate(workload(row.query, row.start, row.end, "15s"), {"--prometheus-url", server.url()});
    CHECK(run->result.exitCode == 2);
    CHECK(contains(run->result.err, "workload.yaml: "));
    for (const std::string& part : row.said) {
      CHECK_MESSAGE(contains(run->result.err, part), run->result.err);
    }
  }

  // No --prometheus-url.
  const auto noUrl = simulate(workload("sum(kubeai_test_demand_rps)", kStart, kStart + 165, "15s"), {});
  CHECK(noUrl->result.exitCode == 2);
  CHECK(contains(noUrl->result.err, "spec.demand.prometheus: reading the demand from Prometheus needs --prometheus-url"));
  // A --prometheus-* flag without --prometheus-url is a usage error of its own.
  const auto flagOnly = simulate(workload("sum(kubeai_test_demand_rps)", kStart, kStart + 165, "15s"),
                                 {"--prometheus-timeout", "5s"});
  CHECK(flagOnly->result.exitCode == 2);
  CHECK(contains(flagOnly->result.err, "--prometheus-url"));
  // A header that is not NAME=VALUE: serve's parser, serve's words.
  const auto badHeader = simulate(workload("sum(kubeai_test_demand_rps)", kStart, kStart + 165, "15s"),
                                  {"--prometheus-url", server.url(), "--prometheus-header", "nonsense"});
  CHECK(badHeader->result.exitCode == 2);
  CHECK(contains(badHeader->result.err, "--prometheus-header"));
}

TEST_CASE("simulate with no Prometheus at the URL fails naming it, exit 1") {
  const std::string url = std::string("http://127.0.0.1:") + std::to_string(closedPort());
  const auto run = simulate(workload("sum(kubeai_test_demand_rps)", kStart, kStart + 165, "15s"),
                            {"--prometheus-url", url, "--prometheus-timeout", "2s"});
  CHECK(run->result.exitCode == 1);
  CHECK_MESSAGE(contains(run->result.err, "spec.demand.prometheus: query `sum(kubeai_test_demand_rps)`: GET " + url +
                                              "/api/v1/query_range: "),
                run->result.err);
  CHECK(contains(run->result.err, "onnect"));  // curl's "Couldn't connect to server"
}

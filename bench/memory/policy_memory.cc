// policy_memory: what each loaded policy costs the server, with no streams
// (issue 3: the scaler's own state <= 2 KiB per policy; all included, its
// /metrics series too, <= 12 KiB). bench/README.md, "Memory per policy".
//
// It builds, in this process, the objects `serve` builds (PolicyDirectory,
// FileMetricSource, EvaluationLoop, DecisionStore, Telemetry) over the files of
// bench/make_policies.py, and reads the growth of the heap in use (mallinfo2)
// and of RSS after each step. Freed memory is handed back to the kernel
// (malloc_trim) before each reading, as serve does after a reload and a scrape,
// so RSS is what stays in use plus the allocator's fragmentation.
//
//   policy_memory --dir DIR --policies N [--cycles 25]
//
// Steps: the policy directory and metrics file loaded (the sources' own copies),
// the evaluation loop's state after --cycles cycles 15 s apart (its policies,
// the histories with their stabilization windows, the decisions in the store),
// then Telemetry with every decision recorded and one /metrics scrape.
#include <malloc.h>

#include <prometheus/collectable.h>
#include <prometheus/text_serializer.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include "core/algorithm_registry.h"
#include "server/decision_store.h"
#include "server/evaluation_loop.h"
#include "source/file_metric_source.h"
#include "source/policy_directory.h"
#include "telemetry/telemetry.h"

namespace {

struct Reading {
  double heapKib = 0;
  double rssKib = 0;
};

Reading read() {
  malloc_trim(0);
  Reading reading;
  reading.heapKib = static_cast<double>(mallinfo2().uordblks) / 1024.0;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream(line.substr(6)) >> reading.rssKib;
    }
  }
  return reading;
}

// As serve's listener records decisions (scaler/cli/serve_command.cc).
class TelemetryListener final : public kubeai::server::EvaluationListener {
 public:
  explicit TelemetryListener(kubeai::telemetry::Telemetry* telemetry) : telemetry_(telemetry) {}
  void onDecision(const kubeai::core::Policy& policy, const kubeai::core::Decision& decision,
                  const kubeai::core::Observation& observation, bool cooldownActive,
                  std::optional<kubeai::core::TimePoint> lastScaleTime, double seconds) override {
    if (telemetry_ != nullptr) {
      telemetry_->recordDecision(policy, decision, observation, cooldownActive, lastScaleTime, seconds);
    }
  }
  kubeai::telemetry::Telemetry* telemetry_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Memory per loaded policy, by part of the server"};
  std::string dir;
  std::size_t policies = 0;
  int cycles = 25;
  app.add_option("--dir", dir, "Directory written by bench/make_policies.py")->required();
  app.add_option("--policies", policies, "How many policies it holds")->required();
  app.add_option("--cycles", cycles, "Evaluation cycles, 15 s apart")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  const auto registry = kubeai::core::AlgorithmRegistry::withBuiltins();
  kubeai::server::DecisionStore store;
  kubeai::source::PolicyDirectory directory(std::filesystem::path(dir) / "policies");
  kubeai::source::FileMetricSource metrics(std::filesystem::path(dir) / "metrics.yaml");
  kubeai::core::TimePoint now{std::chrono::hours(24 * 365 * 56)};
  auto listener = std::make_unique<TelemetryListener>(nullptr);
  auto loop = std::make_unique<kubeai::server::EvaluationLoop>(
      store, *registry, metrics, kubeai::server::EvaluationOptions{}, [&now] { return now; }, listener.get());
  const Reading empty = read();
  Reading directoryOnly;

  {
    auto set = directory.reload();
    if (!set.ok() || set.value().policies->size() != policies) {
      std::cerr << "policy_memory: expected " << policies << " policies in " << dir << "\n";
      return 1;
    }
    directoryOnly = read();
    if (auto loaded = metrics.reload(); !loaded.ok()) {
      std::cerr << "policy_memory: " << loaded.error().message << "\n";
      return 1;
    }
    loop->setPolicies(std::move(set.value().policies));
  }
  const Reading sources = read();  // after the set moved into the loop: the sources' own copies stay
  for (int i = 0; i < cycles; ++i) {
    loop->runOnce();
    now += std::chrono::seconds(15);
  }
  if (store.size() != policies) {
    std::cerr << "policy_memory: the store holds " << store.size() << " policies\n";
    return 1;
  }
  const Reading evaluated = read();

  kubeai::telemetry::Telemetry telemetry;
  const Reading telemetryEmpty = read();
  listener->telemetry_ = &telemetry;
  loop->runOnce();
  std::size_t scrapeBytes = 0;
  {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& collectable : telemetry.collectables()) {
      auto collected = collectable->Collect();
      families.insert(families.end(), collected.begin(), collected.end());
    }
    scrapeBytes = prometheus::TextSerializer().Serialize(families).size();
  }
  const auto trimStart = std::chrono::steady_clock::now();
  malloc_trim(0);
  const double trimMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - trimStart).count();
  const Reading all = read();

  const auto perPolicy = [&](double kib) { return kib * 1024.0 / static_cast<double>(policies); };
  const auto row = [&](const char* what, const Reading& from, const Reading& to) {
    std::cout << std::left << std::setw(46) << what << std::right << std::fixed << std::setprecision(0)
              << std::setw(10) << perPolicy(to.heapKib - from.heapKib) << std::setw(10)
              << perPolicy(to.rssKib - from.rssKib) << "\n";
  };
  std::cout << policies << " policies, " << cycles << " cycles 15 s apart; bytes per policy\n";
  std::cout << std::left << std::setw(46) << "part" << std::right << std::setw(10) << "heap" << std::setw(10) << "RSS"
            << "\n";
  row("policy directory (its set, returned too)", empty, directoryOnly);
  row("sources (policy directory, metrics file)", empty, sources);
  row("evaluation (policies, histories, decisions)", sources, evaluated);
  row("telemetry (values kept for /metrics)", telemetryEmpty, all);
  row("own state: sources + evaluation", empty, evaluated);
  row("all included", empty, all);
  std::cout << "a /metrics scrape: " << scrapeBytes / 1024 << " KiB of text, "
            << scrapeBytes / policies << " bytes per policy\n";
  std::cout << "malloc_trim(0) after the scrape took " << std::setprecision(1) << trimMs << " ms\n";
  std::cout << "targets: own state <= 2048 bytes per policy, all included <= 12288\n";
  return 0;
}

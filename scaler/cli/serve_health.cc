#include "cli/serve_health.h"

#include <future>
#include <memory>
#include <string>
#include <thread>

namespace kubeai::cli {

telemetry::ReadyReport readinessReport(const server::DecisionStore& store, core::TimePoint now,
                                       std::chrono::milliseconds staleAfter) {
  telemetry::ReadyReport report{true, "ok\n"};
  for (const auto& entry : store.all()) {
    if (entry->state != server::PolicyState::kReady) {
      report.body += entry->ns + "/" + entry->name + ": " + std::string(server::policyStateName(entry->state)) +
                     ": " + entry->message + "\n";
    } else if (server::readTooLongAgo(*entry, now, staleAfter)) {
      report.body += entry->ns + "/" + entry->name + ": stale: " +
                     server::staleOnTimeMessage(*entry, now, staleAfter) + "\n";
    } else if (!entry->message.empty()) {
      // A ready entry's message: its latest version was refused (a bad edit).
      report.body += entry->ns + "/" + entry->name + ": ready, the latest version refused: " + entry->message + "\n";
    }
  }
  return report;
}

bool stopLoopWithin(server::EvaluationLoop& loop, std::chrono::milliseconds grace) {
  // Shared: a stopper left behind may still finish after this returns.
  auto stopped = std::make_shared<std::promise<void>>();
  std::future<void> done = stopped->get_future();
  std::thread stopper([&loop, stopped] {
    loop.stop();
    stopped->set_value();
  });
  if (done.wait_for(grace) != std::future_status::ready) {
    // Joining would wait as long as the loop is stuck: forever, for a plugin
    // call that never returns. The process ends without unwinding instead.
    stopper.detach();
    return false;
  }
  stopper.join();
  return true;
}

}  // namespace kubeai::cli

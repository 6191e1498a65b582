// stream_server: the part of `kubeai-scaler serve` that pushes decisions to
// KEDA's StreamIsActive streams (DecisionStore + ExternalScalerService on the
// same gRPC builder settings), over --policies ready policies, with decisions
// published on command. stream_fanout drives it to time how long a published
// decision takes to reach its stream (bench/grpc/README.md).
//
// Policies are policy-0 ... policy-<N-1> in namespace "default", all ready
// with desired 0 (inactive). Commands, one per line on stdin:
//   flip I     toggles policy-I between desired 0 and 1
//              -> "published I T"        T: steady_clock ns just before publish()
//   flipall    toggles every policy, in index order
//              -> "published-all T0 T1"  before the first and after the last publish()
//   stats      -> "stats threads N rss_kib K"   from /proc/self/status
// EOF on stdin, SIGTERM or SIGINT stop it. steady_clock is CLOCK_MONOTONIC,
// which every process on the machine shares, so T compares with the client's.
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/decision_store.h"
#include "server/external_scaler_service.h"

namespace {

using kubeai::server::DecisionStore;
using kubeai::server::PolicyEntry;
using kubeai::server::PolicyState;

std::int64_t steadyNanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

PolicyEntry readyEntry(std::size_t index, std::int32_t desired) {
  PolicyEntry entry;
  entry.ns = "default";
  entry.name = "policy-" + std::to_string(index);
  entry.state = PolicyState::kReady;
  kubeai::core::Decision decision;
  decision.desiredReplicas = desired;
  decision.currentReplicas = desired;
  decision.algorithm = "MaxRatio";
  entry.decision = decision;
  return entry;
}

std::string statusField(const std::string& name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(name + ":", 0) == 0) {
      std::istringstream fields(line.substr(name.size() + 1));
      std::string value;
      fields >> value;
      return value;
    }
  }
  return "?";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The decision push path of kubeai-scaler serve, driven over stdin"};
  std::size_t policies = 10'000;
  std::string address = "127.0.0.1:0";
  app.add_option("--policies", policies, "Policies policy-0 ... policy-<N-1>")->capture_default_str();
  app.add_option("--address", address, "gRPC listening address")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Blocked before gRPC starts a thread, so every thread inherits the mask and
  // only sigwait() takes the signals.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

  DecisionStore store;
  std::vector<std::int32_t> desired(policies, 0);
  for (std::size_t i = 0; i < policies; ++i) {
    store.publish(readyEntry(i, 0));
  }
  kubeai::server::ExternalScalerService service(store);

  // As serve builds its server (scaler/cli/serve_command.cc).
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&service);
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "stream_server: cannot listen on " << address << "\n";
    return 1;
  }
  std::cout << "listening on " << address.substr(0, address.rfind(':')) << ":" << port << std::endl;

  std::thread commands([&] {
    std::string line;
    while (std::getline(std::cin, line)) {
      std::istringstream words(line);
      std::string command;
      words >> command;
      if (command == "flip") {
        std::size_t index = policies;
        words >> index;
        if (index >= policies) {
          std::cout << "error: no policy " << line.substr(command.size()) << std::endl;
          continue;
        }
        desired[index] = 1 - desired[index];
        auto entry = readyEntry(index, desired[index]);
        const std::int64_t before = steadyNanoseconds();
        store.publish(std::move(entry));
        std::cout << "published " << index << " " << before << std::endl;
      } else if (command == "flipall") {
        std::vector<PolicyEntry> entries;
        entries.reserve(policies);
        for (std::size_t i = 0; i < policies; ++i) {
          desired[i] = 1 - desired[i];
          entries.push_back(readyEntry(i, desired[i]));
        }
        const std::int64_t first = steadyNanoseconds();
        for (auto& entry : entries) {
          store.publish(std::move(entry));
        }
        const std::int64_t last = steadyNanoseconds();
        std::cout << "published-all " << first << " " << last << std::endl;
      } else if (command == "stats") {
        std::cout << "stats threads " << statusField("Threads") << " rss_kib " << statusField("VmRSS") << std::endl;
      } else if (!command.empty()) {
        std::cout << "error: unknown command " << command << std::endl;
      }
    }
    ::kill(::getpid(), SIGTERM);
  });
  commands.detach();

  int signal = 0;
  sigwait(&stopSignals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  server->Wait();
  return 0;
}

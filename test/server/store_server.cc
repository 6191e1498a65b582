// store_server: the ExternalScaler service over a DecisionStore with a few
// fixed entries, for clients written in other languages (keda_client_test.py).
//
//   store_server  -> prints "listening on 127.0.0.1:PORT", serves until stdin
//                    reaches EOF (the test closes it, or dies) or SIGTERM/SIGINT.
//
// Entries:
//   default/chat   ready, desired 3          team/idle   ready, desired 0
//   default/warmup pending                   default/old stale ("metrics failed for 2m")
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "server/decision_store.h"
#include "server/external_scaler_service.h"

namespace {

using kubeai::server::DecisionStore;
using kubeai::server::PolicyEntry;
using kubeai::server::PolicyState;

PolicyEntry entry(std::string ns, std::string name, PolicyState state, int desired, std::string message = {}) {
  PolicyEntry out;
  out.ns = std::move(ns);
  out.name = std::move(name);
  out.state = state;
  out.message = std::move(message);
  if (state == PolicyState::kReady) {
    kubeai::core::Decision decision;
    decision.desiredReplicas = desired;
    out.decision = decision;
  }
  return out;
}

}  // namespace

int main() {
  // Blocked before gRPC starts a thread, so every thread inherits the mask and
  // only sigwait() below takes the signals.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr) != 0) {
    std::cerr << "store_server: cannot block SIGTERM/SIGINT\n";
    return 1;
  }

  DecisionStore store;
  store.publish(entry("default", "chat", PolicyState::kReady, 3));
  store.publish(entry("team", "idle", PolicyState::kReady, 0));
  store.publish(entry("default", "warmup", PolicyState::kPending, 0, "not evaluated yet"));
  store.publish(entry("default", "old", PolicyState::kStale, 0, "metrics failed for 2m"));
  kubeai::server::ExternalScalerService service(store);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "store_server: cannot listen on 127.0.0.1\n";
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << port << std::endl;  // flushed: the test waits for it

  // EOF on stdin turns into the same signal, so one sigwait() handles both.
  std::thread stdinWatcher([] {
    char buffer[256];
    while (::read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
    }
    ::kill(::getpid(), SIGTERM);
  });
  stdinWatcher.detach();

  int signal = 0;
  sigwait(&stopSignals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  server->Wait();
  return 0;
}

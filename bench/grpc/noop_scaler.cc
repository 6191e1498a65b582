// noop_scaler: an ExternalScaler that answers every call from memory with a fixed
// answer and does nothing else. It is the physical floor of the gRPC benchmark
// (bench/grpc/README.md): the same proto, the same gRPC library and the same
// callback API as `kubeai-scaler serve`, so that the real server can be measured
// as a ratio against it in one run on one machine.
//
//   noop_scaler --address 127.0.0.1:0
//   -> prints "listening on 127.0.0.1:PORT" and serves until SIGTERM or SIGINT.

#include <grpcpp/grpcpp.h>
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

#include "externalscaler.grpc.pb.h"

namespace {

using externalscaler::ExternalScaler;
using externalscaler::GetMetricSpecResponse;
using externalscaler::GetMetricsRequest;
using externalscaler::GetMetricsResponse;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;

// Long enough for unary calls already running to finish; open streams never end
// by themselves, so they are cancelled when it expires.
constexpr auto kShutdownGrace = std::chrono::seconds(1);

// The real server's metric name (DESIGN.md §4), so that the floor builds the same
// strings the real server will.
std::string metricNameFor(const ScaledObjectRef& ref) {
  const auto& metadata = ref.scalermetadata();
  const auto policy = metadata.find("policyName");
  return "kubeai-" + (policy != metadata.end() ? policy->second : ref.name());
}

void fillMetricSpec(const ScaledObjectRef& ref, GetMetricSpecResponse& response) {
  auto* spec = response.add_metricspecs();
  spec->set_metricname(metricNameFor(ref));
  spec->set_targetsize(1);
  spec->set_targetsizefloat(1.0);
}

// A server stream that sends one message and then stays open until the client
// cancels it or the server shuts down, as a real stream does between changes.
//
// gRPC's callback API requires a heap-allocated reactor that outlives the handler
// that returns it; gRPC calls OnDone() once it no longer uses it, so the reactor
// owns itself and deletes itself there. That is the only `new`/`delete` here.
template <typename Response>
class OneMessageStream final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit OneMessageStream(Response first) : first_(std::move(first)) { this->StartWrite(&first_); }

  void OnWriteDone(bool ok) override {
    // A failed write means the stream is broken; finish it rather than wait for
    // a cancellation. A successful one leaves the stream open on purpose.
    if (!ok) {
      finishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "stream write failed"));
    }
  }

  // OnCancel may run concurrently with OnWriteDone, hence the guard.
  void OnCancel() override { finishOnce(grpc::Status::CANCELLED); }

  void OnDone() override { delete this; }

 private:
  void finishOnce(const grpc::Status& status) {
    const std::lock_guard lock(mutex_);
    if (!finished_) {
      finished_ = true;
      this->Finish(status);
    }
  }

  Response first_;
  std::mutex mutex_;
  bool finished_ = false;
};

class NoopScalerService final : public ExternalScaler::CallbackService {
 public:
  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* context, const ScaledObjectRef* /*request*/,
                                     IsActiveResponse* response) override {
    response->set_result(true);
    return finishOk(context);
  }

  grpc::ServerUnaryReactor* GetMetricSpec(grpc::CallbackServerContext* context, const ScaledObjectRef* request,
                                          GetMetricSpecResponse* response) override {
    fillMetricSpec(*request, *response);
    return finishOk(context);
  }

  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context, const GetMetricsRequest* request,
                                       GetMetricsResponse* response) override {
    auto* value = response->add_metricvalues();
    // KEDA sends the name it got from GetMetricSpec; echoing it is what a real
    // answer costs, and an empty one gets the name GetMetricSpec would give.
    value->set_metricname(request->metricname().empty() ? metricNameFor(request->scaledobjectref())
                                                        : request->metricname());
    value->set_metricvalue(1);
    value->set_metricvaluefloat(1.0);
    return finishOk(context);
  }

  grpc::ServerWriteReactor<IsActiveResponse>* StreamIsActive(grpc::CallbackServerContext* /*context*/,
                                                             const ScaledObjectRef* /*request*/) override {
    IsActiveResponse first;
    first.set_result(true);
    return new OneMessageStream<IsActiveResponse>(std::move(first));  // deletes itself in OnDone()
  }

  grpc::ServerWriteReactor<GetMetricSpecResponse>* StreamMetricSpec(grpc::CallbackServerContext* /*context*/,
                                                                    const ScaledObjectRef* request) override {
    GetMetricSpecResponse first;
    fillMetricSpec(*request, first);
    return new OneMessageStream<GetMetricSpecResponse>(std::move(first));  // deletes itself in OnDone()
  }

 private:
  // gRPC's default reactor: no allocation for unary calls answered at once.
  static grpc::ServerUnaryReactor* finishOk(grpc::CallbackServerContext* context) {
    auto* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// "127.0.0.1:0" + 41234 -> "127.0.0.1:41234"; "[::1]:0" -> "[::1]:41234".
std::string withPort(const std::string& address, int port) {
  const auto colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  return host + ":" + std::to_string(port);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"noop_scaler: a KEDA ExternalScaler answering from memory (the gRPC benchmark's floor)"};
  std::string address = "127.0.0.1:0";
  app.add_option("--address", address, "HOST:PORT to listen on; port 0 picks a free one")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  // Blocked before gRPC starts any thread, so every thread inherits the mask and
  // the signals are only ever taken by sigwait() below: no async-signal-safety
  // concerns, and Shutdown() runs on an ordinary thread.
  sigset_t stopSignals;
  sigemptyset(&stopSignals);
  sigaddset(&stopSignals, SIGTERM);
  sigaddset(&stopSignals, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr) != 0) {
    std::cerr << "noop_scaler: cannot block SIGTERM/SIGINT\n";
    return 1;
  }

  NoopScalerService service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  // Without this a second server on a fixed port would silently share it
  // (gRPC sets SO_REUSEPORT by default) and the benchmark would measure both.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&service);
  const std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::cerr << "noop_scaler: cannot listen on " << address << "\n";
    return 1;
  }
  std::cout << "listening on " << withPort(address, port) << std::endl;  // flushed: a script waits for it

  int signal = 0;
  sigwait(&stopSignals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  server->Wait();
  return 0;
}

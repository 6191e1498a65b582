#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "server/decision_store.h"
#include "server/external_scaler_service.h"

namespace kubeai::server::testing {

// Generous: only reached when something is broken; the passing path never waits for it.
constexpr auto kDeadline = std::chrono::seconds(5);

// An independent check (not the code under test) that `text` is valid UTF-8,
// as gRPC status messages must be.
inline bool isValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    std::uint32_t min = 0;
    std::uint32_t value = 0;
    if (b0 < 0x80) {
      ++i;
      continue;
    } else if ((b0 & 0xE0U) == 0xC0U) {
      length = 2, min = 0x80, value = b0 & 0x1FU;
    } else if ((b0 & 0xF0U) == 0xE0U) {
      length = 3, min = 0x800, value = b0 & 0x0FU;
    } else if ((b0 & 0xF8U) == 0xF0U) {
      length = 4, min = 0x10000, value = b0 & 0x07U;
    } else {
      return false;
    }
    if (i + length > text.size()) {
      return false;
    }
    for (std::size_t k = 1; k < length; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xC0U) != 0x80U) {
        return false;
      }
      value = (value << 6U) | (b & 0x3FU);
    }
    if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

// "p" + 7 -> "p7". Appended rather than `"p" + std::to_string(i)`, on which
// GCC 12 warns falsely (-Wrestrict) once inlined.
inline std::string numbered(std::string_view prefix, long number) {
  std::string out(prefix);
  out += std::to_string(number);
  return out;
}

inline PolicyEntry readyEntry(std::string ns, std::string name, std::int32_t desired) {
  PolicyEntry entry;
  entry.ns = std::move(ns);
  entry.name = std::move(name);
  entry.state = PolicyState::kReady;
  core::Decision decision;
  decision.desiredReplicas = desired;
  decision.currentReplicas = desired;
  entry.decision = decision;
  return entry;
}

inline PolicyEntry unservableEntry(std::string ns, std::string name, PolicyState state, std::string message) {
  PolicyEntry entry;
  entry.ns = std::move(ns);
  entry.name = std::move(name);
  entry.state = state;
  entry.message = std::move(message);
  return entry;
}

inline externalscaler::ScaledObjectRef scaledObject(std::string name, std::string ns,
                                                    std::vector<std::pair<std::string, std::string>> metadata = {}) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name(std::move(name));
  ref.set_namespace_(std::move(ns));
  for (auto& [key, value] : metadata) {
    (*ref.mutable_scalermetadata())[key] = value;
  }
  return ref;
}

// What the service reported to its RequestObserver.
struct Observed {
  std::string method;
  grpc::StatusCode code;
  double seconds;
};

// The service on 127.0.0.1:<a free port>, a store to fill, and a client.
class TestServer {
 public:
  explicit TestServer(StalenessCheck staleness = {}, bool allowCrossNamespacePolicies = false)
      : service_(
            store,
            [this](std::string_view method, grpc::StatusCode code, double seconds) {
              const std::lock_guard lock(mutex_);
              observed_.push_back({std::string(method), code, seconds});
              changed_.notify_all();
            },
            std::move(staleness), allowCrossNamespacePolicies) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    if (!server_ || port_ == 0) {
      throw std::runtime_error("cannot start the test server on 127.0.0.1");
    }
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials());
    stub_ = externalscaler::ExternalScaler::NewStub(channel_);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;
  ~TestServer() { shutdown(std::chrono::milliseconds(500)); }

  // Cancels whatever is still open once `grace` has passed.
  void shutdown(std::chrono::milliseconds grace) {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now() + grace);
      server_->Wait();
      server_.reset();
    }
  }

  externalscaler::ExternalScaler::Stub& stub() { return *stub_; }
  ExternalScalerService& service() { return service_; }
  int port() const { return port_; }

  std::vector<Observed> observed() {
    const std::lock_guard lock(mutex_);
    return observed_;
  }

  // Waits, up to kDeadline, until `done(observed)` holds.
  bool waitObserved(const std::function<bool(const std::vector<Observed>&)>& done) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return done(observed_); });
  }

  DecisionStore store;

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Observed> observed_;
  ExternalScalerService service_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
};

inline void setDeadline(grpc::ClientContext& context) { context.set_deadline(std::chrono::system_clock::now() + kDeadline); }

}  // namespace kubeai::server::testing

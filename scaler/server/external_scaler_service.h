#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_set>

// The generated service is the base class, so it cannot be forward-declared.
#include "externalscaler.grpc.pb.h"
#include "server/decision_store.h"
#include "server/keda_answers.h"
#include "server/scaled_object_ref.h"

namespace kubeai::server {

// KEDA's ExternalScaler (DESIGN §4) answered from the DecisionStore: no RPC
// waits on I/O or on the evaluation loop, and the two streams are callback
// reactors, so an open stream holds no thread.
//
//   IsActive          desired > 0; UNAVAILABLE while the policy is pending,
//                     stale or invalid, or its metrics were last read longer
//                     than the staleness bound ago; NOT_FOUND when unknown
//   GetMetrics        one MetricValue {the requested name, D, D}; same errors;
//                     INVALID_ARGUMENT when the name is not kubeai-<policy>
//   GetMetricSpec     one MetricSpec {kubeai-<policy>, 1, 1.0} for every known
//                     policy, whatever its state: the spec does not depend on
//                     the decision, and KEDA builds the HPA from it; were it
//                     refused while a policy is pending or stale, the HPA would
//                     lack the metric and the ScaledObject's `fallback`, which
//                     acts on GetMetrics errors, could never apply
//   StreamIsActive    the IsActive answer at once, then each change of it.
//                     While the policy is not servable (pending, stale,
//                     invalid, or stale on time) it stays open and sends
//                     nothing, then sends once the policy is servable again
//                     and its answer differs from the last one sent: KEDA
//                     keeps its last value meanwhile, and GetMetrics' errors
//                     bring the fallback. A stream that starts silent sends
//                     its headers at once (the client sees it established).
//                     Finishes NOT_FOUND when the policy is unknown or removed
//   StreamMetricSpec  the GetMetricSpec answer at once; stays open and
//                     finishes with NOT_FOUND when the policy is removed
//
// Every request names its policy through ScaledObjectRef (see
// scaled_object_ref.h); bad metadata is INVALID_ARGUMENT, and so is a policy
// of another namespace than the ScaledObject's unless
// `allowCrossNamespacePolicies` (checkPolicyNamespace), on every RPC.
//
// Lifetime: the store and this service must outlive the grpc::Server they are
// registered with (Shutdown() and Wait() it first): open streams hold
// subscriptions to the store until gRPC calls their OnDone().
class ExternalScalerService final : public externalscaler::ExternalScaler::CallbackService {
 public:
  // Called once per finished RPC: unary calls when answered (`seconds` is the
  // handler's time), streams when gRPC is done with them (`seconds` is the
  // stream's life). `method` is the bare RPC name ("GetMetrics"; service
  // "externalscaler.ExternalScaler"). Runs on gRPC's threads, concurrently:
  // it must be thread-safe, quick and non-blocking, like a counter update.
  using RequestObserver = std::function<void(std::string_view method, grpc::StatusCode code, double seconds)>;

  static constexpr std::string_view kIsActive = "IsActive";
  static constexpr std::string_view kStreamIsActive = "StreamIsActive";
  static constexpr std::string_view kGetMetricSpec = "GetMetricSpec";
  static constexpr std::string_view kGetMetrics = "GetMetrics";
  static constexpr std::string_view kStreamMetricSpec = "StreamMetricSpec";

  explicit ExternalScalerService(DecisionStore& store, RequestObserver observer = {}, StalenessCheck staleness = {},
                                 bool allowCrossNamespacePolicies = false);
  ExternalScalerService(const ExternalScalerService&) = delete;
  ExternalScalerService& operator=(const ExternalScalerService&) = delete;
  ~ExternalScalerService() override;

  // Streams gRPC has not yet finished with (for /metrics and tests).
  [[nodiscard]] std::size_t openStreams() const noexcept { return openStreams_.load(std::memory_order_relaxed); }

  // Ends every open stream with OK, after the message being written if any,
  // so that grpc::Server::Shutdown() does not wait out its deadline on streams
  // KEDA would keep open forever. OK because KEDA's push loop resets its
  // reconnect back-off only on a clean end: it reconnects at once, to another
  // replica behind the Service. A stream opened from now on ends at once with
  // UNAVAILABLE ("server shutting down"): it got nothing, and KEDA should back
  // off rather than come straight back to a server going away. Call it just
  // before Shutdown(). Thread-safe.
  void finishStreams();

  grpc::ServerUnaryReactor* IsActive(grpc::CallbackServerContext* context,
                                     const externalscaler::ScaledObjectRef* request,
                                     externalscaler::IsActiveResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* StreamIsActive(
      grpc::CallbackServerContext* context, const externalscaler::ScaledObjectRef* request) override;
  grpc::ServerUnaryReactor* GetMetricSpec(grpc::CallbackServerContext* context,
                                          const externalscaler::ScaledObjectRef* request,
                                          externalscaler::GetMetricSpecResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(grpc::CallbackServerContext* context,
                                       const externalscaler::GetMetricsRequest* request,
                                       externalscaler::GetMetricsResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::GetMetricSpecResponse>* StreamMetricSpec(
      grpc::CallbackServerContext* context, const externalscaler::ScaledObjectRef* request) override;

 private:
  using Clock = std::chrono::steady_clock;
  template <typename Response>
  friend class PolicyStream;

  // What finishStreams() needs of an open stream.
  class OpenStream {
   public:
    virtual void finishForShutdown() = 0;

   protected:
    ~OpenStream() = default;
  };

  // The policy `ref` names, if this ScaledObject may use it.
  [[nodiscard]] core::Result<PolicyRef> policyFor(const externalscaler::ScaledObjectRef& ref) const;
  grpc::ServerUnaryReactor* finishUnary(grpc::CallbackServerContext* context, std::string_view method,
                                        Clock::time_point start, grpc::Status status);
  // False once finishStreams() ran: the stream must finish at once.
  bool streamOpened(OpenStream* stream);
  void streamClosing(OpenStream* stream);
  void streamDone(std::string_view method, grpc::StatusCode code, Clock::time_point start);
  void observe(std::string_view method, grpc::StatusCode code, Clock::time_point start) const;

  DecisionStore& store_;
  RequestObserver observer_;
  const StalenessCheck staleness_;
  const bool allowCrossNamespacePolicies_;
  std::atomic<std::size_t> openStreams_{0};

  // Never held while a stream's own lock is: a stream takes this one only
  // when it opens and in OnDone().
  std::mutex streamsMutex_;
  std::unordered_set<OpenStream*> streams_;
  bool shuttingDown_ = false;
};

}  // namespace kubeai::server

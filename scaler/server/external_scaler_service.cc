#include "server/external_scaler_service.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "server/keda_answers.h"
#include "server/scaled_object_ref.h"

namespace kubeai::server {
namespace {

using externalscaler::GetMetricSpecResponse;
using externalscaler::GetMetricsRequest;
using externalscaler::GetMetricsResponse;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;

using detail::answerIsActive;
using detail::answerMetricSpec;
using detail::invalidArgument;
using detail::notFound;
using detail::sameAnswer;
using detail::servableNow;

}  // namespace

// One open StreamIsActive or StreamMetricSpec call.
//
// gRPC's callback API takes a heap-allocated reactor from the handler and
// calls OnDone() once it no longer uses it; the reactor owns itself and
// deletes itself there. That is why this class is created with `new`.
//
// Values arrive from the store's listener on publishing threads, and
// OnWriteDone/OnCancel on gRPC's threads, so all state is under mutex_. Only
// one write may be in flight: a value arriving meanwhile replaces any value
// still waiting (KEDA wants the latest, not every step). An entry without an
// answer to serve (pending, stale, invalid, stale on time) sends nothing and
// keeps the stream open; only an unknown or removed policy ends it. The subscription is
// released in OnDone() without mutex_ held, because a listener call may be
// waiting for mutex_ while the store holds the key's lock, and releasing the
// subscription waits for that call to end.
template <typename Response>
class PolicyStream final : public grpc::ServerWriteReactor<Response>, public ExternalScalerService::OpenStream {
 public:
  using Answer = grpc::Status (*)(const StalenessCheck&, const PolicyRef&, const PolicyEntry*, Response&);
  using Clock = std::chrono::steady_clock;

  PolicyStream(ExternalScalerService& service, std::string_view method, Clock::time_point start, Answer answer)
      : service_(service), method_(method), start_(start), answer_(answer) {
    accepted_ = service_.streamOpened(this);
  }

  // False when the server is shutting down: finish with finishAtStart().
  [[nodiscard]] bool accepted() const { return accepted_; }

  void finishForShutdown() override {
    const std::lock_guard lock(mutex_);
    if (finishing_) {
      return;
    }
    next_.reset();  // the end now, not after the value waiting
    finishing_ = true;
    // OK: a clean end, after which KEDA reconnects without backing off.
    grpc::Status status = grpc::Status::OK;
    if (writing_) {
      finishAfterWrite_ = std::move(status);
    } else {
      finishNow(std::move(status));
    }
  }

  // Bad metadata: finish at once, no subscription.
  void finishAtStart(grpc::Status status) {
    const std::lock_guard lock(mutex_);
    finishNow(std::move(status));
  }

  // The store calls the listener with the current entry before subscribe()
  // returns: that sends the first message (or finishes) at once. gRPC queues
  // a write or finish started before the handler returns the reactor.
  void start(DecisionStore& store, PolicyRef ref) {
    ref_ = std::move(ref);
    subscription_ = store.subscribe(ref_.ns, ref_.name, [this](const std::shared_ptr<const PolicyEntry>& entry) {
      onEntry(entry.get());
    });
  }

  void OnWriteDone(bool ok) override {
    const std::lock_guard lock(mutex_);
    writing_ = false;
    if (!ok) {
      // The call is broken (the client went away, or it was cancelled, in
      // which case OnCancel follows): nothing more can be delivered.
      finishNow(grpc::Status(grpc::StatusCode::CANCELLED, "stream closed before a write completed"));
    } else if (next_) {
      startWrite(std::move(*next_));
      next_.reset();
    } else if (finishAfterWrite_) {
      finishNow(std::move(*finishAfterWrite_));
    }
  }

  // May run concurrently with a listener call or OnWriteDone.
  void OnCancel() override {
    const std::lock_guard lock(mutex_);
    next_.reset();
    finishNow(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    service_.streamClosing(this);
    subscription_ = {};  // see the class comment: never under mutex_
    service_.streamDone(method_, code_, start_);
    delete this;
  }

 private:
  void onEntry(const PolicyEntry* entry) {
    const std::lock_guard lock(mutex_);
    if (finishing_) {
      return;
    }
    Response answer;
    grpc::Status status = answer_(service_.staleness_, ref_, entry, answer);
    if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND) {
      // Nothing to serve now: stay open, silent. A value waiting for the
      // write to end is no longer the policy's state and is not sent; the
      // next servable answer is compared with the last one written.
      next_.reset();
      if (!sentAny_ && !sentHeaders_) {
        // The headers at once, so the client knows the stream is established
        // (the first message would otherwise carry them).
        sentHeaders_ = true;
        this->StartSendInitialMetadata();
      }
      return;
    }
    if (!status.ok()) {
      // Unknown or removed. Values already on their way (the one being
      // written and the newest waiting) are still delivered, then the status:
      // every message is a state the policy was in, in order.
      finishing_ = true;
      if (writing_) {
        finishAfterWrite_ = std::move(status);
      } else {
        finishNow(std::move(status));
      }
      return;
    }
    if (writing_) {
      // `current_` is on the wire: keep only the newest value, and none at all
      // when the value went back to what is being written.
      if (sameAnswer(answer, current_)) {
        next_.reset();
      } else {
        next_ = std::move(answer);
      }
    } else if (!sentAny_ || !sameAnswer(answer, current_)) {
      startWrite(std::move(answer));
    }
  }

  void startWrite(Response answer) {
    current_ = std::move(answer);
    writing_ = true;
    sentAny_ = true;
    this->StartWrite(&current_);  // current_ stays untouched until OnWriteDone
  }

  void finishNow(grpc::Status status) {
    finishing_ = true;
    if (finished_) {
      return;
    }
    finished_ = true;
    code_ = status.error_code();
    this->Finish(std::move(status));
  }

  ExternalScalerService& service_;
  const std::string_view method_;
  const Clock::time_point start_;
  const Answer answer_;
  bool accepted_ = true;
  PolicyRef ref_;
  DecisionStore::Subscription subscription_;

  std::mutex mutex_;
  Response current_;                             // the last message written (or being written)
  std::optional<Response> next_;                  // the newest value waiting for the write to end
  std::optional<grpc::Status> finishAfterWrite_;  // the end, waiting for the writes to end
  bool sentAny_ = false;
  bool sentHeaders_ = false;  // ahead of any message (a stream that starts silent)
  bool writing_ = false;
  bool finishing_ = false;  // no more messages: a finish is done or waiting
  bool finished_ = false;   // Finish() called
  grpc::StatusCode code_ = grpc::StatusCode::OK;
};

ExternalScalerService::ExternalScalerService(DecisionStore& store, RequestObserver observer,
                                             StalenessCheck staleness, bool allowCrossNamespacePolicies)
    : store_(store),
      observer_(std::move(observer)),
      staleness_(std::move(staleness)),
      allowCrossNamespacePolicies_(allowCrossNamespacePolicies) {}

core::Result<PolicyRef> ExternalScalerService::policyFor(const ScaledObjectRef& ref) const {
  auto policy = policyRefFrom(ref);
  if (!policy) {
    return policy;
  }
  if (auto allowed = checkPolicyNamespace(ref, policy.value(), allowCrossNamespacePolicies_); !allowed) {
    return allowed.error();
  }
  return policy;
}

ExternalScalerService::~ExternalScalerService() = default;

void ExternalScalerService::observe(std::string_view method, grpc::StatusCode code, Clock::time_point start) const {
  if (observer_) {
    observer_(method, code, std::chrono::duration<double>(Clock::now() - start).count());
  }
}

grpc::ServerUnaryReactor* ExternalScalerService::finishUnary(grpc::CallbackServerContext* context,
                                                             std::string_view method, Clock::time_point start,
                                                             grpc::Status status) {
  // Observed before Finish(): afterwards gRPC may already be releasing the call.
  observe(method, status.error_code(), start);
  // gRPC's own reactor: no allocation for a call answered in the handler.
  auto* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

bool ExternalScalerService::streamOpened(OpenStream* stream) {
  openStreams_.fetch_add(1, std::memory_order_relaxed);
  const std::lock_guard lock(streamsMutex_);
  streams_.insert(stream);
  return !shuttingDown_;
}

void ExternalScalerService::streamClosing(OpenStream* stream) {
  const std::lock_guard lock(streamsMutex_);
  streams_.erase(stream);
}

void ExternalScalerService::finishStreams() {
  const std::lock_guard lock(streamsMutex_);
  shuttingDown_ = true;
  for (OpenStream* stream : streams_) {
    stream->finishForShutdown();
  }
}

void ExternalScalerService::streamDone(std::string_view method, grpc::StatusCode code, Clock::time_point start) {
  openStreams_.fetch_sub(1, std::memory_order_relaxed);
  observe(method, code, start);
}

grpc::ServerUnaryReactor* ExternalScalerService::IsActive(grpc::CallbackServerContext* context,
                                                          const ScaledObjectRef* request,
                                                          IsActiveResponse* response) {
  const auto start = Clock::now();
  auto ref = policyFor(*request);
  if (!ref) {
    return finishUnary(context, kIsActive, start, invalidArgument(ref.error()));
  }
  const auto entry = store_.find(ref.value().ns, ref.value().name);
  return finishUnary(context, kIsActive, start, answerIsActive(staleness_, ref.value(), entry.get(), *response));
}

grpc::ServerUnaryReactor* ExternalScalerService::GetMetricSpec(grpc::CallbackServerContext* context,
                                                               const ScaledObjectRef* request,
                                                               GetMetricSpecResponse* response) {
  const auto start = Clock::now();
  auto ref = policyFor(*request);
  if (!ref) {
    return finishUnary(context, kGetMetricSpec, start, invalidArgument(ref.error()));
  }
  const auto entry = store_.find(ref.value().ns, ref.value().name);
  return finishUnary(context, kGetMetricSpec, start,
                     answerMetricSpec(staleness_, ref.value(), entry.get(), *response));
}

grpc::ServerUnaryReactor* ExternalScalerService::GetMetrics(grpc::CallbackServerContext* context,
                                                            const GetMetricsRequest* request,
                                                            GetMetricsResponse* response) {
  const auto start = Clock::now();
  auto parsed = policyFor(request->scaledobjectref());
  if (!parsed) {
    return finishUnary(context, kGetMetrics, start, invalidArgument(parsed.error()));
  }
  const PolicyRef& ref = parsed.value();
  if (!metricNameMatches(request->metricname(), ref.name)) {
    return finishUnary(context, kGetMetrics, start,
                       {grpc::StatusCode::INVALID_ARGUMENT,
                        "metric " + quoteForMessage(request->metricname()) + " does not belong to policy " +
                            ref.display() + ": expected \"" + ref.metricName() +
                            "\" (letter case and KEDA's \"sN-\" prefix do not matter)"});
  }
  const auto entry = store_.find(ref.ns, ref.name);
  if (grpc::Status status = servableNow(staleness_, ref, entry.get()); !status.ok()) {
    return finishUnary(context, kGetMetrics, start, std::move(status));
  }
  const std::int32_t desired = entry->desiredReplicas();
  auto* value = response->add_metricvalues();
  // KEDA matches the answer by the name it asked for.
  value->set_metricname(request->metricname());
  value->set_metricvalue(desired);
  value->set_metricvaluefloat(static_cast<double>(desired));
  return finishUnary(context, kGetMetrics, start, grpc::Status::OK);
}

grpc::ServerWriteReactor<IsActiveResponse>* ExternalScalerService::StreamIsActive(grpc::CallbackServerContext*,
                                                                                  const ScaledObjectRef* request) {
  const auto start = Clock::now();
  // Owns itself: deleted in OnDone() (see PolicyStream).
  auto* stream = new PolicyStream<IsActiveResponse>(*this, kStreamIsActive, start, &answerIsActive);
  auto ref = policyFor(*request);
  if (!stream->accepted()) {
    stream->finishAtStart({grpc::StatusCode::UNAVAILABLE, "server shutting down"});
  } else if (!ref) {
    stream->finishAtStart(invalidArgument(ref.error()));
  } else {
    stream->start(store_, std::move(ref).value());
  }
  return stream;
}

grpc::ServerWriteReactor<GetMetricSpecResponse>* ExternalScalerService::StreamMetricSpec(
    grpc::CallbackServerContext*, const ScaledObjectRef* request) {
  const auto start = Clock::now();
  // Owns itself: deleted in OnDone() (see PolicyStream).
  auto* stream = new PolicyStream<GetMetricSpecResponse>(*this, kStreamMetricSpec, start, &answerMetricSpec);
  auto ref = policyFor(*request);
  if (!stream->accepted()) {
    stream->finishAtStart({grpc::StatusCode::UNAVAILABLE, "server shutting down"});
  } else if (!ref) {
    stream->finishAtStart(invalidArgument(ref.error()));
  } else {
    stream->start(store_, std::move(ref).value());
  }
  return stream;
}

}  // namespace kubeai::server

// soak_client: KEDA's side of the soak (bench/README.md, "Soak"), for minutes.
//
//   - GetMetrics in a closed loop, --concurrency calls in flight, round-robin
//     over the healthy policies policy-0 ... policy-<N-1> in "default"; every
//     answer that is not OK is counted against its policy (with the first
//     message), since the soak's first target is 0 errors on healthy policies.
//     grpc_load (bench/grpc) only counts errors by code.
//   - --streams StreamIsActive streams held open for the whole run (on
//     policy-0 ...): a stream that ends before the client cancels it is an
//     error too.
//   - --probe: one GetMetrics every 200 ms on a policy expected to fail (the
//     one whose plugin crashes), counted apart by code.
//
// Prints a progress line to stderr every --progress seconds and, at the end,
// one JSON object on stdout. Exit code 0 when no healthy call or stream failed.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using externalscaler::ExternalScaler;
using externalscaler::GetMetricsRequest;
using externalscaler::GetMetricsResponse;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;

constexpr std::size_t kStatusCodes = 17;
constexpr std::array<const char*, kStatusCodes> kStatusNames = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

std::size_t codeIndex(const grpc::Status& status) {
  return std::min(static_cast<std::size_t>(status.error_code()), kStatusCodes - 1);
}

std::string jsonString(const std::string& text) {
  std::ostringstream out;
  out << '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out << '\\' << c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out << ' ';
    } else {
      out << c;
    }
  }
  out << '"';
  return out.str();
}

std::string policyName(std::size_t i) { return "policy-" + std::to_string(i); }

// Errors of one kind of call, by policy and code, with the first message of each
// code for each policy. Errors are the exception: a mutex costs nothing on the OK path.
class ErrorBook {
 public:
  explicit ErrorBook(Clock::time_point started) : started_(started) {}

  void record(const std::string& policy, const grpc::Status& status) {
    const double at = std::chrono::duration<double>(Clock::now() - started_).count();
    const std::lock_guard lock(mutex_);
    firstAt_ = std::min(firstAt_, at);
    lastAt_ = std::max(lastAt_, at);
    auto& entry = byPolicy_[policy];
    entry.first.try_emplace(codeIndex(status), status.error_message());
    ++entry.count;
    ++byCode_[codeIndex(status)];
  }

  std::uint64_t total() const {
    const std::lock_guard lock(mutex_);
    std::uint64_t sum = 0;
    for (const auto& [policy, entry] : byPolicy_) {
      sum += entry.count;
    }
    return sum;
  }

  // {"total": N, "by_code": {...}, "by_policy": {"policy-3": {"count": 2, "first": {"NOT_FOUND": "..."}}}}
  // (at most 50 policies listed, with "policies" giving how many there were).
  std::string json() const {
    const std::lock_guard lock(mutex_);
    std::ostringstream out;
    std::uint64_t sum = 0;
    for (const auto& [policy, entry] : byPolicy_) {
      sum += entry.count;
    }
    out << "{\"total\": " << sum << ", \"policies\": " << byPolicy_.size();
    if (sum > 0) {
      out << ", \"first_at_s\": " << firstAt_ << ", \"last_at_s\": " << lastAt_;
    }
    out << ", \"by_code\": {";
    const char* separator = "";
    for (std::size_t code = 0; code < kStatusCodes; ++code) {
      if (byCode_[code] > 0) {
        out << separator << '"' << kStatusNames[code] << "\": " << byCode_[code];
        separator = ", ";
      }
    }
    out << "}, \"by_policy\": {";
    separator = "";
    std::size_t listed = 0;
    for (const auto& [policy, entry] : byPolicy_) {
      if (++listed > 50) {
        break;
      }
      out << separator << jsonString(policy) << ": {\"count\": " << entry.count << ", \"first\": {";
      const char* inner = "";
      for (const auto& [code, message] : entry.first) {
        out << inner << '"' << kStatusNames[code] << "\": " << jsonString(message);
        inner = ", ";
      }
      out << "}}";
      separator = ", ";
    }
    out << "}}";
    return out.str();
  }

 private:
  struct Entry {
    std::uint64_t count = 0;
    std::map<std::size_t, std::string> first;  // the first message of each code
  };
  Clock::time_point started_;
  mutable std::mutex mutex_;
  double firstAt_ = 1e300;  // seconds since started_
  double lastAt_ = 0;
  std::map<std::string, Entry> byPolicy_;
  std::array<std::uint64_t, kStatusCodes> byCode_{};
};

// Latency in log-spaced buckets (8 per power of two, in microseconds): enough
// for a p50/p99 next to the error counts, in fixed memory for any run length.
class Latency {
 public:
  void record(Clock::duration latency) {
    const double us = std::max(1.0, std::chrono::duration<double, std::micro>(latency).count());
    const auto bucket = std::min<std::size_t>(kBuckets - 1, static_cast<std::size_t>(std::log2(us) * 8));
    ++counts_[bucket];
    ++count_;
  }
  void merge(const Latency& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) {
      counts_[i] += other.counts_[i];
    }
    count_ += other.count_;
  }
  double percentileUs(double q) const {
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank && seen > 0) {
        return std::exp2((static_cast<double>(i) + 0.5) / 8);
      }
    }
    return 0;
  }

 private:
  static constexpr std::size_t kBuckets = 8 * 32;
  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
};

struct Shared {
  explicit Shared(Clock::time_point started) : errors(started) {}
  Clock::time_point end;
  std::chrono::milliseconds deadline{3000};
  std::atomic<std::uint64_t> ok{0};
  ErrorBook errors;
};

// One thread, one CompletionQueue, its share of the calls in flight.
class Worker {
 public:
  Worker(ExternalScaler::Stub& stub, const std::vector<GetMetricsRequest>& requests, Shared& shared,
         std::size_t slots, std::size_t first, std::size_t stride)
      : stub_(stub), requests_(requests), shared_(shared), slots_(slots), next_(first), stride_(stride) {}

  void run() {
    for (auto& slot : slots_) {
      start(slot);
    }
    std::size_t inFlight = slots_.size();
    void* tag = nullptr;
    bool ok = false;
    while (inFlight > 0 && queue_.Next(&tag, &ok)) {
      auto& slot = *static_cast<Slot*>(tag);
      const auto now = Clock::now();
      const auto& name = requests_[slot.request].scaledobjectref().name();
      if (!ok) {
        shared_.errors.record(name, grpc::Status(grpc::StatusCode::CANCELLED, "completion queue failed"));
      } else if (slot.status.ok() && slot.response.metricvalues_size() == 1) {
        shared_.ok.fetch_add(1, std::memory_order_relaxed);
        latency.record(now - slot.start);
      } else if (slot.status.ok()) {
        shared_.errors.record(name, grpc::Status(grpc::StatusCode::DATA_LOSS, "answer without one metric value"));
      } else {
        shared_.errors.record(name, slot.status);
      }
      if (now < shared_.end) {
        start(slot);
      } else {
        --inFlight;
      }
    }
    queue_.Shutdown();
    while (queue_.Next(&tag, &ok)) {
    }
  }

  Latency latency;

 private:
  struct Slot {
    std::size_t request = 0;
    Clock::time_point start{};
    std::optional<grpc::ClientContext> context;
    GetMetricsResponse response;
    grpc::Status status;
    // After the context: it lives in the call's arena.
    std::unique_ptr<grpc::ClientAsyncResponseReader<GetMetricsResponse>> reader;
  };

  void start(Slot& slot) {
    slot.request = next_;
    next_ = (next_ + stride_) % requests_.size();
    slot.reader.reset();
    slot.context.emplace();
    slot.context->set_deadline(std::chrono::system_clock::now() + shared_.deadline);
    slot.start = Clock::now();
    slot.reader = stub_.PrepareAsyncGetMetrics(&*slot.context, requests_[slot.request], &queue_);
    slot.reader->StartCall();
    slot.reader->Finish(&slot.response, &slot.status, &slot);
  }

  ExternalScaler::Stub& stub_;
  const std::vector<GetMetricsRequest>& requests_;
  Shared& shared_;
  std::vector<Slot> slots_;
  std::size_t next_;
  std::size_t stride_;
  grpc::CompletionQueue queue_;
};

// One StreamIsActive stream, read until the client cancels it.
class Stream : public grpc::ClientReadReactor<IsActiveResponse> {
 public:
  Stream(ExternalScaler::Stub& stub, std::string name, ErrorBook& errors) : name_(std::move(name)), errors_(errors) {
    ScaledObjectRef ref;
    ref.set_name(name_);
    ref.set_namespace_("default");
    stub.async()->StreamIsActive(&context_, &ref, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (ok) {
      messages_.fetch_add(1, std::memory_order_relaxed);
      StartRead(&response_);
    }
  }

  void OnDone(const grpc::Status& status) override {
    if (!cancelled_.load()) {
      errors_.record(name_, status.ok() ? grpc::Status(grpc::StatusCode::ABORTED, "stream ended by the server")
                                        : status);
    }
    const std::lock_guard lock(mutex_);
    done_ = true;
    doneChanged_.notify_all();
  }

  void cancel() {
    cancelled_.store(true);
    context_.TryCancel();
  }

  void waitDone() {
    std::unique_lock lock(mutex_);
    doneChanged_.wait(lock, [&] { return done_; });
  }

  std::uint64_t messages() const { return messages_.load(std::memory_order_relaxed); }

 private:
  std::string name_;
  ErrorBook& errors_;
  grpc::ClientContext context_;
  IsActiveResponse response_;
  std::atomic<std::uint64_t> messages_{0};
  std::atomic<bool> cancelled_{false};
  std::mutex mutex_;
  std::condition_variable doneChanged_;
  bool done_ = false;
};

struct Options {
  std::string target;
  std::size_t policies = 9'999;
  std::size_t concurrency = 64;
  std::size_t threads = 2;
  std::size_t streams = 100;
  std::string probe;
  double duration = 600;
  double progress = 10;
};

int run(const Options& options) {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), arguments);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "soak_client: cannot connect to " << options.target << "\n";
    return 2;
  }
  auto stub = ExternalScaler::NewStub(channel);
  std::vector<GetMetricsRequest> requests(options.policies);
  for (std::size_t i = 0; i < options.policies; ++i) {
    requests[i].mutable_scaledobjectref()->set_name(policyName(i));
    requests[i].mutable_scaledobjectref()->set_namespace_("default");
    requests[i].set_metricname("kubeai-" + policyName(i));
  }

  const auto started = Clock::now();
  Shared shared(started);
  shared.end = started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.duration));
  ErrorBook streamErrors(started);
  std::vector<std::unique_ptr<Stream>> streams;
  for (std::size_t i = 0; i < std::min(options.streams, options.policies); ++i) {
    streams.push_back(std::make_unique<Stream>(*stub, policyName(i), streamErrors));
  }

  ErrorBook probeAnswers(started);  // every answer of the probed policy, OK ones included
  std::atomic<bool> stop{false};
  std::jthread probe;
  if (!options.probe.empty()) {
    probe = std::jthread([&] {
      GetMetricsRequest request;
      request.mutable_scaledobjectref()->set_name(options.probe);
      request.mutable_scaledobjectref()->set_namespace_("default");
      request.set_metricname("kubeai-" + options.probe);
      while (!stop.load()) {
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
        GetMetricsResponse response;
        probeAnswers.record(options.probe, stub->GetMetrics(&context, request, &response));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    });
  }

  const auto threads = std::max<std::size_t>(1, std::min(options.threads, options.concurrency));
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t t = 0; t < threads; ++t) {
    const auto slots = options.concurrency / threads + (t < options.concurrency % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(*stub, requests, shared, slots, t, threads));
  }
  std::jthread reporter([&](std::stop_token token) {
    std::mutex mutex;
    std::condition_variable_any wake;
    auto next = Clock::now();
    while (true) {
      next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options.progress));
      std::unique_lock lock(mutex);
      if (wake.wait_until(lock, token, next, [] { return false; }); token.stop_requested()) {
        return;
      }
      std::uint64_t messages = 0;
      for (const auto& stream : streams) {
        messages += stream->messages();
      }
      std::cerr << "soak_client: t=" << std::chrono::duration<double>(Clock::now() - started).count()
                << "s ok=" << shared.ok.load() << " errors=" << shared.errors.total()
                << " stream_errors=" << streamErrors.total() << " stream_messages=" << messages << std::endl;
    }
  });
  {
    std::vector<std::jthread> running;
    for (auto& worker : workers) {
      running.emplace_back([&worker] { worker->run(); });
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  reporter.request_stop();
  stop.store(true);
  if (probe.joinable()) {
    probe.join();
  }
  std::uint64_t messages = 0;
  std::size_t silent = 0;  // streams that never got their first message
  for (auto& stream : streams) {
    messages += stream->messages();
    if (stream->messages() == 0) {
      ++silent;
    }
    stream->cancel();
  }
  for (auto& stream : streams) {
    stream->waitDone();
  }

  Latency latency;
  for (const auto& worker : workers) {
    latency.merge(worker->latency);
  }
  const auto ok = shared.ok.load();
  const auto errors = shared.errors.total();
  std::cout << "{\"seconds\": " << seconds << ", \"concurrency\": " << options.concurrency
            << ", \"policies\": " << options.policies << ", \"ok\": " << ok
            << ", \"requests_per_second\": " << static_cast<double>(ok) / seconds
            << ", \"latency_us\": {\"p50\": " << latency.percentileUs(0.5) << ", \"p99\": " << latency.percentileUs(0.99)
            << ", \"p999\": " << latency.percentileUs(0.999) << "}, \"errors\": " << shared.errors.json()
            << ", \"streams\": {\"open\": " << streams.size() << ", \"messages\": " << messages
            << ", \"silent\": " << silent << ", \"errors\": " << streamErrors.json() << "}, \"probe\": {\"policy\": "
            << jsonString(options.probe) << ", \"answers\": " << probeAnswers.json() << "}}" << std::endl;
  return errors == 0 && streamErrors.total() == 0 && silent == 0 && ok > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"soak_client: GetMetrics load, StreamIsActive streams and a probe, errors counted per policy"};
  Options options;
  app.add_option("--target", options.target, "HOST:PORT of the ExternalScaler")->required();
  app.add_option("--policies", options.policies, "healthy policies policy-0 ... policy-<N-1>, round-robin")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  app.add_option("--concurrency", options.concurrency, "GetMetrics calls in flight")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000}));
  app.add_option("--threads", options.threads, "client threads, each with its own completion queue")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}));
  app.add_option("--streams", options.streams, "StreamIsActive streams held open (policy-0 ...)")
      ->capture_default_str();
  app.add_option("--probe", options.probe, "a policy expected to fail, called every 200 ms and counted apart");
  app.add_option("--duration", options.duration, "seconds")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--progress", options.progress, "seconds between progress lines on stderr")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  return run(options);
}

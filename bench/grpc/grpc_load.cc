// grpc_load: drives KEDA's GetMetrics against an ExternalScaler, the way a busy
// KEDA does, and reports requests/s and latency percentiles (bench/grpc/README.md).
//
// Asynchronous: each thread owns a CompletionQueue and keeps its share of
// `--concurrency` calls in flight, starting a new one as soon as one completes
// (a closed loop). Requests go round-robin over `--policies` policy names, so a
// server under test has to look up a different policy on nearly every call.
// It always stops by itself: after `--duration` (plus the calls in flight, each
// bounded by `--deadline`) or after `--requests` calls.

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <memory>
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

// Apart from --deadline, which may be set tiny on purpose to provoke
// DEADLINE_EXCEEDED; a loopback connection takes milliseconds.
constexpr auto kConnectTimeout = std::chrono::seconds(5);

// grpc::StatusCode runs from OK (0) to UNAUTHENTICATED (16).
constexpr std::size_t kStatusCodes = 17;
constexpr std::array<const char*, kStatusCodes> kStatusNames = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

struct Options {
  std::string target;
  std::size_t concurrency = 64;
  std::string duration = "5s";
  std::optional<std::uint64_t> requests;
  std::size_t policies = 10'000;
  std::size_t channels = 1;
  // Two: on the 2-core reference machine one client thread held throughput
  // back at 16 and 64 calls in flight (bench/grpc/README.md).
  std::size_t threads = 2;
  std::string deadline = "3s";
  std::string warmup = "0s";
  bool json = false;
};

// "250us", "500ms", "5s", "1.5s", "2m", "1h"; like the server's flags a bare
// number is refused. Not kubeai::cli::parseDuration: that would link the whole
// server into its own load generator, and it stops at milliseconds.
std::optional<std::chrono::nanoseconds> parseDuration(const std::string& text) {
  std::size_t end = 0;
  double amount = 0;
  try {
    amount = std::stod(text, &end);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(end);
  double seconds = 0;
  if (unit == "us") {
    seconds = amount / 1e6;
  } else if (unit == "ms") {
    seconds = amount / 1e3;
  } else if (unit == "s") {
    seconds = amount;
  } else if (unit == "m") {
    seconds = amount * 60;
  } else if (unit == "h") {
    seconds = amount * 3600;
  } else {
    return std::nullopt;
  }
  // A day bounds every run; it also keeps the conversion below in range.
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 86'400) {
    return std::nullopt;
  }
  return std::chrono::nanoseconds(std::llround(seconds * 1e9));
}

// Latency histogram with log-linear buckets (as HdrHistogram): exact below 128 ns,
// then 128 buckets per power of two, so any value is within 0.4 % of its bucket's
// middle. Fixed size whatever the run length, unlike keeping every sample.
class LatencyHistogram {
 public:
  LatencyHistogram() : counts_(kBuckets, 0) {}

  void record(std::chrono::nanoseconds latency) {
    const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(latency.count(), 0));
    ++counts_[bucketOf(ns)];
    ++count_;
    sumNs_ += ns;
    maxNs_ = std::max(maxNs_, ns);
  }

  void merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < kBuckets; ++i) {
      counts_[i] += other.counts_[i];
    }
    count_ += other.count_;
    sumNs_ += other.sumNs_;
    maxNs_ = std::max(maxNs_, other.maxNs_);
  }

  std::uint64_t count() const { return count_; }
  double maxUs() const { return static_cast<double>(maxNs_) / 1e3; }
  double meanUs() const { return count_ == 0 ? 0.0 : static_cast<double>(sumNs_) / static_cast<double>(count_) / 1e3; }

  // The smallest recorded value v such that a fraction q of the values are <= v.
  double percentileUs(double q) const {
    if (count_ == 0) {
      return 0.0;
    }
    const auto rank =
        std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += counts_[i];
      if (seen >= rank) {
        return std::min(middleOf(i), static_cast<double>(maxNs_)) / 1e3;
      }
    }
    return maxUs();
  }

 private:
  static constexpr unsigned kSubBits = 7;
  static constexpr std::uint64_t kSubBuckets = 1u << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSubBuckets;

  static std::size_t bucketOf(std::uint64_t ns) {
    if (ns < kSubBuckets) {
      return static_cast<std::size_t>(ns);
    }
    const auto shift = static_cast<unsigned>(std::bit_width(ns)) - 1 - kSubBits;
    return static_cast<std::size_t>((shift + 1) * kSubBuckets + ((ns >> shift) - kSubBuckets));
  }

  static double middleOf(std::size_t bucket) {
    if (bucket < kSubBuckets) {
      return static_cast<double>(bucket);
    }
    const auto shift = bucket / kSubBuckets - 1;
    const auto low = (bucket % kSubBuckets + kSubBuckets) << shift;
    const auto width = std::uint64_t{1} << shift;
    return static_cast<double>(low) + static_cast<double>(width - 1) / 2.0;
  }

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t sumNs_ = 0;
  std::uint64_t maxNs_ = 0;
};

// When calls may start and which ones count; shared by all workers.
class Schedule {
 public:
  Schedule(Clock::time_point start, std::chrono::nanoseconds warmup, std::chrono::nanoseconds duration,
           std::optional<std::uint64_t> requests)
      : measureStart_(start + std::chrono::duration_cast<Clock::duration>(warmup)),
        end_(measureStart_ + std::chrono::duration_cast<Clock::duration>(duration)),
        requests_(requests) {}

  // Whether a call may start now. With a request count, exactly that many start
  // after the warm-up, across all workers.
  bool mayStart(Clock::time_point now) {
    if (now < measureStart_) {
      return true;
    }
    if (requests_) {
      return started_.fetch_add(1, std::memory_order_relaxed) < *requests_;
    }
    return now < end_;
  }

  bool measured(Clock::time_point callStart) const { return callStart >= measureStart_; }
  Clock::time_point measureStart() const { return measureStart_; }

 private:
  Clock::time_point measureStart_;
  Clock::time_point end_;
  std::optional<std::uint64_t> requests_;
  std::atomic<std::uint64_t> started_{0};
};

struct WorkerResult {
  LatencyHistogram latency;
  std::array<std::uint64_t, kStatusCodes> byCode{};
  Clock::time_point lastCompletion{};
};

// One thread, one CompletionQueue, a fixed set of call slots kept busy.
class Worker {
 public:
  struct Slot {
    ExternalScaler::Stub* stub = nullptr;
    Clock::time_point start{};
    // A ClientContext serves one call only; re-created in place for each call.
    std::optional<grpc::ClientContext> context;
    GetMetricsResponse response;
    grpc::Status status;
    // Declared after the context: it lives in the call's arena, so it must go first.
    std::unique_ptr<grpc::ClientAsyncResponseReader<GetMetricsResponse>> reader;
  };

  Worker(std::vector<ExternalScaler::Stub*> slotStubs, const std::vector<GetMetricsRequest>& requests,
         Schedule& schedule, std::chrono::nanoseconds deadline, std::size_t firstPolicy, std::size_t policyStride)
      : slots_(slotStubs.size()),
        requests_(requests),
        schedule_(schedule),
        deadline_(std::chrono::duration_cast<std::chrono::system_clock::duration>(deadline)),
        nextPolicy_(firstPolicy % requests.size()),
        policyStride_(policyStride) {
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      slots_[i].stub = slotStubs[i];
    }
  }

  WorkerResult run() {
    WorkerResult result;
    std::size_t inFlight = 0;
    for (auto& slot : slots_) {
      if (schedule_.mayStart(Clock::now())) {
        start(slot);
        ++inFlight;
      }
    }
    void* tag = nullptr;
    bool ok = false;
    while (inFlight > 0 && queue_.Next(&tag, &ok)) {
      auto& slot = *static_cast<Slot*>(tag);
      const auto now = Clock::now();
      if (schedule_.measured(slot.start)) {
        // ok is false only when the queue is shutting down, which it is not yet.
        const auto code = ok ? static_cast<std::size_t>(slot.status.error_code()) : std::size_t{1};
        ++result.byCode[std::min(code, kStatusCodes - 1)];
        if (ok && slot.status.ok()) {
          result.latency.record(now - slot.start);
        }
        result.lastCompletion = now;
      }
      if (schedule_.mayStart(now)) {
        start(slot);
      } else {
        --inFlight;
      }
    }
    queue_.Shutdown();
    while (queue_.Next(&tag, &ok)) {
    }
    return result;
  }

 private:
  void start(Slot& slot) {
    const auto& request = requests_[nextPolicy_];
    nextPolicy_ = (nextPolicy_ + policyStride_) % requests_.size();
    slot.reader.reset();
    slot.context.emplace();
    slot.context->set_deadline(std::chrono::system_clock::now() + deadline_);
    slot.start = Clock::now();
    slot.reader = slot.stub->PrepareAsyncGetMetrics(&*slot.context, request, &queue_);
    slot.reader->StartCall();
    slot.reader->Finish(&slot.response, &slot.status, &slot);
  }

  std::vector<Slot> slots_;
  const std::vector<GetMetricsRequest>& requests_;
  Schedule& schedule_;
  std::chrono::system_clock::duration deadline_;
  std::size_t nextPolicy_;
  std::size_t policyStride_;
  grpc::CompletionQueue queue_;
};

// What KEDA sends for policy i when the trigger carries no metadata: the
// ScaledObject is named after the policy.
std::vector<GetMetricsRequest> makeRequests(std::size_t policies) {
  std::vector<GetMetricsRequest> requests(policies);
  for (std::size_t i = 0; i < policies; ++i) {
    const std::string name = "policy-" + std::to_string(i);
    requests[i].mutable_scaledobjectref()->set_name(name);
    requests[i].mutable_scaledobjectref()->set_namespace_("default");
    requests[i].set_metricname("kubeai-" + name);
  }
  return requests;
}

std::string jsonString(const std::string& text) {
  std::ostringstream out;
  out << '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out << '\\' << c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out << "\\u" << std::hex << std::setw(4) << std::setfill('0') << static_cast<int>(c) << std::dec;
    } else {
      out << c;
    }
  }
  out << '"';
  return out.str();
}

struct Report {
  explicit Report(const Options& runOptions) : options(runOptions) {}

  const Options& options;
  double seconds = 0;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  WorkerResult totals;

  double requestsPerSecond() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0.0; }

  void printText(std::ostream& out) const {
    out << std::fixed << std::setprecision(1);
    out << "target " << options.target << ": GetMetrics over " << options.policies << " policies, "
        << options.concurrency << " in flight, " << options.channels << " channel(s), " << options.threads
        << " thread(s)\n";
    out << "measured " << std::setprecision(3) << seconds << " s: " << ok << " ok, " << errors << " errors, "
        << std::setprecision(1) << requestsPerSecond() << " requests/s\n";
    out << "latency (us): p50 " << totals.latency.percentileUs(0.50) << "  p99 " << totals.latency.percentileUs(0.99)
        << "  p999 " << totals.latency.percentileUs(0.999) << "  max " << totals.latency.maxUs() << "  mean "
        << totals.latency.meanUs() << "\n";
    if (errors > 0) {
      out << "errors:";
      for (std::size_t code = 1; code < kStatusCodes; ++code) {
        if (totals.byCode[code] > 0) {
          out << ' ' << kStatusNames[code] << ' ' << totals.byCode[code];
        }
      }
      out << "\n";
    }
  }

  void printJson(std::ostream& out) const {
    out << std::fixed << std::setprecision(1);
    out << "{\"target\": " << jsonString(options.target)
        << ", \"method\": \"GetMetrics\", \"policies\": " << options.policies
        << ", \"concurrency\": " << options.concurrency << ", \"channels\": " << options.channels
        << ", \"threads\": " << options.threads << ", \"seconds\": " << std::setprecision(3) << seconds
        << std::setprecision(1) << ", \"ok\": " << ok << ", \"errors\": " << errors << ", \"errors_by_code\": {";
    const char* separator = "";
    for (std::size_t code = 1; code < kStatusCodes; ++code) {
      if (totals.byCode[code] > 0) {
        out << separator << '"' << kStatusNames[code] << "\": " << totals.byCode[code];
        separator = ", ";
      }
    }
    out << "}, \"requests_per_second\": " << requestsPerSecond()
        << ", \"latency_us\": {\"p50\": " << totals.latency.percentileUs(0.50)
        << ", \"p99\": " << totals.latency.percentileUs(0.99) << ", \"p999\": " << totals.latency.percentileUs(0.999)
        << ", \"max\": " << totals.latency.maxUs() << ", \"mean\": " << totals.latency.meanUs() << "}}\n";
  }
};

int runLoad(Options options) {
  const auto duration = *parseDuration(options.duration);
  const auto deadline = *parseDuration(options.deadline);
  const auto warmup = *parseDuration(options.warmup);
  // A thread without a call slot would have nothing to do.
  options.threads = std::min(options.threads, options.concurrency);

  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<ExternalScaler::Stub>> stubs;
  for (std::size_t i = 0; i < options.channels; ++i) {
    grpc::ChannelArguments arguments;
    // Channels to one target otherwise share one subchannel, i.e. one TCP
    // connection, and --channels would change nothing.
    arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels.push_back(grpc::CreateCustomChannel(options.target, grpc::InsecureChannelCredentials(), arguments));
    // Connecting is not part of the measurement.
    if (!channels.back()->WaitForConnected(std::chrono::system_clock::now() + kConnectTimeout)) {
      std::cerr << "grpc_load: cannot connect to " << options.target << " within "
                << std::chrono::duration_cast<std::chrono::seconds>(kConnectTimeout).count() << " s\n";
      return 2;
    }
    stubs.push_back(ExternalScaler::NewStub(channels.back()));
  }
  const auto requests = makeRequests(options.policies);

  // Call slot j runs on thread j % threads over channel j % channels.
  std::vector<std::vector<ExternalScaler::Stub*>> slotStubs(options.threads);
  for (std::size_t j = 0; j < options.concurrency; ++j) {
    slotStubs[j % options.threads].push_back(stubs[j % options.channels].get());
  }

  Schedule schedule(Clock::now(), warmup, duration, options.requests);
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t t = 0; t < options.threads; ++t) {
    workers.push_back(std::make_unique<Worker>(slotStubs[t], requests, schedule, deadline, t, options.threads));
  }
  std::vector<WorkerResult> results(options.threads);
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 0; t < options.threads; ++t) {
      threads.emplace_back([&, t] { results[t] = workers[t]->run(); });
    }
  }

  Report report{options};
  for (const auto& result : results) {
    report.totals.latency.merge(result.latency);
    for (std::size_t code = 0; code < kStatusCodes; ++code) {
      report.totals.byCode[code] += result.byCode[code];
    }
    report.totals.lastCompletion = std::max(report.totals.lastCompletion, result.lastCompletion);
  }
  report.ok = report.totals.byCode[0];
  for (std::size_t code = 1; code < kStatusCodes; ++code) {
    report.errors += report.totals.byCode[code];
  }
  if (report.totals.lastCompletion > schedule.measureStart()) {
    report.seconds = std::chrono::duration<double>(report.totals.lastCompletion - schedule.measureStart()).count();
  }
  if (options.json) {
    report.printJson(std::cout);
  } else {
    report.printText(std::cout);
  }
  // A report either way; the exit code lets a script tell a clean run.
  return report.errors == 0 && report.ok > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"grpc_load: GetMetrics load against a KEDA ExternalScaler; requests/s and latency percentiles"};
  Options options;
  const CLI::Validator duration(
      [](std::string& text) {
        return parseDuration(text) ? std::string() : "not a duration (250us, 500ms, 5s, 2m): " + text;
      },
      "DURATION");
  app.add_option("--target", options.target, "HOST:PORT of the ExternalScaler")->required();
  app.add_option("--concurrency", options.concurrency, "calls in flight")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1'000'000}));
  auto* durationOption = app.add_option("--duration", options.duration, "how long to measure (after --warmup)")
                             ->capture_default_str()
                             ->check(duration);
  app.add_option("--requests", options.requests, "measure this many calls instead of a duration")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1'000'000'000}))
      ->excludes(durationOption);
  app.add_option("--policies", options.policies, "distinct policy names, requested round-robin")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}));
  app.add_option("--channels", options.channels, "gRPC channels (TCP connections)")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{1024}));
  app.add_option("--threads", options.threads, "client threads, each with its own completion queue")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{1}, std::size_t{256}));
  app.add_option("--deadline", options.deadline, "deadline of each call")->capture_default_str()->check(duration);
  app.add_option("--warmup", options.warmup, "load before measuring, not counted")
      ->capture_default_str()
      ->check(duration);
  app.add_flag("--json", options.json, "print the report as one JSON object");
  CLI11_PARSE(app, argc, argv);
  return runLoad(std::move(options));
}

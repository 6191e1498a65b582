// The ABI 1.1 parts of the C++ SDK on their own, without the server: the new
// Input getters (and what they read from a 1.0 host's smaller input), the
// per-policy state, the host logger, validateParameters(), held and
// decidedRatio, the rounding helpers, and the Algorithm the macro exports.
#include <doctest/doctest.h>
#include <kubeai/scaler_plugin.h>
#include <kubeai/scaler_plugin.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Sizes of the 1.0 structs, compiled in C against test/plugin/fixtures/abi_1_0/scaler_plugin_1_0.h.
extern "C" std::size_t kubeai_test_abi_1_0_input_size(void);
extern "C" std::size_t kubeai_test_abi_1_0_result_size(void);
extern "C" std::size_t kubeai_test_abi_1_0_algorithm_size(void);

namespace kubeai::plugin_sdk {
namespace {

using LogLines = std::vector<std::pair<std::int32_t, std::string>>;

void captureLog(void* context, std::int32_t level, const char* message) {
  static_cast<LogLines*>(context)->emplace_back(level, message);
}

// A complete 1.1 input, as a current host builds it, with a logger that keeps
// the lines and a state slot.
struct RawInput11 {
  std::array<kubeai_metric_ratio, 2> ratios{{{KUBEAI_SLOT_LATENCY_P99, 1.25}, {KUBEAI_SLOT_REQUEST_QUEUE_DEPTH, 0.5}}};
  std::array<kubeai_metric, 2> metrics{{
      {KUBEAI_SLOT_LATENCY_P99, "latencyP99", 250.0, "ms", 200.0, "Value", 1.25},
      {KUBEAI_SLOT_REQUEST_QUEUE_DEPTH, "requestQueueDepth", 30.0, "requests", 20.0, "AverageValue", 0.5},
  }};
  std::array<kubeai_parameter, 1> parameters{{{"minStep", "2"}}};
  LogLines lines;
  kubeai_host host{};
  void* slot = nullptr;
  kubeai_scaling_input input{};

  RawInput11() {
    host.struct_size = sizeof(kubeai_host);
    host.context = &lines;
    host.log = &captureLog;
    input.struct_size = sizeof(kubeai_scaling_input);
    input.current_replicas = 3;
    input.min_replicas = 1;
    input.max_replicas = 10;
    input.ratios = ratios.data();
    input.ratio_count = ratios.size();
    input.tolerance = 0.1;
    input.policy_name = "chat";
    input.policy_namespace = "team-a";
    input.parameters = parameters.data();
    input.parameter_count = parameters.size();
    input.metrics = metrics.data();
    input.metric_count = metrics.size();
    input.now_unix_ms = 1700000000123;
    input.call_reason = KUBEAI_CALL_TRIGGERED;
    input.cycle = 7;
    input.state = &slot;
    input.host = &host;
  }
};

TEST_CASE("the 1.0 layout is the 1.1 layout's prefix") {
  // Structs only grow at the end: a 1.0 host's sizes end where 1.1's fields begin.
  CHECK(kubeai_test_abi_1_0_input_size() == offsetof(kubeai_scaling_input, metrics));
  CHECK(kubeai_test_abi_1_0_result_size() == offsetof(kubeai_scaling_result, held));
  CHECK(kubeai_test_abi_1_0_algorithm_size() == offsetof(kubeai_scaling_algorithm, validate_parameters));
}

TEST_CASE("Input reads the ABI 1.1 fields") {
  RawInput11 raw;
  const Input input(raw.input);
  REQUIRE(input.metrics().size() == 2);
  const Metric& latency = input.metrics()[0];
  CHECK(textOf(latency.name) == "latencyP99");
  CHECK(latency.value == doctest::Approx(250.0));
  CHECK(textOf(latency.unit) == "ms");
  CHECK(latency.target == doctest::Approx(200.0));
  CHECK(textOf(latency.target_type) == "Value");
  CHECK(latency.ratio == doctest::Approx(1.25));

  const Metric* queue = input.metric(KUBEAI_SLOT_REQUEST_QUEUE_DEPTH);
  REQUIRE(queue != nullptr);
  CHECK(textOf(queue->name) == "requestQueueDepth");
  CHECK(textOf(queue->target_type) == "AverageValue");
  CHECK(input.metric(KUBEAI_SLOT_GPU_UTILIZATION) == nullptr);  // not present
  // By name, as custom metrics are found (their slot is their place in the policy).
  CHECK(input.metric("requestQueueDepth") == queue);
  CHECK(input.metric("kvCache") == nullptr);
  CHECK(kubeai_input_metric_named(&raw.input, "requestQueueDepth") == queue);
  CHECK(kubeai_input_metric_named(&raw.input, "kvCache") == nullptr);
  CHECK(kubeai_input_metric_named(&raw.input, nullptr) == nullptr);

  CHECK(input.nowUnixMs() == 1700000000123);
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(input.now().time_since_epoch()).count() ==
        1700000000123);
  CHECK(input.callReason() == CallReason::kTriggered);
  CHECK(callReasonName(input.callReason()) == "triggered");
  CHECK(input.cycle() == 7u);
  CHECK(input.hasState());

  input.log(LogLevel::kWarn, "hello host");
  input.log(LogLevel::kDebug, std::string_view("cut here, not there").substr(0, 8));  // need not be NUL-terminated
  REQUIRE(raw.lines.size() == 2);
  CHECK(raw.lines[0] == std::make_pair(std::int32_t{KUBEAI_LOG_WARN}, std::string("hello host")));
  CHECK(raw.lines[1].second == "cut here");
}

TEST_CASE("callReasonName names every reason and an unknown one") {
  CHECK(callReasonName(CallReason::kCycle) == "cycle");
  CHECK(callReasonName(CallReason::kEvaluate) == "evaluate");
  CHECK(callReasonName(CallReason::kSimulate) == "simulate");
  CHECK(callReasonName(static_cast<CallReason>(42)) == "unknown");  // a newer host's
}

TEST_CASE("a 1.0 host's input: the 1.1 fields read as empty or zero") {
  RawInput11 raw;
  raw.input.struct_size = static_cast<std::uint32_t>(kubeai_test_abi_1_0_input_size());
  const Input input(raw.input);
  // Everything of 1.0 is still there.
  CHECK(input.currentReplicas() == 3);
  CHECK(input.ratios().size() == 2);
  CHECK(input.parameter("minStep") == std::optional<std::string_view>("2"));
  // And nothing of 1.1, although the memory behind it is filled in.
  CHECK(input.metrics().empty());
  CHECK(input.metric(KUBEAI_SLOT_LATENCY_P99) == nullptr);
  CHECK(input.nowUnixMs() == 0);
  CHECK(input.now() == std::chrono::system_clock::time_point());
  CHECK(input.callReason() == CallReason::kCycle);
  CHECK(input.cycle() == 0u);
  CHECK_FALSE(input.hasState());
  input.log(LogLevel::kError, "nobody listens");
  CHECK(raw.lines.empty());
  CHECK(kubeai_input_metric(&raw.input, KUBEAI_SLOT_LATENCY_P99) == nullptr);  // the C helper agrees
}

TEST_CASE("Input treats each 1.1 field beyond struct_size as zero") {
  RawInput11 raw;
  struct Row {
    std::size_t size;  // the struct_size the host declares
    bool metrics;
    bool now;
    bool reason;  // call_reason and cycle
    bool state;
    bool log;
  };
  const Row rows[] = {
      {offsetof(kubeai_scaling_input, metric_count), false, false, false, false, false},  // metrics w/o count
      {offsetof(kubeai_scaling_input, now_unix_ms), true, false, false, false, false},    // up to metric_count
      {offsetof(kubeai_scaling_input, call_reason), true, true, false, false, false},     // up to now
      {offsetof(kubeai_scaling_input, state), true, true, true, false, false},            // up to cycle
      {offsetof(kubeai_scaling_input, host), true, true, true, true, false},              // up to state
      {sizeof(kubeai_scaling_input), true, true, true, true, true},                       // everything
  };
  for (const Row& row : rows) {
    CAPTURE(row.size);
    raw.input.struct_size = static_cast<std::uint32_t>(row.size);
    raw.lines.clear();
    const Input input(raw.input);
    CHECK(input.metrics().size() == (row.metrics ? 2u : 0u));
    CHECK(input.nowUnixMs() == (row.now ? 1700000000123 : 0));
    CHECK(input.callReason() == (row.reason ? CallReason::kTriggered : CallReason::kCycle));
    CHECK(input.cycle() == (row.reason ? 7u : 0u));
    CHECK(input.hasState() == row.state);
    input.log(LogLevel::kInfo, "x");
    CHECK(raw.lines.size() == (row.log ? 1u : 0u));
  }
  // A host struct too small for its log pointer, or without one: no call.
  raw.lines.clear();
  raw.input.struct_size = sizeof(kubeai_scaling_input);
  raw.host.struct_size = static_cast<std::uint32_t>(offsetof(kubeai_host, log));
  Input(raw.input).log(LogLevel::kInfo, "x");
  raw.host.struct_size = sizeof(kubeai_host);
  raw.host.log = nullptr;
  Input(raw.input).log(LogLevel::kInfo, "x");
  raw.input.host = nullptr;
  Input(raw.input).log(LogLevel::kInfo, "x");
  CHECK(raw.lines.empty());
}

// --- State ------------------------------------------------------------------------

struct CounterState {
  static inline int alive = 0;  // how many exist: creation and destruction are counted
  int calls = 0;
  CounterState() { ++alive; }
  ~CounterState() { --alive; }
  CounterState(const CounterState&) = delete;
  CounterState& operator=(const CounterState&) = delete;
};

struct Counts {
  using State = CounterState;
  Result compute(const Input& input) const {
    CounterState& state = input.state<CounterState>();
    ++state.calls;
    return {input.currentReplicas(), "calls=" + std::to_string(state.calls), {}};
  }
};
struct AsksForAnotherType {
  using State = CounterState;
  Result compute(const Input& input) const { return {input.state<int>(), {}, {}}; }
};
struct DeclaresNoState {
  Result compute(const Input& input) const { return {input.state<CounterState>().calls, {}, {}}; }
};

template <typename T>
T& instanceOf() {
  static T instance;
  return instance;
}

struct Outcome {
  int status = -1;
  std::int32_t desired = -1;
  std::int32_t held = -7;
  double decidedRatio = -7.0;
  std::string reason;
  std::string error;
};

// One trampoline call with the host's presets, into a result of `resultSize`.
template <typename T>
Outcome call(const kubeai_scaling_input& input, std::size_t resultSize = sizeof(kubeai_scaling_result)) {
  std::array<char, 64> reason{};
  std::array<char, 64> error{};
  kubeai_scaling_result result{};
  result.struct_size = static_cast<std::uint32_t>(resultSize);
  result.desired_replicas = input.current_replicas;
  result.reason = reason.data();
  result.reason_capacity = reason.size();
  result.error = error.data();
  result.error_capacity = error.size();
  result.held = -7;  // sentinels: what the SDK leaves alone stays so
  result.decided_ratio = -7.0;
  Outcome outcome;
  outcome.status = detail::invoke(&instanceOf<T>, &input, &result);
  outcome.desired = result.desired_replicas;
  outcome.held = result.held;
  outcome.decidedRatio = result.decided_ratio;
  outcome.reason = reason.data();
  outcome.error = error.data();
  return outcome;
}

TEST_CASE("state: made on first use, handed back, freed by the exported destroy_state") {
  RawInput11 raw;
  CHECK(CounterState::alive == 0);
  CHECK(call<Counts>(raw.input).reason == "calls=1");
  REQUIRE(raw.slot != nullptr);
  CHECK(CounterState::alive == 1);
  CHECK(call<Counts>(raw.input).reason == "calls=2");
  CHECK(call<Counts>(raw.input).reason == "calls=3");

  // Another policy's slot is another state.
  RawInput11 other;
  CHECK(call<Counts>(other.input).reason == "calls=1");
  CHECK(CounterState::alive == 2);

  constexpr kubeai_destroy_state_fn destroy = detail::destroyStateOf<Counts>();
  REQUIRE(static_cast<bool>(destroy));
  destroy(nullptr, raw.slot);
  destroy(nullptr, other.slot);
  CHECK(CounterState::alive == 0);

  // As after a hot reload: the host starts the policy again from NULL.
  raw.slot = nullptr;
  CHECK(call<Counts>(raw.input).reason == "calls=1");
  destroy(nullptr, raw.slot);
  CHECK(CounterState::alive == 0);
}

TEST_CASE("state: the wrong type, no State declared, or a 1.0 host fail the call") {
  RawInput11 raw;
  auto outcome = call<AsksForAnotherType>(raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_ERROR);
  CHECK(outcome.error.rfind("Input::state<T>(): T is not the algorithm", 0) == 0);

  static_assert(detail::destroyStateOf<DeclaresNoState>() == nullptr);
  outcome = call<DeclaresNoState>(raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_ERROR);
  CHECK(outcome.error.rfind("Input::state<T>(): T is not the algorithm", 0) == 0);
  CHECK(raw.slot == nullptr);  // nothing made that nobody could free

  raw.input.struct_size = static_cast<std::uint32_t>(kubeai_test_abi_1_0_input_size());
  outcome = call<Counts>(raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_ERROR);
  CHECK(outcome.error.rfind("no per-policy state slot", 0) == 0);
  CHECK(CounterState::alive == 0);
}

// --- held and decidedRatio -----------------------------------------------------------

struct HoldsWithRatio {
  Result compute(const Input& input) const {
    Result result{input.currentReplicas(), "held", {}};
    result.held = true;
    result.decidedRatio = 1.05;
    return result;
  }
};
struct ComputesWithRatio {
  Result compute(const Input&) const {
    Result result{5, "up", {}};
    result.held = false;
    result.decidedRatio = 1.25;
    return result;
  }
};
struct SaysNeither {
  Result compute(const Input&) const { return {4, "plain", {}}; }  // the 1.0 aggregate form still compiles
};

TEST_CASE("held and decidedRatio reach the result, and only a 1.1 result") {
  RawInput11 raw;
  auto outcome = call<HoldsWithRatio>(raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_OK);
  CHECK(outcome.held == 1);
  CHECK(outcome.decidedRatio == doctest::Approx(1.05));

  outcome = call<ComputesWithRatio>(raw.input);
  CHECK(outcome.desired == 5);
  CHECK(outcome.held == 0);
  CHECK(outcome.decidedRatio == doctest::Approx(1.25));

  outcome = call<SaysNeither>(raw.input);  // unset: the host's presets stay
  CHECK(outcome.desired == 4);
  CHECK(outcome.held == -7);
  CHECK(outcome.decidedRatio == doctest::Approx(-7.0));

  // A 1.0 host's result ends before them: never written past its struct_size.
  outcome = call<ComputesWithRatio>(raw.input, kubeai_test_abi_1_0_result_size());
  CHECK(outcome.status == KUBEAI_SCALER_OK);
  CHECK(outcome.desired == 5);
  CHECK(outcome.held == -7);
  CHECK(outcome.decidedRatio == doctest::Approx(-7.0));
}

}  // namespace
}  // namespace kubeai::plugin_sdk

// The SDK headers on their own: the C helpers, the C++ Input view honouring
// struct_size (a 1.0 host's input included), and the trampolines that keep
// exceptions inside the plugin. The ABI 1.1 parts are in plugin_sdk_abi_1_1_test.cc.
#include <doctest/doctest.h>
#include <kubeai/scaler_plugin.h>
#include <kubeai/scaler_plugin.hpp>

#include <array>
#include <cstddef>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kubeai::plugin_sdk {
namespace {

// A complete input, as a current host builds it.
struct RawInput {
  std::array<kubeai_metric_ratio, 2> ratios{{{KUBEAI_SLOT_LATENCY_P99, 0.5}, {KUBEAI_SLOT_GPU_UTILIZATION, 1.5}}};
  std::array<kubeai_parameter, 2> parameters{{{"alpha", "0.3"}, {"empty", nullptr}}};
  std::array<double, 3> weights{2.0, 1.0, 0.5};
  kubeai_scaling_input input{};

  RawInput() {
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
    input.weights = weights.data();
    input.weight_count = weights.size();
  }
};

TEST_CASE("ABI version packing") {
  CHECK(KUBEAI_SCALER_ABI_VERSION == 0x00010001u);
  CHECK(KUBEAI_SCALER_MAKE_ABI_VERSION(2, 7) == 0x00020007u);
  CHECK(KUBEAI_SCALER_ABI_MAJOR(0x00020007u) == 2u);
  CHECK(KUBEAI_SCALER_ABI_MINOR(0x00020007u) == 7u);
}

TEST_CASE("kubeai_copy_text truncates and always terminates") {
  std::array<char, 4> buffer{'?', '?', '?', '?'};
  kubeai_copy_text(buffer.data(), buffer.size(), "hello");
  CHECK(std::string(buffer.data()) == "hel");
  kubeai_copy_text(buffer.data(), buffer.size(), nullptr);
  CHECK(std::string(buffer.data()).empty());
  buffer[0] = '?';
  kubeai_copy_text(buffer.data(), 0, "x");  // no room at all: untouched
  CHECK(buffer[0] == '?');
  kubeai_copy_text(nullptr, 10, "x");  // no buffer: no crash
}

TEST_CASE("the C parameter lookup") {
  RawInput raw;
  CHECK(std::string(kubeai_input_parameter(&raw.input, "alpha")) == "0.3");
  CHECK(std::string(kubeai_input_parameter(&raw.input, "empty")).empty());  // NULL value reads as ""
  CHECK(kubeai_input_parameter(&raw.input, "absent") == nullptr);
  CHECK(kubeai_input_parameter(&raw.input, nullptr) == nullptr);
  // A host whose struct ends before the parameters has none.
  raw.input.struct_size = static_cast<std::uint32_t>(offsetof(kubeai_scaling_input, parameters));
  CHECK(kubeai_input_parameter(&raw.input, "alpha") == nullptr);
}

TEST_CASE("Input reads every field of a full struct") {
  RawInput raw;
  const Input input(raw.input);
  CHECK(input.currentReplicas() == 3);
  CHECK(input.minReplicas() == 1);
  CHECK(input.maxReplicas() == 10);
  CHECK(input.tolerance() == doctest::Approx(0.1));
  CHECK(input.policyName() == "chat");
  CHECK(input.policyNamespace() == "team-a");
  REQUIRE(input.ratios().size() == 2);
  CHECK(input.ratios()[1].slot == KUBEAI_SLOT_GPU_UTILIZATION);
  CHECK(input.ratios()[1].ratio == doctest::Approx(1.5));
  CHECK(input.maxRatio() == doctest::Approx(1.5));
  double sum = 0.0;
  for (const MetricRatio& r : input.ratios()) {
    sum += r.ratio;
  }
  CHECK(sum == doctest::Approx(2.0));
  const std::span<const double> weights = input.weights();
  CHECK(weights.size() == 3);
  CHECK(weights[0] == doctest::Approx(2.0));
  CHECK(input.parameters().size() == 2);
  CHECK(input.parameter("alpha") == std::optional<std::string_view>("0.3"));
  CHECK(input.parameter("empty") == std::optional<std::string_view>(""));
  CHECK_FALSE(input.parameter("absent").has_value());
}

TEST_CASE("Input treats fields beyond struct_size as zero or empty") {
  RawInput raw;
  struct Row {
    std::size_t size;      // the struct_size an older host declares
    bool replicas;         // current/min/max readable
    bool ratios;           // ratios readable
    bool policy;           // name and namespace readable
    bool parameters;       // parameters readable
    bool weights;          // weights readable
  };
  const Row rows[] = {
      {0, false, false, false, false, false},                                                         // nothing
      {offsetof(kubeai_scaling_input, ratios), true, false, false, false, false},                    // up to max_replicas
      {offsetof(kubeai_scaling_input, ratio_count), true, false, false, false, false},               // ratios w/o count
      {offsetof(kubeai_scaling_input, policy_name), true, true, false, false, false},                // up to tolerance
      {offsetof(kubeai_scaling_input, parameters), true, true, true, false, false},                  // up to namespace
      {offsetof(kubeai_scaling_input, weights), true, true, true, true, false},                      // up to parameters
      {sizeof(kubeai_scaling_input), true, true, true, true, true},                                  // everything
  };
  for (const Row& row : rows) {
    CAPTURE(row.size);
    raw.input.struct_size = static_cast<std::uint32_t>(row.size);
    const Input input(raw.input);
    CHECK(input.currentReplicas() == (row.replicas ? 3 : 0));
    CHECK(input.maxReplicas() == (row.replicas ? 10 : 0));
    CHECK(input.ratios().size() == (row.ratios ? 2u : 0u));
    CHECK(input.maxRatio().has_value() == row.ratios);
    CHECK(input.tolerance() == doctest::Approx(row.ratios ? 0.1 : 0.0));
    CHECK(input.policyName() == (row.policy ? "chat" : ""));
    CHECK(input.policyNamespace() == (row.policy ? "team-a" : ""));
    CHECK(input.parameter("alpha").has_value() == row.parameters);
    CHECK(input.weights().size() == (row.weights ? 3u : 0u));
  }
}

// Algorithms for the trampoline, one behaviour each.
struct Answers {
  Result compute(const Input& input) const { return {input.currentReplicas() * 2, "doubled", {}}; }
};
struct LongReason {
  Result compute(const Input&) const { return {1, std::string(100, 'r'), {}}; }
};
struct ThrowsStd {
  Result compute(const Input&) const { throw std::out_of_range("out of range here"); }
};
struct ThrowsEmptyWhat {
  Result compute(const Input&) const { throw std::runtime_error(""); }
};
struct ThrowsOther {
  Result compute(const Input&) const { throw std::string("not an exception class"); }
};
struct LeavesReplicasUnset {
  Result compute(const Input&) const {
    Result result;
    result.reason = "nothing to say";
    return result;
  }
};
struct Fails {
  Result compute(const Input&) const { return Result::failure("no thanks"); }
};

template <typename T>
T& instanceOf() {
  static T instance;
  return instance;
}

// What one trampoline call left in a host's 32-byte buffers.
struct Outcome {
  int status = -1;
  std::int32_t desired = -1;
  std::string reason;
  std::string error;
};

template <typename T>
Outcome call(const kubeai_scaling_input* input) {
  std::array<char, 32> reason{};
  std::array<char, 32> error{};
  kubeai_scaling_result result{};
  result.struct_size = sizeof(kubeai_scaling_result);
  result.reason = reason.data();
  result.reason_capacity = reason.size();
  result.error = error.data();
  result.error_capacity = error.size();
  Outcome outcome;
  outcome.status = detail::invoke(&instanceOf<T>, input, &result);
  outcome.desired = result.desired_replicas;
  outcome.reason = reason.data();
  outcome.error = error.data();
  return outcome;
}

TEST_CASE("the trampoline: answers, errors and exceptions") {
  RawInput raw;

  auto outcome = call<Answers>(&raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_OK);
  CHECK(outcome.desired == 6);
  CHECK(outcome.reason == "doubled");

  outcome = call<LongReason>(&raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_OK);
  CHECK(outcome.reason == std::string(31, 'r'));  // cut to the host's buffer

  outcome = call<ThrowsStd>(&raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_ERROR);
  CHECK(outcome.error == "out of range here");

  outcome = call<ThrowsEmptyWhat>(&raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_ERROR);
  CHECK(outcome.error == "exception without a message");

  outcome = call<ThrowsOther>(&raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_ERROR);
  CHECK(outcome.error == "unknown exception");

  // The host presets the current replicas; an unset answer keeps them.
  std::array<char, 32> reason{};
  std::array<char, 32> error{};
  kubeai_scaling_result preset{};
  preset.struct_size = sizeof(kubeai_scaling_result);
  preset.desired_replicas = 3;
  preset.reason = reason.data();
  preset.reason_capacity = reason.size();
  preset.error = error.data();
  preset.error_capacity = error.size();
  CHECK(detail::invoke(&instanceOf<LeavesReplicasUnset>, &raw.input, &preset) == KUBEAI_SCALER_OK);
  CHECK(preset.desired_replicas == 3);
  CHECK(std::string(reason.data()) == "nothing to say");

  outcome = call<Fails>(&raw.input);
  CHECK(outcome.status == KUBEAI_SCALER_ERROR);
  CHECK(outcome.error == "no thanks");

  outcome = call<Answers>(nullptr);
  CHECK(outcome.status == KUBEAI_SCALER_ERROR);
  CHECK(outcome.error == "no input");

  CHECK(detail::invoke(&instanceOf<Answers>, &raw.input, nullptr) == KUBEAI_SCALER_ERROR);
}

}  // namespace
}  // namespace kubeai::plugin_sdk

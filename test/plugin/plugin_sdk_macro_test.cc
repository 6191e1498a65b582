// The C++ SDK's validateParameters() hook, the Algorithm that
// KUBEAI_SCALER_PLUGIN exports (ABI 1.1: its version, size and optional entry
// points), and the rounding helpers, without the server.
#include <doctest/doctest.h>
#include <kubeai/scaler_plugin.h>
#include <kubeai/scaler_plugin.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

namespace {

using kubeai::plugin_sdk::Input;
using kubeai::plugin_sdk::Result;
using kubeai::plugin_sdk::ValidateInput;

// The macro's class: validates minStep and keeps a per-policy counter.
struct ProbeState {
  int calls = 0;
};
class MacroProbe {
 public:
  using State = ProbeState;
  Result compute(const Input& input) const {
    const int calls = ++input.state<ProbeState>().calls;
    return {input.currentReplicas() + calls, "probe", {}};
  }
  std::string validateParameters(const ValidateInput& input) const {
    const auto step = input.parameter("minStep");
    if (step && *step != "1" && *step != "2") {
      return "parameter minStep: not a number: " + std::string(*step);
    }
    return {};
  }
};

}  // namespace

KUBEAI_SCALER_PLUGIN(MacroProbe, "MacroProbe");

namespace kubeai::plugin_sdk {
namespace {

// What one validate trampoline call said: its status and error text.
struct Verdict {
  int status = -1;
  std::string error;
};

template <typename T>
T& instanceOf() {
  static T instance;
  return instance;
}

kubeai_validate_input validateInputWith(const kubeai_parameter* parameters, std::size_t count) {
  kubeai_validate_input input{};
  input.struct_size = sizeof(kubeai_validate_input);
  input.policy_name = "chat";
  input.policy_namespace = "team-a";
  input.parameters = parameters;
  input.parameter_count = count;
  return input;
}

template <typename T>
Verdict validateWith(const char* minStep, std::size_t capacity = 64) {
  const std::array<kubeai_parameter, 1> parameters{{{"minStep", minStep}}};
  const kubeai_validate_input input = validateInputWith(parameters.data(), minStep == nullptr ? 0 : 1);
  std::array<char, 64> error{};
  Verdict verdict;
  verdict.status = detail::validate(&instanceOf<T>, &input, error.data(), capacity);
  verdict.error = error.data();
  return verdict;
}

bool isNumber(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

// One class per way of answering.
struct ReturnsString {
  Result compute(const Input&) const { return {}; }
  std::string validateParameters(const ValidateInput& input) const {
    const auto step = input.parameter("minStep");
    return step && !isNumber(*step) ? "parameter minStep: not a number: " + std::string(*step) : std::string();
  }
};
struct ReturnsOptional {
  Result compute(const Input&) const { return {}; }
  std::optional<std::string> validateParameters(const ValidateInput& input) {  // not const: also fine
    const auto step = input.parameter("minStep");
    if (step && !isNumber(*step)) {
      return step->empty() ? std::string() : "bad minStep " + std::string(*step);
    }
    return std::nullopt;
  }
};
struct Throws {
  Result compute(const Input&) const { return {}; }
  static void validateParameters(const ValidateInput& input) {  // static: also fine
    if (const auto step = input.parameter("minStep"); step && !isNumber(*step)) {
      throw std::invalid_argument("parameter minStep: not a number: " + std::string(*step));
    }
  }
};
struct ThrowsOther {
  Result compute(const Input&) const { return {}; }
  void validateParameters(const ValidateInput&) const { throw 42; }
};
struct NoValidate {
  Result compute(const Input&) const { return {}; }
};

static_assert(detail::HasValidate<ReturnsString>::value);
static_assert(detail::HasValidate<ReturnsOptional>::value);
static_assert(detail::HasValidate<Throws>::value);
static_assert(!detail::HasValidate<NoValidate>::value);

TEST_CASE("validateParameters: a string, an optional or an exception refuses with its message") {
  CHECK(validateWith<ReturnsString>("3").status == KUBEAI_SCALER_OK);
  CHECK(validateWith<ReturnsString>(nullptr).status == KUBEAI_SCALER_OK);
  auto verdict = validateWith<ReturnsString>("abc");
  CHECK(verdict.status == KUBEAI_SCALER_ERROR);
  CHECK(verdict.error == "parameter minStep: not a number: abc");

  CHECK(validateWith<ReturnsOptional>("3").status == KUBEAI_SCALER_OK);
  verdict = validateWith<ReturnsOptional>("x");
  CHECK(verdict.status == KUBEAI_SCALER_ERROR);
  CHECK(verdict.error == "bad minStep x");
  verdict = validateWith<ReturnsOptional>("");  // refused without a word
  CHECK(verdict.status == KUBEAI_SCALER_ERROR);
  CHECK(verdict.error == "parameters refused");

  CHECK(validateWith<Throws>("3").status == KUBEAI_SCALER_OK);
  verdict = validateWith<Throws>("abc");
  CHECK(verdict.status == KUBEAI_SCALER_ERROR);
  CHECK(verdict.error == "parameter minStep: not a number: abc");

  verdict = validateWith<ThrowsOther>("3");
  CHECK(verdict.status == KUBEAI_SCALER_ERROR);
  CHECK(verdict.error == "unknown exception");

  CHECK(validateWith<NoValidate>("abc").status == KUBEAI_SCALER_OK);

  verdict = validateWith<ReturnsString>("abc", 10);  // cut to the host's buffer
  CHECK(verdict.error == "parameter");
}

TEST_CASE("ValidateInput reads the policy and honours struct_size") {
  const std::array<kubeai_parameter, 2> parameters{{{"minStep", "2"}, {"empty", nullptr}}};
  const std::array<double, 2> weights{1.0, 3.0};
  kubeai_validate_input raw = validateInputWith(parameters.data(), parameters.size());
  raw.weights = weights.data();
  raw.weight_count = weights.size();
  const ValidateInput input(raw);
  CHECK(input.policyName() == "chat");
  CHECK(input.policyNamespace() == "team-a");
  CHECK(input.parameters().size() == 2);
  CHECK(input.parameter("minStep") == std::optional<std::string_view>("2"));
  CHECK(input.parameter("empty") == std::optional<std::string_view>(""));
  CHECK(input.weights().size() == 2);
  raw.struct_size = static_cast<std::uint32_t>(offsetof(kubeai_validate_input, weights));
  CHECK(ValidateInput(raw).weights().empty());
  CHECK(ValidateInput(raw).parameter("minStep").has_value());
}

TEST_CASE("KUBEAI_SCALER_PLUGIN exports an ABI 1.1 Algorithm with both optional entry points") {
  CHECK(Algorithm.abi_version == KUBEAI_SCALER_MAKE_ABI_VERSION(1, 1));
  CHECK(Algorithm.struct_size == sizeof(kubeai_scaling_algorithm));
  CHECK(std::string(Algorithm.name) == "MacroProbe");
  CHECK(Algorithm.user_data == nullptr);
  REQUIRE(static_cast<bool>(Algorithm.compute));
  REQUIRE(static_cast<bool>(Algorithm.validate_parameters));
  REQUIRE(static_cast<bool>(Algorithm.destroy_state));

  // validate_parameters, as the host calls it.
  const std::array<kubeai_parameter, 1> bad{{{"minStep", "abc"}}};
  const kubeai_validate_input validateInput = validateInputWith(bad.data(), bad.size());
  std::array<char, 64> error{};
  CHECK(Algorithm.validate_parameters(&Algorithm, &validateInput, error.data(), error.size()) == KUBEAI_SCALER_ERROR);
  CHECK(std::string(error.data()) == "parameter minStep: not a number: abc");

  // compute with a state slot, then destroy_state on what it made.
  void* slot = nullptr;
  kubeai_host host{};
  host.struct_size = sizeof(kubeai_host);
  kubeai_scaling_input input{};
  input.struct_size = sizeof(kubeai_scaling_input);
  input.current_replicas = 2;
  input.policy_name = "chat";
  input.policy_namespace = "team-a";
  input.state = &slot;
  input.host = &host;
  std::array<char, 64> reason{};
  kubeai_scaling_result result{};
  result.struct_size = sizeof(kubeai_scaling_result);
  result.reason = reason.data();
  result.reason_capacity = reason.size();
  result.error = error.data();
  result.error_capacity = error.size();
  REQUIRE(Algorithm.compute(&Algorithm, &input, &result) == KUBEAI_SCALER_OK);
  CHECK(result.desired_replicas == 3);
  REQUIRE(Algorithm.compute(&Algorithm, &input, &result) == KUBEAI_SCALER_OK);
  CHECK(result.desired_replicas == 4);  // the state counted two calls
  REQUIRE(slot != nullptr);
  Algorithm.destroy_state(&Algorithm, slot);
}

TEST_CASE("a class without State or validateParameters exports neither") {
  static_assert(detail::destroyStateOf<NoValidate>() == nullptr);
  static_assert(!detail::HasValidate<NoValidate>::value);
  // The trampoline accepts everything for such a class (the host would not call it: the pointer is NULL).
  CHECK(validateWith<NoValidate>("anything").status == KUBEAI_SCALER_OK);
}

TEST_CASE("ceilReplicas and withinTolerance round as the built-ins do") {
  struct Row {
    double value;
    std::int32_t replicas;
  };
  const Row rows[] = {
      {10 * 1.2, 12},                    // 12.000000000000002: an integer in floating point's eyes
      {12.5, 13},                        // a real fraction goes up
      {3.0000001, 4},                    // beyond the 1e-9 slack: up
      {0.2, 1},                          // any load is at least one replica
      {0.0, 0},                          // nothing to serve
      {-3.0, 0},                         // never negative
      {std::nan(""), 0},                 // no number: 0, as the built-ins' helper
      {1e12, std::numeric_limits<std::int32_t>::max()},  // saturates
  };
  for (const Row& row : rows) {
    CAPTURE(row.value);
    CHECK(ceilReplicas(row.value) == row.replicas);
  }
  CHECK(withinTolerance(1.1, 0.1));  // both bounds included
  CHECK(withinTolerance(0.9, 0.1));
  CHECK(withinTolerance(1.0 + 0.1 + 1e-12, 0.1));
  CHECK_FALSE(withinTolerance(1.1001, 0.1));
  CHECK_FALSE(withinTolerance(0.8999, 0.1));
}

}  // namespace
}  // namespace kubeai::plugin_sdk

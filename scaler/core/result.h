#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace kubeai::core {

// An error message that layers extend with their own context, outermost first,
// as KEDA's fmt.Errorf("...: %w") does: "policy default/chat: algorithm Foo: ...".
struct Error {
  std::string message;
  // A word for machines (a condition or Event reason such as "PluginCrashed"),
  // empty for most errors.
  std::string reason = {};

  [[nodiscard]] Error withContext(std::string_view context) const {
    return Error{std::string(context) + ": " + message, reason};
  }
};

// The data path returns Result instead of throwing (see STYLE.md, Errors).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(state_); }
  explicit operator bool() const noexcept { return ok(); }

  [[nodiscard]] const T& value() const& { return std::get<T>(state_); }
  [[nodiscard]] T& value() & { return std::get<T>(state_); }
  [[nodiscard]] T&& value() && { return std::get<T>(std::move(state_)); }
  [[nodiscard]] const Error& error() const& { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result of an operation that yields nothing but may fail.
struct Ok {};
using Status = Result<Ok>;

}  // namespace kubeai::core

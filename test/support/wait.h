#pragma once

// Waiting for a condition with a deadline, never a bare sleep as synchronisation.

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace kubeai::testing {

// Multiplies every deadline of the support helpers: more under sanitizers
// (KUBEAI_TIME_SCALE, set by CMake). A passing test never waits for one.
#ifndef KUBEAI_TIME_SCALE
#define KUBEAI_TIME_SCALE 1
#endif
inline constexpr int kDeadlineScale = KUBEAI_TIME_SCALE;

template <typename Duration>
constexpr Duration stretched(Duration duration) {
  return duration * kDeadlineScale;
}

// Joins string pieces with +=: GCC 12 warns falsely (-Wrestrict) on "lit" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

// Polls `condition` every `interval` until it holds; throws, naming `what`
// (and `detail()` when given), when it still does not after `timeout`.
inline void waitUntil(const std::function<bool()>& condition, std::chrono::steady_clock::duration timeout,
                      const std::string& what, const std::function<std::string()>& detail = nullptr,
                      std::chrono::milliseconds interval = std::chrono::milliseconds(50)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string message = "not in time: ";
      message += what;
      if (detail) {
        message += "; ";
        message += detail();
      }
      throw std::runtime_error(message);
    }
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace kubeai::testing

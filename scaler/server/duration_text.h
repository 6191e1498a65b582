#pragma once

#include <chrono>
#include <string>

namespace kubeai::server {

// A duration as the flags spell it, for messages: "45s", "1.5s", "250ms".
// Whole seconds print without a fraction; under a second in milliseconds;
// anything else in seconds with one decimal, rounded down, so that "last read
// 45.9s ago" is never shown as 46s against a 46s bound it has not reached.
[[nodiscard]] std::string formatDuration(std::chrono::milliseconds duration);

}  // namespace kubeai::server

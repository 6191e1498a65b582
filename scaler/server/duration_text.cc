#include "server/duration_text.h"

namespace kubeai::server {

std::string formatDuration(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  if (ms < 0) {
    std::string out = "-";
    out += formatDuration(-duration);
    return out;
  }
  if (ms % 1000 == 0) {
    return std::to_string(ms / 1000) + "s";
  }
  if (ms < 1000) {
    return std::to_string(ms) + "ms";
  }
  std::string out = std::to_string(ms / 1000);
  out += '.';
  out += static_cast<char>('0' + (ms % 1000) / 100);
  out += 's';
  return out;
}

}  // namespace kubeai::server

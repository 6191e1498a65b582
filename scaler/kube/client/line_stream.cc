#include "kube/client/line_stream.h"

namespace kubeai::kube::detail {

bool deliverLines(StreamState& state) {
  std::size_t start = 0;
  bool go = true;
  while (go) {
    const auto newline = state.partial.find('\n', start);
    if (newline == std::string::npos) {
      break;
    }
    std::string_view line(state.partial.data() + start, newline - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    start = newline + 1;
    if (!line.empty()) {
      go = (*state.onLine)(line);
    }
  }
  state.partial.erase(0, start);
  return go;
}

std::size_t streamWrite(char* data, std::size_t size, std::size_t count, void* user) noexcept {
  auto* state = static_cast<StreamState*>(user);
  const std::size_t bytes = size * count;
  state->lastActivity = std::chrono::steady_clock::now();
  if (!state->statusKnown) {
    long status = 0;
    curl_easy_getinfo(state->easy, CURLINFO_RESPONSE_CODE, &status);
    state->statusKnown = true;
    state->deliver = status >= 200 && status < 300;
  }
  if (!state->deliver) {
    return bytes;  // an error body (a Status) is read and dropped: see kube_client.h
  }
  try {
    state->partial.append(data, bytes);
    if (!deliverLines(*state)) {
      state->endedByCaller = true;
      return 0;
    }
    if (state->partial.size() > kMaxLineBytes) {
      state->lineTooLong = true;
      return 0;
    }
  } catch (...) {
    state->exception = std::current_exception();
    return 0;
  }
  return bytes;
}

std::size_t streamHeader(char* /*data*/, std::size_t size, std::size_t count, void* user) noexcept {
  static_cast<StreamState*>(user)->lastActivity = std::chrono::steady_clock::now();
  return size * count;
}

}  // namespace kubeai::kube::detail

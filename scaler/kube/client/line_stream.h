#pragma once

// A watch stream's body cut into lines as libcurl delivers it (source-only:
// kube_client.cc). libcurl calls these from inside curl_multi_perform: no
// exception may cross them, so one is kept in the state and rethrown after.

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <string>
#include <string_view>

namespace kubeai::kube::detail {

// One watch event (one object) per line.
inline constexpr std::size_t kMaxLineBytes = std::size_t{64} * 1024 * 1024;

// One stream's state, shared with its callbacks.
struct StreamState {
  const std::function<bool(std::string_view)>* onLine = nullptr;
  CURL* easy = nullptr;
  std::string partial;       // bytes after the last newline
  bool statusKnown = false;
  bool deliver = false;      // a 2xx: lines go to onLine
  bool endedByCaller = false;
  bool lineTooLong = false;
  std::exception_ptr exception;
  std::chrono::steady_clock::time_point lastActivity;
};

// Hands each complete line of `state.partial` to onLine; false to stop.
bool deliverLines(StreamState& state);

// CURLOPT_WRITEFUNCTION with a StreamState as CURLOPT_WRITEDATA: a 2xx body's
// lines go to onLine, another status's body (a Status) is read and dropped.
std::size_t streamWrite(char* data, std::size_t size, std::size_t count, void* user) noexcept;

// CURLOPT_HEADERFUNCTION with a StreamState as CURLOPT_HEADERDATA: headers
// count as activity for the idle timeout.
std::size_t streamHeader(char* data, std::size_t size, std::size_t count, void* user) noexcept;

}  // namespace kubeai::kube::detail

#include "kube/client/watch_stream.h"

#include <exception>

#include "http/curl_handles.h"
#include "kube/client/curl_transfer.h"
#include "kube/client/line_stream.h"

namespace kubeai::kube::detail {
namespace {

constexpr std::chrono::milliseconds kStreamPollInterval{100};

}  // namespace

core::Result<PolledStream> pollStream(CURL* easy, const std::string& what, const char* errorBuffer,
                                      const std::function<bool(std::string_view line)>& onLine,
                                      const std::stop_token& stop, std::chrono::milliseconds idleTimeout) {
  const http::MultiHandle multi(curl_multi_init());
  if (!multi) {
    std::string message = what;
    message += ": cannot create curl handles";
    return core::Error{message};
  }
  StreamState state;
  state.onLine = &onLine;
  state.easy = easy;
  state.lastActivity = std::chrono::steady_clock::now();
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &streamWrite);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &state);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &streamHeader);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &state);
  if (const CURLMcode code = curl_multi_add_handle(multi.get(), easy); code != CURLM_OK) {
    std::string message = what;
    message += ": ";
    message += curl_multi_strerror(code);
    return core::Error{message};
  }
  bool done = false;
  bool idle = false;
  CURLcode result = CURLE_OK;
  CURLMcode multiError = CURLM_OK;
  {
    // Wakes the poll below at once; curl_multi_wakeup is thread-safe.
    const std::stop_callback wake(stop, [&multi] { curl_multi_wakeup(multi.get()); });
    while (!stop.stop_requested()) {
      int running = 0;
      if (multiError = curl_multi_perform(multi.get(), &running); multiError != CURLM_OK) {
        break;
      }
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi.get(), &queued)) {
        if (message->msg == CURLMSG_DONE) {
          result = message->data.result;
          done = true;
        }
      }
      if (done) {
        break;
      }
      if (std::chrono::steady_clock::now() - state.lastActivity > idleTimeout) {
        idle = true;
        break;
      }
      curl_multi_poll(multi.get(), nullptr, 0, static_cast<int>(kStreamPollInterval.count()), nullptr);
    }
  }
  curl_multi_remove_handle(multi.get(), easy);
  if (state.exception) {
    std::rethrow_exception(state.exception);
  }
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  if (multiError != CURLM_OK) {
    std::string message = what;
    message += ": ";
    message += curl_multi_strerror(multiError);
    return core::Error{message};
  }
  if (idle) {
    std::string message = what;
    message += ": no data for ";
    message += std::to_string(idleTimeout.count());
    message += " ms";
    return core::Error{message};
  }
  if (!done || state.endedByCaller) {
    return PolledStream{StreamEnd{status}, false};  // stopped by the caller: whatever status came (0 if none yet)
  }
  if (state.lineTooLong) {
    std::string message = what;
    message += ": a line longer than 64 MiB";
    return core::Error{message};
  }
  if (result != CURLE_OK) {
    return curlError(what, result, errorBuffer);
  }
  if (state.deliver && !state.partial.empty()) {
    state.partial += '\n';  // the last line, without its newline
    deliverLines(state);
  }
  StreamEnd end{status};
  end.retryAfter = readRetryAfter(easy);
  return PolledStream{end, true};
}

}  // namespace kubeai::kube::detail

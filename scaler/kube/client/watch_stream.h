#pragma once

// A watch stream's transfer run to its end (source-only: kube_client.cc): the
// easy handle on a multi handle of its own, polled every 100 ms and woken at
// once by the stop_token, its body's lines handed on as they come
// (line_stream.h), silence past the idle timeout an error. Setting the
// transfer up (URL, TLS, credentials) is the caller's (curl_transfer.h).

#include <curl/curl.h>

#include <chrono>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>

#include "core/result.h"
#include "kube/client/kube_client.h"

namespace kubeai::kube::detail {

// How one watch stream ended.
struct PolledStream {
  StreamEnd end;
  // The server answered it whole: not cut short by `stop` or by onLine
  // returning false (then `end` has the status seen so far, 0 if none, and
  // no retryAfter).
  bool complete = false;
};

// Runs the GET set up on `easy` (its URL, TLS, credentials and headers, and
// `errorBuffer` as its CURLOPT_ERRORBUFFER) to its end. A 2xx body's lines go
// to onLine until it returns false; `idleTimeout` without data, a line longer
// than 64 MiB, or a failed transfer is an Error naming `what` ("GET
// https://server/path"). An exception from onLine is rethrown here, after
// the transfer is taken off curl.
core::Result<PolledStream> pollStream(CURL* easy, const std::string& what, const char* errorBuffer,
                                      const std::function<bool(std::string_view line)>& onLine,
                                      const std::stop_token& stop, std::chrono::milliseconds idleTimeout);

}  // namespace kubeai::kube::detail

// KubeClient over libcurl: a pool of easy handles for requests (each keeps its
// connections alive between uses), and one easy handle per stream; the
// client-side rate limit and the retries of what the server refused for a
// while. How a transfer is set up is curl_transfer.h's, how a stream is
// polled to its end watch_stream.h's, how it is cut into lines line_stream.h's.
#include "kube/client/kube_client.h"
#include "http/curl_handles.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <utility>

#include "kube/client/credentials.h"
#include "kube/client/curl_transfer.h"
#include "kube/client/kube_endpoint.h"
#include "kube/client/retry_policy.h"
#include "kube/client/token_bucket.h"
#include "kube/client/watch_stream.h"

namespace kubeai::kube {
namespace {

// A list of every policy in a large cluster fits; a runaway response does not exhaust memory.
constexpr std::size_t kMaxBodyBytes = std::size_t{256} * 1024 * 1024;
constexpr std::size_t kMaxIdleHandles = 8;
constexpr std::chrono::milliseconds kMaxConnectTimeout{30000};
constexpr std::chrono::milliseconds kMinTimeToSend{100};

using http::EasyHandle;
using http::HeaderList;
using http::initCurlOnce;
using Clock = std::chrono::steady_clock;
using detail::curlError;
using detail::methodAndUrl;
using detail::parseServer;
using detail::readRetryAfter;
using detail::TransferSetup;

// Sleeps until `until` or until `stop` is requested; false when stopped.
bool sleepUntil(Clock::time_point until, const std::stop_token& stop) {
  if (until > Clock::now()) {
    std::mutex mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(mutex);
    static_cast<void>(wake.wait_until(lock, stop, until, [] { return false; }));
  }
  return !stop.stop_requested();
}

// What a request may still take of its timeout; at least 1 ms, as curl reads 0 as "no timeout".
std::chrono::milliseconds remaining(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

class CurlKubeClient final : public KubeClient {
 public:
  CurlKubeClient(TransferSetup transfer, const KubeClientOptions& options)
      : transfer_(std::move(transfer)),
        options_(options),
        credentials_(transfer_.config()),
        bucket_(options.qps, options.burst, Clock::now()) {}

  core::Result<KubeResponse> request(std::string_view method, const std::string& path, const std::string& body,
                                     std::string_view contentType, std::chrono::milliseconds timeout) override {
    const std::string what = methodAndUrl(method, transfer_.endpoint().display, path);
    if (method != "GET" && method != "POST" && method != "PUT" && method != "PATCH" && method != "DELETE") {
      std::string message = what;
      message += ": unsupported method";
      return core::Error{message};
    }
    const auto deadline = Clock::now() + timeout;
    // Nothing is sent with less than this left of its timeout: it would only
    // time out on the wire (a short timeout keeps half of itself for the transfer).
    const auto lastSend = deadline - std::min<std::chrono::milliseconds>(kMinTimeToSend, timeout / 2);
    std::optional<KubeResponse> refused;  // the last answer that asked for a wait, once slept on
    for (int retries = 0;; ++retries) {
      if (const Throttled held = throttle(lastSend, {}); held != Throttled::kGo) {
        if (refused) {
          return std::move(*refused);  // the server's answer, its retryAfter for the caller's back-off
        }
        std::string message = what;
        if (held == Throttled::kHeldByRetryAfter) {
          message += ": the API server's Retry-After (a 429 to this client) would hold it past its ";
          message += std::to_string(timeout.count());
          message += " ms timeout; not sent";
          return core::Error{message};
        }
        message += ": the client-side rate limit (--kube-qps ";
        std::array<char, 32> qps{};
        std::snprintf(qps.data(), qps.size(), "%g", options_.qps);
        message += qps.data();
        message += ", --kube-burst ";
        message += std::to_string(options_.burst);
        message += ") would hold it past its ";
        message += std::to_string(timeout.count());
        message += " ms timeout; not sent";
        return core::Error{message};
      }
      auto response = attempt(method, path, body, contentType, remaining(deadline), what);
      if (!response) {
        return response;
      }
      const auto wait = detail::retryWait(method, response.value().status, response.value().retryAfter);
      if (wait && response.value().status == 429) {
        pauseFor(*wait);
      }
      // A wait that passes the deadline is the caller's: it gets the answer and its retryAfter.
      if (!wait || retries >= options_.maxRetries || Clock::now() + *wait >= lastSend) {
        return response;
      }
      sleepUntil(Clock::now() + *wait, {});
      refused = std::move(response).value();
    }
  }

  core::Result<long> stream(const std::string& path, const std::function<bool(std::string_view line)>& onLine,
                            std::stop_token stop, std::chrono::milliseconds idleTimeout) override {
    auto ended = streamToEnd(path, onLine, std::move(stop), idleTimeout);
    if (!ended) {
      return ended.error();
    }
    return ended.value().status;
  }

  core::Result<StreamEnd> streamToEnd(const std::string& path,
                                      const std::function<bool(std::string_view line)>& onLine, std::stop_token stop,
                                      std::chrono::milliseconds idleTimeout) override {
    // A watch is one request to the rate limit, taken when it starts.
    if (throttle(Clock::time_point::max(), stop) != Throttled::kGo) {
      return StreamEnd{};  // stopped while waiting: nothing received
    }
    auto ended = streamOnce(path, onLine, stop, idleTimeout);
    if (ended && ended.value().status == 429 && ended.value().retryAfter) {
      pauseFor(std::clamp(*ended.value().retryAfter, detail::kMinRetryWait, detail::kMaxRetryWait));
    }
    return ended;
  }

 private:
  // The server refused for `wait`: every caller's next request leaves after
  // it, one every 1/qps (token_bucket.h), not in a burst when they all wake;
  // those already waiting for a token wake now and queue again behind it.
  void pauseFor(std::chrono::seconds wait) {
    {
      const std::lock_guard lock(bucketMutex_);
      bucket_.pause(Clock::now() + wait);
    }
    paused_.notify_all();
  }

  enum class Throttled { kGo, kPastDeadline, kHeldByRetryAfter, kStopped };

  // Waits for a token of the rate limit: kGo to send; kPastDeadline or
  // kHeldByRetryAfter (nothing taken) when the wait would pass `deadline`,
  // by the rate or by a 429's pause; kStopped (the token spent) when `stop`
  // came first. A 429 pausing the bucket while the caller waits wakes it to
  // reserve again behind the pause, in the order the waiters wake.
  Throttled throttle(Clock::time_point deadline, const std::stop_token& stop) {
    std::unique_lock lock(bucketMutex_);
    for (;;) {
      const auto now = Clock::now();
      const auto go = bucket_.reserve(now, deadline);
      if (!go) {
        return bucket_.pausedAt(now) ? Throttled::kHeldByRetryAfter : Throttled::kPastDeadline;
      }
      const std::uint64_t seen = bucket_.pauses();
      const bool paused = paused_.wait_until(lock, stop, *go, [&] { return bucket_.pausedSince(seen); });
      if (stop.stop_requested()) {
        return Throttled::kStopped;
      }
      if (!paused) {
        return Throttled::kGo;
      }
    }
  }

  // One request with the credentials as they are, and again once after a 401 with new ones.
  core::Result<KubeResponse> attempt(std::string_view method, const std::string& path, const std::string& body,
                                     std::string_view contentType, std::chrono::milliseconds timeout,
                                     const std::string& what) {
    auto credential = credentials_.current();
    if (!credential) {
      return credential.error().withContext(what);
    }
    auto response = perform(method, path, body, contentType, timeout, credential.value(), what);
    if (response && response.value().status == 401 && credentials_.refreshable()) {
      // Rotated token file or expired plugin credential: obtain it again and retry once.
      auto fresh = credentials_.refresh(credential.value().generation);
      if (!fresh) {
        std::string context = what;
        context += ": 401 Unauthorized, then new credentials";
        return fresh.error().withContext(context);
      }
      if (fresh.value().generation != credential.value().generation) {
        response = perform(method, path, body, contentType, timeout, fresh.value(), what);
      }
    }
    return response;
  }

  core::Result<StreamEnd> streamOnce(const std::string& path, const std::function<bool(std::string_view line)>& onLine,
                                const std::stop_token& stop, std::chrono::milliseconds idleTimeout) {
    const std::string what = methodAndUrl("GET", transfer_.endpoint().display, path);
    auto credential = credentials_.current();
    if (!credential) {
      return credential.error().withContext(what);
    }
    HeaderList headers;
    if (auto built = transfer_.buildHeaders({}); built) {
      headers = std::move(built).value();
    } else {
      return built.error().withContext(what);
    }
    const EasyHandle easy(curl_easy_init());
    if (!easy) {
      std::string message = what;
      message += ": cannot create curl handles";
      return core::Error{message};
    }
    std::array<char, CURL_ERROR_SIZE> errorBuffer{};
    transfer_.configure(easy.get(), path, credential.value(), headers.get(), errorBuffer.data());
    curl_easy_setopt(easy.get(), CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy.get(), CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(idleTimeout, kMaxConnectTimeout).count()));
    auto polled = detail::pollStream(easy.get(), what, errorBuffer.data(), onLine, stop, idleTimeout);
    if (!polled) {
      return polled.error();
    }
    if (polled.value().complete && polled.value().end.status == 401 && credentials_.refreshable()) {
      // The caller retries: make sure that retry has new credentials.
      static_cast<void>(credentials_.refresh(credential.value().generation));
    }
    return polled.value().end;
  }

  core::Result<KubeResponse> perform(std::string_view method, const std::string& path, const std::string& body,
                                     std::string_view contentType, std::chrono::milliseconds timeout,
                                     const detail::Credential& credential, const std::string& what) {
    HeaderList headers;
    if (auto built = transfer_.buildHeaders(contentType); built) {
      headers = std::move(built).value();
    } else {
      return built.error().withContext(what);
    }
    EasyHandle easy = acquire();
    if (!easy) {
      std::string message = what;
      message += ": cannot create a curl easy handle";
      return core::Error{message};
    }
    CURL* handle = easy.get();
    curl_easy_reset(handle);  // keeps its connections and DNS and TLS session caches
    std::array<char, CURL_ERROR_SIZE> errorBuffer{};
    http::BoundedBody response(kMaxBodyBytes);
    transfer_.configure(handle, path, credential, headers.get(), errorBuffer.data());
    curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &http::appendToBoundedBody);
    curl_easy_setopt(handle, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(handle, CURLOPT_ACCEPT_ENCODING, "");  // gzip for large lists
    curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
    curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(std::min(timeout, kMaxConnectTimeout).count()));
    if (method == "GET") {
      curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
    } else {
      const std::string customMethod(method);
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, customMethod.c_str());  // copied
      if (!body.empty() || method != "DELETE") {
        curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());  // `body` outlives the transfer
      }
    }
    const CURLcode code = curl_easy_perform(handle);
    if (response.tooLarge) {
      release(std::move(easy));
      std::string message = what;
      message += ": response larger than 256 MiB";
      return core::Error{message};
    }
    if (code != CURLE_OK) {
      auto error = curlError(what, code, errorBuffer.data());
      release(std::move(easy));
      return error;
    }
    KubeResponse result;
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &result.status);
    result.body = std::move(response.data);
    result.retryAfter = readRetryAfter(handle);
    release(std::move(easy));
    return result;
  }

  EasyHandle acquire() {
    {
      const std::lock_guard lock(poolMutex_);
      if (!pool_.empty()) {
        EasyHandle easy = std::move(pool_.back());
        pool_.pop_back();
        return easy;
      }
    }
    return EasyHandle(curl_easy_init());
  }

  void release(EasyHandle easy) {
    const std::lock_guard lock(poolMutex_);
    if (pool_.size() < kMaxIdleHandles) {
      pool_.push_back(std::move(easy));
    }
  }

 private:
  const TransferSetup transfer_;
  const KubeClientOptions options_;
  detail::CredentialSource credentials_;
  std::mutex bucketMutex_;
  TokenBucket bucket_;  // guarded by bucketMutex_
  std::condition_variable_any paused_;  // a 429 paused bucket_: its waiters reserve again
  std::mutex poolMutex_;
  std::vector<EasyHandle> pool_;  // idle handles, each with its live connections
};

}  // namespace

core::Result<std::unique_ptr<KubeClient>> KubeClient::create(KubeConfig config, KubeClientOptions options) {
  if (!std::isfinite(options.qps) || options.qps < 0) {
    return core::Error{"kubernetes client: qps must be 0 (unlimited) or a finite positive rate"};
  }
  if (options.burst < 1) {
    return core::Error{"kubernetes client: burst must be at least 1"};
  }
  if (options.maxRetries < 0) {
    return core::Error{"kubernetes client: maxRetries must not be negative"};
  }
  if (auto init = initCurlOnce(); !init) {
    return init.error();
  }
  auto endpoint = parseServer(config);
  if (!endpoint) {
    return endpoint.error();
  }
  if (config.clientCertData.empty() != config.clientKeyData.empty()) {
    return core::Error{"kubernetes client certificate and key: both or neither"};
  }
  auto transfer = detail::TransferSetup::create(std::move(config), std::move(endpoint).value());
  if (!transfer) {
    return transfer.error();
  }
  return std::unique_ptr<KubeClient>(std::make_unique<CurlKubeClient>(std::move(transfer).value(), options));
}

}  // namespace kubeai::kube

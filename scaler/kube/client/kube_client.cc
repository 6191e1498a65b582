// KubeClient over libcurl: a pool of easy handles for requests (each keeps its
// connections alive between uses), and one easy handle on its own multi handle
// per stream, polled every 100 ms and woken at once by the stop_token.
#include "kube/client/kube_client.h"
#include "http/curl_handles.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <mutex>
#include <utility>

#include "kube/client/credentials.h"
#include "kube/client/kube_endpoint.h"
#include "kube/client/retry_policy.h"
#include "kube/client/token_bucket.h"

namespace kubeai::kube {
namespace {

constexpr const char* kUserAgent = "kubeai-scaler";
// A list of every policy in a large cluster fits; a runaway response does not exhaust memory.
constexpr std::size_t kMaxBodyBytes = std::size_t{256} * 1024 * 1024;
// One watch event (one object) per line.
constexpr std::size_t kMaxLineBytes = std::size_t{64} * 1024 * 1024;
constexpr std::size_t kMaxIdleHandles = 8;
constexpr std::chrono::milliseconds kStreamPollInterval{100};
constexpr std::chrono::milliseconds kMaxConnectTimeout{30000};
constexpr std::chrono::milliseconds kMinTimeToSend{100};

using http::EasyHandle;
using http::HeaderList;
using http::MultiHandle;
using http::initCurlOnce;
using Clock = std::chrono::steady_clock;
using detail::Endpoint;
using detail::parseServer;

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

bool appendHeader(HeaderList& list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown == nullptr) {
    return false;
  }
  static_cast<void>(list.release());  // now owned by `grown`
  list.reset(grown);
  return true;
}

// One stream's state, shared with its callbacks (which libcurl calls from
// inside curl_easy_perform: no exception may cross them).
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

std::string methodAndUrl(std::string_view method, const std::string& display, const std::string& path) {
  std::string text(method);
  text += ' ';
  text += display;
  text += path;
  return text;
}

core::Error curlError(const std::string& what, CURLcode code, const char* errorBuffer) {
  std::string message = what;
  message += ": ";
  message += curl_easy_strerror(code);
  if (errorBuffer != nullptr && errorBuffer[0] != '\0') {
    message += ": ";
    message += errorBuffer;
  }
  return core::Error{message};
}

class CurlKubeClient final : public KubeClient {
 public:
  CurlKubeClient(KubeConfig config, Endpoint endpoint, const KubeClientOptions& options)
      : config_(std::move(config)),
        endpoint_(std::move(endpoint)),
        options_(options),
        credentials_(config_),
        bucket_(options.qps, options.burst, Clock::now()) {}

  core::Result<KubeResponse> request(std::string_view method, const std::string& path, const std::string& body,
                                     std::string_view contentType, std::chrono::milliseconds timeout) override {
    const std::string what = methodAndUrl(method, endpoint_.display, path);
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
      if (!throttle(lastSend, {})) {
        if (refused) {
          return std::move(*refused);  // the server's answer, its retryAfter for the caller's back-off
        }
        std::string message = what;
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
    if (!throttle(Clock::time_point::max(), stop)) {
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
  // it, one every 1/qps (token_bucket.h), not in a burst when they all wake.
  void pauseFor(std::chrono::seconds wait) {
    const std::lock_guard lock(bucketMutex_);
    bucket_.pause(Clock::now() + wait);
  }

  // Waits for a token of the rate limit; false (nothing taken) when the wait
  // would pass `deadline`, or (the token spent) when `stop` came first.
  // A token promised before a 429 paused the bucket is not spent inside the
  // pause: the caller wakes, sees it, and queues again behind it.
  bool throttle(Clock::time_point deadline, const std::stop_token& stop) {
    for (;;) {
      std::optional<Clock::time_point> go;
      std::uint64_t pauses = 0;
      {
        const std::lock_guard lock(bucketMutex_);
        go = bucket_.reserve(Clock::now(), deadline);
        pauses = bucket_.pauses();
      }
      if (!go || !sleepUntil(*go, stop)) {
        return false;
      }
      const std::lock_guard lock(bucketMutex_);
      if (!bucket_.pausedSince(pauses, Clock::now())) {
        return true;
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
    const std::string what = methodAndUrl("GET", endpoint_.display, path);
    auto credential = credentials_.current();
    if (!credential) {
      return credential.error().withContext(what);
    }
    HeaderList headers;
    if (auto built = buildHeaders({}); built) {
      headers = std::move(built).value();
    } else {
      return built.error().withContext(what);
    }
    const EasyHandle easy(curl_easy_init());
    const MultiHandle multi(curl_multi_init());
    if (!easy || !multi) {
      std::string message = what;
      message += ": cannot create curl handles";
      return core::Error{message};
    }
    std::array<char, CURL_ERROR_SIZE> errorBuffer{};
    StreamState state;
    state.onLine = &onLine;
    state.easy = easy.get();
    state.lastActivity = std::chrono::steady_clock::now();
    configure(easy.get(), path, credential.value(), headers.get(), errorBuffer.data());
    curl_easy_setopt(easy.get(), CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(easy.get(), CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min(idleTimeout, kMaxConnectTimeout).count()));
    curl_easy_setopt(easy.get(), CURLOPT_WRITEFUNCTION, &streamWrite);
    curl_easy_setopt(easy.get(), CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(easy.get(), CURLOPT_HEADERFUNCTION, &streamHeader);
    curl_easy_setopt(easy.get(), CURLOPT_HEADERDATA, &state);
    if (const CURLMcode code = curl_multi_add_handle(multi.get(), easy.get()); code != CURLM_OK) {
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
    curl_multi_remove_handle(multi.get(), easy.get());
    if (state.exception) {
      std::rethrow_exception(state.exception);
    }
    long status = 0;
    curl_easy_getinfo(easy.get(), CURLINFO_RESPONSE_CODE, &status);
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
      return StreamEnd{status};  // stopped by the caller: whatever status came (0 if none yet)
    }
    if (state.lineTooLong) {
      std::string message = what;
      message += ": a line longer than 64 MiB";
      return core::Error{message};
    }
    if (result != CURLE_OK) {
      return curlError(what, result, errorBuffer.data());
    }
    if (state.deliver && !state.partial.empty()) {
      state.partial += '\n';  // the last line, without its newline
      deliverLines(state);
    }
    if (status == 401 && credentials_.refreshable()) {
      // The caller retries: make sure that retry has new credentials.
      static_cast<void>(credentials_.refresh(credential.value().generation));
    }
    StreamEnd end{status};
    curl_header* retryAfter = nullptr;
    if (curl_easy_header(easy.get(), "Retry-After", 0, CURLH_HEADER, -1, &retryAfter) == CURLHE_OK &&
        retryAfter != nullptr) {
      end.retryAfter = detail::parseRetryAfter(retryAfter->value);
    }
    return end;
  }

  core::Result<HeaderList> buildHeaders(std::string_view contentType) const {
    HeaderList list;
    // "Expect:" stops curl from waiting for "100 Continue" before a large body.
    bool ok = appendHeader(list, "Accept: application/json") && appendHeader(list, "Expect:");
    if (!contentType.empty()) {
      std::string line = "Content-Type: ";
      line += contentType;
      ok = ok && appendHeader(list, line);
    }
    if (!endpoint_.hostHeader.empty()) {
      ok = ok && appendHeader(list, endpoint_.hostHeader);
    }
    if (!ok) {
      return core::Error{"out of memory building the headers"};
    }
    return list;
  }

  // The options every transfer has: URL, TLS, credentials, headers.
  void configure(CURL* easy, const std::string& path, const detail::Credential& credential, curl_slist* headers,
                 char* errorBuffer) const {
    std::string url = endpoint_.base;
    url += path;
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());  // curl copies strings it is given
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errorBuffer);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, kUserAgent);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);  // threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);  // the API server does not redirect; a token must not follow one
    if (!endpoint_.connectTo.empty()) {
      // curl does not copy the list: connectTo_ lives as long as the client.
      curl_easy_setopt(easy, CURLOPT_CONNECT_TO, connectTo_.get());
    }
    if (!config_.caData.empty()) {
      curl_blob ca{const_cast<char*>(config_.caData.data()), config_.caData.size(), CURL_BLOB_COPY};
      curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (config_.insecureSkipTlsVerify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    // An exec plugin's certificate wins over the kubeconfig's, as in client-go.
    const std::string& cert = credential.clientCertData.empty() ? config_.clientCertData : credential.clientCertData;
    const std::string& key = credential.clientCertData.empty() ? config_.clientKeyData : credential.clientKeyData;
    if (!cert.empty()) {
      curl_blob certBlob{const_cast<char*>(cert.data()), cert.size(), CURL_BLOB_COPY};
      curl_blob keyBlob{const_cast<char*>(key.data()), key.size(), CURL_BLOB_COPY};
      curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &certBlob);
      curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &keyBlob);
      curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (!credential.token.empty()) {
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
      curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, credential.token.c_str());
    }
  }

  core::Result<KubeResponse> perform(std::string_view method, const std::string& path, const std::string& body,
                                     std::string_view contentType, std::chrono::milliseconds timeout,
                                     const detail::Credential& credential, const std::string& what) {
    HeaderList headers;
    if (auto built = buildHeaders(contentType); built) {
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
    configure(handle, path, credential, headers.get(), errorBuffer.data());
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
    curl_header* retryAfter = nullptr;
    if (curl_easy_header(handle, "Retry-After", 0, CURLH_HEADER, -1, &retryAfter) == CURLHE_OK &&
        retryAfter != nullptr) {
      result.retryAfter = detail::parseRetryAfter(retryAfter->value);
    }
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

 public:
  // CURLOPT_CONNECT_TO takes a curl_slist that must live as long as the handles use it.
  core::Status init() {
    if (!endpoint_.connectTo.empty()) {
      if (!appendHeader(connectTo_, endpoint_.connectTo)) {
        return core::Error{"out of memory"};
      }
    }
    return core::Ok{};
  }

 private:
  const KubeConfig config_;
  const Endpoint endpoint_;
  const KubeClientOptions options_;
  detail::CredentialSource credentials_;
  std::mutex bucketMutex_;
  TokenBucket bucket_;  // guarded by bucketMutex_
  HeaderList connectTo_;
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
  auto client = std::make_unique<CurlKubeClient>(std::move(config), std::move(endpoint).value(), options);
  if (auto init = client->init(); !init) {
    return init.error();
  }
  return std::unique_ptr<KubeClient>(std::move(client));
}

}  // namespace kubeai::kube

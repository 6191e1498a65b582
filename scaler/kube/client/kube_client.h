#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace kubeai::kube {

// Where the API server is and how to authenticate to it, from a kubeconfig or
// the in-cluster service account. Never logged whole: it carries credentials.
struct KubeConfig {
  std::string server;                   // "https://10.0.0.1:443", "https://[fd00::1]:443"
  std::string caData;                   // PEM; empty = system CAs
  bool insecureSkipTlsVerify = false;
  std::string tlsServerName;            // SNI and verified name when not the server's host
  std::string clientCertData;           // PEM client certificate and key (mTLS)
  std::string clientKeyData;
  std::string token;                    // static bearer token
  std::filesystem::path tokenFile;      // bearer token re-read at least every minute and at once on a 401
  // client.authentication.k8s.io exec plugin (v1 or v1beta1), run for a token
  // when there is none or it expired, and at once on a 401.
  struct Exec {
    std::string apiVersion;
    std::string command;
    std::vector<std::string> args;
    std::vector<std::pair<std::string, std::string>> env;
    std::string installHint;  // added to the error when the command cannot be found
  };
  std::optional<Exec> exec;
  std::string ns;                       // the context's namespace, or the pod's in-cluster ("default" if none)
  std::string source;                   // "kubeconfig /root/.kube/config (context kind-kind)" or "in-cluster": for logs
};

// --kubeconfig when given, else $KUBECONFIG (its first file), else
// ~/.kube/config, else in-cluster (KUBERNETES_SERVICE_HOST/PORT and the
// service-account files). Errors name the file and the field.
//
// Details (kube_config.cc):
// - $KUBECONFIG is a ':'-list: its first *existing* file is used (kubectl
//   merges them all; we do not). None existing is an error naming KUBECONFIG.
// - In-cluster, the service-account directory is
//   /var/run/secrets/kubernetes.io/serviceaccount, or $KUBEAI_SERVICEACCOUNT_DIR
//   when set (for tests): token (kept as tokenFile), ca.crt, namespace.
// - Relative file paths (certificate-authority, client-certificate, client-key,
//   tokenFile, an exec command containing '/') are relative to the kubeconfig's
//   directory; a bare exec command is looked up in PATH. Files are read here,
//   into the *Data fields; "*-data" (base64) wins over the file, as in client-go.
// - exec.interactiveMode is ignored (plugins never get a terminal: stdin is
//   /dev/null). auth-provider, username/password and proxy-url are errors.
core::Result<KubeConfig> loadKubeConfig(const std::optional<std::filesystem::path>& kubeconfig);

// What came back: any HTTP status is a Response; an Error is a transport
// failure (connect, TLS, timeout) or a credential that could not be obtained.
struct KubeResponse {
  long status = 0;
  std::string body;
  // The Retry-After header in seconds, as the server sent it (a 429, a 503):
  // the answer request() gave up retrying, so callers can back off as asked.
  std::optional<std::chrono::seconds> retryAfter{};
};

// How a stream ended: the HTTP status (0 if none came), and the Retry-After
// header in seconds when the server sent one (a watch refused with 429), so a
// watcher backs off as long as the server asked.
struct StreamEnd {
  long status = 0;
  std::optional<std::chrono::seconds> retryAfter{};
};

// How hard the client may press the API server (serve's --kube-qps and
// --kube-burst). The defaults here (no limit) suit tests and tools; serve
// passes its flags' defaults.
struct KubeClientOptions {
  // Requests a second on average, client-go's rest.Config QPS; 0 = unlimited.
  double qps = 0;
  // Requests sent at once after a quiet spell (the bucket's size), client-go's Burst.
  int burst = 1;
  // A 429, or a GET's 5xx, carrying Retry-After is sent again at most this
  // many times (client-go's default is 10); 0 = never.
  int maxRetries = 10;
};

// The server URL as far as messages and logs may show it: scheme://host:port,
// without user:password@, path, query or fragment, which may carry
// credentials ("https://admin:hunter2@host/?token=s3cr3t" is "https://host").
std::string serverForMessages(std::string_view server);

// A minimal Kubernetes REST client over libcurl. Thread-safe; connections are
// reused. Credentials are refreshed as KubeConfig says, and a 401 refreshes
// them and retries the request once. Every request and every stream's start
// takes a token of one client-side rate limit (KubeClientOptions, token_bucket.h),
// and a 429 or 5xx with Retry-After is retried (retry_policy.h).
//
// Details (kube_client.cc, credentials.h):
// - Every request sends User-Agent: kubeai-scaler, Accept: application/json,
//   and Authorization: Bearer <token> when there is one. Redirects are not
//   followed. Error messages name the method and URL, never a credential.
// - request() uses a pool of curl easy handles (up to 8 idle), each keeping its
//   connections alive; any number of threads may call it at once. The timeout
//   covers the whole request (connect at most 30 s of it).
// - Credentials: a tokenFile is read again when the last read is a minute old
//   and at once after a 401 (if it cannot be read then, the last token stays);
//   an exec plugin runs (posix_spawn, 30 s limit, its stderr in the error) when
//   there is no credential or it expires within 10 s, and at once after a 401;
//   one run at a time. A 401 is retried only when the credential changed.
//   An exec plugin's client certificate wins over the kubeconfig's.
// - Rate limit: request() waits for its token, but not past its timeout
//   (then an Error naming the limit, nothing sent); stream() takes one token
//   when it starts, as client-go counts a watch as one request, and stops
//   waiting when `stop` is requested (returning 0). A 401's retry is not
//   counted (client-go refreshes credentials below its rate limiter).
// - Retry-After: a 429 (any method: the server refused before acting) or a
//   GET's 5xx carrying Retry-After is sent again after that many seconds,
//   within [1 s, 60 s], through the rate limit again, at most maxRetries
//   times. Not when the wait would pass the request's timeout: then that
//   answer is returned, its retryAfter set, for the caller's own back-off;
//   nor when, after the wait, the next token would come too late: then the
//   last 429 is returned too (not a rate-limit error). Nothing is sent with
//   less than 100 ms (half a shorter timeout) of its timeout left.
//   The timeout covers the whole: token waits, retry waits and transfers.
// - A 429 carrying Retry-After (a request's or a watch's) pauses the rate
//   limit until then (TokenBucket::pause): the callers asleep on it leave
//   one every 1/qps afterwards, not in a burst of the tokens that dripped in.
//   Transport errors are not retried here (callers have their own back-off).
// - tls-server-name: the URL names that host (so it is the SNI and the name
//   verified), CURLOPT_CONNECT_TO sends the connection to the real server, and
//   the Host header names the real server, as client-go does.
// - stream(): runs on its own connection (curl multi handle, polled every
//   100 ms and woken at once by `stop`). Empty lines are skipped; a trailing
//   '\r' is removed; a last line without a newline is delivered at the end.
//   * Only a 2xx body goes to onLine. Another status (a 401, 403, 404, 410,
//     429, 500...) is returned with its body read and dropped; streamToEnd()
//     returns its Retry-After too.
//   * A 401 has the credentials refreshed before stream() returns, so the
//     caller's next attempt uses new ones; stream() itself does not retry.
//   * `stop` requested, or onLine returning false: returns the status received
//     so far (0 if none yet).
//   * No byte for idleTimeout: Error "GET <url>: no data for N ms".
//   * A connection cut after a 2xx began (the server died, a proxy timed out,
//     the emulator's cut-watches): an Error ("... transfer closed with
//     outstanding read data remaining"); the lines before it were delivered.
//   * An exception thrown by onLine ends the stream and propagates.
class KubeClient {
 public:
  virtual ~KubeClient() = default;

  // Errors: the server URL, a certificate without its key, options out of range.
  static core::Result<std::unique_ptr<KubeClient>> create(KubeConfig config, KubeClientOptions options = {});

  // path starts with "/" and carries the query ("/apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?limit=500").
  // method: GET, POST, PUT, PATCH, DELETE. contentType for a body, e.g.
  // "application/merge-patch+json". Errors name the method and path.
  virtual core::Result<KubeResponse> request(std::string_view method, const std::string& path,
                                             const std::string& body = {}, std::string_view contentType = {},
                                             std::chrono::milliseconds timeout = std::chrono::seconds(30)) = 0;

  // A long GET (a watch): onLine is called with each complete line of the
  // body as it arrives (without the newline); returning false ends the
  // stream. Ends when the server ends the body, onLine says so, `stop` is
  // requested (promptly: within about 100 ms), or the connection fails or
  // stays silent for `idleTimeout`. Returns the HTTP status, or an Error.
  virtual core::Result<long> stream(const std::string& path, const std::function<bool(std::string_view line)>& onLine,
                                    std::stop_token stop,
                                    std::chrono::milliseconds idleTimeout = std::chrono::seconds(660)) = 0;

  // stream(), and how it ended with the Retry-After the server sent: what
  // watchers call. This default (test doubles' streams have no headers) is
  // stream()'s status without a Retry-After; the curl client overrides it.
  virtual core::Result<StreamEnd> streamToEnd(const std::string& path,
                                              const std::function<bool(std::string_view line)>& onLine,
                                              std::stop_token stop,
                                              std::chrono::milliseconds idleTimeout = std::chrono::seconds(660)) {
    auto status = stream(path, onLine, std::move(stop), idleTimeout);
    if (!status) {
      return status.error();
    }
    return StreamEnd{status.value()};
  }
};

}  // namespace kubeai::kube

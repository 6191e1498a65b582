#include "source/prometheus/client/prometheus_client.h"
#include "http/curl_handles.h"
#include "http/percent_encoding.h"
#include "http/small_file.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>

namespace kubeai::source::prometheus {
namespace {

// Longer GET URLs are refused by common proxies and servers (Go's default
// header limit is 1 MiB, nginx's request line 8 KiB): such a query goes as POST.
constexpr std::size_t kMaxGetUrlBytes = 8 * 1024;
constexpr std::size_t kMaxBodyBytes = std::size_t{32} * 1024 * 1024;
// A credential file is a token or a password: anything bigger is the wrong file.
constexpr std::size_t kMaxCredentialBytes = 64 * 1024;
constexpr long kMaxRedirects = 3;
constexpr const char* kUserAgent = "kubeai-scaler";

using http::CurlString;
using http::EasyHandle;
using http::HeaderList;
using http::MultiHandle;
using http::UrlHandle;
using http::initCurlOnce;

using http::percentEncode;

// A URL as it may appear in a message: any user:password@ replaced.
std::string redactUserInfo(const std::string& url) {
  const auto schemeEnd = url.find("://");
  const auto authorityStart = schemeEnd == std::string::npos ? 0 : schemeEnd + 3;
  const auto authorityEnd = std::min(url.find_first_of("/?#", authorityStart), url.size());
  const auto at = url.rfind('@', authorityEnd == 0 ? 0 : authorityEnd - 1);
  if (at == std::string::npos || at < authorityStart) {
    return url;
  }
  std::string out = url.substr(0, authorityStart);
  out += "***";
  out += url.substr(at);
  return out;
}

std::string inQuotes(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

using http::Oversize;

core::Result<std::string> readCredentialFile(const std::filesystem::path& path, std::string_view what) {
  return http::readSmallFile(path, what, kMaxCredentialBytes);
}

// Prometheus trims a credentials file of surrounding whitespace; so do we.
core::Result<std::string> readBearerToken(const std::filesystem::path& path) {
  return http::readTokenFile(path, "prometheus bearer token file", kMaxCredentialBytes);
}

// A password may end in spaces: only the newline an editor adds is trimmed.
core::Result<std::string> readPassword(const std::filesystem::path& path) {
  auto content = readCredentialFile(path, "prometheus basic auth password file");
  if (!content) {
    return content.error();
  }
  std::string password = std::move(content).value();
  if (!password.empty() && password.back() == '\n') {
    password.pop_back();
    if (!password.empty() && password.back() == '\r') {
      password.pop_back();
    }
  }
  return password;
}

// RFC 9110 token characters.
bool isHeaderName(std::string_view name) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return (byte >= 'A' && byte <= 'Z') || (byte >= 'a' && byte <= 'z') || (byte >= '0' && byte <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

// The query endpoint, {url}/api/v1/query, checked: http or https, a host, and
// neither credentials (they would show in messages), a query nor a fragment.
core::Result<std::string> queryEndpoint(const std::string& url) {
  auto fail = [&](std::string_view why) {
    std::string message = "prometheus URL ";
    message += inQuotes(redactUserInfo(url));
    message += ": ";
    message += why;
    return core::Error{message};
  };
  UrlHandle handle(curl_url());
  if (!handle) {
    return fail("out of memory");
  }
  if (const CURLUcode code = curl_url_set(handle.get(), CURLUPART_URL, url.c_str(), CURLU_NON_SUPPORT_SCHEME);
      code != CURLUE_OK) {
    std::string why = curl_url_strerror(code);
    why += " (expected http://host:port or https://host:port, with an optional path)";
    return fail(why);
  }
  auto part = [&](CURLUPart which) -> std::string {
    char* raw = nullptr;
    if (curl_url_get(handle.get(), which, &raw, 0) != CURLUE_OK || raw == nullptr) {
      return {};
    }
    const CurlString owned(raw);
    return owned.get();
  };
  const std::string scheme = part(CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") {
    return fail("the scheme must be http or https");
  }
  if (part(CURLUPART_HOST).empty()) {
    return fail("no host");
  }
  if (!part(CURLUPART_USER).empty() || !part(CURLUPART_PASSWORD).empty()) {
    return fail("credentials in the URL are not accepted: use the basic auth user and password file");
  }
  if (!part(CURLUPART_QUERY).empty()) {
    return fail("a query string is not accepted in the base URL");
  }
  if (!part(CURLUPART_FRAGMENT).empty()) {
    return fail("a fragment is not accepted in the base URL");
  }
  std::string path = part(CURLUPART_PATH);
  while (!path.empty() && path.back() == '/') {
    path.pop_back();
  }
  path += "/api/v1/query";
  if (curl_url_set(handle.get(), CURLUPART_PATH, path.c_str(), 0) != CURLUE_OK) {
    return fail("cannot append /api/v1/query to its path");
  }
  std::string endpoint = part(CURLUPART_URL);
  if (endpoint.empty()) {
    return fail("cannot be rebuilt");
  }
  return endpoint;
}

core::Status checkOptions(const PrometheusClientOptions& options) {
  if (options.timeout.count() <= 0) {
    return core::Error{"prometheus timeout: must be positive"};
  }
  if (options.maxParallel == 0) {
    return core::Error{"prometheus parallel queries: must be at least 1"};
  }
  if (!options.bearerTokenFile.empty() && !options.basicAuthUser.empty()) {
    return core::Error{"prometheus bearer token file and basic auth user: choose one"};
  }
  if (!options.basicAuthPasswordFile.empty() && options.basicAuthUser.empty()) {
    return core::Error{"prometheus basic auth password file: given without a basic auth user"};
  }
  if (options.basicAuthUser.find(':') != std::string::npos) {
    return core::Error{"prometheus basic auth user: must not contain ':'"};
  }
  for (const auto& [name, value] : options.headers) {
    if (!isHeaderName(name)) {
      std::string message = "prometheus header ";
      message += inQuotes(name);
      message += ": not a valid header name";
      return core::Error{message};
    }
    if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
      std::string message = "prometheus header ";
      message += name;
      message += ": the value must not contain CR, LF or NUL";
      return core::Error{message};
    }
  }
  if (!options.bearerTokenFile.empty()) {
    if (auto token = readBearerToken(options.bearerTokenFile); !token) {
      return token.error();
    }
  }
  if (!options.basicAuthPasswordFile.empty()) {
    if (auto password = readPassword(options.basicAuthPasswordFile); !password) {
      return password.error();
    }
  }
  if (!options.caFile.empty()) {
    // A CA bundle may be large: read it only as far as to know it can be read.
    if (auto ca = http::readSmallFile(options.caFile, "prometheus CA file", 1, Oversize::kTruncate); !ca) {
      return ca.error();
    }
  }
  return core::Ok{};
}

// What one query sends: the endpoint and its form fields, encoded.
struct Request {
  const std::string* endpoint = nullptr;  // the Impl's, which outlives the batch
  std::string form;                       // query=...[&start=...]
  std::string tenant{};                   // X-Scope-OrgID; empty = none
};

// One query of a batch, from its start to its result.
struct Transfer {
  std::size_t index = 0;
  CURL* easy = nullptr;
  const std::string* endpoint = nullptr;
  bool post = false;
  http::BoundedBody body{kMaxBodyBytes};
  std::array<char, CURL_ERROR_SIZE> errorBuffer{};
};

// A multi handle with its connection cache and the easy handles it drives.
// Kept between batches: that is what makes connections (and TLS sessions)
// last across evaluation cycles.
struct Session {
  MultiHandle multi;
  std::vector<EasyHandle> idle;
};

// What a batch sends besides the query: read once per batch.
struct Credentials {
  std::string bearerToken;
  std::string password;
};

}  // namespace

class PrometheusClient::Impl {
 public:
  Impl(PrometheusClientOptions options, std::string endpoint)
      : options_(std::move(options)),
        endpoint_(std::move(endpoint)),
        // endpoint_ ends in /api/v1/query: queryEndpoint() refuses a query string or fragment.
        rangeEndpoint_(endpoint_ + "_range") {}

  // `tenants` empty, or one per expression.
  std::vector<core::Result<HttpResponse>> instant(const std::vector<std::string>& expressions,
                                                  const std::vector<std::string>& tenants) {
    std::vector<Request> requests;
    requests.reserve(expressions.size());
    for (std::size_t i = 0; i < expressions.size(); ++i) {
      std::string form = "query=";
      form += percentEncode(expressions[i]);
      requests.push_back(Request{&endpoint_, std::move(form), i < tenants.size() ? tenants[i] : std::string()});
    }
    return run(requests);
  }

  core::Result<HttpResponse> range(const RangeQuery& query) {
    std::string form = "query=";
    form += percentEncode(query.expression);
    form += "&start=";
    form += unixSeconds(query.startUnixMs);
    form += "&end=";
    form += unixSeconds(query.endUnixMs);
    form += "&step=";
    form += unixSeconds(query.step.count());
    std::vector<Request> requests;
    requests.push_back(Request{&rangeEndpoint_, std::move(form)});
    return std::move(run(requests).front());
  }

 private:
  // Milliseconds as the seconds the API takes: "1704067200.250", "-0.500".
  static std::string unixSeconds(std::int64_t ms) {
    const bool negative = ms < 0;
    // Unsigned: the magnitude of INT64_MIN is no int64_t.
    const std::uint64_t magnitude =
        negative ? std::uint64_t{0} - static_cast<std::uint64_t>(ms) : static_cast<std::uint64_t>(ms);
    std::string fraction = std::to_string(magnitude % 1000);
    fraction.insert(0, 3 - fraction.size(), '0');
    std::string text = negative ? "-" : "";
    text += std::to_string(magnitude / 1000);
    text += '.';
    text += fraction;
    return text;
  }

  std::vector<core::Result<HttpResponse>> run(const std::vector<Request>& requests) {
    std::vector<core::Result<HttpResponse>> results(requests.size(), core::Result<HttpResponse>(HttpResponse{}));
    if (requests.empty()) {
      return results;
    }
    auto failAll = [&](const core::Error& error) {
      std::fill(results.begin(), results.end(), core::Result<HttpResponse>(error));
      return results;
    };
    auto credentials = readCredentials();
    if (!credentials) {
      return failAll(credentials.error());
    }
    // One header list per tenant of the batch ("" = none), each request pointing at its own.
    std::map<std::string, HeaderList> lists;
    std::vector<curl_slist*> headers;
    headers.reserve(requests.size());
    for (const Request& request : requests) {
      auto found = lists.find(request.tenant);
      if (found == lists.end()) {
        auto built = buildHeaders(request.tenant);
        if (!built) {
          return failAll(built.error());
        }
        found = lists.emplace(request.tenant, std::move(built).value()).first;
      }
      headers.push_back(found->second.get());
    }
    std::unique_ptr<Session> session = acquire();
    if (!session) {
      return failAll(core::Error{"prometheus client: cannot create a curl multi handle"});
    }
    runOn(*session, requests, credentials.value(), headers, results);
    release(std::move(session));
    return results;
  }

  core::Result<Credentials> readCredentials() const {
    Credentials credentials;
    if (!options_.bearerTokenFile.empty()) {
      auto token = readBearerToken(options_.bearerTokenFile);
      if (!token) {
        return token.error();
      }
      credentials.bearerToken = std::move(token).value();
    }
    if (!options_.basicAuthPasswordFile.empty()) {
      auto password = readPassword(options_.basicAuthPasswordFile);
      if (!password) {
        return password.error();
      }
      credentials.password = std::move(password).value();
    }
    return credentials;
  }

  core::Result<HeaderList> buildHeaders(const std::string& tenant) const {
    HeaderList list;
    auto add = [&](const std::string& line) {
      curl_slist* grown = curl_slist_append(list.get(), line.c_str());
      if (grown == nullptr) {
        return false;
      }
      static_cast<void>(list.release());  // now owned by `grown`
      list.reset(grown);
      return true;
    };
    // "Expect:" stops curl from asking a long POST to wait for "100 Continue".
    bool ok = add("Accept: application/json") && add("Expect:");
    for (const auto& [name, value] : options_.headers) {
      std::string line = name;
      // "Name;" is curl's way to send a header with an empty value.
      line += value.empty() ? ";" : ": ";
      line += value;
      ok = ok && add(line);
    }
    if (!tenant.empty()) {
      ok = ok && add(std::string(kTenantHeader) + ": " + tenant);
    }
    if (!ok) {
      return core::Error{"prometheus client: out of memory building the headers"};
    }
    return list;
  }

  std::unique_ptr<Session> acquire() {
    {
      const std::lock_guard lock(mutex_);
      if (!sessions_.empty()) {
        auto session = std::move(sessions_.back());
        sessions_.pop_back();
        return session;
      }
    }
    auto session = std::make_unique<Session>();
    session->multi.reset(curl_multi_init());
    if (!session->multi) {
      return nullptr;
    }
    // Keep one idle connection per parallel slot between batches.
    curl_multi_setopt(session->multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(options_.maxParallel));
    return session;
  }

  void release(std::unique_ptr<Session> session) {
    const std::lock_guard lock(mutex_);
    sessions_.push_back(std::move(session));
  }

  static std::string methodAndUrl(bool post, const std::string& endpoint) {
    std::string text = post ? "POST " : "GET ";
    text += endpoint;
    return text;
  }

  // Sets every option of one query on a (reset) easy handle.
  void configure(CURL* easy, Transfer& transfer, const Request& request, const Credentials& credentials,
                 curl_slist* headers) const {
    curl_easy_reset(easy);  // keeps its DNS and TLS session caches
    const std::string& endpoint = *request.endpoint;
    const std::string& encoded = request.form;
    const bool post = endpoint.size() + 1 + encoded.size() > kMaxGetUrlBytes;
    transfer.endpoint = request.endpoint;
    transfer.post = post;
    if (post) {
      curl_easy_setopt(easy, CURLOPT_URL, endpoint.c_str());
      curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(encoded.size()));
      curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, encoded.c_str());
      // Keep a POST a POST through a 301/302 (307/308 always are).
      curl_easy_setopt(easy, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_301 | CURL_REDIR_POST_302));
    } else {
      std::string url = endpoint;
      url += '?';
      url += encoded;
      curl_easy_setopt(easy, CURLOPT_URL, url.c_str());  // curl copies strings it is given
      curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(easy, CURLOPT_PRIVATE, &transfer);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, transfer.errorBuffer.data());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &http::appendToBoundedBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer.body);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, kUserAgent);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl decodes (gzip)
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);           // threads: no SIGALRM for DNS timeouts
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);  // idle pooled connections through NATs
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(easy, CURLOPT_MAXREDIRS, kMaxRedirects);
    curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    if (!options_.caFile.empty()) {
      curl_easy_setopt(easy, CURLOPT_CAINFO, options_.caFile.c_str());
    }
    if (options_.insecureSkipVerify) {
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    // curl's own auth (not a hand-made Authorization header): it is withheld
    // from a redirect to another host or port.
    if (!credentials.bearerToken.empty()) {
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BEARER));
      curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, credentials.bearerToken.c_str());
    } else if (!options_.basicAuthUser.empty()) {
      curl_easy_setopt(easy, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
      curl_easy_setopt(easy, CURLOPT_USERNAME, options_.basicAuthUser.c_str());
      curl_easy_setopt(easy, CURLOPT_PASSWORD, credentials.password.c_str());
    }
  }

  core::Result<HttpResponse> finish(Transfer& transfer, CURLcode code) const {
    const bool post = transfer.post;
    if (transfer.body.tooLarge) {
      std::string message = methodAndUrl(post, *transfer.endpoint);
      message += ": response larger than 32 MiB (does the query select far more series than it should?)";
      return core::Error{message};
    }
    if (code != CURLE_OK) {
      std::string message = methodAndUrl(post, *transfer.endpoint);
      message += ": ";
      message += curl_easy_strerror(code);
      if (transfer.errorBuffer[0] != '\0') {
        message += ": ";
        message += transfer.errorBuffer.data();
      }
      return core::Error{message};
    }
    HttpResponse response;
    curl_easy_getinfo(transfer.easy, CURLINFO_RESPONSE_CODE, &response.status);
    response.body = std::move(transfer.body.data);
    return response;
  }

  void runOn(Session& session, const std::vector<Request>& requests, const Credentials& credentials,
             const std::vector<curl_slist*>& headers, std::vector<core::Result<HttpResponse>>& results) const {
    CURLM* multi = session.multi.get();
    std::vector<Transfer> transfers(requests.size());
    std::vector<EasyHandle> busy;  // handles of transfers in flight, back to `idle` when done
    std::size_t next = 0;
    std::size_t active = 0;

    auto fail = [&](std::size_t index, std::string_view why) {
      std::string message = methodAndUrl(false, *requests[index].endpoint);
      message += ": ";
      message += why;
      results[index] = core::Error{message};
    };
    // Starts queries until maxParallel are in flight or none is left.
    auto startMore = [&] {
      while (next < requests.size() && active < options_.maxParallel) {
        const std::size_t index = next++;
        EasyHandle easy;
        if (!session.idle.empty()) {
          easy = std::move(session.idle.back());
          session.idle.pop_back();
        } else {
          easy.reset(curl_easy_init());
        }
        if (!easy) {
          fail(index, "cannot create a curl easy handle");
          continue;
        }
        Transfer& transfer = transfers[index];
        transfer.index = index;
        transfer.easy = easy.get();
        configure(easy.get(), transfer, requests[index], credentials, headers[index]);
        if (const CURLMcode code = curl_multi_add_handle(multi, easy.get()); code != CURLM_OK) {
          fail(index, curl_multi_strerror(code));
          session.idle.push_back(std::move(easy));
          continue;
        }
        busy.push_back(std::move(easy));
        ++active;
      }
    };
    auto retire = [&](CURL* easy) {
      curl_multi_remove_handle(multi, easy);
      const auto it = std::find_if(busy.begin(), busy.end(), [&](const EasyHandle& h) { return h.get() == easy; });
      if (it != busy.end()) {
        session.idle.push_back(std::move(*it));
        busy.erase(it);
      }
      --active;
    };

    startMore();
    while (active > 0) {
      int running = 0;
      if (const CURLMcode code = curl_multi_perform(multi, &running); code != CURLM_OK) {
        // Not a network failure but libcurl's own (out of memory): give up on what is left.
        for (auto& easy : busy) {
          Transfer* transfer = nullptr;
          curl_easy_getinfo(easy.get(), CURLINFO_PRIVATE, &transfer);
          fail(transfer->index, curl_multi_strerror(code));
          curl_multi_remove_handle(multi, easy.get());
        }
        busy.clear();  // their handles may be in any state: not reused
        active = 0;
        while (next < requests.size()) {
          fail(next++, curl_multi_strerror(code));
        }
        break;
      }
      int queued = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &queued)) {
        if (message->msg != CURLMSG_DONE) {
          continue;
        }
        // Copied out: `message` dies with curl_multi_remove_handle.
        CURL* easy = message->easy_handle;
        const CURLcode code = message->data.result;
        Transfer* transfer = nullptr;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &transfer);
        results[transfer->index] = finish(*transfer, code);
        retire(easy);
      }
      startMore();
      if (active > 0) {
        // Wakes on socket activity or curl's next timeout, whichever is first.
        curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
      }
    }
  }

  const PrometheusClientOptions options_;
  const std::string endpoint_;       // {url}/api/v1/query
  const std::string rangeEndpoint_;  // {url}/api/v1/query_range
  std::mutex mutex_;
  std::vector<std::unique_ptr<Session>> sessions_;  // idle ones, between batches
};

core::Result<std::unique_ptr<PrometheusClient>> PrometheusClient::create(PrometheusClientOptions options) {
  if (auto init = initCurlOnce(); !init) {
    return init.error();
  }
  auto endpoint = queryEndpoint(options.url);
  if (!endpoint) {
    return endpoint.error();
  }
  if (auto checked = checkOptions(options); !checked) {
    return checked.error();
  }
  return std::make_unique<PrometheusClient>(Passkey{},
                                            std::make_unique<Impl>(std::move(options), std::move(endpoint).value()));
}

PrometheusClient::PrometheusClient(Passkey /*only create() makes one*/, std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

PrometheusClient::~PrometheusClient() = default;

std::vector<core::Result<HttpResponse>> PrometheusClient::instantQueries(const std::vector<std::string>& expressions) {
  return impl_->instant(expressions, {});
}

std::vector<core::Result<HttpResponse>> PrometheusClient::tenantQueries(const std::vector<std::string>& expressions,
                                                                        const std::vector<std::string>& tenants) {
  return impl_->instant(expressions, tenants);
}

core::Result<HttpResponse> PrometheusClient::rangeQuery(const RangeQuery& query) { return impl_->range(query); }

}  // namespace kubeai::source::prometheus

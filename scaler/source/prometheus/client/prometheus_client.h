#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "source/prometheus/client/query_transport.h"

namespace kubeai::source::prometheus {

struct PrometheusClientOptions {
  // Base URL of a Prometheus-compatible HTTP API, http or https, optionally
  // with a path prefix (http://host:9090/prom); /api/v1/query is appended.
  std::string url;
  // Bounds each query from the moment it is sent (connect included).
  std::chrono::milliseconds timeout{2000};
  // Empty = none. Read again for every batch, so a rotated token (Kubernetes
  // projected service-account tokens) is used from the next batch on.
  std::filesystem::path bearerTokenFile;
  std::string basicAuthUser;  // empty = none
  // The password, one trailing newline trimmed; read again for every batch too.
  std::filesystem::path basicAuthPasswordFile;
  std::filesystem::path caFile;  // empty = the system's CAs
  bool insecureSkipVerify = false;
  // Sent with every query (X-Scope-OrgID for Mimir/Cortex, and the like).
  std::vector<std::pair<std::string, std::string>> headers;
  // Queries in flight at once; the rest of a batch waits for a free slot.
  std::size_t maxParallel = 8;
};

// One range query, as /api/v1/query_range takes it: the expression evaluated
// at start, start + step, ... up to end (inclusive), times in Unix
// milliseconds (sent as seconds with 3 decimals).
struct RangeQuery {
  std::string expression;
  std::int64_t startUnixMs = 0;
  std::int64_t endUnixMs = 0;
  std::chrono::milliseconds step{15'000};
};

// The libcurl client of the Prometheus HTTP API: instant queries as
// GET {url}/api/v1/query?query=..., or, when that URL would pass 8 KiB (which
// proxies and servers refuse), POST {url}/api/v1/query with the query as an
// application/x-www-form-urlencoded body, which the API accepts alike; range
// queries the same way on {url}/api/v1/query_range.
//
// A batch runs on one curl multi handle, at most maxParallel transfers at once.
// Multi handles (with their connection caches) are kept between batches, so
// connections are reused across calls and evaluation cycles; concurrent
// batches take distinct multi handles, which makes the client thread-safe.
//
// Redirects: at most 3 are followed, to http or https only, so that an
// http -> https redirect of an ingress works. curl sends the credentials
// (basic or bearer) only to the original host and port, never to the target of
// a redirect elsewhere; the extra headers do go along. A POST stays a POST.
//
// A response body over 32 MiB is an Error (a query matching far more series
// than a policy can use), not a reason to exhaust memory.
class PrometheusClient final : public QueryTransport {
 public:
  // Checks the URL (http or https, a host, no credentials, query or fragment
  // in it), the headers, and that the credential and CA files can be read.
  // Errors name the option ("prometheus bearer token file /x: ...").
  static core::Result<std::unique_ptr<PrometheusClient>> create(PrometheusClientOptions options);

  class Impl;
  // Only create() holds the key: a client always comes out of the checks.
  class Passkey {
    friend class PrometheusClient;
    Passkey() = default;
  };
  PrometheusClient(Passkey key, std::unique_ptr<Impl> impl);
  ~PrometheusClient() override;
  PrometheusClient(const PrometheusClient&) = delete;
  PrometheusClient& operator=(const PrometheusClient&) = delete;

  // See QueryTransport. An unreadable credential file fails every query of the
  // batch with an Error naming the file.
  std::vector<core::Result<HttpResponse>> instantQueries(const std::vector<std::string>& expressions) override;
  // Each tenant's queries carry X-Scope-OrgID beside the headers option
  // (which must then not hold one: serve checks that at start-up).
  std::vector<core::Result<HttpResponse>> tenantQueries(const std::vector<std::string>& expressions,
                                                       const std::vector<std::string>& tenants) override;

  // One range query (what `simulate` reads its demand with), sent as an
  // instant query is (GET, or POST past 8 KiB; credentials, headers, TLS,
  // timeout alike). An Error is a transport failure, its message naming
  // "GET {url}/api/v1/query_range"; any HTTP status is a response
  // (readRangeResponse in query_result.h reads it).
  core::Result<HttpResponse> rangeQuery(const RangeQuery& query);

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kubeai::source::prometheus

#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace kubeai::source::prometheus {

// The header that names a tenant of Mimir, Cortex and Loki.
inline constexpr std::string_view kTenantHeader = "X-Scope-OrgID";

// What came back from GET /api/v1/query, whatever the HTTP status: Prometheus
// answers 400/422/503 with its own JSON error body, which the caller reads.
struct HttpResponse {
  long status = 0;
  std::string body;
};

// Runs instant queries against a Prometheus-compatible HTTP API. Thread-safe.
// The seam between the metric source (which expands, deduplicates and
// interprets queries) and the HTTP client (libcurl).
class QueryTransport {
 public:
  virtual ~QueryTransport() = default;

  // One result per expression, in the same order. The queries run in parallel
  // (a bounded number at once), each bounded by the client's timeout, so one
  // slow query delays the others by nothing beyond that timeout. An Error is a
  // transport failure (connect, TLS, timeout, unreadable credential file); its
  // message names the URL and the failure, never a credential. An HTTP status
  // other than 2xx is a response, not an Error.
  virtual std::vector<core::Result<HttpResponse>> instantQueries(const std::vector<std::string>& expressions) = 0;

  // The same, expression i sent as tenant tenants[i]: the header
  // `X-Scope-OrgID: <tenant>` of Mimir, Cortex and Loki (none for an empty
  // tenant). `tenants` is as long as `expressions`. This default is for
  // transports without tenants: with none set it is instantQueries(), and a
  // query with a tenant fails rather than go out as nobody's (or everybody's).
  virtual std::vector<core::Result<HttpResponse>> tenantQueries(const std::vector<std::string>& expressions,
                                                               const std::vector<std::string>& tenants) {
    for (const std::string& tenant : tenants) {
      if (!tenant.empty()) {
        return std::vector<core::Result<HttpResponse>>(
            expressions.size(), core::Error{"this query transport cannot send a tenant (X-Scope-OrgID)"});
      }
    }
    return instantQueries(expressions);
  }
};

}  // namespace kubeai::source::prometheus

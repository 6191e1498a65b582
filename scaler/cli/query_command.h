#pragma once

#include <chrono>
#include <iosfwd>
#include <string>

namespace kubeai::cli {

struct QueryOptions {
  std::string address;           // HOST:PORT
  std::string policy;            // policyName
  std::string ns = "default";    // policyNamespace
  std::string output = "text";   // text | json
  std::chrono::milliseconds timeout{3000};  // KEDA's HPA path allows ~3 s for all three calls
  // TLS: a CA turns TLS on; a certificate and key add a client certificate (mTLS).
  std::string tlsCaFile;
  std::string tlsCertFile;
  std::string tlsKeyFile;
  std::string tlsServerName;     // overrides the name checked in the server's certificate
};

// Calls what KEDA calls on each evaluation — GetMetricSpec, GetMetrics,
// IsActive — with the metadata a ScaledObject trigger would send, and prints
// each answer or its status: the operator's debugging tool. Exit 0 when all
// three succeed, 1 when any fails, 2 on bad arguments.
int runQuery(const QueryOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kubeai::cli

#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "cli/serve_command.h"
#include "core/result.h"

namespace kubeai::cli {

// The credentials of KEDA's gRPC port: plaintext, TLS (--tls-cert-file,
// --tls-key-file) or mutual TLS (--tls-client-ca-file), the files re-read as
// cert-manager replaces them. An Error names the flag.
core::Result<std::shared_ptr<grpc::ServerCredentials>> serverCredentials(const ServeOptions& options);

// The plaintext health port serves grpc.health.v1 only. gRPC will not start a
// server without a service of its own ("at least one of the completion queues
// must be frequently polled"), so this answers every other method
// UNIMPLEMENTED: the scaler API never leaks onto the plaintext port.
class HealthOnlyService final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* context) override;
};

// "0.0.0.0:6000" -> "0.0.0.0": to log the address with the port gRPC bound.
std::string hostOf(const std::string& address);

}  // namespace kubeai::cli

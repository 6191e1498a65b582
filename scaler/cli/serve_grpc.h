#pragma once

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/server_builder.h>
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

// Keepalive and the bound on concurrent streams of KEDA's port
// (--grpc-keepalive-time, --grpc-keepalive-timeout,
// --grpc-max-streams-per-connection): a connection whose peer went away
// without a FIN (a node lost, a NAT entry dropped) is closed after
// time + timeout, and with it its StreamIsActive subscriptions. KEDA's client
// sets no keepalive of its own (grpc.NewClient with a service config and
// credentials only), and the enforcement policy never GOAWAYs a client for
// pinging, so a later KEDA that pings is not cut off either.
void applyConnectionSettings(grpc::ServerBuilder& builder, const ServeOptions& options);

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

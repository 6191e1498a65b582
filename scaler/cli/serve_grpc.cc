#include "cli/serve_grpc.h"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include <algorithm>
#include <climits>
#include <fstream>
#include <utility>

namespace kubeai::cli {
namespace {

core::Status checkReadable(const std::string& path, const char* flag) {
  std::ifstream stream(path);
  if (!stream) {
    return core::Error{std::string(flag) + ": cannot read " + path};
  }
  return core::Ok{};
}

}  // namespace

core::Result<std::shared_ptr<grpc::ServerCredentials>> serverCredentials(const ServeOptions& options) {
  if (options.tlsCertFile.empty() && options.tlsKeyFile.empty()) {
    if (!options.tlsClientCaFile.empty()) {
      return core::Error{"--tls-client-ca-file needs --tls-cert-file and --tls-key-file"};
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tlsCertFile.empty() || options.tlsKeyFile.empty()) {
    return core::Error{"--tls-cert-file and --tls-key-file go together"};
  }
  for (const auto& [path, flag] : {std::pair{options.tlsCertFile, "--tls-cert-file"},
                                   std::pair{options.tlsKeyFile, "--tls-key-file"},
                                   std::pair{options.tlsClientCaFile, "--tls-client-ca-file"}}) {
    if (!path.empty()) {
      if (auto status = checkReadable(path, flag); !status.ok()) {
        return status.error();
      }
    }
  }
  // Re-read every second: cert-manager replaces the files in place, and the
  // next handshake uses the new certificate without a restart.
  constexpr unsigned kRefreshSeconds = 1;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.tlsKeyFile, options.tlsCertFile, options.tlsClientCaFile, kRefreshSeconds);
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.tlsClientCaFile.empty()) {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(tls);
}

void applyConnectionSettings(grpc::ServerBuilder& builder, const ServeOptions& options) {
  const auto milliseconds = [](std::chrono::milliseconds value) {
    return static_cast<int>(std::min<std::chrono::milliseconds::rep>(value.count(), INT_MAX));
  };
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, milliseconds(options.grpcKeepaliveTime));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, milliseconds(options.grpcKeepaliveTimeout));
  // An idle connection (no stream open) is probed too: it holds a socket and
  // KEDA's next call would otherwise meet a dead connection first.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // StreamIsActive sends only on a change, so a stream may carry no data for
  // hours: C-core stops pinging after 2 pings without data by default, which
  // would end keepalive on exactly the connections it is for.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // The client's pings: accepted however often they come (0 strikes = no
  // GOAWAY for pinging), down to grpc-go's own floor of 10 s between pings.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, options.grpcMaxStreamsPerConnection);
}

grpc::ServerGenericBidiReactor* HealthOnlyService::CreateReactor(grpc::GenericCallbackServerContext* /*context*/) {
  // gRPC's callback API owns reactors through `new`/OnDone(): deleting itself there is the contract.
  class Refusal final : public grpc::ServerGenericBidiReactor {
   public:
    Refusal() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "only grpc.health.v1 is served on this port")); }
    void OnDone() override { delete this; }
  };
  return new Refusal;
}

std::string hostOf(const std::string& address) {
  const std::size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

}  // namespace kubeai::cli

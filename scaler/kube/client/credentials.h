// Private to kubeai::kube_client (and its tests): where the client's bearer
// token or client certificate comes from, and when it is obtained again.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "kube/client/kube_client.h"

namespace kubeai::kube::detail {

// What a request authenticates with. `generation` changes whenever the
// credential is obtained again, so a 401 retry can tell whether anything
// changed (a static token never does: no pointless retry).
struct Credential {
  std::string token;
  std::string clientCertData;  // PEM, from an exec plugin; empty = KubeConfig's own
  std::string clientKeyData;
  std::uint64_t generation = 0;
};

// What an exec plugin returned (client.authentication.k8s.io ExecCredential status).
struct ExecResult {
  std::string token;
  std::string clientCertData;
  std::string clientKeyData;
  std::optional<std::chrono::system_clock::time_point> expiration;
};

// Runs an exec credential plugin as kubectl does: command and args, the
// process environment with the plugin's env on top and KUBERNETES_EXEC_INFO
// (apiVersion, kind ExecCredential, spec.interactive false); stdin is
// /dev/null, stdout is the ExecCredential, stderr goes into the error. Killed
// after `timeout`. Errors start "exec plugin <command>: ".
core::Result<ExecResult> runExecPlugin(const KubeConfig::Exec& exec,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

// Parses an ExecCredential; the apiVersion must be the one configured.
core::Result<ExecResult> parseExecCredential(std::string_view json, std::string_view expectedApiVersion);

// An ExecCredential's expirationTimestamp, RFC 3339 ("2026-11-28T01:00:00Z",
// "…T01:00:00.5+02:00"), to a time point; one beyond what a time point holds
// (year 9999) is time_point::max(), never expiring.
std::optional<std::chrono::system_clock::time_point> parseRfc3339(std::string_view text);

// Token and exec credentials with their caching rules, shared by all the
// threads of one client:
// - a static token: as is, forever;
// - a tokenFile: read again when the last read is a minute old, and at once
//   on refresh() (a 401): projected service-account tokens rotate;
// - an exec plugin: run when there is no credential or it expires within
//   kExecRefreshMargin, and at once on refresh(). One run at a time: other
//   threads wait for its result instead of running the plugin again.
class CredentialSource {
 public:
  using Clock = std::chrono::system_clock;
  static constexpr std::chrono::seconds kTokenFileMaxAge{60};
  static constexpr std::chrono::seconds kExecRefreshMargin{10};

  explicit CredentialSource(const KubeConfig& config,
                            std::chrono::milliseconds execTimeout = std::chrono::seconds(30));

  // Whether refresh() can give anything new (a token file or an exec plugin).
  [[nodiscard]] bool refreshable() const noexcept;

  // The credential to send now, obtained again if its time is up.
  core::Result<Credential> current();

  // After a 401 with the credential of generation `used`: obtains it again,
  // unless another thread already did since (then that newer one is returned).
  core::Result<Credential> refresh(std::uint64_t used);

 private:
  core::Result<Credential> obtainLocked();

  std::string staticToken_;
  std::filesystem::path tokenFile_;
  std::optional<KubeConfig::Exec> exec_;
  std::chrono::milliseconds execTimeout_;

  std::mutex mutex_;
  std::optional<Credential> cached_;
  Clock::time_point validUntil_{};  // when cached_ must be obtained again
  std::uint64_t nextGeneration_ = 1;
};

}  // namespace kubeai::kube::detail

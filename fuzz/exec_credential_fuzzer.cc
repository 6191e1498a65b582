// What an exec credential plugin prints (client.authentication.k8s.io
// ExecCredential): kube::detail::parseExecCredential. The first byte picks the
// apiVersion the kubeconfig asks for, the rest is the plugin's stdout. Checks:
// an accepted credential has a token or a certificate with its key; written
// back as an ExecCredential it reads the same (the expiry to the microsecond).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/client/credentials.h"
#include "kube/client/kube_time.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view apiVersion =
      (data[0] & 1U) != 0 ? "client.authentication.k8s.io/v1beta1" : "client.authentication.k8s.io/v1";
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto parsed = kubeai::kube::detail::parseExecCredential(text, apiVersion);
  if (!parsed.ok()) {
    KUBEAI_FUZZ_CHECK(parsed.error().message.rfind("invalid ExecCredential: ", 0) == 0, parsed.error().message);
    return 0;
  }
  const auto& result = parsed.value();
  KUBEAI_FUZZ_CHECK(!result.token.empty() || !result.clientCertData.empty(), std::string(text));
  KUBEAI_FUZZ_CHECK(result.clientCertData.empty() == result.clientKeyData.empty(), std::string(text));

  nlohmann::json status = nlohmann::json::object();
  if (!result.token.empty()) {
    status["token"] = result.token;
  }
  if (!result.clientCertData.empty()) {
    status["clientCertificateData"] = result.clientCertData;
    status["clientKeyData"] = result.clientKeyData;
  }
  if (result.expiration) {
    status["expirationTimestamp"] = kubeai::kube::formatMicroTime(*result.expiration);
  }
  const nlohmann::json written{{"apiVersion", apiVersion}, {"kind", "ExecCredential"}, {"status", status}};
  // Strings that are not UTF-8 are replaced when written: compare only what
  // can be written as it was read.
  std::string again;
  try {
    again = written.dump();
  } catch (const nlohmann::json::type_error&) {
    return 0;
  }
  const auto reparsed = kubeai::kube::detail::parseExecCredential(again, apiVersion);
  KUBEAI_FUZZ_CHECK(reparsed.ok(), again + " -> " + (reparsed.ok() ? "" : reparsed.error().message));
  const auto& second = reparsed.value();
  KUBEAI_FUZZ_CHECK(second.token == result.token && second.clientCertData == result.clientCertData &&
                        second.clientKeyData == result.clientKeyData,
                    again);
  using std::chrono::floor;
  using std::chrono::microseconds;
  KUBEAI_FUZZ_CHECK(second.expiration.has_value() == result.expiration.has_value() &&
                        (!result.expiration || floor<microseconds>(*second.expiration) ==
                                                   floor<microseconds>(*result.expiration)),
                    again);
  return 0;
}

// Kubeconfig files (--kubeconfig, $KUBECONFIG, ~/.kube/config):
// kube::detail::parseKubeconfigText, as loadKubeConfig reads them. The file
// sits in a scratch directory holding a CA, a client certificate and key and
// a token, so that relative paths in it name something. Checks: nothing
// throws (yaml-cpp does, on a scalar indexed as a map); every error names the
// kubeconfig; what is accepted has a server, a namespace, a client
// certificate only with its key, an exec plugin only of a supported
// apiVersion with a command; and written back as a kubeconfig (JSON, which is
// YAML; the files' contents as *-data) it reads the same.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/client/kubeconfig_text.h"

namespace {

using kubeai::kube::KubeConfig;

std::filesystem::path scratch;

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U) |
                   (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U) |
                   static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
    for (const unsigned shift : {18U, 12U, 6U, 0U}) {
      out += kAlphabet[(n >> shift) & 63U];
    }
  }
  if (i + 1 == bytes.size()) {
    const auto n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U;
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16U) |
                   (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8U);
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += '=';
  }
  return out;
}

void writeFile(const std::filesystem::path& path, std::string_view contents) {
  std::ofstream(path, std::ios::binary) << contents;
}

// The config as a kubeconfig of one context, cluster and user.
nlohmann::json written(const KubeConfig& config) {
  nlohmann::json cluster{{"server", config.server}};
  if (!config.caData.empty()) {
    cluster["certificate-authority-data"] = base64(config.caData);
  }
  if (config.insecureSkipTlsVerify) {
    cluster["insecure-skip-tls-verify"] = true;
  }
  if (!config.tlsServerName.empty()) {
    cluster["tls-server-name"] = config.tlsServerName;
  }
  nlohmann::json user = nlohmann::json::object();
  if (!config.token.empty()) {
    user["token"] = config.token;
  }
  if (!config.tokenFile.empty()) {
    user["tokenFile"] = config.tokenFile.string();
  }
  if (!config.clientCertData.empty()) {
    user["client-certificate-data"] = base64(config.clientCertData);
    user["client-key-data"] = base64(config.clientKeyData);
  }
  if (config.exec) {
    nlohmann::json env = nlohmann::json::array();
    for (const auto& [name, value] : config.exec->env) {
      env.push_back({{"name", name}, {"value", value}});
    }
    user["exec"] = {{"apiVersion", config.exec->apiVersion}, {"command", config.exec->command},
                    {"args", config.exec->args},             {"env", env},
                    {"installHint", config.exec->installHint}};
  }
  return {{"apiVersion", "v1"},
          {"kind", "Config"},
          {"current-context", "c"},
          {"contexts", {{{"name", "c"}, {"context", {{"cluster", "k"}, {"user", "u"}, {"namespace", config.ns}}}}}},
          {"clusters", {{{"name", "k"}, {"cluster", cluster}}}},
          {"users", {{{"name", "u"}, {"user", user}}}}};
}

bool same(const KubeConfig& a, const KubeConfig& b) {
  const bool sameExec = a.exec.has_value() == b.exec.has_value() &&
                        (!a.exec || (a.exec->apiVersion == b.exec->apiVersion && a.exec->command == b.exec->command &&
                                     a.exec->args == b.exec->args && a.exec->env == b.exec->env &&
                                     a.exec->installHint == b.exec->installHint));
  return sameExec && a.server == b.server && a.caData == b.caData &&
         a.insecureSkipTlsVerify == b.insecureSkipTlsVerify && a.tlsServerName == b.tlsServerName &&
         a.clientCertData == b.clientCertData && a.clientKeyData == b.clientKeyData && a.token == b.token &&
         a.tokenFile == b.tokenFile && a.ns == b.ns;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  scratch = std::filesystem::temp_directory_path() / ("kubeai-kubeconfig-fuzzer-" + std::to_string(getpid()));
  std::filesystem::create_directories(scratch);
  writeFile(scratch / "ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
  writeFile(scratch / "client.crt", "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n");
  writeFile(scratch / "client.key", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n");
  writeFile(scratch / "token", "s3cr3t-token\n");
  std::atexit([] {
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::filesystem::path file = scratch / "config";
  const auto parsed = kubeai::kube::detail::parseKubeconfigText(text, file);
  if (!parsed.ok()) {
    KUBEAI_FUZZ_CHECK(parsed.error().message.rfind("kubeconfig " + file.string() + ": ", 0) == 0,
                      parsed.error().message);
    return 0;
  }
  const KubeConfig& config = parsed.value();
  KUBEAI_FUZZ_CHECK(!config.server.empty() && !config.ns.empty(), std::string(text));
  KUBEAI_FUZZ_CHECK(config.clientCertData.empty() == config.clientKeyData.empty(), std::string(text));
  if (config.exec) {
    KUBEAI_FUZZ_CHECK(config.exec->apiVersion == "client.authentication.k8s.io/v1" ||
                          config.exec->apiVersion == "client.authentication.k8s.io/v1beta1",
                      config.exec->apiVersion);
    KUBEAI_FUZZ_CHECK(!config.exec->command.empty(), std::string(text));
  }

  std::string again;
  try {
    again = written(config).dump();
  } catch (const nlohmann::json::type_error&) {
    return 0;  // a string that is not UTF-8: JSON cannot carry it unchanged
  }
  const auto reparsed = kubeai::kube::detail::parseKubeconfigText(again, file);
  KUBEAI_FUZZ_CHECK(reparsed.ok(), again + " -> " + (reparsed.ok() ? "" : reparsed.error().message));
  KUBEAI_FUZZ_CHECK(same(reparsed.value(), config), std::string(text) + " -> " + again);
  return 0;
}

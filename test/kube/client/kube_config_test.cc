// loadKubeConfig: kubeconfig fields, the file search order and in-cluster.
#include <doctest/doctest.h>

#include <string>

#include "kube/client/file_util.h"
#include "kube/client/kube_client.h"
#include "env_guard.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace {

using kubeai::kube::KubeConfig;
using kubeai::kube::loadKubeConfig;
using kubeai::testing::EnvGuard;
using kubeai::testing::TempDir;

// "hello CA" and friends, base64.
constexpr const char* kCaB64 = "aGVsbG8gQ0E=";          // hello CA
constexpr const char* kCertB64 = "Y2xpZW50IGNlcnQ=";    // client cert
constexpr const char* kKeyB64 = "Y2xpZW50IGtleQ==";     // client key

std::string kubeconfig(const std::string& cluster, const std::string& user, const std::string& contextExtra = "") {
  std::string text = "apiVersion: v1\nkind: Config\ncurrent-context: dev\ncontexts:\n- name: other\n  context: {cluster: nope, user: nope}\n- name: dev\n  context:\n    cluster: c1\n    user: u1\n";
  text += contextExtra;
  text += "clusters:\n- name: c1\n  cluster:\n";
  text += cluster;
  text += "users:\n- name: u1\n  user:\n";
  text += user;
  return text;
}

kubeai::core::Result<KubeConfig> loadText(const TempDir& dir, const std::string& text) {
  return loadKubeConfig(dir.write("config", text));
}

}  // namespace

TEST_CASE("kubeconfig: every cluster and user field") {
  const TempDir dir;
  std::string cluster = "    server: https://10.1.2.3:6443/\n    certificate-authority-data: ";
  cluster += kCaB64;
  cluster += "\n    insecure-skip-tls-verify: true\n    tls-server-name: api.internal\n";
  std::string user = "    token: abc\n    tokenFile: tok\n    client-certificate-data: ";
  user += kCertB64;
  user += "\n    client-key-data: ";
  user += kKeyB64;
  user += "\n";
  dir.write("tok", "from-file\n");
  const auto config = loadText(dir, kubeconfig(cluster, user, "    namespace: team-a\n"));
  REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
  const KubeConfig& c = config.value();
  CHECK(c.server == "https://10.1.2.3:6443/");
  CHECK(c.caData == "hello CA");
  CHECK(c.insecureSkipTlsVerify);
  CHECK(c.tlsServerName == "api.internal");
  CHECK(c.token == "abc");
  CHECK(c.tokenFile == dir.path() / "tok");  // relative to the kubeconfig's directory
  CHECK(c.clientCertData == "client cert");
  CHECK(c.clientKeyData == "client key");
  CHECK(c.ns == "team-a");
  CHECK(c.source.find("(context dev)") != std::string::npos);
  CHECK_FALSE(c.exec.has_value());
}

TEST_CASE("kubeconfig: files relative to the kubeconfig, data wins over files, default namespace") {
  const TempDir dir;
  std::filesystem::create_directories(dir.path() / "pki");
  dir.write("pki/ca.crt", "CA FROM FILE");
  dir.write("pki/c.crt", "CERT FROM FILE");
  dir.write("pki/c.key", "KEY FROM FILE");
  SUBCASE("files") {
    const auto config = loadText(dir, kubeconfig("    server: https://k:443\n    certificate-authority: pki/ca.crt\n",
                                                 "    client-certificate: pki/c.crt\n    client-key: pki/c.key\n"));
    REQUIRE(config.ok());
    CHECK(config.value().caData == "CA FROM FILE");
    CHECK(config.value().clientCertData == "CERT FROM FILE");
    CHECK(config.value().clientKeyData == "KEY FROM FILE");
    CHECK(config.value().ns == "default");
    CHECK_FALSE(config.value().insecureSkipTlsVerify);
  }
  SUBCASE("data wins") {
    std::string cluster = "    server: https://k:443\n    certificate-authority: pki/ca.crt\n    certificate-authority-data: ";
    cluster += kCaB64;
    cluster += "\n";
    const auto config = loadText(dir, kubeconfig(cluster, "    token: t\n"));
    REQUIRE(config.ok());
    CHECK(config.value().caData == "hello CA");
  }
}

TEST_CASE("kubeconfig: exec plugin fields") {
  const TempDir dir;
  const auto config = loadText(
      dir, kubeconfig("    server: https://k\n",
                      "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: bin/plugin\n"
                      "      args: [get-token, --cluster, c1]\n      env:\n      - {name: A, value: '1'}\n"
                      "      - {name: B, value: two}\n      installHint: install it\n      interactiveMode: Never\n"));
  REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
  REQUIRE(config.value().exec.has_value());
  const auto& exec = *config.value().exec;
  CHECK(exec.apiVersion == "client.authentication.k8s.io/v1beta1");
  CHECK(exec.command == (dir.path() / "bin/plugin").string());  // has a '/': relative to the kubeconfig
  CHECK(exec.args == std::vector<std::string>{"get-token", "--cluster", "c1"});
  REQUIRE(exec.env.size() == 2);
  CHECK(exec.env[1] == std::pair<std::string, std::string>("B", "two"));
  CHECK(exec.installHint == "install it");

  const auto bare = loadText(dir, kubeconfig("    server: https://k\n",
                                             "    exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}\n"));
  REQUIRE(bare.ok());
  CHECK(bare.value().exec->command == "aws");  // a bare name is looked up in PATH
}

TEST_CASE("kubeconfig: errors name the file and the field") {
  const TempDir dir;
  struct Row {
    std::string text;
    std::string expected;
  };
  const std::string ok = "    server: https://k\n";
  const std::vector<Row> rows = {
      // current-context names a context that is not there
      {"current-context: foo\ncontexts: []\n", "context \"foo\" not found"},
      // no current-context at all
      {"clusters: []\n", "current-context is not set"},
      // the context's cluster is missing
      {"current-context: a\ncontexts:\n- {name: a, context: {cluster: gone, user: u}}\n", "cluster \"gone\" not found"},
      // the context's user is missing
      {"current-context: a\ncontexts:\n- {name: a, context: {cluster: c, user: gone}}\nclusters:\n- {name: c, cluster: {server: 'https://k'}}\n",
       "user \"gone\" not found"},
      // a cluster without a server
      {kubeconfig("    insecure-skip-tls-verify: true\n", "    token: t\n"), "cluster \"c1\": server is not set"},
      // bad base64
      {kubeconfig("    server: https://k\n    certificate-authority-data: '@@@'\n", "    token: t\n"),
       "cluster \"c1\": certificate-authority-data: not valid base64"},
      // a CA file that is not there
      {kubeconfig("    server: https://k\n    certificate-authority: nope.crt\n", "    token: t\n"),
       kubeai::testing::concat("cluster \"c1\": certificate-authority ", (dir.path() / "nope.crt").string(),
                               ": No such file or directory")},
      // auth-provider is gone from kubectl
      {kubeconfig(ok, "    auth-provider: {name: gcp}\n"), "user \"u1\": auth-provider \"gcp\" is not supported"},
      // an exec apiVersion we do not speak
      {kubeconfig(ok, "    exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: x}\n"),
       "user \"u1\": exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not supported"},
      // exec without a command
      {kubeconfig(ok, "    exec: {apiVersion: client.authentication.k8s.io/v1}\n"), "user \"u1\": exec.command is not set"},
      // a certificate without its key
      {kubeconfig(ok, std::string("    client-certificate-data: ") + kCertB64 + "\n"),
       "user \"u1\": client-certificate and client-key must be given together"},
      // a token file that is not there
      {kubeconfig(ok, "    tokenFile: /nonexistent/token\n"), "user \"u1\": tokenFile /nonexistent/token: No such file"},
      // not YAML
      {"{{{", "not valid YAML"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    const auto config = loadText(dir, row.text);
    REQUIRE_FALSE(config.ok());
    std::string prefix = "kubeconfig ";
    prefix += (dir.path() / "config").string();
    prefix += ": ";
    CHECK(config.error().message.starts_with(prefix));
    CHECK_MESSAGE(config.error().message.find(row.expected) != std::string::npos, config.error().message);
  }
  const auto missing = loadKubeConfig(dir.path() / "absent");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message.find("absent: No such file or directory") != std::string::npos);
}

TEST_CASE("kubeconfig: --kubeconfig, then $KUBECONFIG's first existing file, then ~/.kube/config") {
  const TempDir dir;
  const auto one = dir.write("one", kubeconfig("    server: https://one\n", "    token: t\n"));
  const auto two = dir.write("two", kubeconfig("    server: https://two\n", "    token: t\n"));
  std::filesystem::create_directories(dir.path() / "home/.kube");
  dir.write("home/.kube/config", kubeconfig("    server: https://home\n", "    token: t\n"));
  EnvGuard env;
  env.set("HOME", (dir.path() / "home").string()).unset("KUBERNETES_SERVICE_HOST");

  std::string list = (dir.path() / "missing").string();
  list += ':';
  list += two.string();
  list += ':';
  list += one.string();
  env.set("KUBECONFIG", list);
  CHECK(loadKubeConfig(one).value().server == "https://one");
  CHECK(loadKubeConfig(std::nullopt).value().server == "https://two");
  env.set("KUBECONFIG", (dir.path() / "missing").string());
  const auto none = loadKubeConfig(std::nullopt);
  REQUIRE_FALSE(none.ok());
  CHECK(none.error().message.find("KUBECONFIG") != std::string::npos);
  env.unset("KUBECONFIG");
  CHECK(loadKubeConfig(std::nullopt).value().server == "https://home");
}

TEST_CASE("in-cluster: service-account files and the service host, IPv6 bracketed") {
  const TempDir dir;
  EnvGuard env;
  env.unset("KUBECONFIG").set("HOME", (dir.path() / "nohome").string());
  env.set("KUBEAI_SERVICEACCOUNT_DIR", (dir.path() / "sa").string());
  std::filesystem::create_directories(dir.path() / "sa");
  dir.write("sa/token", "sa-token\n");
  dir.write("sa/ca.crt", "CLUSTER CA");

  SUBCASE("not in a cluster") {
    env.unset("KUBERNETES_SERVICE_HOST");
    const auto config = loadKubeConfig(std::nullopt);
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().message.find("KUBERNETES_SERVICE_HOST") != std::string::npos);
  }
  SUBCASE("IPv4, no namespace file") {
    env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1").set("KUBERNETES_SERVICE_PORT", "443");
    const auto config = loadKubeConfig(std::nullopt);
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
    CHECK(config.value().server == "https://10.96.0.1:443");
    CHECK(config.value().tokenFile == dir.path() / "sa/token");
    CHECK(config.value().caData == "CLUSTER CA");
    CHECK(config.value().ns == "default");
    CHECK(config.value().source == "in-cluster");
  }
  SUBCASE("IPv6 and a namespace") {
    dir.write("sa/namespace", "kubeai-system");
    env.set("KUBERNETES_SERVICE_HOST", "fd00::1").set("KUBERNETES_SERVICE_PORT", "6443");
    const auto config = loadKubeConfig(std::nullopt);
    REQUIRE(config.ok());
    CHECK(config.value().server == "https://[fd00::1]:6443");
    CHECK(config.value().ns == "kubeai-system");
  }
  SUBCASE("no token") {
    std::filesystem::remove(dir.path() / "sa/token");
    env.set("KUBERNETES_SERVICE_HOST", "10.96.0.1").set("KUBERNETES_SERVICE_PORT", "443");
    const auto config = loadKubeConfig(std::nullopt);
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().message.find("in-cluster service account token") != std::string::npos);
  }
}

TEST_CASE("base64 decoding") {
  using kubeai::kube::detail::decodeBase64;
  CHECK(decodeBase64("aGVsbG8=").value() == "hello");
  CHECK(decodeBase64("aGVs\nbG8h").value() == "hello!");
  CHECK(decodeBase64("").value().empty());
  CHECK_FALSE(decodeBase64("aGVsbG8=x").ok());
  CHECK_FALSE(decodeBase64("a").ok());
  CHECK_FALSE(decodeBase64("a*b=").ok());
}

// loadKubeConfig: kubeconfig fields, the file search order and in-cluster.
#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>

#include "kube/client/file_util.h"
#include "kube/client/kube_client.h"
#include "kube/client/kube_time.h"
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

TEST_CASE("kubeconfig: a malformed structure is an error naming the file, never an exception") {
  const TempDir dir;
  struct Row {
    std::string text;
    std::string expected;
  };
  const std::string ok = "    server: https://k\n";
  const std::string head = "current-context: a\ncontexts:\n- {name: a, context: {cluster: c, user: u}}\n";
  const std::string cluster = "clusters:\n- {name: c, cluster: {server: 'https://k'}}\n";
  const std::vector<Row> rows = {
      // The reviewer's case: a scalar auth-provider was indexed as a map (BadSubscript, exit 134).
      {head + cluster + "users: [{name: u, user: {auth-provider: gcp}}]\n", "user \"u\": auth-provider is not supported"},
      // A list auth-provider.
      {kubeconfig(ok, "    auth-provider: [gcp]\n"), "user \"u1\": auth-provider is not supported"},
      // auth-provider's name a map.
      {kubeconfig(ok, "    auth-provider: {name: {x: 1}}\n"), "user \"u1\": auth-provider is not supported"},
      // A scalar where the list of contexts belongs.
      {"current-context: a\ncontexts: a\n", "contexts: must be a list"},
      // A map where the list of clusters belongs.
      {head + "clusters: {c: {server: 'https://k'}}\n", "clusters: must be a list"},
      // A scalar where the list of users belongs.
      {head + cluster + "users: u\n", "users: must be a list"},
      // A scalar list entry, and a list where the context's map belongs.
      {"current-context: a\ncontexts: [a, {name: a, context: [c, u]}]\n", "context \"a\": context must be a map"},
      // A scalar where the cluster's map belongs.
      {"current-context: a\ncontexts:\n- {name: a, context: {cluster: c}}\nclusters: [{name: c, cluster: k}]\n",
       "cluster \"c\": cluster must be a map"},
      // A scalar where the user's map belongs.
      {head + cluster + "users: [{name: u, user: t}]\n", "user \"u\": user must be a map"},
      // A list where a scalar belongs.
      {"current-context: [a]\n", "current-context: must be a string"},
      {kubeconfig("    server: [https://k]\n", ""), "cluster \"c1\": server: must be a string"},
      {kubeconfig(ok, "    token: {a: b}\n"), "user \"u1\": token: must be a string"},
      {kubeconfig("    server: https://k\n    insecure-skip-tls-verify: [true]\n", ""),
       "cluster \"c1\": insecure-skip-tls-verify: must be a string"},
      {kubeconfig(ok, "    client-certificate-data: [a]\n"), "user \"u1\": client-certificate-data: must be a string"},
      // The exec block and its parts of the wrong type.
      {kubeconfig(ok, "    exec: aws\n"), "user \"u1\": exec: must be a map"},
      {kubeconfig(ok, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: [x]}\n"),
       "user \"u1\": exec.command: must be a string"},
      {kubeconfig(ok, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, args: a}\n"),
       "user \"u1\": exec.args: must be a list of strings"},
      {kubeconfig(ok, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, args: [[a]]}\n"),
       "user \"u1\": exec.args: must be a list of strings"},
      {kubeconfig(ok, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, env: {A: b}}\n"),
       "user \"u1\": exec.env: must be a list of {name, value}"},
      {kubeconfig(ok, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, env: [A]}\n"),
       "user \"u1\": exec.env: every entry needs a name"},
      {kubeconfig(ok, "    exec: {apiVersion: client.authentication.k8s.io/v1, command: x, env: [{name: A, value: [b]}]}\n"),
       "user \"u1\": exec.env: \"A\": value must be a string"},
      // A list at the top.
      {"- a\n- b\n", "not a kubeconfig"},
      // An alias to nothing.
      {"current-context: *nowhere\n", "not valid YAML"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.text);
    kubeai::core::Result<KubeConfig> config = kubeai::core::Error{"not loaded"};
    REQUIRE_NOTHROW(config = loadText(dir, row.text));
    REQUIRE_FALSE(config.ok());
    std::string prefix = "kubeconfig ";
    prefix += (dir.path() / "config").string();
    prefix += ": ";
    CHECK(config.error().message.starts_with(prefix));
    CHECK_MESSAGE(config.error().message.find(row.expected) != std::string::npos, config.error().message);
  }
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

// kube_time (no test file of its own yet): the range of a TimePoint.
TEST_CASE("parseTime: years outside a TimePoint's range are refused, not wrapped") {
  using kubeai::core::TimePoint;
  using kubeai::kube::parseExpiryTime;
  using kubeai::kube::parseTime;
  using namespace std::chrono;
  struct Row {
    const char* text;
    std::optional<TimePoint> time;    // parseTime
    std::optional<TimePoint> expiry;  // parseExpiryTime
  };
  const TimePoint y2030 = sys_days(2030y / January / 2) + 3h + 4min + 5s;
  const TimePoint y1700 = sys_days(1700y / March / 1);
  const Row rows[] = {
      // In range: both the same time.
      {"2030-01-02T03:04:05Z", y2030, y2030},
      {"2030-01-02T04:04:05.000000+01:00", y2030, y2030},
      {"1700-03-01T00:00:00Z", y1700, y1700},
      // The reviewer's case: 9999 wrapped to 1816 (a Lease "expired", a credential "already expired").
      {"9999-12-31T23:59:59Z", std::nullopt, TimePoint::max()},
      // Just past the last representable second (2262-04-11T23:47:16Z), and an offset carrying it there.
      {"2262-04-12T00:00:00Z", std::nullopt, TimePoint::max()},
      {"2262-04-11T23:47:16.000000-01:00", std::nullopt, TimePoint::max()},
      // Before the first (1677-09-21): refused by both (an expiry then is nonsense).
      {"1600-01-01T00:00:00Z", std::nullopt, std::nullopt},
      {"0001-01-01T00:00:00Z", std::nullopt, std::nullopt},
      // Malformed stays malformed.
      {"9999-13-31T23:59:59Z", std::nullopt, std::nullopt},
      {"2030-01-02T03:04:05+25:00", std::nullopt, std::nullopt},
      // Digits only where RFC 3339 has them: from_chars alone read "-1" as a number (fuzz/kube_time).
      {"2026-11-28T01:-1:00Z", std::nullopt, std::nullopt},
      {"2030-01-02T-3:04:05Z", std::nullopt, std::nullopt},
      {"-030-01-02T03:04:05Z", std::nullopt, std::nullopt},
      {"2030-01-02T03:04:05+-1:00", std::nullopt, std::nullopt},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    CHECK(parseTime(row.text) == row.time);
    CHECK(parseExpiryTime(row.text) == row.expiry);
  }
  // The edges of the range, to the second.
  const auto last = parseTime("2262-04-11T23:47:15Z");
  REQUIRE(last);
  CHECK(*last <= TimePoint::max());
  CHECK(kubeai::kube::formatTime(*last) == "2262-04-11T23:47:15Z");
  const auto first = parseTime("1677-09-21T00:12:45Z");
  REQUIRE(first);
  CHECK(kubeai::kube::formatTime(*first) == "1677-09-21T00:12:45Z");
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

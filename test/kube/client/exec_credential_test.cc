// Exec credential plugins (small shell scripts written by the tests), the
// ExecCredential format, and the caching rules of CredentialSource.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>

#include "kube/client/credentials.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace {

using kubeai::kube::KubeConfig;
using kubeai::kube::detail::CredentialSource;
using kubeai::kube::detail::parseExecCredential;
using kubeai::kube::detail::parseRfc3339;
using kubeai::kube::detail::runExecPlugin;
using kubeai::testing::concat;
using kubeai::testing::TempDir;

constexpr const char* kV1 = "client.authentication.k8s.io/v1";
constexpr const char* kV1beta1 = "client.authentication.k8s.io/v1beta1";

// Writes an executable /bin/sh script.
std::string script(const TempDir& dir, const std::string& name, const std::string& body) {
  const auto path = dir.write(name, concat("#!/bin/sh\n", body));
  ::chmod(path.c_str(), 0755);
  return path.string();
}

// A plugin that counts its runs in `count` and prints a token run-N with the given expiry (a `date -d` offset).
std::string countingPlugin(const TempDir& dir, const std::string& apiVersion, const std::string& expiry) {
  const std::string count = (dir.path() / "count").string();
  std::string body = concat("n=$(cat ", count, " 2>/dev/null || echo 0); n=$((n+1)); echo $n > ", count, "\n");
  body += concat("exp=$(date -u -d '", expiry, "' +%Y-%m-%dT%H:%M:%SZ)\n");
  body += concat("printf '{\"apiVersion\":\"", apiVersion,
                 "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"run-%s\",\"expirationTimestamp\":\"%s\"}}' "
                 "$n $exp\n");
  return script(dir, "plugin", body);
}

int runs(const TempDir& dir) {
  std::ifstream in(dir.path() / "count");
  int n = 0;
  in >> n;
  return n;
}

KubeConfig withExec(const std::string& command, const std::string& apiVersion) {
  KubeConfig config;
  config.server = "https://k";
  config.exec = KubeConfig::Exec{apiVersion, command, {}, {}, {}};
  return config;
}

}  // namespace

TEST_CASE("exec plugin: token, env merged, args, KUBERNETES_EXEC_INFO as kubectl sets it") {
  const TempDir dir;
  const std::string seen = (dir.path() / "seen").string();
  const auto command = script(
      dir, "plugin",
      concat("printf '%s\\n%s\\n%s\\n' \"$KUBERNETES_EXEC_INFO\" \"$MY_VAR\" \"$1$2\" > ", seen, "\n",
             "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",",
             "\"status\":{\"token\":\"tok-1\"}}'\n"));
  KubeConfig::Exec exec{kV1, command, {"a", "b"}, {{"MY_VAR", "from-kubeconfig"}}, {}};
  const auto result = runExecPlugin(exec);
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().message));
  CHECK(result.value().token == "tok-1");
  CHECK_FALSE(result.value().expiration.has_value());
  std::ifstream in(seen);
  std::string info;
  std::string var;
  std::string args;
  std::getline(in, info);
  std::getline(in, var);
  std::getline(in, args);
  CHECK(info == R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","spec":{"interactive":false}})");
  CHECK(var == "from-kubeconfig");
  CHECK(args == "ab");
}

TEST_CASE("exec plugin: v1beta1, client certificates, and an apiVersion mismatch") {
  const TempDir dir;
  const auto command = script(dir, "plugin",
                              "echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
                              "\"status\":{\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEY\"}}'\n");
  const auto beta = runExecPlugin(KubeConfig::Exec{kV1beta1, command, {}, {}, {}});
  REQUIRE(beta.ok());
  CHECK(beta.value().clientCertData == "CERT");
  CHECK(beta.value().clientKeyData == "KEY");
  CHECK(beta.value().token.empty());
  const auto mismatch = runExecPlugin(KubeConfig::Exec{kV1, command, {}, {}, {}});
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.error().message.find("apiVersion \"client.authentication.k8s.io/v1beta1\", but the kubeconfig asks for") !=
        std::string::npos);
}

TEST_CASE("exec plugin: failures carry stderr, the exit status, the install hint, and timeouts kill it") {
  const TempDir dir;
  SUBCASE("exit 1 with stderr") {
    const auto command = script(dir, "plugin", "echo 'token expired, run login' >&2\nexit 3\n");
    const auto result = runExecPlugin(KubeConfig::Exec{kV1, command, {}, {}, {}});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message == concat("exec plugin ", command, ": exit status 3: token expired, run login"));
  }
  SUBCASE("not found, with the install hint") {
    const auto result =
        runExecPlugin(KubeConfig::Exec{kV1, "kubeai-no-such-plugin", {}, {}, "install kubeai-no-such-plugin"});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.starts_with("exec plugin kubeai-no-such-plugin: "));
    CHECK(result.error().message.find("install kubeai-no-such-plugin") != std::string::npos);
  }
  SUBCASE("garbage on stdout") {
    const auto command = script(dir, "plugin", "echo not json\n");
    const auto result = runExecPlugin(KubeConfig::Exec{kV1, command, {}, {}, {}});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("invalid ExecCredential: not a JSON object") != std::string::npos);
  }
  SUBCASE("too slow") {
    const auto command = script(dir, "plugin", "echo waiting >&2\nexec sleep 30\n");
    const auto start = std::chrono::steady_clock::now();
    const auto result = runExecPlugin(KubeConfig::Exec{kV1, command, {}, {}, {}}, std::chrono::milliseconds(300));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("did not finish within") != std::string::npos);
    CHECK(result.error().message.find("waiting") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  }
}

TEST_CASE("ExecCredential parsing and RFC 3339") {
  struct Row {
    const char* json;
    const char* error;  // nullptr: valid
  };
  const Row rows[] = {
      // a token with an expiry
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"2030-01-02T03:04:05Z"}})",
       nullptr},
      // wrong kind
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"Secret","status":{"token":"t"}})", "kind is not ExecCredential"},
      // neither token nor certificate
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}})", "neither a token"},
      // a certificate without its key
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"c"}})",
       "must come together"},
      // a bad timestamp
      {R"({"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"tomorrow"}})",
       "is not RFC 3339"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.json);
    const auto result = parseExecCredential(row.json, kV1);
    if (row.error == nullptr) {
      CHECK(result.ok());
    } else {
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().message.find(row.error) != std::string::npos);
    }
  }
  using std::chrono::system_clock;
  const auto base = parseRfc3339("2030-01-02T03:04:05Z");
  REQUIRE(base.has_value());
  CHECK(system_clock::to_time_t(*base) == 1893553445);
  CHECK(parseRfc3339("2030-01-02T05:04:05+02:00") == base);
  CHECK(parseRfc3339("2030-01-02T03:04:05.500Z").value() - *base == std::chrono::milliseconds(500));
  CHECK_FALSE(parseRfc3339("2030-13-02T03:04:05Z").has_value());
  CHECK_FALSE(parseRfc3339("2030-01-02 03:04").has_value());
  // Far beyond what a time point holds: never expiring, not wrapped into the past.
  CHECK(parseRfc3339("9999-12-31T23:59:59Z") == system_clock::time_point::max());
}

TEST_CASE("credential source: exec cached until shortly before expiry, re-run at once after a 401") {
  const TempDir dir;
  SUBCASE("an hour ahead: cached") {
    CredentialSource source(withExec(countingPlugin(dir, kV1, "+1 hour"), kV1));
    const auto first = source.current();
    REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message));
    CHECK(first.value().token == "run-1");
    CHECK(source.current().value().token == "run-1");
    CHECK(runs(dir) == 1);
    // A 401 with the current credential: the plugin runs again.
    const auto refreshed = source.refresh(first.value().generation);
    CHECK(refreshed.value().token == "run-2");
    // A second 401 with the old generation (another thread's): no extra run.
    CHECK(source.refresh(first.value().generation).value().token == "run-2");
    CHECK(runs(dir) == 2);
  }
  SUBCASE("expiring within the margin: run again each time") {
    CredentialSource source(withExec(countingPlugin(dir, kV1beta1, "+5 seconds"), kV1beta1));
    CHECK(source.current().value().token == "run-1");
    CHECK(source.current().value().token == "run-2");
    CHECK(runs(dir) == 2);
  }
  SUBCASE("a failing plugin is an error") {
    CredentialSource source(withExec(script(dir, "bad", "echo denied >&2; exit 1\n"), kV1));
    const auto result = source.current();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("denied") != std::string::npos);
  }
}

TEST_CASE("credential source: token file read again on refresh, static token never changes") {
  const TempDir dir;
  const auto file = dir.write("token", "one\n");
  KubeConfig config;
  config.tokenFile = file;
  CredentialSource source(config);
  CHECK(source.refreshable());
  const auto first = source.current();
  REQUIRE(first.ok());
  CHECK(first.value().token == "one");
  // Unchanged file: same generation, so a 401 is not retried in a loop.
  CHECK(source.refresh(first.value().generation).value().generation == first.value().generation);
  dir.write("token", "two\n");
  CHECK(source.current().value().token == "one");  // within the minute: cached
  const auto second = source.refresh(first.value().generation);
  CHECK(second.value().token == "two");
  CHECK(second.value().generation != first.value().generation);
  // The file gone for a moment (a rotation): the last token stays.
  std::filesystem::remove(file);
  CHECK(source.refresh(second.value().generation).value().token == "two");

  KubeConfig fixed;
  fixed.token = "static";
  CredentialSource staticSource(fixed);
  CHECK_FALSE(staticSource.refreshable());
  const auto s = staticSource.current();
  CHECK(s.value().token == "static");
  CHECK(staticSource.refresh(s.value().generation).value().generation == s.value().generation);
}

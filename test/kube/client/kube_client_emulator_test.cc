// KubeClient against the API emulator (test/kube/emulator): policies created,
// read and patched, a watch receiving ADDED and MODIFIED events, a cut watch,
// token rotation; and over TLS: CA data, tls-server-name, client certificates
// made with the openssl CLI, insecure-skip-tls-verify.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator_process.h"
#include "kube/client/file_util.h"
#include "kube/client/kube_client.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace {

using kubeai::kube::KubeClient;
using kubeai::kube::KubeConfig;
using kubeai::testing::concat;
using kubeai::testing::EmulatorProcess;
using kubeai::testing::stretched;
using kubeai::testing::TempDir;
using namespace std::chrono_literals;

constexpr const char* kPolicies = "/apis/kubeai.io/v1alpha1/namespaces/default/aiinferenceautoscalerpolicies";

std::unique_ptr<KubeClient> makeClient(KubeConfig config) {
  auto client = KubeClient::create(std::move(config));
  REQUIRE_MESSAGE(client.ok(), (client.ok() ? "" : client.error().message));
  return std::move(client).value();
}

std::string policy(const std::string& name, int maxReplicas) {
  nlohmann::json body = {{"apiVersion", "kubeai.io/v1alpha1"},
                         {"kind", "AIInferenceAutoscalerPolicy"},
                         {"metadata", {{"name", name}}},
                         {"spec", {{"targetRef", {{"kind", "Deployment"}, {"name", "llm"}}}, {"maxReplicas", maxReplicas}}}};
  return body.dump();
}

std::string read(const std::filesystem::path& path) { return kubeai::kube::detail::readSmallFile(path, "test").value(); }

// A CA, a server certificate for DNS:apiserver.internal only (no IP), and a client certificate.
struct Pki {
  TempDir dir;
  Pki() {
    const std::string d = dir.path().string();
    dir.write("server.ext", "subjectAltName=DNS:apiserver.internal\nextendedKeyUsage=serverAuth\n");
    dir.write("client.ext", "extendedKeyUsage=clientAuth\n");
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script = concat(
        "set -e; cd ", d, "; exec >openssl.log 2>&1\n",
        "openssl req -x509 ", ec, " -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca\n",
        "openssl req ", ec, " -keyout server.key -out server.csr -subj /CN=apiserver\n",
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext\n",
        "openssl req ", ec, " -keyout client.key -out client.crt.csr -subj /CN=kubeai-client\n",
        "openssl x509 -req -in client.crt.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext\n");
    const auto path = dir.write("make.sh", script);
    const int status = std::system(concat("/bin/sh ", path.string()).c_str());
    REQUIRE_MESSAGE(status == 0, read(dir.path() / "openssl.log"));
  }
  [[nodiscard]] std::string file(const char* name) const { return (dir.path() / name).string(); }
};

const std::string kEmulator = KUBEAI_EMULATOR_SCRIPT;

}  // namespace

TEST_CASE("emulator: create, get and merge-patch a policy") {
  EmulatorProcess emulator(kEmulator, {"--token", "T"});
  KubeConfig config;
  config.server = concat("http://127.0.0.1:", std::to_string(emulator.port()));
  config.token = "T";
  auto client = makeClient(config);
  const auto created = client->request("POST", kPolicies, policy("chat", 3), "application/json");
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
  CHECK(created.value().status == 201);
  const auto got = client->request("GET", concat(kPolicies, "/chat"));
  REQUIRE(got.ok());
  CHECK(got.value().status == 200);
  CHECK(nlohmann::json::parse(got.value().body)["spec"]["maxReplicas"] == 3);
  const auto patched = client->request("PATCH", concat(kPolicies, "/chat/status"),
                                       R"({"status":{"desiredReplicas":2}})", "application/merge-patch+json");
  REQUIRE(patched.ok());
  CHECK(patched.value().status == 200);
  CHECK(nlohmann::json::parse(patched.value().body)["status"]["desiredReplicas"] == 2);
  const auto list = client->request("GET", concat(kPolicies, "?limit=500"));
  CHECK(nlohmann::json::parse(list.value().body)["items"].size() == 1);
  const auto strategic = client->request("PATCH", concat(kPolicies, "/chat"), "{}",
                                         "application/strategic-merge-patch+json");
  CHECK(strategic.value().status == 415);  // a custom resource: the status, not an Error
  CHECK(client->request("POST", "/_emulator/fail?status=503&count=1").value().status == 200);
  CHECK(client->request("GET", kPolicies).value().status == 503);  // a status, not an Error; no retry
  CHECK(client->request("GET", kPolicies).value().status == 200);
}

TEST_CASE("emulator: a watch receives ADDED and MODIFIED, and returns when the emulator cuts it") {
  EmulatorProcess emulator(kEmulator, {"--token", "T"});
  KubeConfig config;
  config.server = concat("http://127.0.0.1:", std::to_string(emulator.port()));
  config.token = "T";
  auto client = makeClient(config);
  REQUIRE(client->request("POST", kPolicies, policy("a", 3), "application/json").value().status == 201);
  std::mutex mutex;
  std::vector<std::string> types;
  std::atomic<bool> finished{false};
  kubeai::core::Result<long> status = kubeai::core::Error{"not run"};
  std::jthread watcher([&] {
    status = client->stream(concat(kPolicies, "?watch=1&resourceVersion=0&allowWatchBookmarks=true"),
                            [&](std::string_view line) {
                              const auto event = nlohmann::json::parse(line);
                              const std::lock_guard lock(mutex);
                              types.push_back(event["type"].get<std::string>());
                              return true;
                            },
                            std::stop_token{}, 60s);
    finished = true;
  });
  auto count = [&](const std::string& type) {
    const std::lock_guard lock(mutex);
    return std::count(types.begin(), types.end(), type);
  };
  kubeai::testing::waitUntil([&] { return count("ADDED") == 1; }, stretched(20s), "ADDED");
  REQUIRE(client->request("PATCH", concat(kPolicies, "/a"), R"({"spec":{"maxReplicas":4}})",
                          "application/merge-patch+json")
              .value()
              .status == 200);
  kubeai::testing::waitUntil([&] { return count("MODIFIED") == 1; }, stretched(20s), "MODIFIED");
  CHECK(client->request("POST", "/_emulator/cut-watches").value().status == 200);
  kubeai::testing::waitUntil([&] { return finished.load(); }, stretched(20s), "the cut watch to return");
  watcher.join();
  // A cut ends the body cleanly (200) or mid-chunk (an Error): either way the stream returns.
  if (status.ok()) {
    CHECK(status.value() == 200);
  } else {
    MESSAGE("the cut watch ended with: " << status.error().message);
  }
}

TEST_CASE("emulator: a rotated token file recovers after a 401") {
  const TempDir dir;
  const auto serverToken = dir.write("server-token", "one\n");
  const auto clientToken = dir.write("client-token", "one\n");
  EmulatorProcess emulator(kEmulator, {"--token-file", serverToken.string()});
  KubeConfig config;
  config.server = concat("http://127.0.0.1:", std::to_string(emulator.port()));
  config.tokenFile = clientToken;
  auto client = makeClient(config);
  CHECK(client->request("GET", kPolicies).value().status == 200);
  // Rotation: the server accepts only the new token, which the kubelet has written to the client's file.
  dir.write("server-token", "two\n");
  dir.write("client-token", "two\n");
  CHECK(client->request("GET", kPolicies).value().status == 200);  // 401, re-read, retried
  const auto log = nlohmann::json::parse(client->request("GET", "/_emulator/requests").value().body);
  std::vector<int> statuses;
  for (const auto& entry : log) {
    statuses.push_back(entry["status"].get<int>());
  }
  CHECK(statuses == std::vector<int>{200, 401, 200});
}

TEST_CASE("emulator: an exec plugin's token, run again after a 401") {
  const TempDir dir;
  const auto serverToken = dir.write("server-token", "one\n");
  dir.write("plugin-token", "one");
  const auto plugin = dir.write(
      "plugin", concat("#!/bin/sh\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",",
                       "\"status\":{\"token\":\"%s\"}}' \"$(cat ", (dir.path() / "plugin-token").string(), ")\"\n"));
  std::filesystem::permissions(plugin, std::filesystem::perms::owner_all);
  EmulatorProcess emulator(kEmulator, {"--token-file", serverToken.string()});
  KubeConfig config;
  config.server = concat("http://127.0.0.1:", std::to_string(emulator.port()));
  config.exec = KubeConfig::Exec{"client.authentication.k8s.io/v1", plugin.string(), {}, {}, {}};
  auto client = makeClient(config);
  const auto first = client->request("GET", kPolicies);
  REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message));
  CHECK(first.value().status == 200);
  dir.write("server-token", "two\n");
  dir.write("plugin-token", "two");
  CHECK(client->request("GET", kPolicies).value().status == 200);  // 401, plugin run again, retried
}

TEST_CASE("emulator over TLS: CA data, tls-server-name, client certificates, insecure") {
  const Pki pki;
  EmulatorProcess emulator(kEmulator, {"--token", "T", "--tls-cert", pki.file("server.crt"), "--tls-key",
                                       pki.file("server.key"), "--client-ca", pki.file("ca.crt")});
  const std::string server = concat("https://127.0.0.1:", std::to_string(emulator.port()));
  KubeConfig base;
  base.server = server;
  base.caData = read(pki.file("ca.crt"));

  SUBCASE("the certificate does not name 127.0.0.1: refused") {
    KubeConfig config = base;
    config.token = "T";
    const auto response = makeClient(config)->request("GET", "/api");
    REQUIRE_FALSE(response.ok());
    CHECK(response.error().message.starts_with(concat("GET ", server, "/api: ")));
  }
  SUBCASE("tls-server-name: verified against apiserver.internal") {
    KubeConfig config = base;
    config.token = "T";
    config.tlsServerName = "apiserver.internal";
    auto client = makeClient(config);
    const auto response = client->request("GET", "/api");
    REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error().message));
    CHECK(response.value().status == 200);
    CHECK(client->request("GET", "/api").value().status == 200);
  }
  SUBCASE("a client certificate instead of a token") {
    KubeConfig config = base;
    config.tlsServerName = "apiserver.internal";
    CHECK(makeClient(config)->request("GET", kPolicies).value().status == 401);
    config.clientCertData = read(pki.file("client.crt"));
    config.clientKeyData = read(pki.file("client.key"));
    const auto response = makeClient(config)->request("GET", kPolicies);
    REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error().message));
    CHECK(response.value().status == 200);
  }
  SUBCASE("insecure-skip-tls-verify") {
    KubeConfig config;
    config.server = server;
    config.token = "T";
    config.insecureSkipTlsVerify = true;
    CHECK(makeClient(config)->request("GET", "/api").value().status == 200);
    config.insecureSkipTlsVerify = false;  // the system CAs do not know the test CA
    CHECK_FALSE(makeClient(config)->request("GET", "/api").ok());
  }
}

#include "kube/leader_elector.h"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <regex>
#include <thread>

#include <nlohmann/json.hpp>

#include "../client/emulator_process.h"
#include "kube/policy_status.h"
#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::RecordedRequest;
using testing::RecordingKubeClient;

constexpr const char* kCollection = "/apis/coordination.k8s.io/v1/namespaces/ml/leases";
constexpr const char* kItem = "/apis/coordination.k8s.io/v1/namespaces/ml/leases/kubeai-scaler";

// One Lease with the API's optimistic concurrency: every write bumps the
// resourceVersion, a PUT carrying another one gets 409, a POST of an
// existing one 409.
class LeaseServer {
 public:
  // Answers instead of the store while set (a failing or hanging server).
  std::function<std::optional<core::Result<KubeResponse>>(const RecordedRequest&)> override;

  core::Result<KubeResponse> handle(const RecordedRequest& request) {
    std::function<std::optional<core::Result<KubeResponse>>(const RecordedRequest&)> answer;
    {
      const std::lock_guard lock(mutex_);
      answer = override;
    }
    if (answer) {
      if (auto result = answer(request)) {
        return *result;
      }
    }
    const std::lock_guard lock(mutex_);
    if (request.method == "GET" && request.path == kItem) {
      return lease_ ? KubeResponse{200, lease_->dump()} : KubeResponse{404, R"({"kind":"Status","code":404})"};
    }
    if (request.method == "POST" && request.path == kCollection) {
      if (lease_) {
        return KubeResponse{409, R"({"kind":"Status","code":409,"reason":"AlreadyExists"})"};
      }
      store(json::parse(request.body));
      return KubeResponse{201, lease_->dump()};
    }
    if (request.method == "PUT" && request.path == kItem) {
      if (!lease_) {
        return KubeResponse{404, R"({"kind":"Status","code":404})"};
      }
      const json body = json::parse(request.body);
      if (body["metadata"].value("resourceVersion", "") != (*lease_)["metadata"].value("resourceVersion", "")) {
        return KubeResponse{409, R"({"kind":"Status","code":409,"message":"the object has been modified"})"};
      }
      store(body);
      return KubeResponse{200, lease_->dump()};
    }
    return KubeResponse{405, R"({"kind":"Status","code":405})"};
  }

  void setOverride(std::function<std::optional<core::Result<KubeResponse>>(const RecordedRequest&)> answer) {
    const std::lock_guard lock(mutex_);
    override = std::move(answer);
  }
  // Puts a Lease there, as another process would.
  void put(json spec) {
    const std::lock_guard lock(mutex_);
    store(json{{"apiVersion", "coordination.k8s.io/v1"},
               {"kind", "Lease"},
               {"metadata", {{"name", "kubeai-scaler"}, {"namespace", "ml"}}},
               {"spec", std::move(spec)}});
  }
  std::optional<json> lease() const {
    const std::lock_guard lock(mutex_);
    return lease_;
  }

 private:
  void store(json lease) {
    lease["metadata"]["resourceVersion"] = std::to_string(++version_);
    lease_ = std::move(lease);
  }

  mutable std::mutex mutex_;
  std::optional<json> lease_;
  long version_ = 0;
};

// Short durations: a 2 s lease renewed every second, candidates polling every 100 ms.
LeaderElectionOptions shortOptions(std::string identity) {
  LeaderElectionOptions options;
  options.leaseNamespace = "ml";
  options.identity = std::move(identity);
  options.leaseDuration = 2s;
  options.renewInterval = 1s;
  options.retryInterval = 100ms;
  return options;
}

template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return predicate();
}

struct Fixture {
  RecordingKubeClient client;
  LeaseServer server;
  std::atomic<int> gained{0};
  std::atomic<int> lost{0};

  Fixture() {
    client.setHandler([this](const RecordedRequest& request) { return server.handle(request); });
  }
  std::unique_ptr<LeaderElector> elector(const std::string& identity) {
    return std::make_unique<LeaderElector>(client, shortOptions(identity), [this](bool leading) {
      ++(leading ? gained : lost);
    });
  }
};

const std::regex kMicroTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");

TEST_CASE("an absent Lease is created and held") {
  Fixture fixture;
  auto elector = fixture.elector("a");
  CHECK_FALSE(elector->isLeader());
  elector->start();
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
  CHECK(fixture.gained == 1);
  REQUIRE(fixture.client.requests("POST").size() == 1);
  CHECK(fixture.client.requests("POST")[0].path == kCollection);
  const json spec = fixture.server.lease()->at("spec");
  CHECK(spec.at("holderIdentity") == "a");
  CHECK(spec.at("leaseDurationSeconds") == 2);
  CHECK(spec.at("leaseTransitions") == 0);
  CHECK(std::regex_match(spec.at("acquireTime").get<std::string>(), kMicroTime));
  CHECK(std::regex_match(spec.at("renewTime").get<std::string>(), kMicroTime));
}

TEST_CASE("the holder renews every renew interval, keeping acquireTime") {
  Fixture fixture;
  auto elector = fixture.elector("a");
  elector->start();
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
  const json first = fixture.server.lease()->at("spec");
  REQUIRE(fixture.client.waitFor("PUT", 2, 3s));
  const json renewed = fixture.server.lease()->at("spec");
  CHECK(renewed.at("holderIdentity") == "a");
  CHECK(renewed.at("acquireTime") == first.at("acquireTime"));
  CHECK(renewed.at("renewTime") != first.at("renewTime"));
  CHECK(renewed.at("leaseTransitions") == 0);
  CHECK(elector->isLeader());
  CHECK(fixture.gained == 1);
  CHECK(fixture.lost == 0);
}

TEST_CASE("a renew interval longer than the lease is shortened, so leadership holds") {
  Fixture fixture;
  LeaderElectionOptions options = shortOptions("a");
  options.renewInterval = 5s;  // a misconfiguration: the lease would lapse between renewals
  LeaderElector elector(fixture.client, options);
  elector.start();
  REQUIRE(eventually([&] { return elector.isLeader(); }, 2s));
  for (int i = 0; i < 30; ++i) {  // three seconds, over one lease duration
    CHECK(elector.isLeader());
    std::this_thread::sleep_for(100ms);
  }
}

TEST_CASE("a Lease whose renewTime is long past is taken only after leaseDuration of local observation") {
  Fixture fixture;
  // A live holder whose clock runs an hour behind ours: by its renewTime the
  // lease expired long ago, but it renews (or may still) and writes. Only
  // what this process observed on its own clock counts (client-go): the
  // record must stay unchanged for leaseDurationSeconds first.
  const std::string anHourAgo = formatMicroTime(std::chrono::system_clock::now() - 1h);
  fixture.server.put({{"holderIdentity", "b"},
                      {"leaseDurationSeconds", 2},
                      {"acquireTime", anHourAgo},
                      {"renewTime", anHourAgo},
                      {"leaseTransitions", 4}});
  auto elector = fixture.elector("a");
  const auto started = std::chrono::steady_clock::now();
  elector->start();
  REQUIRE(fixture.client.waitFor("GET", 1, 2s));
  std::this_thread::sleep_for(1500ms);
  CHECK_FALSE(elector->isLeader());
  CHECK(fixture.client.requests("PUT").empty());
  CHECK(fixture.server.lease()->at("spec").at("holderIdentity") == "b");

  REQUIRE(eventually([&] { return elector->isLeader(); }, 3s));
  CHECK(std::chrono::steady_clock::now() - started >= 2s);
  const json spec = fixture.server.lease()->at("spec");
  CHECK(spec.at("holderIdentity") == "a");
  CHECK(spec.at("leaseTransitions") == 5);
  CHECK(spec.at("acquireTime") != anHourAgo);
}

TEST_CASE("a released Lease (no holder) is taken at once") {
  Fixture fixture;
  fixture.server.put({{"leaseDurationSeconds", 15},
                      {"renewTime", formatMicroTime(std::chrono::system_clock::now())},
                      {"leaseTransitions", 2}});
  auto elector = fixture.elector("a");
  const auto started = std::chrono::steady_clock::now();
  elector->start();
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  CHECK(fixture.server.lease()->at("spec").at("holderIdentity") == "a");
}

TEST_CASE("remaining(): how long leadership is certain, 0 when not leading") {
  Fixture fixture;
  auto elector = fixture.elector("a");
  CHECK(elector->remaining() == 0ms);
  elector->start();
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
  const auto left = elector->remaining();
  CHECK(left > 0ms);
  CHECK(left <= 1600ms);  // the 2 s lease less its margin (a fifth)
  elector->stop();
  CHECK(elector->remaining() == 0ms);
}

TEST_CASE("a live Lease of another holder is left alone") {
  Fixture fixture;
  const std::string now = formatMicroTime(std::chrono::system_clock::now());
  fixture.server.put({{"holderIdentity", "b"}, {"leaseDurationSeconds", 15}, {"renewTime", now}});
  auto elector = fixture.elector("a");
  elector->start();
  std::this_thread::sleep_for(500ms);
  CHECK_FALSE(elector->isLeader());
  CHECK(fixture.client.requests("PUT").empty());
  CHECK(fixture.server.lease()->at("spec").at("holderIdentity") == "b");
}

TEST_CASE("a Lease whose record stops changing expires as observed, whatever its renewTime says") {
  Fixture fixture;
  // A holder whose clock runs an hour ahead: by renewTime it is alive for an hour.
  const std::string ahead = formatMicroTime(std::chrono::system_clock::now() + 1h);
  fixture.server.put({{"holderIdentity", "b"}, {"leaseDurationSeconds", 1}, {"renewTime", ahead}});
  auto elector = fixture.elector("a");
  elector->start();
  std::this_thread::sleep_for(500ms);
  CHECK_FALSE(elector->isLeader());
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
}

TEST_CASE("a 409 on renewal ends leadership at once") {
  Fixture fixture;
  auto elector = fixture.elector("a");
  elector->start();
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
  fixture.server.setOverride([](const RecordedRequest& request) -> std::optional<core::Result<KubeResponse>> {
    if (request.method == "PUT") {
      return core::Result<KubeResponse>(KubeResponse{409, R"({"kind":"Status","code":409})"});
    }
    return std::nullopt;
  });
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return !elector->isLeader(); }, 3s));
  CHECK(std::chrono::steady_clock::now() - started <= 1500ms);  // within one renew period
  CHECK(fixture.lost == 1);
}

TEST_CASE("another holder seen ends leadership within one renew period") {
  Fixture fixture;
  auto elector = fixture.elector("a");
  elector->start();
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
  fixture.server.put({{"holderIdentity", "b"},
                      {"leaseDurationSeconds", 15},
                      {"renewTime", formatMicroTime(std::chrono::system_clock::now())}});
  const auto started = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return !elector->isLeader(); }, 3s));
  CHECK(std::chrono::steady_clock::now() - started <= 1500ms);
  CHECK(fixture.lost == 1);
}

TEST_CASE("renewals failing, or hanging, end leadership before the Lease can lapse") {
  Fixture fixture;
  auto elector = fixture.elector("a");
  elector->start();
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
  const auto gainedAt = std::chrono::steady_clock::now();

  SUBCASE("errors") {
    fixture.server.setOverride([](const RecordedRequest&) -> std::optional<core::Result<KubeResponse>> {
      return core::Result<KubeResponse>(KubeResponse{503, R"({"kind":"Status","code":503})"});
    });
    REQUIRE(eventually([&] { return !elector->isLeader(); }, 3s));
    CHECK(std::chrono::steady_clock::now() - gainedAt < 2s);  // the lease duration
    REQUIRE(eventually([&] { return fixture.lost == 1; }, 1s));
  }
  SUBCASE("a server that does not answer") {
    std::mutex mutex;
    std::condition_variable released;
    bool open = false;
    fixture.server.setOverride([&](const RecordedRequest&) -> std::optional<core::Result<KubeResponse>> {
      std::unique_lock lock(mutex);
      released.wait(lock, [&] { return open; });
      return core::Result<KubeResponse>(core::Error{"timed out"});
    });
    // isLeader() turns false by itself while the elector's request hangs.
    REQUIRE(eventually([&] { return !elector->isLeader(); }, 3s));
    CHECK(std::chrono::steady_clock::now() - gainedAt < 2s);
    {
      const std::lock_guard lock(mutex);
      open = true;
    }
    released.notify_all();
    fixture.server.setOverride({});
    elector.reset();
  }
}

TEST_CASE("a problem is reported with its request and the server's words, once while it repeats") {
  Fixture fixture;
  fixture.server.setOverride([](const RecordedRequest&) -> std::optional<core::Result<KubeResponse>> {
    return core::Result<KubeResponse>(
        KubeResponse{403, R"({"kind":"Status","code":403,"message":"leases is forbidden: no RBAC"})"});
  });
  std::mutex mutex;
  std::vector<std::string> errors;
  LeaderElectionOptions options = shortOptions("a");
  options.onError = [&](const std::string& error) {
    const std::lock_guard lock(mutex);
    errors.push_back(error);
  };
  LeaderElector elector(fixture.client, options);
  elector.start();
  REQUIRE(fixture.client.waitFor("GET", 4, 3s));
  elector.stop();
  CHECK_FALSE(elector.isLeader());
  const std::lock_guard lock(mutex);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0] == testing::concat("leader election: GET ", kItem, ": HTTP 403: leases is forbidden: no RBAC"));
}

TEST_CASE("stopping releases the Lease") {
  Fixture fixture;
  auto elector = fixture.elector("a");
  elector->start();
  REQUIRE(eventually([&] { return elector->isLeader(); }, 2s));
  elector->stop();
  CHECK_FALSE(elector->isLeader());
  CHECK(fixture.lost == 1);
  const json spec = fixture.server.lease()->at("spec");
  CHECK_FALSE(spec.contains("holderIdentity"));
  CHECK(spec.at("leaseDurationSeconds") == 1);
}

TEST_CASE("two candidates: exactly one leads, the other takes over when it stops") {
  Fixture fixture;
  auto first = fixture.elector("a");
  auto second = fixture.elector("b");
  first->start();
  second->start();
  REQUIRE(eventually([&] { return first->isLeader() || second->isLeader(); }, 2s));
  for (int i = 0; i < 20; ++i) {  // over two renew periods
    CHECK_FALSE((first->isLeader() && second->isLeader()));
    std::this_thread::sleep_for(100ms);
  }
  LeaderElector& leader = first->isLeader() ? *first : *second;
  LeaderElector& other = first->isLeader() ? *second : *first;
  CHECK(other.isLeader() == false);
  leader.stop();
  const auto stopped = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return other.isLeader(); }, 3s));
  CHECK(std::chrono::steady_clock::now() - stopped < 1s);  // released: no waiting out the lease
  CHECK(fixture.server.lease()->at("spec").at("holderIdentity") == other.identity());
}

TEST_CASE("the default identity is the host name and a random suffix") {
  const std::string one = defaultLeaderIdentity();
  const std::string two = defaultLeaderIdentity();
  CHECK(one.find('_') != std::string::npos);
  CHECK(one != two);
  Fixture fixture;
  LeaderElector elector(fixture.client, LeaderElectionOptions{});
  CHECK_FALSE(elector.identity().empty());
}

}  // namespace
}  // namespace kubeai::kube

// --- Against the API emulator and the real REST client ----------------------

namespace kubeai::kube {
namespace {

// test/kube/emulator/apiserver_emulator.py, beside this directory.
const std::string kEmulatorScript =
    (std::filesystem::path(__FILE__).parent_path().parent_path() / "emulator" / "apiserver_emulator.py").string();

std::unique_ptr<KubeClient> emulatorClient(int port) {
  KubeConfig config;
  config.server = testing::concat("http://127.0.0.1:", std::to_string(port));
  config.token = std::string(1, 'T');  // = "T" draws GCC 12's false -Wrestrict here
  auto client = KubeClient::create(std::move(config));
  REQUIRE_MESSAGE(client.ok(), (client.ok() ? "" : client.error().message));
  return std::move(client).value();
}

// The real client, until the test cuts this process off from the API server
// (as a crashed or partitioned replica is): then every request fails.
class SeverableClient final : public KubeClient {
 public:
  explicit SeverableClient(std::unique_ptr<KubeClient> inner) : inner_(std::move(inner)) {}
  core::Result<KubeResponse> request(std::string_view method, const std::string& path, const std::string& body,
                                     std::string_view contentType, std::chrono::milliseconds timeout) override {
    if (severed) {
      return core::Error{testing::concat(std::string(method), " ", path, ": connection refused")};
    }
    return inner_->request(method, path, body, contentType, timeout);
  }
  core::Result<long> stream(const std::string& path, const std::function<bool(std::string_view)>& onLine,
                            std::stop_token stop, std::chrono::milliseconds idleTimeout) override {
    return inner_->stream(path, onLine, std::move(stop), idleTimeout);
  }
  std::atomic<bool> severed{false};

 private:
  std::unique_ptr<KubeClient> inner_;
};

TEST_CASE("emulator: two replicas on one Lease, exactly one leads, the other takes over when it stops") {
  testing::EmulatorProcess emulator(kEmulatorScript, {"--token", "T"});
  auto clientA = emulatorClient(emulator.port());
  auto clientB = emulatorClient(emulator.port());
  auto first = std::make_unique<LeaderElector>(*clientA, shortOptions("a"));
  auto second = std::make_unique<LeaderElector>(*clientB, shortOptions("b"));
  first->start();
  second->start();
  REQUIRE(eventually([&] { return first->isLeader() || second->isLeader(); }, 5s));
  for (int i = 0; i < 25; ++i) {  // over two renew periods
    CHECK_FALSE((first->isLeader() && second->isLeader()));
    std::this_thread::sleep_for(100ms);
  }
  const bool firstLeads = first->isLeader();
  LeaderElector& other = firstLeads ? *second : *first;
  (firstLeads ? first : second).reset();  // stops and releases
  const auto stopped = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return other.isLeader(); }, 5s));
  CHECK(std::chrono::steady_clock::now() - stopped < 2s);  // within one lease duration

  const auto lease = clientA->request("GET", kItem);
  REQUIRE(lease.ok());
  const json spec = json::parse(lease.value().body).at("spec");
  CHECK(spec.at("holderIdentity") == other.identity());
  CHECK(spec.at("leaseTransitions") == 1);
  CHECK(spec.at("leaseDurationSeconds") == 2);
}

TEST_CASE("emulator: a leader cut off from the API server stops leading before the other takes over") {
  testing::EmulatorProcess emulator(kEmulatorScript, {"--token", "T"});
  SeverableClient clientA(emulatorClient(emulator.port()));
  auto clientB = emulatorClient(emulator.port());
  LeaderElector first(clientA, shortOptions("a"));
  first.start();
  REQUIRE(eventually([&] { return first.isLeader(); }, 5s));
  LeaderElector second(*clientB, shortOptions("b"));
  second.start();
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(second.isLeader());

  clientA.severed = true;  // no renewal, no release
  const auto severed = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::duration> firstStopped;
  while (!second.isLeader() && std::chrono::steady_clock::now() - severed < 5s) {
    if (!firstStopped && !first.isLeader()) {
      firstStopped = std::chrono::steady_clock::now() - severed;
    }
    CHECK_FALSE((first.isLeader() && second.isLeader()));
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(second.isLeader());
  REQUIRE(firstStopped);
  CHECK(*firstStopped < 2s);  // stopped writing within the lease duration of its last renewal
  CHECK(std::chrono::steady_clock::now() - severed < 3500ms);  // about one lease duration, plus a poll
}

}  // namespace
}  // namespace kubeai::kube

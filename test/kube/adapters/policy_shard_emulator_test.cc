// Sharding against the API emulator (test/kube/emulator): a PolicyWatcher
// with serve --policy-selector's labelSelector holds only the policies the
// API server selects, picks one up when its label is patched to match and
// drops it when the label changes away; a PolicyWatchSet of two namespaces
// merges them, ignores a third and never lists across namespaces.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../client/emulator_process.h"
#include "kube/client/kube_client.h"
#include "kube/label_selector.h"
#include "kube/policy_watch_set.h"
#include "kube/policy_watcher.h"

namespace kubeai::kube {
namespace {

using testing::concat;
using testing::stretched;
using testing::waitUntil;

const std::string kToken = "T";
constexpr std::chrono::seconds kDeadline{10};

std::string policiesPath(const std::string& ns) {
  return concat("/apis/kubeai.io/v1alpha1/namespaces/", ns, "/aiinferenceautoscalerpolicies");
}

std::string policyJson(const std::string& ns, const std::string& name, const std::string& shard) {
  nlohmann::json object = {
      {"apiVersion", "kubeai.io/v1alpha1"},
      {"kind", "AIInferenceAutoscalerPolicy"},
      {"metadata", {{"name", name}, {"namespace", ns}}},
      {"spec",
       {{"targetRef", {{"kind", "Deployment"}, {"name", name}}},
        {"maxReplicas", 5},
        {"metrics", {{"gpuUtilization", {{"targetPercentage", 70}}}}}}}};
  if (!shard.empty()) {
    object["metadata"]["labels"] = {{"kubeai.io/shard", shard}};
  }
  return object.dump();
}

void call(KubeClient& client, const std::string& method, const std::string& path, const std::string& body,
          long expected) {
  const auto response = client.request(method, path, body,
                                       method == "PATCH" ? "application/merge-patch+json" : "application/json");
  REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error().message));
  REQUIRE_MESSAGE(response.value().status == expected, concat(method, " ", path, ": ", response.value().body));
}

std::unique_ptr<KubeClient> clientOf(const testing::EmulatorProcess& emulator) {
  KubeConfig config;
  config.server = concat("http://127.0.0.1:", std::to_string(emulator.port()));
  config.token = kToken;
  auto created = KubeClient::create(config);
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
  return std::move(created).value();
}

// What the watcher last published, as "namespace/name" in the snapshot's order.
class Published {
 public:
  void take(const PolicySnapshot& snapshot) {
    std::vector<std::string> names;
    std::map<std::string, std::int32_t> maxReplicas;
    for (const auto& policy : *snapshot.policies) {
      names.push_back(keyOf(policy));
      maxReplicas[keyOf(policy)] = specOf(policy).maxReplicas;
    }
    const std::lock_guard lock(mutex_);
    CHECK_MESSAGE(snapshot.invalid.empty(), "a test policy was refused");
    ever_.insert(names.begin(), names.end());
    maxReplicas_ = std::move(maxReplicas);
    if (!first_) {
      first_ = names;
    }
    latest_ = std::move(names);
    ++count_;
  }
  [[nodiscard]] std::vector<std::string> latest() const {
    const std::lock_guard lock(mutex_);
    return latest_;
  }
  // Every policy any snapshot held.
  [[nodiscard]] std::set<std::string> ever() const {
    const std::lock_guard lock(mutex_);
    return ever_;
  }
  [[nodiscard]] std::int32_t maxReplicasOf(const std::string& key) const {
    const std::lock_guard lock(mutex_);
    const auto found = maxReplicas_.find(key);
    return found == maxReplicas_.end() ? -1 : found->second;
  }
  [[nodiscard]] std::optional<std::vector<std::string>> first() const {
    const std::lock_guard lock(mutex_);
    return first_;
  }
  void waitFor(const std::vector<std::string>& expected, const std::string& what) const {
    waitUntil([&] { return latest() == expected; }, stretched(kDeadline), what, [&] {
      std::string seen;
      for (const auto& name : latest()) {
        seen += seen.empty() ? "" : ", ";
        seen += name;
      }
      return concat("published: [", seen, "]");
    });
  }

 private:
  // Policies or shared pointers to them, as the snapshot holds them.
  static std::string keyOf(const core::Policy& policy) { return policy.key(); }
  template <typename Pointer>
  static std::string keyOf(const Pointer& policy) {
    return policy->key();
  }
  static const core::PolicySpec& specOf(const core::Policy& policy) { return policy.spec; }
  template <typename Pointer>
  static const core::PolicySpec& specOf(const Pointer& policy) {
    return policy->spec;
  }

  mutable std::mutex mutex_;
  std::optional<std::vector<std::string>> first_;
  std::set<std::string> ever_;
  std::map<std::string, std::int32_t> maxReplicas_;  // of the latest snapshot
  std::vector<std::string> latest_;
  std::size_t count_ = 0;
};

std::vector<nlohmann::json> policyRequests(KubeClient& client) {
  const auto log = client.request("GET", "/_emulator/requests");
  REQUIRE(log.ok());
  std::vector<nlohmann::json> out;
  for (const auto& request : nlohmann::json::parse(log.value().body)) {
    if (request.value("path", "").find("aiinferenceautoscalerpolicies") != std::string::npos &&
        request.value("method", "") == "GET") {
      out.push_back(request);
    }
  }
  return out;
}

TEST_CASE("PolicyWatcher with a label selector against the API emulator: a policy enters and leaves the shard") {
  testing::EmulatorProcess emulator(KUBEAI_EMULATOR_SCRIPT, {"--token", kToken});
  auto client = clientOf(emulator);
  call(*client, "POST", policiesPath("default"), policyJson("default", "mine", "shard-a"), 201);
  call(*client, "POST", policiesPath("default"), policyJson("default", "other", "shard-b"), 201);
  call(*client, "POST", policiesPath("default"), policyJson("default", "unlabelled", ""), 201);

  const auto selector = LabelSelector::parse("kubeai.io/shard in (shard-a)");
  REQUIRE(selector.ok());
  PolicyWatcherOptions options;
  options.ns = "default";
  options.labelSelector = selector.value().text();
  options.coalesce = std::chrono::milliseconds(10);
  Published published;
  PolicyWatcher watcher(*client, options, [&](PolicySnapshot snapshot) { published.take(snapshot); });
  watcher.start();
  published.waitFor({"default/mine"}, "the first list holds the shard's policy only");

  // Its label patched to match: ADDED by the server, picked up.
  call(*client, "PATCH", concat(policiesPath("default"), "/other"),
       R"({"metadata":{"labels":{"kubeai.io/shard":"shard-a"}}})", 200);
  published.waitFor({"default/mine", "default/other"}, "a policy whose label now matches is picked up");

  // A spec edit of a policy outside the shard is never seen: a marker edit
  // inside the shard, made after it, arrives, and no snapshot ever held it.
  call(*client, "PATCH", concat(policiesPath("default"), "/unlabelled"), R"({"spec":{"maxReplicas":7}})", 200);
  call(*client, "PATCH", concat(policiesPath("default"), "/mine"), R"({"spec":{"maxReplicas":9}})", 200);
  waitUntil([&] { return published.maxReplicasOf("default/mine") == 9; }, stretched(kDeadline),
            "the marker edit inside the shard");
  CHECK(published.ever().count("default/unlabelled") == 0);
  CHECK(published.latest() == std::vector<std::string>{"default/mine", "default/other"});
  // And its label changed away: DELETED by the server, dropped.
  call(*client, "PATCH", concat(policiesPath("default"), "/other"),
       R"({"metadata":{"labels":{"kubeai.io/shard":"shard-b"}}})", 200);
  published.waitFor({"default/mine"}, "a policy whose label no longer matches is dropped");

  // The API server selected: both the list and the watch carried the selector.
  const auto requests = policyRequests(*client);
  std::size_t lists = 0;
  std::size_t watches = 0;
  for (const auto& request : requests) {
    const std::string query = request.value("query", "");
    CHECK_MESSAGE(query.find("labelSelector=kubeai.io%2Fshard%20in%20%28shard-a%29") != std::string::npos, query);
    (query.find("watch=1") != std::string::npos ? watches : lists) += 1;
  }
  CHECK(lists >= 1);
  CHECK(watches >= 1);
  watcher.stop();
}

TEST_CASE("PolicyWatchSet against the API emulator: two namespaces watched and merged, a third ignored") {
  testing::EmulatorProcess emulator(KUBEAI_EMULATOR_SCRIPT, {"--token", kToken});
  auto client = clientOf(emulator);
  call(*client, "POST", policiesPath("team-b"), policyJson("team-b", "chat", ""), 201);
  call(*client, "POST", policiesPath("team-a"), policyJson("team-a", "embed", ""), 201);
  call(*client, "POST", policiesPath("team-c"), policyJson("team-c", "chat", ""), 201);
  call(*client, "POST", "/_emulator/requests/clear", "", 200);

  const auto namespaces = parseNamespaceList(" team-b,team-a ");
  REQUIRE(namespaces.ok());
  PolicyWatcherOptions options;
  options.coalesce = std::chrono::milliseconds(10);
  Published published;
  PolicyWatchSet watchers(*client, options, namespaces.value(), [&](PolicySnapshot snapshot) { published.take(snapshot); });
  REQUIRE(watchers.size() == 2);
  CHECK(watchers.collectionPaths() == std::vector<std::string>{policiesPath("team-a"), policiesPath("team-b")});
  watchers.start();
  published.waitFor({"team-a/embed", "team-b/chat"}, "both namespaces' policies, sorted");
  // Nothing was published before both namespaces were listed.
  REQUIRE(published.first().has_value());
  CHECK(*published.first() == std::vector<std::string>{"team-a/embed", "team-b/chat"});
  CHECK(watchers.synced());

  // A policy added to a watched namespace arrives, merged in order; one in the third does not.
  call(*client, "POST", policiesPath("team-c"), policyJson("team-c", "more", ""), 201);
  call(*client, "POST", policiesPath("team-a"), policyJson("team-a", "vision", ""), 201);
  published.waitFor({"team-a/embed", "team-a/vision", "team-b/chat"}, "a policy added in a watched namespace");
  // team-c's, added first, never held: neither its list's nor its watch's.
  for (const std::string& key : published.ever()) {
    CHECK_MESSAGE(!key.starts_with("team-c/"), key);
  }
  call(*client, "DELETE", concat(policiesPath("team-b"), "/chat"), "", 200);
  published.waitFor({"team-a/embed", "team-a/vision"}, "a policy deleted in a watched namespace");

  // One list and watch per namespace, never across them (a Role per namespace suffices).
  std::map<std::string, std::size_t> lists;
  std::map<std::string, std::size_t> watches;
  for (const auto& request : policyRequests(*client)) {
    const std::string path = request.value("path", "");
    CHECK_MESSAGE((path == policiesPath("team-a") || path == policiesPath("team-b")), path);
    ++(request.value("query", "").find("watch=1") != std::string::npos ? watches : lists)[path];
  }
  for (const char* ns : {"team-a", "team-b"}) {
    CAPTURE(ns);
    CHECK(lists[policiesPath(ns)] >= 1);
    CHECK(watches[policiesPath(ns)] >= 1);
  }
  CHECK(lists.count(policiesPath("team-c")) == 0);
  CHECK(watches.count(policiesPath("team-c")) == 0);
  watchers.stop();
}

TEST_CASE("parseNamespaceList: serve --namespace's list") {
  struct Row {
    const char* text;
    std::vector<std::string> namespaces;  // when valid
    const char* error;                    // when not
  };
  const std::vector<Row> rows = {
      {"", {}, nullptr},                                    // all namespaces
      {"  ", {}, nullptr},                                  // blank: all too
      {"ml", {"ml"}, nullptr},                              // one, as before
      {"team-b, team-a,team-b", {"team-a", "team-b"}, nullptr},  // sorted, deduplicated, blanks ignored
      {"a,,b", {}, "an empty namespace in the list (two commas, or one at an end)"},
      {"a,", {}, "an empty namespace in the list (two commas, or one at an end)"},
      {"Team-A", {}, "namespace \"Team-A\": must be at most 63 lowercase alphanumerics or '-', alphanumeric at both ends"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    const auto parsed = parseNamespaceList(row.text);
    if (row.error == nullptr) {
      REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
      CHECK(parsed.value() == row.namespaces);
    } else {
      REQUIRE_FALSE(parsed.ok());
      CHECK(parsed.error().message == row.error);
    }
  }
}

}  // namespace
}  // namespace kubeai::kube

#include "kube/policy_watcher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fake_kube_client.h"
#include "support/wait.h"

namespace kubeai::kube {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using testing::FakeKubeClient;

json policyObject(const std::string& ns, const std::string& name, int maxReplicas, const std::string& rv,
                  std::int64_t generation = 1) {
  return json{{"apiVersion", "kubeai.io/v1alpha1"},
              {"kind", "AIInferenceAutoscalerPolicy"},
              {"metadata",
               {{"name", name}, {"namespace", ns}, {"resourceVersion", rv}, {"generation", generation}, {"uid", testing::concat("u-", name)}}},
              {"spec",
               {{"targetRef", {{"kind", "Deployment"}, {"name", name}}},
                {"maxReplicas", maxReplicas},
                {"metrics", {{"gpuUtilization", {{"targetPercentage", 70}}}}}}}};
}

std::string listBody(const std::vector<json>& items, const std::string& rv, const std::string& next = "") {
  json list{{"apiVersion", "kubeai.io/v1alpha1"},
            {"kind", "AIInferenceAutoscalerPolicyList"},
            {"metadata", {{"resourceVersion", rv}}},
            {"items", items}};
  if (!next.empty()) {
    list["metadata"]["continue"] = next;
  }
  return list.dump();
}

std::string event(const std::string& type, const json& object) { return json{{"type", type}, {"object", object}}.dump(); }

std::string bookmark(const std::string& rv) {
  return event("BOOKMARK", {{"kind", "AIInferenceAutoscalerPolicy"},
                            {"apiVersion", "kubeai.io/v1alpha1"},
                            {"metadata", {{"resourceVersion", rv}}}});
}

std::string expired() {
  return event("ERROR", {{"kind", "Status"},
                         {"apiVersion", "v1"},
                         {"status", "Failure"},
                         {"reason", "Expired"},
                         {"message", "too old resource version: 5 (40)"},
                         {"code", 410}});
}

// A watcher over a fake client, recording every snapshot and every back-off.
struct Fixture {
  FakeKubeClient client;
  std::mutex mutex;
  std::vector<PolicySnapshot> snapshots;
  std::vector<milliseconds> delays;
  std::unique_ptr<PolicyWatcher> watcher;

  explicit Fixture(std::string ns = "") {
    PolicyWatcherOptions options;
    options.ns = std::move(ns);
    options.coalesce = milliseconds(20);
    options.sleep = [this](milliseconds delay, const std::stop_token& stop) {
      {
        const std::lock_guard lock(mutex);
        delays.push_back(delay);
      }
      std::this_thread::sleep_for(milliseconds(2));  // no hot loop while unscripted
      return !stop.stop_requested();
    };
    watcher = std::make_unique<PolicyWatcher>(client, std::move(options), [this](PolicySnapshot snapshot) {
      const std::lock_guard lock(mutex);
      snapshots.push_back(std::move(snapshot));
    });
  }

  PolicySnapshot last() {
    const std::lock_guard lock(mutex);
    REQUIRE(!snapshots.empty());
    return snapshots.back();
  }
  std::vector<std::string> names() {
    std::vector<std::string> out;
    for (const auto& policy : *last().policies) {
      out.push_back(testing::concat(policy.key(), "@", std::to_string(policy.spec.maxReplicas)));
    }
    return out;
  }
  std::vector<milliseconds> backoffs() {
    const std::lock_guard lock(mutex);
    return delays;
  }
  void waitFor(const std::function<bool()>& condition, const std::string& what) {
    testing::waitUntil(condition, testing::stretched(std::chrono::seconds(5)), what, nullptr, milliseconds(2));
  }
  void waitForNames(const std::vector<std::string>& expected) {
    waitFor(
        [&] {
          const std::lock_guard lock(mutex);
          if (snapshots.empty()) {
            return false;
          }
          std::vector<std::string> out;
          for (const auto& policy : *snapshots.back().policies) {
            out.push_back(testing::concat(policy.key(), "@", std::to_string(policy.spec.maxReplicas)));
          }
          return out == expected;
        },
        "the policies to become as expected");
  }
};

std::string queryValue(const std::string& path, const std::string& key) {
  const std::size_t at = path.find(key + "=");
  if (at == std::string::npos) {
    return {};
  }
  const std::size_t start = at + key.size() + 1;
  return path.substr(start, path.find('&', start) - start);
}

TEST_CASE("PolicyWatcher lists page by page then watches from the list's resourceVersion") {
  Fixture f;
  f.client.onRequest = [](std::string_view, const std::string& path) -> core::Result<KubeResponse> {
    if (path.find("continue=") == std::string::npos) {
      return KubeResponse{200, listBody({policyObject("team-b", "embed", 4, "7")}, "", "page+2/=")};
    }
    return KubeResponse{200, listBody({policyObject("default", "chat", 5, "9")}, "12")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  CHECK(f.names() == std::vector<std::string>{"default/chat@5", "team-b/embed@4"});
  const auto requests = f.client.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0] == "GET /apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?limit=500");
  // The continue token is percent-encoded: base64 carries '+', '/' and '='.
  CHECK(requests[1] == "GET /apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?limit=500&continue=page%2B2%2F%3D");
  f.waitFor([&] { return !f.client.streams().empty(); }, "the watch");
  const std::string watch = f.client.streams()[0];
  CHECK(watch.rfind("/apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?watch=1", 0) == 0);
  CHECK(queryValue(watch, "allowWatchBookmarks") == "true");
  CHECK(queryValue(watch, "resourceVersion") == "12");
  const int timeout = std::stoi(queryValue(watch, "timeoutSeconds"));
  CHECK(timeout >= 300);
  CHECK(timeout <= 600);
  const PolicyWatcher::Health health = f.watcher->health();
  CHECK(health.lists == 1);
  CHECK(health.resourceVersion == "12");
  // The metadata the status writer needs is kept.
  const core::Policy& chat = f.last().policies->front();
  CHECK(chat.metadata.generation == 1);
  CHECK(chat.metadata.resourceVersion == "9");
  CHECK(chat.metadata.uid == "u-chat");
}

TEST_CASE("PolicyWatcher watches one namespace when asked") {
  Fixture f("team-a");
  f.client.onRequest = [](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({}, "3")};
  };
  f.watcher->start();
  f.waitFor([&] { return !f.client.streams().empty(); }, "the watch");
  CHECK(f.client.requests()[0] == "GET /apis/kubeai.io/v1alpha1/namespaces/team-a/aiinferenceautoscalerpolicies?limit=500");
  CHECK(f.client.streams()[0].rfind("/apis/kubeai.io/v1alpha1/namespaces/team-a/aiinferenceautoscalerpolicies?watch=1", 0) == 0);
  CHECK(f.last().policies->empty());
}

TEST_CASE("PolicyWatcher applies watch events and resumes from the last resourceVersion, bookmarks included") {
  Fixture f;
  f.client.onRequest = [](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({policyObject("default", "chat", 5, "9"), policyObject("default", "old", 3, "8")}, "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  f.client.addStream({{event("ADDED", policyObject("default", "embed", 2, "11")),
                       event("MODIFIED", policyObject("default", "chat", 9, "12", 2)),
                       event("DELETED", policyObject("default", "old", 3, "13")), bookmark("20")},
                      200L});
  f.waitForNames({"default/chat@9", "default/embed@2"});
  f.waitFor([&] { return f.client.streams().size() >= 2; }, "the watch to resume");
  // Resumed from the bookmark, without listing again.
  CHECK(queryValue(f.client.streams()[1], "resourceVersion") == "20");
  CHECK(f.client.requests().size() == 1);
  CHECK(f.last().policies->front().metadata.generation == 2);
  CHECK(f.backoffs().empty());
}

TEST_CASE("PolicyWatcher coalesces a burst of events into few snapshots") {
  Fixture f;
  f.client.onRequest = [](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({}, "1")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  FakeKubeClient::StreamScript burst;
  for (int i = 0; i < 200; ++i) {
    burst.lines.push_back(event("ADDED", policyObject("default", testing::concat("p", std::to_string(1000 + i)), 3, std::to_string(2 + i))));
  }
  burst.hold = true;
  f.client.addStream(burst);
  f.waitFor([&] { return f.last().policies->size() == 200; }, "all 200 policies");
  const std::lock_guard lock(f.mutex);
  // The list's snapshot, then a handful: not one per event.
  CHECK(f.snapshots.size() < 20);
}

TEST_CASE("PolicyWatcher lists again after a watch ERROR 410, and after an HTTP 410") {
  Fixture f;
  std::atomic<int> lists{0};
  f.client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    const int n = ++lists;
    if (n == 1) {
      return KubeResponse{200, listBody({policyObject("default", "chat", 5, "9"), policyObject("default", "gone", 5, "9")}, "10")};
    }
    // What changed while the watch was expired: "gone" was deleted, "chat" edited.
    return KubeResponse{200, listBody({policyObject("default", "chat", 7, "50")}, std::to_string(50 + n))};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  f.client.addStream({{expired()}, 200L});
  f.waitForNames({"default/chat@7"});
  CHECK(lists == 2);
  f.waitFor([&] { return f.client.streams().size() >= 2; }, "the watch after the relist");
  CHECK(queryValue(f.client.streams()[1], "resourceVersion") == "52");

  f.client.addStream({{}, 410L});
  f.waitFor([&] { return lists == 3; }, "a list after HTTP 410");
  f.waitFor([&] { return f.watcher->health().lists == 3; }, "the third list to complete");
  CHECK(f.backoffs().empty());
}

TEST_CASE("PolicyWatcher backs off exponentially on 5xx, honours 429's retryAfterSeconds, and resets after success") {
  Fixture f;
  std::atomic<int> calls{0};
  f.client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    const int n = ++calls;
    if (n <= 3) {
      return KubeResponse{503, R"({"kind":"Status","code":503,"message":"etcd is down"})"};
    }
    if (n == 4) {
      return KubeResponse{429, R"({"kind":"Status","code":429,"reason":"TooManyRequests","message":"slow down",)"
                               R"("details":{"retryAfterSeconds":7}})"};
    }
    if (n == 5) {
      return core::Error{"GET /apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?limit=500: connection refused"};
    }
    return KubeResponse{200, listBody({policyObject("default", "chat", 5, "9")}, "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the list to succeed at last");
  auto delays = f.backoffs();
  REQUIRE(delays.size() == 5);
  // Equal jitter: each delay within [step/2, step], the step doubling from 500 ms.
  const std::vector<std::pair<int, int>> bounds = {{250, 500}, {500, 1000}, {1000, 2000}};
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    CAPTURE(i);
    CHECK(delays[i].count() >= bounds[i].first);
    CHECK(delays[i].count() <= bounds[i].second);
  }
  CHECK(delays[3] == milliseconds(7000));  // the server's retryAfterSeconds
  CHECK(delays[4].count() >= 4000);        // still growing after the 429
  CHECK(delays[4].count() <= 8000);

  // A failed watch after the success starts from the bottom again, and
  // resumes from the same resourceVersion (no relist).
  f.client.addStream({{}, core::Error{"GET watch: connection refused"}});
  f.waitFor([&] { return f.backoffs().size() == 6; }, "a back-off after the watch failed");
  CHECK(f.backoffs()[5].count() <= 500);
  f.waitFor([&] { return f.client.streams().size() >= 2; }, "the watch to be retried");
  CHECK(queryValue(f.client.streams()[1], "resourceVersion") == "10");
  CHECK(calls == 6);
  CHECK(f.watcher->health().lastError.find("connection refused") != std::string::npos);

  // A 5xx on the watch answers a Status body, then ends.
  f.client.addStream({{R"({"kind":"Status","code":500,"message":"internal"})"}, 500L});
  f.waitFor([&] { return f.backoffs().size() == 7; }, "a back-off after a watch 500");
  CHECK(f.watcher->health().lastError.find("HTTP 500: internal") != std::string::npos);
}

TEST_CASE("PolicyWatcher refuses invalid objects with the field's path and keeps the valid ones") {
  Fixture f;
  json invalid = policyObject("default", "broken", 5, "4", 3);
  invalid["spec"].erase("maxReplicas");
  f.client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    // List items without apiVersion and kind are still policies: the path says what they are.
    json bare = policyObject("default", "bare", 2, "5");
    bare.erase("apiVersion");
    bare.erase("kind");
    return KubeResponse{200, listBody({policyObject("default", "chat", 5, "9"), invalid, bare}, "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  CHECK(f.names() == std::vector<std::string>{"default/bare@2", "default/chat@5"});
  PolicySnapshot snapshot = f.last();
  REQUIRE(snapshot.invalid.size() == 1);
  CHECK(snapshot.invalid[0].ns == "default");
  CHECK(snapshot.invalid[0].name == "broken");
  CHECK(snapshot.invalid[0].message.find("spec.maxReplicas") != std::string::npos);
  CHECK(snapshot.invalidGenerations.at("default/broken") == 3);

  // Fixed by an edit: served; broken by another: refused.
  json fixed = policyObject("default", "broken", 6, "11", 4);
  json spoilt = policyObject("default", "chat", 5, "12", 2);
  spoilt["spec"]["minReplicas"] = 9;
  f.client.addStream({{event("MODIFIED", fixed), event("MODIFIED", spoilt)}, 200L, true});
  f.waitForNames({"default/bare@2", "default/broken@6"});
  snapshot = f.last();
  REQUIRE(snapshot.invalid.size() == 1);
  CHECK(snapshot.invalid[0].name == "chat");
  CHECK(snapshot.invalid[0].message.find("spec.maxReplicas") != std::string::npos);
  CHECK(snapshot.invalidGenerations.at("default/chat") == 2);
}

TEST_CASE("PolicyWatcher stops promptly while a watch is open") {
  Fixture f;
  f.client.onRequest = [](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({}, "1")};
  };
  f.watcher->start();
  f.waitFor([&] { return !f.client.streams().empty(); }, "the watch");
  const auto started = std::chrono::steady_clock::now();
  f.watcher->stop();
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
}

}  // namespace
}  // namespace kubeai::kube

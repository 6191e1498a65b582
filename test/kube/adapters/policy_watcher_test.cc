#include "kube/policy_watcher.h"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
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

// A line nested `depth` levels inside `prefix`…`suffix`: 2 bytes a level.
std::string deeplyNested(const std::string& prefix, std::size_t depth, const std::string& suffix) {
  return testing::concat(prefix, std::string(depth, '['), std::string(depth, ']'), suffix);
}

// A watcher over a fake client, recording every snapshot, every back-off and
// every log line ("message: error", and as given in `records`).
struct Fixture {
  FakeKubeClient client;
  std::mutex mutex;
  std::vector<PolicySnapshot> snapshots;
  std::vector<milliseconds> delays;
  std::vector<std::string> logs;
  std::vector<std::pair<std::string, WatchLogFields>> records;
  std::unique_ptr<PolicyWatcher> watcher;

  std::vector<std::string> statuses;  // "ns/name: status" handed to onStatus, with statusCallback

  explicit Fixture(std::string ns = "", bool statusCallback = false, std::string labelSelector = "") {
    PolicyWatcherOptions options;
    options.ns = std::move(ns);
    options.labelSelector = std::move(labelSelector);
    if (statusCallback) {
      options.onStatus = [this](const std::string& policyNs, const std::string& name, const std::string& status) {
        const std::lock_guard lock(mutex);
        statuses.push_back(testing::concat(policyNs, "/", name, ": ", status));
      };
    }
    options.coalesce = milliseconds(20);
    options.log = [this](WatchLogLevel, std::string_view message, const WatchLogFields& fields) {
      std::string line(message);
      for (const auto& [key, value] : fields) {
        if (key == "error") {
          line += ": ";
          line += value;
        }
      }
      const std::lock_guard lock(mutex);
      logs.push_back(std::move(line));
      records.emplace_back(std::string(message), fields);
    };
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
  std::size_t snapshotCount() {
    const std::lock_guard lock(mutex);
    return snapshots.size();
  }
  std::vector<PolicySnapshot> snapshotsSince(std::size_t first) {
    const std::lock_guard lock(mutex);
    return {snapshots.begin() + static_cast<std::ptrdiff_t>(first), snapshots.end()};
  }
  std::vector<std::string> names() {
    std::vector<std::string> out;
    for (const auto& policy : *last().policies) {
      out.push_back(testing::concat(policy->key(), "@", std::to_string(policy->spec.maxReplicas)));
    }
    return out;
  }
  std::vector<milliseconds> backoffs() {
    const std::lock_guard lock(mutex);
    return delays;
  }
  bool logged(const std::string& fragment) {
    const std::lock_guard lock(mutex);
    return std::any_of(logs.begin(), logs.end(),
                       [&](const std::string& line) { return line.find(fragment) != std::string::npos; });
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
            out.push_back(testing::concat(policy->key(), "@", std::to_string(policy->spec.maxReplicas)));
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
  const core::Policy& chat = *f.last().policies->front();
  CHECK(chat.metadata.generation == 1);
  CHECK(chat.metadata.resourceVersion == "9");
  CHECK(chat.metadata.uid == "u-chat");
}

TEST_CASE("PolicyWatcher sends its label selector on every list page and watch, and logs the list as serve shows it") {
  Fixture f("", false, "kubeai.io/shard in (shard-a)");
  f.client.onRequest = [](std::string_view, const std::string& path) -> core::Result<KubeResponse> {
    if (path.find("continue=") == std::string::npos) {
      return KubeResponse{200, listBody({policyObject("team-b", "embed", 4, "7")}, "", "next")};
    }
    return KubeResponse{200, listBody({policyObject("default", "chat", 5, "9")}, "12")};
  };
  f.watcher->start();
  const auto listedRecord = [&]() -> std::optional<WatchLogFields> {
    const std::lock_guard lock(f.mutex);
    for (const auto& [message, fields] : f.records) {
      if (message == "policies listed") {
        return fields;
      }
    }
    return std::nullopt;
  };
  f.waitFor([&] { return listedRecord().has_value() && !f.client.streams().empty(); }, "the list and the watch");
  const std::string selector = "labelSelector=kubeai.io%2Fshard%20in%20%28shard-a%29";
  const auto requests = f.client.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0] == testing::concat("GET /apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?limit=500&", selector));
  CHECK(requests[1] ==
        testing::concat("GET /apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?limit=500&", selector, "&continue=next"));
  const std::string watch = f.client.streams()[0];
  CHECK(watch.find(testing::concat("&timeoutSeconds=", queryValue(watch, "timeoutSeconds"), "&", selector)) !=
        std::string::npos);
  // What serve logs and kube_bench reads: the collection, the policies held, the version.
  CHECK(*listedRecord() == WatchLogFields{{"path", "/apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies"},
                                          {"policies", "2"},
                                          {"resourceVersion", "12"}});
  f.watcher->stop();
  const std::lock_guard lock(f.mutex);
  for (const auto& [message, fields] : f.records) {
    for (const auto& field : fields) {
      CHECK_MESSAGE(field.first != "collection", message);  // the target watches' field, not the policies'
    }
  }
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
  CHECK(f.last().policies->front()->metadata.generation == 2);
  CHECK(f.backoffs().empty());
}

TEST_CASE("PolicyWatcher's snapshots share the policies an event did not change") {
  Fixture f;
  f.client.onRequest = [](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({policyObject("default", "a", 5, "7"), policyObject("default", "b", 5, "8"),
                                       policyObject("default", "c", 5, "9")},
                                      "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  const std::shared_ptr<const core::PolicyList> listed = f.last().policies;
  REQUIRE(listed->size() == 3);
  f.client.addStream({{event("MODIFIED", policyObject("default", "b", 9, "11", 2)),
                       event("ADDED", policyObject("default", "bb", 2, "12"))},
                      200L});
  f.waitForNames({"default/a@5", "default/b@9", "default/bb@2", "default/c@5"});
  const std::shared_ptr<const core::PolicyList> edited = f.last().policies;
  // The same objects, not copies: the loop tells what changed by pointer.
  CHECK((*edited)[0] == (*listed)[0]);
  CHECK((*edited)[1] != (*listed)[1]);
  CHECK((*edited)[3] == (*listed)[2]);
  CHECK((*listed)[1]->spec.maxReplicas == 5);  // an earlier snapshot is never changed under its holder
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

TEST_CASE("PolicyWatcher lists again after a watch ERROR 410, and after an HTTP 410, backing off only after a short watch") {
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
  // A watch that brought a change then expired: the server is healthy, the
  // relist is at once.
  f.client.addStream({{event("ADDED", policyObject("default", "embed", 2, "11")), expired()}, 200L});
  f.waitForNames({"default/chat@7"});
  CHECK(lists == 2);
  f.waitFor([&] { return f.client.streams().size() >= 2; }, "the watch after the relist");
  CHECK(queryValue(f.client.streams()[1], "resourceVersion") == "52");
  CHECK(f.backoffs().empty());

  // One expired at once: the relist waits a first back-off step (client-go's
  // reflector does the same), so that a server expiring every watch is not
  // listed in a hot loop.
  f.client.addStream({{}, 410L});
  f.waitFor([&] { return lists == 3; }, "a list after HTTP 410");
  f.waitFor([&] { return f.watcher->health().lists == 3; }, "the third list to complete");
  const auto delays = f.backoffs();
  REQUIRE(delays.size() == 1);
  CHECK(delays[0].count() >= 250);
  CHECK(delays[0].count() <= 500);
}

// Answers every list at once with one policy (after `listDelay`) and every
// watch with an ERROR 410 at once: a server whose watch cache is always
// behind.
class AlwaysExpiredClient final : public KubeClient {
 public:
  std::atomic<int> lists{0};
  milliseconds listDelay{5};

  core::Result<KubeResponse> request(std::string_view, const std::string&, const std::string&, std::string_view,
                                     milliseconds) override {
    std::this_thread::sleep_for(listDelay);
    const int n = ++lists;
    return KubeResponse{200, listBody({policyObject("default", "chat", 5, "9")}, std::to_string(10 + n))};
  }
  core::Result<long> stream(const std::string&, const std::function<bool(std::string_view)>& onLine, std::stop_token,
                            milliseconds) override {
    onLine(expired());
    return 200L;
  }
};

TEST_CASE("PolicyWatcher backs off, growing, between relists when every watch expires at once") {
  AlwaysExpiredClient client;
  std::mutex mutex;
  std::vector<milliseconds> delays;
  PolicyWatcherOptions options;
  options.backoffInitial = milliseconds(100);
  options.backoffMax = milliseconds(400);
  // Really waits (so that the count of lists over a window means something),
  // and records.
  options.sleep = [&](milliseconds delay, const std::stop_token& stop) {
    {
      const std::lock_guard lock(mutex);
      delays.push_back(delay);
    }
    std::mutex sleepMutex;
    std::condition_variable_any wake;
    std::unique_lock lock(sleepMutex);
    wake.wait_for(lock, stop, delay, [] { return false; });
    return !stop.stop_requested();
  };
  PolicyWatcher watcher(client, std::move(options), nullptr);
  watcher.start();
  std::this_thread::sleep_for(milliseconds(1500));
  watcher.stop();
  // Back-offs of [50,100], [100,200], then [200,400] ms: about seven lists in
  // 1.5 s. Without them, hundreds (one every listDelay).
  CHECK(client.lists >= 2);
  CHECK(client.lists <= 12);
  const std::lock_guard lock(mutex);
  REQUIRE(delays.size() >= 3);
  CHECK(delays[0].count() <= 100);
  CHECK(delays[1].count() >= 100);
  CHECK(delays[2].count() >= 200);
  for (const milliseconds delay : delays) {
    CHECK(delay.count() <= 400);
  }
}

TEST_CASE("PolicyWatcher bounds a server's retryAfterSeconds by its back-off maximum") {
  Fixture f;
  // Each row a 429 asking for too long; the last list succeeds.
  const std::vector<std::string> retryAfters = {
      "1000000",               // 11 days: the policy set would be frozen for as long
      "9223372036854775807",   // INT64_MAX: overflows seconds → milliseconds
      "18446744073709551615",  // UINT64_MAX: not even a signed number
  };
  std::atomic<std::size_t> calls{0};
  f.client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    const std::size_t n = calls++;
    if (n < retryAfters.size()) {
      return KubeResponse{429, testing::concat(R"({"kind":"Status","code":429,"reason":"TooManyRequests",)",
                                               R"("details":{"retryAfterSeconds":)", retryAfters[n], "}}")};
    }
    return KubeResponse{200, listBody({}, "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the list to succeed at last");
  const auto delays = f.backoffs();
  REQUIRE(delays.size() == retryAfters.size());
  for (std::size_t i = 0; i < delays.size(); ++i) {
    CAPTURE(retryAfters[i]);
    CHECK(delays[i] == milliseconds(30'000));  // PolicyWatcherOptions::backoffMax
  }
}

TEST_CASE("PolicyWatcher ignores or refuses malformed watch lines without ending the process") {
  Fixture f;
  f.client.onRequest = [](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({}, "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  // Lines with fields of the wrong type: each ignored (with a warning), the stream goes on.
  f.client.addStream({{
                          R"({"type":1,"object":{}})",                                    // type a number
                          R"({"kind":5})",                                                // kind a number, no type
                          R"({"type":["ADDED"],"object":{"kind":"Status"}})",             // type a list
                          R"({"type":"ADDED","object":{"metadata":5}})",                  // metadata a number
                          R"({"type":"ADDED","object":{"metadata":{"name":7}}})",         // name a number
                          R"({"type":"MODIFIED","object":{"metadata":{"name":"x","namespace":"default",)"
                          R"("resourceVersion":5},"spec":[]}})",                         // resourceVersion a number, spec a list
                          R"({"type":"ADDED","object":[]})",                              // object a list
                          event("ADDED", policyObject("default", "chat", 5, "11")),      // still read after all that
                      },
                      200L, true});
  f.waitForNames({"default/chat@5"});
  CHECK(f.logged("an event without a type ignored"));
  CHECK(f.logged("policy without a name ignored: metadata: must be an object, got integer"));
  CHECK(f.logged("policy without a name ignored: metadata.name: must be a string, got integer"));
  CHECK(f.last().invalid.size() == 1);  // default/x: refused, with the reason
  CHECK(f.last().invalid.at(0).message.find("spec") != std::string::npos);
  f.client.releaseStream();

  // Lines that end the watch (resumed after a back-off): a Status whose
  // fields have the wrong types, an ERROR whose code is text, and lines
  // nested 200,000 levels deep (dumping them, as the
  // ERROR event's object once was, overflows the stack).
  f.client.addStream({{R"({"kind":"Status","code":"500","details":{"retryAfterSeconds":"9"}})"}, 500L});
  f.client.addStream({{R"({"type":"ERROR","object":{"kind":"Status","code":"410","message":5}})"}, 200L});
  f.client.addStream({{deeplyNested(R"({"type":"ERROR","object":{"kind":"Status","details":)", 200'000, "}}")}, 200L});
  f.client.addStream({{deeplyNested(R"({"type":"ADDED","object":)", 200'000, "}")}, 200L});
  f.client.addStream({{event("MODIFIED", policyObject("default", "chat", 8, "12", 2))}, 200L, true});
  f.waitForNames({"default/chat@8"});
  CHECK(f.logged("a line is refused, resuming: nested deeper than 64 levels"));
  CHECK(f.backoffs().size() == 4);
  CHECK(f.watcher->health().lists == 1);  // nothing above asked for a relist
}

TEST_CASE("PolicyWatcher refuses a list page of the wrong shape with a message, and lists again") {
  Fixture f;
  // Each row one page that must fail the list (rather than read as empty,
  // which would delete every policy); then one that succeeds.
  const std::vector<std::pair<std::string, std::string>> pages = {
      {R"({"items":{}})", "items: must be a list, got object"},
      {R"({"items":[],"metadata":5})", "metadata: must be an object, got number"},
      {R"({"items":[],"metadata":{"resourceVersion":5}})", "metadata.resourceVersion: must be a string, got number"},
      {R"({"items":[],"metadata":{"continue":[]}})", "metadata.continue: must be a string, got array"},
      {"[]", "the response is not a JSON object, got array"},
      {R"({"items":)", "the response is not JSON"},
      {deeplyNested(R"({"items":)", 200'000, "}"), "the response is nested deeper than 64 levels"},
  };
  std::atomic<std::size_t> calls{0};
  f.client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    const std::size_t n = calls++;
    if (n < pages.size()) {
      return KubeResponse{200, pages[n].first};
    }
    // Items of the wrong shape are refused one by one; the good one is kept.
    json bad = json::array({5, json{{"metadata", 5}}, json{{"metadata", {{"name", 7}}}}});
    std::vector<json> items(bad.begin(), bad.end());
    items.push_back(policyObject("default", "chat", 5, "9"));
    return KubeResponse{200, listBody(items, "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the list to succeed at last");
  CHECK(f.names() == std::vector<std::string>{"default/chat@5"});
  CHECK(f.backoffs().size() == pages.size());
  for (const auto& [page, message] : pages) {
    CAPTURE(message);
    CHECK(f.logged(message));
  }
  CHECK(f.logged("policy without a name ignored: a policy must be a JSON object, got integer"));
  CHECK(f.watcher->health().resourceVersion == "10");
}

TEST_CASE("PolicyWatcher's snapshot carries each policy's status as the API holds it") {
  Fixture f;
  const json chatStatus = {{"observedGeneration", 1},
                           {"conditions", json::array({{{"type", "Ready"},
                                                        {"status", "True"},
                                                        {"lastTransitionTime", "2024-05-01T10:00:00Z"}}})}};
  json chat = policyObject("default", "chat", 5, "9");
  chat["status"] = chatStatus;
  json broken = policyObject("default", "broken", 5, "4", 3);
  broken["spec"].erase("maxReplicas");
  broken["status"] = {{"observedGeneration", 3}};
  json odd = policyObject("default", "odd", 5, "5");
  odd["status"] = "not an object";  // not kept
  f.client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({chat, broken, odd, policyObject("default", "bare", 2, "6")}, "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  PolicySnapshot snapshot = f.last();
  REQUIRE(snapshot.apiStatuses.size() == 2);  // chat (valid) and broken (refused)
  CHECK(snapshot.apiStatuses.at("default/chat") == chatStatus.dump());  // compact
  CHECK(json::parse(snapshot.apiStatuses.at("default/broken")) == broken["status"]);

  // Later snapshots carry only what changed: the MODIFIED chat, never the
  // unchanged or DELETED broken.
  const std::size_t before = f.snapshotCount();
  chat["status"]["observedGeneration"] = 2;
  chat["metadata"]["resourceVersion"] = "11";
  f.client.addStream({{event("MODIFIED", chat), event("DELETED", broken)}, 200L, true});
  f.waitFor([&] { return f.last().invalid.empty(); }, "the DELETED event");
  std::map<std::string, std::string> later;
  for (const PolicySnapshot& each : f.snapshotsSince(before)) {
    for (const auto& [key, status] : each.apiStatuses) {
      later[key] = status;
    }
  }
  REQUIRE(later.size() == 1);
  CHECK(json::parse(later.at("default/chat"))["observedGeneration"] == 2);
}

TEST_CASE("PolicyWatcher: a status-only change goes to onStatus and publishes nothing, a spec change publishes") {
  Fixture f("", true);
  json chat = policyObject("default", "chat", 5, "9");
  f.client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({chat}, "10")};
  };
  f.watcher->start();
  f.waitFor([&] { return f.watcher->synced(); }, "the first list");
  const std::size_t listed = f.snapshotCount();

  // What the leader's own status write looks like from the watch: same generation, new status.
  json written = chat;
  written["metadata"]["resourceVersion"] = "11";
  written["status"] = {{"desiredReplicas", 4}};
  // Then a spec change: the API server bumps the generation.
  json edited = written;
  edited["metadata"]["resourceVersion"] = "12";
  edited["metadata"]["generation"] = 2;
  edited["spec"]["maxReplicas"] = 7;
  f.client.addStream({{event("MODIFIED", written)}, 200L});
  f.waitFor(
      [&] {
        const std::lock_guard lock(f.mutex);
        return !f.statuses.empty();
      },
      "the status handed to onStatus");
  {
    const std::lock_guard lock(f.mutex);
    CHECK(f.statuses == std::vector<std::string>{R"(default/chat: {"desiredReplicas":4})"});
  }
  f.client.addStream({{event("MODIFIED", edited)}, 200L, true});
  f.waitFor([&] { return f.names() == std::vector<std::string>{"default/chat@7"}; }, "the spec change published");
  // One snapshot for the spec change, none for the status write.
  CHECK(f.snapshotCount() == listed + 1);
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

TEST_CASE("PolicyWatcher's health() already describes the list, the event or the failure a consumer is handed") {
  FakeKubeClient client;
  std::atomic<int> lists{0};
  client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    const int n = ++lists;
    return KubeResponse{200, listBody({policyObject("default", "chat", 5, "9")}, n == 1 ? "10" : "20")};
  };
  // What each consumer read from health() as it was handed something.
  struct Seen {
    std::size_t policies;
    std::uint64_t lists;
    std::string resourceVersion;
  };
  std::mutex mutex;
  std::vector<Seen> snapshots;
  std::vector<std::string> statusVersions;                        // health().resourceVersion in onStatus
  std::vector<std::pair<std::string, std::string>> failures;      // the logged error, health().lastError
  std::unique_ptr<PolicyWatcher> watcher;  // set before start(): the callbacks read it
  PolicyWatcherOptions options;
  options.coalesce = milliseconds(1);
  options.onStatus = [&](const std::string&, const std::string&, const std::string&) {
    const std::string rv = watcher->health().resourceVersion;
    const std::lock_guard lock(mutex);
    statusVersions.push_back(rv);
  };
  options.log = [&](WatchLogLevel, std::string_view message, const WatchLogFields& fields) {
    if (message != "policy watch") {
      return;
    }
    for (const auto& [key, value] : fields) {
      if (key == "error") {
        const std::string lastError = watcher->health().lastError;
        const std::lock_guard lock(mutex);
        failures.emplace_back(value, lastError);
      }
    }
  };
  options.sleep = [](milliseconds, const std::stop_token& stop) { return !stop.stop_requested(); };
  watcher = std::make_unique<PolicyWatcher>(client, std::move(options), [&](PolicySnapshot snapshot) {
    const PolicyWatcher::Health health = watcher->health();
    const std::lock_guard lock(mutex);
    snapshots.push_back({snapshot.policies->size(), health.lists, health.resourceVersion});
  });
  const auto waitFor = [&](const std::function<bool()>& condition, const std::string& what) {
    testing::waitUntil(condition, testing::stretched(std::chrono::seconds(5)), what, nullptr, milliseconds(2));
  };
  const auto seen = [&] {
    const std::lock_guard lock(mutex);
    return snapshots;
  };
  watcher->start();
  waitFor([&] { return watcher->synced(); }, "the first list");
  {
    // The first list's set: its count and version, not the none before.
    const std::vector<Seen> first = seen();
    REQUIRE(first.size() == 1);
    CHECK(first[0].lists == 1);
    CHECK(first[0].resourceVersion == "10");
  }
  json written = policyObject("default", "chat", 5, "11");  // a status write: same generation
  written["status"] = {{"desiredReplicas", 4}};
  client.addStream({{event("MODIFIED", written), event("ADDED", policyObject("default", "embed", 2, "12"))}, 200L, true});
  waitFor([&] { return seen().back().policies == 2; }, "the ADDED event's set");
  // The set's health names the last event. That holds in either order: the
  // coalescing thread publishes after the event counts; that an event counts
  // before it is applied is list_watch_test.cc's check, onStatus's below.
  CHECK(seen().back().resourceVersion == "12");
  {
    const std::lock_guard lock(mutex);
    CHECK(statusVersions == std::vector<std::string>{"11"});  // the status event's, not the list's
  }
  // A watch failing (a 500 Status), then expiring: a relist.
  client.addStream({{R"({"kind":"Status","code":500,"message":"internal"})"}, 500L});
  client.addStream({{expired()}, 200L});
  client.releaseStream();
  waitFor([&] { return seen().back().policies == 1; }, "the relist's set");  // embed gone
  CHECK(seen().back().lists == 2);
  CHECK(seen().back().resourceVersion == "20");
  CHECK(lists == 2);
  watcher->stop();
  const std::lock_guard lock(mutex);
  REQUIRE(failures.size() == 1);
  CHECK(failures[0].first.find("HTTP 500: internal") != std::string::npos);
  CHECK(failures[0].second == failures[0].first);  // health() said it when the failure was told
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

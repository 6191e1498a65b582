// TargetWatcher over a scripted client: the lists (paginated) fill the
// cache; ADDED, MODIFIED, DELETED and BOOKMARK events move it; a resumed
// watch starts from the last resourceVersion; an expired one (410) is
// replaced by a relist that drops what it no longer holds; a 429 backs off
// for its retryAfterSeconds before the first list; a listed scope whose watch
// keeps failing is reported unhealthy past the caller's bound (a fake clock).
#include "kube/target_watcher.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/wait.h"

namespace kubeai::kube {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using testing::concat;

// A KubeClient whose watch streams are scripted per collection ("deployments",
// "statefulsets"): two watches run at once, each takes its own scripts.
class RoutedKubeClient final : public KubeClient {
 public:
  struct Script {
    std::vector<std::string> lines;
    core::Result<long> result = 200L;
    bool hold = false;  // stays open after the lines until release()
  };

  std::function<core::Result<KubeResponse>(const std::string& path)> onRequest;

  core::Result<KubeResponse> request(std::string_view method, const std::string& path, const std::string& /*body*/,
                                     std::string_view /*contentType*/, std::chrono::milliseconds /*timeout*/) override {
    {
      const std::lock_guard lock(mutex_);
      requests_.push_back(concat(std::string(method), " ", path));
    }
    return onRequest ? onRequest(path) : KubeResponse{500, R"({"kind":"Status","code":500,"message":"not scripted"})"};
  }

  core::Result<long> stream(const std::string& path, const std::function<bool(std::string_view)>& onLine,
                            std::stop_token stop, std::chrono::milliseconds /*idleTimeout*/) override {
    const std::string route = routeOf(path);
    Script script;
    {
      std::unique_lock lock(mutex_);
      streams_.push_back(path);
      changed_.notify_all();
      changed_.wait(lock, stop, [&] { return !scripts_[route].empty(); });
      if (stop.stop_requested()) {
        return 200L;
      }
      script = std::move(scripts_[route].front());
      scripts_[route].pop_front();
    }
    for (const std::string& line : script.lines) {
      if (!onLine(line)) {
        return script.result;
      }
    }
    if (script.hold) {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, stop, [&] { return released_[route]; });
      released_[route] = false;
    }
    return script.result;
  }

  void add(const std::string& route, Script script) {
    {
      const std::lock_guard lock(mutex_);
      scripts_[route].push_back(std::move(script));
    }
    changed_.notify_all();
  }
  void release(const std::string& route) {
    {
      const std::lock_guard lock(mutex_);
      released_[route] = true;
    }
    changed_.notify_all();
  }
  std::vector<std::string> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }
  std::vector<std::string> streams() const {
    const std::lock_guard lock(mutex_);
    return streams_;
  }

 private:
  static std::string routeOf(const std::string& path) {
    return path.find("/statefulsets") != std::string::npos ? "statefulsets" : "deployments";
  }

  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  std::vector<std::string> requests_;
  std::vector<std::string> streams_;
  std::map<std::string, std::deque<Script>> scripts_;
  std::map<std::string, bool> released_;
};

json workload(const std::string& kind, const std::string& name, int replicas, int ready, const std::string& rv) {
  return json{{"apiVersion", "apps/v1"},
              {"kind", kind},
              {"metadata", {{"name", name}, {"namespace", "default"}, {"resourceVersion", rv}}},
              {"spec", {{"replicas", replicas}, {"template", {{"spec", {{"containers", json::array()}}}}}}},
              {"status", {{"replicas", replicas + 1}, {"readyReplicas", ready}}}};
}

std::string listBody(const std::vector<json>& items, const std::string& rv, const std::string& next = "") {
  json list{{"kind", "DeploymentList"}, {"metadata", {{"resourceVersion", rv}}}, {"items", items}};
  if (!next.empty()) {
    list["metadata"]["continue"] = next;
  }
  return list.dump();
}

std::string event(const std::string& type, const json& object) { return json{{"type", type}, {"object", object}}.dump(); }

// A watcher over the routed client, recording back-offs and log lines.
struct Fixture {
  RoutedKubeClient client;
  std::mutex mutex;
  std::vector<milliseconds> delays;
  std::vector<std::string> logs;
  std::vector<std::pair<std::string, WatchLogFields>> records;  // each line as given
  std::unique_ptr<TargetWatcher> watcher;
  std::atomic<std::int64_t> nowMs{0};  // the cache's clock

  explicit Fixture(std::vector<std::string> namespaces) {
    TargetWatcherOptions options;
    options.namespaces = std::move(namespaces);
    options.clock = [this] { return std::chrono::steady_clock::time_point(milliseconds(nowMs.load())); };
    options.timing.log = [this](WatchLogLevel, std::string_view message, const WatchLogFields& fields) {
      std::string line(message);
      for (const auto& [key, value] : fields) {
        if (key == "error") {
          line += ": " + value;
        }
      }
      const std::lock_guard lock(mutex);
      logs.push_back(std::move(line));
      records.emplace_back(std::string(message), fields);
    };
    options.timing.sleep = [this](milliseconds delay, const std::stop_token& stop) {
      {
        const std::lock_guard lock(mutex);
        delays.push_back(delay);
      }
      std::this_thread::sleep_for(milliseconds(2));  // no hot loop while unscripted
      return !stop.stop_requested();
    };
    watcher = std::make_unique<TargetWatcher>(client, std::move(options));
  }

  TargetLookup deployment(const std::string& name) const {
    return watcher->cache().lookup(TargetKind::kDeployment, "default", name);
  }
  void waitFor(const std::function<bool()>& condition, const std::string& what) {
    testing::waitUntil(condition, testing::stretched(std::chrono::seconds(5)), what, [this] {
      std::string out = "requests:";
      for (const auto& request : client.requests()) {
        out += " " + request;
      }
      out += "; streams:";
      for (const auto& stream : client.streams()) {
        out += " " + stream;
      }
      return out;
    }, milliseconds(2));
  }
  std::size_t count(const std::vector<std::string>& lines, const std::string& part) const {
    return static_cast<std::size_t>(
        std::count_if(lines.begin(), lines.end(), [&](const std::string& line) { return line.find(part) != std::string::npos; }));
  }
};

constexpr const char* kDeployments = "/apis/apps/v1/namespaces/default/deployments";
constexpr const char* kStatefulSets = "/apis/apps/v1/namespaces/default/statefulsets";

TEST_CASE("TargetWatcher: a paginated list, then ADDED, MODIFIED, DELETED and BOOKMARK, resume, 410 relists") {
  Fixture f({"default"});
  std::atomic<int> deploymentLists{0};
  f.client.onRequest = [&](const std::string& path) -> core::Result<KubeResponse> {
    if (path == concat(kDeployments, "?limit=500")) {
      // The first list spans two pages; the relist after the 410 holds chat alone.
      if (deploymentLists++ == 0) {
        return KubeResponse{200, listBody({workload("Deployment", "chat", 5, 2, "8")}, "9", "c1/+=")};
      }
      return KubeResponse{200, listBody({workload("Deployment", "chat", 6, 6, "29")}, "30")};
    }
    if (path == concat(kDeployments, "?limit=500&continue=c1%2F%2B%3D")) {
      return KubeResponse{200, listBody({workload("Deployment", "gone", 1, 1, "9")}, "10")};
    }
    if (path == concat(kStatefulSets, "?limit=500")) {
      return KubeResponse{200, listBody({workload("StatefulSet", "db", 3, 0, "11")}, "11")};
    }
    return KubeResponse{404, R"({"kind":"Status","code":404})"};
  };
  CHECK(f.watcher->collectionPaths() == std::vector<std::string>{kDeployments, kStatefulSets});
  CHECK(f.deployment("chat").state == TargetLookup::State::kNotSynced);
  f.client.add("deployments",
               {{event("ADDED", workload("Deployment", "new", 2, 0, "12")),
                 event("MODIFIED", workload("Deployment", "chat", 6, 4, "13")),
                 event("DELETED", workload("Deployment", "gone", 1, 1, "14")),
                 event("BOOKMARK", {{"kind", "Deployment"}, {"metadata", {{"resourceVersion", "20"}}}})},
                200L,
                true});
  f.watcher->start();
  REQUIRE(f.watcher->waitSynced());
  CHECK(f.watcher->cache().lookup(TargetKind::kStatefulSet, "default", "db").replicas == 3);

  f.waitFor([&] { return f.deployment("chat").replicas == 6 && f.deployment("gone").state == TargetLookup::State::kNotFound; },
            "the watch's events applied");
  CHECK(f.deployment("chat").ready == 4);
  CHECK(f.deployment("new").state == TargetLookup::State::kFound);
  CHECK(f.deployment("new").replicas == 2);
  CHECK(f.watcher->health()[0].resourceVersion == "20");  // the bookmark's

  // The watch ends (its timeoutSeconds): resumed from the bookmark, not listed again.
  f.client.add("deployments", {{concat(R"({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}})")}, 200L, false});
  f.client.release("deployments");
  f.waitFor([&] { return deploymentLists.load() == 2 && f.watcher->health()[0].resourceVersion == "30"; },
            "the relist after the 410");
  const auto streams = f.client.streams();
  CHECK(f.count(streams, concat(kDeployments, "?watch=1&allowWatchBookmarks=true&resourceVersion=10&")) == 1);
  CHECK(f.count(streams, concat(kDeployments, "?watch=1&allowWatchBookmarks=true&resourceVersion=20&")) == 1);
  // The relist replaced the set: "new" came and went while the watch was expired.
  CHECK(f.deployment("new").state == TargetLookup::State::kNotFound);
  CHECK(f.deployment("chat").replicas == 6);
  CHECK(f.deployment("chat").ready == 6);
  f.waitFor([&] { return f.count(f.client.streams(), "resourceVersion=30&") == 1; }, "the watch from the relist");
  CHECK(f.watcher->health()[0].lists == 2);
  CHECK(f.watcher->health()[1].lists == 1);  // the StatefulSets' watch went on
  f.watcher->stop();
}

TEST_CASE("TargetWatcher: every log line names its collection once: the list, a refused line, the back-off") {
  Fixture f({"default"});
  f.client.onRequest = [](const std::string& path) -> core::Result<KubeResponse> {
    return KubeResponse{200, listBody({}, path.find("/deployments") != std::string::npos ? "9" : "11")};
  };
  f.client.add("deployments", {{"not json"}, 200L, false});
  f.watcher->start();
  const auto find = [&](const std::string& wanted) -> std::optional<WatchLogFields> {
    const std::lock_guard lock(f.mutex);
    for (const auto& [message, fields] : f.records) {
      if (message == wanted) {
        return fields;
      }
    }
    return std::nullopt;
  };
  f.waitFor([&] { return find("deployments watch backing off") && find("statefulsets watch: listed"); },
            "the back-off after the refused line");
  CHECK(*find("deployments watch: listed") ==
        WatchLogFields{{"pages", "1"}, {"resourceVersion", "9"}, {"collection", kDeployments}});
  CHECK(*find("statefulsets watch: listed") ==
        WatchLogFields{{"pages", "1"}, {"resourceVersion", "11"}, {"collection", kStatefulSets}});
  const auto refused = find("deployments watch: a line is refused, watching again");
  REQUIRE(refused);
  REQUIRE(refused->size() == 2);
  CHECK((*refused)[0].first == "error");
  CHECK((*refused)[1] == std::pair<std::string, std::string>{"collection", kDeployments});
  CHECK(find("deployments watch backing off")->back() == std::pair<std::string, std::string>{"collection", kDeployments});
  f.watcher->stop();
  const std::lock_guard lock(f.mutex);
  for (const auto& [message, fields] : f.records) {
    CHECK_MESSAGE(std::count_if(fields.begin(), fields.end(), [](const auto& field) { return field.first == "collection"; }) == 1,
                  message);
  }
}

TEST_CASE("TargetWatcher: a 429 list backs off for its retryAfterSeconds, not synced till a list completes") {
  Fixture f({});  // all namespaces
  std::atomic<int> attempts{0};
  f.client.onRequest = [&](const std::string& path) -> core::Result<KubeResponse> {
    if (path == "/apis/apps/v1/deployments?limit=500" && attempts++ == 0) {
      return KubeResponse{429, R"({"kind":"Status","code":429,"message":"slow down","details":{"retryAfterSeconds":4}})"};
    }
    return KubeResponse{200, listBody({}, "5")};
  };
  f.watcher->start();
  REQUIRE(f.watcher->waitSynced());
  CHECK(f.watcher->collectionPaths() ==
        std::vector<std::string>{"/apis/apps/v1/deployments", "/apis/apps/v1/statefulsets"});
  {
    const std::lock_guard lock(f.mutex);
    REQUIRE(f.delays.size() >= 1);
    CHECK(f.delays.front() >= std::chrono::seconds(4));
    CHECK(f.count(f.logs, "HTTP 429: slow down") == 1);
  }
  CHECK(f.watcher->cache().lookup(TargetKind::kDeployment, "any", "x").state == TargetLookup::State::kNotFound);
  f.watcher->stop();
}

TEST_CASE("TargetWatcher: waitSynced returns false when stopped before any list completes") {
  Fixture f({"default"});
  f.client.onRequest = [](const std::string&) -> core::Result<KubeResponse> {
    return KubeResponse{403, R"({"kind":"Status","code":403,"message":"deployments.apps is forbidden"})"};
  };
  f.watcher->start();
  f.waitFor([&] {
    const std::lock_guard lock(f.mutex);
    return f.count(f.logs, "deployments.apps is forbidden") >= 2;
  }, "the 403 retried");
  std::thread stopper([&] { f.watcher->stop(); });
  CHECK_FALSE(f.watcher->waitSynced());
  stopper.join();
  CHECK(f.deployment("x").state == TargetLookup::State::kNotSynced);
}

TEST_CASE("TargetWatcher: a listed scope whose watch keeps failing is found until the bound, then unhealthy") {
  Fixture f({"default"});
  f.client.onRequest = [](const std::string& path) -> core::Result<KubeResponse> {
    if (path == concat(kDeployments, "?limit=500")) {
      return KubeResponse{200, listBody({workload("Deployment", "chat", 5, 2, "8")}, "9")};
    }
    return KubeResponse{200, listBody({workload("StatefulSet", "db", 3, 1, "10")}, "10")};
  };
  // The Deployments' watch is refused (RBAC drift), again and again; the
  // StatefulSets' watch holds open, healthy.
  f.client.add("deployments", {{}, 403L, false});
  f.client.add("deployments", {{}, 403L, false});
  f.client.add("statefulsets", {{}, 200L, true});
  f.nowMs = 1'000;  // when the failures begin
  f.watcher->start();
  REQUIRE(f.watcher->waitSynced());
  f.waitFor([&] { return f.count(f.client.streams(), concat(kDeployments, "?watch=1")) == 3; },
            "both refused watches, and the third waiting");
  const TargetCache& cache = f.watcher->cache();
  const auto bound = std::optional<milliseconds>(std::chrono::seconds(10));
  auto deployment = [&] { return cache.lookup(TargetKind::kDeployment, "default", "chat", bound); };

  // Failing, but not for longer than the bound: what the list brought.
  CHECK(deployment().state == TargetLookup::State::kFound);
  f.nowMs = 11'000;
  CHECK(deployment().state == TargetLookup::State::kFound);
  CHECK(deployment().replicas == 5);
  // Past it: unhealthy, since the first failure (not the latest), with the last error.
  f.nowMs = 11'001;
  const TargetLookup unhealthy = deployment();
  CHECK(unhealthy.state == TargetLookup::State::kUnhealthy);
  CHECK(unhealthy.failingFor == milliseconds(10'001));
  CHECK(unhealthy.error.find("/apis/apps/v1/namespaces/default/deployments?watch=1") != std::string::npos);
  CHECK(unhealthy.error.find("HTTP 403") != std::string::npos);
  // No bound: what is held, however old; the other kind's watch is healthy.
  CHECK(cache.lookup(TargetKind::kDeployment, "default", "chat").state == TargetLookup::State::kFound);
  CHECK(cache.lookup(TargetKind::kStatefulSet, "default", "db", bound).state == TargetLookup::State::kFound);
  // A missing object of an unhealthy scope is not "not found": nothing is known.
  CHECK(cache.lookup(TargetKind::kDeployment, "default", "ghost", bound).state == TargetLookup::State::kUnhealthy);

  // The watch works again (a bookmark arrives): found, at once.
  f.client.add("deployments",
               {{event("BOOKMARK", {{"kind", "Deployment"}, {"metadata", {{"resourceVersion", "20"}}}})}, 200L, true});
  f.waitFor([&] { return deployment().state == TargetLookup::State::kFound; }, "the bookmark clears the failure");
  CHECK(deployment().replicas == 5);
  f.watcher->stop();
}

}  // namespace
}  // namespace kubeai::kube

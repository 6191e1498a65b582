// PolicyWatchSet's statuses over a scripted client routed by namespace: until
// the first merge is published (every namespace listed), a namespace's
// status-only events and relisted statuses are held, the newest of each
// policy kept, so the status writer is never handed an older status after a
// newer one.
#include "kube/policy_watch_set.h"

#include <doctest/doctest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/wait.h"

namespace kubeai::kube {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using testing::concat;

constexpr std::chrono::seconds kDeadline{10};

// Lists and watches per namespace: a namespace's lists may be held until
// released; its watch streams play their scripts in order, then stay open.
class RoutedKubeClient final : public KubeClient {
 public:
  struct Namespace {
    std::vector<std::string> lists;  // bodies, in order; the last repeated
    std::vector<std::vector<std::string>> streams;  // each watch's lines, in order
    bool held = false;
    std::size_t listed = 0;
    std::size_t opened = 0;
    std::size_t delivered = 0;  // streams whose lines were all handled
  };

  void set(const std::string& ns, Namespace routed) {
    const std::lock_guard lock(mutex_);
    namespaces_[ns] = std::move(routed);
  }
  void release(const std::string& ns) {
    {
      const std::lock_guard lock(mutex_);
      namespaces_.at(ns).held = false;
    }
    changed_.notify_all();
  }
  // So that a failed check cannot leave a watcher waiting in a list at its stop.
  void releaseAll() {
    {
      const std::lock_guard lock(mutex_);
      for (auto& [ns, routed] : namespaces_) {
        routed.held = false;
      }
    }
    changed_.notify_all();
  }
  [[nodiscard]] Namespace state(const std::string& ns) const {
    const std::lock_guard lock(mutex_);
    return namespaces_.at(ns);
  }

  core::Result<KubeResponse> request(std::string_view /*method*/, const std::string& path, const std::string& /*body*/,
                                     std::string_view /*contentType*/, milliseconds /*timeout*/) override {
    std::unique_lock lock(mutex_);
    Namespace& routed = namespaces_.at(namespaceOf(path));
    changed_.wait(lock, [&] { return !routed.held; });
    const std::string body = routed.lists.at(std::min(routed.listed, routed.lists.size() - 1));
    ++routed.listed;
    return KubeResponse{200, body};
  }

  core::Result<long> stream(const std::string& path, const std::function<bool(std::string_view)>& onLine,
                            std::stop_token stop, milliseconds /*idleTimeout*/) override {
    std::vector<std::string> lines;
    std::string ns = namespaceOf(path);
    {
      const std::lock_guard lock(mutex_);
      Namespace& routed = namespaces_.at(ns);
      if (routed.opened < routed.streams.size()) {
        lines = routed.streams[routed.opened];
      }
      ++routed.opened;
    }
    for (const std::string& line : lines) {
      if (!onLine(line)) {
        return 200L;
      }
    }
    std::unique_lock lock(mutex_);
    ++namespaces_.at(ns).delivered;
    changed_.wait(lock, stop, [] { return false; });  // a live watch, quiet until stopped
    return 200L;
  }

 private:
  static std::string namespaceOf(const std::string& path) {
    const std::string marker = "/namespaces/";
    const std::size_t start = path.find(marker);  // the set never lists across namespaces
    const std::size_t from = start + marker.size();
    return path.substr(from, path.find('/', from) - from);
  }

  mutable std::mutex mutex_;
  std::condition_variable_any changed_;
  std::map<std::string, Namespace> namespaces_;
};

json policyObject(const std::string& ns, const std::string& name, const std::string& rv, int desired) {
  return json{{"apiVersion", "kubeai.io/v1alpha1"},
              {"kind", "AIInferenceAutoscalerPolicy"},
              {"metadata",
               {{"name", name}, {"namespace", ns}, {"resourceVersion", rv}, {"generation", 1}, {"uid", concat("u-", name)}}},
              {"spec",
               {{"targetRef", {{"kind", "Deployment"}, {"name", name}}},
                {"maxReplicas", 5},
                {"metrics", {{"gpuUtilization", {{"targetPercentage", 70}}}}}}},
              {"status", {{"observedGeneration", 1}, {"desiredReplicas", desired}}}};
}

std::string listBody(const std::vector<json>& items, const std::string& rv) {
  return json{{"apiVersion", "kubeai.io/v1alpha1"},
              {"kind", "AIInferenceAutoscalerPolicyList"},
              {"metadata", {{"resourceVersion", rv}}},
              {"items", items}}
      .dump();
}

std::string event(const std::string& type, const json& object) { return json{{"type", type}, {"object", object}}.dump(); }

// Every status handed on, in order, whichever way: "ns/name: desiredReplicas".
struct Handed {
  std::mutex mutex;
  std::vector<std::string> statuses;
  std::size_t merges = 0;
  std::size_t statusesBeforeFirstMerge = 0;

  void add(const std::string& key, const std::string& status) {
    statuses.push_back(concat(key, ": ", json::parse(status).at("desiredReplicas").dump()));
  }
  [[nodiscard]] std::string lastOf(const std::string& key) {
    const std::lock_guard lock(mutex);
    std::string last;
    for (const std::string& each : statuses) {
      if (each.starts_with(key + ": ")) {
        last = each;
      }
    }
    return last;
  }
  [[nodiscard]] std::size_t mergeCount() {
    const std::lock_guard lock(mutex);
    return merges;
  }
};

struct ReleaseOnExit {
  explicit ReleaseOnExit(RoutedKubeClient& routed) : client(routed) {}
  RoutedKubeClient& client;
  ReleaseOnExit(const ReleaseOnExit&) = delete;
  ReleaseOnExit& operator=(const ReleaseOnExit&) = delete;
  ~ReleaseOnExit() { client.releaseAll(); }
};

PolicyWatcherOptions optionsFor(Handed& handed) {
  PolicyWatcherOptions options;
  options.coalesce = milliseconds(5);
  options.sleep = [](milliseconds, const std::stop_token& stop) { return !stop.stop_requested(); };
  options.onStatus = [&handed](const std::string& ns, const std::string& name, const std::string& status) {
    const std::lock_guard lock(handed.mutex);
    if (handed.merges == 0) {
      ++handed.statusesBeforeFirstMerge;
    }
    handed.add(concat(ns, "/", name), status);
  };
  return options;
}

PolicyWatcher::OnChange recorder(Handed& handed) {
  return [&handed](PolicySnapshot snapshot) {
    const std::lock_guard lock(handed.mutex);
    ++handed.merges;
    for (const auto& [key, status] : snapshot.apiStatuses) {
      handed.add(key, status);
    }
  };
}

TEST_CASE("PolicyWatchSet holds a status-only event until the first merge, which then does not bring the older status") {
  RoutedKubeClient client;
  // team-a lists chat at desiredReplicas 1, then its watch brings our own
  // status write (same generation): 2. team-b's list waits meanwhile.
  client.set("team-a", {{listBody({policyObject("team-a", "chat", "5", 1)}, "10")},
                        {{event("MODIFIED", policyObject("team-a", "chat", "11", 2))}}});
  client.set("team-b", {{listBody({policyObject("team-b", "embed", "7", 3)}, "10")}, {}, true});
  Handed handed;
  PolicyWatchSet watchers(client, optionsFor(handed), {"team-a", "team-b"}, recorder(handed));
  const ReleaseOnExit releasing{client};  // destroyed before the watchers stop
  watchers.start();
  testing::waitUntil([&] { return client.state("team-a").delivered == 1; }, testing::stretched(kDeadline),
                     "team-a's status-only event handled");
  CHECK(handed.mergeCount() == 0);  // team-b not listed yet

  client.release("team-b");
  testing::waitUntil([&] { return handed.mergeCount() >= 1; }, testing::stretched(kDeadline), "the first merge");
  CHECK(handed.lastOf("team-a/chat") == "team-a/chat: 2");  // the newer, last
  CHECK(handed.lastOf("team-b/embed") == "team-b/embed: 3");
  {
    const std::lock_guard lock(handed.mutex);
    CHECK(handed.statusesBeforeFirstMerge == 0);  // nothing went round the merge
  }
  watchers.stop();
}

TEST_CASE("PolicyWatchSet: a namespace relisted before the first merge hands on its newer statuses") {
  RoutedKubeClient client;
  // team-a lists chat at 1; its watch expires (410) and the relist finds it at 2.
  const std::string expired = event("ERROR", {{"kind", "Status"},
                                              {"apiVersion", "v1"},
                                              {"status", "Failure"},
                                              {"reason", "Expired"},
                                              {"code", 410}});
  client.set("team-a", {{listBody({policyObject("team-a", "chat", "5", 1)}, "10"),
                         listBody({policyObject("team-a", "chat", "12", 2)}, "12")},
                        {{expired}}});
  client.set("team-b", {{listBody({}, "10")}, {}, true});
  Handed handed;
  PolicyWatchSet watchers(client, optionsFor(handed), {"team-a", "team-b"}, recorder(handed));
  const ReleaseOnExit releasing{client};  // destroyed before the watchers stop
  watchers.start();
  // The second watch opens once the relist's snapshot was handed to the set.
  testing::waitUntil([&] { return client.state("team-a").opened >= 2; }, testing::stretched(kDeadline),
                     "team-a relisted");
  CHECK(client.state("team-a").listed == 2);
  CHECK(handed.mergeCount() == 0);

  client.release("team-b");
  testing::waitUntil([&] { return handed.mergeCount() >= 1; }, testing::stretched(kDeadline), "the first merge");
  CHECK(handed.lastOf("team-a/chat") == "team-a/chat: 2");
  watchers.stop();
}

}  // namespace
}  // namespace kubeai::kube

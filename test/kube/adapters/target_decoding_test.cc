// The target watcher's reading of list pages and watch lines of Deployments
// and StatefulSets (kube/target_decoding.h), and the cache it fills
// (kube/target_cache.h): pure functions of the text and plain data.
#include "kube/target_decoding.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kube/target_cache.h"
#include "support/wait.h"

namespace kubeai::kube {
namespace {

using json = nlohmann::json;
using detail::TargetWatchEvent;
using testing::concat;

// A Deployment as the API server sends it: the fields kept beside the many
// that are not (the pod template, managedFields, labels).
json deployment(const std::string& ns, const std::string& name, const json& spec, const json& status) {
  json object{{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata",
               {{"name", name},
                {"namespace", ns},
                {"resourceVersion", "17"},
                {"labels", {{"app", name}, {"replicas", "99"}}},
                {"managedFields",
                 {{{"manager", "kubectl"},
                   {"fieldsV1", {{"f:spec", {{"f:replicas", json::object()}, {"f:template", {{"f:spec", json::object()}}}}}}}}}}}},
              {"spec", spec}};
  if (!status.is_null()) {
    object["status"] = status;
  }
  return object;
}

json specOf(const json& replicas) {
  json spec{{"selector", {{"matchLabels", {{"app", "x"}}}}},
            {"template", {{"spec", {{"replicas", 42}, {"containers", {{{"name", "c"}, {"image", "i"}}}}}}}}};
  if (!replicas.is_null()) {
    spec["replicas"] = replicas;
  }
  return spec;
}

TEST_CASE("decodeTargetListPage keeps spec.replicas and status.readyReplicas of each object, nothing else") {
  struct Row {
    json object;
    std::int32_t replicas;
    std::int32_t ready;
    std::string error;  // the object's error, when its counts are unreadable
  };
  const std::vector<Row> rows = {
      // Scaling up from 2 to 5: 3 still starting. The template's own "replicas" and status.replicas are not read.
      {deployment("default", "a", specOf(5), {{"replicas", 6}, {"readyReplicas", 2}}), 5, 2, ""},
      // No status yet, or no pod ready (readyReplicas is omitempty): 0 ready.
      {deployment("default", "b", specOf(3), nullptr), 3, 0, ""},
      {deployment("default", "c", specOf(3), {{"replicas", 3}}), 3, 0, ""},
      {deployment("default", "d", specOf(3), {{"readyReplicas", nullptr}}), 3, 0, ""},
      // Scaled to zero: spec.replicas is a pointer, 0 is sent.
      {deployment("default", "e", specOf(0), json::object()), 0, 0, ""},
      // spec.replicas absent or null: the API server's default, 1.
      {deployment("default", "f", specOf(nullptr), {{"readyReplicas", 1}}), 1, 1, ""},
      // The largest int32.
      {deployment("default", "g", specOf(2147483647), {{"readyReplicas", 2147483647}}), 2147483647, 2147483647, ""},
      // What is not a count is the object's error naming the field and value, never a guess.
      {deployment("default", "h", specOf(-1), {{"readyReplicas", 3}}), 0, 0,
       "the Deployment's spec.replicas -1 is not an integer from 0 to 2147483647"},
      {deployment("default", "i", specOf("3"), nullptr), 0, 0,
       "the Deployment's spec.replicas \"3\" is not an integer from 0 to 2147483647"},
      {deployment("default", "j", specOf(2.5), nullptr), 0, 0,
       "the Deployment's spec.replicas 2.5 is not an integer from 0 to 2147483647"},
      {deployment("default", "k", specOf(2147483648LL), nullptr), 0, 0,
       "the Deployment's spec.replicas 2147483648 is not an integer from 0 to 2147483647"},
      {deployment("default", "l", specOf(json::array({1})), nullptr), 0, 0,
       "the Deployment's spec.replicas [...] is not an integer from 0 to 2147483647"},
      {deployment("default", "m", specOf(2), {{"readyReplicas", -1}}), 0, 0,
       "the Deployment's status.readyReplicas -1 is not an integer from 0 to 2147483647"},
      {deployment("default", "n", specOf(2), {{"readyReplicas", true}}), 0, 0,
       "the Deployment's status.readyReplicas true is not an integer from 0 to 2147483647"},
      {deployment("default", "o", specOf(2), json::array({1})), 0, 0, "the Deployment's status is not an object"},
      {deployment("default", "p", specOf(2), "ready"), 0, 0, "the Deployment's status is not an object"},
      // No spec object: not a Deployment (its selector and template are required).
      {deployment("default", "q", nullptr, nullptr), 0, 0, "the Deployment has no spec object"},
      {deployment("default", "r", json::array({1}), nullptr), 0, 0, "the Deployment has no spec object"},
  };
  json items = json::array();
  for (const Row& row : rows) {
    items.push_back(row.object);
  }
  // A nameless item is decoded with an empty name (the watcher ignores it).
  items.push_back(json{{"metadata", {{"namespace", "default"}}}, {"spec", specOf(1)}});
  const json page{{"kind", "DeploymentList"},
                  {"metadata", {{"resourceVersion", "40"}, {"continue", "next+page/=="}}},
                  {"items", items}};
  auto decoded = detail::decodeTargetListPage(page.dump(), "Deployment");
  REQUIRE_MESSAGE(decoded.ok(), (decoded.ok() ? "" : decoded.error().message));
  CHECK(decoded.value().resourceVersion == "40");
  CHECK(decoded.value().continueToken == "next+page/==");
  REQUIRE(decoded.value().items.size() == rows.size() + 1);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const detail::DecodedTarget& item = decoded.value().items[i];
    CAPTURE(rows[i].object.dump());
    CHECK(item.ns == "default");
    CHECK(item.name == rows[i].object["metadata"]["name"]);
    CHECK(item.resourceVersion == "17");
    CHECK(item.state.error == rows[i].error);
    if (rows[i].error.empty()) {
      CHECK(item.state.replicas == rows[i].replicas);
      CHECK(item.state.ready == rows[i].ready);
    }
  }
  CHECK(decoded.value().items.back().name.empty());
}

TEST_CASE("decodeTargetListPage refuses a page it cannot read rather than take it as empty") {
  struct Row {
    std::string body;
    std::string error;  // "" when the page is read
  };
  const std::vector<Row> rows = {
      {R"({"items":[]})", ""},
      {R"({"items":null,"metadata":null})", ""},  // an empty list may say null
      {R"({})", ""},
      {"not json", "the response is not JSON"},
      {R"({"items":[)", "the response is not JSON"},
      {R"([1,2])", "the response is not a JSON object, got array"},
      {R"("text")", "the response is not a JSON object, got string"},
      {R"({"items":"none"})", "items: must be a list, got string"},
      {R"({"items":{}})", "items: must be a list, got object"},
      {R"({"metadata":[1]})", "metadata: must be an object, got array"},
      {R"({"metadata":{"continue":5}})", "metadata.continue: must be a string, got number"},
      {R"({"metadata":{"resourceVersion":{}}})", "metadata.resourceVersion: must be a string, got object"},
      // A line of brackets nested past the bound: refused, not recursed into.
      {concat(R"({"items":[{"spec":)", std::string(100, '['), std::string(100, ']'), "}]}"),
       "the response is nested deeper than 64 levels"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.body);
    auto decoded = detail::decodeTargetListPage(row.body, "Deployment");
    CHECK((decoded.ok() ? std::string() : decoded.error().message) == row.error);
  }
}

TEST_CASE("decodeTargetWatchLine classifies ADDED, MODIFIED, DELETED, BOOKMARK, ERROR and what is not an event") {
  const json object = deployment("team-a", "db", specOf(4), {{"readyReplicas", 3}});
  struct Row {
    std::string line;
    TargetWatchEvent::Kind kind;
    std::string detail;  // the type, the error, or the status's code and message
  };
  using Kind = TargetWatchEvent::Kind;
  const std::vector<Row> rows = {
      {json{{"type", "ADDED"}, {"object", object}}.dump(), Kind::kChange, "ADDED"},
      {json{{"object", object}, {"type", "MODIFIED"}}.dump(), Kind::kChange, "MODIFIED"},  // any key order
      {json{{"type", "DELETED"}, {"object", object}}.dump(), Kind::kChange, "DELETED"},
      {json{{"type", "BOOKMARK"}, {"object", {{"kind", "Deployment"}, {"metadata", {{"resourceVersion", "90"}}}}}}.dump(),
       Kind::kBookmark, "BOOKMARK"},
      // The watch expired: an ERROR event with a Status; or a bare Status for a failed request.
      {json{{"type", "ERROR"},
            {"object", {{"kind", "Status"}, {"code", 410}, {"reason", "Expired"}, {"message", "too old"}}}}
           .dump(),
       Kind::kStatus, "410 too old"},
      {json{{"kind", "Status"}, {"code", 429}, {"message", "slow down"}, {"details", {{"retryAfterSeconds", 3}}}}.dump(),
       Kind::kStatus, "429 slow down"},
      {json{{"type", 7}, {"object", object}}.dump(), Kind::kNoType, "a number"},
      {json{{"object", object}}.dump(), Kind::kNoType, "absent"},
      {json{{"type", "ADDED"}}.dump(), Kind::kNoObject, "ADDED"},
      {json{{"type", "ADDED"}, {"object", "text"}}.dump(), Kind::kNoObject, "ADDED"},
      {json{{"type", "SURPRISE"}, {"object", object}}.dump(), Kind::kUnknownType, "SURPRISE"},
      {"{not json", Kind::kRefused, "not JSON"},
      {"[1]", Kind::kRefused, "not a JSON object, got array"},
      {concat(R"({"type":"ADDED","object":)", std::string(80, '['), std::string(80, ']'), "}"), Kind::kRefused,
       "nested deeper than 64 levels"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.line.substr(0, 200));
    const TargetWatchEvent event = detail::decodeTargetWatchLine(row.line, "Deployment");
    CHECK(event.kind == row.kind);
    switch (row.kind) {
      case Kind::kChange:
        CHECK(event.type == row.detail);
        CHECK(event.target.ns == "team-a");
        CHECK(event.target.name == "db");
        CHECK(event.target.state.replicas == 4);
        CHECK(event.target.state.ready == 3);
        CHECK(event.resourceVersion == "17");
        break;
      case Kind::kBookmark:
        CHECK(event.resourceVersion == "90");
        break;
      case Kind::kStatus:
        CHECK(concat(std::to_string(event.status.code), " ", event.status.message) == row.detail);
        break;
      case Kind::kNoType:
      case Kind::kRefused:
        CHECK(event.error == row.detail);
        break;
      case Kind::kNoObject:
      case Kind::kUnknownType:
        CHECK(event.type == row.detail);
        break;
    }
  }
  // An ERROR's retryAfterSeconds is kept (the watch backs off at least that long).
  const auto throttled = detail::decodeTargetWatchLine(
      R"({"kind":"Status","code":429,"details":{"retryAfterSeconds":3}})", "StatefulSet");
  REQUIRE(throttled.status.retryAfter.has_value());
  CHECK(*throttled.status.retryAfter == std::chrono::seconds(3));
}

TEST_CASE("TargetCache: not synced until listed, then found, not found, or unreadable, lists replace their scope") {
  TargetCache cache({"team-b", "team-a", "team-a"});
  CHECK(cache.scopes() == std::vector<std::string>{"team-a", "team-b"});
  using State = TargetLookup::State;
  CHECK(cache.lookup(TargetKind::kDeployment, "team-a", "chat").state == State::kNotSynced);
  CHECK(cache.lookup(TargetKind::kDeployment, "elsewhere", "chat").state == State::kNotWatched);

  TargetCache::Namespaces listed;
  listed["team-a"]["chat"] = detail::TargetState{5, 2, ""};
  listed["team-a"]["bad"] = detail::TargetState{0, 0, "the Deployment's spec.replicas -1 is not an integer"};
  listed["team-b"]["stray"] = detail::TargetState{1, 1, ""};  // not team-a's list's to hold
  cache.replace(TargetKind::kDeployment, "team-a", std::move(listed));
  CHECK_FALSE(cache.synced());  // team-b and the StatefulSets are not listed yet
  const TargetLookup chat = cache.lookup(TargetKind::kDeployment, "team-a", "chat");
  CHECK(chat.state == State::kFound);
  CHECK(chat.replicas == 5);
  CHECK(chat.ready == 2);
  CHECK(cache.lookup(TargetKind::kDeployment, "team-a", "ghost").state == State::kNotFound);
  CHECK(cache.lookup(TargetKind::kDeployment, "team-a", "bad").error ==
        "the Deployment's spec.replicas -1 is not an integer");
  CHECK(cache.lookup(TargetKind::kStatefulSet, "team-a", "chat").state == State::kNotSynced);  // per kind
  CHECK(cache.lookup(TargetKind::kDeployment, "team-b", "stray").state == State::kNotSynced);

  cache.replace(TargetKind::kDeployment, "team-b", {});
  cache.replace(TargetKind::kStatefulSet, "team-a", {});
  cache.replace(TargetKind::kStatefulSet, "team-b", {});
  CHECK(cache.synced());
  CHECK(cache.lookup(TargetKind::kDeployment, "team-b", "stray").state == State::kNotFound);
  CHECK(cache.size() == 2);

  // Watch events: MODIFIED, ADDED, DELETED.
  cache.put(TargetKind::kDeployment, "team-a", "chat", detail::TargetState{7, 5, ""});
  cache.put(TargetKind::kStatefulSet, "team-b", "db", detail::TargetState{3, 0, ""});
  cache.erase(TargetKind::kDeployment, "team-a", "bad");
  cache.erase(TargetKind::kDeployment, "team-a", "never-there");
  CHECK(cache.lookup(TargetKind::kDeployment, "team-a", "chat").replicas == 7);
  CHECK(cache.lookup(TargetKind::kStatefulSet, "team-b", "db").state == State::kFound);
  CHECK(cache.lookup(TargetKind::kDeployment, "team-b", "db").state == State::kNotFound);  // kinds apart
  CHECK(cache.lookup(TargetKind::kDeployment, "team-a", "bad").state == State::kNotFound);

  // A relist replaces the scope: what was deleted while no watch ran is gone.
  cache.replace(TargetKind::kDeployment, "team-a", {});
  CHECK(cache.lookup(TargetKind::kDeployment, "team-a", "chat").state == State::kNotFound);
  CHECK(cache.lookup(TargetKind::kStatefulSet, "team-b", "db").state == State::kFound);

  // No namespaces: one scope, every namespace.
  TargetCache all({});
  CHECK(all.scopes() == std::vector<std::string>{""});
  TargetCache::Namespaces everywhere;
  everywhere["x"]["a"] = detail::TargetState{2, 2, ""};
  all.replace(TargetKind::kDeployment, "", std::move(everywhere));
  CHECK(all.lookup(TargetKind::kDeployment, "x", "a").state == State::kFound);
  CHECK(all.lookup(TargetKind::kDeployment, "y", "a").state == State::kNotFound);
  CHECK(all.lookup(TargetKind::kStatefulSet, "x", "a").state == State::kNotSynced);
}

}  // namespace
}  // namespace kubeai::kube

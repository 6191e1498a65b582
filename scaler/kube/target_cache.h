#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/target_decoding.h"

namespace kubeai::kube {

// The two kinds a policy's targetRef names (DESIGN §2), as watched.
enum class TargetKind : std::uint8_t { kDeployment = 0, kStatefulSet = 1 };

inline constexpr std::array<TargetKind, 2> kTargetKinds = {TargetKind::kDeployment, TargetKind::kStatefulSet};

[[nodiscard]] std::string_view kindName(TargetKind kind) noexcept;    // "Deployment"
[[nodiscard]] std::string_view pluralName(TargetKind kind) noexcept;  // "deployments"

// What a lookup found.
struct TargetLookup {
  enum class State {
    kNotWatched,  // the namespace is none of the watched ones: ask the API
    kNotSynced,   // the namespace's first list of this kind is not in yet
    kNotFound,    // listed, and absent: the target does not exist
    kFound,       // `replicas` and `ready`
    kInvalid,     // the object's counts could not be read: `error`
    kUnhealthy,   // the scope's list + watch has failed for `failingFor`, longer
                  // than the caller's bound: what is held may be old; `error`
                  // is the last failure
  };
  State state = State::kNotWatched;
  std::int32_t replicas = 0;
  std::int32_t ready = 0;
  std::string error;
  std::chrono::milliseconds failingFor{};  // kUnhealthy
};

// The replicas of the watched Deployments and StatefulSets, by namespace and
// name: what TargetWatcher's watches wrote, for ScaleReplicaSource to read.
// Thread-safe: any number of readers at once (a shared lock), one writer at a
// time. Holds per object its name and two counts (and a message when the
// counts were unreadable), never the object.
//
// A "scope" is what one list + watch covers: one namespace, or every
// namespace ("") when the namespaces are not given.
class TargetCache {
 public:
  // Names by namespace: what one list of one kind brings.
  using Names = std::map<std::string, detail::TargetState, std::less<>>;
  using Namespaces = std::map<std::string, Names, std::less<>>;

  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // `namespaces`: those watched; empty: all of them (one scope, ""). `clock`:
  // when failures began and how long ago (tests); empty: steady_clock.
  explicit TargetCache(std::vector<std::string> namespaces, Clock clock = {});

  [[nodiscard]] const std::vector<std::string>& scopes() const noexcept { return scopes_; }

  // The writer's side (one list + watch per scope and kind).
  // A completed list of `scope`: replaces what the scope held (what was
  // deleted while no watch ran is gone), and marks it synced.
  void replace(TargetKind kind, std::string_view scope, Namespaces listed);
  // A watch's ADDED or MODIFIED.
  void put(TargetKind kind, std::string ns, std::string name, detail::TargetState state);
  // A watch's DELETED.
  void erase(TargetKind kind, std::string_view ns, std::string_view name);
  // The scope's list + watch failed (`lastError`), or works again: what the
  // scope holds is no longer kept current while it fails (ListWatchSink::
  // healthChanged). Failing since the first failure after it worked.
  void setFailing(TargetKind kind, std::string_view scope, bool failing, const std::string& lastError);

  // The reader's side. `unhealthyAfter`: once the scope's list + watch has
  // failed for longer, kUnhealthy instead of what it holds (before a watch,
  // a failing GET made the policy's reading an error; so does this, and the
  // loop's staleness follows). Empty: what is held, however old.
  [[nodiscard]] TargetLookup lookup(TargetKind kind, std::string_view ns, std::string_view name,
                                    std::optional<std::chrono::milliseconds> unhealthyAfter = std::nullopt) const;
  // Every scope of both kinds listed at least once.
  [[nodiscard]] bool synced() const;
  // Objects held: tests and logs.
  [[nodiscard]] std::size_t size() const;

 private:
  // The scope that covers `ns`, or null when none does.
  [[nodiscard]] const std::string* scopeOf(std::string_view ns) const;

  struct Failing {
    std::chrono::steady_clock::time_point since;
    std::string lastError;
  };

  const std::vector<std::string> scopes_;
  const Clock clock_;
  mutable std::shared_mutex mutex_;  // guards the fields below
  std::array<Namespaces, 2> byKind_;
  std::array<std::set<std::string, std::less<>>, 2> listed_;  // the scopes listed, by kind
  std::array<std::map<std::string, Failing, std::less<>>, 2> failing_;  // the scopes failing, by kind
};

}  // namespace kubeai::kube

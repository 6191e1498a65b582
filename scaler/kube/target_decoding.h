#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "kube/api_status.h"

// Internal to kubeai::kube (source-only): the target watcher's reading of
// the API's list pages and watch lines of apps/v1 Deployments and
// StatefulSets, as pure functions of the text, for the watcher, the tests
// and fuzz/.
//
// Only what serve uses is kept of an object: its namespace, name and
// resourceVersion, spec.replicas and status.readyReplicas. The text is read
// with nlohmann's SAX parser and no document is built: a Deployment is
// several kilobytes (its pod template, managedFields), a list page of 500 of
// them megabytes, of which a few dozen bytes per object are wanted.
namespace kubeai::kube::detail {

// What serve holds of one target, once decoded.
struct TargetState {
  std::int32_t replicas = 0;  // spec.replicas (1 when absent, as the API server defaults it)
  std::int32_t ready = 0;     // status.readyReplicas (0 when absent: omitempty, or no status yet)
  // Set when the counts cannot be read ("the Deployment's spec.replicas -1
  // is not an integer from 0 to 2147483647"): the policies on this target
  // get it as their error, never a guess. Empty when the counts are good.
  std::string error;
};

// One object of a list page or a watch event.
struct DecodedTarget {
  std::string ns;
  std::string name;  // empty when the object has none (ignored)
  std::string resourceVersion;
  TargetState state;
};

struct TargetListPage {
  std::vector<DecodedTarget> items;
  std::string resourceVersion;  // the list's metadata.resourceVersion
  std::string continueToken;    // metadata.continue, empty on the last page
};

// A 200's body of GET .../deployments (or statefulsets); `kind` ("Deployment")
// names the objects in the errors. An error when the body is not JSON, nests
// deeper than kMaxJsonDepth, or is not shaped like a list ("items: must be a
// list, got string"): a page that cannot be read fails the list rather than
// be taken as an empty one (which would make every target not found). Never
// throws.
core::Result<TargetListPage> decodeTargetListPage(std::string_view body, std::string_view kind);

// One line of a watch of Deployments (or StatefulSets), classified as the
// policy watcher's lines are (WatchEvent in watch_decoding.h).
struct TargetWatchEvent {
  enum class Kind {
    kRefused,      // not JSON, too deep, or not an object: `error` says why; the watch ends
    kStatus,       // a failed watch answered with a Status, or an ERROR event: `status`
    kNoType,       // no string `type`: `error` says what it was
    kNoObject,     // `object` absent or not an object
    kBookmark,     // `resourceVersion` to resume from
    kUnknownType,  // a type other than the ones below
    kChange,       // ADDED, MODIFIED or DELETED: `target`
  };
  Kind kind = Kind::kRefused;
  std::string type;
  std::string error;
  ApiStatus status;
  bool errorEvent = false;
  std::string resourceVersion;  // kBookmark, kChange
  DecodedTarget target;         // kChange
};

TargetWatchEvent decodeTargetWatchLine(std::string_view line, std::string_view kind);

}  // namespace kubeai::kube::detail

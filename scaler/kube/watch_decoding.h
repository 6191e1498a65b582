#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/policy.h"
#include "core/result.h"
#include "kube/api_status.h"

// Internal to kubeai::kube (source-only): the policy watcher's reading of the
// API's list pages and watch lines, as pure functions of the text, so that
// the fuzzers of fuzz/ and the tests reach them without a server.
namespace kubeai::kube::detail {

// One object as decoded: a policy, or why it is refused.
struct WatchedPolicy {
  // When valid; never changed once decoded (the snapshots share it).
  core::SharedPolicy policy;
  std::string invalidMessage;          // when not
  std::int64_t generation = 0;
  // The object's .status as compact JSON, when it is an object: valid or not;
  // until the next snapshot hands it on.
  std::optional<std::string> apiStatus;
};

// A policy object with its (namespace, name); the name is empty when the
// object has none (the watcher ignores it).
struct DecodedPolicy {
  std::pair<std::string, std::string> key;
  WatchedPolicy object;
};

// Deeper than any policy, list or Status (a policy nests about six levels).
// nlohmann parses and destroys without recursion, but dump(), copies and
// comparisons recurse: a 2 MB line of brackets (a million levels) would
// overflow the stack after parsing. So depth is bounded while parsing.
inline constexpr int kMaxJsonDepth = 64;

// Parses an API answer or a watch line; discarded, with `error` saying why,
// when it is not JSON or nests deeper than kMaxJsonDepth.
nlohmann::json parseBounded(std::string_view text, std::string& error);

// A policy from the API, decoded as the policy directory decodes a file's
// documents: the messages name the fields. apiVersion and kind are implied
// when absent (a proxy or an older server may leave them out of list items).
DecodedPolicy decodePolicy(nlohmann::json& object);

// One page of a list: its items in order (nameless ones included), its
// metadata.resourceVersion and metadata.continue (empty when absent).
struct ListPage {
  std::vector<DecodedPolicy> items;
  std::string resourceVersion;
  std::string continueToken;
};

// A 200's body. Errors: "the response is not JSON", "the response is nested
// deeper than 64 levels", or what is wrong with its shape ("items: must be a
// list, got string"): a page that cannot be read fails the list rather than
// be taken as an empty one (which would delete every policy).
core::Result<ListPage> decodeListPage(std::string_view body);

// One line of a watch stream, classified.
struct WatchEvent {
  enum class Kind {
    kRefused,      // not JSON, or not an object: `error` says why; the watch ends
    kStatus,       // a failed watch answered with a Status, or an ERROR event: `status`
    kNoType,       // no string `type`: `error` says what it was ("absent", "a number")
    kNoObject,     // `object` absent or not an object
    kBookmark,     // `resourceVersion` to resume from
    kUnknownType,  // a type other than the ones below
    kChange,       // ADDED, MODIFIED or DELETED: `policy`
  };
  Kind kind = Kind::kRefused;
  std::string type;   // the event's type as sent (kNoObject onwards)
  std::string error;  // kRefused, kNoType
  ApiStatus status;   // kStatus
  bool errorEvent = false;  // kStatus: an ERROR event (else a bare Status object)
  std::string resourceVersion;  // the object's metadata.resourceVersion (kBookmark, kChange)
  std::optional<DecodedPolicy> policy;  // kChange
};

// Every field is read only after its type is checked: the API (or a proxy in
// front of it) is outside data. Never throws.
WatchEvent decodeWatchLine(std::string_view line);

}  // namespace kubeai::kube::detail

// Watch lines (GET ...?watch=1, one JSON event per line): the policy
// watcher's kube::detail::decodeWatchLine. The input is split at newlines as
// KubeClient::stream delivers it. Checks: every line is classified, never
// thrown on; a change carries a policy decoded as the list's are; a Status
// keeps its bounds; a refused line says why.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "kube/watch_decoding.h"
#include "watched_policy_check.h"

namespace {

using kubeai::kube::detail::WatchEvent;

void checkLine(std::string_view line) {
  const WatchEvent event = kubeai::kube::detail::decodeWatchLine(line);
  switch (event.kind) {
    case WatchEvent::Kind::kRefused:
    case WatchEvent::Kind::kNoType:
      KUBEAI_FUZZ_CHECK(!event.error.empty(), std::string(line));
      break;
    case WatchEvent::Kind::kStatus:
      KUBEAI_FUZZ_CHECK(event.status.code >= 0 && event.status.code <= INT32_MAX, std::string(line));
      KUBEAI_FUZZ_CHECK(!event.status.retryAfter || (*event.status.retryAfter >= std::chrono::seconds(1) &&
                                                     *event.status.retryAfter <= kubeai::kube::detail::kMaxRetryAfter),
                        std::string(line));
      KUBEAI_FUZZ_CHECK(event.errorEvent == (event.type == "ERROR"), std::string(line));
      break;
    case WatchEvent::Kind::kChange:
      KUBEAI_FUZZ_CHECK(event.policy.has_value(), std::string(line));
      KUBEAI_FUZZ_CHECK(event.type == "ADDED" || event.type == "MODIFIED" || event.type == "DELETED", event.type);
      kubeai::fuzz::checkDecodedPolicy(*event.policy);
      break;
    case WatchEvent::Kind::kNoObject:
    case WatchEvent::Kind::kBookmark:
    case WatchEvent::Kind::kUnknownType:
      KUBEAI_FUZZ_CHECK(!event.policy.has_value(), std::string(line));
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (!line.empty()) {
      checkLine(line);
    }
  }
  return 0;
}

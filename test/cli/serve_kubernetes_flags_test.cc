// `serve`'s Kubernetes flags, through the real binary: usage errors exit 2
// with a message naming the flag or the file. (Serving from the API is tested
// against the emulator in test/kube/adapters/.)
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "command_runner.h"

namespace kubeai::testing {
namespace {

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("serve refuses bad Kubernetes flags with exit 2 and a message naming the flag") {
  TempDir dir;
  const std::string policies = dir.path().string();
  const std::string metrics = dir.write("metrics.yaml", "{}\n").string();
  const std::string missing = (dir.path() / "no-such-kubeconfig").string();
  struct Row {
    std::vector<std::string> args;
    const char* expected;
  };
  const Row rows[] = {
      // Two policy sources.
      {{"--kubernetes", "--policy-dir", policies}, "excludes --kubernetes"},
      // No policy source.
      {{}, "serve needs --policy-dir or --kubernetes"},
      // A Kubernetes option without --kubernetes.
      {{"--policy-dir", policies, "--kubeconfig", missing}, "requires --kubernetes"},
      {{"--policy-dir", policies, "--namespace", "team-a"}, "requires --kubernetes"},
      {{"--policy-dir", policies, "--leader-elect=false"}, "requires --kubernetes"},
      {{"--policy-dir", policies, "--lease-name", "x"}, "requires --kubernetes"},
      {{"--policy-dir", policies, "--lease-namespace", "x"}, "requires --kubernetes"},
      // A kubeconfig that cannot be read is named; --leader-elect=false parses.
      {{"--kubernetes", "--kubeconfig", missing}, "no-such-kubeconfig"},
      {{"--kubernetes", "--leader-elect=false", "--kubeconfig", missing}, "no-such-kubeconfig"},
      {{"--kubernetes", "--leader-elect", "--kubeconfig", missing}, "no-such-kubeconfig"},
      // Not a boolean.
      {{"--kubernetes", "--leader-elect=maybe", "--kubeconfig", missing}, "--leader-elect"},
      // Pacing out of range (a rate that would overflow the pacing arithmetic, a burst beyond reason).
      {{"--kubernetes", "--status-qps", "-1", "--kubeconfig", missing}, "--status-qps"},
      {{"--kubernetes", "--status-qps", "nan", "--kubeconfig", missing}, "--status-qps"},
      {{"--kubernetes", "--status-qps", "1e-12", "--kubeconfig", missing}, "--status-qps"},
      {{"--kubernetes", "--status-burst", "0", "--kubeconfig", missing}, "--status-burst"},
      {{"--kubernetes", "--status-burst", "100000000", "--kubeconfig", missing}, "--status-burst"},
      {{"--policy-dir", policies, "--status-qps", "5"}, "requires --kubernetes"},
      // The API's rate limit, checked as the status pacing is; 0 (unlimited) and a burst of 1 parse.
      {{"--kubernetes", "--kube-qps", "-1", "--kubeconfig", missing}, "--kube-qps"},
      {{"--kubernetes", "--kube-qps", "nan", "--kubeconfig", missing}, "--kube-qps"},
      {{"--kubernetes", "--kube-qps", "1e-12", "--kubeconfig", missing}, "--kube-qps"},
      {{"--kubernetes", "--kube-burst", "0", "--kubeconfig", missing}, "--kube-burst"},
      {{"--kubernetes", "--kube-burst", "100000000", "--kubeconfig", missing}, "--kube-burst"},
      {{"--kubernetes", "--kube-qps", "0", "--kube-burst", "1", "--kubeconfig", missing}, "no-such-kubeconfig"},
      {{"--policy-dir", policies, "--kube-qps", "5"}, "requires --kubernetes"},
      {{"--policy-dir", policies, "--kube-burst", "5"}, "requires --kubernetes"},
  };
  for (const Row& row : rows) {
    std::vector<std::string> args = {"serve", "--metrics-file", metrics, "--grpc-address", "127.0.0.1:0",
                                     "--metrics-address", "127.0.0.1:0"};
    args.insert(args.end(), row.args.begin(), row.args.end());
    const CommandResult result = runScaler(args);
    CAPTURE(result.err);
    CAPTURE(row.expected);
    CHECK(result.exitCode == 2);
    CHECK(contains(result.err, row.expected));
  }
}

}  // namespace
}  // namespace kubeai::testing

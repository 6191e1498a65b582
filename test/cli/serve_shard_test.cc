// serve's sharding options (serve_shard.cc): the shard's name written in
// status.shard and the Lease's name follow from the selector AND the
// namespaces, so that shards split either way never share either; a default
// too long for status.shard is cut; --shard-name is checked.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/serve_command.h"

namespace kubeai::cli {
namespace {

ServeOptions shardOptions(const std::string& selector, const std::string& namespaces, const std::string& shardName = "",
                          const std::string& leaseName = "") {
  ServeOptions options;
  options.kubernetes = true;
  options.policySelector = selector;
  options.kubeNamespace = namespaces;
  options.shardName = shardName;
  options.leaseName = leaseName;
  return options;
}

TEST_CASE("shardNameOf and leaseNameOf: from --shard-name, else from the selector and the namespaces") {
  struct Row {
    ServeOptions options;
    std::string shard;
    std::string lease;
  };
  const std::vector<Row> rows = {
      // Unsharded: one Lease, as before sharding.
      {shardOptions("", ""), "all", "kubeai-scaler"},
      // A selector alone: its canonical text; the Lease of its hash as before namespaces counted.
      {shardOptions("kubeai.io/shard = shard-a", ""), "kubeai.io/shard=shard-a", "kubeai-scaler-shard-2772b574"},
      // Split by namespace alone: two shards, two names, two Leases (they shared "all" and kubeai-scaler).
      {shardOptions("", "team-a"), "ns=team-a", "kubeai-scaler-shard-64350504"},
      {shardOptions("", "team-b"), "ns=team-b", "kubeai-scaler-shard-673509bd"},
      // The list sorted and deduplicated first: the same shard however written.
      {shardOptions("", "team-b, team-a,team-b"), "ns=team-a,team-b", "kubeai-scaler-shard-05fd1cd2"},
      // The same selector in two namespaces: two shards.
      {shardOptions("kubeai.io/shard=shard-a", "team-a"), "kubeai.io/shard=shard-a ns=team-a",
       "kubeai-scaler-shard-22548ddf"},
      {shardOptions("kubeai.io/shard=shard-a", "team-b"), "kubeai.io/shard=shard-a ns=team-b",
       "kubeai-scaler-shard-23548f72"},
      // --shard-name names both; --lease-name overrides the Lease.
      {shardOptions("kubeai.io/shard=shard-a", "team-a", "shard-a"), "shard-a", "kubeai-scaler-shard-a"},
      {shardOptions("kubeai.io/shard=shard-a", "team-a", "shard-a", "mine"), "shard-a", "mine"},
      {shardOptions("", "team-a", "", "mine"), "ns=team-a", "mine"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.options.policySelector);
    CAPTURE(row.options.kubeNamespace);
    CAPTURE(row.options.shardName);
    CHECK(checkShardOptions(row.options).ok());
    CHECK(shardNameOf(row.options) == row.shard);
    CHECK(leaseNameOf(row.options) == row.lease);
  }
}

std::string longSelector(const std::string& last) {
  std::string selector = "tier in (";
  for (int i = 0; i < 120; ++i) {
    selector += "value-" + std::to_string(1000 + i) + ",";
  }
  selector += last + ")";
  return selector;
}

bool endsWithHash(const std::string& name) {
  const std::size_t mark = name.rfind("... #");
  if (mark == std::string::npos || name.size() - mark != 13) {
    return false;
  }
  return name.substr(mark + 5).find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST_CASE("shardNameOf: a default longer than status.shard's 1024 characters is cut, its hash kept") {
  const ServeOptions first = shardOptions(longSelector("zz-first"), "team-a");
  const ServeOptions second = shardOptions(longSelector("zz-second"), "team-a");
  REQUIRE(checkShardOptions(first).ok());
  REQUIRE(policySelectorOf(first).size() > 1024);
  const std::string name = shardNameOf(first);
  CHECK(name.size() == 1024);  // the CRD's maxLength: a longer one had every status patch refused (422)
  CHECK(name.starts_with("tier in (value-1000,value-1001,"));
  CHECK(endsWithHash(name));
  // Two long selectors alike in their first 1011 characters still name two shards.
  CHECK(shardNameOf(second).size() == 1024);
  CHECK(shardNameOf(second) != name);
  // A short one is never cut.
  CHECK(shardNameOf(shardOptions("tier in (a,b)", "")) == "tier in (a,b)");
}

TEST_CASE("checkShardOptions refuses a --shard-name that is no DNS-1123 label, naming the flag") {
  struct Row {
    std::string shardName;
    bool ok;
  };
  const std::vector<Row> rows = {
      {"shard-a", true},
      {std::string(63, 'a'), true},   // the longest label
      {std::string(64, 'a'), false},  // too long for a label (and the Lease's name)
      {std::string(1025, 'a'), false},  // longer than status.shard's maxLength
      {"Shard-A", false},
      {"shard a", false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.shardName);
    const auto checked = checkShardOptions(shardOptions("", "", row.shardName));
    CHECK(checked.ok() == row.ok);
    CHECK(checkShardName(row.shardName).ok() == row.ok);
    if (!checked.ok()) {
      CHECK(checked.error().message.starts_with("--shard-name \"" + row.shardName + "\": "));
    }
  }
  // And the other flags, each named.
  const auto selector = checkShardOptions(shardOptions("tier in (a", ""));
  REQUIRE_FALSE(selector.ok());
  CHECK(selector.error().message.starts_with("--policy-selector \"tier in (a\": "));
  const auto namespaces = checkShardOptions(shardOptions("", "a,,b"));
  REQUIRE_FALSE(namespaces.ok());
  CHECK(namespaces.error().message.starts_with("--namespace: "));
}

}  // namespace
}  // namespace kubeai::cli

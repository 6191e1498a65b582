#include "source/policy_directory.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "support/temp_dir.h"

namespace kubeai::source {
namespace {

std::string policy(const std::string& name, int maxReplicas, const std::string& ns = "default") {
  return "apiVersion: kubeai.io/v1alpha1\nkind: AIInferenceAutoscalerPolicy\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n  targetRef: {kind: Deployment, name: web}\n  maxReplicas: " +
         std::to_string(maxReplicas) + "\n  metrics: {gpuUtilization: {targetPercentage: 70}}\n";
}

PolicySet reload(PolicyDirectory& directory) {
  auto set = directory.reload();
  REQUIRE(set.ok());
  return set.value();
}

std::vector<std::string> keys(const PolicySet& set) {
  std::vector<std::string> keys;
  for (const auto& p : *set.policies) {
    keys.push_back(p.key());
  }
  return keys;
}

int maxOf(const PolicySet& set, const std::string& key) {
  for (const auto& p : *set.policies) {
    if (p.key() == key) {
      return p.spec.maxReplicas;
    }
  }
  return -1;
}

TEST_CASE("every manifest in the directory, multi-document, other kinds and files skipped") {
  testing::TempDir dir;
  dir.write("a.yaml", policy("one", 3) + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n" +
                          policy("two", 4, "llm"));
  dir.write("b.yml", policy("three", 5));
  dir.write("c.json", R"({"apiVersion":"kubeai.io/v1alpha1","kind":"AIInferenceAutoscalerPolicy",
    "metadata":{"name":"four"},"spec":{"targetRef":{"kind":"Deployment","name":"w"},"maxReplicas":6,
    "metrics":{"gpuUtilization":{"targetPercentage":50}}}})");
  dir.write("notes.txt", policy("ignored", 1));
  dir.write(".hidden.yaml", policy("hidden", 1));
  std::filesystem::create_directories(dir.path() / "sub");
  dir.write("sub/deep.yaml", policy("deep", 1));

  PolicyDirectory directory(dir.path());
  const PolicySet set = reload(directory);
  CHECK(keys(set) == std::vector<std::string>{"default/four", "default/one", "default/three", "llm/two"});
  CHECK(set.problems.empty());
}

TEST_CASE("a file that stops parsing keeps serving its last good policies, and says so") {
  testing::TempDir dir;
  dir.write("a.yaml", policy("one", 3));
  dir.write("b.yaml", policy("two", 4));
  PolicyDirectory directory(dir.path());
  REQUIRE(reload(directory).policies->size() == 2);

  dir.write("a.yaml", "spec: [broken\n");
  PolicySet set = reload(directory);
  CHECK(keys(set) == std::vector<std::string>{"default/one", "default/two"});
  REQUIRE(set.problems.size() == 1);
  CHECK(set.problems[0].policy.empty());
  CHECK(set.problems[0].message.find("invalid YAML") != std::string::npos);
  CHECK(set.problems[0].message.find("still serving its last good version") != std::string::npos);

  dir.write("a.yaml", policy("one", 9));  // fixed
  set = reload(directory);
  CHECK(set.problems.empty());
  CHECK(maxOf(set, "default/one") == 9);
}

TEST_CASE("a policy that becomes invalid keeps its last good version, a new invalid one is refused") {
  testing::TempDir dir;
  dir.write("a.yaml", policy("one", 3));
  PolicyDirectory directory(dir.path());
  REQUIRE(reload(directory).policies->size() == 1);

  dir.write("a.yaml", policy("one", 0) + "---\n" + policy("new", 0));
  const PolicySet set = reload(directory);
  CHECK(keys(set) == std::vector<std::string>{"default/one"});
  CHECK(maxOf(set, "default/one") == 3);
  REQUIRE(set.problems.size() == 2);
  CHECK(set.problems[0].toString() ==
        (dir.path() / "a.yaml").string() +
            ": default/one: spec.maxReplicas: must be >= 1; still serving its last good version");
  CHECK(set.problems[1].policy == "default/new");
}

TEST_CASE("deleting a file or a document removes its policies") {
  testing::TempDir dir;
  dir.write("a.yaml", policy("one", 3) + "---\n" + policy("two", 3));
  dir.write("b.yaml", policy("three", 3));
  PolicyDirectory directory(dir.path());
  REQUIRE(reload(directory).policies->size() == 3);

  dir.write("a.yaml", policy("one", 3));
  std::filesystem::remove(dir.path() / "b.yaml");
  CHECK(keys(reload(directory)) == std::vector<std::string>{"default/one"});
}

TEST_CASE("the same namespace/name in two files: the first file by name wins") {
  testing::TempDir dir;
  dir.write("a.yaml", policy("one", 3));
  dir.write("b.yaml", policy("one", 7));
  PolicyDirectory directory(dir.path());
  const PolicySet set = reload(directory);
  REQUIRE(set.policies->size() == 1);
  CHECK((*set.policies)[0].spec.maxReplicas == 3);
  REQUIRE(set.problems.size() == 1);
  CHECK(set.problems[0].file == dir.path() / "b.yaml");
  CHECK(set.problems[0].message.find("already defined in") != std::string::npos);
}

TEST_CASE("a name shadowed by an earlier file is served from the later file once the earlier one goes") {
  testing::TempDir dir;
  dir.write("a.yaml", policy("one", 3));
  dir.write("b.yaml", policy("one", 7) + "---\n" + policy("two", 4));
  PolicyDirectory directory(dir.path());
  REQUIRE(maxOf(reload(directory), "default/one") == 3);
  // b.yaml is unchanged, so it is not parsed again: its shadowed version
  // and its served one both come from what the directory kept.
  CHECK(maxOf(reload(directory), "default/one") == 3);
  std::filesystem::remove(dir.path() / "a.yaml");
  const PolicySet set = reload(directory);
  CHECK(keys(set) == std::vector<std::string>{"default/one", "default/two"});
  CHECK(maxOf(set, "default/one") == 7);
  CHECK(set.problems.empty());
  // And b.yaml breaking now keeps both of its policies.
  dir.write("b.yaml", "spec: [unclosed\n");
  CHECK(keys(reload(directory)) == std::vector<std::string>{"default/one", "default/two"});
}

TEST_CASE("a set stays valid after later reloads replace it") {
  testing::TempDir dir;
  dir.write("a.yaml", policy("one", 3));
  PolicyDirectory directory(dir.path());
  const PolicySet first = reload(directory);
  dir.write("a.yaml", policy("one", 5) + "---\n" + policy("two", 4));
  const PolicySet second = reload(directory);
  CHECK(keys(second) == std::vector<std::string>{"default/one", "default/two"});
  CHECK(keys(first) == std::vector<std::string>{"default/one"});  // its holder still reads it
  CHECK(maxOf(first, "default/one") == 3);
}

TEST_CASE("a mounted ConfigMap (symlinks into ..data) is read, and swapping ..data is seen") {
  testing::TempDir dir;
  const auto first = dir.path() / "..2026_11_27_01";
  const auto second = dir.path() / "..2026_11_27_02";
  std::filesystem::create_directories(first);
  std::filesystem::create_directories(second);
  dir.write("..2026_11_27_01/policy.yaml", policy("one", 3));
  dir.write("..2026_11_27_02/policy.yaml", policy("one", 8));
  std::filesystem::create_directory_symlink(first.filename(), dir.path() / "..data");
  std::filesystem::create_symlink("..data/policy.yaml", dir.path() / "policy.yaml");

  PolicyDirectory directory(dir.path());
  CHECK(maxOf(reload(directory), "default/one") == 3);

  // As the kubelet does: a new ..data link renamed over the old one.
  std::filesystem::create_directory_symlink(second.filename(), dir.path() / "..data_tmp");
  std::filesystem::rename(dir.path() / "..data_tmp", dir.path() / "..data");
  CHECK(maxOf(reload(directory), "default/one") == 8);
}

TEST_CASE("a missing directory is an error, an empty one is an empty set") {
  PolicyDirectory missing("/nonexistent/policies");
  auto result = missing.reload();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().message == "policy directory /nonexistent/policies: not found");

  testing::TempDir dir;
  PolicyDirectory empty(dir.path());
  CHECK(reload(empty).policies->empty());
}

TEST_CASE("the example policies load as one set") {
  PolicyDirectory directory(KUBEAI_EXAMPLES_DIR "/policies");
  const PolicySet set = reload(directory);
  CHECK(set.problems.empty());
  CHECK(set.policies->size() == 9);  // every examples/policies/*.yaml, the four engine examples too
}

}  // namespace
}  // namespace kubeai::source

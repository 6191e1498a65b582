// The label selector of serve --policy-selector and validate (kubectl's -l
// syntax, k8s.io/apimachinery's labels.Parse): what parses, its canonical
// text (the labelSelector sent to the API), what it matches, and every error.
#include "kube/label_selector.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

namespace kubeai::kube {
namespace {

using Labels = std::map<std::string, std::string>;

TEST_CASE("label selector: valid forms, their canonical text and what they match") {
  struct Row {
    const char* text;
    const char* canonical;
    std::vector<Labels> matching;
    std::vector<Labels> notMatching;
  };
  const std::vector<Row> rows = {
      // The empty selector selects everything.
      {"", "", {{}, {{"a", "b"}}}, {}},
      // Blanks only: empty too.
      {"  \t", "", {{}}, {}},
      // Equality, both spellings; the canonical text keeps "==".
      {"tier=gpu", "tier=gpu", {{{"tier", "gpu"}}}, {{}, {{"tier", "cpu"}}}},
      {"tier==gpu", "tier==gpu", {{{"tier", "gpu"}}}, {{{"tier", "cpu"}}}},
      // Inequality holds for an absent label too.
      {"tier!=gpu", "tier!=gpu", {{}, {{"tier", "cpu"}}}, {{{"tier", "gpu"}}}},
      // An empty value is a value.
      {"tier=", "tier=", {{{"tier", ""}}}, {{}, {{"tier", "gpu"}}}},
      // Set based: values sorted and deduplicated, blanks dropped.
      {"shard in ( b, a ,b)", "shard in (a,b)", {{{"shard", "a"}}, {{"shard", "b"}}}, {{}, {{"shard", "c"}}}},
      {"shard notin (a)", "shard notin (a)", {{}, {{"shard", "b"}}}, {{{"shard", "a"}}}},
      // "()" and empty items are the empty value.
      {"shard in ()", "shard in ()", {{{"shard", ""}}}, {{{"shard", "a"}}}},
      {"shard in (a,)", "shard in (,a)", {{{"shard", ""}}, {{"shard", "a"}}}, {{}}},
      // Existence and absence.
      {"canary", "canary", {{{"canary", ""}}, {{"canary", "yes"}}}, {{}}},
      {"!canary", "!canary", {{}}, {{{"canary", "yes"}}}},
      // Integer comparisons; a value that is not an integer matches neither.
      {"gen>2", "gen>2", {{{"gen", "3"}}}, {{}, {{"gen", "2"}}, {{"gen", "x"}}}},
      {"gen<2", "gen<2", {{{"gen", "-1"}}}, {{{"gen", "2"}}}},
      // Comma is AND; requirements sorted by key (stable) in the canonical text.
      {"tier=gpu, kubeai.io/shard=shard-a",
       "kubeai.io/shard=shard-a,tier=gpu",
       {{{"tier", "gpu"}, {"kubeai.io/shard", "shard-a"}}},
       {{{"tier", "gpu"}}, {{"kubeai.io/shard", "shard-a"}}}},
      // Keywords are keys or values where those stand.
      {"in=notin", "in=notin", {{{"in", "notin"}}}, {{{"in", "in"}}}},
      // A qualified key: a DNS subdomain prefix, '/', a name with '-', '_', '.'.
      {"example.com/my_label.x-1=V.a_l-1", "example.com/my_label.x-1=V.a_l-1",
       {{{"example.com/my_label.x-1", "V.a_l-1"}}}, {{}}},
      // A 63-character name and value.
      {"a23456789012345678901234567890123456789012345678901234567890123=b23456789012345678901234567890123456789012345678901234567890123",
       "a23456789012345678901234567890123456789012345678901234567890123=b23456789012345678901234567890123456789012345678901234567890123",
       {}, {{}}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    const auto parsed = LabelSelector::parse(row.text);
    REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
    CHECK(parsed.value().text() == row.canonical);
    CHECK(parsed.value().empty() == (std::string(row.canonical).empty()));
    for (const Labels& labels : row.matching) {
      CHECK(parsed.value().matches(labels));
    }
    for (const Labels& labels : row.notMatching) {
      CHECK_FALSE(parsed.value().matches(labels));
    }
    // The canonical text parses to itself (what serve sends is what it means).
    const auto again = LabelSelector::parse(parsed.value().text());
    REQUIRE(again.ok());
    CHECK(again.value().text() == row.canonical);
  }
}

TEST_CASE("label selector: every error names the term and the problem") {
  struct Row {
    const char* text;
    const char* message;
  };
  const std::vector<Row> rows = {
      // A leading, doubled or trailing comma.
      {",a", "term 1 \"\": found ',', expected: '!' or a label key"},
      {"a,,b", "term 2 \"\": found ',' after ',', expected: '!' or a label key"},
      {"a=b,", "term 2 \"\": found the end after ',', expected: '!' or a label key"},
      // No key before an operator.
      {"=b", "term 1 \"=b\": found '=', expected: '!' or a label key"},
      // "!" takes a key, and nothing after it.
      {"!", "term 1 \"!\": found the end, expected: a label key"},
      {"!a=b", "term 1 \"!a=b\": found '=', expected: ',' or the end"},
      // Two words: a missing operator.
      {"a b", "term 1 \"a b\": found 'b', expected: one of =, ==, !=, in, notin, >, <"},
      // An operator without a value, then something that is not one.
      {"a==(", "term 1 \"a==(\": found '(', expected: a value"},
      // Something after the value.
      {"a=b c", "term 1 \"a=b c\": found 'c', expected: ',' or the end"},
      // Set based: the parentheses.
      {"a in b", "term 1 \"a in b\": found 'b', expected: '('"},
      {"a in (b", "term 1 \"a in (b\": found the end, expected: ',' or ')'"},
      {"a in (b c)", "term 1 \"a in (b c)\": found 'c', expected: ',' or ')'"},
      {"a notin (=)", "term 1 \"a notin (=)\": found '=', expected: a value, ',' or ')'"},
      // Key syntax: the name part, the prefix, one '/' at most.
      {"-a=b", "term 1 \"-a=b\": key \"-a\": the name must be at most 63 characters, alphanumeric at both ends, with "
               "'-', '_' or '.' within"},
      {"a234567890123456789012345678901234567890123456789012345678901234=b",
       "term 1 \"a234567890123456789012345678901234567890123456789012345678901234=b\": key "
       "\"a234567890123456789012345678901234567890123456789012345678901234\": the name must be at most 63 characters, "
       "alphanumeric at both ends, with '-', '_' or '.' within"},
      {"Example.com/a=b", "term 1 \"Example.com/a=b\": key \"Example.com/a\": the prefix before '/' must be a DNS "
                          "subdomain (at most 253 lowercase alphanumerics, '-' and '.', alphanumeric at both ends of "
                          "each part)"},
      {"/a", "term 1 \"/a\": key \"/a\": the prefix before '/' must not be empty"},
      {"x/", "term 1 \"x/\": key \"x/\": the name must not be empty"},
      {"a/b/c=d", "term 1 \"a/b/c=d\": key \"a/b/c\": a label key is an optional prefix and '/', then a name: one '/' "
                  "at most"},
      // Value syntax, in the second term.
      {"a=b,c=-d", "term 2 \"c=-d\": value \"-d\": a label value must be empty or at most 63 characters, "
                   "alphanumeric at both ends, with '-', '_' or '.' within"},
      {"c in (ok,x/y)", "term 1 \"c in (ok,x/y)\": value \"x/y\": a label value must be empty or at most 63 "
                        "characters, alphanumeric at both ends, with '-', '_' or '.' within"},
      // > and < need an integer.
      {"gen>two", "term 1 \"gen>two\": value \"two\": '>' needs an integer"},
      {"gen<", "term 1 \"gen<\": value \"\": '<' needs an integer"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    const auto parsed = LabelSelector::parse(row.text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().message == row.message);
  }
}

TEST_CASE("label selector: DNS-1123 labels for namespaces and shard names") {
  struct Row {
    const char* name;
    bool valid;
  };
  const std::vector<Row> rows = {
      {"shard-a", true},   // lowercase and '-'
      {"a", true},         // one character
      {"0team", true},     // a digit first
      {"", false},         // empty
      {"Shard", false},    // uppercase
      {"shard_a", false},  // '_'
      {"-a", false},       // '-' first
      {"a-", false},       // '-' last
      {"a.b", false},      // '.': a subdomain, not a label
      {"a234567890123456789012345678901234567890123456789012345678901234", false},  // 64 characters
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    CHECK(dns1123LabelProblem(row.name).empty() == row.valid);
  }
}

}  // namespace
}  // namespace kubeai::kube

#include "server/scaled_object_ref.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "externalscaler.pb.h"
#include "test_support.h"

namespace kubeai::server {
namespace {

using testing::scaledObject;

TEST_CASE("policyRefFrom: metadata first, then the ScaledObject, then \"default\"") {
  struct Row {
    externalscaler::ScaledObjectRef ref;
    std::string ns;
    std::string name;
  };
  const std::vector<Row> rows = {
      {scaledObject("chat", "team"), "team", "chat"},                                      // both defaulted
      {scaledObject("chat", ""), "default", "chat"},                                       // no namespace anywhere
      {scaledObject("so", "team", {{"policyName", "chat"}}), "team", "chat"},              // name from metadata
      {scaledObject("so", "team", {{"policyNamespace", "ml"}}), "ml", "so"},               // namespace from metadata
      {scaledObject("", "", {{"policyName", "chat"}, {"policyNamespace", "ml"}}), "ml", "chat"},  // metadata only
      {scaledObject("chat", "team", {{"policyName", ""}}), "team", "chat"},                // empty value = not set
      {scaledObject("chat", "", {{"policyNamespace", ""}}), "default", "chat"},            // empty value = not set
      {scaledObject("so", "team", {{"PolicyName", "other"}}), "team", "so"},               // keys are case-sensitive
      {scaledObject("a.b-c", "team"), "team", "a.b-c"},                                    // dots: a subdomain
      {scaledObject(std::string(253, 'a'), "team"), "team", std::string(253, 'a')},        // longest name
  };
  for (const auto& row : rows) {
    CAPTURE(row.ref.ShortDebugString().substr(0, 200));
    const auto ref = policyRefFrom(row.ref);
    REQUIRE(ref.ok());
    CHECK(ref.value().ns == row.ns);
    CHECK(ref.value().name == row.name);
  }
}

TEST_CASE("policyRefFrom: every problem at once, values echoed short and safe") {
  struct Row {
    externalscaler::ScaledObjectRef ref;
    std::vector<std::string> mentions;
  };
  const std::vector<Row> rows = {
      // nothing names a policy
      {scaledObject("", "team"), {"no policy name", "scalerMetadata.policyName", "the ScaledObject's name"}},
      // upper case and '_' are not allowed in Kubernetes names
      {scaledObject("so", "team", {{"policyName", "Chat_1"}}), {"policy name \"Chat_1\" from scalerMetadata.policyName"}},
      // a namespace is a label: no dots
      {scaledObject("chat", "a.b"), {"policy namespace \"a.b\" from the ScaledObject's namespace (scalerMetadata.policyNamespace not set)"}},
      // both wrong: both reported
      {scaledObject("-x", "-y"), {"\"-x\"", "\"-y\"", "; "}},
      // missing name and bad namespace: both reported
      {scaledObject("", "", {{"policyNamespace", "Y"}}), {"no policy name", "policy namespace \"Y\" from scalerMetadata.policyNamespace"}},
      // one character too long
      {scaledObject(std::string(254, 'a'), "team"), {"(254 bytes)"}},
      // a quote and a backslash cannot end the quoted value early
      {scaledObject("a\"b\\c", "team"), {"\"a\\\"b\\\\c\""}},
  };
  for (const auto& row : rows) {
    const auto ref = policyRefFrom(row.ref);
    REQUIRE_FALSE(ref.ok());
    const auto& message = ref.error().message;
    CAPTURE(message);
    CHECK(message.rfind("invalid scaler metadata: ", 0) == 0);
    CHECK(testing::isValidUtf8(message));
    for (const auto& mention : row.mentions) {
      CHECK(message.find(mention) != std::string::npos);
    }
  }
}

TEST_CASE("policyRefFrom: a 1 MiB value costs what a short one does") {
  const std::string huge(std::size_t{1} << 20U, 'x');
  const auto ref = scaledObject("so", "team", {{"policyName", huge}, {"policyNamespace", huge}});
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 1000; ++i) {
    const auto parsed = policyRefFrom(ref);
    REQUIRE_FALSE(parsed.ok());
    REQUIRE(parsed.error().message.size() < 600);
  }
  // 1000 parses; anything that read the whole value would take far longer
  // under a sanitizer build than this generous bound.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  const auto message = policyRefFrom(ref).error().message;
  CHECK(message.find("(1048576 bytes)") != std::string::npos);
}

TEST_CASE("metricNameMatches") {
  struct Row {
    std::string requested;
    bool matches;
  };
  const std::vector<Row> rows = {
      {"kubeai-chat", true},         // exact
      {"KUBEAI-CHAT", true},         // case
      {"s0-kubeai-chat", true},      // KEDA's prefix
      {"s12-kubeai-chat", true},     // several digits
      {"S7-KubeAI-Chat", true},      // all in another case
      {"s-kubeai-chat", false},      // no digits
      {"s0kubeai-chat", false},      // no dash
      {"s0-", false},                // only the prefix
      {"kubeai-chat ", false},       // trailing space
      {"kubeai_chat", false},        // underscore
      {"kubeai-", false},            // no policy
      {"", false},                   // empty
      {"s99999999999999999999-kubeai-chat", true},  // digits are not parsed as a number
  };
  for (const auto& row : rows) {
    CAPTURE(row.requested);
    CHECK(metricNameMatches(row.requested, "chat") == row.matches);
  }
  CHECK(metricNameMatches("kubeai-a.b-c", "a.b-c"));
  CHECK_FALSE(metricNameMatches("kubeai-chat", "chatbot"));
}

TEST_CASE("escapeForMessage keeps valid UTF-8, escapes the rest, and cuts on a character") {
  struct Row {
    std::string value;
    std::size_t maxBytes;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {"plain", 64, "plain"},
      {"caf\u00e9 \u2603 \U0001F600", 64, "caf\u00e9 \u2603 \U0001F600"},  // 2-, 3- and 4-byte characters kept
      {"a\xff" "b", 64, "a\\xffb"},                                        // a stray byte
      {"\xc0\xaf", 64, "\\xc0\\xaf"},                                      // overlong '/'
      {"\xed\xa0\x80", 64, "\\xed\\xa0\\x80"},                             // a UTF-16 surrogate
      {"\xf4\x90\x80\x80", 64, "\\xf4\\x90\\x80\\x80"},                    // above U+10FFFF
      {"\xe2\x98", 64, "\\xe2\\x98"},                                      // a sequence cut short by the end
      {"line\nnext\r\t", 64, "line\\x0anext\\x0d\\x09"},                   // control characters
      {"\x7f", 64, "\\x7f"},                                               // DEL
      {"\u0085", 64, "\\xc2\\x85"},                                        // a C1 control (NEL)
      {"abcdef", 3, "abc\u2026"},                                          // cut
      {"\u00e9\u00e9\u00e9", 3, "\u00e9\u2026"},                           // cut before a split character
      {"\U0001F600x", 2, "\u2026"},                                        // nothing whole fits
      {"", 64, ""},
  };
  for (const auto& row : rows) {
    CAPTURE(row.expected);
    const auto escaped = escapeForMessage(row.value, row.maxBytes);
    CHECK(escaped == row.expected);
    CHECK(testing::isValidUtf8(escaped));
  }
}

TEST_CASE("quoteForMessage quotes, escapes quotes, and gives the length after a cut") {
  CHECK(quoteForMessage("chat") == "\"chat\"");
  CHECK(quoteForMessage("say \"hi\"\\") == "\"say \\\"hi\\\"\\\\\"");
  CHECK(quoteForMessage(std::string(100, 'a'), 4) == "\"aaaa\u2026\" (100 bytes)");
  CHECK(quoteForMessage(std::string(64, 'a')) == "\"" + std::string(64, 'a') + "\"");
}

TEST_CASE("PolicyRef names its metric and itself") {
  const PolicyRef ref{"team", "chat"};
  CHECK(ref.metricName() == "kubeai-chat");
  CHECK(ref.display() == "team/chat");
}

}  // namespace
}  // namespace kubeai::server

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "cli/serve_command.h"

namespace kubeai::cli {
namespace {

TEST_CASE("checkServeOptions: --plugin-timeout must leave the cycle time to finish") {
  ServeOptions options;
  options.policyDir = "/etc/policies";
  options.metricsFile = "/etc/metrics.yaml";
  options.pluginDir = "/etc/plugins";
  CHECK(checkServeOptions(options).ok());  // the defaults: 1s within 15s
  options.pluginTimeout = std::chrono::milliseconds(15'001);
  const auto refused = checkServeOptions(options);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message ==
        "--plugin-timeout must be greater than 0 and at most --evaluation-interval (15000ms)");
  options.pluginTimeout = std::chrono::milliseconds(0);
  CHECK_FALSE(checkServeOptions(options).ok());
  options.pluginIsolation = "in-process";  // no deadline there: nothing to check
  CHECK(checkServeOptions(options).ok());
}

TEST_CASE("parseHeaderFlag takes NAME=VALUE and refuses what would break the request") {
  // Rows: the flag's value, the header expected.
  auto parsed = parseHeaderFlag("X-Scope-OrgID=team-a");
  REQUIRE(parsed.ok());
  CHECK(parsed.value() == std::pair<std::string, std::string>{"X-Scope-OrgID", "team-a"});
  // Only the first '=' splits: values may hold '=' (base64).
  parsed = parseHeaderFlag("Authorization=Basic dXNlcjpwYXNz==");
  REQUIRE(parsed.ok());
  CHECK(parsed.value().second == "Basic dXNlcjpwYXNz==");
  // Every token character of RFC 9110 is allowed in a name.
  CHECK(parseHeaderFlag("A1!#$%&'*+-.^_`|~=v").ok());

  // Rows: the flag's value, part of the error.
  const std::pair<const char*, const char*> bad[] = {
      {"X-Scope-OrgID", "expected NAME=VALUE"},                        // no '='
      {"=team-a", "NAME must be an HTTP header name"},                 // no name
      {"X Scope=team-a", "NAME must be an HTTP header name"},          // space in the name
      {"X:Scope=team-a", "NAME must be an HTTP header name"},          // ':' would end the name early
      {"X-Scope-OrgID=", "X-Scope-OrgID: the value is empty"},         // an empty value
      {"X-A=a\r\nX-Injected: 1", "X-A: the value holds a control character"},  // header injection
  };
  for (const auto& [text, expected] : bad) {
    CAPTURE(text);
    auto result = parseHeaderFlag(text);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find(expected) != std::string::npos);
    CHECK(result.error().message.rfind("--prometheus-header", 0) == 0);
  }
  // A malformed flag may hold a credential: the error does not repeat it.
  auto pasted = parseHeaderFlag("Authorization: Bearer s3cr3t");
  REQUIRE_FALSE(pasted.ok());
  CHECK(pasted.error().message.find("s3cr3t") == std::string::npos);
  pasted = parseHeaderFlag("Authorization: Bearer s3cr3t=");
  REQUIRE_FALSE(pasted.ok());
  CHECK(pasted.error().message.find("s3cr3t") == std::string::npos);
}

}  // namespace
}  // namespace kubeai::cli

#include "kube/api_status.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace kubeai::kube::detail {
namespace {

using std::chrono::milliseconds;

TEST_CASE("parseApiStatus reads a Status, bounds retryAfterSeconds and ignores fields of the wrong type") {
  struct Row {
    std::string body;
    long code;
    std::string message;
    std::optional<milliseconds> retryAfter;
  };
  const std::vector<Row> rows = {
      // A 429 as the API sends it.
      {R"({"kind":"Status","code":429,"message":"slow down","details":{"retryAfterSeconds":7}})", 429, "slow down",
       milliseconds(7000)},
      // Days: bounded by kMaxRetryAfter.
      {R"({"code":429,"details":{"retryAfterSeconds":1000000}})", 429, "", kMaxRetryAfter},
      // INT64_MAX and UINT64_MAX: would overflow seconds → milliseconds.
      {R"({"code":429,"details":{"retryAfterSeconds":9223372036854775807}})", 429, "", kMaxRetryAfter},
      {R"({"code":429,"details":{"retryAfterSeconds":18446744073709551615}})", 429, "", kMaxRetryAfter},
      // Zero, negative, text, a fraction: not a delay.
      {R"({"code":429,"details":{"retryAfterSeconds":0}})", 429, "", std::nullopt},
      {R"({"code":429,"details":{"retryAfterSeconds":-5}})", 429, "", std::nullopt},
      {R"({"code":429,"details":{"retryAfterSeconds":"5"}})", 429, "", std::nullopt},
      {R"({"code":429,"details":{"retryAfterSeconds":1.5}})", 429, "", std::nullopt},
      // details not an object, message not a string, code text: the HTTP status stands.
      {R"({"code":"500","message":5,"details":[1]})", 503, "", std::nullopt},
      // A code beyond int32 is not a Status code.
      {R"({"code":99999999999})", 503, "", std::nullopt},
      // Not a Status at all (a proxy's page).
      {"<html>bad gateway</html>", 503, "", std::nullopt},
      {"[]", 503, "", std::nullopt},
  };
  for (const Row& row : rows) {
    CAPTURE(row.body);
    const ApiStatus fromText = parseApiStatus(503, row.body);
    CHECK(fromText.code == row.code);
    CHECK(fromText.message == row.message);
    CHECK(fromText.retryAfter == row.retryAfter);
    // The JSON overload (a watch ERROR event's object) agrees.
    const nlohmann::json parsed = nlohmann::json::parse(row.body, nullptr, false);
    if (!parsed.is_discarded()) {
      const ApiStatus fromJson = parseApiStatusJson(503, parsed);
      CHECK(fromJson.code == row.code);
      CHECK(fromJson.message == row.message);
      CHECK(fromJson.retryAfter == row.retryAfter);
    }
  }
}

}  // namespace
}  // namespace kubeai::kube::detail

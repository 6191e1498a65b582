#include "policy/yaml_to_json.h"

#include <doctest/doctest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

namespace kubeai::policy {
namespace {

nlohmann::json convert(const std::string& yaml) {
  auto converted = yamlToJson(YAML::Load(yaml));
  REQUIRE(converted.ok());
  return converted.value();
}

TEST_CASE("plain scalars resolve by the YAML 1.2 core schema, quoted ones stay strings") {
  struct Row {
    const char* yaml;
    nlohmann::json expected;
  };
  const Row rows[] = {
      {"v: 3", 3},
      {"v: -7", -7},
      {"v: '3'", "3"},            // quoted: a string, as Kubernetes reads it
      {"v: \"3\"", "3"},
      {"v: 0.25", 0.25},
      {"v: 1e3", 1000.0},
      {"v: true", true},
      {"v: False", false},
      {"v: yes", true},           // YAML 1.1 booleans, as kubectl reads them
      {"v: off", false},
      {"v: +5", 5},
      {"v: .5", 0.5},
      {"v: 5.", 5.0},
      {"v: 1e", "1e"},            // not a number
      {"v: 1.2.3", "1.2.3"},
      {"v: ~", nullptr},
      {"v:", nullptr},
      {"v: null", nullptr},
      {"v: !!str 12", "12"},
      {"v: MaxRatio", "MaxRatio"},
      {"v: 99999999999999999999", 1e20},  // beyond int64: keep the magnitude
  };
  for (const Row& row : rows) {
    CAPTURE(row.yaml);
    CHECK(convert(row.yaml)["v"] == row.expected);
  }
}

TEST_CASE("infinities and NaN become floating values, which validation then refuses") {
  CHECK(std::isinf(convert("v: .inf")["v"].get<double>()));
  CHECK(convert("v: -.Inf")["v"].get<double>() < 0);
  CHECK(std::isnan(convert("v: .nan")["v"].get<double>()));
}

TEST_CASE("sequences and nested maps convert") {
  const nlohmann::json json = convert("a:\n  b: [1, 2.5, x]\n  c: {d: e}\n");
  CHECK(json == nlohmann::json::parse(R"({"a":{"b":[1,2.5,"x"],"c":{"d":"e"}}})"));
}

TEST_CASE("an alias bomb is refused instead of exhausting memory") {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on chains of "literal" + std::string.
    const std::string name = std::to_string(i);
    const std::string previous = std::to_string(i - 1);
    yaml += "a";
    yaml += name;
    yaml += ": &a";
    yaml += name;
    yaml += " [";
    for (int j = 0; j < 10; ++j) {
      yaml += j ? ", *a" : "*a";
      yaml += previous;
    }
    yaml += "]\n";
  }
  auto converted = yamlToJson(YAML::Load(yaml));
  REQUIRE_FALSE(converted.ok());
  CHECK(converted.error().message.find("too large") != std::string::npos);
}

TEST_CASE("a number of 100,000 digits converts without exhausting the stack") {
  const auto json = convert("v: " + std::string(100000, '1'));
  CHECK(std::isinf(json["v"].get<double>()));
}

TEST_CASE("deep nesting is refused") {
  std::string yaml;
  for (int i = 0; i < 100; ++i) {
    yaml += "[";
  }
  for (int i = 0; i < 100; ++i) {
    yaml += "]";
  }
  auto converted = yamlToJson(YAML::Load(yaml));
  REQUIRE_FALSE(converted.ok());
  CHECK(converted.error().message.find("nested deeper") != std::string::npos);
}

}  // namespace
}  // namespace kubeai::policy

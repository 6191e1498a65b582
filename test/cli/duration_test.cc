#include "cli/duration.h"

#include <doctest/doctest.h>

namespace kubeai::cli {
namespace {

TEST_CASE("durations: the forms flags accept") {
  struct Row {
    const char* text;
    long long ms;
  };
  const Row rows[] = {
      {"500ms", 500}, {"15s", 15'000}, {"2m", 120'000}, {"1h", 3'600'000},
      {"1.5s", 1'500}, {"1m30s", 90'000}, {"0s", 0},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    auto parsed = parseDuration(row.text);
    REQUIRE(parsed.ok());
    CHECK(parsed.value().count() == row.ms);
  }
}

TEST_CASE("durations: what is refused, and how it is said") {
  for (const char* text : {"", "15", "s", "-1s", "15 s", "15sec", "nan s", "1e400s", "9999h"}) {
    CAPTURE(text);
    CHECK_FALSE(parseDuration(text).ok());
  }
  CHECK(parseDuration("15").error().message == "invalid duration \"15\": a unit is required (ms, s, m or h)");
}

}  // namespace
}  // namespace kubeai::cli

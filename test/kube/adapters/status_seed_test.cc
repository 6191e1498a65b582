#include "kube/status_seed.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "kube/client/kube_time.h"
#include "kube/status_writer.h"
#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;

core::Policy makePolicy(std::int64_t generation = 3, std::string uid = "uid-1") {
  core::Policy policy;
  policy.metadata.name = "chat";
  policy.metadata.namespace_ = "ml";
  policy.metadata.generation = generation;
  policy.metadata.uid = std::move(uid);
  return policy;
}

// 2026-11-28T09:00:00Z.
const core::TimePoint kNine = *parseTime("2026-11-28T09:00:00Z");

TEST_CASE("seedFromApiStatus: a seed only from a status written for this generation") {
  struct Row {
    const char* status;  // the object's .status as the API holds it
    std::int64_t generation;
    bool seeded;
    std::int32_t desired;                        // when seeded
    std::optional<core::TimePoint> lastScaleTime;  // when seeded
  };
  const std::vector<Row> rows = {
      // Written for generation 3, read by a process that sees generation 3: both fields back.
      {R"({"desiredReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":3})", 3, true, 10, kNine},
      // Any RFC 3339 form the API may hold.
      {R"({"desiredReplicas":4,"lastScaleTime":"2026-11-28T10:00:00+01:00","observedGeneration":3})", 3, true, 4,
       kNine},
      // Never scaled: the published value alone (no cooldown to resume).
      {R"({"desiredReplicas":2,"observedGeneration":3})", 3, true, 2, std::nullopt},
      // 0 is a value (scaled to zero), not absence.
      {R"({"desiredReplicas":0,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":3})", 3, true, 0, kNine},
      // An unreadable lastScaleTime seeds no cooldown, the published value still.
      {R"({"desiredReplicas":10,"lastScaleTime":"yesterday","observedGeneration":3})", 3, true, 10, std::nullopt},
      {R"({"desiredReplicas":10,"lastScaleTime":42,"observedGeneration":3})", 3, true, 10, std::nullopt},
      {R"({"desiredReplicas":10,"lastScaleTime":"9999-12-31T23:59:59Z","observedGeneration":3})", 3, true, 10,
       std::nullopt},
      // Written for another spec: the spec was edited since (or the status is from before an edit).
      {R"({"desiredReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":2})", 3, false, 0,
       std::nullopt},
      {R"({"desiredReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":4})", 3, false, 0,
       std::nullopt},
      // No observedGeneration: not written by a server that says what it saw.
      {R"({"desiredReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z"})", 0, false, 0, std::nullopt},
      {R"({"desiredReplicas":10,"observedGeneration":"3"})", 3, false, 0, std::nullopt},
      // No decision published: an invalid policy's status (its decision fields deleted), or a new object.
      {R"({"observedGeneration":3,"conditions":[{"type":"Ready","status":"False","reason":"InvalidPolicy"}]})", 3,
       false, 0, std::nullopt},
      {R"({})", 3, false, 0, std::nullopt},
      {"", 3, false, 0, std::nullopt},
      // Out of range or of the wrong type: not a replica count.
      {R"({"desiredReplicas":-1,"observedGeneration":3})", 3, false, 0, std::nullopt},
      {R"({"desiredReplicas":"10","observedGeneration":3})", 3, false, 0, std::nullopt},
      {R"({"desiredReplicas":4294967296,"observedGeneration":3})", 3, false, 0, std::nullopt},
  };
  for (const Row& row : rows) {
    CAPTURE(row.status);
    const auto seed = seedFromApiStatus(parseApiStatus(row.status), row.generation);
    REQUIRE(seed.has_value() == row.seeded);
    if (seed) {
      CHECK(seed->desiredReplicas == row.desired);
      CHECK(seed->lastScaleTime == row.lastScaleTime);
    }
  }
  // No status observed at all.
  CHECK_FALSE(seedFromApiStatus(std::nullopt, 3).has_value());
}

TEST_CASE("StatusWriter::seedFor: what the API's status last said, for the generation the loop sees") {
  testing::RecordingKubeClient client;
  StatusWriter writer(client, {}, [] { return false; });  // not leading: seeds all the same
  constexpr const char* kWritten =
      R"({"desiredReplicas":10,"currentReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":3})";

  // No status observed for the policy: nothing to resume.
  CHECK_FALSE(writer.seedFor(makePolicy()).has_value());

  writer.observeApiStatus("ml", "chat", kWritten);
  auto seed = writer.seedFor(makePolicy(3));
  REQUIRE(seed.has_value());
  CHECK(seed->desiredReplicas == 10);
  CHECK(seed->lastScaleTime == kNine);
  // Another generation (edited since the status was written): no seed.
  CHECK_FALSE(writer.seedFor(makePolicy(4)).has_value());
  // Another policy of the same namespace: its own status, none observed.
  core::Policy other = makePolicy(3);
  other.metadata.name = "embed";
  CHECK_FALSE(writer.seedFor(other).has_value());

  // Malformed text from the API changes nothing: the last status read stands.
  writer.observeApiStatus("ml", "chat", "{not json");
  CHECK(writer.seedFor(makePolicy(3)).has_value());

  // A newer observation replaces the older one.
  writer.observeApiStatus("ml", "chat", R"({"desiredReplicas":6,"lastScaleTime":"bad","observedGeneration":3})");
  seed = writer.seedFor(makePolicy(3));
  REQUIRE(seed.has_value());
  CHECK(seed->desiredReplicas == 6);
  CHECK_FALSE(seed->lastScaleTime.has_value());

  // A status whose decision was deleted (the policy was invalid): nothing published to resume.
  writer.observeApiStatus("ml", "chat", R"({"observedGeneration":3,"desiredReplicas":null})");
  CHECK_FALSE(writer.seedFor(makePolicy(3)).has_value());

  // Deleted: forgotten.
  writer.observeApiStatus("ml", "chat", kWritten);
  REQUIRE(writer.seedFor(makePolicy(3)).has_value());
  writer.onRemoved("ml", "chat");
  CHECK_FALSE(writer.seedFor(makePolicy(3)).has_value());

  // The status was observed for one object (uid-1); a policy of the same name that is another
  // object (deleted and created again) does not resume it.
  writer.observeApiStatus("ml", "chat", kWritten);
  writer.onDecision(makePolicy(3, "uid-1"), core::Decision{}, core::Observation{}, std::nullopt);
  CHECK(writer.seedFor(makePolicy(3, "uid-1")).has_value());
  CHECK_FALSE(writer.seedFor(makePolicy(3, "uid-2")).has_value());
  // seedFor never writes.
  CHECK(client.requests().empty());
}

}  // namespace
}  // namespace kubeai::kube

#include "kube/superseded_status.h"

#include <algorithm>
#include <utility>

namespace kubeai::kube {
namespace {

void dropSpecValid(std::vector<Condition>& conditions) {
  std::erase_if(conditions, [](const Condition& condition) { return condition.type == kConditionSpecValid; });
}

}  // namespace

std::string supersededMessage(const Superseded& superseded) {
  std::string message = "generation ";
  message += std::to_string(superseded.latestGeneration);
  message += ": ";
  message += superseded.problem;
  message += "; serving generation ";
  message += std::to_string(superseded.servedGeneration);
  return message;
}

PolicyStatus withSuperseded(PolicyStatus status, const Superseded& superseded, const std::vector<Condition>& previous,
                            core::TimePoint now) {
  // Cut before the generation it serves is lost: the tail is what a reader looks for.
  std::string tail = "; serving generation ";
  tail += std::to_string(superseded.servedGeneration);
  std::string message = supersededMessage(superseded);
  if (message.size() > kMaxConditionMessageBytes) {
    message = truncateUtf8(std::move(message), kMaxConditionMessageBytes - tail.size()) + tail;
  }
  Condition condition{std::string(kConditionSpecValid), "False", std::string(invalidReason(superseded.problem)),
                      std::move(message), formatTime(now), superseded.latestGeneration};
  dropSpecValid(status.conditions);
  status.conditions.push_back(std::move(carryTransitions({std::move(condition)}, previous).front()));
  status.observedGeneration = superseded.latestGeneration;
  return status;
}

PolicyStatus withoutSuperseded(PolicyStatus status, std::int64_t generation) {
  dropSpecValid(status.conditions);
  status.observedGeneration = generation;
  return status;
}

}  // namespace kubeai::kube

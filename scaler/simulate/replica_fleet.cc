#include "simulate/replica_fleet.h"

#include <algorithm>
#include <cmath>

namespace kubeai::simulate {

double SeededRandom::uniform() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  z ^= z >> 31U;
  return static_cast<double>(z >> 11U) * 0x1.0p-53;
}

ReplicaFleet::ReplicaFleet(const ReplicasModel& model, std::uint64_t seed) : model_(model), random_(seed) {
  // The initial replicas are ready from the start.
  readyAt_.assign(static_cast<std::size_t>(std::max(model.initial, 0)), 0.0);
}

void ReplicaFleet::scaleTo(std::int32_t requested, double now) {
  const auto target = static_cast<std::size_t>(std::max(requested, 0));
  while (readyAt_.size() < target) {
    const double span = model_.startup.max - model_.startup.min;
    // A draw only when the start-up is a range, so that a fixed one leaves
    // the sequence of draws alone.
    const double startup = span > 0 ? model_.startup.min + span * random_.uniform() : model_.startup.min;
    readyAt_.push_back(now + startup);
  }
  while (readyAt_.size() > target) {
    // Not ready before ready, then the newest: what a ReplicaSet deletes first.
    auto victim = readyAt_.end() - 1;
    for (auto it = readyAt_.end(); it != readyAt_.begin();) {
      --it;
      if (*it > now) {
        victim = it;
        break;
      }
    }
    readyAt_.erase(victim);
    if (model_.shutdownSeconds > 0) {
      shutdownEnd_.push_back(now + model_.shutdownSeconds);
    }
  }
}

ReplicaFleet::Counts ReplicaFleet::countAt(double stepStart) {
  std::erase_if(shutdownEnd_, [&](double end) { return end <= stepStart; });
  Counts counts;
  for (const double ready : readyAt_) {
    if (ready <= stepStart) {
      ++counts.ready;
    } else {
      ++counts.starting;
    }
  }
  counts.existing = counts.ready + counts.starting + static_cast<std::int32_t>(shutdownEnd_.size());
  return counts;
}

std::int32_t hpaRequested(std::int32_t current, std::int32_t published, double tolerance) {
  if (published <= 0 || current <= 0) {
    return std::max(published, 0);
  }
  const double ratio = static_cast<double>(published) / static_cast<double>(current);
  if (std::abs(ratio - 1.0) <= tolerance) {
    return current;
  }
  return published;
}

}  // namespace kubeai::simulate

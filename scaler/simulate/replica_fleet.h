#pragma once

#include <cstdint>
#include <vector>

#include "simulate/workload.h"

namespace kubeai::simulate {

// The deterministic draws of a run: SplitMix64, whose output is fixed by its
// definition (std::uniform_real_distribution's is not, across standard libraries).
class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : state_(seed) {}
  double uniform();  // in [0, 1)

 private:
  std::uint64_t state_;
};

// The workload's pods, as a ReplicaSet keeps them: scaled to the requested
// count at a step's end, starting replicas removed before ready ones (the
// newest first), each new one ready after its start-up time. Time is in
// seconds from the start of the run; a replica becomes ready for the first
// step that starts at or after its ready time, and a removed one exists for
// `shutdownSeconds` more (counted at step starts).
class ReplicaFleet {
 public:
  ReplicaFleet(const ReplicasModel& model, std::uint64_t seed);

  // Scale to `requested` at time `now`.
  void scaleTo(std::int32_t requested, double now);

  // At a step's start: counts of replicas that exist (starting, ready or
  // shutting down) and that serve.
  struct Counts {
    std::int32_t existing = 0;
    std::int32_t ready = 0;
    std::int32_t starting = 0;
  };
  [[nodiscard]] Counts countAt(double stepStart);
  [[nodiscard]] std::int32_t running() const noexcept { return static_cast<std::int32_t>(readyAt_.size()); }

 private:
  ReplicasModel model_;
  SeededRandom random_;
  std::vector<double> readyAt_;     // every running replica's ready time, in creation order
  std::vector<double> shutdownEnd_;  // removed replicas still costing, until these times
};

// KEDA and the HPA between the published value and the workload's replicas:
// at each sync, a change within the tolerance of the current replicas is
// dropped (the HPA's tolerance on an AverageValue metric of target 1); 0 is
// KEDA deactivating the workload.
std::int32_t hpaRequested(std::int32_t current, std::int32_t published, double tolerance);

}  // namespace kubeai::simulate

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
// count at a sync, starting replicas removed before ready ones (the newest
// first), each new one ready after its start-up time. Times are milliseconds
// from the start of the run, so that a week of steps never drifts. A replica
// is ready for the first step that starts at or after its ready time; a
// removed one exists `shutdownSeconds` more. Replicas are kept as batches of
// one ready time, so a count of any size costs the same.
class ReplicaFleet {
 public:
  ReplicaFleet(const ReplicasModel& model, std::uint64_t seed);

  void scaleTo(std::int32_t requested, std::int64_t nowMs);

  // At a step's start: replicas that exist (starting, ready or shutting
  // down), that serve, and that are starting.
  struct Counts {
    std::int32_t existing = 0;
    std::int32_t ready = 0;
    std::int32_t starting = 0;
  };
  [[nodiscard]] Counts countAt(std::int64_t stepStartMs);

 private:
  struct Batch {
    std::int64_t atMs = 0;  // ready at (running), gone at (shutting down)
    std::int64_t count = 0;
  };
  void remove(std::int64_t count, std::int64_t nowMs);

  ReplicasModel model_;
  SeededRandom random_;
  std::vector<Batch> running_;      // in creation order
  std::vector<Batch> shuttingDown_;
  std::int64_t runningCount_ = 0;
};

// KEDA and the HPA between the published value and the workload's replicas
// (HpaModel, KedaModel in workload.h), one sync at a time.
class HorizontalPodAutoscaler {
 public:
  HorizontalPodAutoscaler(const HpaModel& hpa, const KedaModel& keda) : hpa_(hpa), keda_(keda) {}

  // The replicas requested after a sync at `nowMs` that reads `published`.
  std::int32_t sync(std::int32_t current, std::int32_t published, std::int64_t nowMs);

 private:
  struct ScaleUp {
    std::int64_t atMs = 0;
    std::int64_t added = 0;
  };
  [[nodiscard]] std::int64_t scaleUpLimit(std::int32_t current, std::int64_t nowMs);

  HpaModel hpa_;
  KedaModel keda_;
  std::vector<ScaleUp> scaleUps_;  // within the scale-up period
  std::int64_t lastActiveMs_ = 0;  // KEDA's last active trigger (the run's start until then)
};

}  // namespace kubeai::simulate

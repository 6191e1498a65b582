#include "core/algorithm_registry.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace kubeai::core {
namespace {

class NamedAlgorithm final : public ScalingAlgorithm {
 public:
  NamedAlgorithm(std::string name, std::int32_t answer) : name_(std::move(name)), answer_(answer) {}
  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput&) const override {
    return AlgorithmOutput{answer_, "fixed", std::nullopt, false, {}, {}};
  }

 private:
  std::string name_;
  std::int32_t answer_;
};

TEST_CASE("the registry starts with the five built-ins") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  CHECK(registry->names() ==
        std::vector<std::string>{"AverageRatio", "Burst", "MaxRatio", "Predictive", "WeightedRatio"});
  CHECK(registry->isBuiltin("Predictive"));
  CHECK(registry->isBuiltin("Burst"));
  CHECK(registry->find("MaxRatio") != nullptr);
  CHECK(registry->isBuiltin("WeightedRatio"));
  CHECK(registry->find("maxratio") == nullptr);  // names are case-sensitive, as in the original
}

TEST_CASE("the registry refuses null, empty and duplicate names") {
  auto registry = AlgorithmRegistry::withBuiltins();
  CHECK_FALSE(registry->add(nullptr).ok());

  const Status empty = registry->add(std::make_shared<NamedAlgorithm>("", 1));
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == "algorithm name is empty");

  const Status builtin = registry->add(std::make_shared<NamedAlgorithm>("MaxRatio", 1));
  REQUIRE_FALSE(builtin.ok());
  CHECK(builtin.error().message.find("built-in") != std::string::npos);
  const Status replaceBuiltin = registry->replace(std::make_shared<NamedAlgorithm>("MaxRatio", 1));
  CHECK_FALSE(replaceBuiltin.ok());

  REQUIRE(registry->add(std::make_shared<NamedAlgorithm>("Custom", 1)).ok());
  const Status duplicate = registry->add(std::make_shared<NamedAlgorithm>("Custom", 2));
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().message == "duplicate algorithm name \"Custom\": already registered");
}

TEST_CASE("replace swaps a plugin, holders of the old one keep it alive") {
  auto registry = AlgorithmRegistry::withBuiltins();
  REQUIRE(registry->add(std::make_shared<NamedAlgorithm>("Custom", 1)).ok());
  const auto old = registry->find("Custom");
  REQUIRE(registry->replace(std::make_shared<NamedAlgorithm>("Custom", 2)).ok());
  const AlgorithmParameters parameters;
  AlgorithmInput input;
  input.parameters = &parameters;
  CHECK(old->compute(input).value().desiredReplicas == 1);
  CHECK(registry->find("Custom")->compute(input).value().desiredReplicas == 2);
  CHECK(registry->remove("Custom"));
  CHECK_FALSE(registry->remove("MaxRatio"));  // built-ins stay
  CHECK(registry->find("Custom") == nullptr);
}

TEST_CASE("concurrent lookups while a plugin is replaced see a whole algorithm") {
  auto registry = AlgorithmRegistry::withBuiltins();
  REQUIRE(registry->add(std::make_shared<NamedAlgorithm>("Custom", 0)).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> lookups{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      const AlgorithmParameters parameters;
      AlgorithmInput input;
      input.parameters = &parameters;
      while (!stop.load()) {
        const auto algorithm = registry->find("Custom");
        if (algorithm && algorithm->compute(input).value().desiredReplicas >= 0) {
          lookups.fetch_add(1);
        }
      }
    });
  }
  for (std::int32_t version = 1; version <= 2000; ++version) {
    REQUIRE(registry->replace(std::make_shared<NamedAlgorithm>("Custom", version)).ok());
  }
  // Let the readers run for certain before stopping them.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (lookups.load() < 1000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  stop.store(true);
  for (auto& reader : readers) {
    reader.join();
  }
  CHECK(lookups.load() > 0);
  AlgorithmParameters parameters;
  AlgorithmInput input;
  input.parameters = &parameters;
  CHECK(registry->find("Custom")->compute(input).value().desiredReplicas == 2000);
}

}  // namespace
}  // namespace kubeai::core

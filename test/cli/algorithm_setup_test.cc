#include "cli/algorithm_setup.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <string_view>

#include "core/algorithm_registry.h"

namespace kubeai::cli {
namespace {

// A plugin whose name differs from a built-in in case alone.
class NamedAlgorithm final : public core::ScalingAlgorithm {
 public:
  explicit NamedAlgorithm(std::string name) : name_(std::move(name)) {}
  [[nodiscard]] std::string_view name() const noexcept override { return name_; }
  [[nodiscard]] core::Result<core::AlgorithmOutput> compute(const core::AlgorithmInput& /*input*/) const override {
    return core::AlgorithmOutput{};
  }

 private:
  std::string name_;
};

TEST_CASE("unknownAlgorithmWarning names every algorithm of the same letters, in any case") {
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  CHECK(unknownAlgorithmWarning(*registry, "predictive")
            .ends_with("MaxRatio will be used (names are case-sensitive: did you mean \"Predictive\"?)"));
  REQUIRE(registry->add(std::make_shared<NamedAlgorithm>("PREDICTIVE")).ok());
  CHECK(unknownAlgorithmWarning(*registry, "predictive")
            .ends_with("(names are case-sensitive: did you mean \"PREDICTIVE\" or \"Predictive\"?)"));
  // No name of the same letters: no guess.
  CHECK(unknownAlgorithmWarning(*registry, "Predictve").ends_with("MaxRatio will be used"));
}

}  // namespace
}  // namespace kubeai::cli

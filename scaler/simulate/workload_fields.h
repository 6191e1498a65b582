#pragma once

// The field reads of a workload file (workload.h), with errors at field paths;
// the sections that use them are read in workload.cc.

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/validation.h"
#include "policy/json_decoder.h"

namespace kubeai::simulate::detail {

// A number as YAML writes it: ".nan", ".inf", "-.inf" or up to 10 digits.
std::string describe(double value);

bool positive(double value);
bool nonNegative(double value);

// The field `key` of `parent`, or nullptr when it is missing or null.
const nlohmann::json* present(const nlohmann::json& parent, const char* key);

// The typed reads of policy::detail::Decoder, its errors collected into a
// scratch PolicyDocument and moved into the workload's at the end; plus what
// a workload has and a policy does not: durations, and unknown fields as errors.
class WorkloadFieldReader {
 public:
  // Relative file names (resolve()) are taken from `baseDir`, the workload file's folder.
  explicit WorkloadFieldReader(std::filesystem::path baseDir);

  std::vector<core::FieldError> takeErrors();

 protected:
  void error(const std::string& path, std::string message) { in_.error(path, std::move(message)); }

  // A misspelt field must not pass unjudged (`latencyP99: 500` would leave the SLO unchecked).
  void unknownFields(const nlohmann::json& object, const std::string& path, std::initializer_list<const char*> known);

  void required(const nlohmann::json& parent, const char* key, const std::string& path, const char* what = nullptr);

  std::optional<std::chrono::milliseconds> duration(const nlohmann::json& parent, const char* key,
                                                    const std::string& path);

  // A number that must be > 0 (finite).
  std::optional<double> positiveNumber(const nlohmann::json& parent, const char* key, const std::string& path);

  std::optional<double> nonNegativeNumber(const nlohmann::json& parent, const char* key, const std::string& path);

  // Seconds of a replica's life (start-up, shutdown): >= 0 and at most a week.
  std::optional<double> replicaSeconds(const nlohmann::json& parent, const char* key, const std::string& path);

  std::optional<std::string> nonEmptyString(const nlohmann::json& parent, const char* key, const std::string& path);

  std::filesystem::path resolve(const std::string& file) const;

  // start or end of a range query: RFC 3339 or Unix seconds, as query_range
  // takes them; `seconds` gets the instant, to check that end is after start.
  std::optional<std::string> readTime(const nlohmann::json& parent, const char* key, const std::string& path,
                                      std::optional<double>& seconds);

 private:
  std::filesystem::path baseDir_;
  policy::PolicyDocument scratch_;

 protected:
  policy::detail::Decoder in_{scratch_};
};

}  // namespace kubeai::simulate::detail

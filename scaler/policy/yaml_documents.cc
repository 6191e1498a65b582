#include "policy/yaml_documents.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "policy/yaml_to_json.h"

namespace kubeai::policy {
namespace {

// yaml-cpp 0.7 loops forever on some malformed input: a stray ',' at document
// level yields an endless series of empty documents, each starting where the
// last one did, until memory runs out. Walking the events first and stopping
// at a document that makes no progress turns that into an error.
class ProgressCheck final : public YAML::EventHandler {
 public:
  std::optional<YAML::Mark> stuckAt;

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (lastStart_ && *lastStart_ == mark.pos) {
      stuckAt = mark;
    }
    lastStart_ = mark.pos;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  std::optional<int> lastStart_;
};

// Throws YAML::Exception on a syntax error, as YAML::LoadAll does.
std::optional<core::Error> findStuckParse(const std::string& text) {
  std::istringstream input(text);
  YAML::Parser parser(input);
  ProgressCheck check;
  while (!check.stuckAt && parser.HandleNextDocument(check)) {
  }
  if (!check.stuckAt) {
    return std::nullopt;
  }
  return core::Error{"invalid YAML at line " + std::to_string(check.stuckAt->line + 1) + ", column " +
                     std::to_string(check.stuckAt->column + 1) + ": unexpected token (a stray ',' or '?')"};
}

}  // namespace

core::Result<std::vector<core::Result<nlohmann::json>>> parseYamlDocuments(std::string_view text) {
  std::vector<YAML::Node> nodes;
  try {
    const std::string contents(text);
    if (auto stuck = findStuckParse(contents)) {
      return std::move(*stuck);
    }
    nodes = YAML::LoadAll(contents);
  } catch (const YAML::DeepRecursion& e) {
    return core::Error{"invalid YAML at line " + std::to_string(e.mark.line + 1) + ": nested too deeply"};
  } catch (const YAML::Exception& e) {
    return core::Error{"invalid YAML at line " + std::to_string(e.mark.line + 1) + ", column " +
                       std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
  std::vector<core::Result<nlohmann::json>> documents;
  documents.reserve(nodes.size());
  for (const YAML::Node& node : nodes) {
    documents.push_back(yamlToJson(node));
  }
  return documents;
}

core::Result<std::string> readManifestFile(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (status.type() == std::filesystem::file_type::not_found) {
    return core::Error{"no such file: " + path.string()};
  }
  if (!std::filesystem::is_regular_file(status)) {
    return core::Error{path.string() + ": not a regular file"};
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec && size > kMaxManifestFileBytes) {
    return core::Error{path.string() + ": " + std::to_string(size) + " bytes, larger than the " +
                       std::to_string(kMaxManifestFileBytes) + " a manifest file may have"};
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    return core::Error{"cannot read " + path.string()};
  }
  std::ostringstream contents;
  contents << stream.rdbuf();
  if (stream.bad()) {
    return core::Error{"cannot read " + path.string()};
  }
  return contents.str();
}

}  // namespace kubeai::policy

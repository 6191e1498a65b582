#include "source/policy_directory.h"

#include <algorithm>
#include <set>
#include <system_error>
#include <utility>

#include "policy/policy_parser.h"
#include "policy/yaml_documents.h"

namespace kubeai::source {
namespace {

namespace fs = std::filesystem;

bool isManifest(const fs::path& path) {
  const std::string name = path.filename().string();
  if (name.empty() || name.front() == '.') {
    return false;
  }
  const std::string extension = path.extension().string();
  return extension == ".yaml" || extension == ".yml" || extension == ".json";
}

}  // namespace

std::string PolicyProblem::toString() const {
  std::string text = file.string() + ": ";
  if (!policy.empty()) {
    text += policy + ": ";
  }
  return text + message;
}

PolicyDirectory::PolicyDirectory(std::filesystem::path directory) : directory_(std::move(directory)) {}

void PolicyDirectory::parse(const fs::path& file, FileState& state, const std::string& contents) {
  state.contents = contents;
  state.problems.clear();
  const policy::PolicyFile parsed = policy::parsePolicyYaml(contents);
  if (parsed.error) {
    std::string message = parsed.error->message;
    if (!state.lastGood.empty()) {
      message += "; still serving its last good version";
    }
    state.problems.push_back({file, "", std::move(message)});
    return;
  }
  std::map<std::string, core::Policy> good;
  for (const policy::PolicyDocument& document : parsed.policies) {
    const bool named = !document.policy.metadata.name.empty();
    const std::string key = named ? document.policy.key() : document.displayName();
    if (document.ok()) {
      if (!good.emplace(key, document.policy).second) {
        state.problems.push_back({file, key, "defined twice in this file; the first is used"});
      }
      continue;
    }
    std::string message;
    for (const auto& error : document.errors) {
      message += (message.empty() ? "" : "; ") + error.toString();
    }
    // An invalid edit keeps the version that worked, as the API server would
    // have refused the edit.
    const auto previous = named ? state.lastGood.find(key) : state.lastGood.end();
    if (previous != state.lastGood.end() && good.count(key) == 0) {
      good.emplace(key, previous->second);
      message += "; still serving its last good version";
    }
    state.problems.push_back({file, key, std::move(message)});
  }
  state.lastGood = std::move(good);
}

core::Result<PolicySet> PolicyDirectory::reload() {
  std::error_code ec;
  if (!fs::is_directory(directory_, ec)) {
    return core::Error{"policy directory " + directory_.string() + ": " +
                       (fs::exists(directory_, ec) ? "not a directory" : "not found")};
  }
  std::vector<fs::path> found;
  fs::directory_iterator it(directory_, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code typeError;
    if (isManifest(it->path()) && it->is_regular_file(typeError)) {
      found.push_back(it->path());
    }
  }
  if (ec) {
    return core::Error{"cannot read policy directory " + directory_.string() + ": " + ec.message()};
  }
  std::sort(found.begin(), found.end());

  std::map<fs::path, FileState> next;
  for (const fs::path& file : found) {
    FileState state;
    if (auto existing = files_.find(file); existing != files_.end()) {
      state = std::move(existing->second);
    }
    auto contents = policy::readManifestFile(file);
    if (!contents.ok()) {
      // Vanished or unreadable between the listing and the read: keep what
      // worked and say why.
      state.problems = {{file, "", contents.error().message}};
    } else if (contents.value() != state.contents || state.contents.empty()) {
      parse(file, state, contents.value());
    }
    next.emplace(file, std::move(state));
  }
  files_ = std::move(next);

  PolicySet set;
  std::map<std::string, const fs::path*> owners;
  for (const auto& [file, state] : files_) {
    set.problems.insert(set.problems.end(), state.problems.begin(), state.problems.end());
    for (const auto& [key, policy] : state.lastGood) {
      auto [owner, inserted] = owners.emplace(key, &file);
      if (!inserted) {
        set.problems.push_back({file, key, "already defined in " + owner->second->string() + "; ignored here"});
        continue;
      }
      set.policies.push_back(policy);
    }
  }
  std::sort(set.policies.begin(), set.policies.end(),
            [](const core::Policy& a, const core::Policy& b) { return a.key() < b.key(); });
  return set;
}

}  // namespace kubeai::source

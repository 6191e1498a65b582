#include "source/policy_directory.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <tuple>
#include <system_error>
#include <utility>

#include "policy/policy_parser.h"
#include "policy/yaml_documents.h"

namespace kubeai::source {
namespace {

namespace fs = std::filesystem;

bool keyLess(const core::Policy* a, const core::Policy* b) {
  return std::tie(a->metadata.namespace_, a->metadata.name) < std::tie(b->metadata.namespace_, b->metadata.name);
}

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

void PolicyDirectory::parse(const fs::path& file, FileState& state, const std::string& contents,
                            std::map<std::string, core::Policy>& good) {
  state.problems.clear();
  const policy::PolicyFile parsed = policy::parsePolicyYaml(contents);
  if (parsed.error) {
    std::string message = parsed.error->message;
    if (!state.lastGood.empty()) {
      message += "; still serving its last good version";
    }
    state.problems.push_back({file, "", std::move(message)});
    for (const core::Policy* policy : state.lastGood) {
      good.emplace(policy->key(), *policy);
    }
    return;
  }
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
    const core::Policy* previous = nullptr;
    if (named) {
      const auto found =
          std::lower_bound(state.lastGood.begin(), state.lastGood.end(), &document.policy, keyLess);
      if (found != state.lastGood.end() && !keyLess(&document.policy, *found)) {
        previous = *found;
      }
    }
    if (previous != nullptr && good.count(key) == 0) {
      good.emplace(key, *previous);
      message += "; still serving its last good version";
    }
    state.problems.push_back({file, key, std::move(message)});
  }
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

  // Changed files are parsed into `fresh`; the others keep pointing into
  // current_ (alive until the end) and their shadowed maps.
  std::map<fs::path, FileState> next;
  std::map<fs::path, std::map<std::string, core::Policy>> fresh;
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
    } else {
      const std::size_t hash = std::hash<std::string>{}(contents.value());
      if (!state.parsed || hash != state.contentHash || contents.value().size() != state.contentSize) {
        parse(file, state, contents.value(), fresh[file]);
        state.contentHash = hash;
        state.contentSize = contents.value().size();
        state.parsed = true;
      }
    }
    next.emplace(file, std::move(state));
  }

  PolicySet set;
  auto policies = std::make_shared<std::vector<core::Policy>>();
  std::map<std::string, const fs::path*> owners;
  for (auto& [file, state] : next) {
    set.problems.insert(set.problems.end(), state.problems.begin(), state.problems.end());
    const auto parsed = fresh.find(file);
    std::map<std::string, core::Policy> shadowed;
    // Named apart: clang before 16 cannot capture a structured binding.
    const fs::path& path = file;
    const auto take = [&](const std::string& key, const core::Policy& policy) {
      auto [owner, inserted] = owners.emplace(key, &path);
      if (!inserted) {
        set.problems.push_back({path, key, "already defined in " + owner->second->string() + "; ignored here"});
        shadowed.emplace(key, policy);
      } else {
        policies->push_back(policy);
      }
    };
    if (parsed != fresh.end()) {
      for (const auto& [key, policy] : parsed->second) {
        take(key, policy);
      }
    } else {
      for (const core::Policy* policy : state.lastGood) {
        take(policy->key(), *policy);
      }
    }
    state.shadowed = std::move(shadowed);
    state.lastGood.clear();
  }
  policies->shrink_to_fit();  // held for as long as the set serves: no growth slack
  std::sort(policies->begin(), policies->end(),
            [](const core::Policy& a, const core::Policy& b) { return keyLess(&a, &b); });

  // Every file's lastGood now points into the new set or its own shadowed map.
  for (const core::Policy& policy : *policies) {
    next.at(*owners.at(policy.key())).lastGood.push_back(&policy);
  }
  for (auto& [file, state] : next) {
    if (!state.shadowed.empty()) {
      for (const auto& [key, policy] : state.shadowed) {
        state.lastGood.push_back(&policy);
      }
      std::sort(state.lastGood.begin(), state.lastGood.end(), keyLess);
    }
    state.lastGood.shrink_to_fit();
  }
  files_ = std::move(next);
  current_ = policies;
  set.policies = std::move(policies);
  return set;
}

}  // namespace kubeai::source

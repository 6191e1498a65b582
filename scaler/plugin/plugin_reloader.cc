#include "plugin/plugin_reloader.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <system_error>
#include <utility>

namespace kubeai::plugin {
namespace {

namespace fs = std::filesystem;

std::uint64_t inodeOf(const fs::path& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 ? static_cast<std::uint64_t>(info.st_ino) : 0;
}

}  // namespace

PluginReloader::PluginReloader(core::AlgorithmRegistry& registry, fs::path directory, fs::path scratchDir)
    : registry_(registry), directory_(std::move(directory)), scratchDir_(std::move(scratchDir)) {}

core::Result<std::vector<PluginLoadReport>> PluginReloader::reload() {
  std::error_code ec;
  if (!fs::is_directory(directory_, ec)) {
    return core::Error{"plugin directory not found: " + directory_.string()};
  }
  fs::create_directories(scratchDir_, ec);
  if (ec) {
    return core::Error{"cannot create plugin scratch directory " + scratchDir_.string() + ": " + ec.message()};
  }

  std::vector<fs::path> present;
  for (fs::directory_iterator it(directory_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    std::error_code typeError;
    if (path.extension() == ".so" && path.filename().string().front() != '.' && it->is_regular_file(typeError)) {
      present.push_back(path.filename());
    }
  }
  if (ec) {
    return core::Error{"cannot read plugin directory " + directory_.string() + ": " + ec.message()};
  }
  std::sort(present.begin(), present.end());

  // Files gone: their algorithms go too.
  for (auto it = files_.begin(); it != files_.end();) {
    if (!std::binary_search(present.begin(), present.end(), it->first)) {
      if (!it->second.algorithm.empty()) {
        registry_.remove(it->second.algorithm);
      }
      it = files_.erase(it);
    } else {
      ++it;
    }
  }

  for (const fs::path& name : present) {
    const fs::path file = directory_ / name;
    std::error_code statError;
    Loaded next;
    next.size = fs::file_size(file, statError);
    next.modified = fs::last_write_time(file, statError);
    next.inode = inodeOf(file);
    auto existing = files_.find(name);
    if (existing != files_.end() && existing->second.size == next.size &&
        existing->second.modified == next.modified && existing->second.inode == next.inode) {
      continue;  // unchanged
    }

    // A private copy per version, so dlopen cannot hand back the old one.
    const fs::path copy = scratchDir_ / (name.stem().string() + "-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(++copies_) + ".so");
    std::error_code copyError;
    fs::copy_file(file, copy, fs::copy_options::overwrite_existing, copyError);
    auto loaded = copyError ? core::Result<std::shared_ptr<const core::ScalingAlgorithm>>(core::Error{
                                  "cannot copy plugin " + file.string() + ": " + copyError.message()})
                            : loadPlugin(copy);
    fs::remove(copy, copyError);  // the mapping outlives the name

    const std::string previousName = existing != files_.end() ? existing->second.algorithm : std::string();
    if (!loaded.ok()) {
      // Say it of the file the user put there, not of our copy.
      std::string message = loaded.error().message;
      const std::string copyName = copy.string();
      for (std::size_t at = message.find(copyName); at != std::string::npos; at = message.find(copyName)) {
        message.replace(at, copyName.size(), file.string());
      }
      if (!previousName.empty()) {
        message += "; still serving the previous version";
        next.algorithm = previousName;
        next.instance = existing->second.instance;
      }
      next.error = std::move(message);
      files_[name] = std::move(next);
      continue;
    }

    std::shared_ptr<const core::ScalingAlgorithm> algorithm = std::move(loaded).value();
    const std::string algorithmName(algorithm->name());
    // Another file already provides this name: the first one keeps it.
    const bool takenElsewhere = std::any_of(files_.begin(), files_.end(), [&](const auto& entry) {
      return entry.first != name && entry.second.algorithm == algorithmName;
    });
    if (takenElsewhere || (registry_.isBuiltin(algorithmName))) {
      next.error = "duplicate algorithm name \"" + algorithmName + "\": already provided by " +
                   (takenElsewhere ? std::string("another plugin") : std::string("a built-in algorithm"));
      files_[name] = std::move(next);
      continue;
    }
    if (!previousName.empty() && previousName != algorithmName) {
      registry_.remove(previousName);  // the file now provides another name
    }
    const core::Status registered = registry_.replace(algorithm);
    if (!registered.ok()) {
      next.error = registered.error().message;
      files_[name] = std::move(next);
      continue;
    }
    next.algorithm = algorithmName;
    next.instance = std::move(algorithm);
    files_[name] = std::move(next);
  }

  std::vector<PluginLoadReport> reports;
  for (const auto& [name, loaded] : files_) {
    PluginLoadReport report;
    report.file = directory_ / name;
    report.error = loaded.error;
    if (loaded.error.empty()) {
      report.algorithm = loaded.instance;
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace kubeai::plugin

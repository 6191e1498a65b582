#include "plugin/plugin_reloader.h"

#include <sys/stat.h>

#include <algorithm>
#include <system_error>
#include <utility>

#include "plugin/plugin_image.h"

namespace kubeai::plugin {
namespace {

namespace fs = std::filesystem;

std::int64_t nanoseconds(const struct timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

}  // namespace

PluginReloader::PluginReloader(core::AlgorithmRegistry& registry, fs::path directory, ImageLoader load)
    : registry_(registry), directory_(std::move(directory)), load_(std::move(load)) {}

core::Result<std::vector<PluginLoadReport>> PluginReloader::reload() {
  std::error_code ec;
  if (!fs::is_directory(directory_, ec)) {
    return core::Error{"plugin directory not found: " + directory_.string()};
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
    Loaded next;
    struct stat info {};
    if (::stat(file.c_str(), &info) == 0) {  // follows symlinks: the version is the final file's
      next.fingerprint = Fingerprint{static_cast<std::uint64_t>(info.st_dev), static_cast<std::uint64_t>(info.st_ino),
                                     static_cast<std::int64_t>(info.st_size), nanoseconds(info.st_mtim),
                                     nanoseconds(info.st_ctim)};
    }
    auto existing = files_.find(name);
    if (existing != files_.end() && !existing->second.retry && existing->second.fingerprint == next.fingerprint) {
      continue;  // unchanged
    }

    // A sealed memfd copy per version: no file on disk, and dlopen cannot hand back the old one.
    ImageProblem problem = ImageProblem::kNone;
    auto image = readPluginImage(file, &problem);
    auto loaded = !image.ok() ? core::Result<std::shared_ptr<const core::ScalingAlgorithm>>(image.error())
                  : load_     ? load_(std::move(image).value())
                              : loadPluginImage(image.value());

    const std::string previousName = existing != files_.end() ? existing->second.algorithm : std::string();
    if (!loaded.ok()) {
      std::string message = loaded.error().message;
      if (problem == ImageProblem::kIncomplete) {
        next.waiting = true;
        message = "waiting for " + file.string() + " to be complete: " + message;
      }
      // What may be fixed without touching the file (a directory's mode), or is transient.
      next.retry = problem == ImageProblem::kIncomplete || problem == ImageProblem::kRefused ||
                   problem == ImageProblem::kIo || problem == ImageProblem::kNotFound;
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
    report.waiting = loaded.waiting;
    if (loaded.error.empty()) {
      report.algorithm = loaded.instance;
    }
    reports.push_back(std::move(report));
  }
  return reports;
}

}  // namespace kubeai::plugin

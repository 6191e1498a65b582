#include "plugin/plugin_loader.h"

#include <kubeai/scaler_plugin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include "plugin/plugin_algorithm.h"
#include "plugin/plugin_image.h"

#if defined(__has_include)
#if __has_include(<dlfcn.h>)
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>
#define KUBEAI_HAVE_DLOPEN 1
#endif
#endif

namespace kubeai::plugin {
namespace fs = std::filesystem;

namespace {

#ifndef KUBEAI_HAVE_DLOPEN
constexpr std::string_view kNotSupported = "plugins not supported";
#else

// The v1.0 fields of kubeai_scaling_algorithm end after user_data. A plugin
// declaring less cannot be read; one declaring more (an older host reading a
// newer minor is refused earlier) is read up to the host's own size.
constexpr std::size_t kAlgorithmV10Size = offsetof(kubeai_scaling_algorithm, user_data) + sizeof(void*);
// Longer "names" are most likely an unterminated string.
constexpr std::size_t kMaxNameLength = 253;

std::string versionText(std::uint32_t version) {
  return std::to_string(KUBEAI_SCALER_ABI_MAJOR(version)) + "." + std::to_string(KUBEAI_SCALER_ABI_MINOR(version));
}

core::Error notImplemented(const fs::path& file, std::string_view what) {
  return core::Error{"does not implement ScalingAlgorithm: " + file.string() + ": " + std::string(what)};
}

// dlerror() text without the file name glibc puts in front ("PATH: invalid ELF
// header"), since our message names the file already.
std::string dlerrorText(const std::string& openPath) {
  const char* raw = dlerror();
  std::string_view text = raw == nullptr ? std::string_view("unknown dlopen error") : std::string_view(raw);
  const std::string prefix = openPath + ": ";
  if (text.size() > prefix.size() && text.substr(0, prefix.size()) == prefix) {
    text.remove_prefix(prefix.size());
  }
  return std::string(text);
}

class UniqueFd {
 public:
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&&) = delete;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

 private:
  int fd_;
};

// glibc's dlopen hands back an object already loaded under the same name
// without opening the file. "/proc/self/fd/N" names are reused with descriptor
// numbers, and a library dlclose cannot unload (a C++ plugin with
// STB_GNU_UNIQUE symbols) keeps its name, so a name in use is avoided by
// duplicating the descriptor until its number gives an unused one.
std::string unusedProcPath(int fd, std::vector<UniqueFd>& extra) {
  std::set<std::string> loaded;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* names) {
        if (info->dlpi_name != nullptr) static_cast<std::set<std::string>*>(names)->insert(info->dlpi_name);
        return 0;
      },
      &loaded);
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  // Each duplicate takes a new number (the lowest free one); the set is finite.
  while (loaded.count(path) != 0) {
    const int duplicate = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (duplicate < 0) break;  // dlopen will say what is wrong
    extra.emplace_back(duplicate);
    path = "/proc/self/fd/" + std::to_string(duplicate);
  }
  return path;
}

#endif  // KUBEAI_HAVE_DLOPEN

}  // namespace

core::Result<std::shared_ptr<const core::ScalingAlgorithm>> loadPlugin(const fs::path& file) {
#ifndef KUBEAI_HAVE_DLOPEN
  (void)file;
  return core::Error{std::string(kNotSupported)};
#else
  auto image = readPluginImage(file);
  if (!image.ok()) {
    return image.error();
  }
  // The descriptor closes with `image`: the library stays mapped.
  return loadPluginImage(image.value());
#endif
}

core::Result<std::shared_ptr<const core::ScalingAlgorithm>> loadPluginImage(const PluginImage& image,
                                                                             PluginLogSink log) {
#ifndef KUBEAI_HAVE_DLOPEN
  (void)image;
  (void)log;
  return core::Error{std::string(kNotSupported)};
#else
  const fs::path& file = image.file();
  std::vector<UniqueFd> extraDescriptors;  // closed once dlopen is done
  const std::string openPath = unusedProcPath(image.fd(), extraDescriptors);
  // RTLD_NOW: a missing dependency fails here, not in the middle of a decision.
  // RTLD_LOCAL: one plugin's symbols never resolve another's.
  void* handle = dlopen(openPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    return core::Error{"cannot load plugin " + file.string() + ": " + dlerrorText(openPath)};
  }
  std::shared_ptr<void> library(handle, [](void* h) { dlclose(h); });

  dlerror();  // clear any stale error before dlsym
  const void* symbol = dlsym(handle, KUBEAI_SCALER_ALGORITHM_SYMBOL);
  if (symbol == nullptr) {
    return core::Error{"plugin missing Algorithm symbol: " + file.string()};
  }
  const auto* exported = static_cast<const kubeai_scaling_algorithm*>(symbol);

  // abi_version and struct_size are the two fields every version starts with.
  const std::uint32_t abiVersion = exported->abi_version;
  const std::uint32_t structSize = exported->struct_size;
  if (KUBEAI_SCALER_ABI_MAJOR(abiVersion) != KUBEAI_SCALER_ABI_VERSION_MAJOR ||
      KUBEAI_SCALER_ABI_MINOR(abiVersion) > KUBEAI_SCALER_ABI_VERSION_MINOR) {
    return notImplemented(file, "ABI version " + versionText(abiVersion) + ", host supports " +
                                    versionText(KUBEAI_SCALER_ABI_VERSION));
  }
  if (structSize < kAlgorithmV10Size) {
    return notImplemented(file, "Algorithm struct_size " + std::to_string(structSize) + " is smaller than the " +
                                    std::to_string(kAlgorithmV10Size) + " bytes of ABI 1.0");
  }

  // A zero-filled host copy, read only up to the size the plugin declared:
  // fields the plugin does not know stay zero.
  kubeai_scaling_algorithm algorithm;
  std::memset(&algorithm, 0, sizeof algorithm);
  std::memcpy(&algorithm, exported, std::min<std::size_t>(structSize, sizeof algorithm));

  if (algorithm.compute == nullptr) {
    return notImplemented(file, "compute is NULL");
  }
  if (algorithm.name == nullptr || algorithm.name[0] == '\0') {
    return notImplemented(file, "name is NULL or empty");
  }
  const void* nameEnd = std::memchr(algorithm.name, '\0', kMaxNameLength + 1);
  if (nameEnd == nullptr) {
    return notImplemented(file, "name is longer than " + std::to_string(kMaxNameLength) + " characters");
  }
  std::string name(algorithm.name, static_cast<const char*>(nameEnd));

  return std::shared_ptr<const core::ScalingAlgorithm>(std::make_shared<PluginAlgorithm>(
      std::move(name), file, std::move(library), exported, algorithm.compute, abiVersion, std::move(log)));
#endif
}

core::Result<std::vector<PluginLoadReport>> loadPluginDirectory(const fs::path& directory,
                                                                const PluginImageLoader& loader) {
#ifndef KUBEAI_HAVE_DLOPEN
  (void)directory;
  (void)loader;
  return core::Error{std::string(kNotSupported)};
#else
  std::error_code ec;
  const fs::file_status status = fs::status(directory, ec);
  if (status.type() == fs::file_type::not_found) {
    return core::Error{"plugin directory not found: " + directory.string()};
  }
  if (ec) {
    return core::Error{"cannot read plugin directory " + directory.string() + ": " + ec.message()};
  }
  if (!fs::is_directory(status)) {
    return core::Error{"cannot read plugin directory " + directory.string() + ": not a directory"};
  }

  std::vector<fs::path> files;
  fs::directory_iterator it(directory, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    const std::string fileName = path.filename().string();
    // Hidden files are skipped: editors' and Kubernetes' (..data) scratch entries.
    if (path.extension() != ".so" || fileName.front() == '.') {
      continue;
    }
    // Follows symlinks (ConfigMap mounts are symlinks); a dangling one is
    // reported as "plugin not found", a directory or a device is skipped.
    std::error_code typeError;
    const fs::file_status target = it->status(typeError);
    if (fs::is_regular_file(target) || target.type() == fs::file_type::not_found) {
      files.push_back(path);
    }
  }
  if (ec) {
    return core::Error{"cannot read plugin directory " + directory.string() + ": " + ec.message()};
  }

  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });

  std::vector<PluginLoadReport> reports;
  reports.reserve(files.size());
  for (fs::path& file : files) {
    auto loaded = [&]() -> core::Result<std::shared_ptr<const core::ScalingAlgorithm>> {
      if (!loader) {
        return loadPlugin(file);
      }
      auto image = readPluginImage(file);
      if (!image.ok()) {
        return image.error();
      }
      return loader(std::move(image).value());
    }();
    PluginLoadReport report;
    report.file = std::move(file);
    if (loaded.ok()) {
      report.algorithm = std::move(loaded).value();
    } else {
      report.error = loaded.error().message;
    }
    reports.push_back(std::move(report));
  }
  return reports;
#endif
}

void registerPlugins(core::AlgorithmRegistry& registry, std::vector<PluginLoadReport>& reports) {
  for (PluginLoadReport& report : reports) {
    if (!report.ok()) {
      continue;
    }
    const std::string name(report.algorithm->name());
    if (name.empty()) {
      report.error = "does not implement ScalingAlgorithm: " + report.file.string() + ": name is NULL or empty";
      report.algorithm.reset();
      continue;
    }
    const core::Status added = registry.add(report.algorithm);
    if (added.ok()) {
      continue;
    }
    // Name the plugin that got there first; the registry's own wording covers
    // the built-ins ("... already provided by a built-in algorithm").
    const auto existing = registry.find(name);
    const auto* earlier = dynamic_cast<const PluginAlgorithm*>(existing.get());
    report.error = earlier != nullptr && !registry.isBuiltin(name)
                       ? "duplicate algorithm name \"" + name + "\": already provided by " + earlier->file().string()
                       : added.error().message;
    report.algorithm.reset();
  }
}

}  // namespace kubeai::plugin

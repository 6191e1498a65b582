#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>

namespace kubeai::testing {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<unsigned> counter{0};
    std::random_device random;
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = std::filesystem::temp_directory_path() /
            ("kubeai-test-" + std::to_string(random()) + "-" + std::to_string(now) + "-" +
             std::to_string(counter.fetch_add(1)));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  // Copies a file in under another name (for plugins: copies are distinct
  // files, so the dynamic loader maps each of them separately).
  std::filesystem::path copy(const std::filesystem::path& from, std::string_view name) const {
    const auto to = path_ / name;
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
    return to;
  }

  std::filesystem::path write(std::string_view name, std::string_view content) const {
    const auto to = path_ / name;
    std::ofstream(to, std::ios::binary) << content;
    return to;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace kubeai::testing

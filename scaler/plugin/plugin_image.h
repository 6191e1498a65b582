#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/result.h"

namespace kubeai::plugin {

// A plugin file's bytes, checked and frozen: a sealed memfd (no one can
// shrink, grow or write it, so a mapping of it never SIGBUSes when the file on
// disk is truncated or rewritten in place) that dlopen reads through
// procPath(). Nothing is written under a predictable path. Move-only: owns the
// descriptor and closes it (a library dlopen'd from it stays mapped).
//
// The plugin host takes the descriptor over by number into a child process:
// fd() is a plain descriptor, opened O_CLOEXEC (clear the flag, or dup2 it,
// in the child).
class PluginImage {
 public:
  // Takes ownership of `fd`.
  PluginImage(int fd, std::uint64_t size, std::filesystem::path file) noexcept;
  ~PluginImage();
  PluginImage(PluginImage&& other) noexcept;
  PluginImage& operator=(PluginImage&& other) noexcept;
  PluginImage(const PluginImage&) = delete;
  PluginImage& operator=(const PluginImage&) = delete;

  [[nodiscard]] int fd() const noexcept { return fd_; }
  [[nodiscard]] std::uint64_t size() const noexcept { return size_; }
  // The file as the caller named it (what every message says), not the copy.
  [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
  // "/proc/self/fd/N": the path to dlopen, valid in this process while the image lives.
  [[nodiscard]] std::string procPath() const;
  // Gives the descriptor up: the caller closes it. The image is empty after.
  [[nodiscard]] int release() noexcept;

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::filesystem::path file_;
};

// Why readPluginImage() failed: the reloader waits quietly for kIncomplete.
enum class ImageProblem {
  kNone,
  kNotFound,    // "plugin not found: FILE"
  kRefused,     // owner or mode of the file or its directory
  kIncomplete,  // changed while read, or a cut-off ELF: still being written
  kInvalid,     // not a shared object for this server
  kIo,          // could not be read or copied
};

// Reads `file` into a sealed memfd after checking who may have written it:
//  - the directory as named (file.parent_path(), e.g. /plugins), and, when
//    `file` is a symlink (a ConfigMap's x.so -> ..data/x.so), the directory the
//    final file is in (/plugins/..2024_01_01_00_00_00.1/) and the final file:
//    each must be owned by root or by this process's effective user, and
//    writable by neither group nor others, unless it is on a read-only mount
//    (a ConfigMap or a readOnly emptyDir is 0777 but cannot be written), e.g.
//    "plugin FILE is writable by others (mode 0666): refused";
//  - checked with fstat on the descriptors the bytes are then read from (the
//    final file opened O_NOFOLLOW relative to its opened directory), so a name
//    swapped after the check is not what gets loaded. Directories above the
//    plugin directory are not checked;
//  - the file must be a regular file, the same size and modification time
//    before and after the copy ("plugin FILE is still being written"), and
//    its bytes a complete ELF shared object for this server (checkElf).
// Errors name `file` as given (and the final file when it differs).
// `problem`, when given, says which kind of failure it was.
core::Result<PluginImage> readPluginImage(const std::filesystem::path& file, ImageProblem* problem = nullptr);

}  // namespace kubeai::plugin

#include "plugin/plugin_image.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "plugin/elf_check.h"

namespace kubeai::plugin {
namespace fs = std::filesystem;

namespace {

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3 uapi <linux/memfd.h>; older glibc headers lack it
#endif

// Larger "plugins" are a mistake (a data file named .so), not worth copying.
constexpr std::uint64_t kMaxPluginBytes = 512ULL * 1024 * 1024;

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) noexcept : fd_(fd) {}
  ~UniqueFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

struct Failure {
  ImageProblem problem;
  std::string message;
};

std::string modeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string errnoText(int error) { return std::error_code(error, std::generic_category()).message(); }

// Who may have written what `fd` is: its owner must be root or us, and
// neither group nor others may write it, unless its mount is read-only.
// `what` is "plugin" or "plugin directory", `name` how to call it.
std::optional<Failure> refusal(std::string_view what, const std::string& name, int fd, const struct stat& info) {
  const uid_t us = ::geteuid();
  if (info.st_uid != 0 && info.st_uid != us) {
    return Failure{ImageProblem::kRefused, std::string(what) + " " + name + " is owned by uid " +
                                               std::to_string(info.st_uid) + ", not root or this server's user (uid " +
                                               std::to_string(us) + "): refused"};
  }
  const bool groupWrites = (info.st_mode & S_IWGRP) != 0;
  const bool othersWrite = (info.st_mode & S_IWOTH) != 0;
  if (!groupWrites && !othersWrite) return std::nullopt;
  struct statvfs mount {};
  if (::fstatvfs(fd, &mount) == 0 && (mount.f_flag & ST_RDONLY) != 0) return std::nullopt;
  const std::string_view by = othersWrite ? "others" : "group";  // the wider one
  return Failure{ImageProblem::kRefused, std::string(what) + " " + name + " is writable by " + std::string(by) +
                                             " (mode " + modeText(info.st_mode) + "): refused"};
}

bool sameFile(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

bool sameVersion(const struct stat& a, const struct stat& b) {
  return a.st_size == b.st_size && a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

// Reads until end of file (not trusting st_size: the file may be growing).
std::optional<Failure> readAll(int fd, std::uint64_t expected, std::vector<std::byte>& bytes, const std::string& name) {
  bytes.reserve(static_cast<std::size_t>(std::min(expected, kMaxPluginBytes)));
  std::byte buffer[64 * 1024];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Failure{ImageProblem::kIo, "cannot read plugin " + name + ": " + errnoText(errno)};
    }
    if (got == 0) return std::nullopt;
    if (bytes.size() + static_cast<std::size_t>(got) > kMaxPluginBytes) {
      return Failure{ImageProblem::kInvalid, "plugin " + name + " is larger than " +
                                                 std::to_string(kMaxPluginBytes >> 20) + " MiB: refused"};
    }
    bytes.insert(bytes.end(), buffer, buffer + got);
  }
}

// The bytes in a sealed memfd: from here on nobody, us included, can change them.
core::Result<int> sealedCopy(std::span<const std::byte> bytes, const fs::path& file, const std::string& name) {
  const std::string label = "kubeai-plugin:" + file.filename().string();  // shown in /proc/PID/maps
  constexpr unsigned kFlags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  // Where vm.memfd_noexec makes memfds non-executable by default, ask for exec
  // (kernels before 6.3 do not know the flag: EINVAL, then without it).
  int created = ::memfd_create(label.c_str(), kFlags | MFD_EXEC);
  if (created < 0 && errno == EINVAL) created = ::memfd_create(label.c_str(), kFlags);
  UniqueFd memfd(created);
  if (memfd.get() < 0) return core::Error{"cannot copy plugin " + name + ": memfd_create: " + errnoText(errno)};
  for (std::size_t written = 0; written < bytes.size();) {
    const ssize_t put = ::write(memfd.get(), bytes.data() + written, bytes.size() - written);
    if (put < 0) {
      if (errno == EINTR) continue;
      return core::Error{"cannot copy plugin " + name + ": " + errnoText(errno)};
    }
    written += static_cast<std::size_t>(put);
  }
  if (::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    return core::Error{"cannot seal the copy of plugin " + name + ": " + errnoText(errno)};
  }
  return memfd.release();
}

core::Result<PluginImage> fail(ImageProblem* problem, Failure failure) {
  if (problem != nullptr) *problem = failure.problem;
  return core::Error{std::move(failure.message)};
}

}  // namespace

PluginImage::PluginImage(int fd, std::uint64_t size, fs::path file) noexcept
    : fd_(fd), size_(size), file_(std::move(file)) {}

PluginImage::~PluginImage() {
  if (fd_ >= 0) ::close(fd_);
}

PluginImage::PluginImage(PluginImage&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), size_(std::exchange(other.size_, 0)), file_(std::move(other.file_)) {}

PluginImage& PluginImage::operator=(PluginImage&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = std::exchange(other.size_, 0);
    file_ = std::move(other.file_);
  }
  return *this;
}

std::string PluginImage::procPath() const { return "/proc/self/fd/" + std::to_string(fd_); }

int PluginImage::release() noexcept {
  size_ = 0;
  return std::exchange(fd_, -1);
}

core::Result<PluginImage> readPluginImage(const fs::path& file, ImageProblem* problem) {
  if (problem != nullptr) *problem = ImageProblem::kNone;
  const std::string given = file.string();

  // The final file, every symlink resolved (ConfigMaps: x.so -> ..data/x.so -> ..<timestamp>/x.so).
  std::error_code ec;
  const fs::path resolved = fs::canonical(file, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return fail(problem, {ImageProblem::kNotFound, "plugin not found: " + given});
    }
    return fail(problem, {ImageProblem::kIo, "cannot read plugin " + given + ": " + ec.message()});
  }
  // Both names when a symlink led elsewhere: the refusal may be about the target.
  const bool followed = fs::absolute(file, ec).lexically_normal() != resolved;
  const std::string name = followed ? given + " (" + resolved.string() + ")" : given;

  // The directory as named: who may add, rename or replace plugins there.
  const fs::path namedDirectory = file.has_parent_path() ? file.parent_path() : fs::path(".");
  UniqueFd namedFd(::open(namedDirectory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  struct stat namedInfo {};
  if (namedFd.get() < 0 || ::fstat(namedFd.get(), &namedInfo) != 0) {
    return fail(problem,
                {ImageProblem::kIo, "cannot read plugin directory " + namedDirectory.string() + ": " + errnoText(errno)});
  }
  if (auto refused = refusal("plugin directory", namedDirectory.string(), namedFd.get(), namedInfo)) {
    return fail(problem, std::move(*refused));
  }

  // The directory the final file is in (the same one unless `file` is a symlink).
  const fs::path finalDirectory = resolved.parent_path();
  UniqueFd directoryFd(::open(finalDirectory.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat directoryInfo {};
  if (directoryFd.get() < 0 || ::fstat(directoryFd.get(), &directoryInfo) != 0) {
    return fail(problem,
                {ImageProblem::kIo, "cannot read plugin directory " + finalDirectory.string() + ": " + errnoText(errno)});
  }
  if (!sameFile(namedInfo, directoryInfo)) {
    if (auto refused = refusal("plugin directory", finalDirectory.string(), directoryFd.get(), directoryInfo)) {
      return fail(problem, std::move(*refused));
    }
  }

  // O_NOFOLLOW: a symlink put there since canonical() is refused, not followed.
  // O_NONBLOCK: a FIFO named .so must not hang us before fstat says what it is.
  UniqueFd fileFd(::openat(directoryFd.get(), resolved.filename().c_str(),
                           O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (fileFd.get() < 0) {
    const int error = errno;
    if (error == ENOENT) return fail(problem, {ImageProblem::kNotFound, "plugin not found: " + given});
    return fail(problem, {ImageProblem::kIo, "cannot read plugin " + name + ": " + errnoText(error)});
  }
  struct stat before {};
  if (::fstat(fileFd.get(), &before) != 0) {
    return fail(problem, {ImageProblem::kIo, "cannot read plugin " + name + ": " + errnoText(errno)});
  }
  if (!S_ISREG(before.st_mode)) {
    return fail(problem, {ImageProblem::kInvalid, "cannot load plugin " + name + ": not a regular file"});
  }
  if (auto refused = refusal("plugin", name, fileFd.get(), before)) return fail(problem, std::move(*refused));

  std::vector<std::byte> bytes;
  if (auto failed = readAll(fileFd.get(), static_cast<std::uint64_t>(before.st_size), bytes, name)) {
    return fail(problem, std::move(*failed));
  }
  struct stat after {};
  if (::fstat(fileFd.get(), &after) != 0) {
    return fail(problem, {ImageProblem::kIo, "cannot read plugin " + name + ": " + errnoText(errno)});
  }
  if (!sameVersion(before, after) || static_cast<std::uint64_t>(after.st_size) != bytes.size()) {
    return fail(problem, {ImageProblem::kIncomplete, "plugin " + name + " is still being written"});
  }

  const ElfVerdict verdict = inspectElf(bytes);
  if (!verdict.ok()) {
    const ImageProblem kind = verdict.problem == ElfProblem::kTruncated ? ImageProblem::kIncomplete
                                                                          : ImageProblem::kInvalid;
    return fail(problem, {kind, "cannot load plugin " + name + ": " + verdict.message});
  }

  auto memfd = sealedCopy(bytes, file, name);
  if (!memfd.ok()) return fail(problem, {ImageProblem::kIo, memfd.error().message});
  return PluginImage(memfd.value(), bytes.size(), file);
}

}  // namespace kubeai::plugin

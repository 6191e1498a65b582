#include "watch/file_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

namespace kubeai::watch {
namespace {

// Everything that changes a directory's entries or a file in it, and the
// directory itself going away. IN_ONLYDIR: we only ever watch directories.
constexpr std::uint32_t kDirectoryEvents = IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
                                           IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR;
// The watch is gone or no longer watches the path: watch the path again.
constexpr std::uint32_t kDirectoryGone = IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT | IN_IGNORED;

// The name Kubernetes swaps atomically when a mounted ConfigMap or Secret changes.
constexpr std::string_view kAtomicWriterData = "..data";

// Whether an event leaves `name` in `directory` complete (completeWritesOnly).
// A regular file just created with one link is being written: its
// IN_CLOSE_WRITE follows. Anything else created (a symlink, a hard link to an
// existing file, a directory) gets no close-write, so it counts now.
bool completesAWrite(std::uint32_t mask, const std::filesystem::path& directory, std::string_view name) {
  constexpr std::uint32_t kComplete = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB;
  if ((mask & kComplete) != 0) return true;
  if ((mask & IN_CREATE) == 0) return false;  // IN_MODIFY: a write in progress
  struct stat info {};
  const std::filesystem::path entry = directory / std::string(name);
  if (::lstat(entry.c_str(), &info) != 0) return true;  // gone already: a change all the same
  return !(S_ISREG(info.st_mode) && info.st_nlink == 1);
}

std::string describeAddError(const std::filesystem::path& directory, int error) {
  std::string message = "cannot watch " + directory.string() + ": " + std::strerror(error);
  if (error == ENOSPC) message += " (inotify watch limit reached: raise fs.inotify.max_user_watches)";
  return message;
}

}  // namespace

struct FileWatcher::Watch {
  WatchId id = 0;
  std::filesystem::path path;
  std::filesystem::path directory;  // what inotify watches: the path itself or its parent
  std::string name;                 // the file's name in `directory`; empty when watching a directory
  bool completeWritesOnly = false;
  std::shared_ptr<const Callback> callback;

  int descriptor = -1;  // -1: not watched now; retried at retryAt
  Clock::time_point retryAt{};
  std::string lastError;  // reported once until it changes

  // A burst of events in progress: the callback is due at quiet or max delay.
  std::optional<Clock::time_point> firstEventAt;
  Clock::time_point lastEventAt{};

  [[nodiscard]] bool watchesDirectory() const noexcept { return name.empty(); }
};

FileWatcher::FileWatcher() : FileWatcher(Options{}) {}

FileWatcher::FileWatcher(Options options) : options_(std::move(options)) {
  inotifyFd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotifyFd_ < 0) {
    const int error = errno;
    throw std::system_error(error, std::generic_category(),
                            error == EMFILE ? "cannot start the file watcher: inotify instance limit reached "
                                              "(raise fs.inotify.max_user_instances)"
                                            : "cannot start the file watcher: inotify_init1");
  }
  wakeFd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) {
    const int error = errno;
    close(inotifyFd_);
    throw std::system_error(error, std::generic_category(), "cannot start the file watcher: eventfd");
  }
  thread_ = std::thread([this] { run(); });
}

FileWatcher::~FileWatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  close(wakeFd_);
  close(inotifyFd_);  // removes every kernel watch with it
}

FileWatcher::WatchId FileWatcher::watch(std::filesystem::path path, Callback onChange) {
  return watch(std::move(path), std::move(onChange), WatchOptions{});
}

FileWatcher::WatchId FileWatcher::watch(std::filesystem::path path, Callback onChange, WatchOptions watchOptions) {
  std::error_code ignored;
  path = std::filesystem::absolute(path, ignored).lexically_normal();
  if (!path.has_filename() && path.has_parent_path() && path != path.root_path()) path = path.parent_path();

  auto watch = std::make_unique<Watch>();
  watch->path = path;
  if (std::filesystem::is_directory(path, ignored) || path == path.root_path()) {
    watch->directory = path;
  } else {
    watch->directory = path.parent_path();
    watch->name = path.filename().string();
  }
  watch->callback = std::make_shared<const Callback>(std::move(onChange));
  watch->completeWritesOnly = watchOptions.completeWritesOnly;

  std::vector<std::string> errors;
  WatchId id = 0;
  {
    std::lock_guard lock(mutex_);
    id = nextId_++;
    watch->id = id;
    if (!addWatch(*watch, errors)) {
      // Missing or refused: retried by the thread; the first success fires the callback.
      watch->retryAt = Clock::now() + options_.retryInterval;
    }
    watches_.emplace(id, std::move(watch));
  }
  wake();  // the thread's poll timeout may now be shorter
  report(errors);
  return id;
}

void FileWatcher::unwatch(WatchId id) {
  std::unique_lock lock(mutex_);
  const auto found = watches_.find(id);
  if (found == watches_.end()) return;
  if (found->second->descriptor >= 0) releaseDescriptor(found->second->descriptor, id, true);
  watches_.erase(found);
  if (std::this_thread::get_id() != thread_.get_id()) {
    callbackDone_.wait(lock, [&] { return runningCallback_ != id; });
  }
}

bool FileWatcher::addWatch(Watch& watch, std::vector<std::string>& errors) {
  const int descriptor = inotify_add_watch(inotifyFd_, watch.directory.c_str(), kDirectoryEvents);
  if (descriptor < 0) {
    const int error = errno;
    // A directory that does not exist (yet, or for a moment while it is
    // replaced) is waited for, not an error.
    if (error != ENOENT && error != ENOTDIR) {
      std::string message = describeAddError(watch.directory, error);
      if (message != watch.lastError) errors.push_back(message);
      watch.lastError = std::move(message);
    }
    return false;
  }
  watch.descriptor = descriptor;
  watch.lastError.clear();
  auto& ids = watchesByDescriptor_[descriptor];
  if (std::find(ids.begin(), ids.end(), watch.id) == ids.end()) ids.push_back(watch.id);
  return true;
}

// Forgets that `id` uses `descriptor`; the kernel watch goes when nothing uses it.
void FileWatcher::releaseDescriptor(int descriptor, WatchId id, bool removeFromKernel) {
  const auto found = watchesByDescriptor_.find(descriptor);
  if (found == watchesByDescriptor_.end()) return;
  auto& ids = found->second;
  ids.erase(std::remove(ids.begin(), ids.end(), id), ids.end());
  if (!ids.empty()) return;
  watchesByDescriptor_.erase(found);
  if (removeFromKernel) inotify_rm_watch(inotifyFd_, descriptor);
}

void FileWatcher::markChanged(Watch& watch, Clock::time_point now) {
  if (!watch.firstEventAt) watch.firstEventAt = now;
  watch.lastEventAt = now;
}

void FileWatcher::markMissing(Watch& watch, Clock::time_point now) {
  watch.descriptor = -1;
  watch.retryAt = now;  // at once: the directory may already be back (a rename over it)
  markChanged(watch, now);
}

void FileWatcher::readEvents(std::vector<std::string>& errors) {
  alignas(inotify_event) std::array<char, 64 * 1024> buffer;  // filled by read()
  for (;;) {
    const ssize_t length = read(inotifyFd_, buffer.data(), buffer.size());
    if (length < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) errors.push_back(std::string("reading inotify events: ") + std::strerror(errno));
      return;
    }
    if (length == 0) return;

    const Clock::time_point now = Clock::now();
    std::lock_guard lock(mutex_);
    for (std::size_t offset = 0; offset + sizeof(inotify_event) <= static_cast<std::size_t>(length);) {
      inotify_event event{};
      std::memcpy(&event, buffer.data() + offset, sizeof event);
      const char* nameStart = buffer.data() + offset + sizeof event;
      const std::string_view name(nameStart, strnlen(nameStart, event.len));  // NUL-padded
      offset += sizeof event + event.len;

      if ((event.mask & IN_Q_OVERFLOW) != 0) {  // events were lost: everything may have changed
        for (auto& [id, watch] : watches_) markChanged(*watch, now);
        continue;
      }
      const auto users = watchesByDescriptor_.find(event.wd);
      if (users == watchesByDescriptor_.end()) continue;  // a watch already released
      const std::vector<WatchId> ids = users->second;

      if ((event.mask & kDirectoryGone) != 0) {
        // After a move the kernel watch follows the directory elsewhere: drop it.
        const bool stillInKernel = (event.mask & (IN_IGNORED | IN_DELETE_SELF | IN_UNMOUNT)) == 0;
        for (WatchId id : ids) {
          releaseDescriptor(event.wd, id, stillInKernel);
          markMissing(*watches_.at(id), now);
        }
        continue;
      }
      for (WatchId id : ids) {
        Watch& watch = *watches_.at(id);
        if (!watch.watchesDirectory() && name != watch.name && name != kAtomicWriterData) continue;
        if (watch.completeWritesOnly && !completesAWrite(event.mask, watch.directory, name)) continue;
        markChanged(watch, now);
      }
    }
  }
}

int FileWatcher::pollTimeoutMs(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  const auto consider = [&](Clock::time_point at) {
    if (!next || at < *next) next = at;
  };
  for (const auto& [id, watch] : watches_) {
    if (watch->firstEventAt) {
      consider(std::min(watch->lastEventAt + options_.quietPeriod, *watch->firstEventAt + options_.maxDelay));
    }
    if (watch->descriptor < 0) consider(watch->retryAt);
  }
  if (!next) return -1;
  if (*next <= now) return 0;
  // Rounded up: waking a little early would only spin until the deadline.
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::min<decltype(wait)>(wait, std::numeric_limits<int>::max()));
}

void FileWatcher::run() {
  for (;;) {
    int timeoutMs = 0;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      timeoutMs = pollTimeoutMs(Clock::now());
    }
    std::array<pollfd, 2> descriptors{{{inotifyFd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}}};
    const int ready = poll(descriptors.data(), descriptors.size(), timeoutMs);
    std::vector<std::string> errors;
    if (ready < 0 && errno != EINTR) {
      errors.push_back(std::string("waiting for inotify events: ") + std::strerror(errno));
    }
    if (ready > 0 && (descriptors[1].revents & POLLIN) != 0) {
      std::uint64_t wakeups = 0;
      [[maybe_unused]] const ssize_t drained = read(wakeFd_, &wakeups, sizeof wakeups);
    }
    if (ready > 0 && (descriptors[0].revents & POLLIN) != 0) readEvents(errors);

    // Watches to re-add, then callbacks that are due.
    std::vector<std::pair<WatchId, std::shared_ptr<const Callback>>> due;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      const Clock::time_point now = Clock::now();
      for (auto& [id, watch] : watches_) {
        if (watch->descriptor >= 0 || watch->retryAt > now) continue;
        if (addWatch(*watch, errors)) {
          markChanged(*watch, now);  // it is back: what is there now may differ from before
        } else {
          watch->retryAt = now + options_.retryInterval;
        }
      }
      for (auto& [id, watch] : watches_) {
        if (!watch->firstEventAt) continue;
        const Clock::time_point dueAt =
            std::min(watch->lastEventAt + options_.quietPeriod, *watch->firstEventAt + options_.maxDelay);
        if (dueAt > now) continue;
        watch->firstEventAt.reset();
        due.emplace_back(id, watch->callback);
      }
    }
    report(errors);

    for (auto& [id, callback] : due) {
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        if (watches_.find(id) == watches_.end()) continue;  // unwatched meanwhile
        runningCallback_ = id;
      }
      std::string failure;
      try {
        if (*callback) (*callback)();
      } catch (const std::exception& error) {
        failure = "callback for a watched path threw: " + std::string(error.what());
      } catch (...) {
        failure = "callback for a watched path threw";
      }
      {
        std::lock_guard lock(mutex_);
        runningCallback_ = 0;
      }
      callbackDone_.notify_all();
      if (!failure.empty()) report({failure});
    }
  }
}

void FileWatcher::wake() const {
  const std::uint64_t one = 1;
  [[maybe_unused]] const ssize_t written = write(wakeFd_, &one, sizeof one);  // EAGAIN: already pending
}

void FileWatcher::report(const std::vector<std::string>& errors) const {
  if (!options_.onError) return;
  for (const std::string& error : errors) {
    try {
      options_.onError(error);
    } catch (...) {  // a reporter that throws must not stop the watcher
    }
  }
}

}  // namespace kubeai::watch

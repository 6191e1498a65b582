#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

namespace kubeai::watch {

// Tells its owner that a watched file or directory changed, so it can reload
// (policy directory, metrics file, plugin directory, TLS certificates).
//
// Linux inotify, one background thread. Each path gets a callback that runs on
// that thread, once per burst of changes: events are coalesced until the path
// has been quiet for `quietPeriod` (but never longer than `maxDelay` after the
// first event, so a file rewritten without pause still reloads). The callback
// only learns "something changed": it re-reads what it needs. It must not block
// for long, as it delays every other watch.
//
// What is watched, decided when watch() is called:
//  - a directory: its entries being created, deleted, written, renamed in or
//    out, or changing attributes; not the contents of subdirectories. A mounted
//    ConfigMap or Secret updates by renaming a new hidden `..data` symlink over
//    the old one inside the directory, which is such an event.
//  - anything else (a file, or a path that does not exist yet): its name in its
//    parent directory, because editors, `kubectl cp` and cert-manager replace a
//    file by renaming a new one over it, which a watch on the file itself would
//    not survive. A `..data` swap in the same directory counts too: a file
//    mounted from a ConfigMap is a symlink through `..data`.
// With WatchOptions::completeWritesOnly, only changes that leave complete
// files count: a file closed after writing (IN_CLOSE_WRITE), renamed in or out,
// deleted, or its attributes changed, and an entry created that is not a new
// file being written (a symlink, a hard link, a directory); not every write
// (IN_MODIFY) of a file still being copied in place.
// When the watched directory (or a file's parent) is deleted or moved away,
// the callback fires and the watcher tries to watch the path again every
// `retryInterval`; when it is back the callback fires again.
//
// Problems (the inotify watch limit, no permission) never throw after
// construction: they go to `onError`, once per distinct message, and the watch
// keeps retrying. A path that does not exist is not an error: it is waited for.
class FileWatcher {
 public:
  using WatchId = std::uint64_t;
  using Callback = std::function<void()>;

  struct Options {
    std::chrono::milliseconds quietPeriod{100};
    std::chrono::milliseconds maxDelay{500};
    std::chrono::milliseconds retryInterval{250};
    // Called on the calling thread of watch() or on the watcher thread; must be thread-safe.
    std::function<void(std::string_view message)> onError;
  };

  // Per watch; the defaults are the behaviour described above.
  struct WatchOptions {
    // For directories of files written in place (plugins): see the class comment.
    bool completeWritesOnly = false;
  };

  FileWatcher();
  // Throws std::system_error when inotify cannot be set up (e.g. the
  // fs.inotify.max_user_instances limit), naming the limit to raise.
  explicit FileWatcher(Options options);
  // Stops and joins the thread; a callback that is running finishes first.
  // Must not be called from a callback.
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // Starts watching `path` (relative paths are made absolute now). Thread-safe.
  WatchId watch(std::filesystem::path path, Callback onChange);
  WatchId watch(std::filesystem::path path, Callback onChange, WatchOptions watchOptions);

  // Stops a watch. When it returns, the callback is not running (unless called
  // from that callback itself) and will not be called again. Unknown ids are ignored.
  void unwatch(WatchId id);

 private:
  using Clock = std::chrono::steady_clock;
  struct Watch;

  void run();
  void readEvents(std::vector<std::string>& errors);
  void markChanged(Watch& watch, Clock::time_point now);
  void markMissing(Watch& watch, Clock::time_point now);
  bool addWatch(Watch& watch, std::vector<std::string>& errors);
  void releaseDescriptor(int descriptor, WatchId id, bool removeFromKernel);
  [[nodiscard]] int pollTimeoutMs(Clock::time_point now) const;
  void wake() const;
  void report(const std::vector<std::string>& errors) const;

  Options options_;
  int inotifyFd_ = -1;
  int wakeFd_ = -1;

  mutable std::mutex mutex_;
  std::condition_variable callbackDone_;
  std::map<WatchId, std::unique_ptr<Watch>> watches_;
  std::unordered_map<int, std::vector<WatchId>> watchesByDescriptor_;  // inotify shares one per directory
  WatchId nextId_ = 1;
  WatchId runningCallback_ = 0;  // 0: none
  bool stopping_ = false;

  std::thread thread_;  // last: started once everything above exists
};

}  // namespace kubeai::watch

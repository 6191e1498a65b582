#include "watch/file_watcher.h"

#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace kubeai::watch {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The promise: a change takes effect within one second.
constexpr auto kWithinOneSecond = 1s;

// Counts callbacks and lets the test wait for them with a deadline.
class Calls {
 public:
  FileWatcher::Callback callback() {
    return [this] {
      std::lock_guard lock(mutex_);
      ++count_;
      changed_.notify_all();
    };
  }

  // True when at least `atLeast` calls happened before the deadline.
  bool waitFor(int atLeast, std::chrono::milliseconds timeout = kWithinOneSecond) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return count_ >= atLeast; });
  }

  // Waits until no call has come for `quiet`, then returns the count.
  int settle(std::chrono::milliseconds quiet) {
    std::unique_lock lock(mutex_);
    for (int seen = count_;; seen = count_) {
      if (!changed_.wait_for(lock, quiet, [&] { return count_ != seen; })) return count_;
    }
  }

  int count() {
    std::lock_guard lock(mutex_);
    return count_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
};

void writeFile(const fs::path& path, const std::string& content) { std::ofstream(path, std::ios::binary) << content; }

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST_CASE("a watched file: written, replaced by a rename, deleted, created again") {
  testing::TempDir dir;
  const fs::path file = dir.write("metrics.yaml", "a: 1\n");
  Calls calls;  // before the watcher, which may call it until destroyed
  FileWatcher watcher;
  watcher.watch(file, calls.callback());

  int expected = 0;
  struct Row {
    const char* change;
    void (*apply)(const fs::path&);
  };
  for (const Row& row : {
           Row{"written in place", [](const fs::path& f) { writeFile(f, "a: 2\n"); }},
           Row{"appended to", [](const fs::path& f) { std::ofstream(f, std::ios::app) << "b: 1\n"; }},
           Row{"replaced by a rename",  // as editors, kubectl cp and cert-manager do
               [](const fs::path& f) {
                 writeFile(f.parent_path() / ".metrics.yaml.tmp", "a: 3\n");
                 fs::rename(f.parent_path() / ".metrics.yaml.tmp", f);
               }},
           Row{"deleted", [](const fs::path& f) { fs::remove(f); }},
           Row{"created again", [](const fs::path& f) { writeFile(f, "a: 4\n"); }},
           Row{"renamed away", [](const fs::path& f) { fs::rename(f, f.parent_path() / "old.yaml"); }},
           Row{"renamed back", [](const fs::path& f) { fs::rename(f.parent_path() / "old.yaml", f); }},
       }) {
    CAPTURE(row.change);
    row.apply(file);
    CHECK(calls.waitFor(expected + 1));
    expected = calls.settle(150ms);  // count on from after this change's calls
  }
}

TEST_CASE("a watched file is not woken by its neighbours") {
  testing::TempDir dir;
  const fs::path file = dir.write("metrics.yaml", "a: 1\n");
  Calls fileCalls;
  Calls directoryCalls;
  FileWatcher watcher;
  // Watched first: for the same events its callback runs before the directory's.
  watcher.watch(file, fileCalls.callback());
  watcher.watch(dir.path(), directoryCalls.callback());

  writeFile(dir.path() / "other.yaml", "b: 1\n");
  REQUIRE(directoryCalls.waitFor(1));
  CHECK(fileCalls.count() == 0);
}

TEST_CASE("a watched directory: each kind of entry change is noticed within a second") {
  testing::TempDir dir;
  const fs::path policies = dir.path() / "policies";
  fs::create_directory(policies);
  writeFile(policies / "a.yaml", "kind: A\n");
  Calls calls;
  FileWatcher watcher;
  watcher.watch(policies, calls.callback());

  int expected = 0;
  struct Row {
    const char* change;
    void (*apply)(const fs::path&);
  };
  for (const Row& row : {
           Row{"create", [](const fs::path& d) { writeFile(d / "b.yaml", "kind: B\n"); }},
           Row{"modify", [](const fs::path& d) { std::ofstream(d / "a.yaml", std::ios::app) << "x: 1\n"; }},
           Row{"rename within", [](const fs::path& d) { fs::rename(d / "b.yaml", d / "c.yaml"); }},
           Row{"move out", [](const fs::path& d) { fs::rename(d / "c.yaml", d.parent_path() / "c.yaml"); }},
           Row{"move in", [](const fs::path& d) { fs::rename(d.parent_path() / "c.yaml", d / "c.yaml"); }},
           Row{"attributes", [](const fs::path& d) { fs::permissions(d / "c.yaml", fs::perms::owner_read); }},
           Row{"delete", [](const fs::path& d) { fs::remove(d / "a.yaml"); }},
           Row{"subdirectory created", [](const fs::path& d) { fs::create_directory(d / "sub"); }},
       }) {
    CAPTURE(row.change);
    row.apply(policies);
    CHECK(calls.waitFor(expected + 1));
    expected = calls.settle(150ms);  // count on from after this change's calls
  }
}

TEST_CASE("a burst of writes is coalesced into a few calls") {
  testing::TempDir dir;
  const fs::path file = dir.write("metrics.yaml", "");
  Calls calls;
  Calls directoryCalls;
  FileWatcher watcher;
  watcher.watch(file, calls.callback());
  watcher.watch(dir.path(), directoryCalls.callback());

  for (int i = 0; i < 50; ++i) writeFile(file, "a: " + std::to_string(i) + "\n");
  REQUIRE(calls.waitFor(1));
  const int fileCount = calls.settle(400ms);
  CHECK(fileCount >= 1);
  CHECK(fileCount <= 3);
  CHECK(directoryCalls.settle(100ms) <= 3);
}

TEST_CASE("a ConfigMap update (the ..data symlink swapped) is noticed for the directory and for its files") {
  // The layout the kubelet's atomic writer makes, and its update sequence.
  testing::TempDir dir;
  const fs::path mount = dir.path() / "config";
  fs::create_directories(mount / "..2024_01_01_00_00_00.1");
  writeFile(mount / "..2024_01_01_00_00_00.1" / "metrics.yaml", "version: 1\n");
  fs::create_directory_symlink("..2024_01_01_00_00_00.1", mount / "..data");
  fs::create_symlink("..data/metrics.yaml", mount / "metrics.yaml");
  REQUIRE(readFile(mount / "metrics.yaml") == "version: 1\n");

  std::mutex mutex;
  std::string seenByCallback;
  Calls fileCalls;
  Calls directoryCalls;
  FileWatcher watcher;
  watcher.watch(mount / "metrics.yaml", [&, count = fileCalls.callback()] {
    {
      std::lock_guard lock(mutex);
      seenByCallback = readFile(mount / "metrics.yaml");
    }
    count();
  });
  watcher.watch(mount, directoryCalls.callback());

  fs::create_directories(mount / "..2024_01_01_00_01_00.2");
  writeFile(mount / "..2024_01_01_00_01_00.2" / "metrics.yaml", "version: 2\n");
  fs::create_directory_symlink("..2024_01_01_00_01_00.2", mount / "..data_tmp");
  fs::rename(mount / "..data_tmp", mount / "..data");  // the atomic swap
  fs::remove_all(mount / "..2024_01_01_00_00_00.1");

  REQUIRE(fileCalls.waitFor(1));
  CHECK(directoryCalls.waitFor(1));
  fileCalls.settle(150ms);
  std::lock_guard lock(mutex);
  CHECK(seenByCallback == "version: 2\n");
}

TEST_CASE("a watched directory that is deleted and created again is watched again") {
  testing::TempDir dir;
  const fs::path policies = dir.path() / "policies";
  fs::create_directory(policies);
  Calls calls;
  FileWatcher watcher;
  watcher.watch(policies, calls.callback());

  fs::remove_all(policies);
  REQUIRE(calls.waitFor(1));  // gone: its policies are gone too
  int count = calls.settle(100ms);

  fs::create_directory(policies);
  writeFile(policies / "a.yaml", "kind: A\n");
  REQUIRE(calls.waitFor(count + 1));  // back
  count = calls.settle(300ms);

  writeFile(policies / "b.yaml", "kind: B\n");  // and watched as before
  CHECK(calls.waitFor(count + 1));
}

TEST_CASE("paths that do not exist yet are waited for") {
  testing::TempDir dir;
  Calls fileCalls;
  Calls relativeCalls;
  FileWatcher watcher;
  watcher.watch(dir.path() / "later" / "metrics.yaml", fileCalls.callback());
  const fs::path previous = fs::current_path();
  fs::current_path(dir.path());
  watcher.watch("relative.yaml", relativeCalls.callback());  // made absolute now, not when it fires
  fs::current_path(previous);

  fs::create_directory(dir.path() / "later");
  writeFile(dir.path() / "later" / "metrics.yaml", "a: 1\n");
  CHECK(fileCalls.waitFor(1));
  writeFile(dir.path() / "relative.yaml", "a: 1\n");
  CHECK(relativeCalls.waitFor(1));
}

TEST_CASE("after unwatch the callback is not called again") {
  testing::TempDir dir;
  const fs::path file = dir.write("metrics.yaml", "");
  Calls unwatched;
  Calls witness;
  FileWatcher watcher;
  const FileWatcher::WatchId id = watcher.watch(file, unwatched.callback());
  watcher.unwatch(id);
  watcher.unwatch(id);      // twice is harmless
  watcher.unwatch(123456);  // as is an unknown id
  watcher.watch(file, witness.callback());  // shares the directory's inotify watch

  writeFile(file, "a: 1\n");
  REQUIRE(witness.waitFor(1));
  CHECK(unwatched.count() == 0);
}

TEST_CASE("a callback that throws is reported and the watcher carries on") {
  testing::TempDir dir;
  const fs::path file = dir.write("metrics.yaml", "");
  std::mutex mutex;
  std::vector<std::string> errors;
  FileWatcher::Options options;
  options.onError = [&](std::string_view message) {
    std::lock_guard lock(mutex);
    errors.emplace_back(message);
  };
  Calls calls;
  FileWatcher watcher(options);
  watcher.watch(file, [count = calls.callback()] {
    count();
    throw std::runtime_error("cannot parse");
  });

  writeFile(file, "a: 1\n");
  REQUIRE(calls.waitFor(1));
  calls.settle(150ms);
  writeFile(file, "a: 2\n");
  CHECK(calls.waitFor(2));
  std::lock_guard lock(mutex);
  REQUIRE_FALSE(errors.empty());
  CHECK(errors.front().find("cannot parse") != std::string::npos);
}

TEST_CASE("completeWritesOnly: a file copied in place counts once closed, not at each write") {
  testing::TempDir dir;
  const fs::path plugins = dir.path() / "plugins";
  fs::create_directory(plugins);
  writeFile(plugins / "a.so", "version 1");
  Calls complete;
  Calls every;
  FileWatcher watcher;
  // Watched first: for the same events its callback would run before the other's.
  watcher.watch(plugins, complete.callback(), {.completeWritesOnly = true});
  watcher.watch(plugins, every.callback());

  // A new file half written and flushed, still open (a slow cp): created and
  // modified, which the other watch sees and this one does not.
  std::ofstream newFile(plugins / "b.so", std::ios::binary);
  newFile << std::string(4096, 'x');
  newFile.flush();
  REQUIRE(every.waitFor(1));
  CHECK(complete.count() == 0);
  // An existing file truncated and rewritten in place, still open.
  int seen = every.settle(150ms);
  std::ofstream rewritten(plugins / "a.so", std::ios::binary | std::ios::trunc);
  rewritten << std::string(4096, 'y');
  rewritten.flush();
  REQUIRE(every.waitFor(seen + 1));
  CHECK(complete.count() == 0);

  newFile.close();  // IN_CLOSE_WRITE
  REQUIRE(complete.waitFor(1));
  int expected = complete.settle(150ms);
  rewritten.close();
  REQUIRE(complete.waitFor(expected + 1));
  expected = complete.settle(150ms);

  struct Row {
    const char* change;
    void (*apply)(const fs::path&);
  };
  for (const Row& row : {
           Row{"renamed in", [](const fs::path& d) {
                 writeFile(d.parent_path() / "c.so", "c");
                 fs::rename(d.parent_path() / "c.so", d / "c.so");
               }},
           Row{"renamed out", [](const fs::path& d) { fs::rename(d / "c.so", d.parent_path() / "c.so"); }},
           Row{"deleted", [](const fs::path& d) { fs::remove(d / "b.so"); }},
           Row{"symlink created", [](const fs::path& d) { fs::create_symlink("a.so", d / "link.so"); }},
           Row{"hard link created", [](const fs::path& d) { fs::create_hard_link(d / "a.so", d / "hard.so"); }},
           Row{"mode changed", [](const fs::path& d) { fs::permissions(d / "a.so", fs::perms::owner_read); }},
       }) {
    CAPTURE(row.change);
    row.apply(plugins);
    CHECK(complete.waitFor(expected + 1));
    expected = complete.settle(150ms);
  }
}

TEST_CASE("the destructor returns promptly, also with changes pending") {
  testing::TempDir dir;
  const fs::path file = dir.write("metrics.yaml", "");
  const auto start = std::chrono::steady_clock::now();
  {
    FileWatcher::Options slow;
    slow.quietPeriod = 10s;  // a callback that would only fire long after the test
    slow.maxDelay = 10s;
    Calls calls;
    FileWatcher watcher(slow);
    watcher.watch(file, calls.callback());
    watcher.watch(dir.path() / "missing" / "x", calls.callback());  // retrying
    writeFile(file, "a: 1\n");
  }
  CHECK(std::chrono::steady_clock::now() - start < 500ms);
}

}  // namespace
}  // namespace kubeai::watch

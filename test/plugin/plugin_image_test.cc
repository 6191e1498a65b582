#include "plugin/plugin_image.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "plugin/plugin_loader.h"
#include "plugin_test_util.h"

namespace kubeai::plugin {
namespace {

namespace fs = std::filesystem;
using testing::InputBuilder;
using testing::TempDir;

constexpr uid_t kNobody = 65534;

std::string readAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A plugin directory as an operator makes one: 0755, the plugin 0644.
struct PluginDir {
  TempDir temp;
  fs::path dir = temp.path() / "plugins";

  PluginDir() {
    fs::create_directory(dir);
    ::chmod(dir.c_str(), 0755);
  }
  fs::path add(const fs::path& from, const std::string& name, mode_t mode = 0644) const {
    const fs::path to = dir / name;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing);
    ::chmod(to.c_str(), mode);
    return to;
  }
};

std::string errorOf(const fs::path& file, ImageProblem* problem = nullptr) {
  auto image = readPluginImage(file, problem);
  REQUIRE_FALSE(image.ok());
  return image.error().message;
}

TEST_CASE("readPluginImage: a sealed memfd copy with the file's bytes") {
  PluginDir plugins;
  const fs::path file = plugins.add(STEP_SCALE_SO, "step.so");
  ImageProblem problem = ImageProblem::kIo;
  auto image = readPluginImage(file, &problem);
  REQUIRE(image.ok());
  CHECK(problem == ImageProblem::kNone);
  CHECK(image.value().file() == file);
  CHECK(image.value().size() == fs::file_size(file));
  CHECK(image.value().procPath() == "/proc/self/fd/" + std::to_string(image.value().fd()));
  CHECK(readAll(image.value().procPath()) == readAll(file));
  // Sealed against every change, including by us.
  CHECK(::fcntl(image.value().fd(), F_GET_SEALS) == (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL));
  CHECK(::pwrite(image.value().fd(), "x", 1, 0) == -1);
  CHECK(::ftruncate(image.value().fd(), 0) == -1);
  CHECK((::fcntl(image.value().fd(), F_GETFD) & FD_CLOEXEC) != 0);
  // Not a file anywhere on disk.
  CHECK(fs::read_symlink(image.value().procPath()).string().find("/memfd:kubeai-plugin:step.so") == 0);

  // Move-only: the descriptor travels, the source is empty.
  PluginImage moved = std::move(image).value();
  CHECK(moved.fd() >= 0);
  const int fd = moved.release();
  CHECK(moved.fd() == -1);
  ::close(fd);
}

TEST_CASE("readPluginImage refuses what others may write, naming the file and its mode") {
  PluginDir plugins;
  struct Row {
    const char* what;
    mode_t fileMode;
    mode_t dirMode;
    std::string message;  // with FILE and DIR for the paths
  };
  for (const Row& row : {
           // The case: a world-writable plugin.
           Row{"world-writable file", 0666, 0755, "plugin FILE is writable by others (mode 0666): refused"},
           Row{"group-writable file", 0664, 0755, "plugin FILE is writable by group (mode 0664): refused"},
           Row{"group-writable directory", 0644, 0775, "plugin directory DIR is writable by group (mode 0775): refused"},
           Row{"world-writable directory", 0644, 0777, "plugin directory DIR is writable by others (mode 0777): refused"},
           // /tmp-like: the sticky bit still lets anyone add a plugin.
           Row{"sticky world-writable directory", 0644, 01777,
               "plugin directory DIR is writable by others (mode 1777): refused"},
       }) {
    CAPTURE(row.what);
    const fs::path file = plugins.add(FIXTURE_GOOD_A_SO, "a.so", row.fileMode);
    ::chmod(plugins.dir.c_str(), row.dirMode);
    std::string expected = row.message;
    if (auto at = expected.find("FILE"); at != std::string::npos) expected.replace(at, 4, file.string());
    if (auto at = expected.find("DIR"); at != std::string::npos) expected.replace(at, 3, plugins.dir.string());
    ImageProblem problem = ImageProblem::kNone;
    CHECK(errorOf(file, &problem) == expected);
    CHECK(problem == ImageProblem::kRefused);
    // loadPlugin says the same.
    auto loaded = loadPlugin(file);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().message == expected);
    ::chmod(plugins.dir.c_str(), 0755);
  }
}

TEST_CASE("readPluginImage refuses a file or directory owned by another user") {
  if (::geteuid() != 0) {
    MESSAGE("skipped: chown to uid 65534 needs root (CI runs as root)");
    return;
  }
  PluginDir plugins;
  const fs::path file = plugins.add(FIXTURE_GOOD_A_SO, "a.so");
  REQUIRE(::chown(file.c_str(), kNobody, kNobody) == 0);
  ImageProblem problem = ImageProblem::kNone;
  CHECK(errorOf(file, &problem) ==
        "plugin " + file.string() + " is owned by uid 65534, not root or this server's user (uid 0): refused");
  CHECK(problem == ImageProblem::kRefused);

  REQUIRE(::chown(file.c_str(), 0, 0) == 0);
  REQUIRE(::chown(plugins.dir.c_str(), kNobody, kNobody) == 0);
  CHECK(errorOf(file) == "plugin directory " + plugins.dir.string() +
                             " is owned by uid 65534, not root or this server's user (uid 0): refused");
}

TEST_CASE("readPluginImage: a world-writable directory on a read-only mount is accepted") {
  // The shipped Deployment's plugin directory is an emptyDir (0777) mounted
  // readOnly, as a ConfigMap volume is: nobody can write it whatever its mode.
  PluginDir plugins;
  const fs::path file = plugins.add(STEP_SCALE_SO, "step.so");
  ::chmod(plugins.dir.c_str(), 0777);
  REQUIRE_FALSE(readPluginImage(file).ok());  // writable: refused

  // A private mount namespace in a child, so nothing outlives the test.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    constexpr int kCannotMount = 77;
    const char* dir = plugins.dir.c_str();
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount(dir, dir, nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, dir, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      ::_exit(kCannotMount);
    }
    ::_exit(readPluginImage(file).ok() ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) {
    MESSAGE("skipped: cannot make a read-only bind mount here (needs CAP_SYS_ADMIN)");
    return;
  }
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("readPluginImage: a ConfigMap-style symlink is followed and its target checked") {
  PluginDir plugins;
  // What the kubelet makes: a timestamped directory, ..data pointing at it,
  // and each key a symlink through ..data.
  const fs::path versioned = plugins.dir / "..2024_01_01_00_00_00.1";
  fs::create_directory(versioned);
  ::chmod(versioned.c_str(), 0755);
  fs::copy_file(STEP_SCALE_SO, versioned / "step.so");
  ::chmod((versioned / "step.so").c_str(), 0644);
  fs::create_directory_symlink(versioned.filename(), plugins.dir / "..data");
  fs::create_symlink(fs::path("..data") / "step.so", plugins.dir / "step.so");

  const fs::path file = plugins.dir / "step.so";
  auto image = readPluginImage(file);
  REQUIRE(image.ok());
  CHECK(image.value().file() == file);  // the name as given, for every message
  auto loaded = loadPlugin(file);
  REQUIRE(loaded.ok());
  CHECK(loaded.value()->name() == "StepScale");

  // The target is what is checked: named by both paths.
  ::chmod((versioned / "step.so").c_str(), 0666);
  CHECK(errorOf(file) == "plugin " + file.string() + " (" + (versioned / "step.so").string() +
                             ") is writable by others (mode 0666): refused");
  ::chmod((versioned / "step.so").c_str(), 0644);
  ::chmod(versioned.c_str(), 0777);
  CHECK(errorOf(file) == "plugin directory " + versioned.string() + " is writable by others (mode 0777): refused");
}

TEST_CASE("readPluginImage: missing, not regular, cut off, not ELF") {
  PluginDir plugins;
  ImageProblem problem = ImageProblem::kNone;

  CHECK(errorOf(plugins.dir / "missing.so", &problem) == "plugin not found: " + (plugins.dir / "missing.so").string());
  CHECK(problem == ImageProblem::kNotFound);
  fs::create_symlink("nowhere.so", plugins.dir / "dangling.so");
  CHECK(errorOf(plugins.dir / "dangling.so", &problem) ==
        "plugin not found: " + (plugins.dir / "dangling.so").string());

  // A FIFO would block a plain open: refused without hanging.
  const fs::path fifo = plugins.dir / "fifo.so";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK(errorOf(fifo, &problem) == "cannot load plugin " + fifo.string() + ": not a regular file");
  CHECK(problem == ImageProblem::kInvalid);

  // The first 4 KiB of a real plugin: incomplete, not invalid.
  const std::string whole = readAll(STEP_SCALE_SO);
  const fs::path half = plugins.dir / "half.so";
  std::ofstream(half, std::ios::binary) << whole.substr(0, 4096);
  const std::string message = errorOf(half, &problem);
  CHECK(problem == ImageProblem::kIncomplete);
  CHECK(message.find("cannot load plugin " + half.string() + ": truncated: ") == 0);
  CHECK(message.find("of a 4096-byte file (still being written?)") != std::string::npos);
  // An empty file, just created by cp.
  std::ofstream(plugins.dir / "empty.so", std::ios::binary).flush();
  CHECK(errorOf(plugins.dir / "empty.so", &problem).find("truncated: an empty file") != std::string::npos);
  CHECK(problem == ImageProblem::kIncomplete);

  const fs::path text = plugins.dir / "text.so";
  std::ofstream(text, std::ios::binary) << "not an ELF file";
  CHECK(errorOf(text, &problem) == "cannot load plugin " + text.string() + ": not an ELF file");
  CHECK(problem == ImageProblem::kInvalid);
}

TEST_CASE("a loaded plugin keeps working when its file is truncated or overwritten in place") {
  PluginDir plugins;
  const fs::path file = plugins.add(CAPPED_SMOOTH_RATIO_SO, "capped.so");
  auto loaded = loadPlugin(file);
  REQUIRE(loaded.ok());
  const auto algorithm = std::move(loaded).value();
  InputBuilder input;
  input.replicas(4).gpu(2.0);

  // Loaded from the original file, this was a SIGBUS at the next call.
  fs::resize_file(file, 0);
  auto output = algorithm->compute(input.build());
  REQUIRE(output.ok());
  CHECK(output.value().desiredReplicas == 6);
  {
    std::ofstream overwrite(file, std::ios::binary | std::ios::in | std::ios::out);
    overwrite << std::string(fs::file_size(CAPPED_SMOOTH_RATIO_SO), '\xCC');  // int3 everywhere
  }
  output = algorithm->compute(input.build());
  REQUIRE(output.ok());
  CHECK(output.value().desiredReplicas == 6);
}

TEST_CASE("versions loaded one after another are each their own library") {
  // /proc/self/fd/N names come back with descriptor numbers: the loader must
  // not be handed an earlier library loaded under the same name.
  PluginDir plugins;
  const fs::path file = plugins.dir / "algorithm.so";
  plugins.add(STEP_SCALE_SO, "algorithm.so");
  auto first = loadPlugin(file);
  REQUIRE(first.ok());
  CHECK(first.value()->name() == "StepScale");
  plugins.add(CAPPED_SMOOTH_RATIO_SO, "algorithm.so");
  auto second = loadPlugin(file);
  REQUIRE(second.ok());
  CHECK(second.value()->name() == "CappedSmoothRatio");
  // Both still loaded, one after the other closed, and again.
  first = core::Error{"released"};
  plugins.add(FIXTURE_CPP_SO, "algorithm.so");
  auto third = loadPlugin(file);
  REQUIRE(third.ok());
  CHECK(third.value()->name() != "CappedSmoothRatio");
  CHECK(third.value()->name() != "StepScale");
}

}  // namespace
}  // namespace kubeai::plugin

#include "kube/client/credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <system_error>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client/file_util.h"
#include "kube/client/kube_time.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere in C++ headers

namespace kubeai::kube::detail {
namespace {

constexpr std::size_t kMaxPluginOutput = 1024 * 1024;
constexpr std::size_t kMaxStderrInError = 2048;

std::string errnoText(int error) { return std::error_code(error, std::generic_category()).message(); }

std::string withErrno(std::string_view what, int error) {
  std::string text(what);
  text += ": ";
  text += errnoText(error);
  return text;
}

// A file descriptor, closed when it goes.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  [[nodiscard]] int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

// A spawned child: killed and reaped when it goes without having been waited for,
// so an early return never leaves a zombie or a running plugin behind.
class Child {
 public:
  explicit Child(pid_t pid) noexcept : pid_(pid) {}
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait();
    }
  }
  // The wait status; -1 when waitpid fails.
  int wait() noexcept {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) {
        pid_ = -1;
        return -1;
      }
    }
    pid_ = -1;
    return status;
  }
  void kill() const noexcept {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
    }
  }

 private:
  pid_t pid_;
};

struct FileActions {
  posix_spawn_file_actions_t actions{};
  FileActions() { posix_spawn_file_actions_init(&actions); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};

std::string commandError(const KubeConfig::Exec& exec, std::string_view why) {
  std::string message = "exec plugin ";
  message += exec.command;
  message += ": ";
  message += why;
  return message;
}

// Stderr as it may go into an error: the tail (where the reason is), trimmed.
std::string stderrForError(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  if (text.size() > kMaxStderrInError) {
    std::string tail = "...";
    tail += text.substr(text.size() - kMaxStderrInError);
    text = std::move(tail);
  }
  return text;
}

std::string execInfo(const std::string& apiVersion) {
  nlohmann::json info = {{"apiVersion", apiVersion},
                         {"kind", "ExecCredential"},
                         {"spec", {{"interactive", false}}}};
  return info.dump();
}

}  // namespace

std::optional<std::chrono::system_clock::time_point> parseRfc3339(std::string_view text) {
  return parseExpiryTime(text);
}

core::Result<ExecResult> parseExecCredential(std::string_view json, std::string_view expectedApiVersion) {
  auto fail = [](std::string_view why) {
    std::string message = "invalid ExecCredential: ";
    message += why;
    return core::Error{message};
  };
  const nlohmann::json document = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return fail("not a JSON object");
  }
  auto text = [](const nlohmann::json& object, const char* key) -> std::string {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (text(document, "kind") != "ExecCredential") {
    return fail("kind is not ExecCredential");
  }
  if (const std::string apiVersion = text(document, "apiVersion"); apiVersion != expectedApiVersion) {
    std::string why = "apiVersion \"";
    why += apiVersion;
    why += "\", but the kubeconfig asks for \"";
    why += expectedApiVersion;
    why += '"';
    return fail(why);
  }
  const auto status = document.find("status");
  if (status == document.end() || !status->is_object()) {
    return fail("no status");
  }
  ExecResult result;
  result.token = text(*status, "token");
  result.clientCertData = text(*status, "clientCertificateData");
  result.clientKeyData = text(*status, "clientKeyData");
  if (result.clientCertData.empty() != result.clientKeyData.empty()) {
    return fail("status.clientCertificateData and status.clientKeyData must come together");
  }
  if (result.token.empty() && result.clientCertData.empty()) {
    return fail("status has neither a token nor a client certificate");
  }
  if (const std::string expiration = text(*status, "expirationTimestamp"); !expiration.empty()) {
    result.expiration = parseRfc3339(expiration);
    if (!result.expiration) {
      std::string why = "status.expirationTimestamp \"";
      why += expiration;
      why += "\" is not RFC 3339";
      return fail(why);
    }
  }
  return result;
}

core::Result<ExecResult> runExecPlugin(const KubeConfig::Exec& exec, std::chrono::milliseconds timeout) {
  // Environment: ours, then the plugin's entries replacing same-named ones,
  // then KUBERNETES_EXEC_INFO (as kubectl, whose value wins).
  std::vector<std::string> environment;
  auto setVariable = [&](const std::string& name, const std::string& value) {
    std::string prefix = name;
    prefix += '=';
    std::erase_if(environment, [&](const std::string& entry) { return entry.starts_with(prefix); });
    prefix += value;
    environment.push_back(std::move(prefix));
  };
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    environment.emplace_back(*entry);
  }
  for (const auto& [name, value] : exec.env) {
    setVariable(name, value);
  }
  setVariable("KUBERNETES_EXEC_INFO", execInfo(exec.apiVersion));
  std::vector<char*> envp;
  envp.reserve(environment.size() + 1);
  for (auto& entry : environment) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);

  std::vector<std::string> argvStorage;
  argvStorage.push_back(exec.command);
  argvStorage.insert(argvStorage.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  argv.reserve(argvStorage.size() + 1);
  for (auto& arg : argvStorage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);

  std::array<int, 2> outPipe{-1, -1};
  std::array<int, 2> errPipe{-1, -1};
  if (::pipe2(outPipe.data(), O_CLOEXEC) != 0) {
    return core::Error{commandError(exec, withErrno("pipe", errno))};
  }
  Fd outRead(outPipe[0]);
  Fd outWrite(outPipe[1]);
  if (::pipe2(errPipe.data(), O_CLOEXEC) != 0) {
    return core::Error{commandError(exec, withErrno("pipe", errno))};
  }
  Fd errRead(errPipe[0]);
  Fd errWrite(errPipe[1]);

  FileActions actions;
  // dup2 clears O_CLOEXEC on the targets; the originals close on exec.
  posix_spawn_file_actions_addopen(&actions.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions.actions, outWrite.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions.actions, errWrite.get(), STDERR_FILENO);
  pid_t pid = -1;
  // posix_spawnp: a bare command name is looked up in PATH, as kubectl does.
  const int spawned = ::posix_spawnp(&pid, exec.command.c_str(), &actions.actions, nullptr, argv.data(), envp.data());
  if (spawned != 0) {
    std::string why = "cannot run it: ";
    why += errnoText(spawned);
    if (!exec.installHint.empty()) {
      why += "; ";
      why += exec.installHint;
    }
    return core::Error{commandError(exec, why)};
  }
  Child child(pid);
  outWrite.reset();
  errWrite.reset();

  // Read both pipes to their end (a plugin blocked on a full stderr pipe would never exit).
  std::string out;
  std::string err;
  bool tooLarge = false;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::array<pollfd, 2> fds{pollfd{outRead.get(), POLLIN, 0}, pollfd{errRead.get(), POLLIN, 0}};
  std::array<char, 4096> buffer{};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) {
      child.kill();
      std::string why = "did not finish within ";
      why += std::to_string(timeout.count() / 1000);
      why += " s";
      if (const std::string text = stderrForError(err); !text.empty()) {
        why += ": ";
        why += text;
      }
      return core::Error{commandError(exec, why)};
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left));
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return core::Error{commandError(exec, withErrno("poll", errno))};
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      const ssize_t got = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got <= 0) {
        fds[i].fd = -1;  // the Fd objects close them
        continue;
      }
      std::string& sink = i == 0 ? out : err;
      if (sink.size() + static_cast<std::size_t>(got) > kMaxPluginOutput) {
        tooLarge = true;
        continue;  // keep draining so the plugin can finish
      }
      sink.append(buffer.data(), static_cast<std::size_t>(got));
    }
  }
  const int status = child.wait();
  if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string why;
    if (status >= 0 && WIFEXITED(status)) {
      why = "exit status ";
      why += std::to_string(WEXITSTATUS(status));
    } else if (status >= 0 && WIFSIGNALED(status)) {
      why = "killed by signal ";
      why += std::to_string(WTERMSIG(status));
    } else {
      why = "waitpid failed";
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !exec.installHint.empty()) {
      why += " (";
      why += exec.installHint;
      why += ')';
    }
    if (const std::string text = stderrForError(err); !text.empty()) {
      why += ": ";
      why += text;
    }
    return core::Error{commandError(exec, why)};
  }
  if (tooLarge) {
    return core::Error{commandError(exec, "output larger than 1 MiB")};
  }
  auto parsed = parseExecCredential(out, exec.apiVersion);
  if (!parsed) {
    return core::Error{commandError(exec, parsed.error().message)};
  }
  return parsed;
}

CredentialSource::CredentialSource(const KubeConfig& config, std::chrono::milliseconds execTimeout)
    : staticToken_(config.token), tokenFile_(config.tokenFile), exec_(config.exec), execTimeout_(execTimeout) {}

bool CredentialSource::refreshable() const noexcept { return !tokenFile_.empty() || exec_.has_value(); }

core::Result<Credential> CredentialSource::obtainLocked() {
  const auto now = Clock::now();
  Credential credential;
  if (exec_) {
    auto result = runExecPlugin(*exec_, execTimeout_);
    if (!result) {
      return result.error();
    }
    credential.token = std::move(result.value().token);
    credential.clientCertData = std::move(result.value().clientCertData);
    credential.clientKeyData = std::move(result.value().clientKeyData);
    // No expiry: good until a 401 says otherwise (as client-go).
    validUntil_ = result.value().expiration ? *result.value().expiration - kExecRefreshMargin : Clock::time_point::max();
  } else if (!tokenFile_.empty()) {
    auto token = readTokenFile(tokenFile_, "token file");
    if (!token) {
      // A rotation in progress may leave the file briefly missing: the token
      // read last time stays in use, and the file is read again next time.
      if (cached_) {
        return *cached_;
      }
      return token.error();
    }
    credential.token = std::move(token).value();
    validUntil_ = now + kTokenFileMaxAge;
    if (cached_ && cached_->token == credential.token) {
      return *cached_;  // same token: same generation, so a 401 does not loop
    }
  } else {
    credential.token = staticToken_;
    validUntil_ = Clock::time_point::max();
  }
  credential.generation = nextGeneration_++;
  cached_ = credential;
  return credential;
}

core::Result<Credential> CredentialSource::current() {
  const std::lock_guard lock(mutex_);
  if (cached_ && Clock::now() < validUntil_) {
    return *cached_;
  }
  return obtainLocked();
}

core::Result<Credential> CredentialSource::refresh(std::uint64_t used) {
  const std::lock_guard lock(mutex_);
  if (!refreshable()) {
    if (cached_) {
      return *cached_;
    }
    return obtainLocked();
  }
  if (cached_ && cached_->generation != used) {
    return *cached_;  // another thread got a new one since
  }
  return obtainLocked();
}

}  // namespace kubeai::kube::detail

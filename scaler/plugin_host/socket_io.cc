#include "plugin_host/socket_io.h"

#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

namespace kubeai::plugin::host {

core::Status writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t written = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      return core::Error{std::string("write: ") + std::strerror(errno)};
    }
    bytes.remove_prefix(static_cast<std::size_t>(written));
  }
  return core::Ok{};
}

ReadOutcome readFrame(int fd, FrameReader& reader, std::optional<std::chrono::steady_clock::time_point> deadline,
                      std::chrono::microseconds spin) {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::time_point> spinUntil;
  std::array<std::byte, 64 * 1024> chunk;
  for (;;) {
    auto frame = reader.next();
    if (!frame.ok()) {
      return {std::nullopt, ReadProblem::kViolation, frame.error().message};
    }
    if (frame.value()) {
      return {std::move(*frame.value()), ReadProblem::kNone, {}};
    }
    if (deadline && *deadline <= Clock::now()) {
      return {std::nullopt, ReadProblem::kTimeout, {}};
    }
    if (spin.count() > 0 && !spinUntil) {
      const auto now = Clock::now();
      spinUntil = deadline ? std::min(now + spin, *deadline) : now + spin;
    }
    bool spun = false;  // bytes came while spinning
    while (spinUntil && Clock::now() < *spinUntil) {
      const ssize_t got = ::recv(fd, chunk.data(), chunk.size(), MSG_DONTWAIT);
      if (got > 0) {
        reader.feed(std::span<const std::byte>(chunk.data(), static_cast<std::size_t>(got)));
        spun = true;
        break;
      }
      if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        break;  // the blocking path below reports the close or the error
      }
      // Not a pause loop: the peer has often just been woken onto this very
      // CPU (a socket's wake-up prefers the waker's CPU), where a busy loop
      // would keep it off until our time slice ends; a yield hands it the CPU.
      // On the other CPU it keeps this vCPU from halting.
      ::sched_yield();
    }
    if (spun) {
      continue;
    }
    // Computed after the spin, which therefore never moves the deadline.
    int timeoutMs = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now());
      if (left.count() <= 0) {
        return {std::nullopt, ReadProblem::kTimeout, {}};
      }
      timeoutMs = static_cast<int>(std::min<std::chrono::milliseconds::rep>(left.count(), 1'000'000));
    }
    pollfd waiting{fd, POLLIN, 0};
    const int ready = ::poll(&waiting, 1, timeoutMs);
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      return {std::nullopt, ReadProblem::kIo, std::string("poll: ") + std::strerror(errno)};
    }
    if (ready == 0) {
      continue;  // the deadline check above decides
    }
    const ssize_t got = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      if (errno == ECONNRESET) {
        return {std::nullopt, ReadProblem::kClosed, {}};
      }
      return {std::nullopt, ReadProblem::kIo, std::string("read: ") + std::strerror(errno)};
    }
    if (got == 0) {
      return {std::nullopt, ReadProblem::kClosed, {}};
    }
    reader.feed(std::span<const std::byte>(chunk.data(), static_cast<std::size_t>(got)));
  }
}

}  // namespace kubeai::plugin::host

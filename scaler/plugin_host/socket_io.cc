#include "plugin_host/socket_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

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

ReadOutcome readFrame(int fd, FrameReader& reader, std::optional<std::chrono::steady_clock::time_point> deadline) {
  for (;;) {
    auto frame = reader.next();
    if (!frame.ok()) {
      return {std::nullopt, ReadProblem::kViolation, frame.error().message};
    }
    if (frame.value()) {
      return {std::move(*frame.value()), ReadProblem::kNone, {}};
    }
    int timeoutMs = -1;
    if (deadline) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
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
    std::array<std::byte, 64 * 1024> chunk;
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

#include "http/small_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <system_error>

namespace kubeai::http {

core::Result<std::string> readSmallFile(const std::filesystem::path& path, std::string_view what, std::size_t limit,
                                        Oversize oversize) {
  auto fail = [&](const std::string& why) {
    std::string message(what);
    message += ' ';
    message += path.string();
    message += ": ";
    message += why;
    return core::Error{message};
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(std::error_code(errno, std::generic_category()).message());
  }
  std::string content;
  std::array<char, 8192> buffer{};
  while (true) {
    const ssize_t got = ::read(fd, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int error = errno;
      ::close(fd);
      return fail(std::error_code(error, std::generic_category()).message());
    }
    if (got == 0) {
      break;
    }
    content.append(buffer.data(), static_cast<std::size_t>(got));
    if (content.size() > limit) {
      ::close(fd);
      if (oversize == Oversize::kTruncate) {
        content.resize(limit);
        return content;
      }
      std::string why = "larger than ";
      why += std::to_string(limit);
      why += " bytes, not the file expected";
      return fail(why);
    }
  }
  ::close(fd);
  return content;
}

core::Result<std::string> readTokenFile(const std::filesystem::path& path, std::string_view what, std::size_t limit) {
  auto content = readSmallFile(path, what, limit);
  if (!content) {
    return content.error();
  }
  std::string_view token = content.value();
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = token.find_first_not_of(kSpace);
  if (first == std::string_view::npos) {
    std::string message(what);
    message += ' ';
    message += path.string();
    message += ": empty";
    return core::Error{message};
  }
  token = token.substr(first, token.find_last_not_of(kSpace) - first + 1);
  return std::string(token);
}

}  // namespace kubeai::http

#include "simulate/trace_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace kubeai::simulate::detail {
namespace {

// The loader's read size: big enough that fread is not the cost, small enough
// that a 500 MB trace is never held whole.
constexpr std::size_t kReadChunkBytes = 64 * 1024;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

}  // namespace

core::Result<DemandSeries> loadFile(const std::filesystem::path& path, TraceParser& parser) {
  const std::string name = path.string();
  if (!parser.validInterval()) {
    parser.failFile("the interval must be greater than 0 and at most a week");
    return parser.finish();
  }
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error || !std::filesystem::exists(status)) {
    return core::Error{"no such file: " + name};
  }
  if (!std::filesystem::is_regular_file(status)) {
    return core::Error{name + ": not a regular file"};
  }
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error) {
    return core::Error{"cannot read " + name + ": " + error.message()};
  }
  if (size > kMaxTraceFileBytes) {
    return core::Error{name + ": " + std::to_string(size) + " bytes, larger than the " +
                       std::to_string(kMaxTraceFileBytes) + " a trace may have"};
  }
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(name.c_str(), "rb"));
  if (!file) {
    return core::Error{"cannot read " + name + ": " + std::strerror(errno)};
  }
  std::vector<char> buffer(kReadChunkBytes);
  // A line cut by a chunk's end; bounded by the longest line a trace may have.
  std::string partial;
  std::uintmax_t total = 0;
  bool going = true;
  while (going) {
    const std::size_t read = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (read == 0) {
      break;
    }
    total += read;
    if (total > kMaxTraceFileBytes) {
      return core::Error{name + ": grew past the " + std::to_string(kMaxTraceFileBytes) +
                         " bytes a trace may have while being read"};
    }
    std::string_view chunk(buffer.data(), read);
    while (going) {
      const std::size_t newline = chunk.find('\n');
      if (newline == std::string_view::npos) {
        // + 1: the line's '\r', which line() takes off before it counts.
        if (partial.size() + chunk.size() > kMaxTraceLineBytes + 1) {
          parser.tooLong();
          going = false;
          break;
        }
        partial.append(chunk);
        break;
      }
      if (partial.empty()) {
        going = parser.line(chunk.substr(0, newline));
      } else {
        partial.append(chunk.substr(0, newline));
        going = parser.line(partial);
        partial.clear();
      }
      chunk.remove_prefix(newline + 1);
    }
  }
  if (std::ferror(file.get()) != 0) {
    return core::Error{"cannot read " + name};
  }
  if (going && !partial.empty()) {
    parser.line(partial);
  }
  return parser.finish();
}

}  // namespace kubeai::simulate::detail

#pragma once

// The fields of a demand trace's line (demand.h), shared by both formats:
// splitting at commas, trimming, reading numbers, quoting input in messages.
// Header-only where it runs per field, so the parsers stay one pass with no
// allocation per line.

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "core/result.h"

namespace kubeai::simulate::detail {

inline std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// The start of a field for a message: quoted, printable, at most 40 bytes
// (the input may be anything).
std::string quote(std::string_view text);

bool equalsIgnoringCase(std::string_view a, std::string_view b);

// A field's number: the whole field, as from_chars reads it (no '+', no spaces).
inline std::optional<double> wholeNumber(std::string_view text) {
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return std::nullopt;
  }
  return value;
}

// A count or a rate: finite, >= 0 and at most 1e12 (no real count of tokens or
// rate comes near; the bound keeps every sum finite). `column` names the
// column in the message.
core::Result<double> readValue(std::string_view field, std::string_view column);

// Up to kFields fields of a line and how many there were in all.
template <std::size_t kFields>
struct Fields {
  std::array<std::string_view, kFields> field{};
  std::size_t count = 0;
};

template <std::size_t kFields>
Fields<kFields> split(std::string_view line) {
  Fields<kFields> out;
  while (true) {
    const std::size_t comma = line.find(',');
    if (out.count < kFields) {
      out.field[out.count] = line.substr(0, comma);
    }
    ++out.count;
    if (comma == std::string_view::npos) {
      return out;
    }
    line.remove_prefix(comma + 1);
  }
}

// A time in a message: the field as written (kept in a fixed buffer, not a string per line).
class TimeText {
 public:
  void set(std::string_view text) {
    size_ = std::min(text.size(), text_.size());
    std::memcpy(text_.data(), text.data(), size_);
  }
  [[nodiscard]] std::string quoted() const { return quote(std::string_view(text_.data(), size_)); }

 private:
  std::array<char, 48> text_{};
  std::size_t size_ = 0;
};

}  // namespace kubeai::simulate::detail

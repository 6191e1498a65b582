#pragma once

// What both demand trace formats (demand.h) share: lines, CR, BOM, the header,
// empty lines, errors with file:line, the steps' bound. A format (arrivals_trace.cc,
// rate_series.cc) reads its data rows; parseText() and loadFile() (trace_file.h)
// feed it lines.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "simulate/demand.h"

namespace kubeai::simulate::detail {

// "15000 ms": an interval in a message.
std::string intervalText(std::int64_t intervalMicros);

class TraceParser {
 public:
  // An interval outside (0, a week] is kept as 0: validInterval() is then false.
  TraceParser(std::string_view name, std::chrono::milliseconds interval, std::string_view header);
  virtual ~TraceParser() = default;
  TraceParser(const TraceParser&) = delete;
  TraceParser& operator=(const TraceParser&) = delete;

  // One line without its '\n'. False once an error was set (error()).
  bool line(std::string_view text) {
    ++lineNumber_;
    if (!text.empty() && text.back() == '\r') {
      text.remove_suffix(1);
    }
    if (text.size() > kMaxTraceLineBytes) {
      return fail("line longer than " + std::to_string(kMaxTraceLineBytes) + " bytes");
    }
    if (!headerSeen_) {
      headerSeen_ = true;
      if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) {
        text.remove_prefix(3);
      }
      return readHeader(text);
    }
    if (text.empty()) {
      return true;
    }
    ++rows_;
    return row(text);
  }

  core::Result<DemandSeries> finish();

  [[nodiscard]] const core::Error& error() const { return error_; }
  [[nodiscard]] std::size_t lineNumber() const { return lineNumber_; }
  [[nodiscard]] bool validInterval() const { return intervalMicros_ > 0; }

  // The next line is longer than any trace line (the loader finds it before the line ends).
  void tooLong();

  bool fail(const std::string& message);
  void failFile(const std::string& message);

 protected:
  virtual bool row(std::string_view text) = 0;
  virtual void finishSteps(DemandSeries& series) = 0;

  // Makes room for step `index` (relative to the first row); false (and the
  // error) past kMaxDemandSteps.
  bool reserveStep(std::int64_t index) {
    if (index < 0 || static_cast<std::uint64_t>(index) >= kMaxDemandSteps) {
      return fail("the trace spans more than " + std::to_string(kMaxDemandSteps) + " intervals of " +
                  intervalText(intervalMicros_) + " from its first row (line " + std::to_string(firstLine_) +
                  ")");
    }
    if (static_cast<std::size_t>(index) >= steps_.size()) {
      steps_.resize(static_cast<std::size_t>(index) + 1);
    }
    return true;
  }

  std::string_view name_;
  std::int64_t intervalMicros_;
  std::size_t lineNumber_ = 0;
  std::size_t firstLine_ = 0;
  // While reading, a format keeps its sums in these; finishSteps() turns them into means.
  std::vector<DemandStep> steps_;

 private:
  bool readHeader(std::string_view text);

  std::string_view header_;
  bool headerSeen_ = false;
  std::size_t rows_ = 0;
  core::Error error_{};
};

// Parses `text` line by line with `parser`.
core::Result<DemandSeries> parseText(std::string_view text, TraceParser& parser);

}  // namespace kubeai::simulate::detail

#include "plugin_host/host_protocol.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "core/metric_slot.h"

namespace kubeai::plugin::host {
namespace {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big);

class Writer {
 public:
  Writer() { out_.resize(4); }  // the length, written by finish()

  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  template <typename T>
  void number(T v) {
    static_assert(std::is_arithmetic_v<T> && sizeof(T) <= 8);
    unsigned char bytes[sizeof(T)];
    std::memcpy(bytes, &v, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) {
      std::reverse(std::begin(bytes), std::end(bytes));
    }
    out_.append(reinterpret_cast<const char*>(bytes), sizeof(T));
  }
  void text(std::string_view v) {
    number(static_cast<std::uint32_t>(std::min<std::size_t>(v.size(), kMaxTextBytes)));
    out_.append(v.data(), std::min<std::size_t>(v.size(), kMaxTextBytes));
  }
  void count(std::size_t n) { number(static_cast<std::uint32_t>(n)); }

  std::string finish() && {
    const auto length = static_cast<std::uint32_t>(out_.size() - 4);
    for (int i = 0; i < 4; ++i) {
      out_[static_cast<std::size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xffu);
    }
    return std::move(out_);
  }

 private:
  std::string out_;
};

// Reads fields in order; the first failure sticks, so a decoder reads on
// and checks once at the end.
class Reader {
 public:
  explicit Reader(std::span<const std::byte> body) : body_(body) {}

  std::uint8_t u8() {
    std::uint8_t v = 0;
    if (take(1)) {
      v = std::to_integer<std::uint8_t>(body_[at_ - 1]);
    }
    return v;
  }
  bool boolean(const char* field) {
    const std::uint8_t v = u8();
    if (v > 1) {
      fail(std::string(field) + ": " + std::to_string(v) + " is not a boolean");
    }
    return v == 1;
  }
  template <typename T>
  T number() {
    T v{};
    if (take(sizeof(T))) {
      unsigned char bytes[sizeof(T)];
      std::memcpy(bytes, body_.data() + at_ - sizeof(T), sizeof(T));
      if constexpr (std::endian::native == std::endian::big) {
        std::reverse(std::begin(bytes), std::end(bytes));
      }
      std::memcpy(&v, bytes, sizeof(T));
    }
    return v;
  }
  double finite(const char* field) {
    const double v = number<double>();
    if (!std::isfinite(v)) {
      fail(std::string(field) + " is not a finite number");
    }
    return v;
  }
  std::string text(const char* field) {
    const auto size = number<std::uint32_t>();
    if (size > kMaxTextBytes) {
      fail(std::string(field) + ": text of " + std::to_string(size) + " bytes (at most " +
           std::to_string(kMaxTextBytes) + ")");
      return {};
    }
    if (!take(size)) {
      return {};
    }
    return std::string(reinterpret_cast<const char*>(body_.data() + at_ - size), size);
  }
  std::uint32_t count(const char* field) {
    const auto n = number<std::uint32_t>();
    if (n > kMaxListItems) {
      fail(std::string(field) + ": " + std::to_string(n) + " items (at most " + std::to_string(kMaxListItems) + ")");
      return 0;
    }
    return n;
  }

  void fail(std::string why) {
    if (error_.empty()) {
      error_ = std::move(why);
    }
  }
  // The message read, or why not: a failure, or bytes left over.
  template <typename T>
  core::Result<T> finish(T message, const char* what) {
    if (error_.empty() && at_ != body_.size()) {
      error_ = std::to_string(body_.size() - at_) + " bytes after the end of the message";
    }
    if (!error_.empty()) {
      return core::Error{std::string("bad ") + what + " message: " + error_};
    }
    return message;
  }

 private:
  bool take(std::size_t n) {
    if (!error_.empty()) {
      return false;
    }
    if (body_.size() - at_ < n) {
      error_ = "truncated";
      return false;
    }
    at_ += n;
    return true;
  }

  std::span<const std::byte> body_;
  std::size_t at_ = 0;
  std::string error_;
};

void writeParameters(Writer& w, const std::vector<std::pair<std::string, std::string>>& parameters) {
  w.count(parameters.size());
  for (const auto& [key, value] : parameters) {
    w.text(key);
    w.text(value);
  }
}

std::vector<std::pair<std::string, std::string>> readParameters(Reader& r) {
  std::vector<std::pair<std::string, std::string>> parameters;
  const std::uint32_t n = r.count("parameters");
  parameters.reserve(n);
  for (std::uint32_t i = 0; i < n; ++i) {
    std::string key = r.text("parameter key");
    std::string value = r.text("parameter value");
    parameters.emplace_back(std::move(key), std::move(value));
  }
  return parameters;
}

void writeWeights(Writer& w, const std::vector<double>& weights) {
  w.count(weights.size());
  for (double weight : weights) {
    w.number(weight);
  }
}

std::vector<double> readWeights(Reader& r) {
  std::vector<double> weights(r.count("weights"));
  for (double& weight : weights) {
    weight = r.number<double>();
  }
  return weights;
}

template <typename T>
std::string encodeWith(MessageType type, const T& write) {
  Writer w;
  w.u8(static_cast<std::uint8_t>(type));
  write(w);
  return std::move(w).finish();
}

}  // namespace

std::string encodeFrame(const ServerMessage& message) {
  return std::visit(
      [](const auto& m) -> std::string {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, ComputeRequest>) {
          return encodeWith(MessageType::kCompute, [&](Writer& w) {
            w.number(m.id);
            w.number(m.currentReplicas);
            w.number(m.minReplicas);
            w.number(m.maxReplicas);
            w.number(m.tolerance);
            w.text(m.policyNamespace);
            w.text(m.policyName);
            writeParameters(w, m.parameters);
            writeWeights(w, m.weights);
            w.count(m.metrics.size());
            for (const WireMetric& metric : m.metrics) {
              w.number(metric.slot);
              w.text(metric.name);
              w.number(metric.value);
              w.text(metric.unit);
              w.number(metric.target);
              w.text(metric.targetType);
              w.number(metric.ratio);
            }
            w.number(m.nowUnixMs);
            w.number(m.reason);
            w.number(m.cycle);
          });
        } else if constexpr (std::is_same_v<T, ValidateRequest>) {
          return encodeWith(MessageType::kValidate, [&](Writer& w) {
            w.number(m.id);
            w.text(m.policyNamespace);
            w.text(m.policyName);
            writeParameters(w, m.parameters);
            writeWeights(w, m.weights);
          });
        } else if constexpr (std::is_same_v<T, ForgetRequest>) {
          return encodeWith(MessageType::kForget, [&](Writer& w) {
            w.text(m.policyNamespace);
            w.text(m.policyName);
          });
        } else {
          return encodeWith(MessageType::kShutdown, [](Writer&) {});
        }
      },
      message);
}

std::string encodeFrame(const HostMessage& message) {
  return std::visit(
      [](const auto& m) -> std::string {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) {
          return encodeWith(MessageType::kHello, [&](Writer& w) {
            w.number(m.protocolVersion);
            w.number(m.abiVersion);
            w.text(m.algorithm);
            w.boolean(m.validates);
          });
        } else if constexpr (std::is_same_v<T, LoadFailed>) {
          return encodeWith(MessageType::kLoadFailed, [&](Writer& w) { w.text(m.error); });
        } else if constexpr (std::is_same_v<T, ComputeReply>) {
          return encodeWith(MessageType::kResult, [&](Writer& w) {
            w.number(m.id);
            w.boolean(m.ok);
            w.number(m.desiredReplicas);
            w.boolean(m.held);
            w.boolean(m.ratio.has_value());
            w.number(m.ratio.value_or(0.0));
            w.text(m.reason);
            w.text(m.error);
          });
        } else if constexpr (std::is_same_v<T, LogRecord>) {
          return encodeWith(MessageType::kLog, [&](Writer& w) {
            w.number(m.id);
            w.number(m.level);
            w.text(m.message);
          });
        } else {
          return encodeWith(MessageType::kValidated, [&](Writer& w) {
            w.number(m.id);
            w.boolean(m.ok);
            w.text(m.error);
          });
        }
      },
      message);
}

core::Result<HostMessage> decodeHostMessage(std::span<const std::byte> body) {
  if (body.empty()) {
    return core::Error{"empty message"};
  }
  Reader r(body.subspan(1));
  auto wrap = [](auto done) -> core::Result<HostMessage> {
    if (!done.ok()) {
      return done.error();
    }
    return HostMessage{std::move(done).value()};
  };
  switch (static_cast<MessageType>(std::to_integer<std::uint8_t>(body[0]))) {
    case MessageType::kHello: {
      Hello m;
      m.protocolVersion = r.number<std::uint32_t>();
      m.abiVersion = r.number<std::uint32_t>();
      m.algorithm = r.text("algorithm");
      m.validates = r.boolean("validates");
      return wrap(r.finish(std::move(m), "hello"));
    }
    case MessageType::kLoadFailed: {
      LoadFailed m;
      m.error = r.text("error");
      return wrap(r.finish(std::move(m), "load-failed"));
    }
    case MessageType::kResult: {
      ComputeReply m;
      m.id = r.number<std::uint64_t>();
      m.ok = r.boolean("ok");
      m.desiredReplicas = r.number<std::int32_t>();
      m.held = r.boolean("held");
      const bool hasRatio = r.boolean("has ratio");
      const double ratio = r.number<double>();
      if (hasRatio) {
        if (!std::isfinite(ratio) || ratio < 0.0) {
          r.fail("ratio is not a finite number >= 0");
        }
        m.ratio = ratio;
      }
      m.reason = r.text("reason");
      m.error = r.text("error");
      return wrap(r.finish(std::move(m), "result"));
    }
    case MessageType::kLog: {
      LogRecord m;
      m.id = r.number<std::uint64_t>();
      m.level = r.number<std::int32_t>();
      if (m.level < 0 || m.level > 3) {
        r.fail("log level " + std::to_string(m.level) + " (0 to 3)");
      }
      m.message = r.text("message");
      return wrap(r.finish(std::move(m), "log"));
    }
    case MessageType::kValidated: {
      ValidateReply m;
      m.id = r.number<std::uint64_t>();
      m.ok = r.boolean("ok");
      m.error = r.text("error");
      return wrap(r.finish(std::move(m), "validated"));
    }
    default:
      return core::Error{"unknown message type " + std::to_string(std::to_integer<int>(body[0]))};
  }
}

core::Result<ServerMessage> decodeServerMessage(std::span<const std::byte> body) {
  if (body.empty()) {
    return core::Error{"empty message"};
  }
  Reader r(body.subspan(1));
  auto wrap = [](auto done) -> core::Result<ServerMessage> {
    if (!done.ok()) {
      return done.error();
    }
    return ServerMessage{std::move(done).value()};
  };
  switch (static_cast<MessageType>(std::to_integer<std::uint8_t>(body[0]))) {
    case MessageType::kCompute: {
      ComputeRequest m;
      m.id = r.number<std::uint64_t>();
      m.currentReplicas = r.number<std::int32_t>();
      m.minReplicas = r.number<std::int32_t>();
      m.maxReplicas = r.number<std::int32_t>();
      m.tolerance = r.number<double>();
      m.policyNamespace = r.text("namespace");
      m.policyName = r.text("name");
      m.parameters = readParameters(r);
      m.weights = readWeights(r);
      const std::uint32_t n = r.count("metrics");
      m.metrics.resize(n);
      for (WireMetric& metric : m.metrics) {
        metric.slot = r.number<std::int32_t>();
        metric.name = r.text("metric name");
        metric.value = r.number<double>();
        metric.unit = r.text("metric unit");
        metric.target = r.number<double>();
        metric.targetType = r.text("metric target type");
        metric.ratio = r.finite("metric ratio");
        if (metric.slot < 0 || metric.slot >= static_cast<std::int32_t>(core::kMaxMetricSlots)) {
          r.fail("metric slot " + std::to_string(metric.slot));
        }
      }
      m.nowUnixMs = r.number<std::int64_t>();
      m.reason = r.number<std::int32_t>();
      m.cycle = r.number<std::uint64_t>();
      return wrap(r.finish(std::move(m), "compute"));
    }
    case MessageType::kValidate: {
      ValidateRequest m;
      m.id = r.number<std::uint64_t>();
      m.policyNamespace = r.text("namespace");
      m.policyName = r.text("name");
      m.parameters = readParameters(r);
      m.weights = readWeights(r);
      return wrap(r.finish(std::move(m), "validate"));
    }
    case MessageType::kForget: {
      ForgetRequest m;
      m.policyNamespace = r.text("namespace");
      m.policyName = r.text("name");
      return wrap(r.finish(std::move(m), "forget"));
    }
    case MessageType::kShutdown:
      return wrap(r.finish(ShutdownRequest{}, "shutdown"));
    default:
      return core::Error{"unknown message type " + std::to_string(std::to_integer<int>(body[0]))};
  }
}

void FrameReader::feed(std::span<const std::byte> bytes) {
  // What was handed out goes once it is half the buffer: a stream that always
  // ends inside a frame must not grow the buffer past about twice that frame.
  if (consumed_ > 0 && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

core::Result<std::optional<std::vector<std::byte>>> FrameReader::next() {
  if (broken_) {
    return core::Error{"the stream is out of step after an oversized frame"};
  }
  const std::size_t available = buffer_.size() - consumed_;
  if (available < 4) {
    return std::optional<std::vector<std::byte>>();
  }
  std::uint32_t length = 0;
  for (int i = 0; i < 4; ++i) {
    length |= std::uint32_t{std::to_integer<std::uint8_t>(buffer_[consumed_ + static_cast<std::size_t>(i)])}
              << (8 * i);
  }
  if (length > kMaxFrameBytes || length == 0) {
    broken_ = true;
    return core::Error{"frame of " + std::to_string(length) + " bytes (1 to " + std::to_string(kMaxFrameBytes) +
                       ")"};
  }
  if (available - 4 < length) {
    return std::optional<std::vector<std::byte>>();
  }
  const auto begin = buffer_.begin() + static_cast<std::ptrdiff_t>(consumed_ + 4);
  std::vector<std::byte> body(begin, begin + static_cast<std::ptrdiff_t>(length));
  consumed_ += 4 + length;
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  }
  return std::optional<std::vector<std::byte>>(std::move(body));
}

}  // namespace kubeai::plugin::host

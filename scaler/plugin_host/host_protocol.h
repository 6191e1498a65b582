#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/result.h"

// The protocol between the server and a plugin-host process, over a
// socketpair: one frame per message, a little-endian u32 body length and then
// the body, a u8 message type followed by its fields (u8/i32/u32/i64/u64,
// f64 as its IEEE bits, text as u32 length + bytes, lists as u32 count +
// items). Compact and versioned: the host's first frame (Hello) says which
// protocol it speaks, and the server refuses any other.
//
// Everything the host sends is untrusted (a plugin may have written garbage
// to the socket): decodeHostMessage() bounds every length and count, refuses
// unknown types, trailing bytes and out-of-range values, and never throws;
// the server treats any error as a protocol violation of that plugin.
namespace kubeai::plugin::host {

inline constexpr std::uint32_t kProtocolVersion = 1;
// No message comes near this; a larger length is a violation, not a wait.
inline constexpr std::uint32_t kMaxFrameBytes = 1u << 20;
inline constexpr std::uint32_t kMaxTextBytes = 64u * 1024u;
inline constexpr std::uint32_t kMaxListItems = 4096;

enum class MessageType : std::uint8_t {
  // server -> host
  kCompute = 1,
  kValidate = 2,
  kForget = 3,
  kShutdown = 4,
  // host -> server
  kHello = 0x81,
  kLoadFailed = 0x82,
  kResult = 0x83,
  kLog = 0x84,
  kValidated = 0x85,
};

// --- server -> host ------------------------------------------------------------

struct WireMetric {
  std::int32_t slot = 0;
  std::string name;
  double value = 0.0;
  std::string unit;
  double target = 0.0;
  std::string targetType;
  double ratio = 0.0;
};

struct ComputeRequest {
  std::uint64_t id = 0;
  std::int32_t currentReplicas = 0;
  std::int32_t minReplicas = 0;
  std::int32_t maxReplicas = 0;
  double tolerance = 0.0;
  std::string policyNamespace;
  std::string policyName;
  std::vector<std::pair<std::string, std::string>> parameters;
  std::vector<double> weights;
  std::vector<WireMetric> metrics;  // present metrics in slot order (their ratios are the input's)
  std::int64_t nowUnixMs = 0;
  std::int32_t reason = 0;  // core::CallReason
  std::uint64_t cycle = 0;
};

struct ValidateRequest {
  std::uint64_t id = 0;
  std::string policyNamespace;
  std::string policyName;
  std::vector<std::pair<std::string, std::string>> parameters;
  std::vector<double> weights;
};

// Drop a policy's state slot (destroy_state); no answer.
struct ForgetRequest {
  std::string policyNamespace;
  std::string policyName;
};

// Destroy every state and exit 0; no answer.
struct ShutdownRequest {};

using ServerMessage = std::variant<ComputeRequest, ValidateRequest, ForgetRequest, ShutdownRequest>;

// --- host -> server ------------------------------------------------------------

// The host's first frame once the plugin is loaded.
struct Hello {
  std::uint32_t protocolVersion = kProtocolVersion;
  std::uint32_t abiVersion = 0;
  std::string algorithm;
  bool validates = false;  // has validate_parameters
};

// The host's only frame when the plugin did not load; it exits after it.
struct LoadFailed {
  std::string error;  // the loader's wording, naming the plugin file
};

struct ComputeReply {
  std::uint64_t id = 0;
  bool ok = false;
  std::int32_t desiredReplicas = 0;
  bool held = false;
  std::optional<double> ratio;
  std::string reason;
  std::string error;
};

// A line the plugin logged during request `id`.
struct LogRecord {
  std::uint64_t id = 0;
  std::int32_t level = 1;
  std::string message;
};

struct ValidateReply {
  std::uint64_t id = 0;
  bool ok = false;
  std::string error;
};

using HostMessage = std::variant<Hello, LoadFailed, ComputeReply, LogRecord, ValidateReply>;

// A whole frame (length prefix included), ready to write.
std::string encodeFrame(const ServerMessage& message);
std::string encodeFrame(const HostMessage& message);

// Decodes one frame's body (without its length prefix).
core::Result<HostMessage> decodeHostMessage(std::span<const std::byte> body);
core::Result<ServerMessage> decodeServerMessage(std::span<const std::byte> body);

// Cuts a byte stream into frame bodies. feed() what was read; next() hands
// out one complete body at a time; a length beyond kMaxFrameBytes is an
// error from then on (the stream cannot be resynchronised).
class FrameReader {
 public:
  void feed(std::span<const std::byte> bytes);
  // A complete body, nothing yet (nullopt), or an error.
  core::Result<std::optional<std::vector<std::byte>>> next();
  [[nodiscard]] bool empty() const noexcept { return buffer_.size() == consumed_; }
  // Bytes held, handed out or not (bounded: see feed()).
  [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size(); }

 private:
  std::vector<std::byte> buffer_;
  std::size_t consumed_ = 0;
  bool broken_ = false;
};

}  // namespace kubeai::plugin::host

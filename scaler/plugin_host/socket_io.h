#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "plugin_host/host_protocol.h"

namespace kubeai::plugin::host {

// Writes all of `bytes` to a socket; never raises SIGPIPE (a dead peer is an
// error, not the end of the server). Blocks; the socket buffer of a
// socketpair holds far more than one message.
core::Status writeAll(int fd, std::string_view bytes);

// Why readFrame() returned without a frame.
enum class ReadProblem { kNone, kTimeout, kClosed, kViolation, kIo };

struct ReadOutcome {
  std::optional<std::vector<std::byte>> body;  // set on success
  ReadProblem problem = ReadProblem::kNone;
  std::string error;  // what went wrong, for kViolation and kIo
};

// Reads until `reader` yields one frame body, the peer closes, the stream
// breaks, or `deadline` passes (steady clock; nullopt waits forever).
// With `spin` above zero, the first wait for bytes polls the socket without
// blocking for up to that long (never past `deadline`) before it blocks: an
// answer that comes within the spin costs no wake-up of this thread (on a VM,
// an inter-processor interrupt to a halted vCPU). Only for a wait that is
// expected to end soon (an answer to a request just sent), never an idle one.
ReadOutcome readFrame(int fd, FrameReader& reader, std::optional<std::chrono::steady_clock::time_point> deadline,
                      std::chrono::microseconds spin = std::chrono::microseconds{0});

}  // namespace kubeai::plugin::host

// What a plugin-host process sends the server (a plugin may write anything to
// the socket): plugin::host::FrameReader cutting the byte stream into frames,
// and decodeHostMessage. The first byte sets how the stream is cut into
// reads (feed() sizes), the rest is the stream. Checks: nothing throws; once
// the reader fails it stays failed; every message decoded, encoded again
// (encodeFrame), decodes to the same bytes, and they are the frame's own but
// for the ratio bytes of a result without a ratio (ignored, written as 0).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "fuzz_check.h"
#include "plugin_host/host_protocol.h"

namespace {

namespace host = kubeai::plugin::host;

std::vector<std::byte> bodyOf(const std::string& frame) {
  std::vector<std::byte> body(frame.size() - sizeof(std::uint32_t));
  std::memcpy(body.data(), frame.data() + sizeof(std::uint32_t), body.size());
  return body;
}

void checkBody(const std::vector<std::byte>& body) {
  KUBEAI_FUZZ_CHECK(body.size() <= host::kMaxFrameBytes, std::to_string(body.size()));
  const auto message = host::decodeHostMessage(body);
  if (!message.ok()) {
    KUBEAI_FUZZ_CHECK(!message.error().message.empty(), "an empty error");
    return;
  }
  const std::string frame = host::encodeFrame(message.value());
  std::uint32_t length = 0;
  std::memcpy(&length, frame.data(), sizeof length);  // little-endian, as the hosts that fuzz run here
  KUBEAI_FUZZ_CHECK(length == frame.size() - sizeof length, "length prefix");
  const std::vector<std::byte> written = bodyOf(frame);
  const auto* reply = std::get_if<host::ComputeReply>(&message.value());
  if (reply == nullptr || reply->ratio) {
    KUBEAI_FUZZ_CHECK(written == body, "re-encoded bytes differ");
  } else {
    KUBEAI_FUZZ_CHECK(written.size() == body.size(), "re-encoded result of another size");
  }
  const auto again = host::decodeHostMessage(written);
  KUBEAI_FUZZ_CHECK(again.ok() && again.value().index() == message.value().index(),
                    again.ok() ? "another type" : again.error().message);
  KUBEAI_FUZZ_CHECK(bodyOf(host::encodeFrame(again.value())) == written, "not a fixed point");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::size_t chunk = 1 + data[0] % 64U;  // reads of 1 to 64 bytes, as a socket may give them
  const auto stream = std::as_bytes(std::span(data + 1, size - 1));
  host::FrameReader reader;
  bool broken = false;
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    reader.feed(stream.subspan(at, std::min(chunk, stream.size() - at)));
    for (;;) {
      auto next = reader.next();
      if (!next.ok()) {
        broken = true;
        break;
      }
      KUBEAI_FUZZ_CHECK(!broken, "a frame after the reader failed");
      if (!next.value()) {
        break;
      }
      checkBody(*next.value());
    }
  }
  if (broken) {
    KUBEAI_FUZZ_CHECK(!reader.next().ok(), "the reader recovered from a failure");
  }
  return 0;
}

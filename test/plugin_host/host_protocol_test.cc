#include "plugin_host/host_protocol.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

namespace host = kubeai::plugin::host;

namespace {

std::vector<std::byte> bodyOf(const std::string& frame) {
  REQUIRE(frame.size() >= 4);
  std::vector<std::byte> body(frame.size() - 4);
  std::memcpy(body.data(), frame.data() + 4, body.size());
  return body;
}

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) {
    out.push_back(static_cast<std::byte>(v));
  }
  return out;
}

}  // namespace

TEST_CASE("host protocol: every server message comes back as it was sent") {
  host::ComputeRequest compute;
  compute.id = 42;
  compute.currentReplicas = 3;
  compute.minReplicas = 1;
  compute.maxReplicas = 20;
  compute.tolerance = 0.1;
  compute.policyNamespace = "prod";
  compute.policyName = "chat";
  compute.parameters = {{"minStep", "2"}, {"empty", ""}};
  compute.weights = {1.0, 0.5};
  compute.metrics = {{0, "latencyP99", 250.0, "ms", 200.0, "Value", 1.25},
                     {3, "requestQueueDepth", 40.0, "requests", 10.0, "AverageValue", 1.333}};
  compute.nowUnixMs = 1'700'000'000'123;
  compute.reason = 1;
  compute.cycle = 7;

  auto decoded = host::decodeServerMessage(bodyOf(host::encodeFrame(host::ServerMessage{compute})));
  REQUIRE(decoded.ok());
  const auto& back = std::get<host::ComputeRequest>(decoded.value());
  CHECK(back.id == 42);
  CHECK(back.currentReplicas == 3);
  CHECK(back.maxReplicas == 20);
  CHECK(back.tolerance == doctest::Approx(0.1));
  CHECK(back.policyNamespace == "prod");
  CHECK(back.policyName == "chat");
  CHECK(back.parameters == compute.parameters);
  CHECK(back.weights == compute.weights);
  REQUIRE(back.metrics.size() == 2);
  CHECK(back.metrics[1].name == "requestQueueDepth");
  CHECK(back.metrics[1].targetType == "AverageValue");
  CHECK(back.metrics[0].value == 250.0);
  CHECK(back.nowUnixMs == compute.nowUnixMs);
  CHECK(back.reason == 1);
  CHECK(back.cycle == 7);

  auto forget = host::decodeServerMessage(
      bodyOf(host::encodeFrame(host::ServerMessage{host::ForgetRequest{"prod", "chat"}})));
  REQUIRE(forget.ok());
  CHECK(std::get<host::ForgetRequest>(forget.value()).policyName == "chat");
  auto shutdown = host::decodeServerMessage(bodyOf(host::encodeFrame(host::ServerMessage{host::ShutdownRequest{}})));
  REQUIRE(shutdown.ok());
  CHECK(std::holds_alternative<host::ShutdownRequest>(shutdown.value()));
}

TEST_CASE("host protocol: every host message comes back as it was sent") {
  host::ComputeReply reply;
  reply.id = 9;
  reply.ok = true;
  reply.desiredReplicas = 5;
  reply.held = true;
  reply.ratio = 1.5;
  reply.reason = "up";
  auto decoded = host::decodeHostMessage(bodyOf(host::encodeFrame(host::HostMessage{reply})));
  REQUIRE(decoded.ok());
  const auto& back = std::get<host::ComputeReply>(decoded.value());
  CHECK(back.id == 9);
  CHECK(back.desiredReplicas == 5);
  CHECK(back.held);
  REQUIRE(back.ratio);
  CHECK(*back.ratio == 1.5);
  CHECK(back.reason == "up");

  host::Hello hello;
  hello.abiVersion = 0x10001;
  hello.algorithm = "CappedSmoothRatio";
  hello.validates = true;
  auto helloBack = host::decodeHostMessage(bodyOf(host::encodeFrame(host::HostMessage{hello})));
  REQUIRE(helloBack.ok());
  CHECK(std::get<host::Hello>(helloBack.value()).algorithm == "CappedSmoothRatio");
  CHECK(std::get<host::Hello>(helloBack.value()).protocolVersion == host::kProtocolVersion);

  auto log = host::decodeHostMessage(bodyOf(host::encodeFrame(host::HostMessage{host::LogRecord{9, 2, "hi"}})));
  REQUIRE(log.ok());
  CHECK(std::get<host::LogRecord>(log.value()).message == "hi");
}

TEST_CASE("host protocol: what a plugin scribbles is refused, never trusted") {
  host::ComputeReply reply;
  reply.id = 1;
  reply.ok = true;
  const auto good = bodyOf(host::encodeFrame(host::HostMessage{reply}));

  SUBCASE("truncated at every length") {
    for (std::size_t n = 0; n < good.size(); ++n) {
      CAPTURE(n);
      CHECK_FALSE(host::decodeHostMessage(std::span(good.data(), n)).ok());
    }
  }
  SUBCASE("trailing bytes") {
    auto longer = good;
    longer.push_back(std::byte{0});
    const auto result = host::decodeHostMessage(longer);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message == "bad result message: 1 bytes after the end of the message");
  }
  SUBCASE("a boolean that is neither 0 nor 1") {
    auto bad = good;
    bad[1 + 8] = std::byte{7};  // type, id, then ok
    const auto result = host::decodeHostMessage(bad);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message == "bad result message: ok: 7 is not a boolean");
  }
  SUBCASE("an unknown type, and a server message sent by the host") {
    CHECK(host::decodeHostMessage(bytes({0x99})).error().message == "unknown message type 153");
    CHECK_FALSE(host::decodeHostMessage(bytes({1})).ok());
  }
  SUBCASE("a text longer than the limit") {
    // LoadFailed with a length field of 1 MiB and no bytes behind it.
    const auto result = host::decodeHostMessage(bytes({0x82, 0, 0, 0x10, 0}));
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message.find("text of 1048576 bytes") != std::string::npos);
  }
  SUBCASE("a negative or non-finite decided ratio") {
    host::ComputeReply negative = reply;
    negative.ratio = -1.0;
    CHECK_FALSE(host::decodeHostMessage(bodyOf(host::encodeFrame(host::HostMessage{negative}))).ok());
  }
}

TEST_CASE("FrameReader cuts a stream into frames however it arrives") {
  const std::string a = host::encodeFrame(host::HostMessage{host::LogRecord{1, 1, "first"}});
  const std::string b = host::encodeFrame(host::HostMessage{host::LogRecord{1, 1, "second"}});
  const std::string stream = a + b;
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7}, stream.size()}) {
    CAPTURE(chunk);
    host::FrameReader reader;
    std::vector<std::string> messages;
    for (std::size_t at = 0; at < stream.size(); at += chunk) {
      const std::size_t n = std::min(chunk, stream.size() - at);
      reader.feed(std::span(reinterpret_cast<const std::byte*>(stream.data() + at), n));
      for (;;) {
        auto next = reader.next();
        REQUIRE(next.ok());
        if (!next.value()) {
          break;
        }
        auto decoded = host::decodeHostMessage(*next.value());
        REQUIRE(decoded.ok());
        messages.push_back(std::get<host::LogRecord>(decoded.value()).message);
      }
    }
    CHECK(messages == std::vector<std::string>{"first", "second"});
    CHECK(reader.empty());
  }
}

TEST_CASE("FrameReader refuses an oversized or empty frame, and stays broken") {
  host::FrameReader reader;
  const auto huge = bytes({0xff, 0xff, 0xff, 0x7f});
  reader.feed(huge);
  auto next = reader.next();
  REQUIRE_FALSE(next.ok());
  CHECK(next.error().message == "frame of 2147483647 bytes (1 to 1048576)");
  CHECK_FALSE(reader.next().ok());

  host::FrameReader empty;
  empty.feed(bytes({0, 0, 0, 0}));
  CHECK_FALSE(empty.next().ok());
}

TEST_CASE("FrameReader keeps no more than the frame it waits for, however the stream is cut") {
  // Each read ends inside the next frame: what was handed out must not pile up.
  const std::string frame = host::encodeFrame(host::HostMessage{host::LogRecord{1, 1, std::string(100, 'x')}});
  host::FrameReader reader;
  std::size_t frames = 0;
  const std::string stream = [&] {
    std::string all;
    for (int i = 0; i < 2000; ++i) {
      all += frame;
    }
    return all;
  }();
  const std::size_t chunk = frame.size() + 7;  // never a whole number of frames
  for (std::size_t at = 0; at < stream.size(); at += chunk) {
    const std::size_t n = std::min(chunk, stream.size() - at);
    reader.feed(std::span(reinterpret_cast<const std::byte*>(stream.data() + at), n));
    for (;;) {
      auto next = reader.next();
      REQUIRE(next.ok());
      if (!next.value()) {
        break;
      }
      ++frames;
    }
    CHECK(reader.buffered() <= 2 * chunk + frame.size());
  }
  CHECK(frames == 2000);
}

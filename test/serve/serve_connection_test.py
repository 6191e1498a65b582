#!/usr/bin/python3
"""KEDA's gRPC connections (issue 15, item 4): keepalive and the bound on
concurrent streams per connection, on the real binary.

- KeepaliveTest: a client connection that dies silently (no FIN: a node lost,
  a NAT entry dropped) is closed by serve's keepalive within time + timeout,
  and its StreamIsActive subscription with it; a live but silent stream is
  kept, its pings answered, for as long as it lasts. The silent death is a TCP
  proxy between the client and serve that, on command, stops forwarding and
  keeps both sockets open.
- MaxStreamsTest: with --grpc-max-streams-per-connection 2, a third stream on
  the same connection waits (gRPC's client queues it) until one of the two
  ends; on another connection it starts at once.

Run by CTest (test/serve/CMakeLists.txt) with Debian's /usr/bin/python3:
  serve_connection_test.py --scaler PATH/kubeai-scaler --proto proto/externalscaler.proto [--time-scale N]
"""

import select
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree for serve_helpers
# serve_helpers first: it sets gRPC's environment before grpc is loaded.
import serve_helpers as h  # noqa: E402
from serve_helpers import GPU_70, ServeTestCase, StreamReader, channel_options, policy_yaml, ref, wait_until  # noqa: E402

import grpc  # noqa: E402

# The streams' first message must not wait for an evaluation.
FIRST_MESSAGE_SECONDS = 2.0
# The flags of KeepaliveTest: small, so a dead connection goes in ~2 s.
KEEPALIVE_TIME_SECONDS = 1.0
KEEPALIVE_TIMEOUT_SECONDS = 1.0
# Past time + timeout: the timers' granularity and a loaded machine.
KEEPALIVE_SLACK_SECONDS = 2.0

HTTP2_PING = 0x6
HTTP2_ACK = 0x1

CANCELLED_STREAMS = 'kubeai_scaler_grpc_requests_total{code="CANCELLED",method="StreamIsActive"}'


class FreezableProxy:
    """A TCP proxy on 127.0.0.1 to `target` ("host:port"), one thread per connection.

    freeze() stops all forwarding, both ways, and keeps every socket open: to
    either end the peer is alive as far as TCP can tell, but nothing it sends
    arrives. Counts the HTTP/2 PING frames (not ACKs) serve sends.
    """

    def __init__(self, target):
        host, port = target.rsplit(":", 1)
        self._target = (host, int(port))
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self.address = "127.0.0.1:%d" % self._listener.getsockname()[1]
        self._frozen = threading.Event()
        self._closed = threading.Event()
        self._sockets = []
        self._lock = threading.Lock()
        self.server_pings = 0
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self):
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client, upstream):
        from_server = b""  # serve's bytes not yet parsed into frames
        while not self._closed.is_set():
            if self._frozen.is_set():
                self._closed.wait(0.05)  # frozen: read nothing, send nothing, close nothing
                continue
            readable, _, _ = select.select([client, upstream], [], [], 0.05)
            if self._frozen.is_set():
                continue  # what arrived after the freeze is never forwarded
            for source in readable:
                try:
                    data = source.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                destination = upstream if source is client else client
                try:
                    destination.sendall(data)
                except OSError:
                    return
                if source is upstream:
                    from_server = self._count_pings(from_server + data)

    def _count_pings(self, data):
        # HTTP/2 frames (RFC 9113 §4.1): 3 bytes length, type, flags, 4 bytes stream id.
        # serve's side of a plaintext connection is frames from its first byte.
        while len(data) >= 9:
            length = int.from_bytes(data[0:3], "big")
            if len(data) < 9 + length:
                break
            if data[3] == HTTP2_PING and not data[4] & HTTP2_ACK:
                with self._lock:
                    self.server_pings += 1
            data = data[9 + length:]
        return data

    def pings(self):
        with self._lock:
            return self.server_pings

    def freeze(self):
        self._frozen.set()

    def close(self):
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()


class KeepaliveTest(ServeTestCase):

    def setUp(self):
        self.start_serve(self, self.addCleanup,
                         policies={"gpu.yaml": policy_yaml("gpu", "default", GPU_70)},
                         metrics={"default/gpu": {"currentReplicas": 2, "gpuUtilizationPercent": 140}},
                         extra_args=["--grpc-keepalive-time", "%gs" % KEEPALIVE_TIME_SECONDS,
                                     "--grpc-keepalive-timeout", "%gs" % KEEPALIVE_TIMEOUT_SECONDS])
        self.proxy = FreezableProxy(self.serve.grpc_address)
        self.addCleanup(self.proxy.close)
        # The client pings nothing itself (KEDA's sets no keepalive either).
        self.proxied = grpc.insecure_channel(self.proxy.address, options=channel_options())
        self.addCleanup(self.proxied.close)
        self.proxied_stub = h.STUBS.pb_grpc.ExternalScalerStub(self.proxied)

    def cancelled_streams(self):
        return self.sample(self.scrape(), CANCELLED_STREAMS) or 0

    def test_a_silently_dead_connection_loses_its_stream_within_keepalive_time_plus_timeout(self):
        reader = StreamReader(self.proxied_stub.StreamIsActive(ref("gpu"), timeout=120))
        try:
            item = reader.next(FIRST_MESSAGE_SECONDS, "first StreamIsActive message through the proxy")
            self.assertEqual(item[0], "message", item)
            self.assertTrue(item[1].result)
            # Alive and silent (the value does not change): serve pings, the
            # client answers, the stream stays. Three pings: C-core's default
            # would have stopped at two without data (GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA).
            wait_until(lambda: self.proxy.pings() >= 3, 4 * KEEPALIVE_TIME_SECONDS + KEEPALIVE_SLACK_SECONDS,
                       "serve to ping a live, silent connection three times")
            self.assertEqual(self.cancelled_streams(), 0, "a live stream whose pings are answered was dropped")

            self.proxy.freeze()
            frozen = time.monotonic()
            wait_until(lambda: self.cancelled_streams() >= 1,
                       KEEPALIVE_TIME_SECONDS + KEEPALIVE_TIMEOUT_SECONDS + KEEPALIVE_SLACK_SECONDS,
                       "serve to drop the dead connection's StreamIsActive (%s)" % CANCELLED_STREAMS)
            took = time.monotonic() - frozen
            print("dead connection's stream dropped %.2f s after the freeze (time %gs + timeout %gs)"
                  % (took, KEEPALIVE_TIME_SECONDS, KEEPALIVE_TIMEOUT_SECONDS), file=sys.stderr)
            # A direct connection is unaffected and serve goes on serving.
            self.assertEqual(self.desired("gpu"), 4)
        finally:
            reader.call.cancel()  # the client never hears of it: its connection is frozen

    def test_the_flags_are_checked(self):
        for flags, says in ((["--grpc-keepalive-time", "500ms"], "--grpc-keepalive-time must be between 1s and 24h"),
                            (["--grpc-keepalive-timeout", "0s"], "--grpc-keepalive-timeout must be between 1s"),
                            (["--grpc-keepalive-time", "10"], "--grpc-keepalive-time"),
                            (["--grpc-max-streams-per-connection", "0"], "--grpc-max-streams-per-connection")):
            with self.subTest(flags=flags):
                done = subprocess.run([h.ARGS.scaler, "serve", "--policy-dir", self.policy_dir,
                                       "--metrics-file", self.metrics_file] + flags,
                                      capture_output=True, text=True, timeout=h.seconds(10))
                self.assertEqual(done.returncode, 2, done.stderr)
                self.assertIn(says, done.stderr)


class MaxStreamsTest(ServeTestCase):

    def setUp(self):
        self.start_serve(self, self.addCleanup,
                         policies={"gpu.yaml": policy_yaml("gpu", "default", GPU_70)},
                         metrics={"default/gpu": {"currentReplicas": 2, "gpuUtilizationPercent": 140}},
                         extra_args=["--grpc-max-streams-per-connection", "2"])

    def test_a_third_stream_on_one_connection_starts_when_one_of_two_ends(self):
        readers = []
        try:
            for i in range(2):
                readers.append(StreamReader(self.stub.StreamIsActive(ref("gpu"), timeout=60)))
                self.assertEqual(readers[-1].next(FIRST_MESSAGE_SECONDS, "stream %d's first message" % i)[0],
                                 "message")
            third = StreamReader(self.stub.StreamIsActive(ref("gpu"), timeout=60))
            readers.append(third)
            # The bound is per connection: a stream on another connection starts at once.
            other_channel = grpc.insecure_channel(self.serve.grpc_address, options=channel_options())
            self.addCleanup(other_channel.close)
            other = StreamReader(h.STUBS.pb_grpc.ExternalScalerStub(other_channel).StreamIsActive(ref("gpu"),
                                                                                               timeout=60))
            readers.append(other)
            self.assertEqual(other.next(FIRST_MESSAGE_SECONDS, "a stream on a second connection")[0], "message")
            # The third, opened before that one, has had as long and got nothing:
            # the client holds it back (SETTINGS_MAX_CONCURRENT_STREAMS = 2). An
            # absence, so a bounded wait: it is not what the test waits for.
            with self.assertRaises(AssertionError):
                third.next(1.0, "the third stream on the full connection")
            readers[0].cancel()
            item = third.next(FIRST_MESSAGE_SECONDS, "the third stream once the first ended")
            self.assertEqual(item[0], "message", item)
            self.assertTrue(item[1].result)
            # Unary calls are streams too: with two streams open again, KEDA's
            # GetMetrics on that connection would wait the same way, past its
            # deadline. Hence a default far above the ScaledObjects of one scaler.
            with self.assertRaises(grpc.RpcError) as caught:
                self.get_metrics(ref("gpu"), "kubeai-gpu", timeout=h.seconds(1.0))
            self.assertEqual(caught.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)
            readers[1].cancel()
            self.assertEqual(self.desired("gpu"), 4)
        finally:
            for reader in readers:
                reader.cancel()


def setup(args, stubs):
    pass


if __name__ == "__main__":
    h.run_tests(setup)

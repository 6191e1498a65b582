#!/usr/bin/python3
"""KEDA's calls from a client in another language: Debian's python3-grpcio.

Generates the Python stubs from proto/externalscaler.proto into a temporary
directory (python3 -m grpc_tools.protoc), starts store_server (fixed entries,
see store_server.cc) and makes the calls KEDA makes on each evaluation:
GetMetricSpec, GetMetrics, IsActive; the first message of StreamIsActive; and
the error codes for an unknown policy, a pending and a stale one.

  keda_client_test.py --server PATH/store_server --proto PATH/externalscaler.proto
"""

import argparse
import os
import subprocess
import sys
import tempfile
import unittest

import grpc

DEADLINE_SECONDS = 5

ARGS = None
pb = None
pb_grpc = None


def generate_stubs(proto_path, out_dir):
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc",
         "-I", os.path.dirname(os.path.abspath(proto_path)),
         "--python_out", out_dir, "--grpc_python_out", out_dir,
         os.path.basename(proto_path)],
        check=True)
    sys.path.insert(0, out_dir)
    global pb, pb_grpc
    import externalscaler_pb2
    import externalscaler_pb2_grpc
    pb, pb_grpc = externalscaler_pb2, externalscaler_pb2_grpc


class KedaClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # stdin is ours: closing it (or dying) stops the server.
        cls.server = subprocess.Popen([ARGS.server], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = cls.server.stdout.readline().strip()
        if not line.startswith("listening on 127.0.0.1:"):
            cls.server.kill()
            raise RuntimeError("store_server did not start: %r" % line)
        cls.address = line[len("listening on "):]
        cls.channel = grpc.insecure_channel(cls.address)
        cls.stub = pb_grpc.ExternalScalerStub(cls.channel)

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.server.stdin.close()
        if cls.server.wait(timeout=10) != 0:
            raise RuntimeError("store_server exited with %d" % cls.server.returncode)

    def ref(self, name, namespace="default", **metadata):
        return pb.ScaledObjectRef(name=name, namespace=namespace, scalerMetadata=metadata)

    def test_get_metric_spec(self):
        response = self.stub.GetMetricSpec(self.ref("chat"), timeout=DEADLINE_SECONDS)
        self.assertEqual(len(response.metricSpecs), 1)
        spec = response.metricSpecs[0]
        self.assertEqual(spec.metricName, "kubeai-chat")
        self.assertEqual(spec.targetSize, 1)
        self.assertEqual(spec.targetSizeFloat, 1.0)

    def test_get_metrics_as_keda_sends_it(self):
        # KEDA names the policy through the trigger metadata and asks for the
        # metric it was given, possibly with its "sN-" prefix and another case.
        for metric_name in ("kubeai-chat", "s0-kubeai-chat", "S1-KUBEAI-CHAT"):
            with self.subTest(metric_name=metric_name):
                request = pb.GetMetricsRequest(
                    scaledObjectRef=self.ref("frontend", "default", policyName="chat", policyNamespace="default"),
                    metricName=metric_name)
                response = self.stub.GetMetrics(request, timeout=DEADLINE_SECONDS)
                self.assertEqual(len(response.metricValues), 1)
                value = response.metricValues[0]
                self.assertEqual(value.metricName, metric_name)
                self.assertEqual(value.metricValue, 3)
                self.assertEqual(value.metricValueFloat, 3.0)

    def test_get_metrics_wrong_name(self):
        request = pb.GetMetricsRequest(scaledObjectRef=self.ref("chat"), metricName="kubeai-other")
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.GetMetrics(request, timeout=DEADLINE_SECONDS)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn('expected "kubeai-chat"', caught.exception.details())

    def test_is_active(self):
        self.assertTrue(self.stub.IsActive(self.ref("chat"), timeout=DEADLINE_SECONDS).result)
        self.assertFalse(self.stub.IsActive(self.ref("idle", "team"), timeout=DEADLINE_SECONDS).result)

    def test_stream_is_active_first_message(self):
        stream = self.stub.StreamIsActive(self.ref("chat"), timeout=DEADLINE_SECONDS)
        try:
            first = next(stream)
            self.assertTrue(first.result)
        finally:
            stream.cancel()

    def test_not_found(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.IsActive(self.ref("missing"), timeout=DEADLINE_SECONDS)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)
        self.assertEqual(caught.exception.details(), "policy default/missing not found")

        stream = self.stub.StreamIsActive(self.ref("missing"), timeout=DEADLINE_SECONDS)
        with self.assertRaises(grpc.RpcError) as caught:
            next(stream)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_unavailable_names_the_policy(self):
        for name, expected in (("warmup", "policy default/warmup is pending: not evaluated yet"),
                               ("old", "policy default/old is stale: metrics failed for 2m")):
            with self.subTest(name=name):
                with self.assertRaises(grpc.RpcError) as caught:
                    self.stub.GetMetrics(pb.GetMetricsRequest(scaledObjectRef=self.ref(name),
                                                              metricName="kubeai-" + name),
                                         timeout=DEADLINE_SECONDS)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.UNAVAILABLE)
                self.assertEqual(caught.exception.details(), expected)

    def test_invalid_argument(self):
        with self.assertRaises(grpc.RpcError) as caught:
            self.stub.IsActive(self.ref("", ""), timeout=DEADLINE_SECONDS)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("no policy name", caught.exception.details())


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--proto", required=True)
    ARGS, rest = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="kubeai-pystubs-") as out_dir:
        generate_stubs(ARGS.proto, out_dir)
        program = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    sys.exit(0 if program.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()

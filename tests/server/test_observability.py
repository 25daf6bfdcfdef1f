"""Observability of actd: Prometheus metrics whose counts match the calls
made, the access log (text and JSON), and the per-call timing trailers.

Operators run the service from these signals alone, so their values are
checked exactly, not just their presence.
"""

import json
import re

import numpy as np

import actd_harness as h
from actd_harness import grpc


class ObservabilityTest(h.ActdTestCase):

    def test_metrics_count_the_calls(self):
        server = self.start()
        stub = server.stub()
        info = stub.GetServerInfo(h.pb.GetServerInfoRequest(), timeout=5)
        bytes_in = bytes_out = 0
        calls = []
        for size in (10, 20, 30):
            req = h.forward_request("relu", np.ones(size, np.float32))
            resp = stub.Forward(req, timeout=5)
            bytes_in += req.ByteSize()
            bytes_out += resp.ByteSize()
        req = h.forward_request("sigmoid", np.ones(7, np.float64))
        breq = h.pb.BackwardRequest(activation=req.activation, input=req.input)
        resp = stub.Backward(breq, timeout=5)
        bytes_in += breq.ByteSize()
        bytes_out += resp.ByteSize()
        bad = h.forward_request("no_such_activation", np.ones(5, np.float32))
        for _ in range(2):
            with self.assertRaises(grpc.RpcError) as cm:
                stub.Forward(bad, timeout=5)
            bytes_in += bad.ByteSize()
        bad_code = cm.exception.code().name

        s = server.metrics()
        self.assertEqual(h.metric(s, "actd_requests_total", method="Forward",
                                  activation="relu", dtype="float32", code="OK"), 3)
        self.assertEqual(h.metric(s, "actd_requests_total", method="Backward",
                                  activation="sigmoid", dtype="float64", code="OK"), 1)
        # Names the server does not serve share one label value.
        self.assertEqual(h.metric(s, "actd_requests_total", method="Forward",
                                  activation="unknown", dtype="float32",
                                  code=bad_code), 2)
        self.assertEqual(sum(v for n, _, v in s if n == "actd_requests_total"), 6)
        self.assertEqual(h.metric(s, "actd_request_duration_seconds_count",
                                  method="Forward", activation="relu"), 3)
        self.assertEqual(h.metric(s, "actd_request_duration_seconds_bucket",
                                  method="Forward", activation="relu", le="+Inf"), 3)
        self.assertGreater(h.metric(s, "actd_request_duration_seconds_sum",
                                    method="Forward", activation="relu"), 0)
        self.assertEqual(h.metric(s, "actd_elements_total", method="Forward"), 60)
        self.assertEqual(h.metric(s, "actd_elements_total", method="Backward"), 7)
        self.assertEqual(h.metric(s, "actd_bytes_total", direction="in"), bytes_in)
        self.assertEqual(h.metric(s, "actd_bytes_total", direction="out"), bytes_out)
        self.assertEqual(h.metric(s, "actd_inflight_requests"), 0)
        self.assertEqual(h.metric(s, "actd_build_info", version=info.version,
                                  isa=info.isa), 1)
        text = server.metrics_text()
        self.assertIn("# TYPE actd_request_duration_seconds histogram", text)
        self.assertIn("# TYPE actd_requests_total counter", text)

    def test_unknown_names_share_one_series(self):
        # Each name a client makes up must not become a series of its own:
        # that would grow the server's memory and Prometheus' without bound.
        server = self.start()
        stub = server.stub()
        stub.Forward(h.forward_request("relu", np.ones(2, np.float32)), timeout=5)
        before = len(server.metrics())
        for i in range(20):
            self.assertRpcError(
                grpc.StatusCode.NOT_FOUND, stub.Forward,
                h.forward_request("made_up_%d" % i, np.ones(2, np.float32)), timeout=5)
        s = server.metrics()
        labels = {dict(l).get("activation") for n, l, _ in s
                  if n == "actd_requests_total"}
        self.assertEqual(labels, {"relu", "unknown"})
        self.assertEqual(h.metric(s, "actd_requests_total", method="Forward",
                                  activation="unknown", dtype="float32",
                                  code="NOT_FOUND"), 20)
        # One new requests series, one new latency histogram (its buckets,
        # sum and count): the same growth for 20 names as for one.
        buckets = sum(1 for n, l, _ in s if n == "actd_request_duration_seconds_bucket"
                      and dict(l).get("activation") == "relu")
        self.assertEqual(len(s) - before, 1 + buckets + 2)

    def test_metrics_port_zero_means_no_listener(self):
        server = self.start(metrics_port=0)
        self.assertEqual(h.listening_ports(server.pid), {server.port})
        self.assertIn("metrics off", server.log())
        with_metrics = self.start()
        self.assertEqual(h.listening_ports(with_metrics.pid),
                         {with_metrics.port, with_metrics.metrics_port})

    def access_lines(self, log):
        return [l for l in log.splitlines() if re.search(r"request id=\d+ protocol=", l)]

    def test_access_log_line_per_request(self):
        server = self.start("--access_log", "--max_elements", 100)
        stub = server.stub()
        stub.Forward(h.forward_request("relu", np.ones((2, 3), np.float32)), timeout=5)
        stub.Forward(h.forward_request("tanh", np.ones(4, np.float64)), timeout=5)
        self.assertRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, stub.Forward,
                            h.forward_request("relu", np.ones(101, np.float32)),
                            timeout=5)
        lines = self.access_lines(server.log())
        self.assertEqual(len(lines), 3, server.log())
        pattern = (r"\[info\] request id=(\d+) protocol=native "
                   r"method=Forward activation=(\w+) dtype=(\w+) elements=(\d+) "
                   r"code=(\w+) duration_us=\d+ peer=ipv4:127\.0\.0\.1:\d+$")
        fields = [re.search(pattern, l) for l in lines]
        self.assertTrue(all(fields), lines)
        self.assertEqual(sorted(int(m.group(1)) for m in fields), [1, 2, 3])
        self.assertEqual([m.groups()[1:] for m in fields], [
            ("relu", "float32", "6", "OK"),
            ("tanh", "float64", "4", "OK"),
            ("relu", "float32", "101", "RESOURCE_EXHAUSTED")])

    def test_no_access_log_by_default(self):
        server = self.start()
        server.stub().Forward(h.forward_request("relu", np.ones(3, np.float32)), timeout=5)
        self.assertEqual(self.access_lines(server.log()), [])

    def test_json_log_lines(self):
        server = self.start("--log_format", "json", "--access_log")
        stub = server.stub()
        stub.Forward(h.forward_request("relu", np.ones(3, np.float32)), timeout=5)
        with self.assertRaises(grpc.RpcError):
            stub.Forward(h.pb.ForwardRequest(
                activation=h.pb.ActivationSpec(name='quo"te\\name'),
                input=h.raw_tensor(np.ones(2, np.float32))), timeout=5)
        lines = server.log().splitlines()
        self.assertGreaterEqual(len(lines), 3)
        records = [json.loads(l) for l in lines]  # every line, gRPC's too
        access = [r for r in records if r["msg"] == "request"]
        for r in records:
            self.assertRegex(r["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
            if r not in access:
                self.assertEqual(set(r), {"time", "level", "msg"})
        # The access log's fields are JSON fields, typed.
        self.assertEqual(len(access), 2, lines)
        for r in access:
            self.assertEqual(set(r), {"time", "level", "msg", "request_id", "protocol",
                                      "method", "activation", "dtype", "elements",
                                      "code", "duration_us", "peer"})
            self.assertIsInstance(r["duration_us"], int)
            self.assertRegex(r["peer"], r"^ipv4:127\.0\.0\.1:\d+$")
        self.assertEqual(
            [(r["request_id"], r["protocol"], r["method"], r["activation"],
              r["dtype"], r["elements"], r["code"]) for r in access],
            [(1, "native", "Forward", "relu", "float32", 3, "OK"),
             (2, "native", "Forward", 'quo"te\\name', "float32", 2, "NOT_FOUND")])

    def test_forward_timing_trailers(self):
        server = self.start()
        stub = server.stub(h.BIG_CHANNEL)
        _, call = stub.Forward.with_call(
            h.forward_request("gelu", np.linspace(-3, 3, 1 << 20)), timeout=30)
        trailers = dict(call.trailing_metadata())
        for key in ("actd-decode-us", "actd-compute-us", "actd-encode-us"):
            self.assertRegex(trailers.get(key, ""), r"^\d+\.\d{3}$", trailers)
        self.assertGreater(float(trailers["actd-compute-us"]), 0)

    def test_backward_timing_trailers(self):
        # Backward goes through the same handler and sends the same trailers;
        # 4M float64 elements take well over a millisecond to compute.
        server = self.start()
        stub = server.stub(h.BIG_CHANNEL)
        req = h.forward_request("gelu", np.linspace(-3, 3, 4 << 20))
        _, call = stub.Backward.with_call(
            h.pb.BackwardRequest(activation=req.activation, input=req.input), timeout=30)
        trailers = dict(call.trailing_metadata())
        for key in ("actd-decode-us", "actd-compute-us", "actd-encode-us"):
            self.assertRegex(trailers.get(key, ""), r"^\d+\.\d{3}$", trailers)
        self.assertGreater(float(trailers["actd-compute-us"]), 1000, trailers)


if __name__ == "__main__":
    h.main()

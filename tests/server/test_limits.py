"""Size and load limits of actd: the 256 MiB default message size, the
--max_elements, --max_batch_items and --max_inflight limits, each refused
with RESOURCE_EXHAUSTED and a message naming the flag to change.

A service that is reachable by many clients must bound what one call can
cost and say clearly which knob bounds it.
"""

import concurrent.futures
import time

import numpy as np

import actd_harness as h
from actd_harness import grpc


def batch(n, elements=4):
    items = []
    for i in range(n):
        items.append(h.pb.EvaluateRequest(
            id="item-%d" % i,
            forward=h.forward_request("relu", np.full(elements, -1.0 + i, np.float32))))
    return h.pb.BatchEvaluateRequest(items=items)


class LimitsTest(h.ActdTestCase):

    def test_default_message_limit_carries_64_mib(self):
        server = self.start()
        info = server.stub().GetServerInfo(h.pb.GetServerInfoRequest(), timeout=5)
        self.assertEqual(info.max_message_bytes, 256 * h.MiB)
        n = 16 * h.MiB  # 16M float32 elements: 64 MiB each way
        x = np.arange(n, dtype=np.float32) - np.float32(n // 2)
        response = server.stub(h.BIG_CHANNEL).Forward(
            h.forward_request("relu", x), timeout=60)
        self.assertEqual(list(response.output.shape), [n])
        self.assertEqual(response.output.dtype, h.pb.DATA_TYPE_FLOAT32)
        self.assertEqual(len(response.output.raw_data), 4 * n)
        y = h.from_tensor(response.output)
        np.testing.assert_array_equal(y, np.maximum(x, 0))

    def test_max_elements(self):
        server = self.start("--max_elements", 1000)
        stub = server.stub()
        ok = stub.Forward(h.forward_request("relu", -np.ones(1000, np.float32)), timeout=5)
        self.assertEqual(len(ok.output.raw_data), 4000)
        err = self.assertRpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, stub.Forward,
            h.forward_request("relu", np.ones(1001, np.float32)), timeout=5)
        self.assertIn("1001", err.details())
        self.assertIn("1000", err.details())
        self.assertIn("--max_elements", err.details())
        # Backward's tensors are bounded the same way.
        request = h.forward_request("sigmoid", np.ones((7, 143), np.float64))
        err = self.assertRpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, stub.Backward,
            h.pb.BackwardRequest(activation=request.activation, input=request.input),
            timeout=5)
        self.assertIn("--max_elements", err.details())

    def test_max_batch_items(self):
        server = self.start("--max_batch_items", 2)
        stub = server.stub()
        ok = stub.BatchEvaluate(batch(2), timeout=5)
        self.assertEqual([r.id for r in ok.results], ["item-0", "item-1"])
        self.assertEqual([r.code for r in ok.results], [0, 0])
        np.testing.assert_array_equal(h.from_tensor(ok.results[1].forward.output),
                                      np.zeros(4, np.float32))
        err = self.assertRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                  stub.BatchEvaluate, batch(3), timeout=5)
        self.assertIn("3 items", err.details())
        self.assertIn("limit of 2", err.details())
        self.assertIn("--max_batch_items", err.details())

    def test_max_inflight_refuses_while_one_computes(self):
        # One large call in compute (seen on the in-flight gauge), then small
        # calls: each is refused at once, and the large one completes.
        server = self.start("--max_inflight", 1, "--compute_threads", 1)
        big = server.stub(h.BIG_CHANNEL)
        small = server.stub()
        n = 16 * h.MiB
        x = np.linspace(-4, 4, n, dtype=np.float64)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            future = big.Forward.future(h.forward_request("gelu", x), timeout=60)
            server.wait_inflight(1)
            for _ in range(3):
                err = self.assertRpcError(
                    grpc.StatusCode.RESOURCE_EXHAUSTED, small.Forward,
                    h.forward_request("relu", np.ones(8, np.float32)), timeout=5)
                self.assertIn("--max_inflight", err.details())
            response = future.result(timeout=60)
        self.assertEqual(len(response.output.raw_data), 8 * n)
        # Once the slot is free, calls are admitted again.
        small.Forward(h.forward_request("relu", np.ones(8, np.float32)), timeout=5)

    def test_max_inflight_concurrent_large_calls(self):
        # Maxout through a 2048 x 1024 float64 weight: about a second of
        # compute per call, so the four calls overlap.
        server = self.start("--max_inflight", 1)
        rng = np.random.default_rng(0)
        request = h.forward_request("maxout", rng.standard_normal((2048, 1024)))
        request.activation.weights["weight"].CopyFrom(
            h.raw_tensor(rng.standard_normal((2048, 1024))))
        stubs = [server.stub(h.BIG_CHANNEL) for _ in range(4)]
        futures = [s.Forward.future(request, timeout=60) for s in stubs]
        ok, refused = 0, 0
        for f in futures:
            try:
                response = f.result(timeout=60)
                self.assertEqual(len(response.output.raw_data), 8 * 2048 * 1024)
                ok += 1
            except grpc.RpcError as e:
                self.assertEqual(e.code(), grpc.StatusCode.RESOURCE_EXHAUSTED, e.details())
                self.assertIn("--max_inflight", e.details())
                self.assertIn("1 calls already in compute", e.details())
                refused += 1
        self.assertGreaterEqual(ok, 1)
        self.assertGreaterEqual(refused, 1)
        self.assertEqual(ok + refused, 4)


if __name__ == "__main__":
    h.main()

"""Deadlines and cancellation in actd: a call whose deadline cannot be met
fails with DEADLINE_EXCEEDED at once, and a call the client gives up on stops
using CPU soon after, instead of computing a result nobody will read.

CPU use is read from /proc/<pid>/stat of the server process.
"""

import time

import numpy as np

import actd_harness as h
from actd_harness import grpc

# CPU seconds the idle server may use in one second (gRPC's own timers,
# scheduling noise); far below what the refused work would cost.
IDLE_CPU = 0.2


class DeadlinesTest(h.ActdTestCase):

    def cpu_over(self, server, seconds):
        before = server.cpu_seconds()
        time.sleep(seconds)
        return server.cpu_seconds() - before

    def test_one_millisecond_deadline_on_16m_elements(self):
        server = self.start()
        stub = server.stub(h.BIG_CHANNEL)
        request = h.forward_request("gelu", np.linspace(-3, 3, 16 * h.MiB,
                                                        dtype=np.float32))
        start = time.monotonic()
        self.assertRpcError(grpc.StatusCode.DEADLINE_EXCEEDED, stub.Forward,
                            request, timeout=0.001)
        self.assertLess(time.monotonic() - start, 1.0)
        self.assertLess(self.cpu_over(server, 1.0), IDLE_CPU)
        # The server is still healthy and serves the next call.
        response = stub.Forward(h.forward_request("relu", -np.ones(3, np.float32)),
                                timeout=5)
        np.testing.assert_array_equal(h.from_tensor(response.output), np.zeros(3))

    def test_shape_the_data_does_not_back_is_invalid_not_late(self):
        # Validation before admission: 10^12 elements claimed, 8 bytes sent.
        # The claim is refused for what it is, never costed against the
        # deadline. (A valid request too large for its deadline is refused at
        # admission: tests/service, Deadline.TooShortForTheSizeIsDeadlineExceeded,
        # whose C++ client sends the data fast enough to get there in time.)
        server = self.start()
        request = h.pb.ForwardRequest(
            activation=h.pb.ActivationSpec(name="relu"),
            input=h.pb.Tensor(dtype=h.pb.DATA_TYPE_FLOAT32, shape=[10**12],
                              raw_data=bytes(8)))
        err = self.assertRpcError(grpc.StatusCode.INVALID_ARGUMENT,
                                  server.stub().Forward, request, timeout=1.0)
        self.assertIn("input.raw_data: 2 elements but shape [1000000000000] "
                      "has 1000000000000 elements", err.details())
        trailers = dict(err.trailing_metadata() or ())
        self.assertEqual(trailers.get("actd-compute-us"), "0.000", trailers)
        samples = server.metrics()
        self.assertEqual(h.metric(samples, "actd_requests_total", method="Forward",
                                  activation="relu", code="INVALID_ARGUMENT"), 1)
        self.assertEqual(h.metric(samples, "actd_elements_total", method="Forward"), 0)

    def test_cancelled_call_stops_computing(self):
        # One compute thread and 24M float64 elements: about half a second of
        # CPU in compute alone. The client cancels once the server reports the
        # call in compute.
        server = self.start("--compute_threads", 1)
        stub = server.stub(h.BIG_CHANNEL)
        n = 24 * h.MiB
        request = h.forward_request("gelu", np.linspace(-3, 3, n, dtype=np.float64))
        future = stub.Forward.future(request, timeout=60)
        server.wait_inflight(1)
        self.assertTrue(future.cancel())
        self.assertLess(self.cpu_over(server, 1.0), IDLE_CPU)
        with self.assertRaises(grpc.FutureCancelledError):
            future.result(timeout=5)
        # The server saw the cancellation: the call is booked CANCELLED, not OK.
        end = time.monotonic() + 5
        while True:
            samples = server.metrics()
            codes = {l["code"]: v for n_, l, v in samples
                     if n_ == "actd_requests_total" and l.get("method") == "Forward"}
            if codes or time.monotonic() > end:
                break
            time.sleep(0.05)
        self.assertEqual(codes, {"CANCELLED": 1.0})
        self.assertEqual(h.metric(samples, "actd_inflight_requests"), 0)


if __name__ == "__main__":
    h.main()

"""Graceful drain of actd on SIGTERM: calls already in flight finish with
their full results, the server stops taking new calls, and the process exits
0 within --shutdown_grace; a call that outlives the grace period is cut off
so the process still exits on time.

Rolling deployments send SIGTERM and wait for the grace period; losing
in-flight work or hanging past it breaks them.
"""

import math
import signal
import time

import numpy as np

import actd_harness as h
from actd_harness import grpc


def refused_or_not_serving(test, server):
    """After SIGTERM: health says NOT_SERVING or a new call is refused."""
    ch = server.channel(credentials=None)
    try:
        status = server.health_status(timeout=2, channel=ch)
        test.assertEqual(status, h.health_pb2.HealthCheckResponse.NOT_SERVING)
    except grpc.RpcError as e:
        # UNAVAILABLE once the listener is closed; CANCELLED for a call that
        # raced the start of the shutdown.
        test.assertIn(e.code(), (grpc.StatusCode.UNAVAILABLE,
                                 grpc.StatusCode.CANCELLED), e.details())
    stub = h.pb_grpc.ActivationServiceStub(server.channel(credentials=None))
    with test.assertRaises(grpc.RpcError) as cm:
        stub.Forward(h.forward_request("relu", np.ones(4, np.float32)), timeout=2)
    test.assertIn(cm.exception.code(), (grpc.StatusCode.UNAVAILABLE,
                                        grpc.StatusCode.CANCELLED))


class DrainTest(h.ActdTestCase):

    def test_sigterm_lets_inflight_calls_finish(self):
        # Three calls of 16M float64 elements, each computing on its own
        # handler thread; SIGTERM once all three are in compute.
        grace = 15
        server = self.start("--shutdown_grace", grace, "--compute_threads", 1)
        n = 16 * h.MiB
        x = np.linspace(-4, 4, n, dtype=np.float64)
        request = h.forward_request("gelu", x)
        stub = server.stub(h.BIG_CHANNEL)
        # One connection: HTTP/2 shares it fairly, so the three requests
        # arrive together and compute together.
        futures = [stub.Forward.future(request, timeout=60) for _ in range(3)]
        server.wait_inflight(3)
        sent = time.monotonic()
        server.signal(signal.SIGTERM)
        refused_or_not_serving(self, server)
        for f in futures:
            response = f.result(timeout=grace + 5)
            self.assertEqual(list(response.output.shape), [n])
            self.assertEqual(len(response.output.raw_data), 8 * n)
            y = h.from_tensor(response.output)
            for i in range(0, n, n // 997):
                expected = 0.5 * x[i] * (1 + math.erf(x[i] / math.sqrt(2)))
                self.assertAlmostEqual(y[i], expected, delta=1e-12 + 1e-12 * abs(expected))
        # The clients are done and go away, as they would in a deployment.
        for ch in server.channels:
            ch.close()
        server.channels = []
        self.assertEqual(server.wait_exit(grace + 5 - (time.monotonic() - sent)), 0)
        self.assertLess(time.monotonic() - sent, grace)
        log = server.log()
        self.assertIn("received Terminated, draining for up to %d s" % grace, log)
        self.assertIn("stopped", log)

    def test_grace_period_bounds_a_long_call(self):
        # 64M float64 elements on one compute thread: seconds of compute,
        # longer than the 1 s grace period.
        grace = 1
        server = self.start("--shutdown_grace", grace, "--compute_threads", 1,
                            "--max_message_bytes", 640 * h.MiB)
        n = 64 * h.MiB
        options = [("grpc.max_send_message_length", 640 * h.MiB),
                   ("grpc.max_receive_message_length", 640 * h.MiB)]
        request = h.forward_request("gelu", np.linspace(-3, 3, n, dtype=np.float64))
        future = server.stub(options).Forward.future(request, timeout=120)
        del request
        server.wait_inflight(1, timeout=60)
        sent = time.monotonic()
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(grace + 10), 0)
        # Grace, then stopping the compute between chunks and closing the
        # metrics listener.
        self.assertLess(time.monotonic() - sent, grace + 3)
        with self.assertRaises(grpc.RpcError) as cm:
            future.result(timeout=10)
        self.assertIn(cm.exception.code(),
                      (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE),
                      cm.exception.details())


if __name__ == "__main__":
    h.main()

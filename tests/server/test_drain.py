"""Graceful drain of actd on SIGTERM: calls already in flight finish with
their full results, the server stops taking new calls, and the process exits
0 within --shutdown_grace; a call that outlives the grace period is cut off
so the process still exits on time.

Rolling deployments send SIGTERM and wait for the grace period; losing
in-flight work or hanging past it breaks them.
"""

import os
import signal
import time

import numpy as np

import actd_harness as h
from actd_harness import grpc


def refused_or_not_serving(test, server, within=3.0):
    """After SIGTERM (given the server `within` seconds to react): health says
    NOT_SERVING or refuses, and a new call is refused."""
    NOT_SERVING = h.health_pb2.HealthCheckResponse.NOT_SERVING
    # UNAVAILABLE once the listener is closed; CANCELLED for a call that
    # raced the start of the shutdown.
    refusals = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
    end = time.monotonic() + within
    while True:
        ch = server.channel(credentials=None)
        try:
            outcome = server.health_status(timeout=2, channel=ch)
        except grpc.RpcError as e:
            outcome = e.code()
        if outcome == NOT_SERVING or outcome in refusals or time.monotonic() > end:
            break
        time.sleep(0.05)
    test.assertTrue(outcome == NOT_SERVING or outcome in refusals, outcome)
    while True:
        stub = h.pb_grpc.ActivationServiceStub(server.channel(credentials=None))
        try:
            stub.Forward(h.forward_request("relu", np.ones(4, np.float32)), timeout=2)
            outcome = grpc.StatusCode.OK
        except grpc.RpcError as e:
            outcome = e.code()
        if outcome in refusals or time.monotonic() > end:
            break
        time.sleep(0.05)
    test.assertIn(outcome, refusals)


class DrainTest(h.ActdTestCase):

    def test_sigterm_lets_inflight_calls_finish(self):
        # Three Maxout calls in affine form: 16 MiB each to send, about a
        # second of matrix product each, queued on the one compute thread:
        # all three admitted (the in-flight gauge counts admitted calls)
        # before the SIGTERM.
        grace = 15
        server = self.start("--shutdown_grace", grace, "--compute_threads", 1)
        rng = np.random.default_rng(7)
        x = rng.standard_normal((2048, 1024)).astype(np.float32)
        w = rng.standard_normal((2048, 1024)).astype(np.float32)
        request = h.forward_request("maxout", x, pieces=2)
        request.activation.weights["weight"].CopyFrom(h.raw_tensor(w))
        z = x.astype(np.float64) @ w.T.astype(np.float64)
        expected = np.maximum(z[:, 0::2], z[:, 1::2])
        stub = server.stub(h.BIG_CHANNEL)
        futures = [stub.Forward.future(request, timeout=60) for _ in range(3)]
        server.wait_inflight(3)
        sent = time.monotonic()
        server.signal(signal.SIGTERM)
        refused_or_not_serving(self, server)
        for f in futures:
            response = f.result(timeout=grace + 5)
            self.assertEqual(list(response.output.shape), [2048, 1024])
            self.assertEqual(len(response.output.raw_data), 4 * 2048 * 1024)
            np.testing.assert_allclose(h.from_tensor(response.output), expected,
                                       rtol=1e-4, atol=1e-3)
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
        # Maxout with a 4096 x 1024 float64 weight over 4096 rows on one
        # compute thread: 34 GFLOP, seconds of compute, longer than the 1 s
        # grace period. (Element-wise kernels are too fast for this now.)
        grace = 1
        server = self.start("--shutdown_grace", grace, "--compute_threads", 1,
                            "--max_message_bytes", 640 * h.MiB)
        options = [("grpc.max_send_message_length", 640 * h.MiB),
                   ("grpc.max_receive_message_length", 640 * h.MiB)]
        rng = np.random.default_rng(0)
        request = h.forward_request("maxout", rng.standard_normal((4096, 1024)))
        request.activation.weights["weight"].CopyFrom(
            h.raw_tensor(rng.standard_normal((4096, 1024))))
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

    def test_every_thread_blocks_the_stop_signals(self):
        # actd takes SIGINT and SIGTERM with sigwait on its main thread. A
        # thread that does not block them can be handed a SIGTERM by the
        # kernel, whose default action then kills the process undrained
        # (seen once in a three-replica rollout: exit -15). Every thread,
        # gRPC's and actd's own, must block both; the main thread shows them
        # unblocked only while it waits in sigwait, which is how it takes them.
        server = self.start()
        stop = (1 << (signal.SIGINT - 1)) | (1 << (signal.SIGTERM - 1))
        tasks = "/proc/%d/task" % server.pid
        unblocked = {}
        for tid in os.listdir(tasks):
            if int(tid) == server.pid:
                continue
            with open(os.path.join(tasks, tid, "status")) as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["SigBlk"], 16) & stop != stop:
                unblocked[tid] = fields["Name"].strip()
        self.assertGreater(len(os.listdir(tasks)), 2)
        self.assertEqual(unblocked, {})
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(10), 0)


if __name__ == "__main__":
    h.main()

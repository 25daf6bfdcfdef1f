"""A rolling update loses no call: three actd replicas on loopback behind one
client channel (round_robin over the three addresses with the project's
recommended service config, client/service_config.json: retry on
UNAVAILABLE), steady Forward load; one replica is sent SIGTERM and started
again on its port, another is killed with SIGKILL. Every call must succeed.

A replica that drains completes the calls it has and refuses new streams with
a retryable code; a killed one fails its calls with UNAVAILABLE, which the
channel retries on the others.
"""

import json
import os
import signal
import threading
import time

import numpy as np

import actd_harness as h
from actd_harness import grpc

SERVICE_CONFIG = os.path.join(h.HERE, "..", "..", "client", "service_config.json")
CLIENTS = 4


class Load:
    """CLIENTS threads calling Forward back to back until stopped; counts
    outcomes by status code."""

    def __init__(self, stub):
        self.stub = stub
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.codes = {}
        self.x = np.linspace(-2, 2, 256, dtype=np.float32)
        self.expected = np.maximum(self.x, 0)
        self.threads = [threading.Thread(target=self.run) for _ in range(CLIENTS)]

    def run(self):
        request = h.forward_request("relu", self.x)
        while not self.stop.is_set():
            try:
                response = self.stub.Forward(request, timeout=10)
                ok = np.array_equal(h.from_tensor(response.output), self.expected)
                code = "OK" if ok else "WRONG"
            except grpc.RpcError as e:
                code = "%s: %s" % (e.code().name, e.details())
            with self.lock:
                self.codes[code] = self.codes.get(code, 0) + 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def total(self):
        with self.lock:
            return sum(self.codes.values())

    def wait_calls(self, n, timeout=20):
        """Waits until n more calls have completed."""
        target = self.total() + n
        end = time.monotonic() + timeout
        while self.total() < target and time.monotonic() < end:
            time.sleep(0.01)


def served(server):
    """Forward calls the server has answered OK."""
    samples = [v for n, l, v in server.metrics()
               if n == "actd_requests_total" and l.get("method") == "Forward"
               and l.get("code") == "OK"]
    return sum(samples)


class RolloutTest(h.ActdTestCase):

    def test_sigterm_restart_and_sigkill_lose_no_call(self):
        replicas = [self.start("--shutdown_grace", 20) for _ in range(3)]
        with open(SERVICE_CONFIG) as f:
            config = json.dumps(json.load(f))
        target = "ipv4:" + ",".join("127.0.0.1:%d" % r.port for r in replicas)
        channel = grpc.insecure_channel(target, options=[
            ("grpc.service_config", config), ("grpc.enable_retries", 1)])
        self.addCleanup(channel.close)
        stub = h.pb_grpc.ActivationServiceStub(channel)
        with Load(stub) as load:
            load.wait_calls(300)
            # A planned rollout of replica 0: SIGTERM, drain, exit, restart.
            sent = time.monotonic()
            replicas[0].signal(signal.SIGTERM)
            self.assertEqual(replicas[0].wait_exit(10), 0)
            exited = time.monotonic() - sent
            self.assertIn("stopped", replicas[0].log())
            load.wait_calls(200)
            restarted = self.start("--shutdown_grace", 20, port=replicas[0].port)
            # The channel reconnects after its backoff (about a second) and
            # the restarted replica takes traffic again.
            end = time.monotonic() + 20
            while served(restarted) == 0 and time.monotonic() < end:
                load.wait_calls(100)
            self.assertGreater(served(restarted), 0)
            # A crash of replica 1.
            replicas[1].proc.send_signal(signal.SIGKILL)
            replicas[1].wait_exit(10)
            load.wait_calls(300)
        print("calls by outcome: %s; SIGTERM to exit %.3f s" % (load.codes, exited))
        self.assertEqual(set(load.codes), {"OK"}, load.codes)
        self.assertGreaterEqual(load.codes["OK"], 1100)
        # The drain was prompt.
        self.assertLess(exited, 2.0)


if __name__ == "__main__":
    h.main()

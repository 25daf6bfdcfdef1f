"""A concurrent end-to-end run of actd for `make tsan`: the server built with
-fsanitize=thread takes Forward, Backward and BatchEvaluate from 8 threads,
with cancelled calls and 1 ms deadlines among them, and is sent SIGTERM while
the load goes on. ThreadSanitizer makes the process exit 66 on its first
report (TSAN_OPTIONS from the Makefile), so the assertions are: every answer
is a deliberate code, and the server exits 0 having drained.

Usage: concurrent_run.py ACTD [SECONDS]
"""

import os
import signal
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "server"))
import actd_harness as h  # noqa: E402
from actd_harness import grpc  # noqa: E402

DELIBERATE = {
    grpc.StatusCode.OK, grpc.StatusCode.CANCELLED,
    grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def requests(rng):
    x = rng.standard_normal(int(rng.integers(1, 1 << 16))).astype(np.float32)
    forward = h.forward_request(str(rng.choice(["gelu", "mish", "elu", "relu"])), x)
    backward = h.pb.BackwardRequest(activation=forward.activation, input=forward.input)
    batch = h.pb.BatchEvaluateRequest(items=[
        h.pb.EvaluateRequest(id=str(i), forward=forward) for i in range(4)])
    return forward, backward, batch


def worker(stub, seed, stop, codes, lock):
    rng = np.random.default_rng(seed)
    while not stop.is_set():
        forward, backward, batch = requests(rng)
        kind = int(rng.integers(0, 5))
        try:
            if kind == 0:
                stub.Forward(forward, timeout=10)
            elif kind == 1:
                stub.Backward(backward, timeout=10)
            elif kind == 2:
                stub.BatchEvaluate(batch, timeout=10)
            elif kind == 3:
                stub.Forward(forward, timeout=0.001)
            else:
                future = stub.Backward.future(backward, timeout=10)
                future.cancel()
                future.exception()
            code = grpc.StatusCode.OK
        except grpc.RpcError as e:
            code = e.code()
        except grpc.FutureCancelledError:
            code = grpc.StatusCode.CANCELLED
        with lock:
            codes[code] = codes.get(code, 0) + 1


def main():
    h.ACTD = sys.argv[1]
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 20
    server = h.ActdServer("--compute_threads", 2, "--shutdown_grace", 5,
                          "--max_inflight", 6)
    stop, lock, codes = threading.Event(), threading.Lock(), {}
    stub = server.stub(h.BIG_CHANNEL)
    threads = [threading.Thread(target=worker, args=(stub, i, stop, codes, lock))
               for i in range(8)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    server.signal(signal.SIGTERM)  # under load
    rc = server.wait_exit(60)
    stop.set()
    for t in threads:
        t.join()
    log = server.log()
    server.stop()
    print("codes:", {c.name: n for c, n in codes.items()})
    unexpected = set(codes) - DELIBERATE
    ok = rc == 0 and not unexpected and "ThreadSanitizer" not in log
    if not ok:
        print("exit status %s, unexpected codes %s\n%s" % (rc, unexpected, log[-20000:]))
    print("tsan concurrent run: %d passed, %d failed" % (int(ok), int(not ok)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

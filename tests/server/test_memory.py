"""Peak memory of one large call: actd's resident high-water mark (VmHWM in
/proc/<pid>/status) may rise by at most input + output + a constant.

The server never copies tensor data itself, and its gRPC serialization traits
(server/service/wire.h) hand response tensors to gRPC without a copy
and free each received slice as soon as the request parser has moved past it.
This test keeps it that way.

Run directly with --measure to print the figures quoted in README.md:
    python3 tests/server/test_memory.py build/bin/actd --measure 16777216
"""

import os
import shutil
import sys
import time
import unittest

import numpy as np

import actd_harness as h

# What one call may add on top of its input and output tensors: gRPC's receive
# buffers, the received bytes not yet trimmed (up to 4 MiB), allocator slack.
# Measured under 1 MiB at this size; 12 MiB leaves room for other timing of
# the transport and still fails gRPC's default parsing, which holds the
# received bytes and the parsed request together (measured at input + output
# + 32 MiB for this Backward, + 16 MiB for this Forward).
SLACK = 12 * h.MiB
ELEMENTS = 8 * h.MiB


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("%s missing from /proc/%d/status" % (key, pid))


def reset_peak(pid):
    """Resets VmHWM to the current VmRSS (Linux >= 4.0); False if refused."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def settled_rss(pid):
    """VmRSS in bytes once it has stopped moving (freed buffers returned)."""
    last = None
    for _ in range(50):
        rss = status_kib(pid, "VmRSS")
        if rss == last:
            break
        last = rss
        time.sleep(0.05)
    return last * 1024


def calls(n, seed=0):
    """name -> (stub method name, request, input bytes, output bytes)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    forward = h.forward_request("gelu", x)
    backward = h.pb.BackwardRequest(activation=forward.activation,
                                    input=forward.input,
                                    grad_output=h.raw_tensor(g))
    # float16 is not written over its input (a new output buffer): the
    # received bytes the parse kept must be given back first.
    half = h.forward_request("gelu", x.astype(np.float16))
    return {
        "Forward": ("Forward", forward, x.nbytes, x.nbytes),
        "Forward float16": ("Forward", half, x.nbytes // 2, x.nbytes // 2),
        "Backward": ("Backward", backward, x.nbytes + g.nbytes, x.nbytes),
    }


def sanitized(pid):
    """Whether the process runs under AddressSanitizer, whose quarantine keeps
    freed memory resident (make asan runs this suite with such a binary)."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def measure(test_case_start, method, request):
    """Starts a server, warms it up, sends `request` once; returns
    (rise of VmHWM over the settled VmRSS before the call, in bytes,
    RSS before in bytes)."""
    server = test_case_start()
    if sanitized(server.pid):
        raise unittest.SkipTest("AddressSanitizer holds freed memory")
    stub = server.stub(h.BIG_CHANNEL)
    # Warm-up: thread pools, channels and allocator arenas exist before.
    small = calls(1024)
    for name, small_request, _, _ in small.values():
        getattr(stub, name)(small_request, timeout=30)
    before = settled_rss(server.pid)
    if not reset_peak(server.pid):
        # Without a reset the start-up peak must stay below what is measured.
        before = max(before, status_kib(server.pid, "VmHWM") * 1024)
    response = getattr(stub, method)(request, timeout=120)
    peak = status_kib(server.pid, "VmHWM") * 1024
    return peak - before, before, response


class MemoryTest(h.ActdTestCase):

    def check(self, name, elements=ELEMENTS):
        method, request, in_bytes, out_bytes = calls(elements)[name]
        rise, before, response = measure(self.start, method, request)
        result = (response.output if method == "Forward"
                  else response.grad_input)
        self.assertEqual(len(result.raw_data), out_bytes)
        limit = in_bytes + out_bytes + SLACK
        self.assertLessEqual(
            rise, limit,
            "%s of %d elements: VmHWM rose by %.1f MiB over %.1f MiB; input + "
            "output + slack is %.1f MiB" % (
                name, elements, rise / h.MiB, before / h.MiB, limit / h.MiB))

    def test_forward_peak_is_input_plus_output(self):
        self.check("Forward")

    def test_forward_above_protobufs_safe_string_size(self):
        # 64 MiB of raw_data: protobuf grows a bytes field of more than
        # 50,000,000 bytes as it arrives (a copy of the first 50 MB) unless
        # the server reserved it (measured: input + output + 31.5 MiB).
        self.check("Forward", 16 * h.MiB)

    def test_float16_forward_peak_is_input_plus_output(self):
        self.check("Forward float16")

    def test_backward_peak_is_input_plus_output(self):
        self.check("Backward")

    def test_compression_bomb_is_refused_within_the_limit(self):
        # 128 MiB of zeros, gzip-compressed to about 128 KiB on the wire,
        # against an 8 MiB message limit: the server must stop inflating at
        # the limit, so its peak rises by at most the limit + the slack (gRPC's
        # own decompression would inflate all 128 MiB before checking).
        limit = 8 * h.MiB
        n = 32 * h.MiB
        request = h.forward_request("relu", np.zeros(n, np.float32))

        def start():
            return self.start("--max_message_bytes", limit)

        server = start()
        if sanitized(server.pid):
            raise unittest.SkipTest("AddressSanitizer holds freed memory")
        channel = h.grpc.insecure_channel(
            "127.0.0.1:%d" % server.port, compression=h.grpc.Compression.Gzip,
            options=[("grpc.max_send_message_length", -1)])
        self.addCleanup(channel.close)
        stub = h.pb_grpc.ActivationServiceStub(channel)
        stub.Forward(h.forward_request("relu", np.ones(1024, np.float32)),
                     timeout=30)  # warm-up
        before = settled_rss(server.pid)
        if not reset_peak(server.pid):
            before = max(before, status_kib(server.pid, "VmHWM") * 1024)
        with self.assertRaises(h.grpc.RpcError) as cm:
            stub.Forward(request, timeout=60)
        rise = status_kib(server.pid, "VmHWM") * 1024 - before
        self.assertLessEqual(
            rise, limit + SLACK,
            "a gzip bomb of %d MiB raised VmHWM by %.1f MiB; the limit + slack "
            "is %.1f MiB" % (4 * n // h.MiB, rise / h.MiB,
                             (limit + SLACK) / h.MiB))
        self.assertEqual(cm.exception.code(),
                         h.grpc.StatusCode.RESOURCE_EXHAUSTED,
                         cm.exception.details())
        self.assertIn("inflates to more than %d bytes" % limit,
                      cm.exception.details())
        # The server is fine and serves the next compressed call.
        small = np.linspace(-1, 1, 1000, dtype=np.float32)
        response = stub.Forward(h.forward_request("relu", small), timeout=30)
        np.testing.assert_array_equal(h.from_tensor(response.output),
                                      np.maximum(small, 0))


def report(n):
    """Prints the VmHWM rise of one Forward and one Backward of n float32."""
    servers = []

    def start():
        server = h.ActdServer()
        servers.append(server)
        return server

    try:
        for name, (method, request, in_bytes, out_bytes) in calls(n).items():
            rise, before, _ = measure(start, method, request)
            print("%-15s %d elements: in %.0f MiB, out %.0f MiB; VmHWM %.1f -> "
                  "%.1f MiB (+%.1f MiB = in + out %+.1f MiB)" % (
                      name, n, in_bytes / h.MiB, out_bytes / h.MiB,
                      before / h.MiB, (before + rise) / h.MiB, rise / h.MiB,
                      (rise - in_bytes - out_bytes) / h.MiB))
            servers.pop().stop()
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    if "--measure" in sys.argv:
        i = sys.argv.index("--measure")
        h.ACTD = os.path.abspath(sys.argv[1])
        h._generate_stubs()
        try:
            report(int(sys.argv[i + 1]))
        finally:
            shutil.rmtree(h._STUB_DIR, ignore_errors=True)
    else:
        h.main()

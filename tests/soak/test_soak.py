"""Soak: hours of mixed traffic in minutes, against one real actd.

Worker threads send a random mix over every RPC the server speaks: valid
Forward, Backward and BatchEvaluate calls (values checked), ListActivations,
GetServerInfo, the health Check, invalid requests (unknown activation, shape
and data that disagree, bad parameters, tensors over --max_elements, messages
over --max_message_bytes), calls the client cancels, and calls whose deadline
cannot be met. When the server speaks the Open Inference Protocol, ModelInfer
joins the mix over gRPC (valid, unknown model, cancelled, deadline) and over
HTTP/JSON (health, metadata, infer, unknown model, malformed JSON). Every call must end with the one code its kind deliberately
gets. After a warm-up the server's resident memory may grow by less than
16 MiB, and its threads and open files stay flat (read from /proc/<pid>,
each time with the workers paused, no call in flight, after two large
Forwards one at a time and two seconds of idle, in which actd trims its heap).

The server runs as shipped: actd sets glibc's allocator up itself (one
arena, fixed thresholds) and trims its heap when idle, so the resident size
at rest is what it holds, and a leak of 16 MiB shows.

    /usr/bin/python3 test_soak.py <path to actd> [--duration SECONDS]

CTest runs 120 s; docs/PERFORMANCE.md gives a 30-minute run.
"""

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))

import actd_harness as harness  # noqa: E402
import grpc  # noqa: E402
import numpy as np  # noqa: E402

MiB = 1 << 20
MAX_MESSAGE = 16 * MiB
MAX_ELEMENTS = 2 * MiB
WORKERS = 4
RSS_GROWTH_LIMIT = 16 * MiB
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"

DURATION = 120.0  # seconds, --duration
# Idle before a reading: actd trims its heap after a second without a call.
IDLE = 2.0

OK = grpc.StatusCode.OK
CANCELLED = grpc.StatusCode.CANCELLED


# gRPC's own thread pools that grow on demand and are bounded by gRPC: its
# executor (at most 2 threads a core) and its timer threads (which retire
# when idle). Counted apart: their size follows the load, not a leak.
ON_DEMAND_POOLS = ("default-executo", "grpc_global_tim")


def thread_names(pid):
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names.append(f.read().strip())
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    return names


def proc_figures(pid):
    """(resident bytes, threads outside ON_DEMAND_POOLS, open fds) of a
    process, from /proc."""
    rss = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    threads = sum(n not in ON_DEMAND_POOLS for n in thread_names(pid))
    return rss, threads, len(os.listdir("/proc/%d/fd" % pid))


def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def ld(number, payload):
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def model_infer_request(model, x):
    """ModelInferRequest (KServe v2 field numbers): model_name=1, inputs=5
    {name=1, datatype=2, shape=3}, raw_input_contents=7."""
    tensor = ld(1, b"x") + ld(2, b"FP32") + ld(3, varint(x.size))
    return ld(1, model.encode()) + ld(5, tensor) + ld(7, x.astype("<f4").tobytes())


class Traffic:
    """The call kinds. Each returns (kind, code); a wrong value raises."""

    def __init__(self, server, speaks_oip, http_port=None):
        self.pb = harness.pb
        self.http = "http://127.0.0.1:%d" % http_port if http_port else None
        self.stub = server.stub(harness.BIG_CHANNEL)
        self.channel = server.channel(harness.BIG_CHANNEL)
        self.health = harness.health_pb2_grpc.HealthStub(self.channel)
        self.infer = self.channel.unary_unary(MODEL_INFER) if speaks_oip else None
        self.names = None
        self.version = None
        # kind -> (weight, function, codes it may end with)
        self.kinds = {
            "forward": (20, self.forward, {OK}),
            "backward": (10, self.backward, {OK}),
            "batch": (5, self.batch, {OK}),
            "list": (2, self.list_activations, {OK}),
            "info": (2, self.info, {OK}),
            "health": (3, self.health_check, {OK}),
            "unknown_activation": (4, self.unknown_activation,
                                   {grpc.StatusCode.NOT_FOUND}),
            "shape_mismatch": (4, self.shape_mismatch,
                               {grpc.StatusCode.INVALID_ARGUMENT}),
            "bad_param": (4, self.bad_param, {grpc.StatusCode.INVALID_ARGUMENT}),
            "bad_grad_shape": (3, self.bad_grad_shape,
                               {grpc.StatusCode.INVALID_ARGUMENT}),
            "too_many_elements": (1, self.too_many_elements,
                                  {grpc.StatusCode.RESOURCE_EXHAUSTED}),
            "message_too_large": (1, self.message_too_large,
                                  {grpc.StatusCode.RESOURCE_EXHAUSTED}),
            # Cancelled after a random moment: it may have finished by then.
            "cancelled": (6, self.cancelled, {CANCELLED, OK}),
            # 1 ms for 1 Mi elements: refused at admission or expired.
            "deadline": (4, self.deadline, {grpc.StatusCode.DEADLINE_EXCEEDED}),
        }
        if speaks_oip:
            self.kinds["model_infer"] = (8, self.model_infer, {OK})
            self.kinds["model_infer_unknown"] = (
                2, self.model_infer_unknown, {grpc.StatusCode.NOT_FOUND})
            self.kinds["model_infer_cancelled"] = (
                2, self.model_infer_cancelled, {CANCELLED, OK})
            self.kinds["model_infer_deadline"] = (
                2, self.model_infer_deadline, {grpc.StatusCode.DEADLINE_EXCEEDED})
        if self.http:
            # HTTP answers: the status code stands in for the gRPC code.
            self.kinds["http_live"] = (2, self.http_live, {200})
            self.kinds["http_metadata"] = (2, self.http_metadata, {200})
            self.kinds["http_infer"] = (6, self.http_infer, {200})
            self.kinds["http_unknown_model"] = (2, self.http_unknown_model, {404})
            self.kinds["http_bad_json"] = (2, self.http_bad_json, {400})

    def setup(self):
        listed = self.stub.ListActivations(self.pb.ListActivationsRequest())
        self.names = sorted(a.name for a in listed.activations)
        self.version = self.stub.GetServerInfo(self.pb.GetServerInfoRequest()).version

    def settle(self):
        """Two large Forwards, one at a time, the same before every reading;
        the idle seconds that follow let actd trim its heap, so what
        remains resident is what it holds."""
        for _ in range(2):
            self.stub.Forward(harness.forward_request(
                "relu", np.ones(MiB, np.float32)))

    def pick(self, rng):
        kinds = list(self.kinds)
        weights = [self.kinds[k][0] for k in kinds]
        return rng.choices(kinds, weights)[0]

    @staticmethod
    def sample(rng, dtype=None, n=None):
        n = n or rng.choice([1, 7, 256, 4096, 65536, 262144])
        dtype = dtype or rng.choice([np.float32, np.float64])
        # No exact zeros: relu's derivative there is a convention.
        x = np.random.default_rng(rng.getrandbits(32)).standard_normal(n)
        x[x == 0] = 0.5
        return x.astype(dtype)

    # --- valid calls, values checked ---
    def forward(self, rng):
        x = self.sample(rng)
        name = rng.choice(["relu", "leaky_relu", "sigmoid", "tanh"])
        params = {"alpha": 0.125} if name == "leaky_relu" else {}
        y = harness.from_tensor(self.stub.Forward(
            harness.forward_request(name, x, **params)).output)
        x64 = x.astype(np.float64)
        want = {"relu": np.maximum(x64, 0),
                "leaky_relu": np.where(x64 > 0, x64, 0.125 * x64),
                "sigmoid": 1 / (1 + np.exp(-x64)),
                "tanh": np.tanh(x64)}[name]
        tol = 1e-6 if x.dtype == np.float32 else 1e-13
        if y.dtype != x.dtype or y.shape != x.shape or \
                not np.allclose(y, want, rtol=tol, atol=tol):
            raise AssertionError("forward %s %s: wrong values" % (name, x.dtype))
        return OK

    def backward(self, rng):
        x = self.sample(rng)
        dy = self.sample(rng, x.dtype, x.size)
        request = self.pb.BackwardRequest(
            activation=self.pb.ActivationSpec(name="relu"),
            input=harness.raw_tensor(x), grad_output=harness.raw_tensor(dy))
        dx = harness.from_tensor(self.stub.Backward(request).grad_input)
        if not np.array_equal(dx, np.where(x > 0, dy, 0).astype(x.dtype)):
            raise AssertionError("relu backward: wrong values")
        return OK

    def batch(self, rng):
        x = self.sample(rng, np.float32)
        pb = self.pb
        items = [
            pb.EvaluateRequest(id="f", forward=harness.forward_request("relu", x)),
            pb.EvaluateRequest(id="b", backward=pb.BackwardRequest(
                activation=pb.ActivationSpec(name="relu"),
                input=harness.raw_tensor(x))),
            pb.EvaluateRequest(id="bad", forward=harness.forward_request("nope", x)),
        ]
        results = self.stub.BatchEvaluate(
            pb.BatchEvaluateRequest(items=items)).results
        codes = [(r.id, r.code) for r in results]
        if codes != [("f", 0), ("b", 0), ("bad", 5)]:
            raise AssertionError("batch: item codes %r" % codes)
        y = harness.from_tensor(results[0].forward.output)
        if not np.array_equal(y, np.maximum(x, 0)):
            raise AssertionError("batch: wrong forward values")
        return OK

    def list_activations(self, rng):
        listed = self.stub.ListActivations(self.pb.ListActivationsRequest())
        if sorted(a.name for a in listed.activations) != self.names:
            raise AssertionError("ListActivations changed")
        return OK

    def info(self, rng):
        if self.stub.GetServerInfo(self.pb.GetServerInfoRequest()).version != \
                self.version:
            raise AssertionError("GetServerInfo changed")
        return OK

    def health_check(self, rng):
        status = self.health.Check(harness.health_pb2.HealthCheckRequest()).status
        if status != harness.health_pb2.HealthCheckResponse.SERVING:
            raise AssertionError("health: %s" % status)
        return OK

    def model_infer(self, rng):
        x = self.sample(rng, np.float32)
        reply = self.infer(model_infer_request("relu", x))
        # The output's raw bytes are in the reply (a field we do not parse):
        # relu of x, little-endian float32.
        if np.maximum(x, 0).astype("<f4").tobytes() not in reply:
            raise AssertionError("ModelInfer relu: output bytes not in the reply")
        return OK

    def model_infer_unknown(self, rng):
        self.infer(model_infer_request("nope", self.sample(rng, np.float32)))
        return OK

    def model_infer_cancelled(self, rng):
        future = self.infer.future(model_infer_request("gelu", np.ones(MiB, np.float32)))
        time.sleep(rng.random() * 0.004)
        future.cancel()
        try:
            future.result()
        except grpc.FutureCancelledError:
            return CANCELLED
        return OK

    def model_infer_deadline(self, rng):
        self.infer(model_infer_request("relu", np.ones(MiB, np.float32)),
                   timeout=0.001)
        return OK

    def http_call(self, path, body=None):
        """(HTTP status, parsed JSON body) of a GET, or a POST of `body`."""
        request = urllib.request.Request(self.http + path, data=body)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            reply = json.loads(e.read() or b"null")
            if not isinstance(reply, dict) or "error" not in reply:
                raise AssertionError("HTTP %d without an error message" % e.code)
            return e.code, reply

    def http_live(self, rng):
        return self.http_call("/v2/health/live")[0]

    def http_metadata(self, rng):
        status, reply = self.http_call("/v2/models/relu")
        if status == 200 and reply.get("name") != "relu":
            raise AssertionError("HTTP metadata of relu: %r" % reply)
        return status

    def http_infer(self, rng):
        x = self.sample(rng, np.float32, rng.choice([1, 7, 256, 4096]))
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [x.size],
                            "data": [float(v) for v in x]}]}
        status, reply = self.http_call("/v2/models/relu/infer",
                                       json.dumps(body).encode())
        if status == 200:
            y = np.array(reply["outputs"][0]["data"], np.float32)
            if not np.array_equal(y, np.maximum(x, 0)):
                raise AssertionError("HTTP infer relu: wrong values")
        return status

    def http_unknown_model(self, rng):
        body = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1],
                            "data": [1.0]}]}
        return self.http_call("/v2/models/nope/infer", json.dumps(body).encode())[0]

    def http_bad_json(self, rng):
        return self.http_call("/v2/models/relu/infer", b'{"inputs": [')[0]

    # --- calls refused on purpose ---
    def unknown_activation(self, rng):
        self.stub.Forward(harness.forward_request("no_such_" + str(rng.random()),
                                                  self.sample(rng)))
        return OK

    def shape_mismatch(self, rng):
        request = harness.forward_request("relu", self.sample(rng))
        request.input.shape[:] = [request.input.shape[0] + rng.randint(1, 9)]
        self.stub.Forward(request)
        return OK

    def bad_param(self, rng):
        params = rng.choice([{"alpha": "abc"}, {"beta": 1.0}, {"alpha": float("nan")}])
        self.stub.Forward(harness.forward_request("leaky_relu", self.sample(rng),
                                                  **params))
        return OK

    def bad_grad_shape(self, rng):
        x = self.sample(rng)
        request = self.pb.BackwardRequest(
            activation=self.pb.ActivationSpec(name="tanh"),
            input=harness.raw_tensor(x),
            grad_output=harness.raw_tensor(np.ones(x.size + 1, x.dtype)))
        self.stub.Backward(request)
        return OK

    def too_many_elements(self, rng):
        self.stub.Forward(harness.forward_request(
            "relu", np.ones(MAX_ELEMENTS + 1, np.float32)))
        return OK

    def message_too_large(self, rng):
        self.stub.Forward(harness.forward_request(
            "relu", np.ones(MAX_MESSAGE // 8 + 1, np.float64)))
        return OK

    def cancelled(self, rng):
        future = self.stub.Forward.future(harness.forward_request(
            "gelu", np.ones(MiB, np.float32)))
        time.sleep(rng.random() * 0.004)
        future.cancel()
        try:
            future.result()
        except grpc.FutureCancelledError:
            return CANCELLED
        return OK

    def deadline(self, rng):
        self.stub.Forward(harness.forward_request("relu", np.ones(MiB, np.float32)),
                          timeout=0.001)
        return OK


class Worker(threading.Thread):
    """Sends random calls until stopped; pauses when asked (for a reading)."""

    def __init__(self, traffic, seed, soak):
        super().__init__(daemon=True)
        self.traffic = traffic
        self.rng = random.Random(seed)
        self.soak = soak

    def run(self):
        while not self.soak.stop.is_set():
            if self.soak.paused.is_set():
                time.sleep(0.01)
                continue
            self.soak.busy(+1)
            try:
                self.one()
            finally:
                self.soak.busy(-1)

    def one(self):
        kind = self.traffic.pick(self.rng)
        _, call, allowed = self.traffic.kinds[kind]
        try:
            code = call(self.rng)
            detail = ""
        except grpc.RpcError as e:
            code, detail = e.code(), e.details()
        except AssertionError as e:
            code, detail = "WRONG_VALUE", str(e)
        except OSError as e:  # HTTP: refused or dropped connection
            code, detail = "CONNECTION_ERROR", str(e)
        self.soak.record(kind, code, code in allowed, detail)


class Soak:
    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.paused = threading.Event()
        self.active = 0
        self.counts = {}
        self.unexpected = []

    def busy(self, delta):
        with self.lock:
            self.active += delta

    def record(self, kind, code, allowed, detail):
        name = code.name if hasattr(code, "name") else str(code)
        with self.lock:
            self.counts[kind, name] = self.counts.get((kind, name), 0) + 1
            if not allowed:
                self.unexpected.append((kind, name, detail))

    def quiet(self):
        """Pauses the workers until no call is in flight."""
        self.paused.set()
        while True:
            with self.lock:
                if self.active == 0:
                    return
            time.sleep(0.01)


class SoakTest(harness.ActdTestCase):
    def test_mixed_traffic(self):
        env = harness.clean_env()
        flags = ["--max_message_bytes", MAX_MESSAGE, "--max_elements", MAX_ELEMENTS]
        usage = subprocess.run([harness.ACTD, "--help"], capture_output=True,
                               text=True).stdout
        http_port = None
        if re.search(r"--http[-_]port", usage):
            http_port = harness.free_ports(1)[0]
            flags += ["--http_port", http_port]
        server = self.start(*flags, env=env)
        probe = server.channel().unary_unary(MODEL_INFER)
        try:
            probe(model_infer_request("relu", np.ones(1, np.float32)), timeout=5)
            speaks_oip = True
        except grpc.RpcError as e:
            speaks_oip = e.code() != grpc.StatusCode.UNIMPLEMENTED
        traffic = Traffic(server, speaks_oip, http_port)
        traffic.setup()
        soak = Soak()
        workers = [Worker(traffic, seed, soak) for seed in range(WORKERS)]
        warmup = max(10.0, min(60.0, DURATION / 4))
        # Quiet readings: after the warm-up, then every `every` seconds.
        every = max(60.0, (DURATION - warmup) / 6)
        samples = []  # (seconds, rss, threads, fds) every second, under load
        quiet = []  # (seconds, rss, threads, fds) with no call in flight

        start = time.monotonic()
        for w in workers:
            w.start()
        next_quiet = warmup
        while time.monotonic() - start < DURATION:
            time.sleep(1.0)
            now = time.monotonic() - start
            samples.append((now,) + proc_figures(server.pid))
            # The first reading right after the warm-up; later ones only
            # when not about to be followed by the final one.
            if now >= next_quiet and (not quiet or now < DURATION - every / 2):
                soak.quiet()
                traffic.settle()
                time.sleep(IDLE)
                quiet.append((now,) + proc_figures(server.pid))
                soak.paused.clear()
                next_quiet += every
        soak.quiet()
        traffic.settle()
        time.sleep(IDLE)
        quiet.append((time.monotonic() - start,) + proc_figures(server.pid))
        soak.stop.set()
        for w in workers:
            w.join(timeout=30)

        calls = sum(soak.counts.values())
        after = [s for s in samples if s[0] >= warmup]
        print("\nsoak: %.0f s (warm-up %.0f s), %d calls (%.0f/s), %d workers, "
              "ModelInfer %s, HTTP %s" % (
                  DURATION, warmup, calls, calls / DURATION, WORKERS,
                  "on" if speaks_oip else "off", "on" if http_port else "off"))
        print("  kind / code: " + ", ".join(
            "%s %s %d" % (k, c, n) for (k, c), n in sorted(soak.counts.items())))
        for t, rss, threads, fds in quiet:
            print("  quiet at %5.0f s: RSS %.1f MiB, %d threads, %d fds" % (
                t, rss / MiB, threads, fds))
        base, end = quiet[0][1:], quiet[-1][1:]
        print("  under load after warm-up: RSS %.1f..%.1f MiB, threads %d..%d, "
              "fds %d..%d" % (min(s[1] for s in after) / MiB,
                              max(s[1] for s in after) / MiB,
                              min(s[2] for s in after), max(s[2] for s in after),
                              min(s[3] for s in after), max(s[3] for s in after)))
        print("  RSS growth after warm-up: %+.1f MiB" % ((end[0] - base[0]) / MiB))
        sys.stdout.flush()

        self.assertEqual(soak.unexpected[:10], [],
                         "%d calls ended with a code their kind must not get"
                         % len(soak.unexpected))
        self.assertIsNone(server.proc.poll(), "actd exited:\n" + server.log())
        for kind in traffic.kinds:
            self.assertTrue(any(k == kind for k, _ in soak.counts),
                            "no %s call was made" % kind)
        self.assertLess(end[0] - base[0], RSS_GROWTH_LIMIT,
                        "RSS grew from %d to %d bytes" % (base[0], end[0]))
        # Flat: no more threads or files at rest at the end than the first
        # half of the run needed at its busiest; a leak keeps climbing into
        # the second half. gRPC's on-demand pools are bounded apart: they add
        # a thread whenever all of theirs are busy, early or late in a run.
        half = (warmup + samples[-1][0]) / 2 if samples else warmup
        warm = [s for s in samples if s[0] < half] + [quiet[0]]
        most_threads = max(s[2] for s in warm)
        most_fds = max(s[3] for s in warm)
        self.assertLessEqual(end[1], most_threads,
                             "threads: %d at rest at the end, at most %d in the "
                             "first half" % (end[1], most_threads))
        pooled = sum(n in ON_DEMAND_POOLS for n in thread_names(server.pid))
        self.assertLessEqual(pooled, 4 * os.cpu_count() + 2,
                             "gRPC's on-demand pools: %d threads" % pooled)
        self.assertLessEqual(end[2], most_fds,
                             "open fds: %d at rest at the end, at most %d in the "
                             "first half" % (end[2], most_fds))
        self.assertEqual(server.health_status(),
                         harness.health_pb2.HealthCheckResponse.SERVING)


if __name__ == "__main__":
    if "--duration" in sys.argv:
        i = sys.argv.index("--duration")
        DURATION = float(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    harness.main()

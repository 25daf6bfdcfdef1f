"""The one Python launcher of actd for every test that needs a real server.

tests/server, tests/e2e and tests/clients start the real server as a child
process through ActdServer, on ports picked at run time, talk to it over real
gRPC with stubs generated from the repository's .proto files (activation.proto
and the single proto/grpc/health/v1/health.proto) into a temporary directory,
and stop it afterwards (kill(), or terminate() for a graceful SIGTERM). The
path of the actd binary comes as the first command-line argument (main()),
from the ACTD_BINARY environment variable, or from set_binary().
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.path.normpath(os.path.join(HERE, "..", "..", "proto"))

ACTD = os.environ.get("ACTD_BINARY", "")

# Generated modules, filled by _generate_stubs().
pb = pb_grpc = health_pb2 = health_pb2_grpc = None
reflection_pb2 = reflection_pb2_grpc = None
_STUB_DIR = None

MiB = 1 << 20
# A client channel that can carry the server's largest default message.
BIG_CHANNEL = [
    ("grpc.max_send_message_length", 256 * MiB),
    ("grpc.max_receive_message_length", 256 * MiB),
]


def _generate_stubs():
    global pb, pb_grpc, health_pb2, health_pb2_grpc, _STUB_DIR
    global reflection_pb2, reflection_pb2_grpc
    if pb is not None:
        return
    _STUB_DIR = tempfile.mkdtemp(prefix="actd-stubs-")
    jobs = [
        (PROTO_ROOT, "activation/v1/activation.proto"),
        (os.path.join(PROTO_ROOT, "grpc", "health", "v1"), "health.proto"),
        (os.path.join(HERE, "grpc", "reflection", "v1alpha"), "reflection.proto"),
    ]
    for include, proto in jobs:
        result = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", "-I", include,
             "--python_out", _STUB_DIR, "--grpc_python_out", _STUB_DIR, proto],
            capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError("protoc failed for %s: %s" % (proto, result.stderr))
    sys.path.insert(0, _STUB_DIR)
    import importlib
    pb = importlib.import_module("activation.v1.activation_pb2")
    pb_grpc = importlib.import_module("activation.v1.activation_pb2_grpc")
    health_pb2 = importlib.import_module("health_pb2")
    health_pb2_grpc = importlib.import_module("health_pb2_grpc")
    reflection_pb2 = importlib.import_module("reflection_pb2")
    reflection_pb2_grpc = importlib.import_module("reflection_pb2_grpc")


import grpc  # noqa: E402  (after the helpers above, which do not need it)


def free_ports(n):
    """n distinct TCP ports on 127.0.0.1 that were free a moment ago."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def clean_env(**extra):
    """The current environment without ACTD_* variables, with the HTTP port
    off (so servers started in parallel do not compete for its default), plus
    `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTD_")}
    env["ACTD_HTTP_PORT"] = "0"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def cpu_seconds(pid):
    """User + system CPU time of a process so far, from /proc/<pid>/stat."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    ticks = int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def listening_ports(pid):
    """TCP ports the process listens on, from its socket fds and /proc/net."""
    inodes = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/%d/net/tcp" % pid, "/proc/%d/net/tcp6" % pid):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and inode in inodes:  # 0A = LISTEN
                ports.add(int(local.split(":")[1], 16))
    return ports


def raw_tensor(array):
    """A Tensor carrying `array` (float16, float32 or float64) as raw
    little-endian bytes."""
    array = np.ascontiguousarray(array)
    dtype = {np.dtype("float16"): pb.DATA_TYPE_FLOAT16,
             np.dtype("float32"): pb.DATA_TYPE_FLOAT32,
             np.dtype("float64"): pb.DATA_TYPE_FLOAT64}[array.dtype]
    return pb.Tensor(dtype=dtype, shape=list(array.shape),
                     raw_data=array.astype(array.dtype.newbyteorder("<")).tobytes())


def from_tensor(t):
    np_type = {pb.DATA_TYPE_FLOAT32: "<f4", pb.DATA_TYPE_FLOAT64: "<f8"}[t.dtype]
    return np.frombuffer(t.raw_data, dtype=np_type).reshape(tuple(t.shape))


def forward_request(name, array, **params):
    spec = pb.ActivationSpec(name=name)
    for key, value in params.items():
        if isinstance(value, bool):
            spec.params[key].flag = value
        elif isinstance(value, str):
            spec.params[key].text = value
        else:
            spec.params[key].number = value
    return pb.ForwardRequest(activation=spec, input=raw_tensor(array))


def parse_metrics(text):
    """Prometheus text format -> list of (name, {label: value}, float)."""
    samples = []
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = line_re.match(line)
        if not m:
            raise AssertionError("unparseable metrics line: %r" % line)
        labels = dict(label_re.findall(m.group(3) or ""))
        samples.append((m.group(1), labels, float(m.group(4))))
    return samples


def metric(samples, name, **labels):
    """The value of the one sample of `name` whose labels include `labels`."""
    found = [v for n, l, v in samples
             if n == name and all(l.get(k) == v2 for k, v2 in labels.items())]
    if len(found) != 1:
        raise AssertionError("%d samples of %s%r: %r" % (
            len(found), name, labels,
            [(n, l, v) for n, l, v in samples if n == name]))
    return found[0]


class ActdServer:
    """One actd child process listening on 127.0.0.1."""

    def __init__(self, *args, env=None, port=None, metrics_port=None,
                 use_flags=True, credentials=None, wait=True, token=None):
        _generate_stubs()
        self.workdir = tempfile.mkdtemp(prefix="actd-server-")
        self.log_path = os.path.join(self.workdir, "actd.log")
        ports = free_ports(2)
        self.port = ports[0] if port is None else port
        self.metrics_port = ports[1] if metrics_port is None else metrics_port
        self.credentials = credentials
        self.token = token
        self.channels = []
        command = [ACTD]
        if use_flags:
            command += ["--host", "127.0.0.1", "--port", str(self.port),
                        "--metrics_port", str(self.metrics_port)]
        command += [str(a) for a in args]
        self.command = command
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=clean_env() if env is None else env)
        if wait:
            self.wait_serving()

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def channel(self, options=(), credentials="default"):
        creds = self.credentials if credentials == "default" else credentials
        target = "127.0.0.1:%d" % self.port
        if creds is None:
            ch = grpc.insecure_channel(target, options=list(options))
        else:
            ch = grpc.secure_channel(target, creds, options=list(options))
        self.channels.append(ch)
        return ch

    def stub(self, options=()):
        return pb_grpc.ActivationServiceStub(self.channel(options))

    def health_status(self, timeout=2.0, channel=None):
        ch = channel or self.channel()
        return health_pb2_grpc.HealthStub(ch).Check(
            health_pb2.HealthCheckRequest(), timeout=timeout).status

    def wait_serving(self, timeout=15.0):
        """Waits until the health Check answers SERVING; fails on exit or timeout."""
        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise AssertionError("actd exited with %s before serving: %s\n%s" % (
                    self.proc.returncode, " ".join(self.command), self.log()))
            # A fresh channel each time: a channel that failed to connect
            # before the port was open would wait out its reconnect backoff.
            ch = self.channel()
            try:
                status = self.health_status(timeout=0.5, channel=ch)
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last = status
            except grpc.RpcError as e:
                last = e.code()
            finally:
                ch.close()
                self.channels.remove(ch)
            time.sleep(0.05)
        raise AssertionError("actd not SERVING after %.0f s (last: %s)\n%s" % (
            timeout, last, self.log()))

    def metrics_text(self, timeout=5.0):
        url = "http://127.0.0.1:%d/metrics" % self.metrics_port
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.read().decode("utf-8")

    def metrics(self):
        return parse_metrics(self.metrics_text())

    def inflight(self):
        return metric(self.metrics(), "actd_inflight_requests")

    def wait_inflight(self, n, timeout=20.0):
        """Waits until actd_inflight_requests reaches n (admitted calls)."""
        end = time.monotonic() + timeout
        value = None
        while time.monotonic() < end:
            try:
                value = self.inflight()
            except OSError as e:  # a scrape refused under load: try again
                value = "unknown (%s)" % e
                time.sleep(0.05)
                continue
            if value >= n:
                return
            time.sleep(0.01)
        raise AssertionError("in-flight gauge stayed at %s, wanted %d" % (value, n))

    def cpu_seconds(self):
        return cpu_seconds(self.pid)

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        return self.proc.wait(timeout=timeout)

    @property
    def target(self):
        """host:port of the gRPC listener, as clients pass it."""
        return "127.0.0.1:%d" % self.port

    def terminate(self, timeout=30):
        """SIGTERM, then waits for the exit; returns the exit code and cleans up."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self.stop()
        return code

    def stop(self):
        for ch in self.channels:
            ch.close()
        self.channels = []
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


class ActdTestCase(unittest.TestCase):
    """Starts servers through self.start() and kills them after each test."""

    def start(self, *args, **kwargs):
        server = ActdServer(*args, **kwargs)
        self.addCleanup(server.stop)
        return server

    def run_actd(self, args, env=None, timeout=10):
        """Runs actd to completion (for flags that make it exit); returns
        (returncode, stdout, stderr, seconds)."""
        start = time.monotonic()
        result = subprocess.run([ACTD] + [str(a) for a in args],
                                capture_output=True, text=True, timeout=timeout,
                                env=clean_env() if env is None else env,
                                stdin=subprocess.DEVNULL)
        return (result.returncode, result.stdout, result.stderr,
                time.monotonic() - start)

    def assertRpcError(self, code, fn, *args, **kwargs):
        """Calls fn and asserts it fails with `code`; returns the error."""
        with self.assertRaises(grpc.RpcError) as cm:
            fn(*args, **kwargs)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        return cm.exception


def set_binary(path):
    """Points the launcher at an actd binary (for suites without main())."""
    global ACTD
    ACTD = os.path.abspath(path)


def main():
    global ACTD
    argv = list(sys.argv)
    if len(argv) > 1 and not argv[1].startswith("-"):
        ACTD = argv.pop(1)
    if not ACTD or not os.access(ACTD, os.X_OK):
        sys.exit("usage: %s <path to actd> [unittest args] (or set ACTD_BINARY)" % argv[0])
    ACTD = os.path.abspath(ACTD)
    _generate_stubs()
    try:
        unittest.main(argv=argv, verbosity=2)
    finally:
        shutil.rmtree(_STUB_DIR, ignore_errors=True)

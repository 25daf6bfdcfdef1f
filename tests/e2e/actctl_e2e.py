"""Shared pieces of the actctl end-to-end suite (tests/e2e/test_actctl_*.py).

Servers come from the one launcher, tests/server/actd_harness.py; this module
adds what the CLI tests need on top: running the real actctl binary, reading
protobuf-JSON tensors, and a test case that starts one actd for its class and
checks that it exits 0 on SIGTERM at the end. Paths come from the ACTD and
ACTCTL environment variables (CTest passes the built targets).
"""

import base64
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))
import actd_harness  # noqa: E402

ACTD = os.path.abspath(os.environ.get("ACTD", "actd"))
ACTCTL = os.path.abspath(os.environ.get("ACTCTL", "actctl"))
actd_harness.set_binary(ACTD)


def start_server(*extra, **kwargs):
    """A running actd on free loopback ports (two compute threads); keyword
    arguments go to actd_harness.ActdServer (e.g. credentials)."""
    return actd_harness.ActdServer("--compute_threads", "2", *extra, **kwargs)


def free_port():
    return actd_harness.free_ports(1)[0]


def run(*args, target=None, env=None, input=None, timeout=60):
    """Runs actctl; returns (exit code, stdout, stderr)."""
    full_env = dict(os.environ)
    full_env.pop("ACTCTL_TARGET", None)
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    argv = [ACTCTL]
    if target is not None:
        argv += ["--target", target]
    result = subprocess.run(argv + [str(a) for a in args], capture_output=True,
                            text=True, env=full_env, input=input,
                            timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def run_on_tty(args, env):
    """Runs actctl with stdout and stderr on a pseudo-terminal; returns (code, output)."""
    master, slave = pty.openpty()
    full_env = dict(os.environ, **env)
    full_env.pop("ACTCTL_TARGET", None)
    if "NO_COLOR" not in env:
        full_env.pop("NO_COLOR", None)
    proc = subprocess.Popen([ACTCTL] + [str(a) for a in args], stdout=slave,
                            stderr=slave, env=full_env)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 10)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=10), b"".join(chunks).decode(errors="replace")


NP_TYPES = {"DATA_TYPE_FLOAT32": "<f4", "DATA_TYPE_FLOAT64": "<f8",
            "DATA_TYPE_FLOAT16": "<f2"}


def tensor_values(t):
    """Values of an activation.v1.Tensor in actctl's JSON (camelCase names)."""
    dtype = t.get("dtype") or "DATA_TYPE_FLOAT32"
    shape = t.get("shape") or []
    if t.get("rawData"):
        raw = base64.b64decode(t["rawData"])
        if dtype == "DATA_TYPE_BFLOAT16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            values = bits.view(np.float32)
        else:
            values = np.frombuffer(raw, dtype=NP_TYPES[dtype])
    else:
        # Typed float values print as the shortest decimal that reads back
        # as the same float32, so they are exact only once read as float32.
        if t.get("floatData"):
            values = np.array([float(v) for v in t["floatData"]], dtype=np.float32)
            if dtype == "DATA_TYPE_FLOAT16":
                values = values.astype(np.float16)
        else:
            values = np.array([float(v) for v in t.get("doubleData") or []])
    return values.reshape(shape) if shape else values.reshape(())


def response_tensor(response, name):
    return tensor_values(response[name])


class ActctlTestCase(unittest.TestCase):
    """One actd for the class (extra flags in `server_args`); a scratch folder."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = start_server(*cls.server_args)
        cls.tmp = tempfile.mkdtemp(prefix="actctl-e2e-")

    @classmethod
    def tearDownClass(cls):
        server = cls.server
        if server.proc.poll() is None:
            server.signal(signal.SIGTERM)
        code = server.wait_exit(30)
        log = server.log()
        server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0:
            raise AssertionError("actd exited %d after SIGTERM:\n%s" % (code, log[-6000:]))

    def run_actctl(self, *args, **kw):
        return run(*args, target=self.server.target, **kw)

    def ok(self, *args, **kw):
        code, out, err = self.run_actctl(*args, **kw)
        self.assertEqual(code, 0, "actctl %s failed (%d): %s%s" % (
            " ".join(map(str, args)), code, out, err))
        self.assertNotIn("\x1b[", out, "colour codes when stdout is not a terminal")
        return out

    def fails(self, code, *args, **kw):
        """Runs actctl, asserts the exit code; returns stderr."""
        got, out, err = self.run_actctl(*args, **kw)
        self.assertEqual(got, code, "actctl %s: %s%s" % (args, out, err))
        self.assertNotIn("Traceback", err + out)
        return err

    def json_of(self, *args):
        return json.loads(self.ok("-o", "json", *args))

    def path(self, name):
        return os.path.join(self.tmp, name)


def main():
    for path in (ACTD, ACTCTL):
        if not os.access(path, os.X_OK):
            sys.exit("not an executable: %s (set ACTD and ACTCTL)" % path)
    unittest.main(verbosity=2)

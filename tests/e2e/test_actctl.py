"""End-to-end tests of actctl against a real actd.

One server is started on a free port for the whole module; every subcommand of
the real actctl binary is run against it and its output checked by value. The
server must exit 0 on SIGTERM at the end. Paths come from the ACTD and ACTCTL
environment variables (CTest passes the built targets).
"""
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import numpy as np

ACTD = os.environ.get("ACTD", "actd")
ACTCTL = os.environ.get("ACTCTL", "actctl")
SERVER = None
TARGET = None
TMP = None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def actctl(*args, target=None, env=None, timeout=30):
    """Runs actctl with --target; returns the CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env.pop("ACTCTL_TARGET", None)
    full_env.update(env or {})
    argv = [ACTCTL]
    if target is not False:
        argv += ["--target", target or TARGET]
    return subprocess.run(argv + [str(a) for a in args], capture_output=True,
                          text=True, env=full_env, timeout=timeout)


def start_server(*extra):
    """Starts actd on a free port; returns (process, target) once healthy."""
    port = free_port()
    proc = subprocess.Popen(
        [ACTD, "--port", str(port), "--host", "127.0.0.1", "--metrics_port", "0", "--http_port", "0",
         *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    target = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("actd exited: " + proc.stderr.read().decode())
        if actctl("health", "--timeout", "1", target=target).returncode == 0:
            return proc, target
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("actd did not become healthy within 15 s")


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=20)
    if proc.stderr:
        proc.stderr.close()
    return code


def setUpModule():
    global SERVER, TARGET, TMP
    TMP = tempfile.mkdtemp(prefix="actctl_e2e_")
    SERVER, TARGET = start_server()


def tearDownModule():
    shutil.rmtree(TMP, ignore_errors=True)
    code = stop_server(SERVER)
    if code != 0:
        raise AssertionError(f"actd exited with {code} on SIGTERM, expected 0")


def path(name):
    return os.path.join(TMP, name)


class ActctlTestCase(unittest.TestCase):
    def ok(self, *args, **kwargs):
        r = actctl(*args, **kwargs)
        self.assertEqual(r.returncode, 0, f"actctl {args}: {r.stderr}")
        return r.stdout

    def json(self, *args, **kwargs):
        return json.loads(self.ok("--format", "json", *args, **kwargs))

    def values(self, tensor):
        """Values of a protobuf-JSON tensor (typed encoding)."""
        data = tensor.get("float_data") or tensor.get("double_data") or []
        return [float(v) for v in data]


class CoreTest(ActctlTestCase):
    def test_health(self):
        self.assertEqual(self.ok("health").strip(), "SERVING")

    def test_target_from_environment(self):
        r = actctl("health", target=False, env={"ACTCTL_TARGET": TARGET})
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "SERVING"))

    def test_list_table(self):
        lines = self.ok("list").splitlines()
        self.assertEqual(lines[0].split(),
                         ["NAME", "MONOTONIC", "SMOOTH", "RANGE", "COST",
                          "LEARNABLE"])
        rows = {line.split()[0]: line.split() for line in lines[1:]}
        self.assertEqual(len(rows), 13)
        self.assertEqual(rows["relu"][1:6], ["yes", "no", "0", "..", "∞"])
        self.assertEqual(rows["sigmoid"][1:6], ["yes", "yes", "0", "..", "1"])
        self.assertEqual(rows["gelu"][-2], "erf")

    def test_list_json(self):
        names = [a["name"] for a in self.json("list")["activations"]]
        self.assertEqual(sorted(names), sorted(
            "sigmoid tanh relu elu selu leaky_relu prelu gelu swish mish "
            "maxout dice identity".split()))

    def test_forward_relu(self):
        out = self.ok("forward", "relu", "--values", "-1,0,2")
        self.assertEqual(out.splitlines(), ["output  float32 [3]", "  [0, 0, 2]"])
        reply = self.json("forward", "relu", "--values", "-1,0,2")
        self.assertEqual(self.values(reply["output"]), [0, 0, 2])
        self.assertEqual(reply["output"]["shape"], ["3"])

    def test_forward_sigmoid_and_shape(self):
        self.assertIn("[0.5]", self.ok("forward", "sigmoid", "--values", "0"))
        reply = self.json("forward", "sigmoid", "--values", "0,0,0,0",
                          "--shape", "2,2", "--dtype", "float64")
        self.assertEqual(reply["output"]["shape"], ["2", "2"])
        self.assertEqual(reply["output"]["dtype"], "DATA_TYPE_FLOAT64")
        self.assertEqual(self.values(reply["output"]), [0.5] * 4)

    def test_backward_sigmoid(self):
        out = self.ok("backward", "sigmoid", "--values", "0")
        self.assertEqual(out.splitlines(), ["grad_input  float32 [1]", "  [0.25]"])

    def test_elu_param(self):
        reply = self.json("forward", "elu", "--values", "-1", "--param",
                          "alpha=0.5", "--dtype", "float64")
        self.assertAlmostEqual(self.values(reply["output"])[0],
                               -0.5 * (1 - math.exp(-1)), places=14)

    def test_gelu_text_param(self):
        x = 1.5
        reply = self.json("forward", "gelu", "--values", x, "--param",
                          "approximate=tanh", "--dtype", "float64")
        want = 0.5 * x * (1 + math.tanh(math.sqrt(2 / math.pi) *
                                        (x + 0.044715 * x ** 3)))
        self.assertAlmostEqual(self.values(reply["output"])[0], want, places=12)

    def test_backward_grad_output_and_raw_encoding(self):
        out = self.ok("backward", "relu", "--values", "-1,2", "--grad-output",
                      "3,4", "--encoding", "raw")
        self.assertEqual(out.splitlines()[1], "  [0, 4]")

    def test_prelu_weight_and_grad_params(self):
        out = self.ok("backward", "prelu", "--values", "-1,2", "--weight",
                      "alpha=0.25")
        self.assertEqual(out.splitlines(),
                         ["grad_input  float32 [2]", "  [0.25, 1]",
                          "grad_params:", "  alpha  float32 []", "    -1"])

    def test_dice_extras(self):
        reply = self.json("forward", "dice", "--values", "1,2,3,4", "--shape",
                          "2,2", "--param", "training=true")
        self.assertEqual(self.values(reply["extras"]["batch_mean"]), [2, 3])
        self.assertEqual(self.values(reply["extras"]["batch_var"]), [1, 1])
        out = self.ok("forward", "dice", "--values", "1,2,3,4", "--shape", "2,2",
                      "--encoding", "raw")
        self.assertIn("extras:\n  batch_mean  float32 [2]\n    [2, 3]\n", out)

    def test_timeout_sets_deadline(self):
        r = actctl("--timeout", "0.000001", "forward", "relu", "--random",
                   "1000000")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("error: DEADLINE_EXCEEDED: "),
                        r.stderr)

    def test_random_is_seeded(self):
        a = self.json("forward", "identity", "--random", "5", "--seed", "7")
        b = self.json("forward", "identity", "--random", "5", "--seed", "7")
        c = self.json("forward", "identity", "--random", "5", "--seed", "8")
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertEqual(len(self.values(a["output"])), 5)


class InfoDescribeTest(ActctlTestCase):
    def test_info(self):
        out = self.ok("info")
        for field in ("version", "isa", "compute_threads", "max_message_bytes",
                      "max_elements", "max_batch_items", "max_inflight"):
            self.assertRegex(out, rf"(?m)^{field}\s+\S+")
        info = self.json("info")
        self.assertGreaterEqual(info["compute_threads"], 1)
        self.assertEqual(int(info["max_message_bytes"]), 256 << 20)

    def test_describe(self):
        out = self.ok("describe", "elu")
        self.assertIn("f(x)  = ", out)
        self.assertIn("f'(x) = ", out)
        self.assertRegex(out, r"(?m)^  alpha  default 1, allowed ")
        self.assertRegex(out, r"(?m)^  monotonic\s+yes$")
        self.assertIn("reference: Clevert", out)
        plot = out[out.index("f and f' on [-5, 5]:"):]
        self.assertIn("•", plot)
        self.assertIn("∘", plot)
        self.assertEqual(self.json("describe", "elu")["name"], "elu")

    def test_describe_weights(self):
        out = self.ok("describe", "dice")
        self.assertIn("weights:", out)
        self.assertIn("running_mean", out)


class FilesTest(ActctlTestCase):
    def test_npy_written_by_actctl(self):
        for dtype, np_dtype in (("float32", np.float32), ("float64", np.float64)):
            out = path(f"out_{dtype}.npy")
            self.ok("forward", "relu", "--values", "-1,2,-3,4,5,-6", "--shape",
                    "2,3", "--dtype", dtype, "--output", out)
            a = np.load(out)
            self.assertEqual(a.dtype, np_dtype)
            self.assertEqual(a.shape, (2, 3))
            np.testing.assert_array_equal(a, [[0, 2, 0], [4, 5, 0]])

    def test_npy_written_by_numpy(self):
        x = np.array([[-1.5, 2.0], [3.0, -4.0]])
        for np_dtype, name in ((np.float64, "DATA_TYPE_FLOAT64"),
                               (np.float32, "DATA_TYPE_FLOAT32")):
            src = path(f"in_{name}.npy")
            np.save(src, x.astype(np_dtype))
            reply = self.json("forward", "relu", "--input", src)
            self.assertEqual(reply["output"]["dtype"], name)
            self.assertEqual(reply["output"]["shape"], ["2", "2"])
            self.assertEqual(self.values(reply["output"]), [0, 2, 3, 0])

    def test_npy_round_trip_backward(self):
        src, dst = path("grad_in.npy"), path("grad_out.npy")
        x = np.linspace(-3, 3, 12).reshape(3, 4)
        np.save(src, x)
        self.ok("backward", "sigmoid", "--input", src, "--output", dst)
        s = 1 / (1 + np.exp(-x))
        got = np.load(dst)
        self.assertEqual((got.dtype, got.shape), (np.float64, (3, 4)))
        np.testing.assert_allclose(got, s * (1 - s), rtol=1e-13)

    def test_csv_and_json_files(self):
        csv_in = path("in.csv")
        with open(csv_in, "w") as f:
            f.write("-1,2\n3,-4\n")
        json_out = path("out.json")
        self.ok("forward", "relu", "--input", csv_in, "--output", json_out)
        with open(json_out) as f:
            self.assertEqual(json.load(f), [[0, 2], [3, 0]])
        csv_out = path("out.csv")
        self.ok("forward", "relu", "--input", json_out, "--output", csv_out)
        np.testing.assert_array_equal(np.loadtxt(csv_out, delimiter=","),
                                      [[0, 2], [3, 0]])

    def test_weight_and_grad_output_files(self):
        alpha, grad = path("alpha.npy"), path("dy.npy")
        np.save(alpha, np.array([0.1, 0.2], dtype=np.float32))
        np.save(grad, np.array([[1, 1], [2, 2]], dtype=np.float32))
        reply = self.json("backward", "prelu", "--values", "-1,-1,-2,3",
                          "--shape", "2,2", "--weight", f"alpha={alpha}",
                          "--param", "channel_axis=-1", "--grad-output", grad)
        np.testing.assert_allclose(self.values(reply["grad_input"]),
                                   [0.1, 0.2, 0.2, 2], rtol=1e-6)
        # dL/dalpha_c = sum over the batch of dy * x where x < 0.
        np.testing.assert_allclose(self.values(reply["grad_params"]["alpha"]),
                                   [-1 - 4, -1], rtol=1e-6)


class BatchCompareTest(ActctlTestCase):
    def write_batch(self, items):
        p = path("batch.json")
        with open(p, "w") as f:
            json.dump({"items": items}, f)
        return p

    def test_batch(self):
        p = self.write_batch([
            {"id": "f", "forward": {"activation": {"name": "relu"},
                                    "input": {"shape": [3], "floatData": [-1, 0, 2]}}},
            {"id": "b", "backward": {"activation": {"name": "sigmoid"},
                                     "input": {"shape": [1], "doubleData": [0]}}},
            {"id": "x", "forward": {"activation": {"name": "nope"},
                                    "input": {"floatData": [0]}}},
        ])
        r = actctl("batch", p)
        self.assertEqual(r.returncode, 1)
        self.assertIn("[0] f  OK\n  output  float32 [3]\n    [0, 0, 2]\n", r.stdout)
        self.assertIn("[1] b  OK\n  grad_input  float64 [1]\n    [0.25]\n", r.stdout)
        self.assertIn("[2] x  NOT_FOUND: ", r.stdout)
        r = actctl("--format", "json", "batch", p)
        results = json.loads(r.stdout)["results"]
        self.assertEqual([res["code"] for res in results], [0, 0, 5])
        self.assertEqual(self.values(results[0]["forward"]["output"]), [0, 0, 2])

    def test_batch_all_ok_and_bad_json(self):
        p = self.write_batch([{"forward": {"activation": {"name": "tanh"},
                                           "input": {"doubleData": [0]}}}])
        self.assertIn("[0]", self.ok("batch", p))
        bad = path("bad.json")
        with open(bad, "w") as f:
            f.write("{not json")
        self.assertEqual(actctl("batch", bad).returncode, 2)

    def test_compare(self):
        lines = self.ok("compare", "relu", "sigmoid", "--values",
                        "-1,0,1").splitlines()
        self.assertEqual(lines[0].split(), ["x", "relu", "sigmoid"])
        self.assertEqual(lines[2].split(), ["0", "0", "0.5"])
        header = self.ok("compare", "all", "--values", "0").splitlines()[0]
        self.assertEqual(len(header.split()), 1 + 11)  # elementwise ones
        lines = self.ok("compare", "sigmoid", "tanh", "--backward", "--values",
                        "0").splitlines()
        self.assertEqual(lines[1].split(), ["0", "0.25", "1"])

    def test_plot_svg(self):
        svg = path("plot.svg")
        self.ok("plot", "relu", "gelu", "mish", "--out", svg, "--range", "-4:4")
        ns = {"s": "http://www.w3.org/2000/svg"}
        root = ET.parse(svg).getroot()
        paths = root.findall(".//s:path", ns)
        self.assertEqual(len(paths), 6)
        curves = sorted((p.get("data-activation"), p.get("class")) for p in paths)
        self.assertEqual(curves, sorted(
            (n, c) for n in ("relu", "gelu", "mish") for c in ("f", "df")))
        texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
        self.assertIn("relu, gelu, mish and derivatives on [-4, 4]", texts)
        self.assertIn("gelu(x)", texts)
        self.assertIn("x", texts)

    def test_bench_text_and_json(self):
        out = self.ok("bench", "relu", "-n", "60", "-c", "3", "--elements", "256")
        self.assertRegex(out, r"Count:\s+60\n")
        for key in ("Requests/sec:", "Fastest:", "Average:", "Slowest:",
                    "p50", "p90", "p95", "p99", "Bytes/sec:",
                    "Response time histogram:", "[OK]  60 responses"):
            self.assertIn(key, out)
        report = json.loads(self.ok("--format", "json", "bench", "sigmoid",
                                    "-z", "300ms", "-c", "2", "--rps", "100",
                                    "--direction", "backward", "--dtype",
                                    "float64"))
        self.assertGreater(report["count"], 5)
        self.assertLessEqual(report["count"], 32)  # paced at 100/s for 0.3 s
        self.assertEqual(report["status_codes"], {"OK": report["count"]})
        self.assertEqual(sum(b["count"] for b in report["histogram"]),
                         report["count"])
        p = report["latency_percentiles_ms"]
        self.assertLessEqual(report["fastest_ms"], p["p50"])
        self.assertLessEqual(p["p50"], p["p99"])
        self.assertGreater(report["bytes_sent"], 0)

    def test_completion_bash(self):
        script = self.ok("completion", "bash")
        self.assertIn("complete -F _actctl actctl", script)
        self.assertIn("--grad-output", script)
        r = subprocess.run(["bash", "-n"], input=script, text=True,
                           capture_output=True)
        self.assertEqual(r.returncode, 0, r.stderr)


class ErrorsTest(ActctlTestCase):
    def test_unknown_activation(self):
        r = actctl("forward", "nope", "--values", "1")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("error: NOT_FOUND: "), r.stderr)
        self.assertEqual(actctl("describe", "nope").returncode, 1)

    def test_invalid_argument(self):
        r = actctl("forward", "elu", "--values", "1", "--param", "alpha=-5")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("error: INVALID_ARGUMENT: "), r.stderr)

    def test_usage_errors(self):
        for args in (["forward", "relu", "--bogus"], ["frobnicate"], [],
                     ["forward", "relu"], ["forward", "relu", "--values", "a,b"],
                     ["forward", "relu", "--values", "1,2", "--shape", "3"],
                     ["forward", "relu", "--values", "1", "--param", "alpha"],
                     ["forward", "relu", "--values", "1", "--dtype", "int8"],
                     ["--format", "yaml", "list"]):
            r = actctl(*args)
            self.assertEqual(r.returncode, 2, f"{args}: {r.stderr}")

    def test_help_exits_zero_with_example(self):
        for sub in ("list", "forward", "backward", "describe", "info", "health",
                    "batch", "compare", "plot", "bench", "completion"):
            r = actctl(sub, "--help")
            self.assertEqual(r.returncode, 0, sub)
            self.assertIn("Example:\n  ", r.stdout, sub)

    def test_unreachable_target(self):
        r = actctl("list", target=f"127.0.0.1:{free_port()}")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.startswith("error: UNAVAILABLE: "), r.stderr)
        r = actctl("health", target=f"127.0.0.1:{free_port()}")
        self.assertEqual(r.returncode, 1)

    def test_no_color_when_not_a_terminal(self):
        self.assertNotIn("\033[", self.ok("list"))


class AuthTlsTest(ActctlTestCase):
    def test_bearer_token(self):
        token_file = path("token")
        with open(token_file, "w") as f:
            f.write("s3cret\n")
        proc, target = start_server("--auth_token_file", token_file)
        try:
            r = actctl("forward", "relu", "--values", "1", target=target)
            self.assertEqual(r.returncode, 1)
            self.assertTrue(r.stderr.startswith("error: UNAUTHENTICATED: "),
                            r.stderr)
            self.ok("forward", "relu", "--values", "1", "--token", "s3cret",
                    target=target)
            self.ok("list", "--token-file", token_file, target=target)
        finally:
            self.assertEqual(stop_server(proc), 0)

    def test_tls(self):
        d = path("tls")
        os.makedirs(d, exist_ok=True)
        key, cert = os.path.join(d, "key.pem"), os.path.join(d, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        port = free_port()
        proc = subprocess.Popen(
            [ACTD, "--port", str(port), "--host", "127.0.0.1", "--metrics_port",
             "0", "--http_port", "0", "--tls_cert", cert, "--tls_key", key],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        target = f"localhost:{port}"
        try:
            deadline = time.monotonic() + 15
            while actctl("health", "--tls-ca", cert, "--timeout", "1",
                         target=target).returncode != 0:
                self.assertLess(time.monotonic(), deadline, "no TLS server")
                time.sleep(0.1)
            out = self.ok("forward", "relu", "--values", "-1,3", "--tls-ca",
                          cert, target=target)
            self.assertEqual(out.splitlines()[1], "  [0, 3]")
            r = actctl("forward", "relu", "--values", "1", target=target)
            self.assertEqual(r.returncode, 1)
            self.assertTrue(r.stderr.startswith("error: UNAVAILABLE: "), r.stderr)
        finally:
            self.assertEqual(stop_server(proc), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

"""End-to-end tests of the actctl CLI against a real actd server.

Usage: ACTD=path/to/actd ACTCTL=path/to/actctl test_actctl_cli.py [unittest args]

Each test class starts actd as a child process on a free port, runs the real
actctl binary as a user would, and checks what it prints and writes: values
of the activations, .npy files read back by NumPy (and NumPy's files read by
actctl), the SVG structure, the load-test figures, and the exit code of every
error path (0 ok, 1 RPC error, 2 usage error).
"""

import base64
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import numpy as np

ACTD = os.path.abspath(os.environ.get("ACTD", "actd"))
ACTCTL = os.path.abspath(os.environ.get("ACTCTL", "actctl"))
ACTIVATIONS = ["sigmoid", "tanh", "relu", "elu", "selu", "leaky_relu", "prelu",
               "gelu", "swish", "mish", "maxout", "dice", "identity"]
SUBCOMMANDS = ["list", "describe", "forward", "backward", "batch", "compare",
               "plot", "bench", "health", "info", "completion"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running actd on a free port; stop() sends SIGTERM and returns its code."""

    def __init__(self, *extra):
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [ACTD, "--port", str(self.port), "--host", "127.0.0.1",
             "--metrics_port", "0", "--http_port", "0", "--compute_threads", "2", *extra],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.target = "127.0.0.1:%d" % self.port
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("actd exited early: " + self.output())
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("actd did not listen: " + self.output())

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


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


def tensor_values(t):
    """Values of an activation.v1.Tensor in protobuf JSON (either field-name style)."""
    def get(*names):
        for n in names:
            if n in t and t[n] not in ("", [], None):
                return t[n]
        return None
    dtype = get("dtype") or "DATA_TYPE_FLOAT32"
    shape = [int(d) for d in (get("shape") or [])]
    raw = get("rawData", "raw_data")
    if raw is not None:
        np_dtype = np.float64 if dtype == "DATA_TYPE_FLOAT64" else np.float32
        values = np.frombuffer(base64.b64decode(raw), dtype="<" + np.dtype(np_dtype).str[1:])
    else:
        data = get("floatData", "float_data") or get("doubleData", "double_data") or []
        values = np.array([float(v) for v in data])
    return values.reshape(shape) if shape else values.reshape(())


def response_tensor(response, *names):
    for n in names:
        if n in response:
            return tensor_values(response[n])
    raise KeyError("none of %s in %s" % (names, list(response)))


class ActctlTest(unittest.TestCase):
    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.tmp = tempfile.mkdtemp(prefix="actctl-e2e-")

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0:
            raise AssertionError("actd exited %d after SIGTERM" % code)

    def ok(self, *args, **kw):
        code, out, err = run(*args, target=self.server.target, **kw)
        self.assertEqual(code, 0, "actctl %s failed (%d): %s%s" % (
            " ".join(map(str, args)), code, out, err))
        self.assertNotIn("\x1b[", out, "colour codes when stdout is not a terminal")
        return out

    def json_of(self, *args):
        return json.loads(self.ok(*args, "--format", "json"))

    def path(self, name):
        return os.path.join(self.tmp, name)

    # --- health, info, list, describe -------------------------------------

    def test_health_serving(self):
        out = self.ok("health")
        self.assertEqual(out.strip(), "SERVING")

    def test_target_from_environment(self):
        code, out, _ = run("health", env={"ACTCTL_TARGET": self.server.target})
        self.assertEqual((code, out.strip()), (0, "SERVING"))

    def test_round_robin_dns_target(self):
        code, out, err = run("--lb", "round_robin", "health",
                             target="dns:///localhost:%d" % self.server.port)
        self.assertEqual((code, out.strip()), (0, "SERVING"), err)

    def test_info(self):
        info = self.json_of("info")
        flat = {k.replace("_", "").lower(): v for k, v in info.items()}
        self.assertEqual(int(flat["maxmessagebytes"]), 256 << 20)
        self.assertEqual(int(flat["computethreads"]), 2)
        self.assertIn(flat["isa"], ("baseline", "avx2", "avx512"))
        self.assertTrue(flat["version"])
        out = self.ok("info")
        self.assertIn(flat["isa"], out)

    def test_list_names_and_properties(self):
        out = self.ok("list")
        for name in ACTIVATIONS:
            self.assertRegex(out, r"(?m)^\s*%s\s" % name)
        header = out.splitlines()[0].lower()
        for column in ("monotonic", "smooth", "range", "cost", "learnable"):
            self.assertIn(column, header)
        # GELU is not monotonic, ReLU is.
        gelu = next(l for l in out.splitlines() if l.split()[0] == "gelu")
        relu = next(l for l in out.splitlines() if l.split()[0] == "relu")
        self.assertEqual(gelu.split()[1], "no")
        self.assertEqual(relu.split()[1], "yes")

    def test_describe_shows_formula_params_properties_and_plot(self):
        listing = self.json_of("list")
        elu = next(a for a in listing["activations"] if a["name"] == "elu")
        out = self.ok("describe", "elu")
        self.assertIn(elu["formula"], out)
        self.assertIn(elu["derivative"], out)
        self.assertIn(elu["reference"], out)
        self.assertIn("alpha", out)           # the parameter
        for prop in ("monotonic", "range", "zero-centered", "saturat", "cost",
                     "learnable"):
            self.assertIn(prop, out.lower())
        # A Unicode plot: braille dots, box drawing, bullets or blocks.
        glyphs = [c for c in out if 0x2500 <= ord(c) <= 0x28FF or c in "•∘·●○"]
        self.assertGreater(len(glyphs), 60, "no terminal plot of f and f'")

    def test_describe_unknown_is_not_found(self):
        code, _, err = run("describe", "nope", target=self.server.target)
        self.assertEqual(code, 1)
        self.assertIn("error: NOT_FOUND:", err)

    # --- forward / backward -----------------------------------------------

    def test_forward_relu_values(self):
        y = response_tensor(self.json_of("forward", "relu", "--values", "-1,0,2"),
                            "output")
        np.testing.assert_array_equal(y, [0, 0, 2])
        table = self.ok("forward", "relu", "--values", "-1.25,3.5")
        self.assertIn("3.5", table)
        self.assertNotIn("1.25", table.replace("-1.25", ""))
        self.assertIn("0.5", self.ok("forward", "sigmoid", "--values", "0"))
        self.assertIn("0.25", self.ok("backward", "sigmoid", "--values", "0"))

    def test_forward_sigmoid_at_zero(self):
        out = self.path("sig.json")
        self.ok("forward", "sigmoid", "--values", "0", "--output", out)
        with open(out) as f:
            self.assertEqual(json.load(f), [0.5])

    def test_backward_sigmoid_at_zero(self):
        dx = response_tensor(self.json_of("backward", "sigmoid", "--values", "0"),
                             "gradInput", "grad_input")
        np.testing.assert_allclose(dx, [0.25], rtol=1e-7)

    def test_backward_with_grad_output_values(self):
        dx = response_tensor(self.json_of("backward", "relu", "--values", "-1,2",
                                          "--grad-output", "3,4"),
                             "gradInput", "grad_input")
        np.testing.assert_array_equal(dx, [0, 4])

    def test_backward_grad_output_from_file_and_grad_params(self):
        x = np.array([-2.0, -1.0, 3.0])
        dy = np.array([1.0, 2.0, 3.0])
        np.save(self.path("bx.npy"), x)
        np.save(self.path("bdy.npy"), dy)
        response = self.json_of("backward", "elu", "--input", self.path("bx.npy"),
                                "--grad-output", self.path("bdy.npy"),
                                "--param", "alpha=0.5")
        dx = response_tensor(response, "gradInput", "grad_input")
        expected = np.where(x > 0, dy, dy * 0.5 * np.exp(x))
        np.testing.assert_allclose(dx, expected, rtol=1e-13)
        grads = response.get("gradParams", response.get("grad_params"))
        dalpha = tensor_values(grads["alpha"])
        self.assertEqual(dalpha.shape, ())
        np.testing.assert_allclose(dalpha, np.sum(np.where(x <= 0, dy * np.expm1(x), 0)),
                                   rtol=1e-12)
        # The table shows the parameter gradient too.
        self.assertIn("alpha", self.ok("backward", "elu", "--values", "-2,-1,3",
                                       "--param", "alpha=0.5"))

    def test_params_number_text_and_flag(self):
        y = response_tensor(self.json_of("forward", "leaky_relu", "--values", "-2,3",
                                         "--param", "alpha=0.1"), "output")
        np.testing.assert_allclose(y, [-0.2, 3], rtol=1e-6)
        x = 1.5
        y = response_tensor(self.json_of("forward", "gelu", "--values", x,
                                         "--dtype", "float64",
                                         "--param", "approximate=tanh"), "output")
        u = np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)
        np.testing.assert_allclose(y, [0.5 * x * (1 + np.tanh(u))], rtol=1e-13)
        # training=false (a flag) needs running statistics: given as weights.
        np.save(self.path("mean.npy"), np.array([1.0]))
        np.save(self.path("var.npy"), np.array([4.0]))
        y = response_tensor(self.json_of(
            "forward", "dice", "--values", "3", "--shape", "1,1", "--dtype", "float64",
            "--param", "training=false", "--weight", "running_mean=" + self.path("mean.npy"),
            "--weight", "running_var=" + self.path("var.npy")), "output")
        p = 1 / (1 + np.exp(-(3 - 1) / np.sqrt(4 + 1e-8)))
        np.testing.assert_allclose(y.ravel(), [3 * p], rtol=1e-12)

    def test_prelu_weight_file_per_channel(self):
        np.save(self.path("alpha.npy"), np.array([0.1, 0.5], dtype=np.float32))
        with open(self.path("alpha.json"), "w") as f:
            json.dump([0.1, 0.5], f)
        with open(self.path("alpha.csv"), "w") as f:
            f.write("0.1,0.5\n")
        for weight in ("alpha.npy", "alpha.json", "alpha.csv"):
            y = response_tensor(self.json_of(
                "forward", "prelu", "--values", "-1,-1,-2,-2", "--shape", "2,2",
                "--weight", "alpha=" + self.path(weight)), "output")
            np.testing.assert_allclose(y, [[-0.1, -0.5], [-0.2, -1.0]], rtol=1e-6,
                                       err_msg=weight)

    def test_dice_extras(self):
        response = self.json_of("forward", "dice", "--values", "1,2,3,4",
                                "--shape", "4,1", "--dtype", "float64")
        extras = response["extras"]
        np.testing.assert_allclose(tensor_values(extras["batch_mean"]).ravel(), [2.5])
        np.testing.assert_allclose(tensor_values(extras["batch_var"]).ravel(), [1.25])
        table = self.ok("forward", "dice", "--values", "1,2,3,4", "--shape", "4,1")
        self.assertIn("batch_mean", table)

    def test_typed_and_raw_encodings(self):
        typed = self.json_of("forward", "relu", "--values", "-1,2", "--encoding", "typed")
        raw = self.json_of("forward", "relu", "--values", "-1,2", "--encoding", "raw",
                           "--dtype", "float64")
        t, r = typed["output"], raw["output"]
        self.assertTrue(t.get("floatData") or t.get("float_data"))
        self.assertTrue(r.get("rawData") or r.get("raw_data"))
        np.testing.assert_array_equal(tensor_values(t), [0, 2])
        np.testing.assert_array_equal(tensor_values(r), [0, 2])
        self.assertEqual(tensor_values(r).dtype, np.float64)

    def test_random_input_with_seed_and_shape(self):
        a = response_tensor(self.json_of("forward", "identity", "--random", 6,
                                         "--seed", 7, "--shape", "2,3"), "output")
        b = response_tensor(self.json_of("forward", "identity", "--random", 6,
                                         "--seed", 7, "--shape", "2,3"), "output")
        self.assertEqual(a.shape, (2, 3))
        np.testing.assert_array_equal(a, b)
        self.assertGreater(np.std(a), 0)

    def test_large_tensor_table_is_summarised(self):
        out = self.ok("forward", "tanh", "--random", 10000, "--seed", 1)
        self.assertLess(len(out.splitlines()), 60)
        self.assertTrue("..." in out or "…" in out or "⋮" in out)

    # --- files -----------------------------------------------------------------

    def test_npy_written_by_actctl_reads_in_numpy(self):
        for dtype, np_dtype in (("float32", np.float32), ("float64", np.float64)):
            out = self.path("y_%s.npy" % dtype)
            self.ok("forward", "relu", "--values", "-1,2,-3,4,5,-6", "--shape", "2,3",
                    "--dtype", dtype, "--output", out)
            y = np.load(out)
            self.assertEqual(y.dtype, np_dtype)
            self.assertEqual(y.shape, (2, 3))
            np.testing.assert_array_equal(y, [[0, 2, 0], [4, 5, 0]])

    def test_npy_written_by_numpy_reads_in_actctl(self):
        rng = np.random.default_rng(3)
        x32 = rng.standard_normal((2, 3, 4)).astype(np.float32)
        x64 = rng.standard_normal((5,))
        np.save(self.path("x32.npy"), x32)
        with open(self.path("x64v2.npy"), "wb") as f:   # format version 2.0
            np.lib.format.write_array(f, x64, version=(2, 0))
        self.ok("forward", "elu", "--input", self.path("x32.npy"),
                "--output", self.path("y32.npy"))
        y = np.load(self.path("y32.npy"))
        self.assertEqual((y.dtype, y.shape), (np.float32, (2, 3, 4)))
        np.testing.assert_allclose(y, np.where(x32 > 0, x32, np.expm1(x32)), rtol=3e-6,
                                   atol=1e-37)
        self.ok("backward", "sigmoid", "--input", self.path("x64v2.npy"),
                "--output", self.path("dx64.npy"))
        dx = np.load(self.path("dx64.npy"))
        self.assertEqual((dx.dtype, dx.shape), (np.float64, (5,)))
        s = 1 / (1 + np.exp(-x64))
        np.testing.assert_allclose(dx, s * (1 - s), rtol=1e-13)

    def test_csv_and_json_files(self):
        with open(self.path("x.csv"), "w") as f:
            f.write("-1,2,-3\n4,-5,6\n")
        self.ok("forward", "relu", "--input", self.path("x.csv"),
                "--output", self.path("y.csv"))
        y = np.loadtxt(self.path("y.csv"), delimiter=",", comments="#", ndmin=2)
        np.testing.assert_array_equal(y, [[0, 2, 0], [4, 0, 6]])
        with open(self.path("x.json"), "w") as f:
            json.dump([[-1, 2], [3, -4]], f)
        self.ok("forward", "relu", "--input", self.path("x.json"),
                "--output", self.path("y.json"))
        with open(self.path("y.json")) as f:
            self.assertEqual(json.load(f), [[0, 2], [3, 0]])

    # --- batch, compare -----------------------------------------------------

    def write_batch(self, name, items):
        path = self.path(name)
        with open(path, "w") as f:
            json.dump({"items": items}, f)
        return path

    def test_batch_all_ok(self):
        path = self.write_batch("ok.json", [
            {"id": "a", "forward": {"activation": {"name": "relu"},
                                    "input": {"shape": [3], "doubleData": [-1, 0, 2]}}},
            {"id": "b", "backward": {"activation": {"name": "sigmoid"},
                                     "input": {"shape": [1], "doubleData": [0]}}}])
        response = self.json_of("batch", path)
        results = response["results"]
        self.assertEqual([r["id"] for r in results], ["a", "b"])
        self.assertTrue(all(int(r.get("code", 0)) == 0 for r in results))
        np.testing.assert_array_equal(tensor_values(results[0]["forward"]["output"]),
                                      [0, 0, 2])
        back = results[1]["backward"]
        np.testing.assert_allclose(
            tensor_values(back.get("gradInput", back.get("grad_input"))), [0.25])
        table = self.ok("batch", path)
        self.assertEqual(table.count("OK"), 2)

    def test_batch_item_failure_is_reported_per_item(self):
        path = self.write_batch("mixed.json", [
            {"id": "good", "forward": {"activation": {"name": "relu"},
                                       "input": {"shape": [1], "floatData": [-1]}}},
            {"id": "bad", "forward": {"activation": {"name": "nope"},
                                      "input": {"shape": [1], "floatData": [1]}}}])
        code, out, err = run("batch", path, target=self.server.target)
        self.assertEqual(code, 1, "a failed item makes the exit code 1")
        self.assertIn("NOT_FOUND", out + err)
        self.assertIn("good", out)
        code, out, _ = run("batch", path, "--format", "json", target=self.server.target)
        results = json.loads(out)["results"]
        self.assertEqual([int(r.get("code", 0)) for r in results], [0, 5])

    def test_batch_bad_json_is_usage_error(self):
        path = self.path("broken.json")
        with open(path, "w") as f:
            f.write("{\"items\": [")
        code, _, err = run("batch", path, target=self.server.target)
        self.assertEqual(code, 2)
        self.assertIn("error:", err)

    def test_compare_side_by_side(self):
        out = self.ok("compare", "relu", "sigmoid", "tanh", "--values", "-1,0,1")
        lines = out.splitlines()
        header = next(l for l in lines if "sigmoid" in l)
        self.assertIn("relu", header)
        self.assertIn("tanh", header)
        zero = next(l.split() for l in lines if l.split() and l.split()[-4:][0] == "0")
        self.assertEqual(zero[-3:], ["0", "0.5", "0"])
        out = self.ok("compare", "all", "--values", "0,1")
        for name in ("sigmoid", "gelu", "mish", "identity"):
            self.assertIn(name, out)

    def test_compare_unknown_activation_fails(self):
        code, _, err = run("compare", "relu", "nope", "--values", "1",
                           target=self.server.target)
        self.assertEqual(code, 1)
        self.assertIn("NOT_FOUND", err)

    # --- plot -------------------------------------------------------------------

    def curves(self, svg_path):
        root = ET.parse(svg_path).getroot()
        self.assertTrue(root.tag.endswith("svg"))
        curves = {"f": [], "df": []}
        for el in root.iter():
            tag = el.tag.split("}")[-1]
            classes = (el.get("class") or "").split()
            if tag in ("path", "polyline"):
                for kind in ("f", "df"):
                    if kind in classes:
                        curves[kind].append(el.get("data-activation"))
        texts = " ".join("".join(el.itertext()) for el in root.iter()
                         if el.tag.split("}")[-1] == "text")
        return curves, texts

    def test_plot_single_layout(self):
        out = self.path("single.svg")
        self.ok("plot", "relu", "gelu", "swish", "--out", out, "--range", "-4:4")
        curves, texts = self.curves(out)
        self.assertEqual(sorted(curves["f"]), ["gelu", "relu", "swish"])
        self.assertEqual(sorted(curves["df"]), ["gelu", "relu", "swish"])
        for word in ("relu", "gelu", "swish", "-4", "4"):
            self.assertIn(word, texts)

    def test_plot_grid_layout(self):
        out = self.path("grid.svg")
        self.ok("plot", "sigmoid", "tanh", "mish", "elu", "--layout", "grid", "--out", out)
        curves, _ = self.curves(out)
        self.assertEqual(len(curves["f"]), 4)
        self.assertEqual(len(curves["df"]), 4)

    def test_plot_all_draws_every_elementwise_activation(self):
        listing = self.json_of("list")
        elementwise = sorted(a["name"] for a in listing["activations"]
                             if a.get("elementwise"))
        out = self.path("all.svg")
        self.ok("plot", "all", "--layout", "grid", "--out", out)
        curves, _ = self.curves(out)
        self.assertEqual(sorted(curves["f"]), elementwise)
        self.assertEqual(sorted(curves["df"]), elementwise)

    def test_plot_unknown_activation_fails(self):
        code, _, err = run("plot", "nope", "--out", self.path("x.svg"),
                           target=self.server.target)
        self.assertEqual(code, 1)
        self.assertIn("NOT_FOUND", err)

    # --- bench ---------------------------------------------------------------

    def test_bench_text(self):
        out = self.ok("bench", "relu", "-c", 2, "-n", 60, "--elements", 256)
        for word in ("Count", "Requests/sec", "Fastest", "Average", "Slowest",
                     "p50", "p90", "p95", "p99", "OK"):
            self.assertIn(word, out)
        self.assertRegex(out, r"Count:\s+60\b")
        self.assertRegex(out, r"\[OK\]\s+60\b")
        self.assertRegex(out, r"(?i)histogram")
        self.assertNotIn("\r", out, "no progress bar when not on a terminal")

    def test_bench_json_duration_backward(self):
        report = self.json_of("bench", "gelu", "-c", 2, "-z", "1s", "--direction",
                              "backward", "--shape", "4,64", "--dtype", "float64")
        flat = json.dumps(report)
        self.assertGreater(report["count"], 0)
        self.assertGreater(report["rps"], 0)
        self.assertIn("p99", flat)
        self.assertIn("OK", flat)
        self.assertLessEqual(report["fastest_ms"], report["slowest_ms"])

    def test_bench_rps_paces_calls(self):
        report = self.json_of("bench", "identity", "-c", 2, "-n", 10, "--rps", 20)
        # Ten calls at 20 per second take at least 0.45 s.
        self.assertEqual(report["count"], 10)
        self.assertLess(report["rps"], 25)

    # --- help, completion, errors ---------------------------------------------

    def test_help_on_every_subcommand_has_an_example(self):
        for sub in SUBCOMMANDS:
            code, out, _ = run(sub, "--help")
            self.assertEqual(code, 0, sub)
            self.assertIn("actctl %s" % sub, out, sub)
            self.assertRegex(out, r"(?i)example", sub)

    def test_bash_completion(self):
        out = self.ok("completion", "bash")
        self.assertIn("complete ", out)
        for sub in SUBCOMMANDS:
            self.assertIn(sub, out)
        check = subprocess.run(["bash", "-n"], input=out, text=True, capture_output=True)
        self.assertEqual(check.returncode, 0, check.stderr)

    def test_unknown_activation_is_not_found(self):
        code, out, err = run("forward", "nope", "--values", "1", target=self.server.target)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"^error: NOT_FOUND: ")
        self.assertNotIn("Traceback", err + out)

    def test_invalid_parameter_is_invalid_argument(self):
        code, _, err = run("forward", "gelu", "--values", "1", "--param",
                           "approximate=cubic", target=self.server.target)
        self.assertEqual(code, 1)
        self.assertIn("error: INVALID_ARGUMENT:", err)

    def test_usage_errors_exit_2(self):
        cases = [
            ("forward", "relu", "--bogus"),
            ("forward", "relu"),                       # no input
            ("forward", "relu", "--values", "1,x"),    # not a number
            ("forward", "relu", "--values", "1,2,3", "--shape", "2,2"),
            ("forward", "relu", "--input", self.path("missing.npy")),
            ("forward", "relu", "--values", "1", "--dtype", "float16"),
            ("nosuchcommand",),
            (),
        ]
        for args in cases:
            code, out, err = run(*args, target=self.server.target)
            self.assertEqual(code, 2, "%s -> %d: %s" % (args, code, err))
            self.assertNotIn("Traceback", err)

    def test_deadline_exceeded(self):
        code, _, err = run("--timeout", "0.000001", "forward", "tanh", "--random",
                           1 << 20, target=self.server.target)
        self.assertEqual(code, 1)
        self.assertIn("error: DEADLINE_EXCEEDED:", err)
        # A load test whose every call fails exits 1 too.
        code, out, _ = run("--timeout", "0.000001", "bench", "tanh", "-n", 2,
                           "--elements", 1 << 20, target=self.server.target)
        self.assertEqual(code, 1)
        self.assertIn("DEADLINE_EXCEEDED", out)

    def test_color_only_on_a_terminal(self):
        code, out = run_on_tty(["--target", self.server.target, "list"],
                               {"TERM": "xterm"})
        self.assertEqual(code, 0)
        self.assertIn("\x1b[", out)
        code, out = run_on_tty(["--target", self.server.target, "list"],
                               {"TERM": "xterm", "NO_COLOR": "1"})
        self.assertEqual(code, 0)
        self.assertNotIn("\x1b[", out)

    def test_bench_progress_bar_only_on_a_terminal(self):
        code, out = run_on_tty(["--target", self.server.target, "bench", "relu",
                                "-c", 1, "-z", "0.5s", "--elements", 16],
                               {"TERM": "xterm"})
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"\r\[=*\s*\]")
        self.assertIn("Requests/sec", out)
        code, _, err = run("bench", "relu", "-c", 1, "-z", "0.5s", "--elements", 16,
                           target=self.server.target)
        self.assertEqual(code, 0)
        self.assertNotIn("\r", err)


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


class UnreachableTest(unittest.TestCase):
    def test_unreachable_target_is_unavailable(self):
        port = free_port()  # nothing listens there
        for args in (("health",), ("list",), ("forward", "relu", "--values", "1")):
            code, _, err = run(*args, target="127.0.0.1:%d" % port)
            self.assertEqual(code, 1, args)
            self.assertRegex(err, r"^error: UNAVAILABLE: ", args)


class AuthTest(unittest.TestCase):
    """A server that requires a bearer token."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="actctl-auth-")
        cls.token_file = os.path.join(cls.tmp, "token")
        with open(cls.token_file, "w") as f:
            f.write("s3cret\n")
        cls.server = Server("--auth_token_file", cls.token_file)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0:
            raise AssertionError("actd exited %d after SIGTERM" % code)

    def test_token_flag_and_file(self):
        target = self.server.target
        code, _, err = run("forward", "relu", "--values", "1", target=target)
        self.assertEqual(code, 1)
        self.assertIn("error: UNAUTHENTICATED:", err)
        code, _, err = run("--token", "wrong", "forward", "relu", "--values", "1",
                           target=target)
        self.assertEqual(code, 1)
        self.assertRegex(err, r"error: (UNAUTHENTICATED|PERMISSION_DENIED):")
        code, out, err = run("--token", "s3cret", "forward", "relu", "--values", "1",
                             "--format", "json", target=target)
        self.assertEqual(code, 0, err)
        np.testing.assert_array_equal(tensor_values(json.loads(out)["output"]), [1])
        code, _, err = run("--token-file", self.token_file, "list", target=target)
        self.assertEqual(code, 0, err)


class TlsTest(unittest.TestCase):
    """A server with TLS and client-certificate checking (mTLS)."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("openssl") is None:
            raise unittest.SkipTest("openssl is not installed")
        cls.tmp = tempfile.mkdtemp(prefix="actctl-tls-")
        p = lambda n: os.path.join(cls.tmp, n)
        def ssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=test-ca", "-keyout", p("ca.key"), "-out", p("ca.pem"))
        with open(p("san.cnf"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        for name in ("server", "client"):
            ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                "-keyout", p(name + ".key"), "-out", p(name + ".csr"))
            ssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"),
                "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2",
                "-extfile", p("san.cnf"), "-out", p(name + ".pem"))
        cls.p = staticmethod(p)
        cls.server = Server("--tls_cert", p("server.pem"), "--tls_key", p("server.key"),
                            "--tls_client_ca", p("ca.pem"))

    @classmethod
    def tearDownClass(cls):
        code = cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0:
            raise AssertionError("actd exited %d after SIGTERM" % code)

    def test_mutual_tls(self):
        p = self.p
        target = "localhost:%d" % self.server.port
        code, out, err = run("--tls-ca", p("ca.pem"), "--tls-cert", p("client.pem"),
                             "--tls-key", p("client.key"), "health", target=target)
        self.assertEqual((code, out.strip()), (0, "SERVING"), err)
        # Without a client certificate the handshake fails.
        code, _, err = run("--tls-ca", p("ca.pem"), "health", target=target)
        self.assertEqual(code, 1)
        self.assertIn("UNAVAILABLE", err)
        # Plaintext against a TLS server fails too.
        code, _, err = run("health", target=target)
        self.assertEqual(code, 1)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_exits_zero_and_health_fails_after(self):
        server = Server()
        code, out, _ = run("health", target=server.target)
        self.assertEqual((code, out.strip()), (0, "SERVING"))
        self.assertEqual(server.stop(), 0)
        server.log.close()
        code, _, err = run("health", target=server.target)
        self.assertEqual(code, 1)
        self.assertIn("UNAVAILABLE", err)


if __name__ == "__main__":
    for path in (ACTD, ACTCTL):
        if not os.access(path, os.X_OK):
            sys.exit("not an executable: %s\n%s" % (path, __doc__))
    unittest.main(verbosity=2)

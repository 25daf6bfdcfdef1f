"""actctl against a real actd: every subcommand's output by value.

health, info, list, describe, forward, backward, batch, compare, plot, the
output formats (-o text|json|yaml), completion, help and the exit code of
each error path (0 ok, 1 RPC error, 2 usage error). Files, bench and the
TLS/token servers have their own files (test_actctl_files.py, _bench.py,
_security.py).
"""

import json
import os
import subprocess
import xml.etree.ElementTree as ET

import numpy as np

from actctl_e2e import (ACTCTL, ActctlTestCase, main, response_tensor, run,
                        run_on_tty, tensor_values)

SUBCOMMANDS = ["list", "describe", "forward", "backward", "batch", "compare",
               "plot", "bench", "health", "info", "completion"]


class InspectTest(ActctlTestCase):
    def activations(self):
        return self.json_of("list")["activations"]

    def test_health_text_and_json(self):
        self.assertEqual(self.ok("health").strip(), "SERVING")
        self.assertEqual(self.json_of("health"), {"status": "SERVING"})
        self.assertEqual(self.ok("--format", "yaml", "health"), 'status: "SERVING"\n')

    def test_target_from_environment(self):
        code, out, _ = run("health", env={"ACTCTL_TARGET": self.server.target})
        self.assertEqual((code, out.strip()), (0, "SERVING"))

    def test_target_without_port_means_50051(self):
        # Nothing listens on 50051 here (the suite uses free ports), so the
        # error names the address actctl dialled.
        for target in ("127.0.0.1", "localhost"):
            code, _, err = run("--timeout", "2", "health", target=target)
            self.assertEqual(code, 1, target)
            self.assertIn(":50051", err, target)

    def test_service_config_flag(self):
        # The default (round_robin + retries), none, and a file of one's own.
        self.assertEqual(self.ok("health").strip(), "SERVING")
        self.assertEqual(self.ok("--service-config", "none", "health").strip(), "SERVING")
        path = self.path("sc.json")
        with open(path, "w") as f:
            f.write('{"loadBalancingConfig": [{"pick_first": {}}]}')
        self.assertEqual(self.ok("--service-config", path, "health").strip(), "SERVING")
        self.assertIn("--service-config", self.fails(2, "--service-config",
                                                     self.path("missing.json"), "health"))

    def test_round_robin_dns_target(self):
        code, out, err = run("--lb", "round_robin", "health",
                             target="dns:///localhost:%d" % self.server.port)
        self.assertEqual((code, out.strip()), (0, "SERVING"), err)

    def test_info(self):
        info = self.json_of("info")
        # camelCase names and 64-bit integers as JSON numbers.
        self.assertEqual(info["maxMessageBytes"], 256 << 20)
        self.assertEqual(info["computeThreads"], 2)
        self.assertIn(info["isa"], ("baseline", "avx2", "avx512"))
        self.assertTrue(info["version"])
        out = self.ok("info")
        for field in ("version", "isa", "compute_threads", "max_message_bytes",
                      "max_elements", "max_batch_items", "max_inflight"):
            self.assertRegex(out, r"(?m)^%s\s+\S+" % field)

    def test_list_names_and_properties(self):
        names = [a["name"] for a in self.activations()]
        self.assertIn("relu", names)
        out = self.ok("list")
        for name in names:
            self.assertRegex(out, r"(?m)^\s*%s\s" % name)
        header = out.splitlines()[0].lower()
        for column in ("monotonic", "smooth", "range", "cost", "learnable"):
            self.assertIn(column, header)
        gelu = next(l for l in out.splitlines() if l.split()[0] == "gelu")
        relu = next(l for l in out.splitlines() if l.split()[0] == "relu")
        self.assertEqual(gelu.split()[1], "no")
        self.assertEqual(relu.split()[1], "yes")

    def test_yaml_output(self):
        out = self.ok("-o", "yaml", "list")
        self.assertTrue(out.startswith("activations:\n  - name: "), out[:80])
        self.assertIn('\n    elementwise: true\n', out)

    def test_describe_shows_formula_params_properties_and_plot(self):
        elu = next(a for a in self.activations() if a["name"] == "elu")
        out = self.ok("describe", "elu")
        for text in (elu["formula"], elu["derivative"], elu["reference"]):
            self.assertIn(text, out)
        self.assertRegex(out, r"(?m)^  alpha  default 1, allowed ")
        self.assertRegex(out, r"(?m)^  monotonic\s+yes$")
        plot = out[out.index("f and f' on [-5, 5]:"):]
        self.assertIn("•", plot)
        self.assertIn("∘", plot)
        self.assertEqual(self.json_of("describe", "elu")["name"], "elu")
        self.assertIn("running_mean", self.ok("describe", "dice"))

    def test_describe_every_activation_has_a_plot_or_a_reason(self):
        for a in self.activations():
            out = self.ok("describe", a["name"])
            self.assertNotIn("INVALID_ARGUMENT", out, a["name"])
            self.assertNotIn("kinks at )", out, a["name"])
            self.assertRegex(out, r"(?m)^(f and f' on \[-5, 5\].*:|no plot: .+)$",
                             a["name"])
            if not a["elementwise"]:
                # A non-element-wise plot says what it shows.
                self.assertRegex(out, r"(?m)^f and f' on \[-5, 5\], .+:$", a["name"])

    def test_describe_unknown_suggests_and_lists(self):
        err = self.fails(1, "describe", "gleu")
        self.assertIn("error: NOT_FOUND:", err)
        self.assertIn("did you mean gelu?", err)
        self.assertIn("relu", err)  # the known names


class EvaluateTest(ActctlTestCase):
    def test_forward_relu_values(self):
        y = response_tensor(self.json_of("forward", "relu", "--values", "-1,0,2"),
                            "output")
        np.testing.assert_array_equal(y, [0, 0, 2])
        table = self.ok("forward", "relu", "--values", "-1.25,3.5")
        self.assertIn("3.5", table)
        self.assertNotIn("1.25", table.replace("-1.25", ""))
        self.assertIn("0.5", self.ok("forward", "sigmoid", "--values", "0"))

    def test_json_is_camel_case_with_numeric_shapes(self):
        response = self.json_of("forward", "relu", "--values", "-1,0,2,3",
                                "--shape", "2,2")
        self.assertEqual(response["output"]["shape"], [2, 2])
        text = json.dumps(response)
        self.assertNotIn("_data", text)
        self.assertIn("floatData", text)
        back = self.json_of("backward", "prelu", "--values", "-1,2")
        self.assertIn("gradInput", back)
        self.assertIn("gradParams", back)
        self.assertEqual(back["gradParams"]["alpha"]["shape"], [])

    def test_shape_minus_one_is_inferred(self):
        y = response_tensor(self.json_of("forward", "relu", "--values", "-1,2,3,-4,5,6",
                                         "--shape", "-1,2"), "output")
        self.assertEqual(y.shape, (3, 2))
        np.testing.assert_array_equal(y, [[0, 2], [3, 0], [5, 6]])
        err = self.fails(2, "forward", "relu", "--values", "1,2,3", "--shape", "-1,2")
        self.assertIn("--shape -1,2", err)
        self.fails(2, "forward", "relu", "--values", "1,2", "--shape", "-1,-1")

    def test_backward_values(self):
        dx = response_tensor(self.json_of("backward", "sigmoid", "--values", "0"),
                             "gradInput")
        np.testing.assert_allclose(dx, [0.25], rtol=1e-7)
        dx = response_tensor(self.json_of("backward", "relu", "--values", "-1,2",
                                          "--grad-output", "3,4"), "gradInput")
        np.testing.assert_array_equal(dx, [0, 4])
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

    def test_dice_extras(self):
        response = self.json_of("forward", "dice", "--values", "1,2,3,4",
                                "--shape", "4,1", "--dtype", "float64")
        extras = response["extras"]
        np.testing.assert_allclose(tensor_values(extras["batch_mean"]).ravel(), [2.5])
        np.testing.assert_allclose(tensor_values(extras["batch_var"]).ravel(), [1.25])
        out = self.ok("forward", "dice", "--values", "1,2,3,4", "--shape", "2,2")
        self.assertIn("extras:\n  batch_mean  float32 [2]\n    [2, 3]\n", out)

    def test_typed_and_raw_encodings(self):
        typed = self.json_of("forward", "relu", "--values", "-1,2", "--encoding", "typed")
        raw = self.json_of("forward", "relu", "--values", "-1,2", "--encoding", "raw",
                           "--dtype", "float64")
        self.assertTrue(typed["output"]["floatData"])
        self.assertTrue(raw["output"]["rawData"])
        np.testing.assert_array_equal(tensor_values(typed["output"]), [0, 2])
        np.testing.assert_array_equal(tensor_values(raw["output"]), [0, 2])
        self.assertEqual(tensor_values(raw["output"]).dtype, np.float64)

    def test_random_input_with_seed_and_shape(self):
        a = response_tensor(self.json_of("forward", "identity", "--random", 6,
                                         "--seed", 7, "--shape", "2,3"), "output")
        b = response_tensor(self.json_of("forward", "identity", "--random", 6,
                                         "--seed", 7, "--shape", "2,3"), "output")
        c = response_tensor(self.json_of("forward", "identity", "--random", 6,
                                         "--seed", 8, "--shape", "2,3"), "output")
        self.assertEqual(a.shape, (2, 3))
        np.testing.assert_array_equal(a, b)
        self.assertFalse(np.array_equal(a, c))

    def test_large_tensor_table_is_summarised(self):
        out = self.ok("forward", "tanh", "--random", 10000, "--seed", 1)
        self.assertLess(len(out.splitlines()), 60)
        self.assertIn("...", out)

    def test_unknown_activation_suggests(self):
        err = self.fails(1, "forward", "gleu", "--values", "1")
        self.assertRegex(err, r"^error: NOT_FOUND: .*unknown activation")
        self.assertIn("did you mean gelu?", err)
        self.assertNotIn("did you mean", self.fails(1, "forward", "zzzzzz", "--values", "1"))

    def test_invalid_parameter_is_invalid_argument(self):
        err = self.fails(1, "forward", "gelu", "--values", "1", "--param",
                         "approximate=cubic")
        self.assertIn("error: INVALID_ARGUMENT:", err)

    def test_deadline_exceeded(self):
        err = self.fails(1, "--timeout", "0.000001", "forward", "tanh", "--random",
                         1 << 20)
        self.assertIn("error: DEADLINE_EXCEEDED:", err)


class BatchCompareTest(ActctlTestCase):
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
        results = self.json_of("batch", path)["results"]
        self.assertEqual([r["id"] for r in results], ["a", "b"])
        self.assertEqual([r["code"] for r in results], [0, 0])
        np.testing.assert_array_equal(tensor_values(results[0]["forward"]["output"]),
                                      [0, 0, 2])
        np.testing.assert_allclose(
            tensor_values(results[1]["backward"]["gradInput"]), [0.25])
        self.assertEqual(self.ok("batch", path).count("OK"), 2)

    def test_batch_item_failure_is_reported_per_item(self):
        path = self.write_batch("mixed.json", [
            {"id": "good", "forward": {"activation": {"name": "relu"},
                                       "input": {"shape": [1], "floatData": [-1]}}},
            {"id": "bad", "forward": {"activation": {"name": "nope"},
                                      "input": {"shape": [1], "floatData": [1]}}}])
        code, out, err = self.run_actctl("batch", path)
        self.assertEqual(code, 1, "a failed item makes the exit code 1")
        self.assertIn("NOT_FOUND", out + err)
        self.assertIn("good", out)
        code, out, _ = self.run_actctl("batch", path, "-o", "json")
        self.assertEqual([r["code"] for r in json.loads(out)["results"]], [0, 5])

    def test_batch_bad_json_is_usage_error(self):
        path = self.path("broken.json")
        with open(path, "w") as f:
            f.write("{\"items\": [")
        self.assertIn("error:", self.fails(2, "batch", path))

    def table(self, out):
        """The rows of compare's table as lists of cells, header first."""
        return [l.split() for l in out.splitlines() if l and ":" not in l]

    def test_compare_side_by_side(self):
        rows = self.table(self.ok("compare", "relu", "sigmoid", "tanh",
                                  "--values", "-1,0,1"))
        self.assertEqual(rows[0], ["x", "relu", "sigmoid", "tanh"])
        self.assertEqual(rows[2], ["0", "0", "0.5", "0"])

    def test_compare_rows_of_non_elementwise_activations(self):
        out = self.ok("compare", "relu", "maxout", "--values", "-1,0,1,2")
        rows = self.table(out)
        self.assertEqual(rows[0], ["x", "relu", "maxout"])
        # maxout of the group (x, 0) is max(x, 0): one value per x, in its row.
        self.assertEqual(rows[1:], [["-1", "0", "0"], ["0", "0", "0"],
                                    ["1", "1", "1"], ["2", "2", "2"]])
        self.assertRegex(out, r"(?m)^maxout: .*\(x, 0\)")
        rows = self.table(self.ok("compare", "maxout", "--backward",
                                  "--values", "-1,2"))
        self.assertEqual(rows[1:], [["-1", "0"], ["2", "1"]])

    def test_compare_all_covers_every_activation(self):
        names = [a["name"] for a in self.json_of("list")["activations"]]
        code, out, err = self.run_actctl("compare", "all", "--values", "0,1")
        self.assertEqual(code, 0, err)
        header = self.table(out)[0]
        left_out = [l.split(":")[0] for l in err.splitlines() if ": left out: " in l]
        self.assertEqual(sorted(header[1:] + left_out), sorted(names))
        self.assertIn("maxout", header)
        self.assertIn("dice", header)

    def test_compare_unknown_activation_fails(self):
        err = self.fails(1, "compare", "relu", "rleu", "--values", "1")
        self.assertIn("NOT_FOUND", err)
        self.assertIn("did you mean relu?", err)


class PlotTest(ActctlTestCase):
    def curves(self, svg_path):
        root = ET.parse(svg_path).getroot()
        self.assertTrue(root.tag.endswith("svg"))
        curves = {"f": {}, "df": {}}
        for el in root.iter():
            if el.tag.split("}")[-1] != "path":
                continue
            kind = el.get("class")
            points = [tuple(map(float, p.split())) for p in
                      el.get("d").replace("M", "|").replace("L", "|").split("|")
                      if p.strip()]
            curves[kind][el.get("data-activation")] = points
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

    def test_plot_all_draws_every_activation_or_says_why_not(self):
        names = [a["name"] for a in self.json_of("list")["activations"]]
        out = self.path("all.svg")
        code, stdout, err = self.run_actctl("plot", "all", "--layout", "grid", "--out", out)
        self.assertEqual(code, 0, err)
        curves, _ = self.curves(out)
        left_out = [l.split(":")[0] for l in err.splitlines() if ": left out: " in l]
        self.assertEqual(sorted(list(curves["f"]) + left_out), sorted(names))
        self.assertRegex(stdout, r"(?m)^dice: ")

    def test_plot_maxout_and_dice_mean_something(self):
        out = self.path("md.svg")
        self.ok("plot", "maxout", "dice", "--out", out, "--points", 5,
                "--range", "-2:2")
        curves, texts = self.curves(out)
        # Same pixel mapping for both curves of one chart: compare shapes.
        maxout = [y for _, y in curves["f"]["maxout"]]
        relu_like = maxout[:3]  # x = -2, -1, 0 all give max(x, 0) = 0
        self.assertEqual(len(set(relu_like)), 1)
        self.assertLess(maxout[4], maxout[3])  # SVG y grows downwards
        dice = [y for _, y in curves["f"]["dice"]]
        # Not y = x/2: with the points as one batch, dice(0) = 0 and the
        # curve is steeper on the right than on the left.
        self.assertGreater(abs(dice[4] - dice[2]), abs(dice[2] - dice[0]))
        self.assertIn("maxout: ", texts)

    def test_plot_maxout_exits_zero(self):
        self.ok("plot", "maxout", "--out", self.path("maxout.svg"))

    def test_plot_unknown_activation_fails(self):
        self.assertIn("NOT_FOUND", self.fails(1, "plot", "nope", "--out",
                                              self.path("x.svg")))


class CliTest(ActctlTestCase):
    def test_help_on_every_subcommand_has_an_example(self):
        for sub in SUBCOMMANDS:
            code, out, _ = run(sub, "--help")
            self.assertEqual(code, 0, sub)
            self.assertIn("actctl %s" % sub, out, sub)
            self.assertRegex(out, r"(?i)example", sub)

    def test_completion_scripts(self):
        out = self.ok("completion", "bash")
        self.assertIn("complete -F _actctl actctl", out)
        for sub in SUBCOMMANDS:
            self.assertIn(sub, out)
        check = subprocess.run(["bash", "-n"], input=out, text=True, capture_output=True)
        self.assertEqual(check.returncode, 0, check.stderr)
        zsh = self.ok("completion", "zsh")
        self.assertIn("bashcompinit", zsh)
        fish = self.ok("completion", "fish")
        self.assertIn("complete -c actctl -n __fish_use_subcommand -a forward", fish)
        self.assertIn("-l values", fish)
        self.fails(2, "completion", "tcsh")

    def test_bash_completion_completes_commands_and_activations(self):
        script = self.ok("completion", "bash")
        # Run the completion function as bash would, with actctl on PATH.
        probe = script + (
            '\nCOMP_WORDS=(actctl forw); COMP_CWORD=1; _actctl; echo "${COMPREPLY[@]}"'
            '\nCOMP_WORDS=(actctl forward gel); COMP_CWORD=2; _actctl; '
            'echo "${COMPREPLY[@]}"\n')
        env = dict(os.environ, ACTCTL_TARGET=self.server.target,
                   PATH=os.path.dirname(ACTCTL) + ":" + os.environ["PATH"])
        result = subprocess.run(["bash"], input=probe, text=True, capture_output=True,
                                env=env, timeout=30)
        lines = result.stdout.splitlines()
        self.assertEqual(lines[0], "forward", result.stderr)
        self.assertEqual(lines[1], "gelu", result.stderr)

    def test_unknown_command_suggests(self):
        code, _, err = run("forwrd", "relu")
        self.assertEqual(code, 2)
        self.assertIn("unknown command forwrd; did you mean forward?", err)
        code, _, err = run("--target", "x:1", "-o", "json", "lsit")
        self.assertEqual(code, 2)
        self.assertIn("did you mean list?", err)

    def test_usage_errors_exit_2(self):
        cases = [
            ("forward", "relu", "--bogus"),
            ("forward", "relu"),                       # no input
            ("forward", "relu", "--values", "1,x"),    # not a number
            ("forward", "relu", "--values", "1,2,3", "--shape", "2,2"),
            ("forward", "relu", "--input", self.path("missing.npy")),
            ("forward", "relu", "--values", "1", "--dtype", "int8"),
            ("-o", "xml", "health"),
            ("nosuchcommand",),
            (),
        ]
        for args in cases:
            self.fails(2, *args)

    def test_color_only_on_a_terminal(self):
        code, out = run_on_tty(["--target", self.server.target, "list"],
                               {"TERM": "xterm"})
        self.assertEqual(code, 0)
        self.assertIn("\x1b[", out)
        code, out = run_on_tty(["--target", self.server.target, "list"],
                               {"TERM": "xterm", "NO_COLOR": "1"})
        self.assertEqual(code, 0)
        self.assertNotIn("\x1b[", out)


if __name__ == "__main__":
    main()

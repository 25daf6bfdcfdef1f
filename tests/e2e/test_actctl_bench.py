"""actctl bench against a real actd: the text report, -o json with its keys in
a fixed order, --report FILE in JSON and CSV, pacing with --rps, the progress
bar (on a terminal only) and the exit code when calls fail."""

import csv
import json

from actctl_e2e import ActctlTestCase, main, run_on_tty

KEYS = ["activation", "direction", "dtype", "encoding", "elements", "concurrency",
        "connections", "count", "totalSeconds", "rps", "fastestMs", "averageMs",
        "slowestMs", "latencyPercentilesMs", "histogram", "statusCodes", "bytesSent",
        "bytesReceived", "bytesSentPerSecond", "bytesReceivedPerSecond"]


class BenchTest(ActctlTestCase):
    def test_bench_text(self):
        out = self.ok("bench", "relu", "-c", 2, "-n", 60, "--elements", 256)
        for word in ("Count", "Requests/sec", "Fastest", "Average", "Slowest",
                     "p50", "p90", "p95", "p99", "OK"):
            self.assertIn(word, out)
        self.assertRegex(out, r"Count:\s+60\b")
        self.assertRegex(out, r"\[OK\]\s+60\b")
        self.assertRegex(out, r"(?i)histogram")
        self.assertNotIn("\r", out, "no progress bar when not on a terminal")

    def test_bench_json_keys_in_a_fixed_order(self):
        first = json.loads(self.ok("-o", "json", "bench", "gelu", "-c", 2, "-z", "0.5s",
                                   "--direction", "backward", "--shape", "4,64",
                                   "--dtype", "float64"))
        second = json.loads(self.ok("-o", "json", "bench", "relu", "-n", 5))
        self.assertEqual(list(first), KEYS)
        self.assertEqual(list(second), KEYS)
        self.assertEqual(list(first["latencyPercentilesMs"]),
                         ["p10", "p25", "p50", "p75", "p90", "p95", "p99"])
        self.assertEqual(first["elements"], 256)
        self.assertEqual(first["direction"], "backward")
        self.assertGreater(first["count"], 0)
        self.assertLessEqual(first["fastestMs"], first["slowestMs"])
        self.assertEqual(first["statusCodes"], {"OK": first["count"]})

    def test_bench_report_files(self):
        path = self.path("run.json")
        out = self.ok("bench", "relu", "-n", 20, "--report", path)
        self.assertIn("Requests/sec", out)  # the text report still prints
        with open(path) as f:
            report = json.load(f)
        self.assertEqual(list(report), KEYS)
        self.assertEqual(report["count"], 20)
        path = self.path("run.csv")
        self.ok("bench", "relu", "-n", 20, "--report", path)
        with open(path) as f:
            rows = list(csv.reader(f))
        self.assertEqual(len(rows), 2)
        row = dict(zip(*rows))
        self.assertEqual(row["count"], "20")
        self.assertEqual(row["statusCodes.OK"], "20")
        self.assertIn("latencyPercentilesMs.p99", row)
        self.fails(2, "bench", "relu", "-n", 1, "--report", self.path("run.txt"))

    def test_bench_rps_paces_calls(self):
        report = self.json_of("bench", "identity", "-c", 2, "-n", 10, "--rps", 20)
        # Ten calls at 20 per second take at least 0.45 s.
        self.assertEqual(report["count"], 10)
        self.assertLess(report["rps"], 25)

    def test_bench_exits_1_when_calls_fail(self):
        code, out, _ = self.run_actctl("--timeout", "0.000001", "bench", "tanh", "-n", 2,
                                       "--elements", 1 << 20)
        self.assertEqual(code, 1)
        self.assertIn("DEADLINE_EXCEEDED", out)

    def test_bench_progress_bar_only_on_a_terminal(self):
        code, out = run_on_tty(["--target", self.server.target, "bench", "relu",
                                "-c", 1, "-z", "0.5s", "--elements", 16],
                               {"TERM": "xterm"})
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"\r\[=*\s*\]")
        code, _, err = self.run_actctl("bench", "relu", "-c", 1, "-z", "0.3s",
                                       "--elements", 16)
        self.assertEqual(code, 0)
        self.assertNotIn("\r", err)


if __name__ == "__main__":
    main()

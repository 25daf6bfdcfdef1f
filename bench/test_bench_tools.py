"""The command-line edges of the benchmark tools: actbench exits 1, naming the
benchmark names' form, when --benchmark_filter matches nothing (a filter
anchored without the /real_time suffix), and 0 with a table when it matches;
perf_table.py refuses empty or benchmark-less JSON with one clear line.

Usage: test_bench_tools.py <path to actbench>
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

ACTBENCH = None
PERF_TABLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "perf_table.py")


def actbench(*args):
    return subprocess.run([ACTBENCH, *args], capture_output=True, text=True, timeout=120)


class ActbenchFilterTest(unittest.TestCase):
    def test_filter_matching_nothing_exits_1(self):
        r = actbench("--benchmark_filter=^relu/forward/f32/4096/1$")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("/real_time", r.stderr)

    def test_matching_filter_runs_and_writes_json(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "run.json")
            r = actbench("--benchmark_filter=^relu/forward/f32/4096/1/real_time$",
                         "--benchmark_min_time=0.01", "--benchmark_format=json",
                         "--benchmark_out=" + out)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out) as f:
                names = [b["name"] for b in json.load(f)["benchmarks"]]
            self.assertEqual(names, ["relu/forward/f32/4096/1/real_time"])
            table = subprocess.run([sys.executable, PERF_TABLE, out],
                                   capture_output=True, text=True, timeout=60)
            self.assertEqual(table.returncode, 0, table.stderr)
            self.assertIn("| relu | forward |", table.stdout)


class PerfTableTest(unittest.TestCase):
    def run_on(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        return subprocess.run([sys.executable, PERF_TABLE, f.name],
                              capture_output=True, text=True, timeout=60)

    def test_empty_inputs_give_one_clear_line(self):
        for text in ("", '{"context": {}, "benchmarks": []}', "{", "[]"):
            r = self.run_on(text)
            self.assertEqual(r.returncode, 1, text)
            self.assertNotIn("Traceback", r.stderr, text)
            self.assertTrue(r.stderr.startswith("perf_table.py: "), r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2 or not os.access(sys.argv[1], os.X_OK):
        sys.exit(__doc__)
    ACTBENCH = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)

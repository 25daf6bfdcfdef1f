#!/usr/bin/env python3
"""Renders actbench's JSON output as the tables of docs/PERFORMANCE.md.

Usage: actbench --benchmark_format=json --benchmark_out=run.json ...; perf_table.py run.json
(with --benchmark_repetitions, the medians are used)

Prints, per element count and dtype, one row per variant and direction: our throughput (Gelem/s)
for one worker and for all workers; oneDNN's (float32, one worker); the ratio to oneDNN or, for a
variant oneDNN lacks, to its nearest relative here (the benchmark's vs_onednn / vs_<relative>
counters: both timed alternately in the same process, ratio of medians); and the memory bandwidth
used as a share of memcpy's (forward moves 2 elements per element, backward 3: x or y, dy, dx).
"""
import collections
import json
import sys

TRAFFIC = {"forward": 2, "backward": 3, "backward_from_output": 3}
NO_BANDWIDTH = ("maxout", "dice")  # their traffic is not 2 or 3 elements per element


def load(path):
    """The run in `path`; exits with a one-line message when it holds no benchmark."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        sys.exit(f"perf_table.py: cannot read {path}: {e.strerror}")
    if not text.strip():
        sys.exit(f"perf_table.py: {path} is empty (did the --benchmark_filter match "
                 "nothing? names end in /real_time)")
    try:
        run = json.loads(text)
    except json.JSONDecodeError as e:
        sys.exit(f"perf_table.py: {path} is not actbench JSON output: {e}")
    if not isinstance(run, dict) or not run.get("benchmarks"):
        sys.exit(f"perf_table.py: {path} holds no benchmarks (did the --benchmark_filter "
                 "match nothing? names end in /real_time)")
    return run


def main(path):
    run = load(path)
    rates, ratios = {}, {}
    for b in run["benchmarks"]:
        # With --benchmark_repetitions, only the medians are used.
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).removesuffix("/real_time")
        rates[name] = b.get("items_per_second", 0.0) / 1e9
        for key, value in b.items():
            if key.startswith("vs_"):
                ratios[name] = (key[3:], value)
    ctx = run.get("context", {})
    print(f"Machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz, "
          f"kernels: {ctx.get('isa', '?')}, run {ctx.get('date')}.\n")
    rows = collections.OrderedDict()
    workers = set()
    for name in rates:
        parts = name.split("/")
        if parts[0] in ("memcpy", "onednn") or len(parts) != 5:
            continue
        variant, direction, dtype, n, w = parts
        rows.setdefault((n, dtype), collections.OrderedDict()).setdefault(
            (variant, direction), {})[w] = name
        workers.add(w)
    many = max(workers, key=int)
    wide = many != "1"
    for (n, dtype), table in rows.items():
        memcpy = rates.get(f"memcpy/{dtype}/{n}/1")
        print(f"### {dtype}, {int(n):,} elements\n")
        print(f"| variant | direction | 1 worker |{f' {many} workers |' if wide else ''}"
              " oneDNN | ours ÷ (vs) | bandwidth ÷ memcpy's |")
        print("|---|---|---:|" + ("---:|" if wide else "") + "---:|---:|---:|")
        for (variant, direction), by_w in table.items():
            one = rates.get(by_w.get("1"), 0.0)
            onednn = rates.get(f"onednn/{variant}/{direction}/{dtype}/{n}/1")
            cells = [variant, direction, f"{one:.2f}"]
            if wide:
                cells.append(f"{rates.get(by_w.get(many), 0.0):.2f}")
            cells.append(f"{onednn:.2f}" if onednn else "")
            vs = ratios.get(by_w.get("1"))
            cells.append(f"{vs[1]:.2f}x ({vs[0]})" if vs else "")
            share = ""
            if memcpy and variant not in NO_BANDWIDTH:
                share = f"{one * TRAFFIC[direction] / (memcpy * 2):.0%}"
            cells.append(share)
            print("| " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: perf_table.py run.json (actbench --benchmark_format=json output)")
    main(sys.argv[1])

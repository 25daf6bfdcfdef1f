#!/usr/bin/env python3
"""Renders actbench's JSON output as the tables of docs/PERFORMANCE.md.

Usage: actbench --benchmark_format=json --benchmark_out=run.json ...; perf_table.py run.json
(with --benchmark_repetitions, the medians are used)

Prints, per element count and dtype, one row per variant and direction with our throughput
(Gelem/s) for one worker and for all workers, oneDNN's (float32, one worker, same run) and the
ratio, and the share of memcpy's throughput.
"""
import collections
import json
import sys


def main(path):
    with open(path) as f:
        run = json.load(f)
    rates = {}
    for b in run["benchmarks"]:
        # With --benchmark_repetitions, only the medians are used.
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).removesuffix("/real_time")
        rates[name] = b.get("items_per_second", 0.0) / 1e9
    ctx = run["context"]
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
            (variant, direction), {})[w] = rates[name]
        workers.add(w)
    many = max(workers, key=int)
    for (n, dtype), table in rows.items():
        memcpy = rates.get(f"memcpy/{dtype}/{n}/1")
        print(f"### {dtype}, {int(n):,} elements\n")
        wide = many != "1"
        print(f"| variant | direction | 1 worker |{f' {many} workers |' if wide else ''}"
              " oneDNN (1) | ratio | of memcpy |")
        print("|---|---|---:|" + ("---:|" if wide else "") + "---:|---:|---:|")
        for (variant, direction), by_w in table.items():
            one = by_w.get("1", 0.0)
            onednn = rates.get(f"onednn/{variant}/{direction}/{dtype}/{n}/1")
            cells = [variant, direction, f"{one:.2f}"]
            if wide:
                cells.append(f"{by_w.get(many, 0.0):.2f}")
            cells += [f"{onednn:.2f}" if onednn else "",
                      f"{one / onednn:.2f}x" if onednn else "",
                      f"{one / memcpy:.0%}" if memcpy else ""]
            print("| " + " | ".join(cells) + " |")
        print()


if __name__ == "__main__":
    main(sys.argv[1])

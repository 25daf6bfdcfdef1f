"""Overload: at three times the rate actd sustains, it sheds the excess at once.

A closed loop of --max_inflight calls measures the rate the server sustains
(R); one call at a time measures an unloaded server's latency. Then rpc_load
(bench/rpc) starts calls on a fixed schedule at 3R, whatever the answers, for
a few seconds. The server must refuse the excess with RESOURCE_EXHAUSTED, and
quickly, instead of queueing it: refusals and admitted calls take a few
unloaded calls' time, not a queue's (the goals, refusals faster than an
unloaded call and admitted p99 within 2x of it, are printed: on 2 shared
cores they are met in some runs only), it still completes calls at close to
R, and its peak resident memory grows by no more than --max_inflight requests
and responses at the message limit (plus gRPC's own buffers). The phases
alternate for three rounds; medians are compared. Last, a flood at 8R, more
than the server can refuse: only OK and RESOURCE_EXHAUSTED, and the same
memory bound.

    /usr/bin/python3 test_overload.py <path to actd> --rpc_load <path>
"""

import os
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "server"))

import actd_harness as harness  # noqa: E402
import numpy as np  # noqa: E402
import subprocess  # noqa: E402

RPC_LOAD = ""  # --rpc_load
MiB = 1 << 20
MAX_INFLIGHT = 1
MAX_MESSAGE = 4 * MiB
FORWARD = "/activation.v1.ActivationService/Forward"
ROUNDS = 3
SECONDS = 2.0
FLOOD = 8  # the flood's rate, in sustained rates
# gRPC's own buffers beside the messages: transport read buffers, the
# calls waiting for a thread, slices of refused requests not yet freed.
SLACK = 64 * MiB


def vm_hwm(pid):
    """Peak resident bytes of a process so far, from /proc/<pid>/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


def load(port, request_file, *flags):
    """One rpc_load run: (figures, {code: (count, p50_us, p99_us)})."""
    out = subprocess.run(
        [RPC_LOAD, "127.0.0.1:%d" % port, FORWARD, request_file,
         "--seconds", str(SECONDS), "--warmup", "0.3"] + [str(f) for f in flags],
        capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise AssertionError("rpc_load failed: %s" % out.stderr)
    lines = out.stdout.splitlines()
    figures = {k: float(v) for k, v in (f.split("=") for f in lines[0].split())}
    codes = {}
    for line in lines[1:]:
        parts = line.split()
        if parts[0] == "code":
            codes[parts[1]] = (int(parts[2]), float(parts[3]), float(parts[4]))
    return figures, codes


class OverloadTest(harness.ActdTestCase):
    def test_sheds_at_three_times_the_sustainable_rate(self):
        server = self.start("--max_inflight", MAX_INFLIGHT,
                            "--max_message_bytes", MAX_MESSAGE)
        workdir = tempfile.mkdtemp(prefix="overload-")
        self.addCleanup(lambda: subprocess.run(["rm", "-rf", workdir]))
        path = os.path.join(workdir, "request.bin")

        # A call that computes for a while and is small on the wire: Dice in
        # float64 (batch statistics, then the gate), 16 Ki elements, 128 KiB,
        # about a millisecond; refusing it costs a fraction of that. The size
        # is fixed, not grown until a call takes a millisecond: that made the
        # bytes offered at 3R depend on the CPU's speed (a faster one doubled
        # the request to 256 KiB, 400 MB/s of requests into the same two
        # cores), and the receive path, not the computation, then set the
        # latency and the memory gRPC buffered.
        n = 16384
        x = np.linspace(-4, 4, n)
        with open(path, "wb") as f:
            f.write(harness.forward_request("dice", x).SerializeToString())
        _, codes = load(server.port, path, "--concurrency", 1)
        self.assertEqual(list(codes), ["OK"], codes)

        rounds = []
        for _ in range(ROUNDS):
            unloaded, _ = load(server.port, path, "--concurrency", 1)
            sustained, codes = load(server.port, path, "--concurrency",
                                    MAX_INFLIGHT)
            self.assertEqual(list(codes), ["OK"], codes)
            rate = 3 * sustained["rps"]
            hwm_before = vm_hwm(server.pid)
            overload, codes = load(server.port, path, "--rate", rate)
            hwm_growth = vm_hwm(server.pid) - hwm_before
            self.assertLessEqual(set(codes), {"OK", "RESOURCE_EXHAUSTED"},
                                 "only admitted and refused calls: %r" % codes)
            self.assertIn("RESOURCE_EXHAUSTED", codes,
                          "nothing refused at 3x the sustained rate: %r" % codes)
            rounds.append(dict(
                unloaded_p50=unloaded["p50_us"], unloaded_p99=unloaded["p99_us"],
                sustained_rps=sustained["rps"], offered_rps=rate,
                admitted_rps=overload["ok_rps"], admitted_p50=codes["OK"][1],
                admitted_p99=overload["p99_us"],
                shed_fraction=codes["RESOURCE_EXHAUSTED"][0] / overload["calls"],
                shed_p50=codes["RESOURCE_EXHAUSTED"][1],
                shed_p99=codes["RESOURCE_EXHAUSTED"][2],
                hwm_growth_mib=hwm_growth / MiB))
        med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
        print("\noverload: dice float64 x %d (%d KiB), --max_inflight %d, "
              "%d rounds, medians:" % (n, os.path.getsize(path) // 1024,
                                       MAX_INFLIGHT, ROUNDS))
        for k, v in med.items():
            print("  %-16s %10.2f" % (k, v))
        print("  VmHWM growth per round (MiB): %s" % " ".join(
            "%.1f" % r["hwm_growth_mib"] for r in rounds))
        sys.stdout.flush()

        # The excess is refused. (R comes from a closed loop, which leaves the
        # server idle between calls, so it can admit up to ~2.5R: at least a
        # sixth of 3R is excess.)
        self.assertGreater(med["shed_fraction"], 1 / 6)
        # Latency. On 2 vCPUs shared by the client, gRPC's threads receiving
        # 3R requests and the computation, the ratios below vary several-fold
        # between identical runs (docs/PERFORMANCE.md, "Soak and overload":
        # refused p50 / unloaded p50 0.5-4.8, admitted p99 / unloaded p99
        # 1.7-20 over sixteen runs), so the goals (refusals faster than an
        # unloaded call, admitted p99 within 2x of the unloaded p99) are
        # reported, not asserted. What is asserted separates shedding from
        # queueing, which made refusals wait for computations (75 ms, about
        # 100 unloaded calls) and admitted calls wait for each other:
        # refusals and the admitted median within ten unloaded calls (measured:
        # up to 4.8 and 3.8).
        print("  shed p50 / unloaded p50: %.2f (goal < 1)"
              % (med["shed_p50"] / med["unloaded_p50"]))
        print("  admitted p99 / unloaded p99: %.2f (goal < 2)"
              % (med["admitted_p99"] / med["unloaded_p99"]))
        self.assertLess(med["shed_p50"], 10 * med["unloaded_p50"])
        self.assertLess(med["admitted_p50"], 10 * med["unloaded_p50"])
        # The server keeps computing at close to the sustained rate.
        self.assertGreater(med["admitted_rps"], 0.6 * med["sustained_rps"])
        # Memory: at most --max_inflight requests and responses at the limit.
        self.assertLess(max(r["hwm_growth_mib"] for r in rounds) * MiB,
                        MAX_INFLIGHT * 2 * MAX_MESSAGE + SLACK)
        self.flood(server, path, med["sustained_rps"])

    def flood(self, server, path, sustained_rps):
        """Calls offered faster than the server can even refuse them.

        At 3R a slower CI machine fell behind refusing: gRPC held the requests
        of every open call until a thread refused it, and VmHWM grew by
        167 MiB in 2 s. The same at 8R on a 2-vCPU Zen 5, without the
        per-connection stream limit (--max-concurrent-streams 0): 145 MiB.
        With it the client's further calls wait on its side, and memory stays
        within the bound.
        """
        hwm_before = vm_hwm(server.pid)
        figures, codes = load(server.port, path, "--rate", FLOOD * sustained_rps)
        growth = vm_hwm(server.pid) - hwm_before
        print("  flood at %dR: %.0f calls/s offered, %s, VmHWM %+.1f MiB" % (
            FLOOD, figures["rps"], ", ".join(
                "%s %d" % (c, n) for c, (n, _, _) in codes.items()),
            growth / MiB))
        self.assertLessEqual(set(codes), {"OK", "RESOURCE_EXHAUSTED"}, codes)
        self.assertLess(growth, MAX_INFLIGHT * 2 * MAX_MESSAGE + SLACK)


if __name__ == "__main__":
    if "--rpc_load" in sys.argv:
        i = sys.argv.index("--rpc_load")
        RPC_LOAD = os.path.abspath(sys.argv[i + 1])
        del sys.argv[i:i + 2]
    if not os.access(RPC_LOAD, os.X_OK):
        sys.exit("usage: test_overload.py <actd> --rpc_load <path to rpc_load>")
    harness.main()

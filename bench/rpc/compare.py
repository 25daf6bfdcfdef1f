#!/usr/bin/python3
"""The RPC path against the transport limit, side by side in one run.

Starts actd and rpc_echo (a bare callback-API gRPC server that answers any
call with its request bytes) on loopback, builds the requests, and runs the
same client (rpc_load), with the same payload and concurrency, against both,
alternately, for several rounds. Prints the medians and the ratio
actd / echo per row (rps: higher is better; p50 latency: lower is better).

    /usr/bin/python3 bench/rpc/compare.py [--rounds 5] [--seconds 3]
        [--modelinfer] [--unary-echo] [--metrics] [--isa auto] [--bin build/bin]

actd runs with its Prometheus endpoint off unless --metrics is given; with
it, actd records every call's metrics as a deployed server does.

A second table gives each server's CPU time per call (/proc, all threads,
the warm-up included at the measured rate): on a host whose rates swing from
run to run it shows the service's own cost more steadily than the ratios.

--unary-echo adds a second echo that serves the Forward path as a registered
callback unary method (rpc_echo --unary), with the ratio of its figure to the
generic echo's: what the choice of gRPC API alone costs a service.

--modelinfer adds the Open Inference Protocol's ModelInfer
(/inference.GRPCInferenceService/ModelInfer, model "relu", input "x", FP32 in
raw_input_contents) next to Forward, with the ratio ModelInfer / Forward.

The requests are written with protobuf's wire format from the field numbers
of activation.proto and of the published KServe v2 grpc_service.proto, so the
script needs no generated code; each is checked against actd once (status OK
and an output of the right size) before anything is timed.
"""

import argparse
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))

FORWARD = "/activation.v1.ActivationService/Forward"
MODEL_INFER = "/inference.GRPCInferenceService/ModelInfer"


# --- protobuf wire format (https://protobuf.dev/programming-guides/encoding) --

def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_bytes(number, payload):
    """A length-delimited field (wire type 2): string, bytes or message."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number, value):
    return varint(number << 3 | 0) + varint(value)


def packed_varints(number, values):
    return field_bytes(number, b"".join(varint(v) for v in values))


def inputs(n):
    """n float32 values in [-4, 4), little-endian: half negative, for relu."""
    return struct.pack("<%df" % n, *[(i % 8192) / 1024.0 - 4.0 for i in range(n)])


def forward_request(name, n):
    # ForwardRequest{activation=1: ActivationSpec{name=1},
    #                input=2: Tensor{dtype=1 (FLOAT32=1), shape=2, raw_data=3}}
    spec = field_bytes(1, name.encode())
    tensor = field_varint(1, 1) + packed_varints(2, [n]) + field_bytes(3, inputs(n))
    return field_bytes(1, spec) + field_bytes(2, tensor)


def model_infer_request(name, n):
    # ModelInferRequest{model_name=1, inputs=5: InferInputTensor{name=1,
    #   datatype=2, shape=3}, raw_input_contents=7}  (KServe v2 field numbers)
    tensor = (field_bytes(1, b"x") + field_bytes(2, b"FP32") +
              packed_varints(3, [n]))
    return (field_bytes(1, name.encode()) + field_bytes(5, tensor) +
            field_bytes(7, inputs(n)))


# --- processes ----------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Servers:
    """actd and rpc_echo as child processes on 127.0.0.1; stopped on exit."""

    def __init__(self, bin_dir, isa, workdir, unary_echo=False, metrics=False):
        self.actd_port = free_port()
        self.actd_log = os.path.join(workdir, "actd.log")
        actd = os.path.join(bin_dir, "actd")
        command = [actd, "--host", "127.0.0.1", "--port", str(self.actd_port),
                   "--metrics_port", str(free_port() if metrics else 0),
                   "--isa", isa]
        # Other listeners off, where this actd has them.
        usage = subprocess.run([actd, "--help"], capture_output=True,
                               text=True).stdout
        if re.search(r"--http[-_]port", usage):
            command += ["--http_port", "0"]
        self.actd = subprocess.Popen(
            command,
            stdout=open(self.actd_log, "wb"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={k: v for k, v in os.environ.items() if not k.startswith("ACTD_")})
        self.echo, self.echo_port = self._start_echo(bin_dir, [])
        self.unary_echo = self.unary_echo_port = None
        if unary_echo:
            self.unary_echo, self.unary_echo_port = self._start_echo(
                bin_dir, ["--unary"])
        self.isa = self._wait_actd()

    def _start_echo(self, bin_dir, flags):
        echo = subprocess.Popen(
            [os.path.join(bin_dir, "rpc_echo"), "127.0.0.1:0"] + flags,
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        line = echo.stdout.readline().decode()
        if not line.startswith("port "):
            echo.kill()
            self.stop()
            sys.exit("rpc_echo %s did not start: %r" % (" ".join(flags), line))
        return echo, int(line.split()[1])

    def _wait_actd(self):
        end = time.monotonic() + 15
        while time.monotonic() < end:
            if self.actd.poll() is not None:
                self.stop()
                sys.exit("actd exited: " + open(self.actd_log).read())
            m = re.search(r"listening on \S+ \(isa (\w+)", open(self.actd_log).read())
            if m:
                return m.group(1)
            time.sleep(0.05)
        self.stop()
        sys.exit("actd did not report listening: " + open(self.actd_log).read())

    def stop(self):
        for proc in (getattr(self, "actd", None), getattr(self, "echo", None),
                     getattr(self, "unary_echo", None)):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def cpu_seconds(pid):
    """User + system CPU time process `pid` has used so far, all threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(bin_dir, port, method, request_file, concurrency, seconds, warmup):
    """One rpc_load run; returns its key=value figures as floats."""
    out = subprocess.run(
        [os.path.join(bin_dir, "rpc_load"), "127.0.0.1:%d" % port, method,
         request_file, "--concurrency", str(concurrency), "--seconds",
         str(seconds), "--warmup", str(warmup)],
        capture_output=True, text=True, timeout=seconds + warmup + 120)
    if out.returncode != 0:
        sys.exit("rpc_load failed: " + out.stderr)
    lines = out.stdout.splitlines()
    figures = {k: float(v) for k, v in (f.split("=") for f in lines[0].split())}
    if figures["errors"] > 0:
        sys.exit("rpc_load: %d calls failed against port %d %s:\n%s" % (
            figures["errors"], port, method, out.stdout))
    return figures


# --- the comparison -----------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", default=os.path.join(REPO, "build", "bin"),
                        help="directory holding actd, rpc_echo and rpc_load")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="seconds per run before measuring")
    parser.add_argument("--isa", default="auto", help="actd --isa")
    parser.add_argument("--modelinfer", action="store_true",
                        help="also measure the Open Inference Protocol's ModelInfer")
    parser.add_argument("--unary-echo", action="store_true",
                        help="also measure an echo whose Forward is a "
                        "registered callback unary method")
    parser.add_argument("--metrics", action="store_true",
                        help="run actd with its metrics on (a /metrics port)")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-rpc-")
    requests = {}
    for label, n in (("256", 256), ("1Mi", 1 << 20)):
        for kind, build in (("forward", forward_request),
                            ("infer", model_infer_request)):
            path = os.path.join(workdir, "%s_%s.bin" % (kind, label))
            with open(path, "wb") as f:
                f.write(build("relu", n))
            requests[kind, label] = path

    # (row label, payload, concurrency, figure compared)
    rows = [("relu, 256 float32, 16 concurrent", "256", 16, "rps"),
            ("relu, 256 float32, 4 concurrent", "256", 4, "rps"),
            ("relu, 256 float32, 1 concurrent (p50 µs)", "256", 1, "p50_us"),
            ("relu, 1 Mi float32 (4 MiB), 2 concurrent", "1Mi", 2, "rps")]
    # The servers measured per row: (name, server, method, request kind).
    targets = [("actd Forward", "actd", FORWARD, "forward"),
               ("echo", "echo", FORWARD, "forward")]
    if args.modelinfer:
        targets.insert(1, ("actd ModelInfer", "actd", MODEL_INFER, "infer"))
    if args.unary_echo:
        targets.append(("unary echo", "unary_echo", FORWARD, "forward"))

    servers = Servers(args.bin, args.isa, workdir, args.unary_echo,
                      args.metrics)
    try:
        ports = {"actd": servers.actd_port, "echo": servers.echo_port,
                 "unary_echo": servers.unary_echo_port}
        pids = {"actd": servers.actd.pid, "echo": servers.echo.pid,
                "unary_echo": servers.unary_echo and servers.unary_echo.pid}
        # Every request once against actd first: OK, or the table means nothing.
        for name, server, method, kind in targets:
            for label, n in (("256", 256), ("1Mi", 1 << 20)):
                f = run_load(args.bin, ports[server], method,
                             requests[kind, label], 1, 0.2, 0)
                per_call = f["rx_mb_s"] * 1e6 / f["ok_rps"]
                if per_call < 0.99 * 4 * n:  # MB/s is rounded
                    sys.exit("%s answered %s with %.0f bytes, fewer than %d "
                             "float32 outputs" % (name, method, per_call, n))
        results = {}  # (row, target) -> [figure per round]
        for r in range(args.rounds):
            for row, label, concurrency, figure in rows:
                order = targets if r % 2 == 0 else list(reversed(targets))
                for name, server, method, kind in order:
                    cpu = cpu_seconds(pids[server])
                    f = run_load(args.bin, ports[server], method,
                                 requests[kind, label], concurrency,
                                 args.seconds, args.warmup)
                    cpu = cpu_seconds(pids[server]) - cpu
                    results.setdefault((row, name), []).append(f[figure])
                    # The warm-up's calls ran at about the measured rate.
                    calls = f["rps"] * (args.seconds + args.warmup)
                    results.setdefault((row, name, "cpu"), []).append(
                        cpu * 1e6 / calls)
            print("round %d of %d done" % (r + 1, args.rounds), file=sys.stderr,
                  flush=True)
    finally:
        servers.stop()
    report(args, servers.isa, rows, targets, results)


def paired_ratio(a, b):
    """Median of the per-round ratios a/b (rounds ran side by side)."""
    return statistics.median(x / y for x, y in zip(a, b))


def report(args, isa, rows, targets, results):
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        m = re.search(r"model name\s*:\s*(.*)", f.read())
        if m:
            cpu = m.group(1).strip()
    print("\nactd isa %s, metrics %s; %s, %d CPUs; %d rounds x %.1f s per run, "
          "alternating; medians, ratios are medians of per-round ratios\n" % (
              isa, "on" if args.metrics else "off", cpu, os.cpu_count(),
              args.rounds, args.seconds))
    names = [t[0] for t in targets]
    header = "| request | " + " | ".join(names) + " | actd / echo |"
    if args.modelinfer:
        header += " ModelInfer / Forward | ModelInfer / echo |"
    if args.unary_echo:
        header += " unary echo / echo |"
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for row, _, _, figure in rows:
        med = {n: statistics.median(results[row, n]) for n in names}
        fmt = "{:,.0f}" if figure == "rps" else "{:,.1f}"
        cells = [fmt.format(med[n]) for n in names]
        line = "| %s | %s | %.2f |" % (
            row, " | ".join(cells),
            paired_ratio(results[row, "actd Forward"], results[row, "echo"]))
        if args.modelinfer:
            line += " %.2f | %.2f |" % (
                paired_ratio(results[row, "actd ModelInfer"],
                             results[row, "actd Forward"]),
                paired_ratio(results[row, "actd ModelInfer"], results[row, "echo"]))
        if args.unary_echo:
            line += " %.2f |" % paired_ratio(results[row, "unary echo"],
                                             results[row, "echo"])
        print(line)
    report_cpu(rows, names, results)


def report_cpu(rows, names, results):
    """Each server's CPU time per call: less noisy than rates on a shared host."""
    print("\nServer CPU per call, µs (all its threads; medians):\n")
    header = ("| request | " + " | ".join(names) +
              " | actd − echo (median of per-round differences) |")
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for row, _, _, _ in rows:
        cells = ["%.1f" % statistics.median(results[row, n, "cpu"])
                 for n in names]
        diff = statistics.median(
            a - b for a, b in zip(results[row, "actd Forward", "cpu"],
                                  results[row, "echo", "cpu"]))
        print("| %s | %s | %.1f |" % (re.sub(r" \(p50 µs\)$", "", row),
                                       " | ".join(cells), diff))


if __name__ == "__main__":
    main()

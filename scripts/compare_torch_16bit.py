#!/usr/bin/python3
"""Exhaustive bfloat16/float16 comparison of actd against PyTorch and a correct reference.

Starts a real actd (loopback, a free port), then for every element-wise activation PyTorch has,
both 16-bit types, forward and backward (dy = 1), evaluates all 65,536 bit patterns three ways:
actd (over gRPC, raw 2-byte tensors), PyTorch on the CPU in the 16-bit type (autograd for the
backward), and the exact value rounded once to the type (round to nearest, ties to even). The
reference is evaluated in float64 with cancellation-free formulas (expm1, erfc, 1/cosh^2, the
infinity limits and kink conventions of docs/SPEC.md), so its own error (a few float64 ulp) is
2^-40 of a bfloat16 ulp and cannot move a rounding except in a 2^-40-wide band around a tie.
float64 -> bfloat16 rounds float64 -> float32 to odd, then float32 -> bfloat16 to nearest even
(no double-rounding error); float64 -> float16 is NumPy's cast (correctly rounded).

Results are compared bit for bit (any NaN equals any NaN; +0 and -0 differ). Prints a Markdown
table, one row per activation, type and direction.

Usage: /usr/bin/python3 scripts/compare_torch_16bit.py [--actd build/bin/actd] [--isa auto]
         [--json FILE]
"""
import argparse
import json
import math
import os
import platform
import socket
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client",
                                "python"))
import actclient  # noqa: E402

SQRT1_2 = 1.0 / math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SELU_L = 1.0507009873554804934193349852946
SELU_A = 1.6732632423543772848170429916717
GELU_C = math.sqrt(2.0 / math.pi)
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def x_half_ties(x):
    """Where f(x) = x/2 + c·x² (c > 0) and x² underflows in float64 (bfloat16 subnormals), the
    float64 value is exactly x/2, which can be a bfloat16 tie; the exact value lies above it.
    Returns the direction (+1) to break such ties, 0 elsewhere."""
    return np.where((x != 0) & (np.abs(x) < 1e-30), 1.0, 0.0)


def sig(x):
    """σ(x) without overflow: e^x/(1 + e^x) for x < 0 (1/(1 + e^-x) made e^712 inf and σ(-712)
    0, where it is 1e-309, so mish' = t + x·σ/cosh² came out as t > 0 for x in [-745, -709.8],
    while the exact value is negative)."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def limits(fwd, bwd, x, f_neg_inf, f_pos_inf, d_neg_inf, d_pos_inf):
    """The infinity limits of docs/SPEC.md where a float64 formula gives inf*0.

    Also the sign of an underflowed derivative: gelu', silu' and mish' are negative for
    x < -2, and s + x·s·(...) with s = 0 gives +0 where the exact value rounds to -0."""
    bwd = np.where((bwd == 0) & (x < -2), -0.0, bwd)
    fwd[x == -np.inf], fwd[x == np.inf] = f_neg_inf, f_pos_inf
    bwd[x == -np.inf], bwd[x == np.inf] = d_neg_inf, d_pos_inf
    return fwd, bwd


def ref_gelu(x):
    f = 0.5 * x * _erfc(-x * SQRT1_2)
    d = 0.5 * _erfc(-x * SQRT1_2) + x * np.exp(-0.5 * x * x) * INV_SQRT_2PI
    return limits(f, d, x, -0.0, np.inf, 0.0, 1.0) + (x_half_ties(x),)


def ref_gelu_tanh(x):
    u = GELU_C * (x + 0.044715 * x**3)
    s = sig(2 * u)
    f = x * s
    d = s + x * s * sig(-2 * u) * 2 * GELU_C * (1 + 0.134145 * x * x)
    return limits(f, d, x, -0.0, np.inf, 0.0, 1.0) + (x_half_ties(x),)


def ref_silu(x):
    s = sig(x)
    return limits(x * s, s + x * s * sig(-x), x, -0.0, np.inf, 0.0, 1.0) + (x_half_ties(x),)


def ref_mish(x):
    sp = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))
    t = np.tanh(sp)
    return limits(x * t, t + x * sig(x) / np.cosh(sp)**2, x, -0.0, np.inf, 0.0, 1.0)


# name -> (actd name, actd params, actd weights, torch function, float64 reference (f, f'))
W = 0.25
ACTIVATIONS = [
    ("sigmoid", "sigmoid", {}, None, torch.sigmoid, lambda x: (sig(x), sig(x) * sig(-x))),
    ("tanh", "tanh", {}, None, torch.tanh, lambda x: (np.tanh(x), 1.0 / np.cosh(x)**2)),
    # relu(±0) = ±0, like max(x, 0) returning x when x = 0 (as PyTorch does).
    ("relu", "relu", {}, None, F.relu,
     lambda x: (np.where(x > 0, x, np.where(x == 0, x, 0.0)), np.where(x > 0, 1.0, 0.0))),
    ("elu", "elu", {"alpha": 1.0}, None, F.elu,
     lambda x: (np.where(x > 0, x, np.expm1(x)), np.where(x > 0, 1.0, np.exp(x)))),
    ("selu", "selu", {}, None, F.selu,
     lambda x: (np.where(x > 0, SELU_L * x, SELU_L * SELU_A * np.expm1(x)),
                np.where(x > 0, SELU_L, SELU_L * SELU_A * np.exp(x)))),
    ("leaky_relu (0.01)", "leaky_relu", {"alpha": 0.01}, None,
     lambda x: F.leaky_relu(x, 0.01),
     lambda x: (np.where(x > 0, x, 0.01 * x), np.where(x > 0, 1.0, 0.01))),
    ("prelu (weight 0.25)", "prelu", {}, W, None,
     lambda x: (np.where(x > 0, x, W * x), np.where(x > 0, 1.0, W))),
    ("gelu (none)", "gelu", {}, None, F.gelu, ref_gelu),
    ("gelu (tanh)", "gelu", {"approximate": "tanh"}, None,
     lambda x: F.gelu(x, approximate="tanh"), ref_gelu_tanh),
    ("silu", "silu", {}, None, F.silu, ref_silu),
    ("swish (beta 1) vs torch silu", "swish", {"beta": 1.0}, None, F.silu, ref_silu),
    ("mish", "mish", {}, None, F.mish, ref_mish),
    ("softplus", "softplus", {"beta": 1.0}, None, F.softplus,
     lambda x: (np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), sig(x))),
    # Kinks follow docs/SPEC.md: relu6' = [0 < x <= 6], hardsigmoid' = 1/6 on (-3, 3];
    # PyTorch takes the open intervals, so x = 6 (relu6) and x = 3 (hardsigmoid) differ.
    ("relu6", "relu6", {}, None, F.relu6,
     lambda x: (np.where(x > 0, np.minimum(x, 6.0), np.where(x == 0, x, 0.0)),
                np.where((x > 0) & (x <= 6), 1.0, 0.0))),
    ("hardsigmoid", "hardsigmoid", {}, None, F.hardsigmoid,
     lambda x: (np.where(x > -3, np.minimum(x + 3, 6.0) / 6, 0.0),
                np.where((x > -3) & (x <= 3), 1.0 / 6, 0.0))),
    ("hardswish", "hardswish", {}, None, F.hardswish,
     lambda x: (np.where(x <= -3, 0.0, np.where(x > 3, x, x * (x + 3) / 6)),
                np.where(x <= -3, 0.0, np.where(x > 3, 1.0, (2 * x + 3) / 6)))),
]


def f64_to_bf16_bits(r):
    """Correct rounding float64 -> bfloat16: to float32 by round-to-odd, then RNE."""
    with np.errstate(all="ignore"):
        f = r.astype(np.float32)
        back = f.astype(np.float64)
        f = np.where(np.abs(back) > np.abs(r), np.nextafter(f, np.float32(0)), f)
        inexact = (f.astype(np.float64) != r) & ~np.isnan(r)
    bits = f.view(np.uint32).astype(np.uint64) | inexact.astype(np.uint64)
    out = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
    out[np.isnan(r)] = 0x7FC0
    return out


def f64_to_f16_bits(r):
    with np.errstate(all="ignore"):
        return r.astype(np.float16).view(np.uint16)


TYPES = {
    "bfloat16": (torch.bfloat16, f64_to_bf16_bits, 0x7F80),
    "float16": (torch.float16, f64_to_f16_bits, 0x7C00),
}


def decode(bits, dtype):
    t = torch.from_numpy(bits.view(np.int16).copy()).view(TYPES[dtype][0])
    return t, t.double().numpy()


def to_bits(t):
    return t.detach().contiguous().view(torch.int16).numpy().view(np.uint16).copy()


def is_nan(bits, dtype):
    exp = TYPES[dtype][2]
    return ((bits & exp) == exp) & ((bits & 0x7FFF) != exp)


def ordered(bits):
    """Bit patterns as integers in value order (+0 and -0 both 0): ulp distance = difference."""
    b = bits.astype(np.int64)
    return np.where(b & 0x8000, -(b & 0x7FFF), b)


def same(a, b, dtype):
    na, nb = is_nan(a, dtype), is_nan(b, dtype)
    return (na & nb) | (~na & ~nb & (a == b))


def run_torch(fn, weight, t, dtype):
    x = t.clone().requires_grad_(True)
    try:
        if weight is not None:
            y = F.prelu(x, torch.tensor([weight], dtype=t.dtype))
        else:
            y = fn(x)
        fwd = to_bits(y)
    except RuntimeError as e:
        return None, None, str(e).splitlines()[0]
    try:
        y.backward(torch.ones_like(y))
        bwd = to_bits(x.grad)
    except RuntimeError as e:
        return fwd, None, str(e).splitlines()[0]
    return fwd, bwd, None


def counts(ours, theirs, ref, dtype):
    """The table's columns for one activation, type and direction."""
    ok = same(ours, ref, dtype)
    row = {"n": int(ours.size), "actd_cr": int(ok.sum())}
    finite = ~is_nan(ours, dtype) & ~is_nan(ref, dtype)
    err = np.abs(ordered(ours) - ordered(ref))[finite & ~ok]
    row["actd_max_ulp"] = int(err.max()) if err.size else 0
    row["actd_zero_sign"] = int((~ok & finite & ((ours | ref) & 0x7FFF == 0)).sum())
    row["actd_1ulp"] = int((err == 1).sum())
    row["actd_nan_mismatch"] = int((is_nan(ours, dtype) != is_nan(ref, dtype)).sum())
    if theirs is None:
        return row
    tok = same(theirs, ref, dtype)
    agree = same(ours, theirs, dtype)
    row.update(torch_cr=int(tok.sum()), agree=int(agree.sum()),
               torch_wrong_actd_right=int((~agree & ok & ~tok).sum()),
               actd_wrong_torch_right=int((~agree & ~ok & tok).sum()),
               both_wrong_differ=int((~agree & ~ok & ~tok).sum()))
    tn, on = is_nan(theirs, dtype), is_nan(ours, dtype)
    row["torch_nan_actd_not"] = int((tn & ~on).sum())
    row["actd_nan_torch_not"] = int((on & ~tn).sum())
    row["zero_sign_only"] = int((~agree & ~tn & ~on & ((ours | theirs) & 0x7FFF == 0)).sum())
    tfin = ~tn & ~is_nan(ref, dtype)
    terr = np.abs(ordered(theirs) - ordered(ref))[tfin & ~tok]
    row["torch_max_ulp"] = int(terr.max()) if terr.size else 0
    return row


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_actd(path, isa):
    port = free_port()
    proc = subprocess.Popen([path, "--host", "127.0.0.1", "--port", str(port), "--http-port",
                             "0", "--metrics-port", "0", "--isa", isa],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = actclient.Client("127.0.0.1:%d" % port, timeout=60)
    for _ in range(200):
        try:
            return proc, client, client.server_info()
        except actclient.ActdError:
            if proc.poll() is not None:
                raise SystemExit("actd exited with code %d" % proc.returncode)
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("actd did not answer on port %d" % port)


def compare(client, dtype):
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    t, x = decode(bits, dtype)
    rows = []
    for label, name, params, weight, fn, ref_fn in ACTIVATIONS:
        weights = {"alpha": torch.tensor([weight], dtype=t.dtype)} if weight else None
        y = to_bits(client.forward(name, t, params=params, weights=weights))
        dx = to_bits(client.backward(name, t, params=params, weights=weights)[0])
        with np.errstate(all="ignore"):
            rf, rd, *nudge = ref_fn(x)
        rf, rd = np.array(rf, dtype=np.float64), np.array(rd, dtype=np.float64)
        if nudge:  # one float64 ulp toward the exact value: breaks false ties only
            rf = np.where(nudge[0] > 0, np.nextafter(rf, np.inf), rf)
        rf[np.isnan(x)] = np.nan
        rd[np.isnan(x)] = np.nan
        round_fn = TYPES[dtype][1]
        tf, td, why = run_torch(fn, weight, t, dtype)
        for direction, ours, theirs, ref in (("forward", y, tf, round_fn(rf)),
                                             ("backward", dx, td, round_fn(rd))):
            row = counts(ours, theirs, ref, dtype)
            row.update(activation=label, dtype=dtype, direction=direction)
            if theirs is None:
                row["torch"] = "not implemented: " + (why or "")
            rows.append(row)
    return rows + compare_glu(client, dtype, t, x)


def compare_glu(client, dtype, t, x):
    """glu along the last axis with a = b = x (every bit pattern in both halves): y = x·σ(x),
    da = σ(x), db = x·σ(x)σ(-x). Plain products, as docs/SPEC.md says for gated units, so
    x = ±inf gives NaN where a factor is 0 (no infinity limits here)."""
    x2 = torch.stack([t, t], dim=-1)
    y = to_bits(client.forward("glu", x2, params={"axis": -1}))[:, 0]
    dx = to_bits(client.backward("glu", x2, params={"axis": -1})[0])
    with np.errstate(all="ignore"):
        s, sm = sig(x), sig(-x)
        refs = [np.where(x_half_ties(x) > 0, np.nextafter(x * s, np.inf), x * s), s, x * s * sm]
    round_fn = TYPES[dtype][1]
    try:
        xt = x2.clone().requires_grad_(True)
        yt = F.glu(xt, dim=-1)
        yt.backward(torch.ones_like(yt))
        theirs = [to_bits(yt)[:, 0], to_bits(xt.grad)[:, 0], to_bits(xt.grad)[:, 1]]
        why = None
    except RuntimeError as e:
        theirs, why = [None] * 3, str(e).splitlines()[0]
    rows = []
    for direction, ours, th, ref in zip(("forward", "backward (da)", "backward (db)"),
                                        (y, dx[:, 0], dx[:, 1]), theirs, refs):
        ref = np.where(np.isnan(x), np.nan, ref)
        row = counts(ours, th, round_fn(ref), dtype)
        row.update(activation="glu (a = b = x)", dtype=dtype, direction=direction)
        if th is None:
            row["torch"] = "not implemented: " + why
        rows.append(row)
    return rows


def table(rows):
    head = ("| activation | type | direction | actd correctly rounded | actd ±0 only | "
            "actd 1 ulp | actd max ulp | torch "
            "correctly rounded | torch max ulp | actd = torch | torch off, actd right | "
            "actd off, torch right | both off, differ | torch NaN, actd not | ±0 only |")
    out = [head, "|" + "---|" * 15]
    for r in rows:
        if "torch" in r:
            t = "not implemented on CPU | – | – | – | – | – | – | –"
        else:
            t = "%d | %d | %d | %d | %d | %d | %d | %d" % (
                r["torch_cr"], r["torch_max_ulp"], r["agree"], r["torch_wrong_actd_right"],
                r["actd_wrong_torch_right"], r["both_wrong_differ"], r["torch_nan_actd_not"],
                r["zero_sign_only"])
        out.append("| %s | %s | %s | %d | %d | %d | %d | %s |" % (
            r["activation"], r["dtype"], r["direction"], r["actd_cr"], r["actd_zero_sign"],
            r["actd_1ulp"], r["actd_max_ulp"], t))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--actd", default="build/bin/actd")
    ap.add_argument("--isa", default="auto")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    proc, client, info = start_actd(args.actd, args.isa)
    try:
        rows = compare(client, "bfloat16") + compare(client, "float16")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    print("torch %s, numpy %s, actd isa %s, %s, %s" % (
        torch.__version__, np.__version__, info.isa, platform.machine(), platform.processor()
        or platform.platform()))
    print("65,536 inputs per row (every bit pattern, NaN and ±inf included); dy = 1\n")
    print(table(rows))
    for r in rows:
        if "torch" in r:
            print("%s %s %s: torch %s" % (r["activation"], r["dtype"], r["direction"],
                                          r["torch"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

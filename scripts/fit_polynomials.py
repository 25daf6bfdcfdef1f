#!/usr/bin/env python3
"""Fits the two minimax polynomials of the float32 kernels (server/core/packet_math.h).

ExpPolyQ4:   e^r = 1 + r·q(r),  q(r) = 1 + c1·r + ... + c4·r⁴,  |r| ≤ ln2/2
NormalFloat: erfc(z)/2 = u·Q(u)·exp(-z²),  u = 1/(1 + p·z),  z ≥ 0,  Q of degree 8

Each minimises the largest relative error (of q, resp. of u·Q(u) against erfc(z)·e^{z²}/2) by
Lawson's iteration on weighted least squares; p = 0.4 gives the smallest error of the p tried.
Prints the coefficients (lowest degree first, rounded to float32) and the relative errors in exact
arithmetic and evaluated in float32 as the kernels do (Estrin's scheme, fused multiply-adds).

Usage: /usr/bin/python3 scripts/fit_polynomials.py      (needs numpy)
"""
import math

import numpy as np

P, DEGREE = 0.4, 8


def minimax(v, target, scale, iterations=300):
    """Coefficients c minimising max |(v·c - target)/scale| (Lawson's iteration)."""
    w = np.full(len(target), 1.0 / len(target))
    for _ in range(iterations):
        s = np.sqrt(w) / np.abs(scale)
        c, *_ = np.linalg.lstsq(v * s[:, None], target * s, rcond=None)
        err = (v @ c - target) / scale
        w *= np.abs(err)
        w /= w.sum()
    return c, np.max(np.abs(err))


def fma(a, b, d):
    """float32 a·b + d with one rounding, as a fused multiply-add."""
    return np.float32(np.float64(a) * np.float64(b) + np.float64(d))


def fit_exp(nodes=4000):
    """c1..c4 of q(r) = (e^r - 1)/r ≈ 1 + c1·r + ... + c4·r⁴, relative to q."""
    r = math.log(2) / 2 * np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes)
    r = r[np.abs(r) > 1e-9]
    q = np.expm1(r) / r
    return minimax(np.vander(r, 5, increasing=True)[:, 1:], q - 1, q)


def exp_float32_error(c):
    """Largest relative error of e^r = 1 + r·q(r) as ExpPolyQ4 evaluates it."""
    worst, one = 0.0, np.float32(1)
    for r in np.linspace(-math.log(2) / 2, math.log(2) / 2, 100001).astype(np.float32):
        r2 = np.float32(r * r)
        inner = fma(fma(c[3], r, c[2]), r2, fma(c[1], r, c[0]))
        e = fma(fma(inner, r, one), r, one)
        worst = max(worst, abs(float(e) / math.exp(float(r)) - 1))
    return worst


def half_erfcx(z):
    """erfc(z)·exp(z²)/2 to double precision: the C library below 25, the asymptotic series above."""
    if z < 25:
        return 0.5 * math.erfc(z) * math.exp(z * z)
    s = term = 1.0
    for n in range(1, 12):
        term *= -(2 * n - 1) / (2 * z * z)
        s += term
    return 0.5 * s / (z * math.sqrt(math.pi))


def fit_erfc(nodes=6000):
    """Q with u·Q(u) ≈ erfc(z)·e^{z²}/2 over u in (0, 1], relative."""
    u = 0.5 * (1 - np.cos(np.pi * (np.arange(nodes) + 0.5) / nodes))
    u = u[u > 1e-7]
    g = np.array([half_erfcx(z) for z in (1 / u - 1) / P]) / u
    return minimax(np.vander(u, DEGREE + 1, increasing=True), g, g)


def erfc_float32_error(c):
    """Largest relative error of u·Q(u) as NormalFloat evaluates it."""
    f, worst = np.float32, 0.0
    for z in np.concatenate([np.linspace(0, 30, 30001), np.geomspace(30, 1e6, 300)]):
        u = f(1 / fma(f(P), f(z), f(1)))
        u2 = f(u * u)
        u4 = f(u2 * u2)
        u8 = f(u4 * u4)
        q = [fma(c[i + 1], u, c[i]) for i in (0, 2, 4, 6)]
        q = fma(c[8], u8, fma(fma(q[3], u2, q[2]), u4, fma(q[1], u2, q[0])))
        worst = max(worst, abs(float(f(u * q)) / half_erfcx(float(z)) - 1))
    return worst


if __name__ == "__main__":
    for name, fit, error in (("ExpPolyQ4 c1..c4", fit_exp, exp_float32_error),
                             ("NormalFloat Q", fit_erfc, erfc_float32_error)):
        c, exact = fit()
        c32 = c.astype(np.float32)
        print(f"{name} =", ", ".join(f"{v:.9g}" for v in c32))
        print(f"  relative error: {exact:.2e} exact, {error(c32):.2e} in float32")

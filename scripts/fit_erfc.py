#!/usr/bin/env python3
"""Fits the polynomial Q of the float32 GELU kernel (server/core/packet_math.h, NormalFloat).

    erfc(z)/2 = u·Q(u)·exp(-z²),   u = 1/(1 + p·z),   z ≥ 0

Q has degree 8 and minimises the largest relative error over all z ≥ 0 (u in (0, 1]), found by
Lawson's iteration on weighted least squares; p = 0.4 gives the smallest error of the p tried.
Prints the coefficients (lowest degree first, rounded to float32) and the relative error in exact
arithmetic and evaluated in float32 as the kernel does (Estrin's scheme, fused multiply-adds).

Usage: /usr/bin/python3 scripts/fit_erfc.py      (needs numpy)
"""
import math

import numpy as np

P, DEGREE = 0.4, 8


def half_erfcx(z):
    """erfc(z)·exp(z²)/2 to double precision: the C library below 25, the asymptotic series above."""
    if z < 25:
        return 0.5 * math.erfc(z) * math.exp(z * z)
    s = term = 1.0
    for n in range(1, 12):
        term *= -(2 * n - 1) / (2 * z * z)
        s += term
    return 0.5 * s / (z * math.sqrt(math.pi))


def fit(iterations=300, nodes=6000):
    k = np.arange(nodes)
    u = 0.5 * (1 - np.cos(np.pi * (k + 0.5) / nodes))
    u = u[u > 1e-7]
    g = np.array([half_erfcx(z) for z in (1 / u - 1) / P]) / u
    v = np.vander(u, DEGREE + 1, increasing=True)
    w = np.full(len(u), 1.0 / len(u))
    for _ in range(iterations):
        scale = np.sqrt(w) / np.abs(g)
        c, *_ = np.linalg.lstsq(v * scale[:, None], g * scale, rcond=None)
        err = (v @ c - g) / g
        w *= np.abs(err)
        w /= w.sum()
    return c, np.max(np.abs(err))


def float32_error(c):
    f = np.float32

    def fma(a, b, d):
        return f(np.float64(a) * np.float64(b) + np.float64(d))

    worst = 0.0
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
    c, exact = fit()
    c32 = c.astype(np.float32)
    print("Q =", ", ".join(f"{v:.9g}" for v in c32))
    print(f"relative error: {exact:.2e} exact, {float32_error(c32):.2e} in float32")

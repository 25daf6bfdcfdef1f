#!/usr/bin/env python3
"""Fits the minimax polynomials of the kernels (server/core/packet_math.h).

ExpPolyQ4:    e^r = 1 + r·q(r),  q(r) = 1 + c1·r + ... + c4·r⁴,  |r| ≤ ln2/2  (float32)
NormalFloat:  erfc(z)/2 = u·Q(u)·exp(-z²),  u = 1/(1 + 0.4·z),  z ≥ 0,  Q of degree 8
NormalDouble: the same with u = 1/(1 + 0.25·z) and Q of degree 20, over z in [0, 27.5]

The float32 fits minimise the largest relative error (of q, resp. of u·Q(u) against
erfc(z)·e^{z²}/2) by Lawson's iteration on weighted least squares; p = 0.4 gives the smallest
error of the p tried. The float64 fit is Chebyshev interpolation in 40-digit arithmetic
(mpmath.chebyfit) over u in [1/(1 + 0.25·27.5), 1]: erfc(z)·e^{z²} has an essential singularity
at u = 0, so a fit down to u = 0 stalls near 1e-14, while this range converges geometrically;
beyond z = 27.5 e^{-z²} underflows float64 anyway. p = 0.25 and degree 20 were the best of
p in {0.2, ..., 1.5} and degrees 14 to 24 (degree 18 gives 8e-15).
Prints the coefficients (lowest degree first, rounded to the kernel's type) and the relative
errors in exact arithmetic and evaluated as the kernels do (float32: Horner's scheme; float64:
Estrin's scheme; fused multiply-adds).

Usage: /usr/bin/python3 scripts/fit_polynomials.py
Needs numpy and mpmath (Debian: python3-numpy, python3-mpmath); about a minute.
"""
import math

import mpmath as mp
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
        q = fma(fma(fma(c[3], r, c[2]), r, c[1]), r, c[0])
        e = fma(fma(q, r, one), r, one)
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
        q = c[8]
        for i in range(7, -1, -1):
            q = fma(q, u, c[i])
        worst = max(worst, abs(float(f(u * q)) / half_erfcx(float(z)) - 1))
    return worst


P64, DEGREE64, Z64 = 0.25, 20, 27.5


def fit_erfc_double():
    """Q with u·Q(u) ≈ erfc(z)·e^{z²}/2 for z in [0, Z64], by Chebyshev interpolation."""
    mp.mp.dps = 40
    p = mp.mpf(P64)

    def q(u):
        z = (1 / u - 1) / p
        return mp.erfc(z) * mp.exp(z * z) / (2 * u)

    u0 = 1 / (1 + mp.mpf(Z64) * p)
    c = mp.chebyfit(q, [u0, 1], DEGREE64 + 1)[::-1]
    c64 = [float(v) for v in c]
    worst = max(abs(mp.polyval([mp.mpf(v) for v in c64[::-1]], u) / q(u) - 1)
                for u in mp.linspace(u0, 1, 3000))
    return c64, float(worst)


def erfc_double_error(c):
    """Largest relative error of u·Q(u) as NormalDouble evaluates it, x from 0 to 38.9."""
    mp.mp.dps = 40

    def fma(a, b, d):
        return float(mp.mpf(a) * mp.mpf(b) + mp.mpf(d))

    worst = 0.0
    for x in np.linspace(0, Z64 * math.sqrt(2), 4001):
        u = 1 / fma(0.25 / math.sqrt(2), x, 1.0)
        u2 = u * u
        u4 = u2 * u2
        u8 = u4 * u4
        u16 = u8 * u8
        a = [fma(c[2 * i + 1], u, c[2 * i]) for i in range(10)]
        b = [fma(a[2 * i + 1], u2, a[2 * i]) for i in range(5)]
        d0, d1, d2 = fma(b[1], u4, b[0]), fma(b[3], u4, b[2]), fma(c[20], u4, b[4])
        q = fma(d2, u16, fma(d1, u8, d0))
        z = mp.mpf(x) / mp.sqrt(2)
        ref = mp.erfc(z) * mp.exp(z * z) / 2
        worst = max(worst, abs(float(mp.mpf(u * q) / ref - 1)))
    return worst


if __name__ == "__main__":
    for name, fit, error in (("ExpPolyQ4 c1..c4", fit_exp, exp_float32_error),
                             ("NormalFloat Q", fit_erfc, erfc_float32_error)):
        c, exact = fit()
        c32 = c.astype(np.float32)
        print(f"{name} =", ", ".join(f"{v:.9g}" for v in c32))
        print(f"  relative error: {exact:.2e} exact, {error(c32):.2e} in float32")
    c, exact = fit_erfc_double()
    print("NormalDouble Q =", ", ".join(repr(v) for v in c))
    print(f"  relative error: {exact:.2e} exact, {erfc_double_error(c):.2e} in float64")

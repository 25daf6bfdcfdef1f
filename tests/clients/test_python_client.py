# End-to-end tests of the Python client (client/python) against a real actd process.
# The package is first installed (pip, offline) into a scratch folder and imported from
# there, outside the repository. Every activation the server lists (ListActivations) is
# checked forward and backward in both dtypes against a float64 NumPy reference taken
# from REFERENCE, the one table of references: a listed activation without an entry
# fails ApiTest.test_every_listed_activation_has_a_reference, naming it.
# Usage: /usr/bin/python3 test_python_client.py path/to/actd
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import grpc
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
PACKAGE_SRC = os.path.join(REPO, "client", "python")
sys.path.insert(0, os.path.join(REPO, "tests", "server"))
import actd_harness  # noqa: E402  (the shared launcher of tests/server, e2e and clients)

actclient = None  # imported from the scratch install by install_client()
INSTALL_DIR = None
SERVER = None
CLIENT = None
SERVED = []  # names from ListActivations

# Tolerances (the accuracy table of docs/SPEC.md; float64 relaxed to 1e-12 for the reference's
# own rounding): relative forward, relative backward, absolute forward, absolute
# backward per |dy|.
TOL = {
    np.float32: dict(fwd=2e-6, bwd=1e-5, fwd_abs=1e-37, bwd_abs=2e-7, sums=1e-5),
    np.float64: dict(fwd=1e-12, bwd=1e-12, fwd_abs=1e-300, bwd_abs=1e-15, sums=1e-12),
}
DTYPES = (np.float32, np.float64)
SHAPES = ((), (7,), (3, 5), (2, 3, 4), (2, 3, 4, 5))
SELU_L = 1.0507009873554804934193349852946
SELU_A = 1.6732632423543772848170429916717
# np.where evaluates both branches: overflow in the unused one is expected.
np.seterr(over="ignore")


def install_client():
    """pip-installs client/python into a scratch folder (offline, no dependencies: the
    system has them) and imports actclient from there."""
    global actclient, INSTALL_DIR
    INSTALL_DIR = tempfile.mkdtemp(prefix="actclient-install-")
    target = os.path.join(INSTALL_DIR, "site")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps",
         "--no-cache-dir", "--target", target, PACKAGE_SRC],
        capture_output=True, text=True, timeout=120, cwd=INSTALL_DIR)
    if result.returncode != 0:
        sys.exit("pip install %s failed:\n%s%s" % (PACKAGE_SRC, result.stdout, result.stderr))
    sys.path.insert(0, target)
    import actclient as module
    if not module.__file__.startswith(target):
        sys.exit("actclient imported from %s, not from the scratch install" % module.__file__)
    actclient = module


def setUpModule():
    global SERVER, CLIENT, SERVED
    SERVER = actd_harness.ActdServer()
    CLIENT = actclient.Client("127.0.0.1:%d" % SERVER.port, timeout=10)
    SERVED = [a.name for a in CLIENT.list_activations()]


def tearDownModule():
    CLIENT.close()
    SERVER.stop()


# ---- float64 references -----------------------------------------------------------

def sig(t):
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1 / (1 + e), e / (1 + e))


_erfc = np.vectorize(math.erfc, otypes=[np.float64])
K = math.sqrt(2 / math.pi)


def gelu_none(x):
    return 0.5 * x * _erfc(-x / math.sqrt(2))


def dgelu_none(x):
    return 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def gelu_tanh(x):
    return x * sig(2 * K * (x + 0.044715 * x ** 3))


def dgelu_tanh(x):
    s2 = 2 * K * (x + 0.044715 * x ** 3)
    return sig(s2) + x * sig(s2) * sig(-s2) * 2 * K * (1 + 0.134145 * x * x)


def swish(b):
    return lambda x: x * sig(b * x)


def dswish(b):
    return lambda x: sig(b * x) + b * x * sig(b * x) * sig(-b * x)


def mish_t(x):
    return np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))


def softplus(b):
    return lambda x: np.maximum(x, 0) + np.log1p(np.exp(-np.abs(b * x))) / b


def relu(x):
    return np.maximum(x, 0)


def step(x):
    return (x > 0).astype(np.float64)  # d/dx at 0 is the negative side's slope (docs/SPEC.md)


def relu6(x):
    return np.clip(x, 0, 6)


def hardsigmoid(x):
    return np.clip(x + 3, 0, 6) / 6


def dhardsigmoid(x):
    return np.where((x > -3) & (x < 3), 1 / 6, 0.0)


class Ref:
    """One activation's reference. kind "elementwise": cases of (label, params, f, f');
    kind "gated": cases of (label, params, g, g') with y = a·g(b) over the halves a, b
    along `axis`; kind "special": checked by the TestCase class named in `test`."""

    def __init__(self, kind, cases=(), test=None):
        self.kind, self.cases, self.test = kind, list(cases), test


def elementwise(params, f, df, label=""):
    return Ref("elementwise", [(label, params, f, df)])


def gated(params, g, dg):
    return Ref("gated", [("", params, g, dg)])


# THE reference table: activation name -> Ref. Entries of activations the server does
# not list are unused.
REFERENCE = {
    "identity": elementwise({}, lambda x: x, lambda x: np.ones_like(x)),
    "sigmoid": elementwise({}, sig, lambda x: sig(x) * sig(-x)),
    "tanh": elementwise({}, np.tanh, lambda x: 4 * sig(2 * x) * sig(-2 * x)),
    "relu": elementwise({}, relu, step),
    "elu": elementwise({"alpha": 0.7}, lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
                       lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(x))),
    "selu": elementwise({}, lambda x: SELU_L * np.where(x > 0, x, SELU_A * np.expm1(x)),
                        lambda x: SELU_L * np.where(x > 0, 1.0, SELU_A * np.exp(x))),
    "leaky_relu": elementwise({"alpha": 0.1}, lambda x: np.where(x > 0, x, 0.1 * x),
                              lambda x: np.where(x > 0, 1.0, 0.1)),
    "gelu": Ref("elementwise", [
        ("default", {}, gelu_none, dgelu_none),
        ("none", {"approximate": "none"}, gelu_none, dgelu_none),
        ("tanh", {"approximate": "tanh"}, gelu_tanh, dgelu_tanh),
        ("sigmoid", {"approximate": "sigmoid"}, swish(1.702), dswish(1.702))]),
    "swish": Ref("elementwise", [("default", {}, swish(1.0), dswish(1.0)),
                                 ("beta", {"beta": 1.5}, swish(1.5), dswish(1.5))]),
    "silu": elementwise({}, swish(1.0), dswish(1.0)),  # alias of swish with beta 1
    "mish": elementwise({}, lambda x: x * mish_t(x),
                        lambda x: mish_t(x) + x * sig(x) * (1 - mish_t(x) ** 2)),
    "softplus": Ref("elementwise", [("default", {}, softplus(1.0), sig),
                                    ("beta", {"beta": 2.5}, softplus(2.5),
                                     lambda x: sig(2.5 * x))]),
    "relu6": elementwise({}, relu6, lambda x: ((x > 0) & (x < 6)).astype(np.float64)),
    "hardsigmoid": elementwise({}, hardsigmoid, dhardsigmoid),
    "hardswish": elementwise({}, lambda x: x * hardsigmoid(x),
                             lambda x: hardsigmoid(x) + x * dhardsigmoid(x)),
    "glu": gated({}, sig, lambda x: sig(x) * sig(-x)),
    "swiglu": Ref("gated", [("default", {}, swish(1.0), dswish(1.0)),
                            ("beta", {"beta": 1.5}, swish(1.5), dswish(1.5))]),
    "geglu": gated({}, gelu_none, dgelu_none),
    "reglu": gated({}, relu, step),
    "prelu": Ref("special", test="PreluTest"),
    "maxout": Ref("special", test="MaxoutTest"),
    "dice": Ref("special", test="DiceTest"),
}


def served(kind):
    """(name, Ref) of the listed activations whose reference is of `kind`."""
    return [(n, REFERENCE[n]) for n in SERVED if n in REFERENCE and REFERENCE[n].kind == kind]


def second_derivative(df, x):
    h = 1e-6 * np.maximum(1, np.abs(x))
    return (df(x + h) - df(x - h)) / (2 * h)


def sample(shape, dtype, seed, scale=3.0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


class Case(unittest.TestCase):
    def assertClose(self, got, ref, tol, what):
        """|got - ref| <= tol elementwise, with got's dtype and ref's shape checked."""
        ref = np.asarray(ref, dtype=np.float64)
        self.assertEqual(got.shape, ref.shape, what)
        err = np.abs(got.astype(np.float64) - ref)
        bad = ~(err <= tol)
        if bad.any():
            i = np.argmax(np.where(bad, err - tol, -np.inf))
            self.fail("%s: %d of %d elements off; worst at flat %d: got %r, want %r, tol %r"
                      % (what, bad.sum(), bad.size, i, got.ravel()[i], ref.ravel()[i],
                         np.broadcast_to(tol, ref.shape).ravel()[i]))


def forward_tol(t, ref, x64, dfx):
    # Spec: rel · max(|f|, |x·f'|/8): the condition number's allowance in the tails.
    return t["fwd"] * np.maximum(np.abs(ref), np.abs(x64 * dfx) / 8) + t["fwd_abs"]


def backward_tol(t, ref, scale_dy, x64, d2):
    return (t["bwd"] * np.maximum(np.abs(ref), np.abs(scale_dy * x64 * d2) / 8)
            + t["bwd_abs"] * np.abs(scale_dy))


# ---- element-wise activations --------------------------------------------------

class ElementwiseTest(Case):
    def check(self, name, case, x, dy):
        label, params, f, df = case
        what = "%s%s" % (name, "/" + label if label else "")
        t = TOL[x.dtype.type]
        x64 = x.astype(np.float64)
        y = CLIENT.forward(name, x, params=params)
        self.assertEqual(y.dtype, x.dtype)
        ref = f(x64)
        self.assertClose(y, ref, forward_tol(t, ref, x64, df(x64)),
                         "%s forward %s %s" % (what, x.dtype, x.shape))
        dx, grads = CLIENT.backward(name, x, dy, params=params)
        self.assertEqual(dx.dtype, x.dtype)
        dy64 = np.ones_like(x64) if dy is None else dy.astype(np.float64)
        ref = dy64 * df(x64)
        self.assertClose(dx, ref, backward_tol(t, ref, dy64, x64, second_derivative(df, x64)),
                         "%s backward %s %s" % (what, x.dtype, x.shape))
        return grads

    def test_every_listed_activation_all_shapes_and_dtypes(self):
        for name, ref in served("elementwise"):
            for case in ref.cases:
                for dtype in DTYPES:
                    for i, shape in enumerate(SHAPES):
                        with self.subTest(name=name, case=case[0], dtype=dtype.__name__,
                                          shape=shape):
                            x = sample(shape, dtype, i)
                            dy = sample(shape, dtype, 100 + i, 1.0)
                            self.check(name, case, x, dy)

    def test_special_values(self):
        # Zeros, tiny, moderate and large inputs, exp over/underflow edges, GELU tails.
        v = [0.0, -0.0, 1e-30, -1e-30, 5e-5, -5e-5, 1.0, -1.0, 7.9, -7.9, 15.7, -9.0,
             20.0, -20.0, 22.18, 44.36, -5.75, -12.0, 88.72, -87.3, 1e6, -1e6]
        for name, ref in served("elementwise"):
            for case in ref.cases:
                for dtype in DTYPES:
                    with self.subTest(name=name, case=case[0], dtype=dtype.__name__):
                        self.check(name, case, np.array(v, dtype=dtype), None)

    def test_default_grad_output_is_ones(self):
        x = sample((4, 6), np.float64, 7)
        dx, _ = CLIENT.backward("sigmoid", x)
        np.testing.assert_allclose(dx, sig(x) * sig(-x), rtol=1e-12)

    def test_backward_from_output(self):
        for name in ("sigmoid", "tanh", "elu", "relu", "swish", "identity"):
            _, params, f, df = REFERENCE[name].cases[0]
            x = np.linspace(-3, 3, 61)
            y = CLIENT.forward(name, x, params=params)
            dx, _ = CLIENT.backward(name, x, y=y, params=params)
            self.assertClose(dx, df(x), 1e-12 * np.abs(df(x)) + 1e-15, name + " from y")

    def test_nan_propagates(self):
        for name, ref in served("elementwise"):
            params = ref.cases[0][1]
            for dtype in DTYPES:
                with self.subTest(name=name, dtype=dtype.__name__):
                    x = np.array([np.nan, 1.0], dtype=dtype)
                    self.assertTrue(np.isnan(CLIENT.forward(name, x, params=params)[0]))
                    self.assertTrue(np.isnan(CLIENT.backward(name, x, params=params)[0][0]))

    def test_elu_alpha_gradient(self):
        for dtype in DTYPES:
            x, dy = sample((3, 4, 5), dtype, 1), sample((3, 4, 5), dtype, 2, 1.0)
            _, grads = CLIENT.backward("elu", x, dy, params={"alpha": 0.7})
            self.assertEqual(set(grads), {"alpha"})
            self.assertEqual(grads["alpha"].shape, ())
            self.assertEqual(grads["alpha"].dtype, dtype)
            x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
            terms = np.where(x64 <= 0, dy64 * np.expm1(x64), 0)
            self.assertClose(grads["alpha"], terms.sum(),
                             TOL[dtype]["sums"] * np.abs(terms).sum(), "elu dalpha")

    def test_swish_beta_gradient(self):
        for dtype in DTYPES:
            x, dy = sample((2, 3, 4, 5), dtype, 3), sample((2, 3, 4, 5), dtype, 4, 1.0)
            _, grads = CLIENT.backward("swish", x, dy, params={"beta": 1.5})
            self.assertEqual(set(grads), {"beta"})
            self.assertEqual(grads["beta"].shape, ())
            x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
            s = sig(1.5 * x64)
            terms = dy64 * x64 * x64 * s * sig(-1.5 * x64)
            self.assertClose(grads["beta"], terms.sum(),
                             TOL[dtype]["sums"] * np.abs(terms).sum(), "swish dbeta")

    def test_parameterless_have_no_grad_params(self):
        for name, ref in served("elementwise"):
            if any(case[1] for case in ref.cases):
                continue  # takes parameters
            _, grads = CLIENT.backward(name, np.linspace(-2, 2, 9))
            self.assertEqual(grads, {}, name)


# ---- gated linear units --------------------------------------------------------

class GatedTest(Case):
    """y = a·g(b) with a, b the first and second halves of x along `axis`."""

    def check(self, name, case, x, axis):
        label, params, g, dg = case
        what = "%s%s %s %s axis %s" % (name, "/" + label if label else "", x.dtype, x.shape,
                                       axis)
        t = TOL[x.dtype.type]
        call_params = dict(params) if axis is None else dict(params, axis=axis)
        ax = -1 if axis is None else axis
        a, b = (h.astype(np.float64) for h in np.split(x, 2, axis=ax))
        y = CLIENT.forward(name, x, params=call_params)
        self.assertEqual(y.dtype, x.dtype)
        ref = a * g(b)
        # The product's error: a's exact, g(b)'s within g's own bound.
        tol = t["fwd"] * np.maximum(np.abs(ref), np.abs(a * b * dg(b)) / 8) + t["fwd_abs"]
        self.assertClose(y, ref, tol, what + " forward")
        dy = sample(ref.shape, x.dtype, 7, 1.0).astype(np.float64)
        dx, grads = CLIENT.backward(name, x, dy.astype(x.dtype), params=call_params)
        self.assertEqual(dx.dtype, x.dtype)
        self.assertEqual(dx.shape, x.shape, what)
        da_ref = dy * g(b)
        db_ref = dy * a * dg(b)
        da, db = np.split(dx, 2, axis=ax)
        self.assertClose(da, da_ref, backward_tol(t, da_ref, dy, b, dg(b)),
                         what + " backward (first half)")
        self.assertClose(db, db_ref, backward_tol(t, db_ref, dy * a, b,
                                                  second_derivative(dg, b)),
                         what + " backward (second half)")

    def test_every_listed_gated_unit(self):
        for name, ref in served("gated"):
            for case in ref.cases:
                for dtype in DTYPES:
                    for shape, axis in (((8,), None), ((3, 6), None), ((2, 3, 4), -1),
                                        ((4, 3), 0), ((2, 6, 5), 1)):
                        with self.subTest(name=name, case=case[0], dtype=dtype.__name__,
                                          shape=shape, axis=axis):
                            self.check(name, case, sample(shape, dtype, 30), axis)

    def test_odd_axis_length_names_the_axis(self):
        for name, _ in served("gated"):
            with self.subTest(name=name):
                with self.assertRaises(actclient.ActdError) as e:
                    CLIENT.forward(name, np.ones((2, 5)))
                self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn("axis", e.exception.details)
                self.assertIn("5", e.exception.details)


# ---- PReLU --------------------------------------------------------------------

class PreluTest(Case):
    def run_case(self, x, dy, alpha, channel_axis=None):
        t = TOL[x.dtype.type]
        params = {} if channel_axis is None else {"channel_axis": channel_axis}
        weights = None if alpha is None else {"alpha": alpha}
        x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
        a = np.float64(0.25) if alpha is None else np.asarray(alpha, np.float64)
        if a.ndim == 1 and a.size > 1:
            axis = 1 if channel_axis is None else channel_axis
            view = [1] * x.ndim
            view[axis] = a.size
            a = a.reshape(view)
        else:
            a = a.reshape(())
        a = a.astype(x.dtype).astype(np.float64)  # the server sees alpha in x's dtype
        y = CLIENT.forward("prelu", x, weights=weights, params=params)
        ref = np.where(x64 > 0, x64, a * x64)
        self.assertClose(y, ref, t["fwd"] * np.abs(ref) + t["fwd_abs"], "prelu forward")
        dx, grads = CLIENT.backward("prelu", x, dy, weights=weights, params=params)
        ref = dy64 * np.where(x64 > 0, 1.0, a)
        self.assertClose(dx, ref, t["bwd"] * np.abs(ref) + t["bwd_abs"] * np.abs(dy64),
                         "prelu backward")
        terms = np.where(x64 <= 0, dy64 * x64, 0)
        if a.ndim == 0:
            want = terms.sum()
            scale = np.abs(terms).sum()
        else:
            other = tuple(i for i in range(x.ndim) if a.shape[i] == 1)
            want = terms.sum(axis=other)
            scale = np.abs(terms).sum(axis=other)
        self.assertEqual(set(grads), {"alpha"})
        self.assertClose(grads["alpha"].reshape(np.shape(want)), want,
                         t["sums"] * scale + 1e-300, "prelu dalpha")

    def test_default_scalar_and_per_channel(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype.__name__):
                x = sample((2, 3, 4, 5), dtype, 11)
                dy = sample((2, 3, 4, 5), dtype, 12, 1.0)
                self.run_case(x, dy, None)
                self.run_case(x, dy, np.array(0.2))
                self.run_case(x, dy, np.array([0.1, 0.2, 0.3]))  # channel_axis 1 default
                self.run_case(x, dy, np.array([0.1, -0.2, 0.3, 0.4, 0.5]), channel_axis=3)
                self.run_case(x, dy, np.array([0.5, 0.6, 0.7, 0.8]), channel_axis=-2)
                self.run_case(x[0, 0, 0], dy[0, 0, 0], np.array([0.1, 0.2, 0.3, 0.4, 0.5]),
                              channel_axis=0)

    def test_wrong_alpha_length(self):
        with self.assertRaises(actclient.ActdError) as e:
            CLIENT.forward("prelu", np.ones((2, 3, 4)), weights={"alpha": np.ones(4)})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("alpha", e.exception.details)


# ---- Maxout -------------------------------------------------------------------

def maxout_groups(z, k, axis):
    """Returns (y, onehot of the first argmax) for groups of k along axis."""
    zm = np.moveaxis(z, axis, -1)
    g = zm.reshape(zm.shape[:-1] + (zm.shape[-1] // k, k))
    arg = np.argmax(g, axis=-1)
    y = np.take_along_axis(g, arg[..., None], -1)[..., 0]
    onehot = np.zeros_like(g)
    np.put_along_axis(onehot, arg[..., None], 1.0, -1)
    return np.moveaxis(y, -1, axis), onehot, zm.shape


class MaxoutTest(Case):
    def test_group_form(self):
        cases = [((12,), 3, -1), ((4, 6), 2, -1), ((2, 6, 4), 3, 1), ((2, 3, 4, 8), 4, 3),
                 ((6, 2, 3, 2), 2, 0)]
        for dtype in DTYPES:
            for i, (shape, k, axis) in enumerate(cases):
                with self.subTest(dtype=dtype.__name__, shape=shape, k=k, axis=axis):
                    x = sample(shape, dtype, 20 + i)
                    y = CLIENT.forward("maxout", x, params={"pieces": k, "axis": axis})
                    ref, onehot, zshape = maxout_groups(x.astype(np.float64), k, axis)
                    np.testing.assert_array_equal(y, ref.astype(dtype))  # a max is exact
                    dy = sample(ref.shape, dtype, 40 + i, 1.0)
                    dx, grads = CLIENT.backward("maxout", x, dy, params={"pieces": k, "axis": axis})
                    dym = np.moveaxis(dy.astype(np.float64), axis, -1)[..., None]
                    want = np.moveaxis((onehot * dym).reshape(zshape), -1, axis)
                    np.testing.assert_array_equal(dx, want.astype(dtype))
                    self.assertEqual(grads, {})

    def test_default_pieces_is_two(self):
        x = np.array([[1.0, 3.0, -2.0, -5.0]])
        np.testing.assert_array_equal(CLIENT.forward("maxout", x), [[3.0, -2.0]])

    def test_first_argmax_gets_the_gradient(self):
        dx, _ = CLIENT.backward("maxout", np.array([2.0, 2.0, 1.0, 1.0]),
                                dy=np.array([5.0, 7.0]))
        np.testing.assert_array_equal(dx, [5.0, 0.0, 7.0, 0.0])

    def test_affine_form(self):
        for dtype in DTYPES:
            for shape, units, k, bias in (((5, 4), 3, 2, True), ((2, 3, 6), 2, 3, True),
                                          ((7,), 4, 2, False)):
                with self.subTest(dtype=dtype.__name__, shape=shape, k=k, bias=bias):
                    self.check_affine(dtype, shape, units, k, bias)

    def check_affine(self, dtype, shape, units, k, bias):
        t = TOL[dtype]
        n_in = shape[-1]
        x = sample(shape, dtype, 50)
        w = sample((units * k, n_in), dtype, 51, 1.0)
        b = sample((units * k,), dtype, 52, 1.0) if bias else np.zeros(units * k, dtype)
        weights = {"weight": w, "bias": b} if bias else {"weight": w}
        x64, w64, b64 = (a.astype(np.float64) for a in (x, w, b))
        z = x64 @ w64.T + b64
        zmag = np.abs(x64) @ np.abs(w64).T + np.abs(b64)
        ref, onehot, _ = maxout_groups(z, k, -1)
        magref, _, _ = maxout_groups(zmag, k, -1)  # not used for argmax, only a scale
        y = CLIENT.forward("maxout", x, weights=weights, params={"pieces": k})
        self.assertEqual(y.shape, shape[:-1] + (units,))
        # The selected entry's |terms| bound the scale; use the group's largest.
        self.assertClose(y, ref, t["fwd"] * magref + t["fwd_abs"], "maxout affine forward")
        dy = sample(ref.shape, dtype, 53, 1.0)
        dx, grads = CLIENT.backward("maxout", x, dy, weights=weights, params={"pieces": k})
        dz = (onehot * dy.astype(np.float64)[..., None]).reshape(z.shape)
        rows_dz, rows_x = dz.reshape(-1, units * k), x64.reshape(-1, n_in)
        self.assertClose(dx, dz @ w64, t["sums"] * (np.abs(dz) @ np.abs(w64)) + 1e-300,
                         "maxout dx")
        self.assertIn("weight", grads)
        self.assertClose(grads["weight"], rows_dz.T @ rows_x,
                         t["sums"] * (np.abs(rows_dz).T @ np.abs(rows_x)) + 1e-300,
                         "maxout dW")
        if bias or "bias" in grads:
            self.assertClose(grads["bias"], rows_dz.sum(0),
                             t["sums"] * np.abs(rows_dz).sum(0) + 1e-300, "maxout db")

    def test_not_divisible(self):
        with self.assertRaises(actclient.ActdError) as e:
            CLIENT.forward("maxout", np.ones((2, 5)), params={"pieces": 2})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)

    def test_weight_shape_mismatch(self):
        with self.assertRaises(actclient.ActdError) as e:
            CLIENT.forward("maxout", np.ones((2, 5)), weights={"weight": np.ones((4, 3))})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("weight", e.exception.details)


# ---- Dice ---------------------------------------------------------------------

def dice_ref(x, dy, alpha, axis, eps, mean=None, var=None):
    """Returns (y, dx, dalpha, mean, var, dalpha_scale, dx_scale, y_scale) in float64;
    the scales are the magnitudes each result's rounding errors are relative to."""
    axis = axis % x.ndim
    other = tuple(i for i in range(x.ndim) if i != axis)
    view = [1] * x.ndim
    view[axis] = x.shape[axis]
    training = mean is None
    if training:
        mean = x.mean(axis=other)
        var = ((x - mean.reshape(view)) ** 2).mean(axis=other)
    mu, r, a = mean.reshape(view), np.sqrt(var + eps).reshape(view), alpha.reshape(view)
    z = (x - mu) / r
    p = sig(z)
    y = x * (a + (1 - a) * p)
    g = dy * x * (1 - a) * p * sig(-z)
    local = dy * (a + (1 - a) * p)
    if training:
        mg = g.mean(axis=other, keepdims=True)
        mgz = (g * z).mean(axis=other, keepdims=True)
        dx = local + (g - mg - z * mgz) / r
        scale = np.abs(local) + (np.abs(g) + np.abs(mg) + np.abs(z * mgz)) / r
    else:
        dx = local + g / r
        scale = np.abs(local) + np.abs(g / r)
    terms = dy * x * sig(-z)
    # y's error: from p directly and through z = (x - μ)/r, where μ (a mean in
    # training) carries an error relative to mean |x|.
    mu_mag = np.abs(x).mean(axis=other, keepdims=True) if training else np.abs(mu)
    y_scale = np.abs(x) * (np.abs(a) + np.abs(1 - a) * p * (
        1 + sig(-z) * (1 + np.abs(z) + (np.abs(x) + mu_mag) / r)))
    return (y, dx, terms.sum(axis=other), mean, var, np.abs(terms).sum(axis=other), scale,
            y_scale)


class DiceTest(Case):
    def test_training(self):
        for dtype in DTYPES:
            for shape, axis in (((8, 3), -1), ((4, 5, 6), 1), ((2, 3, 4, 5), 3), ((16,), 0)):
                with self.subTest(dtype=dtype.__name__, shape=shape, axis=axis):
                    t = TOL[dtype]
                    x = sample(shape, dtype, 60)
                    dy = sample(shape, dtype, 61, 1.0)
                    c = shape[axis]
                    alpha = np.linspace(-0.3, 0.6, c).astype(dtype)
                    w = {"alpha": alpha}
                    y, extras = CLIENT.forward_with_extras("dice", x, weights=w,
                                                           params={"axis": axis})
                    ry, rdx, rda, rm, rv, das, dxs, ys = dice_ref(
                        x.astype(np.float64), dy.astype(np.float64),
                        alpha.astype(np.float64), axis, 1e-8)
                    # Batch statistics are sums: bounded relative to their magnitudes.
                    self.assertEqual(set(extras), {"batch_mean", "batch_var"})
                    xa = np.abs(x.astype(np.float64))
                    other = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
                    self.assertClose(extras["batch_mean"], rm,
                                     t["sums"] * xa.mean(axis=other), "batch_mean")
                    self.assertClose(extras["batch_var"], rv, t["sums"] * rv + 1e-300,
                                     "batch_var")
                    self.assertClose(y, ry, t["fwd"] * ys + t["fwd_abs"], "dice forward")
                    dx, grads = CLIENT.backward("dice", x, dy, weights=w, params={"axis": axis})
                    self.assertClose(dx, rdx, t["sums"] * dxs + 1e-300, "dice dx")
                    self.assertEqual(set(grads), {"alpha"})
                    self.assertClose(grads["alpha"], rda, t["sums"] * das + 1e-300,
                                     "dice dalpha")

    def test_inference(self):
        for dtype in DTYPES:
            with self.subTest(dtype=dtype.__name__):
                t = TOL[dtype]
                shape = (2, 4, 3, 5)
                x = sample(shape, dtype, 70)
                dy = sample(shape, dtype, 71, 1.0)
                w = {"alpha": np.array([0.1, 0.0, -0.2, 0.3, 0.5], dtype),
                     "running_mean": np.array([0.5, -1.0, 0.0, 2.0, 0.1], dtype),
                     "running_var": np.array([1.0, 4.0, 0.5, 9.0, 2.0], dtype)}
                w64 = {k: v.astype(np.float64) for k, v in w.items()}
                ry, rdx, rda, _, _, das, dxs, ys = dice_ref(
                    x.astype(np.float64), dy.astype(np.float64), w64["alpha"], -1, 1e-3,
                    w64["running_mean"], w64["running_var"])
                y, extras = CLIENT.forward_with_extras(
                    "dice", x, weights=w, params={"training": False, "epsilon": 1e-3})
                self.assertEqual(extras, {})
                self.assertClose(y, ry, t["fwd"] * ys + t["fwd_abs"],
                                 "dice inference forward")
                dx, grads = CLIENT.backward("dice", x, dy, weights=w,
                                            params={"training": False, "epsilon": 1e-3})
                self.assertClose(dx, rdx, t["bwd"] * dxs + 1e-300, "dice inference dx")
                self.assertClose(grads["alpha"], rda, t["sums"] * das + 1e-300,
                                 "dice inference dalpha")

    def test_inference_needs_running_stats(self):
        with self.assertRaises(actclient.ActdError) as e:
            CLIENT.forward("dice", np.ones((3, 2)), params={"training": False})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)


# ---- API surface and errors -------------------------------------------------------

class ApiTest(Case):
    def test_every_listed_activation_has_a_reference(self):
        self.assertTrue(SERVED, "ListActivations returned no activations")
        missing = [n for n in SERVED if n not in REFERENCE]
        if missing:
            self.fail("no reference entry for %s in REFERENCE (tests/clients/"
                      "test_python_client.py): add one" % ", ".join(missing))
        for name in SERVED:
            ref = REFERENCE[name]
            if ref.kind == "special":
                self.assertIn(ref.test, globals(), "%s: no test class %s" % (name, ref.test))
            else:
                self.assertTrue(ref.cases, name)

    def test_server_info(self):
        info = CLIENT.server_info()
        self.assertTrue(info.version)
        self.assertTrue(info.isa)
        self.assertGreater(info.max_elements, 0)
        self.assertGreater(info.max_batch_items, 0)

    def test_wire_format_is_little_endian_row_major(self):
        pb = actclient.pb
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        req = pb.ForwardRequest(
            activation=pb.ActivationSpec(name="identity"),
            input=pb.Tensor(dtype=pb.DATA_TYPE_FLOAT32, shape=[2, 3],
                            raw_data=x.astype("<f4").tobytes()))
        resp = CLIENT._stub.Forward(req, timeout=10)
        self.assertEqual(list(resp.output.shape), [2, 3])
        self.assertEqual(resp.output.raw_data, x.astype("<f4").tobytes())
        y = CLIENT.forward("identity", x.astype(">f4"))  # big-endian input is converted
        np.testing.assert_array_equal(y, x)
        self.assertEqual(y.dtype, np.float32)

    def test_python_numbers_become_float64(self):
        y = CLIENT.forward("relu", [[-1, 2], [3, -4.5]])
        self.assertEqual(y.dtype, np.float64)
        np.testing.assert_array_equal(y, [[0, 2], [3, 0]])
        self.assertEqual(float(CLIENT.forward("relu", 3)), 3.0)

    def test_what_is_not_a_real_floating_tensor_is_a_type_error(self):
        cases = [(None, "x is None"), (np.array([1 + 2j]), "complex128"), (1 + 2j, "complex"),
                 (np.array([1, 2]), "int64"), (np.array([True]), "bool"),
                 ([object()], "object"), ("abc", "<U3"), ([[1.0], [2.0, 3.0]], "cannot be read"),
                 (np.ones(2, np.uint16), "dtype='bfloat16'"),
                 (np.ones(2, np.longdouble), "float128")]
        for x, says in cases:
            with self.subTest(x=repr(x)):
                with self.assertRaises(TypeError) as e:
                    CLIENT.forward("relu", x)
                self.assertIn(says, str(e.exception))
                if "uint16" not in repr(x):
                    self.assertIn("expected a real floating tensor", str(e.exception))
        with self.assertRaises(TypeError) as e:
            CLIENT.backward("relu", np.ones(2), np.array([1j, 2j]))
        self.assertIn("dy has dtype complex128", str(e.exception))
        with self.assertRaises(TypeError) as e:
            CLIENT.forward("prelu", np.ones(2), weights={"alpha": None})
        self.assertIn("weights['alpha'] is None", str(e.exception))
        with self.assertRaises(ValueError) as e:
            CLIENT.forward("relu", np.ones(2), dtype="int8")
        self.assertIn("'int8'", str(e.exception))

    def test_parameters_go_in_params_and_never_collide_with_call_options(self):
        with self.assertRaises(TypeError) as e:
            CLIENT.forward("elu", np.ones(2), alpha=0.5)
        self.assertIn("params={'alpha': 0.5}", str(e.exception))
        with self.assertRaises(TypeError) as e:
            actclient.Forward("elu", np.ones(2), alpha=0.5)
        self.assertIn("params={'alpha': 0.5}", str(e.exception))
        with self.assertRaises(TypeError) as e:
            CLIENT.forward("elu", np.ones(2), params=[("alpha", 0.5)])
        self.assertIn("params must be a dict", str(e.exception))
        with self.assertRaises(TypeError) as e:
            CLIENT.forward("elu", np.ones(2), params={"alpha": [0.5]})
        self.assertIn("params['alpha']", str(e.exception))
        # `timeout` is the call's deadline, not a parameter...
        np.testing.assert_array_equal(CLIENT.forward("relu", [-1.0, 2.0], timeout=1), [0, 2])
        # ...and a parameter named timeout reaches the server, which names it.
        with self.assertRaises(actclient.ActdError) as e:
            CLIENT.forward("relu", [1.0], params={"timeout": 1})
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("timeout", e.exception.details)
        y = CLIENT.forward("elu", np.array([-1.0]), params={"alpha": 0.5})
        np.testing.assert_allclose(y, [0.5 * math.expm1(-1)], rtol=1e-15)

    def test_per_call_timeout_is_a_deadline(self):
        # A listener that never speaks HTTP/2: the call can only end by its deadline.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            with actclient.Client("127.0.0.1:%d" % silent.getsockname()[1]) as c:
                for kwargs in ({"timeout": 0.3}, {}):
                    if not kwargs:  # the client-wide default instead of the call's
                        c._timeout = 0.3
                    start = time.monotonic()
                    with self.assertRaises(actclient.ActdError) as e:
                        c.forward("relu", np.ones(4), **kwargs)
                    self.assertEqual(e.exception.code, grpc.StatusCode.DEADLINE_EXCEEDED)
                    self.assertLess(time.monotonic() - start, 5)

    def test_empty_and_scalar(self):
        y = CLIENT.forward("tanh", np.zeros((0, 3), np.float32))
        self.assertEqual(y.shape, (0, 3))
        self.assertEqual(y.dtype, np.float32)
        y = CLIENT.forward("relu", np.float64(-2.5))
        self.assertEqual(y.shape, ())
        self.assertEqual(float(y), 0.0)

    def test_unknown_activation(self):
        with self.assertRaises(actclient.ActdError) as e:
            CLIENT.forward("softmax", np.ones(3))
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("softmax", e.exception.details)

    def test_out_of_range_params(self):
        for name, params in (("leaky_relu", {"alpha": 2.0}), ("elu", {"alpha": -1.0}),
                             ("gelu", {"approximate": "cubic"}), ("maxout", {"pieces": 0}),
                             ("swish", {"beta": 1e9})):
            with self.subTest(name=name):
                with self.assertRaises(actclient.ActdError) as e:
                    CLIENT.forward(name, np.ones(4), params=params)
                self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn(list(params)[0], e.exception.details)

    def test_grad_output_shape_mismatch(self):
        with self.assertRaises(actclient.ActdError) as e:
            CLIENT.backward("sigmoid", np.ones((2, 3)), np.ones((3, 2)))
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("grad_output", e.exception.details)

    def test_raw_data_length_mismatch(self):
        pb = actclient.pb
        req = pb.ForwardRequest(
            activation=pb.ActivationSpec(name="relu"),
            input=pb.Tensor(dtype=pb.DATA_TYPE_FLOAT64, shape=[3], raw_data=b"\0" * 16))
        with self.assertRaises(grpc.RpcError) as e:
            CLIENT._stub.Forward(req, timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_batch(self):
        F, B = actclient.Forward, actclient.Backward
        x = np.linspace(-2, 2, 5)
        out = CLIENT.batch([F("relu", x), B("sigmoid", x, 2 * np.ones(5)),
                            F("nope", x), F("elu", x, params={"alpha": -3}),
                            B("swish", x.astype(np.float32), params={"beta": 2.0})],
                           timeout=10)
        self.assertEqual(len(out), 5)
        np.testing.assert_array_equal(out[0], np.maximum(x, 0))
        np.testing.assert_allclose(out[1][0], 2 * sig(x) * sig(-x), rtol=1e-12)
        self.assertIsInstance(out[2], actclient.ActdError)
        self.assertEqual(out[2].code, grpc.StatusCode.NOT_FOUND)
        self.assertIsInstance(out[3], actclient.ActdError)
        self.assertEqual(out[3].code, grpc.StatusCode.INVALID_ARGUMENT)
        dx, grads = out[4]
        self.assertEqual(dx.dtype, np.float32)
        np.testing.assert_allclose(dx, dswish(2.0)(x), rtol=1e-5, atol=2e-7)
        terms = x * x * sig(2 * x) * sig(-2 * x)
        np.testing.assert_allclose(grads["beta"], terms.sum(), rtol=1e-5)
        with self.assertRaises(TypeError) as e:
            CLIENT.batch([("relu", x)])
        self.assertIn("batch item 0 is tuple", str(e.exception))

    def test_default_service_config_is_the_repository_one(self):
        import json
        with open(os.path.join(REPO, "client", "service_config.json")) as f:
            want = json.load(f)
        got = json.loads(actclient.default_service_config())
        self.assertEqual(got, want)
        self.assertEqual(got["loadBalancingConfig"], [{"round_robin": {}}])
        policy = got["methodConfig"][0]["retryPolicy"]
        self.assertEqual(policy["retryableStatusCodes"], ["UNAVAILABLE"])

    def test_round_robin_spreads_calls_over_every_address(self):
        other = actd_harness.ActdServer()
        try:
            servers = (SERVER, other)
            target = "ipv4:127.0.0.1:%d,127.0.0.1:%d" % (SERVER.port, other.port)
            with actclient.Client(target, timeout=10) as c:
                # Until both subchannels are connected, calls go to the ready one.
                start = [requests_served(s) for s in servers]
                for _ in range(200):
                    c.forward("relu", np.ones(3))
                    if all(requests_served(s) > n for s, n in zip(servers, start)):
                        break
                time.sleep(0.1)  # let the last warm-up call's count land
                before = [requests_served(s) for s in servers]
                for _ in range(20):
                    c.forward("relu", np.ones(3))
                self.assertEqual(calls_since(servers, before, 20), [10, 10])
            # Without the service config gRPC picks the first address only.
            with actclient.Client(target, timeout=10, service_config=None) as c:
                before = [requests_served(s) for s in servers]
                for _ in range(20):
                    c.forward("relu", np.ones(3))
                self.assertEqual(sorted(calls_since(servers, before, 20)), [0, 20])
        finally:
            other.stop()


def requests_served(server):
    """Forward calls the server has answered, from its metrics."""
    return sum(v for n, labels, v in server.metrics()
               if n == "actd_requests_total" and labels.get("method") == "Forward")


def calls_since(servers, before, total):
    """Per-server Forward calls since `before`, once they add up to `total` (a call's
    count may land a moment after its reply) or after 5 s."""
    end = time.monotonic() + 5
    while True:
        calls = [requests_served(s) - b for s, b in zip(servers, before)]
        if sum(calls) >= total or time.monotonic() > end:
            return calls
        time.sleep(0.02)


class TokenTest(Case):
    def test_bearer_token_and_per_call_metadata(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "token")
            with open(path, "w") as f:
                f.write("s3cret-token\n")
            server = actd_harness.ActdServer("--auth_token_file", path)
            try:
                target = "127.0.0.1:%d" % server.port
                with actclient.Client(target, timeout=10, token="s3cret-token") as c:
                    np.testing.assert_array_equal(c.forward("relu", [-1.0, 2.0]), [0, 2])
                for token in (None, "wrong"):
                    with actclient.Client(target, timeout=10, token=token) as other:
                        with self.assertRaises(actclient.ActdError) as e:
                            other.forward("relu", [1.0])
                        self.assertEqual(e.exception.code, grpc.StatusCode.UNAUTHENTICATED)
                # Per-call metadata reaches the server: here, the credentials.
                with actclient.Client(target, timeout=10) as c:
                    y = c.forward("relu", [-1.0, 2.0],
                                  metadata=[("authorization", "Bearer s3cret-token")])
                    np.testing.assert_array_equal(y, [0, 2])
            finally:
                server.stop()


# ---- bfloat16 / float16 conversions in the client (no server involved) ---------------

def bf16_values(bits):
    return (np.asarray(bits, np.uint32) << 16).view(np.float32).astype(np.float64)


class ConversionTest(Case):
    def test_bfloat16_rounds_to_nearest_even_at_every_midpoint(self):
        # Every pair of adjacent finite bfloat16 values (both signs): the midpoint goes to
        # the even neighbour, one float32 ulp either side of it to the nearer one.
        lo = np.arange(0, 0x7F7F, dtype=np.uint32)
        for sign in (0, 0x8000):
            a, b = bf16_values(lo | sign), bf16_values((lo + 1) | sign)
            mid = ((a + b) / 2).astype(np.float32)  # exact: 9 significant bits
            self.assertTrue(np.all(mid.astype(np.float64) == (a + b) / 2))
            even = np.where(lo % 2 == 0, lo, lo + 1) | sign
            np.testing.assert_array_equal(actclient.to_bfloat16_bits(mid), even)
            toward_a = np.nextafter(mid, a.astype(np.float32))
            toward_b = np.nextafter(mid, b.astype(np.float32))
            np.testing.assert_array_equal(actclient.to_bfloat16_bits(toward_a), lo | sign)
            np.testing.assert_array_equal(actclient.to_bfloat16_bits(toward_b),
                                          (lo + 1) | sign)

    def test_bfloat16_round_trips_and_special_values(self):
        bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
        values = actclient.bfloat16_bits_to_float32(bits)
        self.assertEqual(values.dtype, np.float32)
        back = actclient.to_bfloat16_bits(values)
        nan = np.isnan(values)
        np.testing.assert_array_equal(back[~nan], bits[~nan])
        self.assertTrue(np.all(np.isnan(actclient.bfloat16_bits_to_float32(back[nan]))))
        self.assertTrue(np.all(back[nan] & 0x0040))  # quiet
        big = np.array([3.4e38, -3.4e38, np.inf, 3.3e38], np.float32)
        np.testing.assert_array_equal(actclient.to_bfloat16_bits(big),
                                      [0x7F80, 0xFF80, 0x7F80, 0x7F78])

    def test_bfloat16_from_float64_rounds_once(self):
        # 1 + 2^-8 + 2^-30: float32 would round it to the tie 1 + 2^-8 and then to 1.0;
        # correctly rounded it is 1 + 2^-7.
        x = np.array([1 + 2.0 ** -8 + 2.0 ** -30, -(1 + 2.0 ** -8 + 2.0 ** -30),
                      1 + 2.0 ** -8], np.float64)
        np.testing.assert_array_equal(actclient.to_bfloat16_bits(x), [0x3F81, 0xBF81, 0x3F80])

    def test_typed_16_bit_tensors_decode_rounded(self):
        from actclient.tensor import from_proto
        pb = actclient.pb
        t = pb.Tensor(dtype=pb.DATA_TYPE_FLOAT16, shape=[3], float_data=[1.0, 1 / 3, 70000])
        y = from_proto(pb, t)
        self.assertEqual(y.dtype, np.float16)
        np.testing.assert_array_equal(y, np.array([1.0, 1 / 3, np.inf], np.float16))
        t = pb.Tensor(dtype=pb.DATA_TYPE_BFLOAT16, shape=[2], float_data=[1.0, 1 / 3])
        y = from_proto(pb, t)
        self.assertEqual(y.dtype, np.uint16)
        np.testing.assert_array_equal(y, [0x3F80, 0x3EAB])

    def test_16_bit_requests_carry_two_bytes_per_element(self):
        from actclient.tensor import encode_input, to_proto
        pb = actclient.pb
        for x, dtype, enum in ((np.ones(5, np.float16), None, pb.DATA_TYPE_FLOAT16),
                               (np.ones(5, np.uint16), "bfloat16", pb.DATA_TYPE_BFLOAT16),
                               (np.ones(5, np.float32), "bfloat16", pb.DATA_TYPE_BFLOAT16)):
            enc = encode_input(x, dtype)
            t = to_proto(pb, enc.array, enc.wire)
            self.assertEqual(t.dtype, enum)
            self.assertEqual(len(t.raw_data), 10)


# ---- bfloat16 / float16 end to end (needs a server with 16-bit kernels) ------------

HALF_FUNCS = ("identity", "relu", "sigmoid", "gelu", "elu", "tanh")


def ulps(dtype):
    """(round float64 to the type, as float64; one ulp of each rounded value)."""
    if dtype == "float16":
        def rnd(v):
            return v.astype(np.float16).astype(np.float64)

        def ulp(r):
            return np.spacing(np.abs(r).astype(np.float16)).astype(np.float64)
    else:
        def rnd(v):
            return bf16_values(actclient.to_bfloat16_bits(v))

        def ulp(r):
            return np.spacing(np.abs(r).astype(np.float32)).astype(np.float64) * 65536
    return rnd, ulp


class HalfTest(Case):
    def assertWithinUlp(self, got, ref64, dtype, exact, what):
        """got (float64 values of 16-bit results) within one ulp of the type of ref64;
        equal to the rounded reference where `exact`."""
        rnd, ulp = ulps(dtype)
        want = rnd(ref64)
        tol = 0 if exact else ulp(want)
        self.assertClose(got, want, tol, what)

    def values(self, dtype):
        x = np.concatenate([np.linspace(-6, 6, 49), [0.0, -0.0, 1e-3, -30.0, 30.0]])
        rnd, _ = ulps(dtype)
        return rnd(x)  # float64 values representable in the type

    def run_all(self, dtype, encode, decode):
        x64 = self.values(dtype)
        dy64 = self.values(dtype)[::-1].copy() / 4
        for name in HALF_FUNCS:
            _, params, f, df = REFERENCE[name].cases[0]
            with self.subTest(name=name, dtype=dtype):
                exact = name in ("identity", "relu")
                y = CLIENT.forward(name, encode(x64), params=params)
                self.assertWithinUlp(decode(y), f(x64), dtype, exact, name + " forward")
                dx, grads = CLIENT.backward(name, encode(x64), encode(dy64), params=params)
                self.assertWithinUlp(decode(dx), dy64 * df(x64), dtype, exact,
                                     name + " backward")
                for k, g in grads.items():  # parameter gradients come back as float32
                    self.assertEqual(g.dtype, np.float32, "%s d%s" % (name, k))

    def test_numpy_float16_in_float16_out(self):
        def decode(y):
            self.assertEqual(y.dtype, np.float16)
            return y.astype(np.float64)
        self.run_all("float16", lambda v: v.astype(np.float16), decode)

    def test_uint16_bfloat16_bits_in_bits_out(self):
        def decode(y):
            self.assertEqual(y.dtype, np.uint16)
            return bf16_values(y)
        for name in ("relu", "sigmoid"):
            _, params, f, _ = REFERENCE[name].cases[0]
            x64 = self.values("bfloat16")
            y = CLIENT.forward(name, actclient.to_bfloat16_bits(x64), dtype="bfloat16",
                               params=params)
            self.assertWithinUlp(decode(y), f(x64), "bfloat16", name == "relu", name)

    def test_uint16_float16_bits_in_bits_out(self):
        x = self.values("float16").astype(np.float16)
        y = CLIENT.forward("sigmoid", x.view(np.uint16), dtype="float16")
        self.assertEqual(y.dtype, np.uint16)
        self.assertWithinUlp(y.view(np.float16).astype(np.float64), sig(x.astype(np.float64)),
                             "float16", False, "sigmoid float16 bits")

    def test_float32_sent_as_bfloat16_comes_back_float32(self):
        x64 = self.values("bfloat16")
        y = CLIENT.forward("tanh", x64.astype(np.float32), dtype="bfloat16")
        self.assertEqual(y.dtype, np.float32)
        self.assertWithinUlp(y.astype(np.float64), np.tanh(x64), "bfloat16", False, "tanh")

    def test_torch_bfloat16_and_float16_keep_their_dtype(self):
        import torch
        for tdtype, dtype in ((torch.bfloat16, "bfloat16"), (torch.float16, "float16")):
            with self.subTest(dtype=dtype):
                x64 = self.values(dtype)
                x = torch.tensor(x64, dtype=tdtype)
                y = CLIENT.forward("gelu", x)
                self.assertIsInstance(y, torch.Tensor)
                self.assertEqual(y.dtype, tdtype)
                self.assertWithinUlp(y.double().numpy(), gelu_none(x64), dtype, False, "gelu")
                dx, _ = CLIENT.backward("swish", x, torch.ones_like(x))
                self.assertEqual(dx.dtype, tdtype)
                self.assertWithinUlp(dx.double().numpy(), dswish(1.0)(x64), dtype, False,
                                     "swish backward")

    def test_batch_of_16_bit_items(self):
        x64 = self.values("bfloat16")
        bits = actclient.to_bfloat16_bits(x64)
        out = CLIENT.batch([actclient.Forward("relu", bits, dtype="bfloat16"),
                            actclient.Backward("relu", x64.astype(np.float16))])
        self.assertEqual(out[0].dtype, np.uint16)
        np.testing.assert_array_equal(bf16_values(out[0]), np.maximum(x64, 0))  # values: ±0 alike
        self.assertEqual(out[1][0].dtype, np.float16)
        np.testing.assert_array_equal(out[1][0], (x64 > 0).astype(np.float16))


# ---- torch tensors in float32/float64 (no 16-bit kernels needed) ---------------------

class TorchTest(Case):
    def test_torch_tensors_keep_their_type(self):
        import torch
        for tdtype in (torch.float32, torch.float64):
            x = torch.linspace(-2, 2, 9, dtype=tdtype).reshape(3, 3)
            y = CLIENT.forward("relu", x)
            self.assertIsInstance(y, torch.Tensor)
            self.assertEqual(y.dtype, tdtype)
            self.assertTrue(torch.equal(y, torch.relu(x)))
            dx, _ = CLIENT.backward("relu", x, torch.full_like(x, 2.0))
            self.assertTrue(torch.equal(dx, 2.0 * (x > 0).to(tdtype)))
        with self.assertRaises(TypeError) as e:
            CLIENT.forward("relu", torch.ones(3, dtype=torch.int32))
        self.assertIn("torch.int32", str(e.exception))

    def test_torch_is_imported_only_for_torch_tensors(self):
        code = ("import sys, numpy as np, actclient\n"
                "c = actclient.Client(sys.argv[1], timeout=10)\n"
                "c.forward('relu', np.ones(3, np.float32))\n"
                "print('torch' in sys.modules)\n")
        out = subprocess.run([sys.executable, "-c", code, "127.0.0.1:%d" % SERVER.port],
                             capture_output=True, text=True, timeout=60, cwd=INSTALL_DIR,
                             env=dict(os.environ, PYTHONPATH=os.path.join(INSTALL_DIR, "site")))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "False")


# ---- the package, installed ------------------------------------------------------

class PackageTest(Case):
    def test_installed_package_carries_its_protocol_files(self):
        root = os.path.dirname(actclient.__file__)
        for packaged, source in (
                ("proto/activation/v1/activation.proto", "proto/activation/v1/activation.proto"),
                ("service_config.json", "client/service_config.json")):
            path = os.path.join(root, packaged)
            self.assertFalse(os.path.islink(path), path)
            with open(path, "rb") as a, open(os.path.join(REPO, source), "rb") as b:
                self.assertEqual(a.read(), b.read(), packaged)

    def test_pip_install_into_a_venv_and_import_from_outside(self):
        with tempfile.TemporaryDirectory() as tmp:
            venv = os.path.join(tmp, "venv")
            subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                            "--without-pip", venv], check=True, timeout=120)
            python = os.path.join(venv, "bin", "python")
            result = subprocess.run(
                [sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
                 "--no-index", "--no-cache-dir", PACKAGE_SRC],
                capture_output=True, text=True, timeout=120, cwd=tmp)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            code = ("import actclient, sys\n"
                    "c = actclient.Client(sys.argv[1], timeout=10)\n"
                    "print(actclient.__file__)\n"
                    "print(c.forward('relu', [-1.0, 2.0]).tolist())\n")
            out = subprocess.run([python, "-c", code, "127.0.0.1:%d" % SERVER.port],
                                 capture_output=True, text=True, timeout=60, cwd=tmp)
            self.assertEqual(out.returncode, 0, out.stderr)
            path, values = out.stdout.splitlines()
            self.assertTrue(path.startswith(venv), path)
            self.assertEqual(values, "[0.0, 2.0]")

    def test_example_runs(self):
        example = os.path.join(PACKAGE_SRC, "examples", "example.py")
        out = subprocess.run([sys.executable, example, "127.0.0.1:%d" % SERVER.port],
                             capture_output=True, text=True, timeout=60, cwd=INSTALL_DIR,
                             env=dict(os.environ, PYTHONPATH=os.path.join(INSTALL_DIR, "site")))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("elu(x, alpha=0.5)", out.stdout)
        self.assertIn("NOT_FOUND", out.stdout)


if __name__ == "__main__":
    install_client()
    try:
        actd_harness.main()
    finally:
        shutil.rmtree(INSTALL_DIR, ignore_errors=True)

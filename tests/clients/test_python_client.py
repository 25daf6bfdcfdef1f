# End-to-end tests of the Python client (client/python/actclient) against a real actd
# process: every activation forward and backward in both dtypes, compared with float64
# NumPy references, plus parameter gradients, batches and error codes.
# Usage: /usr/bin/python3 test_python_client.py path/to/actd
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import grpc
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "client", "python"))
import actclient  # noqa: E402
from actclient import ActdError, Backward, Client, Forward  # noqa: E402

ACTD = None
SERVER = None
CLIENT = None

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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(*flags, token=None):
    """Starts actd on a free port; returns (process, client) once ListActivations answers."""
    for _ in range(3):
        port = free_port()
        proc = subprocess.Popen(
            [ACTD, "--host", "127.0.0.1", "--port", str(port), "--metrics_port", "0", "--http_port", "0"]
            + list(flags), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        client = Client("127.0.0.1:%d" % port, timeout=10, token=token)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                client.list_activations()
                return proc, client
            except ActdError:
                time.sleep(0.1)
        client.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    raise RuntimeError("actd did not answer ListActivations: " +
                       proc.stderr.read().decode(errors="replace")[-2000:])


def setUpModule():
    global SERVER, CLIENT
    SERVER, CLIENT = start_server()


def stop_server(proc, client):
    client.close()
    proc.terminate()
    proc.stderr.close()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tearDownModule():
    stop_server(SERVER, CLIENT)


# ---- float64 references -----------------------------------------------------------

def sig(t):
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1 / (1 + e), e / (1 + e))


_erfc = np.vectorize(math.erfc, otypes=[np.float64])
K = math.sqrt(2 / math.pi)


def gelu_none(x, **_):
    return 0.5 * x * _erfc(-x / math.sqrt(2))


def dgelu_none(x, **_):
    return 0.5 * _erfc(-x / math.sqrt(2)) + x * np.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def gelu_tanh(x, **_):
    return x * sig(2 * K * (x + 0.044715 * x ** 3))


def dgelu_tanh(x, **_):
    s2 = 2 * K * (x + 0.044715 * x ** 3)
    return sig(s2) + x * sig(s2) * sig(-s2) * 2 * K * (1 + 0.134145 * x * x)


def swish(x, beta=1.0, **_):
    return x * sig(beta * x)


def dswish(x, beta=1.0, **_):
    return sig(beta * x) + beta * x * sig(beta * x) * sig(-beta * x)


def mish_t(x):
    return np.tanh(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))))


# name -> (params, f, f') with f and f' in float64.
ELEMENTWISE = {
    "identity": ({}, lambda x: x, lambda x: np.ones_like(x)),
    "sigmoid": ({}, sig, lambda x: sig(x) * sig(-x)),
    "tanh": ({}, np.tanh, lambda x: 4 * sig(2 * x) * sig(-2 * x)),
    "relu": ({}, lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(np.float64)),
    "elu": ({"alpha": 0.7}, lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
            lambda x: np.where(x > 0, 1.0, 0.7 * np.exp(x))),
    "selu": ({}, lambda x: SELU_L * np.where(x > 0, x, SELU_A * np.expm1(x)),
             lambda x: SELU_L * np.where(x > 0, 1.0, SELU_A * np.exp(x))),
    "leaky_relu": ({"alpha": 0.1}, lambda x: np.where(x > 0, x, 0.1 * x),
                   lambda x: np.where(x > 0, 1.0, 0.1)),
    "gelu": ({}, gelu_none, dgelu_none),
    "gelu/none": ({"approximate": "none"}, gelu_none, dgelu_none),
    "gelu/tanh": ({"approximate": "tanh"}, gelu_tanh, dgelu_tanh),
    "gelu/sigmoid": ({"approximate": "sigmoid"}, lambda x: swish(x, 1.702),
                     lambda x: dswish(x, 1.702)),
    "swish": ({"beta": 1.5}, lambda x: swish(x, 1.5), lambda x: dswish(x, 1.5)),
    "mish": ({}, lambda x: x * mish_t(x),
             lambda x: mish_t(x) + x * sig(x) * (1 - mish_t(x) ** 2)),
}


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


# ---- element-wise activations --------------------------------------------------

class ElementwiseTest(Case):
    def check(self, key, x, dy):
        params, f, df = ELEMENTWISE[key]
        name = key.split("/")[0]
        t = TOL[x.dtype.type]
        x64 = x.astype(np.float64)
        y = CLIENT.forward(name, x, **params)
        self.assertEqual(y.dtype, x.dtype)
        # Spec: rel · max(|f|, |x·f'|/8): the condition number's allowance in the tails.
        ref = f(x64)
        tol = t["fwd"] * np.maximum(np.abs(ref), np.abs(x64 * df(x64)) / 8) + t["fwd_abs"]
        self.assertClose(y, ref, tol, "%s forward %s %s" % (key, x.dtype, x.shape))

        dx, grads = CLIENT.backward(name, x, dy=dy, **params)
        self.assertEqual(dx.dtype, x.dtype)
        dy64 = np.ones_like(x64) if dy is None else dy.astype(np.float64)
        ref = dy64 * df(x64)
        tol = (t["bwd"] * np.maximum(np.abs(ref),
                                     np.abs(dy64 * x64 * second_derivative(df, x64)) / 8)
               + t["bwd_abs"] * np.abs(dy64))
        self.assertClose(dx, ref, tol, "%s backward %s %s" % (key, x.dtype, x.shape))
        return grads

    def test_all_shapes_and_dtypes(self):
        for key in ELEMENTWISE:
            for dtype in DTYPES:
                for i, shape in enumerate(SHAPES):
                    with self.subTest(key=key, dtype=dtype.__name__, shape=shape):
                        x = sample(shape, dtype, i)
                        dy = sample(shape, dtype, 100 + i, 1.0)
                        self.check(key, x, dy)

    def test_special_values(self):
        # Zeros, tiny, moderate and large inputs, exp over/underflow edges, GELU tails.
        v = [0.0, -0.0, 1e-30, -1e-30, 5e-5, -5e-5, 1.0, -1.0, 7.9, -7.9, 15.7, -9.0,
             20.0, -20.0, 22.18, 44.36, -5.75, -12.0, 88.72, -87.3, 1e6, -1e6]
        for key in ELEMENTWISE:
            for dtype in DTYPES:
                with self.subTest(key=key, dtype=dtype.__name__):
                    self.check(key, np.array(v, dtype=dtype), None)

    def test_default_grad_output_is_ones(self):
        x = sample((4, 6), np.float64, 7)
        dx, _ = CLIENT.backward("sigmoid", x)
        np.testing.assert_allclose(dx, sig(x) * sig(-x), rtol=1e-12)

    def test_backward_from_output(self):
        for name in ("sigmoid", "tanh", "elu", "relu", "swish", "identity"):
            params, f, df = ELEMENTWISE[name]
            x = np.linspace(-3, 3, 61)
            y = CLIENT.forward(name, x, **params)
            dx, _ = CLIENT.backward(name, x, y=y, **params)
            self.assertClose(dx, df(x), 1e-12 * np.abs(df(x)) + 1e-15, name + " from y")

    def test_nan_propagates(self):
        for name, (params, _, _) in ELEMENTWISE.items():
            name = name.split("/")[0]
            for dtype in DTYPES:
                with self.subTest(name=name, dtype=dtype.__name__):
                    x = np.array([np.nan, 1.0], dtype=dtype)
                    self.assertTrue(np.isnan(CLIENT.forward(name, x, **params)[0]))
                    self.assertTrue(np.isnan(CLIENT.backward(name, x, **params)[0][0]))

    def test_elu_alpha_gradient(self):
        for dtype in DTYPES:
            x, dy = sample((3, 4, 5), dtype, 1), sample((3, 4, 5), dtype, 2, 1.0)
            _, grads = CLIENT.backward("elu", x, dy=dy, alpha=0.7)
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
            _, grads = CLIENT.backward("swish", x, dy=dy, beta=1.5)
            self.assertEqual(set(grads), {"beta"})
            self.assertEqual(grads["beta"].shape, ())
            x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
            s = sig(1.5 * x64)
            terms = dy64 * x64 * x64 * s * sig(-1.5 * x64)
            self.assertClose(grads["beta"], terms.sum(),
                             TOL[dtype]["sums"] * np.abs(terms).sum(), "swish dbeta")

    def test_parameterless_have_no_grad_params(self):
        for name in ("sigmoid", "tanh", "relu", "selu", "leaky_relu", "gelu", "mish",
                     "identity"):
            _, grads = CLIENT.backward(name, np.linspace(-2, 2, 9))
            self.assertEqual(grads, {}, name)


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
        y = CLIENT.forward("prelu", x, weights=weights, **params)
        ref = np.where(x64 > 0, x64, a * x64)
        self.assertClose(y, ref, t["fwd"] * np.abs(ref) + t["fwd_abs"], "prelu forward")
        dx, grads = CLIENT.backward("prelu", x, dy=dy, weights=weights, **params)
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
        with self.assertRaises(ActdError) as e:
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
                    y = CLIENT.forward("maxout", x, pieces=k, axis=axis)
                    ref, onehot, zshape = maxout_groups(x.astype(np.float64), k, axis)
                    np.testing.assert_array_equal(y, ref.astype(dtype))  # a max is exact
                    dy = sample(ref.shape, dtype, 40 + i, 1.0)
                    dx, grads = CLIENT.backward("maxout", x, dy=dy, pieces=k, axis=axis)
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
        y = CLIENT.forward("maxout", x, weights=weights, pieces=k)
        self.assertEqual(y.shape, shape[:-1] + (units,))
        # The selected entry's |terms| bound the scale; use the group's largest.
        self.assertClose(y, ref, t["fwd"] * magref + t["fwd_abs"], "maxout affine forward")
        dy = sample(ref.shape, dtype, 53, 1.0)
        dx, grads = CLIENT.backward("maxout", x, dy=dy, weights=weights, pieces=k)
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
        with self.assertRaises(ActdError) as e:
            CLIENT.forward("maxout", np.ones((2, 5)), pieces=2)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)

    def test_weight_shape_mismatch(self):
        with self.assertRaises(ActdError) as e:
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
                    y, extras = CLIENT.forward_with_extras("dice", x, weights=w, axis=axis)
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
                    dx, grads = CLIENT.backward("dice", x, dy=dy, weights=w, axis=axis)
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
                y, extras = CLIENT.forward_with_extras("dice", x, weights=w, training=False,
                                                       epsilon=1e-3)
                self.assertEqual(extras, {})
                self.assertClose(y, ry, t["fwd"] * ys + t["fwd_abs"],
                                 "dice inference forward")
                dx, grads = CLIENT.backward("dice", x, dy=dy, weights=w, training=False,
                                            epsilon=1e-3)
                self.assertClose(dx, rdx, t["bwd"] * dxs + 1e-300, "dice inference dx")
                self.assertClose(grads["alpha"], rda, t["sums"] * das + 1e-300,
                                 "dice inference dalpha")

    def test_inference_needs_running_stats(self):
        with self.assertRaises(ActdError) as e:
            CLIENT.forward("dice", np.ones((3, 2)), training=False)
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)


# ---- API surface and errors -------------------------------------------------------

class ApiTest(Case):
    def test_list_activations(self):
        names = {a.name for a in CLIENT.list_activations()}
        self.assertEqual(names, {"sigmoid", "tanh", "relu", "elu", "selu", "leaky_relu",
                                 "prelu", "gelu", "swish", "mish", "maxout", "dice",
                                 "identity"})

    def test_server_info(self):
        info = CLIENT.server_info()
        self.assertTrue(info.version)
        self.assertTrue(info.isa)
        self.assertGreater(info.max_elements, 0)
        self.assertGreater(info.max_batch_items, 0)

    def test_wire_format_is_little_endian_row_major(self):
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        req = actclient.pb.ForwardRequest(
            activation=actclient.pb.ActivationSpec(name="identity"),
            input=actclient.pb.Tensor(dtype=actclient.pb.DATA_TYPE_FLOAT32, shape=[2, 3],
                                      raw_data=x.astype("<f4").tobytes()))
        resp = CLIENT._stub.Forward(req, timeout=10)
        self.assertEqual(list(resp.output.shape), [2, 3])
        self.assertEqual(resp.output.raw_data, x.astype("<f4").tobytes())
        y = CLIENT.forward("identity", x.astype(">f4"))  # big-endian input is converted
        np.testing.assert_array_equal(y, x)

    def test_non_float_input_becomes_float64(self):
        y = CLIENT.forward("relu", [[-1, 2], [3, -4]])
        self.assertEqual(y.dtype, np.float64)
        np.testing.assert_array_equal(y, [[0, 2], [3, 0]])

    def test_empty_and_scalar(self):
        y = CLIENT.forward("tanh", np.zeros((0, 3), np.float32))
        self.assertEqual(y.shape, (0, 3))
        self.assertEqual(y.dtype, np.float32)
        y = CLIENT.forward("relu", np.float64(-2.5))
        self.assertEqual(y.shape, ())
        self.assertEqual(float(y), 0.0)

    def test_unknown_activation(self):
        with self.assertRaises(ActdError) as e:
            CLIENT.forward("softmax", np.ones(3))
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("softmax", e.exception.details)

    def test_out_of_range_params(self):
        for name, params in (("leaky_relu", {"alpha": 2.0}), ("elu", {"alpha": -1.0}),
                             ("gelu", {"approximate": "cubic"}), ("maxout", {"pieces": 0}),
                             ("swish", {"beta": 1e9})):
            with self.subTest(name=name):
                with self.assertRaises(ActdError) as e:
                    CLIENT.forward(name, np.ones(4), **params)
                self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertIn(list(params)[0], e.exception.details)

    def test_grad_output_shape_mismatch(self):
        with self.assertRaises(ActdError) as e:
            CLIENT.backward("sigmoid", np.ones((2, 3)), dy=np.ones((3, 2)))
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        self.assertIn("grad_output", e.exception.details)

    def test_raw_data_length_mismatch(self):
        req = actclient.pb.ForwardRequest(
            activation=actclient.pb.ActivationSpec(name="relu"),
            input=actclient.pb.Tensor(dtype=actclient.pb.DATA_TYPE_FLOAT64, shape=[3],
                                      raw_data=b"\0" * 16))
        with self.assertRaises(grpc.RpcError) as e:
            CLIENT._stub.Forward(req, timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)

    def test_batch(self):
        x = np.linspace(-2, 2, 5)
        out = CLIENT.batch([Forward("relu", x), Backward("sigmoid", x, dy=2 * np.ones(5)),
                            Forward("nope", x), Forward("elu", x, alpha=-3),
                            Backward("swish", x.astype(np.float32), beta=2.0)])
        self.assertEqual(len(out), 5)
        np.testing.assert_array_equal(out[0], np.maximum(x, 0))
        np.testing.assert_allclose(out[1][0], 2 * sig(x) * sig(-x), rtol=1e-12)
        self.assertIsInstance(out[2], ActdError)
        self.assertEqual(out[2].code, grpc.StatusCode.NOT_FOUND)
        self.assertIsInstance(out[3], ActdError)
        self.assertEqual(out[3].code, grpc.StatusCode.INVALID_ARGUMENT)
        dx, grads = out[4]
        self.assertEqual(dx.dtype, np.float32)
        np.testing.assert_allclose(dx, dswish(x, 2.0), rtol=1e-5, atol=2e-7)
        terms = x * x * sig(2 * x) * sig(-2 * x)
        np.testing.assert_allclose(grads["beta"], terms.sum(), rtol=1e-5)

    def test_timeout_is_a_deadline(self):
        # A listener that never speaks HTTP/2: the call can only end by its deadline.
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            start = time.monotonic()
            with Client("127.0.0.1:%d" % silent.getsockname()[1], timeout=0.3) as c:
                with self.assertRaises(ActdError) as e:
                    c.forward("relu", np.ones(4))
            self.assertEqual(e.exception.code, grpc.StatusCode.DEADLINE_EXCEEDED)
            self.assertLess(time.monotonic() - start, 5)

class TokenTest(Case):
    def test_bearer_token(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "token")
            with open(path, "w") as f:
                f.write("s3cret-token\n")
            proc, client = start_server("--auth_token_file", path, token="s3cret-token")
            try:
                np.testing.assert_array_equal(client.forward("relu", [-1.0, 2.0]), [0, 2])
                target = client.target
                for token in (None, "wrong"):
                    with Client(target, timeout=10, token=token) as other:
                        with self.assertRaises(ActdError) as e:
                            other.forward("relu", [1.0])
                        self.assertEqual(e.exception.code, grpc.StatusCode.UNAUTHENTICATED)
            finally:
                stop_server(proc, client)


if __name__ == "__main__":
    ACTD = os.environ.get("ACTD") or (sys.argv.pop(1) if len(sys.argv) > 1 else None)
    if not ACTD or not os.access(ACTD, os.X_OK):
        sys.exit("usage: test_python_client.py path/to/actd")
    unittest.main(verbosity=2)

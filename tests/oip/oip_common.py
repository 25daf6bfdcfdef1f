"""Shared helpers of the Open Inference Protocol tests.

Stubs for the protocol come from the repository's own
proto/inference/grpc_service.proto (grpc_tools, into a temporary directory);
the real actd runs through tests/server/actd_harness.py. `cases(info)` gives,
for one activation described by ListActivations, the requests every client
test sends (both dtypes, default and non-default parameters, weights), and
`native(...)` the native API's answer to compare with, bit for bit.
"""

import os
import subprocess
import sys
import tempfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "server"))

import actd_harness as h  # noqa: E402
from actd_harness import grpc  # noqa: E402

ipb = ipb_grpc = None


def generate_stubs():
    """Imports inference.grpc_service_pb2(_grpc), generated from the repo."""
    global ipb, ipb_grpc
    if ipb is not None:
        return
    h._generate_stubs()
    out = tempfile.mkdtemp(prefix="actd-oip-stubs-")
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(REPO, "proto"),
         "--python_out", out, "--grpc_python_out", out,
         "inference/grpc_service.proto"],
        capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError("protoc failed: " + result.stderr)
    sys.path.insert(0, out)
    import importlib
    ipb = importlib.import_module("inference.grpc_service_pb2")
    ipb_grpc = importlib.import_module("inference.grpc_service_pb2_grpc")


DATATYPE = {np.dtype("float32"): "FP32", np.dtype("float64"): "FP64"}

# Parameters and weights beyond the defaults, so non-default paths are
# compared too. Activations not named here still get the default cases.
EXTRA = {
    "elu": [({"alpha": 0.5}, {})],
    "leaky_relu": [({"alpha": 0.2}, {})],
    "swish": [({"beta": 1.5}, {})],
    "gelu": [({"approximate": "tanh"}, {}), ({"approximate": "sigmoid"}, {})],
    "maxout": [({"pieces": 3}, {})],
    "prelu": [({}, {"alpha": lambda x: np.linspace(0.1, 0.6, x.shape[1])})],
    "dice": [({"training": False},
              {"running_mean": lambda x: np.linspace(-0.5, 0.5, x.shape[-1]),
               "running_var": lambda x: np.linspace(0.5, 2.0, x.shape[-1]),
               "alpha": lambda x: np.linspace(-0.2, 0.3, x.shape[-1])})],
}


class Case:
    def __init__(self, name, x, params, weights, grad_output):
        self.name, self.x, self.params = name, x, params
        self.weights, self.grad_output = weights, grad_output

    def __repr__(self):
        return "%s %s params=%s weights=%s" % (
            self.name, self.x.dtype, self.params, sorted(self.weights))


def cases(info):
    """The requests for one activation: each dtype, default parameters and
    the extra ones; x of shape [4, 6] in [-3, 3] (finite, so JSON carries it)."""
    rng = np.random.default_rng(zlib.crc32(info.name.encode()))
    out = []
    for dtype in (np.float32, np.float64):
        x = rng.uniform(-3, 3, (4, 6)).astype(dtype)
        for params, weights in [({}, {})] + EXTRA.get(info.name, []):
            w = {k: f(x).astype(dtype) for k, f in weights.items()}
            out.append(Case(info.name, x, params, w, None))
    return out


def spec(case):
    s = h.pb.ActivationSpec(name=case.name)
    for key, value in case.params.items():
        if isinstance(value, bool):
            s.params[key].flag = value
        elif isinstance(value, str):
            s.params[key].text = value
        else:
            s.params[key].number = value
    for key, w in case.weights.items():
        s.weights[key].CopyFrom(h.raw_tensor(w))
    return s


def native(stub, case, backward, grad_output=None, output=None):
    """{OIP output name: array} from the native API."""
    if not backward:
        r = stub.Forward(h.pb.ForwardRequest(activation=spec(case),
                                             input=h.raw_tensor(case.x)), timeout=20)
        out = {"y": h.from_tensor(r.output)}
        out.update({k: h.from_tensor(t) for k, t in r.extras.items()})
        return out
    req = h.pb.BackwardRequest(activation=spec(case), input=h.raw_tensor(case.x))
    if grad_output is not None:
        req.grad_output.CopyFrom(h.raw_tensor(grad_output))
    if output is not None:
        req.output.CopyFrom(h.raw_tensor(output))
    r = stub.Backward(req, timeout=20)
    out = {"grad_input": h.from_tensor(r.grad_input)}
    out.update({"grad_" + k: h.from_tensor(t) for k, t in r.grad_params.items()})
    return out


def json_parameters(case, backward):
    p = dict(case.params)
    if backward:
        p["direction"] = "backward"
    return p


def bits(a):
    """The array's bytes, for bit-for-bit comparison (NaN payloads included)."""
    return np.ascontiguousarray(a).tobytes()

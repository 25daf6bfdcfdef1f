# A thin Python client for the actd ActivationService: one method per RPC, NumPy
# arrays in and out, gRPC failures raised as ActdError.
import grpc
import numpy as np

from . import _stubs
from .tensor import as_float_array, from_proto, to_proto

pb, pb_grpc = _stubs.load()

# google.rpc.Code numbers (used by BatchEvaluate's per-item codes) -> grpc.StatusCode.
_CODES = {c.value[0]: c for c in grpc.StatusCode}


class ActdError(Exception):
    """A failed call: `.code` is a grpc.StatusCode, `.details` the server's message."""

    def __init__(self, code, details):
        super().__init__("%s: %s" % (code.name, details))
        self.code = code
        self.details = details


class Forward:
    """One Forward item of Client.batch."""

    def __init__(self, name, x, weights=None, id=None, **params):
        self.name, self.x, self.weights, self.id, self.params = name, x, weights, id, params


class Backward:
    """One Backward item of Client.batch."""

    def __init__(self, name, x, dy=None, y=None, weights=None, id=None, **params):
        self.name, self.x, self.dy, self.y = name, x, dy, y
        self.weights, self.id, self.params = weights, id, params


def _param(value):
    if isinstance(value, (bool, np.bool_)):
        return pb.Param(flag=bool(value))
    if isinstance(value, str):
        return pb.Param(text=value)
    return pb.Param(number=float(value))


def _spec(name, weights, params, dtype):
    spec = pb.ActivationSpec(name=name)
    for k, v in params.items():
        spec.params[k].CopyFrom(_param(v))
    for k, w in (weights or {}).items():
        # Weights travel in the input's dtype.
        spec.weights[k].CopyFrom(to_proto(pb, w, dtype))
    return spec


def _forward_request(name, x, weights, params):
    x = as_float_array(x)
    return pb.ForwardRequest(activation=_spec(name, weights, params, x.dtype),
                             input=to_proto(pb, x))


def _backward_request(name, x, dy, y, weights, params):
    x = as_float_array(x)
    req = pb.BackwardRequest(activation=_spec(name, weights, params, x.dtype),
                             input=to_proto(pb, x))
    if dy is not None:
        req.grad_output.CopyFrom(to_proto(pb, dy, x.dtype))
    if y is not None:
        req.output.CopyFrom(to_proto(pb, y, x.dtype))
    return req


def _grads(resp):
    return (from_proto(pb, resp.grad_input),
            {k: from_proto(pb, v) for k, v in resp.grad_params.items()})


class Client:
    """Talks to one actd at `target` ("host:port"). `timeout` (seconds) is the deadline
    of every call; `token` is sent as "authorization: Bearer <token>". Pass
    `credentials` (grpc.ssl_channel_credentials(...)) for TLS. Thread-safe."""

    def __init__(self, target, timeout=None, token=None, credentials=None, options=None):
        opts = list(options or []) + [("grpc.max_receive_message_length", -1),
                                      ("grpc.max_send_message_length", -1)]
        if credentials is not None:
            self._channel = grpc.secure_channel(target, credentials, options=opts)
        else:
            self._channel = grpc.insecure_channel(target, options=opts)
        self.target = target
        self._stub = pb_grpc.ActivationServiceStub(self._channel)
        self._timeout = timeout
        self._metadata = [("authorization", "Bearer " + token)] if token else None

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self._timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise ActdError(e.code(), e.details()) from None

    def forward(self, name, x, weights=None, **params):
        """y = f(x). Returns an ndarray in x's dtype (float32, else float64)."""
        return self.forward_with_extras(name, x, weights, **params)[0]

    def forward_with_extras(self, name, x, weights=None, **params):
        """Returns (y, extras): extras holds e.g. dice's batch_mean and batch_var."""
        resp = self._call(self._stub.Forward, _forward_request(name, x, weights, params))
        return from_proto(pb, resp.output), {k: from_proto(pb, v)
                                             for k, v in resp.extras.items()}

    def backward(self, name, x, dy=None, y=None, weights=None, **params):
        """Returns (grad_input, {param name: gradient}); dy None means ones."""
        return _grads(self._call(self._stub.Backward,
                                 _backward_request(name, x, dy, y, weights, params)))

    def batch(self, items):
        """Evaluates Forward/Backward items in one round trip. Returns a list in item
        order: y for a Forward item, (grad_input, grad_params) for a Backward item,
        or an ActdError (not raised) for an item that failed."""
        req = pb.BatchEvaluateRequest()
        for i, item in enumerate(items):
            e = req.items.add(id=str(i) if item.id is None else str(item.id))
            if isinstance(item, Forward):
                e.forward.CopyFrom(_forward_request(item.name, item.x, item.weights,
                                                    item.params))
            elif isinstance(item, Backward):
                e.backward.CopyFrom(_backward_request(item.name, item.x, item.dy, item.y,
                                                      item.weights, item.params))
            else:
                raise TypeError("batch items are actclient.Forward or actclient.Backward")
        results = []
        for r in self._call(self._stub.BatchEvaluate, req).results:
            if r.code != 0:
                results.append(ActdError(_CODES.get(r.code, grpc.StatusCode.UNKNOWN),
                                         r.message))
            elif r.WhichOneof("result") == "forward":
                results.append(from_proto(pb, r.forward.output))
            else:
                results.append(_grads(r.backward))
        return results

    def list_activations(self):
        """Returns the ActivationInfo messages (name, formula, params, properties...)."""
        return list(self._call(self._stub.ListActivations,
                               pb.ListActivationsRequest()).activations)

    def server_info(self):
        """Returns the ServerInfo message (version, isa, limits)."""
        return self._call(self._stub.GetServerInfo, pb.GetServerInfoRequest())

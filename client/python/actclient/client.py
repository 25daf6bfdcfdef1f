# A thin Python client for the actd ActivationService: one method per RPC, NumPy
# arrays (or torch tensors) in and out, gRPC failures raised as ActdError. Activation
# parameters travel in `params={...}`; `timeout` and `metadata` are per-call keywords,
# so no parameter name can collide with them.
import json
import os

import grpc

from . import _stubs
from .tensor import encode_input, encode_like, from_proto, to_proto

pb, pb_grpc = _stubs.load()

# google.rpc.Code numbers (used by BatchEvaluate's per-item codes) -> grpc.StatusCode.
_CODES = {c.value[0]: c for c in grpc.StatusCode}
_SERVICE_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                               "service_config.json")


def default_service_config():
    """The recommended channel service config (round_robin; retries on UNAVAILABLE),
    as the JSON text shipped with this package."""
    with open(_SERVICE_CONFIG, encoding="utf-8") as f:
        return f.read()


class ActdError(Exception):
    """A failed call: `.code` is a grpc.StatusCode, `.details` the server's message."""

    def __init__(self, code, details):
        super().__init__("%s: %s" % (code.name, details))
        self.code = code
        self.details = details


def _misplaced(method, kwargs):
    """A TypeError for keywords that are not arguments of `method` (old-style params)."""
    names = ", ".join(sorted(kwargs))
    example = ", ".join("%r: %r" % (k, v) for k, v in sorted(kwargs.items()))
    return TypeError("%s() got unexpected keyword argument(s) %s: activation parameters "
                     "go in params={%s}" % (method, names, example))


def _check_params(params):
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise TypeError("params must be a dict of parameter name -> number, str or bool, "
                        "not %s" % type(params).__name__)
    return params


class Forward:
    """One Forward item of Client.batch: the arguments of Client.forward."""

    def __init__(self, name, x, *, params=None, weights=None, dtype=None, id=None,
                 **misplaced):
        if misplaced:
            raise _misplaced("Forward", misplaced)
        self.name, self.x, self.dtype, self.id = name, x, dtype, id
        self.params, self.weights = _check_params(params), weights


class Backward:
    """One Backward item of Client.batch: the arguments of Client.backward."""

    def __init__(self, name, x, dy=None, *, y=None, params=None, weights=None, dtype=None,
                 id=None, **misplaced):
        if misplaced:
            raise _misplaced("Backward", misplaced)
        self.name, self.x, self.dy, self.y, self.dtype, self.id = name, x, dy, y, dtype, id
        self.params, self.weights = _check_params(params), weights


def _param(name, value):
    if isinstance(value, bool) or type(value).__name__ == "bool_":  # Python or NumPy bool
        return pb.Param(flag=bool(value))
    if isinstance(value, str):
        return pb.Param(text=value)
    if isinstance(value, (int, float)) or (hasattr(value, "dtype") and value.dtype.kind in "iuf"
                                           and getattr(value, "ndim", 0) == 0):
        return pb.Param(number=float(value))
    raise TypeError("params[%r] is %r (%s); expected a number, a str or a bool"
                    % (name, value, type(value).__name__))


def _spec(name, enc, params, weights):
    if not isinstance(name, str) or not name:
        raise TypeError("activation name must be a non-empty str, not %r" % (name,))
    spec = pb.ActivationSpec(name=name)
    for k, v in _check_params(params).items():
        spec.params[k].CopyFrom(_param(k, v))
    if weights is not None and not isinstance(weights, dict):
        raise TypeError("weights must be a dict of weight name -> tensor, not %s"
                        % type(weights).__name__)
    for k, w in (weights or {}).items():
        # Weights travel in the input's dtype.
        spec.weights[k].CopyFrom(to_proto(pb, encode_like(w, enc, "weights[%r]" % k),
                                          enc.wire))
    return spec


def _forward_request(item):
    enc = encode_input(item.x, item.dtype)
    return enc, pb.ForwardRequest(activation=_spec(item.name, enc, item.params, item.weights),
                                  input=to_proto(pb, enc.array, enc.wire))


def _backward_request(item):
    enc = encode_input(item.x, item.dtype)
    req = pb.BackwardRequest(activation=_spec(item.name, enc, item.params, item.weights),
                             input=to_proto(pb, enc.array, enc.wire))
    if item.dy is not None:
        req.grad_output.CopyFrom(to_proto(pb, encode_like(item.dy, enc, "dy"), enc.wire))
    if item.y is not None:
        req.output.CopyFrom(to_proto(pb, encode_like(item.y, enc, "y"), enc.wire))
    return enc, req


def _grads(enc, resp):
    return (enc.restore(from_proto(pb, resp.grad_input)),
            {k: enc.restore(from_proto(pb, v)) for k, v in resp.grad_params.items()})


class Client:
    """Talks to one actd at `target` ("host:port", or any gRPC target such as
    "dns:///actd.example:50051"). Thread-safe; use as a context manager or call close().

    Args:
      target: the server address.
      timeout: default deadline of every call, in seconds (None: no deadline);
        each call may override it with its own `timeout=`.
      token: sent as "authorization: Bearer <token>" on every call.
      credentials: grpc.ssl_channel_credentials(...) for TLS; None for plaintext.
      options: extra gRPC channel options, a list of (name, value).
      service_config: the channel's service config as JSON text; by default the
        recommended one shipped with the package (round_robin over all addresses of
        the target, retries of calls that fail with UNAVAILABLE). None: gRPC defaults.
    """

    def __init__(self, target, timeout=None, token=None, credentials=None, options=None,
                 service_config="default"):
        opts = list(options or []) + [("grpc.max_receive_message_length", -1),
                                      ("grpc.max_send_message_length", -1)]
        if service_config == "default":
            service_config = default_service_config()
        if service_config is not None:
            opts += [("grpc.service_config", service_config), ("grpc.enable_retries", 1)]
        if credentials is not None:
            self._channel = grpc.secure_channel(target, credentials, options=opts)
        else:
            self._channel = grpc.insecure_channel(target, options=opts)
        self.target = target
        self._stub = pb_grpc.ActivationServiceStub(self._channel)
        self._timeout = timeout
        self._metadata = [("authorization", "Bearer " + token)] if token else []

    def close(self):
        """Closes the channel; calls in flight are cancelled."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request, timeout, metadata):
        if timeout is None:
            timeout = self._timeout
        md = self._metadata + [(str(k), v) for k, v in (metadata or [])]
        try:
            return method(request, timeout=timeout, metadata=md or None)
        except grpc.RpcError as e:
            raise ActdError(e.code(), e.details()) from None

    def forward(self, name, x, *, params=None, weights=None, dtype=None, timeout=None,
                metadata=None, **misplaced):
        """y = f(x).

        Args:
          name: the activation, e.g. "gelu" (see list_activations()).
          x: the input, a real floating tensor (see actclient.tensor); float16 in,
            float16 out, likewise float32, float64 and torch tensors of any of these
            and bfloat16. Python numbers and lists are sent as float64.
          params: activation parameters, e.g. {"approximate": "tanh"}: numbers, str, bool.
          weights: learnable tensors by name, e.g. {"alpha": [0.1, 0.2]}; sent in x's dtype.
          dtype: "bfloat16" or "float16" to send a uint16 array as bit patterns (results
            come back as bit patterns), or a dtype name to convert x to before sending.
          timeout: this call's deadline in seconds (default: the client's).
          metadata: extra gRPC metadata, a list of (key, value) pairs.

        Returns:
          y, of x's type and dtype. Raises ActdError when the server refuses the call,
          TypeError for an input that is not a real floating tensor.
        """
        if misplaced:
            raise _misplaced("forward", misplaced)
        return self.forward_with_extras(name, x, params=params, weights=weights, dtype=dtype,
                                        timeout=timeout, metadata=metadata)[0]

    def forward_with_extras(self, name, x, *, params=None, weights=None, dtype=None,
                            timeout=None, metadata=None, **misplaced):
        """Like forward(); returns (y, extras): extras holds e.g. Dice's batch_mean and
        batch_var, by name."""
        if misplaced:
            raise _misplaced("forward_with_extras", misplaced)
        enc, req = _forward_request(Forward(name, x, params=params, weights=weights,
                                            dtype=dtype))
        resp = self._call(self._stub.Forward, req, timeout, metadata)
        return enc.restore(from_proto(pb, resp.output)), {
            k: enc.restore(from_proto(pb, v)) for k, v in resp.extras.items()}

    def backward(self, name, x, dy=None, *, y=None, params=None, weights=None, dtype=None,
                 timeout=None, metadata=None, **misplaced):
        """Gradients of an activation at x.

        Args:
          dy: dL/dy, of y's shape; None means ones.
          y: the forward output, if known (some activations use it).
          name, x, params, weights, dtype, timeout, metadata: as in forward().

        Returns:
          (grad_input, {parameter or weight name: gradient}); grad_input has x's type and
          dtype; parameter gradients of 16-bit inputs are float32.
        """
        if misplaced:
            raise _misplaced("backward", misplaced)
        enc, req = _backward_request(Backward(name, x, dy, y=y, params=params,
                                              weights=weights, dtype=dtype))
        return _grads(enc, self._call(self._stub.Backward, req, timeout, metadata))

    def batch(self, items, *, timeout=None, metadata=None):
        """Evaluates Forward/Backward items in one round trip.

        Returns a list in item order: y for a Forward item, (grad_input, grad_params) for a
        Backward item, or an ActdError (not raised) for an item that failed.
        """
        req = pb.BatchEvaluateRequest()
        encodings = []
        for i, item in enumerate(items):
            if not isinstance(item, (Forward, Backward)):
                raise TypeError("batch item %d is %s; expected actclient.Forward or "
                                "actclient.Backward" % (i, type(item).__name__))
            e = req.items.add(id=str(i) if item.id is None else str(item.id))
            if isinstance(item, Forward):
                enc, sub = _forward_request(item)
                e.forward.CopyFrom(sub)
            else:
                enc, sub = _backward_request(item)
                e.backward.CopyFrom(sub)
            encodings.append(enc)
        results = []
        resp = self._call(self._stub.BatchEvaluate, req, timeout, metadata)
        for enc, r in zip(encodings, resp.results):
            if r.code != 0:
                results.append(ActdError(_CODES.get(r.code, grpc.StatusCode.UNKNOWN),
                                         r.message))
            elif r.WhichOneof("result") == "forward":
                results.append(enc.restore(from_proto(pb, r.forward.output)))
            else:
                results.append(_grads(enc, r.backward))
        return results

    def list_activations(self, *, timeout=None, metadata=None):
        """Returns the ActivationInfo messages (name, formula, params, properties...)."""
        return list(self._call(self._stub.ListActivations, pb.ListActivationsRequest(),
                               timeout, metadata).activations)

    def server_info(self, *, timeout=None, metadata=None):
        """Returns the ServerInfo message (version, isa, limits)."""
        return self._call(self._stub.GetServerInfo, pb.GetServerInfoRequest(), timeout,
                          metadata)

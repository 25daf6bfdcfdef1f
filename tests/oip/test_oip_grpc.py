"""The Open Inference Protocol over gRPC, driven by Python stubs generated
from the project's proto/inference/grpc_service.proto against the real actd:
health, metadata, forward and backward for every activation the server lists,
each value equal bit for bit to the native API's answer; raw and typed
tensors, requested outputs, the echoed id, errors with their exact codes,
the bearer token, deadlines and the metrics' protocol label.
"""

import sys
import unittest

import numpy as np

import oip_common as c
from oip_common import grpc, h


def set_param(p, value):
    if isinstance(value, bool):
        p.bool_param = value
    elif isinstance(value, str):
        p.string_param = value
    elif isinstance(value, int):
        p.int64_param = value
    else:
        p.double_param = value


def infer_request(case, backward=False, raw=True, grad_output=None,
                  output=None, outputs=(), request_id=""):
    r = c.ipb.ModelInferRequest(model_name=case.name, id=request_id)
    for key, value in c.json_parameters(case, backward).items():
        set_param(r.parameters[key], value)
    tensors = [("x", case.x)] + sorted(case.weights.items())
    if grad_output is not None:
        tensors.append(("grad_output", grad_output))
    if output is not None:
        tensors.append(("output", output))
    for name, a in tensors:
        t = r.inputs.add(name=name, datatype=c.DATATYPE[a.dtype], shape=list(a.shape))
        if raw:
            r.raw_input_contents.append(c.bits(a))
        elif a.dtype == np.float32:
            t.contents.fp32_contents.extend(a.ravel().tolist())
        else:
            t.contents.fp64_contents.extend(a.ravel().tolist())
    for name in outputs:
        r.outputs.add(name=name)
    return r


def outputs_of(response):
    out = {}
    for i, t in enumerate(response.outputs):
        dtype = {"FP32": np.float32, "FP64": np.float64}[t.datatype]
        if response.raw_output_contents:
            a = np.frombuffer(response.raw_output_contents[i], dtype=dtype)
        else:
            a = np.array(t.contents.fp32_contents if dtype == np.float32
                         else t.contents.fp64_contents, dtype=dtype)
        out[t.name] = a.reshape(tuple(t.shape))
    return out


class OipGrpcTest(h.ActdTestCase):

    @classmethod
    def setUpClass(cls):
        c.generate_stubs()

    def setUp(self):
        self.server = self.start("--max_elements", 1 << 22)
        self.native = self.server.stub()
        self.oip = c.ipb_grpc.GRPCInferenceServiceStub(self.server.channel())
        self.infos = self.native.ListActivations(
            h.pb.ListActivationsRequest(), timeout=10).activations

    def assertSameBits(self, got, want, what):
        self.assertEqual(sorted(got), sorted(want), what)
        for name in want:
            self.assertEqual(got[name].dtype, want[name].dtype, (what, name))
            self.assertEqual(got[name].shape, want[name].shape, (what, name))
            self.assertEqual(c.bits(got[name]), c.bits(want[name]), (what, name))

    def test_health_and_metadata_of_every_model(self):
        self.assertTrue(self.oip.ServerLive(c.ipb.ServerLiveRequest(), timeout=5).live)
        self.assertTrue(self.oip.ServerReady(c.ipb.ServerReadyRequest(), timeout=5).ready)
        meta = self.oip.ServerMetadata(c.ipb.ServerMetadataRequest(), timeout=5)
        info = self.native.GetServerInfo(h.pb.GetServerInfoRequest(), timeout=5)
        self.assertEqual((meta.name, meta.version), ("actd", info.version))
        self.assertGreaterEqual(len(self.infos), 13)  # the survey's twelve, and more
        for a in self.infos:
            for version in ("", "1"):
                self.assertTrue(self.oip.ModelReady(
                    c.ipb.ModelReadyRequest(name=a.name, version=version), timeout=5).ready)
            m = self.oip.ModelMetadata(c.ipb.ModelMetadataRequest(name=a.name), timeout=5)
            self.assertEqual((m.name, list(m.versions), m.platform), (a.name, ["1"], "actd"))
            x = m.inputs[0]
            self.assertEqual((x.name, x.datatype, list(x.shape)), ("x", "FP32", [-1]))
            self.assertEqual(x.parameters["datatypes"].string_param,
                             "FP32, FP64, FP16, BF16")
            inputs = [t.name for t in m.inputs]
            self.assertEqual(inputs, ["x"] + [w.name for w in a.weights]
                             + ["grad_output", "output"])
            outputs = [t.name for t in m.outputs]
            self.assertEqual(outputs[0], "y")
            self.assertIn("grad_input", outputs)
            learnable = [p.name for p in a.params if p.learnable] + \
                [w.name for w in a.weights if w.learnable]
            for name in learnable:
                self.assertIn("grad_" + name, outputs)
            p = m.parameters
            self.assertEqual(p["formula"].string_param, a.formula)
            self.assertEqual(p["reference"].string_param, a.reference)
            props = a.properties
            for field in ("nonlinear", "monotonic", "smooth", "zero_centered",
                          "saturates_left", "saturates_right", "self_normalizing"):
                self.assertEqual(p[field].bool_param, getattr(props, field), (a.name, field))
            self.assertEqual(p["range_min"].double_param, props.range_min)
            self.assertEqual(p["range_max"].double_param, props.range_max)
            self.assertEqual(p["learnable_parameters"].string_param,
                             props.learnable_parameters)
            self.assertEqual(p["learnable_parameter_count"].int64_param,
                             props.learnable_parameter_count)
            self.assertEqual(p["cost"].string_param,
                             h.pb.CostClass.Name(props.cost))
            self.assertEqual(p["kinks"].string_param, "; ".join(props.kinks))

    def test_forward_and_backward_of_every_model_equal_the_native_api(self):
        compared = set()
        for info in self.infos:
            for case in c.cases(info):
                want = c.native(self.native, case, backward=False)
                for raw in (True, False):
                    got = outputs_of(self.oip.ModelInfer(
                        infer_request(case, raw=raw), timeout=20))
                    self.assertSameBits(got, want, (case, "forward", raw))
                y = want["y"]
                dy = np.random.default_rng(7).uniform(-2, 2, y.shape).astype(y.dtype)
                for kwargs in ({}, {"grad_output": dy}, {"grad_output": dy, "output": y}):
                    want_b = c.native(self.native, case, True, **kwargs)
                    for raw in (True, False):
                        got = outputs_of(self.oip.ModelInfer(
                            infer_request(case, True, raw, **kwargs), timeout=20))
                        self.assertSameBits(got, want_b, (case, "backward", raw, sorted(kwargs)))
                compared.add(info.name)
        self.assertEqual(compared, {a.name for a in self.infos})

    def test_16_bit_raw_forward_equals_the_native_api(self):
        # FP16 and BF16 travel raw (the protocol has no typed 16-bit field);
        # results come back in the request's type, bit for bit the native ones.
        x32 = np.linspace(-3, 3, 24, dtype=np.float32).reshape(4, 6)
        kinds = (("FP16", h.pb.DATA_TYPE_FLOAT16, x32.astype(np.float16).view(np.uint16)),
                 ("BF16", h.pb.DATA_TYPE_BFLOAT16, (x32.view(np.uint32) >> 16).astype(np.uint16)))
        compared = 0
        for oip_type, native_type, bits16 in kinds:
            for info in self.infos:
                if info.weights:  # weights would travel in 16 bits too; see tests/service
                    continue
                want = self.native.Forward(h.pb.ForwardRequest(
                    activation=h.pb.ActivationSpec(name=info.name),
                    input=h.pb.Tensor(dtype=native_type, shape=[4, 6],
                                      raw_data=bits16.tobytes())), timeout=20)
                r = c.ipb.ModelInferRequest(model_name=info.name)
                r.inputs.add(name="x", datatype=oip_type, shape=[4, 6])
                r.raw_input_contents.append(bits16.tobytes())
                got = self.oip.ModelInfer(r, timeout=20)
                self.assertEqual((got.outputs[0].name, got.outputs[0].datatype,
                                  list(got.outputs[0].shape)),
                                 ("y", oip_type, list(want.output.shape)), info.name)
                self.assertEqual(got.raw_output_contents[0], want.output.raw_data,
                                 (oip_type, info.name))
                compared += 1
        self.assertGreater(compared, 20)

    def test_requested_outputs_id_and_trailers(self):
        case = c.Case("dice", np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4), {}, {}, None)
        call = self.oip.ModelInfer.with_call(
            infer_request(case, outputs=["batch_var", "y"], request_id="req-7"), timeout=5)
        response, rpc = call
        self.assertEqual(response.id, "req-7")
        self.assertEqual((response.model_name, response.model_version), ("dice", "1"))
        self.assertEqual([t.name for t in response.outputs], ["batch_var", "y"])
        self.assertEqual(len(response.raw_output_contents), 2)
        want = c.native(self.native, case, False)
        self.assertSameBits(outputs_of(response), {k: want[k] for k in ("batch_var", "y")}, "dice")
        trailers = dict(rpc.trailing_metadata())
        for key in ("actd-decode-us", "actd-compute-us", "actd-encode-us"):
            self.assertGreaterEqual(float(trailers[key]), 0)

    def assertCode(self, code, request, fragment):
        with self.assertRaises(grpc.RpcError) as cm:
            self.oip.ModelInfer(request, timeout=10)
        self.assertEqual(cm.exception.code(), code, cm.exception.details())
        self.assertIn(fragment, cm.exception.details())

    def test_errors_name_the_field_with_the_native_codes(self):
        x = np.ones(6, np.float32)
        case = c.Case("elu", x, {}, {}, None)
        r = infer_request(case)
        r.model_name = "nope"
        self.assertCode(grpc.StatusCode.NOT_FOUND, r, 'model_name: unknown model "nope"')
        r = infer_request(case)
        r.model_version = "2"
        self.assertCode(grpc.StatusCode.NOT_FOUND, r, 'model_version: "2"')
        r = infer_request(c.Case("elu", x, {"alpha": -1.0}, {}, None))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r,
                        'parameters["alpha"]: -1 is out of range for elu')
        r = infer_request(c.Case("elu", x, {"alpha": "big"}, {}, None))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r, 'parameters["alpha"]: expected a number')
        r = infer_request(case)
        r.parameters["direction"].string_param = "sideways"
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r, 'parameters["direction"]: "sideways"')
        r = infer_request(case)
        r.raw_input_contents[0] = b"12345"
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r,
                        'raw_input_contents[0] (inputs["x"]): 5 bytes but shape [6] of FP32 needs 24')
        r = infer_request(case)
        r.inputs[0].name = "z"
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r, 'inputs: no tensor named "x"')
        r = infer_request(c.Case("elu", x, {}, {"z": x}, None))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r,
                        'inputs["z"]: unknown weight for elu (it takes no weights)')
        r = infer_request(case, grad_output=x)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r,
                        'inputs["grad_output"]: only a backward call takes it')
        r = infer_request(case, True, grad_output=np.ones(5, np.float32))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r, 'inputs["grad_output"].shape: [5]')
        r = infer_request(case)  # FP32 bytes declared FP16: twice too many
        r.inputs[0].datatype = "FP16"
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r,
                        'raw_input_contents[0] (inputs["x"]): 24 bytes but shape [6] of FP16 needs 12')
        r = infer_request(case)
        r.inputs[0].datatype = "INT8"
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r, 'inputs["x"].datatype: "INT8"')
        r = infer_request(case, raw=False)
        r.inputs[0].contents.fp64_contents.append(1.0)
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r,
                        'inputs["x"].contents.fp64_contents: set for a FP32 tensor')
        r = infer_request(case, outputs=["grad_input"])
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r,
                        'outputs[0].name: "grad_input" is not an output of this call (outputs: y)')
        r = infer_request(c.Case("maxout", np.ones(7, np.float32), {}, {}, None))
        self.assertCode(grpc.StatusCode.INVALID_ARGUMENT, r,
                        'inputs["x"].shape[0]: 7 is not divisible by parameters["pieces"] = 2')
        big = c.Case("relu", np.zeros((1 << 22) + 1, np.float32), {}, {}, None)
        self.assertCode(grpc.StatusCode.RESOURCE_EXHAUSTED, infer_request(big),
                        "exceed the limit of 4194304 per tensor (--max_elements)")

    def test_deadline_too_short_is_refused_at_once(self):
        case = c.Case("gelu", np.zeros(1 << 22, np.float32), {}, {}, None)
        with self.assertRaises(grpc.RpcError) as cm:
            self.oip.ModelInfer(infer_request(case), timeout=0.1)
        self.assertEqual(cm.exception.code(), grpc.StatusCode.DEADLINE_EXCEEDED)

    def test_token_guards_metadata_and_infer_but_not_health(self):
        token = "s3cret-token"
        path = self.server.workdir + "/token"
        with open(path, "w") as f:
            f.write(token + "\n")
        server = self.start("--auth_token_file", path)
        oip = c.ipb_grpc.GRPCInferenceServiceStub(server.channel())
        self.assertTrue(oip.ServerLive(c.ipb.ServerLiveRequest(), timeout=5).live)
        self.assertTrue(oip.ServerReady(c.ipb.ServerReadyRequest(), timeout=5).ready)
        self.assertTrue(oip.ModelReady(c.ipb.ModelReadyRequest(name="relu"), timeout=5).ready)
        request = infer_request(c.Case("relu", np.ones(3, np.float32), {}, {}, None))
        for call, req in ((oip.ModelInfer, request),
                          (oip.ModelMetadata, c.ipb.ModelMetadataRequest(name="relu")),
                          (oip.ServerMetadata, c.ipb.ServerMetadataRequest())):
            with self.assertRaises(grpc.RpcError) as cm:
                call(req, timeout=5)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
            with self.assertRaises(grpc.RpcError) as cm:
                call(req, timeout=5, metadata=[("authorization", "Bearer wrong")])
            self.assertEqual(cm.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
            call(req, timeout=5, metadata=[("authorization", "Bearer " + token)])

    def test_metrics_carry_the_protocol(self):
        case = c.Case("tanh", np.ones(10, np.float64), {}, {}, None)
        for _ in range(3):
            self.oip.ModelInfer(infer_request(case), timeout=5)
        self.native.Forward(h.forward_request("tanh", np.ones(4, np.float64)), timeout=5)
        s = self.server.metrics()
        self.assertEqual(h.metric(s, "actd_requests_total", protocol="oip-grpc",
                                  method="ModelInfer", activation="tanh",
                                  dtype="float64", code="OK"), 3)
        self.assertEqual(h.metric(s, "actd_requests_total", protocol="native",
                                  method="Forward", activation="tanh", code="OK"), 1)
        self.assertEqual(h.metric(s, "actd_elements_total", protocol="oip-grpc",
                                  method="ModelInfer"), 30)


if __name__ == "__main__":
    h.ACTD = sys.argv.pop(1) if len(sys.argv) > 1 else h.ACTD
    unittest.main(verbosity=2)

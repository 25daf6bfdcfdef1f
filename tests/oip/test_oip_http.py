"""The Open Inference Protocol over HTTP/REST, driven by curl against the real
actd: health, server and model metadata, forward and backward for every model
the server lists (POST /v2/repository/index), as JSON and with the binary
tensor extension, each value equal bit for bit to the native API's; errors as
{"error": ...} with the protocol's status codes; the bearer token (health
stays open); TLS with the gRPC port's certificate.
"""

import json
import os
import subprocess
import sys
import time
import unittest

import numpy as np

import oip_common as c
from oip_common import h

from google.protobuf import json_format


class Curl:
    def __init__(self, base, extra=()):
        self.base, self.extra = base, list(extra)

    def __call__(self, method, path, body=None, headers=(), binary=False):
        """(status, headers dict, body bytes) of one curl call."""
        cmd = ["curl", "-sS", "-X", method, "-D", "-", "--max-time", "30"] + self.extra
        for hd in headers:
            cmd += ["-H", hd]
        if body is not None:
            cmd += ["--data-binary", "@-"]
            if not binary:
                cmd += ["-H", "Content-Type: application/json"]
        cmd.append(self.base + path)
        out = subprocess.run(cmd, input=body, capture_output=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError("curl failed: %s" % out.stderr.decode())
        head, _, payload = out.stdout.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.strip().lower(): v.strip() for k, _, v in
                (l.partition(":") for l in lines[1:])}
        return status, hdrs, payload

    def json(self, method, path, body=None, headers=()):
        data = None if body is None else json.dumps(body).encode()
        status, _, payload = self(method, path, data, headers)
        return status, json.loads(payload)


def infer_json(case, backward=False, grad_output=None, output=None):
    tensors = [("x", case.x)] + sorted(case.weights.items())
    if grad_output is not None:
        tensors.append(("grad_output", grad_output))
    if output is not None:
        tensors.append(("output", output))
    return {"id": case.name, "parameters": c.json_parameters(case, backward),
            "inputs": [{"name": n, "datatype": c.DATATYPE[a.dtype], "shape": list(a.shape),
                        "data": [float(v) for v in a.ravel()]} for n, a in tensors]}


def outputs_from_json(body):
    return {o["name"]: np.array(o["data"], dtype={"FP32": np.float32, "FP64": np.float64}[
        o["datatype"]]).reshape(o["shape"]) for o in body["outputs"]}


class OipHttpTest(h.ActdTestCase):

    @classmethod
    def setUpClass(cls):
        c.generate_stubs()

    def start_http(self, *args, scheme="http", curl_extra=()):
        port = h.free_ports(1)[0]
        server = self.start("--http_port", port, *args)
        return server, Curl("%s://127.0.0.1:%d" % (scheme, port), curl_extra)

    def assertSameBits(self, got, want, what):
        self.assertEqual(sorted(got), sorted(want), what)
        for name in want:
            self.assertEqual(got[name].shape, want[name].shape, (what, name))
            self.assertEqual(c.bits(got[name]), c.bits(want[name]), (what, name))

    def test_every_model_over_curl_equals_the_native_api(self):
        server, curl = self.start_http()
        native = server.stub()
        infos = {a.name: a for a in native.ListActivations(
            h.pb.ListActivationsRequest(), timeout=10).activations}
        self.assertEqual(curl.json("GET", "/v2/health/live"), (200, {"live": True}))
        self.assertEqual(curl.json("GET", "/v2/health/ready"), (200, {"ready": True}))
        status, meta = curl.json("GET", "/v2")
        self.assertEqual((status, meta["name"], meta["extensions"]),
                         (200, "actd", ["binary_tensor_data"]))
        status, index = curl.json("POST", "/v2/repository/index", {})
        self.assertEqual([m["name"] for m in index], list(infos))
        for name, info in infos.items():
            self.assertEqual(curl.json("GET", "/v2/models/%s/ready" % name),
                             (200, {"name": name, "ready": True}))
            status, m = curl.json("GET", "/v2/models/%s/versions/1" % name)
            self.assertEqual((status, m["name"], m["versions"], m["platform"]),
                             (200, name, ["1"], "actd"))
            self.assertEqual(m["properties"], json_format.MessageToDict(
                info, preserving_proto_field_name=True,
                including_default_value_fields=True))
            for case in c.cases(info):
                want = c.native(native, case, False)
                status, body = curl.json("POST", "/v2/models/%s/infer" % name, infer_json(case))
                self.assertEqual(status, 200, body)
                self.assertEqual(body["id"], name)
                self.assertSameBits(outputs_from_json(body), want, (case, "forward"))
                y = want["y"]
                dy = np.random.default_rng(3).uniform(-2, 2, y.shape).astype(y.dtype)
                for kwargs in ({}, {"grad_output": dy}):
                    want_b = c.native(native, case, True, **kwargs)
                    status, body = curl.json("POST", "/v2/models/%s/infer" % name,
                                             infer_json(case, True, **kwargs))
                    self.assertEqual(status, 200, body)
                    self.assertSameBits(outputs_from_json(body), want_b, (case, "backward"))

    def test_binary_tensor_extension(self):
        server, curl = self.start_http()
        x = np.random.default_rng(1).standard_normal((64, 32)).astype(np.float32)
        x[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
        header = json.dumps({
            "parameters": {"direction": "backward", "binary_data_output": True},
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [64, 32],
                        "parameters": {"binary_data_size": x.nbytes}}]}).encode()
        status, hdrs, payload = curl(
            "POST", "/v2/models/mish/infer", header + x.tobytes(),
            ["Inference-Header-Content-Length: %d" % len(header),
             "Content-Type: application/octet-stream"], binary=True)
        self.assertEqual(status, 200, payload[:300])
        n = int(hdrs["inference-header-content-length"])
        body = json.loads(payload[:n])
        out = body["outputs"][0]
        self.assertEqual((out["name"], out["shape"], out["parameters"]),
                         ("grad_input", [64, 32], {"binary_data_size": x.nbytes}))
        got = np.frombuffer(payload[n:], np.float32).reshape(64, 32)
        want = c.native(server.stub(), c.Case("mish", x, {}, {}, None), True)["grad_input"]
        self.assertEqual(c.bits(got), c.bits(want))
        # One output binary, the other JSON (which has no NaN: finite x), inputs
        # mixed.
        x = np.nan_to_num(x, nan=0.5, posinf=3.0, neginf=-3.0)
        w = np.full(32, 0.1, np.float32)
        header = json.dumps({
            "parameters": {"direction": "backward", "channel_axis": -1},
            "inputs": [{"name": "x", "datatype": "FP32", "shape": [64, 32],
                        "parameters": {"binary_data_size": x.nbytes}},
                       {"name": "alpha", "datatype": "FP32", "shape": [32],
                        "data": w.tolist()}],
            "outputs": [{"name": "grad_input", "parameters": {"binary_data": True}},
                        {"name": "grad_alpha"}]}).encode()
        status, hdrs, payload = curl(
            "POST", "/v2/models/prelu/infer", header + x.tobytes(),
            ["Inference-Header-Content-Length: %d" % len(header)], binary=True)
        self.assertEqual(status, 200, payload[:300])
        n = int(hdrs["inference-header-content-length"])
        body = json.loads(payload[:n])
        case = c.Case("prelu", x, {"channel_axis": -1}, {"alpha": w}, None)
        want = c.native(server.stub(), case, True)
        self.assertEqual(c.bits(np.frombuffer(payload[n:], np.float32).reshape(64, 32)),
                         c.bits(want["grad_input"]))
        self.assertEqual(c.bits(np.array(body["outputs"][1]["data"], np.float32)),
                         c.bits(want["grad_alpha"].ravel()))

    def test_errors_and_status_codes(self):
        server, curl = self.start_http("--max_elements", 1000)
        x = {"name": "x", "datatype": "FP32", "shape": [2], "data": [1, 2]}
        cases = [
            ("/v2/models/nope/infer", {"inputs": [x]}, 404, 'model_name: unknown model "nope"'),
            ("/v2/models/elu/versions/3/infer", {"inputs": [x]}, 404, 'model_version: "3"'),
            ("/v2/models/elu/infer", {"inputs": [x], "parameters": {"alpha": -1}}, 400,
             'parameters["alpha"]: -1 is out of range for elu'),
            ("/v2/models/elu/infer", {"inputs": [dict(x, shape=[3])]}, 400,
             'inputs["x"].contents.fp32_contents: 2 values but shape [3] has 3 elements'),
            ("/v2/models/elu/infer", {"inputs": [dict(x, data=[1, "a"])]}, 400,
             'inputs[0].data: element 1 is "a", not a number'),
            ("/v2/models/elu/infer", {"inputs": [dict(x, shape=[2000], data=[0] * 2000)]}, 429,
             "exceed the limit of 1000 per tensor (--max_elements)"),
            ("/v2/models/elu/infer", {"input": []}, 400, "inputs: missing or not an array"),
        ]
        for path, body, code, fragment in cases:
            status, reply = curl.json("POST", path, body)
            self.assertEqual(status, code, (path, body, reply))
            self.assertIn(fragment, reply["error"])
        status, _, payload = curl("POST", "/v2/models/elu/infer", b"{not json")
        self.assertEqual((status, json.loads(payload)), (400, {"error": "body: not a JSON object"}))
        self.assertEqual(curl.json("GET", "/v2/models/nope")[0], 404)
        self.assertEqual(curl.json("GET", "/v2/models/nope/ready")[0], 404)

    def test_token_and_tls(self):
        workdir = self.start().workdir
        token_file = os.path.join(workdir, "token")
        with open(token_file, "w") as f:
            f.write("tok-123\n")
        key, cert = os.path.join(workdir, "key.pem"), os.path.join(workdir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        with open(cert, "rb") as f:
            root = f.read()
        port = h.free_ports(1)[0]
        server = self.start("--http_port", port, "--auth_token_file", token_file,
                            "--tls_cert", cert, "--tls_key", key,
                            credentials=h.grpc.ssl_channel_credentials(root))
        curl = Curl("https://localhost:%d" % port, ["--cacert", cert])
        self.assertEqual(curl.json("GET", "/v2/health/live"), (200, {"live": True}))
        self.assertEqual(curl.json("GET", "/v2/models/relu/ready")[0], 200)
        body = {"inputs": [{"name": "x", "datatype": "FP64", "shape": [3], "data": [-1, 0, 2]}]}
        for path, method, payload in (("/v2/models/relu/infer", "POST", body),
                                      ("/v2/models/relu", "GET", None), ("/v2", "GET", None)):
            status, reply = curl.json(method, path, payload)
            self.assertEqual(status, 401, reply)
            self.assertIn("authorization", reply["error"])
            status, reply = curl.json(method, path, payload, ["Authorization: Bearer nope"])
            self.assertEqual(status, 401, reply)
            status, reply = curl.json(method, path, payload, ["Authorization: Bearer tok-123"])
            self.assertEqual(status, 200, reply)
        status, reply = curl.json("POST", "/v2/models/relu/infer", body,
                                  ["Authorization: Bearer tok-123"])
        self.assertEqual(reply["outputs"][0]["data"], [0.0, 0.0, 2.0])
        plain = subprocess.run(["curl", "-sS", "--max-time", "5",
                                "http://localhost:%d/v2/health/live" % port],
                               capture_output=True)
        self.assertNotEqual(plain.stdout, b'{"live":true}')
        s = server.metrics()
        self.assertEqual(h.metric(s, "actd_requests_total", protocol="oip-http",
                                  method="ModelInfer", activation="relu",
                                  dtype="float64", code="OK"), 2)
        self.assertEqual(h.metric(s, "actd_requests_total", protocol="oip-http",
                                  method="ModelInfer", code="UNAUTHENTICATED"), 2)

    def test_drain_turns_ready_off_and_refuses_new_calls(self):
        # A Maxout in affine form keeps the server busy for about a second, so
        # the drain lasts that long after SIGTERM.
        server, curl = self.start_http("--shutdown-grace", 5, "--compute-threads", 1)
        rng = np.random.default_rng(7)
        x = rng.standard_normal((2048, 1024)).astype(np.float32)
        w = rng.standard_normal((2048, 1024)).astype(np.float32)
        case = c.Case("maxout", x, {"pieces": 2}, {"weight": w}, None)
        import threading
        result = {}
        worker = threading.Thread(target=lambda: result.update(
            y=c.native(server.stub(options=h.BIG_CHANNEL), case, False)))
        worker.start()
        server.wait_inflight(1)
        server.signal()
        end = time.monotonic() + 5
        while curl.json("GET", "/v2/health/ready")[0] != 503 and time.monotonic() < end:
            time.sleep(0.02)
        self.assertEqual(curl.json("GET", "/v2/health/ready"), (503, {"ready": False}))
        self.assertEqual(curl.json("GET", "/v2/health/live"), (200, {"live": True}))
        status, reply = curl.json("POST", "/v2/models/relu/infer", {"inputs": [
            {"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]})
        self.assertEqual((status, reply), (503, {"error": "the server is shutting down; "
                                                          "send the call to another replica"}))
        worker.join(30)
        self.assertEqual(result["y"]["y"].shape, (2048, 1024))
        self.assertEqual(server.wait_exit(20), 0)


if __name__ == "__main__":
    h.ACTD = sys.argv.pop(1) if len(sys.argv) > 1 else h.ACTD
    unittest.main(verbosity=2)

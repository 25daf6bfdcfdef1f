"""TLS and mutual TLS in actd, with a throw-away CA made by openssl: a client
trusting the CA connects, a plaintext client cannot, and with
--tls_client_ca only clients holding a certificate the CA signed get in.
"""

import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

import actd_harness as h
from actd_harness import grpc


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True, timeout=30)


def make_pki(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=actd test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                "extendedKeyUsage=serverAuth\n")
    with open(os.path.join(d, "client.ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=actd test " + name, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey",
                "ca.key", "-CAcreateserial", "-out", name + ".pem", "-days", "2",
                "-extfile", name + ".ext", cwd=d)
    # A client certificate no trusted CA signed.
    openssl("req", "-x509", *ec, "-keyout", "stranger.key", "-out", "stranger.pem",
            "-days", "2", "-subj", "/CN=stranger", cwd=d)


class TlsTest(h.ActdTestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="actd-pki-")
        make_pki(cls.dir)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def creds(self, client=None):
        if client is None:
            return grpc.ssl_channel_credentials(root_certificates=self.read("ca.pem"))
        return grpc.ssl_channel_credentials(
            root_certificates=self.read("ca.pem"),
            private_key=self.read(client + ".key"),
            certificate_chain=self.read(client + ".pem"))

    def forward(self, server, credentials):
        stub = h.pb_grpc.ActivationServiceStub(server.channel(credentials=credentials))
        response = stub.Forward(h.forward_request("relu", np.array([-3, 3], np.float32)),
                                timeout=5)
        np.testing.assert_array_equal(h.from_tensor(response.output), [0, 3])

    def refused(self, server, credentials):
        stub = h.pb_grpc.ActivationServiceStub(server.channel(credentials=credentials))
        self.assertRpcError(grpc.StatusCode.UNAVAILABLE, stub.Forward,
                            h.forward_request("relu", np.ones(2, np.float32)),
                            timeout=5)

    def test_tls(self):
        server = self.start("--tls_cert", self.path("server.pem"),
                            "--tls_key", self.path("server.key"),
                            credentials=self.creds())
        self.forward(server, self.creds())
        self.refused(server, None)  # plaintext
        self.assertIn("tls on", server.log())

    def test_tls_from_env(self):
        env = h.clean_env(ACTD_TLS_CERT=self.path("server.pem"),
                          ACTD_TLS_KEY=self.path("server.key"))
        server = self.start(env=env, credentials=self.creds())
        self.forward(server, self.creds())
        self.refused(server, None)

    def test_key_not_matching_certificate_says_why(self):
        # The cause comes from gRPC's own log, which goes through actd's
        # logger: in JSON mode every line is JSON, the cause included.
        rc, out, err, seconds = self.run_actd(
            ["--port", 0, "--metrics_port", 0, "--log_format", "json",
             "--tls_cert", self.path("server.pem"),
             "--tls_key", self.path("stranger.key")])
        self.assertEqual(rc, 2, (out, err))
        self.assertLess(seconds, 5)
        records = [json.loads(l) for l in (out + err).splitlines()]
        fatal = [r["msg"] for r in records if r["level"] == "critical"]
        self.assertEqual(len(fatal), 1, records)
        self.assertRegex(fatal[0], r"^cannot listen on 0\.0\.0\.0:0: Invalid private key\.")

    def test_mutual_tls(self):
        server = self.start("--tls_cert", self.path("server.pem"),
                            "--tls_key", self.path("server.key"),
                            "--tls_client_ca", self.path("ca.pem"),
                            credentials=self.creds("client"))
        self.forward(server, self.creds("client"))
        self.refused(server, self.creds())            # no client certificate
        self.refused(server, self.creds("stranger"))  # not signed by the CA
        self.refused(server, None)                    # plaintext
        self.assertIn("tls mutual", server.log())


if __name__ == "__main__":
    h.main()

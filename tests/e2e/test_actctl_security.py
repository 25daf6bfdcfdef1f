"""actctl against servers that are not plainly reachable: no server at all
(UNAVAILABLE), a bearer-token server, a mutual-TLS server, and a server that
shuts down on SIGTERM."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import grpc
import numpy as np

from actctl_e2e import (ActctlTestCase, free_port, main, run, start_server,
                        tensor_values)


class UnreachableTest(unittest.TestCase):
    def test_unreachable_target_is_unavailable(self):
        port = free_port()  # nothing listens there
        for args in (("health",), ("list",), ("forward", "relu", "--values", "1")):
            code, _, err = run(*args, target="127.0.0.1:%d" % port)
            self.assertEqual(code, 1, args)
            self.assertRegex(err, r"^error: UNAVAILABLE: ", args)


class AuthTest(ActctlTestCase):
    """A server that requires a bearer token."""

    @classmethod
    def setUpClass(cls):
        cls.token_dir = tempfile.mkdtemp(prefix="actctl-auth-")
        cls.token_file = os.path.join(cls.token_dir, "token")
        with open(cls.token_file, "w") as f:
            f.write("s3cret\n")
        cls.server_args = ("--auth_token_file", cls.token_file)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.token_dir, ignore_errors=True)
        super().tearDownClass()

    def test_token_flag_and_file(self):
        err = self.fails(1, "forward", "relu", "--values", "1")
        self.assertRegex(err, r"^error: UNAUTHENTICATED:")
        err = self.fails(1, "--token", "wrong", "forward", "relu", "--values", "1")
        self.assertRegex(err, r"error: (UNAUTHENTICATED|PERMISSION_DENIED):")
        out = self.ok("--token", "s3cret", "forward", "relu", "--values", "1",
                      "-o", "json")
        np.testing.assert_array_equal(tensor_values(json.loads(out)["output"]), [1])
        self.ok("--token-file", self.token_file, "list")
        self.assertEqual(self.ok("health").strip(), "SERVING")  # probes stay open


class TlsTest(unittest.TestCase):
    """A server with TLS and client-certificate checking (mTLS)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="actctl-tls-")
        p = lambda n: os.path.join(cls.tmp, n)

        def ssl(*args):
            subprocess.run(["openssl", *args], check=True, capture_output=True)
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=test-ca", "-keyout", p("ca.key"), "-out", p("ca.pem"))
        with open(p("san.cnf"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        for name in ("server", "client"):
            ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
                "-keyout", p(name + ".key"), "-out", p(name + ".csr"))
            ssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p("ca.pem"),
                "-CAkey", p("ca.key"), "-CAcreateserial", "-days", "2",
                "-extfile", p("san.cnf"), "-out", p(name + ".pem"))
        cls.p = staticmethod(p)
        # The launcher's readiness probe speaks TLS with a client certificate.
        def read(name):
            with open(p(name), "rb") as f:
                return f.read()
        creds = grpc.ssl_channel_credentials(read("ca.pem"), read("client.key"),
                                             read("client.pem"))
        cls.server = start_server("--tls_cert", p("server.pem"), "--tls_key",
                                  p("server.key"), "--tls_client_ca", p("ca.pem"),
                                  credentials=creds)

    @classmethod
    def tearDownClass(cls):
        code = cls.server.terminate()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0:
            raise AssertionError("actd exited %d after SIGTERM" % code)

    def test_mutual_tls(self):
        p = self.p
        target = "localhost:%d" % self.server.port
        tls = ("--tls-ca", p("ca.pem"), "--tls-cert", p("client.pem"),
               "--tls-key", p("client.key"))
        code, out, err = run(*tls, "health", target=target)
        self.assertEqual((code, out.strip()), (0, "SERVING"), err)
        code, out, err = run(*tls, "forward", "relu", "--values", "-1,3", target=target)
        self.assertEqual((code, out.splitlines()[1]), (0, "  [0, 3]"), err)
        # Without a client certificate the handshake fails.
        code, _, err = run("--tls-ca", p("ca.pem"), "health", target=target)
        self.assertEqual(code, 1)
        self.assertIn("UNAVAILABLE", err)
        # Plaintext against a TLS server fails too.
        code, _, err = run("health", target=target)
        self.assertEqual(code, 1)
        self.assertIn("UNAVAILABLE", err)


class ShutdownTest(unittest.TestCase):
    def test_sigterm_exits_zero_and_health_fails_after(self):
        server = start_server()
        code, out, _ = run("health", target=server.target)
        self.assertEqual((code, out.strip()), (0, "SERVING"))
        self.assertEqual(server.terminate(), 0)
        code, _, err = run("health", target=server.target)
        self.assertEqual(code, 1)
        self.assertIn("UNAVAILABLE", err)


if __name__ == "__main__":
    main()

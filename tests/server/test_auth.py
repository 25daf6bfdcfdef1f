"""Bearer-token authentication of actd (--auth_token_file): ActivationService
calls need `authorization: Bearer <token>`, health checks do not, and the
token never shows up in the server's logs.
"""

import os
import tempfile

import numpy as np

import actd_harness as h
from actd_harness import grpc

TOKEN = "tok-7Qx9-secret-4f1e2d"


class AuthTest(h.ActdTestCase):

    def setUp(self):
        fd, self.token_file = tempfile.mkstemp(suffix=".token")
        with os.fdopen(fd, "w") as f:
            f.write(TOKEN + "\n")  # surrounding whitespace is not part of it
        self.addCleanup(os.remove, self.token_file)

    def check_server(self, server):
        stub = server.stub()
        request = h.forward_request("relu", np.array([-1, 2], np.float32))
        err = self.assertRpcError(grpc.StatusCode.UNAUTHENTICATED, stub.Forward,
                                  request, timeout=5)
        self.assertIn("missing", err.details())
        for bad in ("Bearer wrong-token", "Bearer " + TOKEN[:-1], TOKEN,
                    "Bearer " + TOKEN + "x", "bearer " + TOKEN):
            with self.subTest(header=bad):
                err = self.assertRpcError(
                    grpc.StatusCode.UNAUTHENTICATED, stub.Forward, request,
                    timeout=5, metadata=[("authorization", bad)])
                self.assertIn("not valid", err.details())
        good = [("authorization", "Bearer " + TOKEN)]
        response = stub.Forward(request, timeout=5, metadata=good)
        np.testing.assert_array_equal(h.from_tensor(response.output), [0, 2])
        self.assertRpcError(grpc.StatusCode.UNAUTHENTICATED, stub.GetServerInfo,
                            h.pb.GetServerInfoRequest(), timeout=5)
        self.assertEqual(stub.GetServerInfo(h.pb.GetServerInfoRequest(), timeout=5,
                                            metadata=good).max_inflight, 64)
        self.assertRpcError(grpc.StatusCode.UNAUTHENTICATED, stub.ListActivations,
                            h.pb.ListActivationsRequest(), timeout=5)
        self.assertGreater(len(stub.ListActivations(
            h.pb.ListActivationsRequest(), timeout=5, metadata=good).activations), 0)
        # Health needs no token (the harness already waited on it without one).
        self.assertEqual(server.health_status(),
                         h.health_pb2.HealthCheckResponse.SERVING)

    def test_token_from_flag(self):
        server = self.start("--auth_token_file", self.token_file, "--access_log",
                            "--log_level", "debug")
        self.check_server(server)
        log = server.log()
        self.assertRegex(log, r"method=Forward activation=relu dtype=float32 "
                              r"elements=2 code=OK")
        self.assertNotIn(TOKEN, log)
        self.assertNotIn(TOKEN[:12], log)

    def test_token_from_env(self):
        env = h.clean_env(ACTD_AUTH_TOKEN_FILE=self.token_file)
        self.check_server(self.start(env=env))


if __name__ == "__main__":
    h.main()

"""Configuration of the actd binary: every flag also read from its ACTD_*
environment variable, flags winning over the environment, bad configuration
refused with exit status 2 and one clear line, and --help.

Operators deploy actd through environment variables (containers) as often as
through flags, so both paths are checked against the running server.
"""

import json
import re
import signal
import socket
import time

import numpy as np

import actd_harness as h
from actd_harness import grpc

# --help's groups and the flags in each, in kebab-case.
GROUPS = {
    "Network": ["host", "port", "metrics-port", "threads", "max-connection-age",
                "keepalive-time", "keepalive-timeout", "shutdown-grace"],
    "Limits": ["max-message-bytes", "max-elements", "max-batch-items",
               "max-inflight", "max-concurrent-streams"],
    "Compute": ["compute-threads", "isa"],
    "Observability": ["log-level", "log-format", "access-log"],
    "Security": ["tls-cert", "tls-key", "tls-client-ca", "auth-token-file"],
}

HELP_HINT = "Run with --help for more information."


def http2_settings(port):
    """The SETTINGS a server sends first on a cleartext HTTP/2 connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                     b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        data = b""
        while len(data) < 9 or len(data) < 9 + int.from_bytes(data[:3], "big"):
            chunk = conn.recv(4096)
            if not chunk:
                raise AssertionError("connection closed after %r" % data)
            data += chunk
    length, kind = int.from_bytes(data[:3], "big"), data[3]
    if kind != 4:
        raise AssertionError("first frame is type %d, not SETTINGS" % kind)
    payload = data[9:9 + length]
    return {int.from_bytes(payload[i:i + 2], "big"):
            int.from_bytes(payload[i + 2:i + 6], "big")
            for i in range(0, length, 6)}


class ConfigTest(h.ActdTestCase):

    def info(self, server):
        return server.stub().GetServerInfo(h.pb.GetServerInfoRequest(), timeout=5)

    def test_host_ports_from_env(self):
        port, metrics_port = h.free_ports(2)
        env = h.clean_env(ACTD_HOST="127.0.0.1", ACTD_PORT=port,
                          ACTD_METRICS_PORT=metrics_port)
        server = self.start(env=env, port=port, metrics_port=metrics_port,
                            use_flags=False)
        self.assertEqual(h.listening_ports(server.pid), {port, metrics_port})
        self.assertIn("actd_build_info", server.metrics_text())
        self.assertIn("listening on 127.0.0.1:%d" % port, server.log())

    def test_limits_and_compute_from_env(self):
        env = h.clean_env(ACTD_MAX_ELEMENTS=5000, ACTD_MAX_BATCH_ITEMS=7,
                          ACTD_MAX_INFLIGHT=3, ACTD_MAX_MESSAGE_BYTES=2 * h.MiB,
                          ACTD_COMPUTE_THREADS=1, ACTD_ISA="baseline",
                          ACTD_THREADS=8)
        server = self.start(env=env)
        info = self.info(server)
        self.assertEqual(info.max_elements, 5000)
        self.assertEqual(info.max_batch_items, 7)
        self.assertEqual(info.max_inflight, 3)
        self.assertEqual(info.max_message_bytes, 2 * h.MiB)
        self.assertEqual(info.compute_threads, 1)
        self.assertEqual(info.isa, "baseline")
        stub = server.stub(h.BIG_CHANNEL)
        err = self.assertRpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, stub.Forward,
            h.forward_request("relu", np.zeros(5001, np.float32)), timeout=5)
        self.assertIn("--max_elements", err.details())
        # 3 MiB is over the 2 MiB message limit taken from the environment.
        self.assertRpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, stub.Forward,
            h.forward_request("relu", np.zeros((3 * h.MiB) // 4, np.float32)),
            timeout=10)

    def test_logging_from_env(self):
        env = h.clean_env(ACTD_LOG_FORMAT="json", ACTD_ACCESS_LOG="true",
                          ACTD_LOG_LEVEL="info")
        server = self.start(env=env)
        stub = server.stub()
        for _ in range(3):
            stub.Forward(h.forward_request("relu", np.ones(4, np.float32)), timeout=5)
        lines = server.log().splitlines()
        records = [json.loads(line) for line in lines]  # every line is JSON
        access = [r for r in records if r["msg"] == "request"]
        self.assertEqual(len(access), 3, lines)

    def test_log_level_from_env(self):
        # warn: the startup line (info) is gone, a refused call's warning stays.
        env = h.clean_env(ACTD_LOG_LEVEL="warn", ACTD_ACCESS_LOG="1",
                          ACTD_MAX_ELEMENTS=10)
        server = self.start(env=env)
        self.assertRpcError(
            grpc.StatusCode.RESOURCE_EXHAUSTED, server.stub().Forward,
            h.forward_request("relu", np.ones(11, np.float32)), timeout=5)
        log = server.log()
        self.assertNotIn("listening on", log)
        self.assertNotIn("[info]", log)
        self.assertEqual(len(re.findall(r"\[warning\] request id=1 Forward failed", log)),
                         1, log)

    def test_shutdown_grace_from_env(self):
        server = self.start(env=h.clean_env(ACTD_SHUTDOWN_GRACE="1.5"))
        server.signal(signal.SIGTERM)
        self.assertEqual(server.wait_exit(10), 0)
        self.assertIn("draining for up to 1.5 s", server.log())

    def test_env_values_are_validated(self):
        # Flags whose effect is not visible from outside still come from the
        # environment: a bad value there is refused under the flag's name.
        # A value the parser refuses is named by its variable; one that is
        # checked after parsing (files, the ISA) by its flag.
        cases = {
            "ACTD_THREADS": ("-1", "ACTD_THREADS=-1: --threads"),
            "ACTD_KEEPALIVE_TIME": ("0", "ACTD_KEEPALIVE_TIME=0: --keepalive-time"),
            "ACTD_KEEPALIVE_TIMEOUT": ("0.5", "ACTD_KEEPALIVE_TIMEOUT=0.5: --keepalive-timeout"),
            "ACTD_MAX_CONNECTION_AGE": ("-1", "ACTD_MAX_CONNECTION_AGE=-1: --max-connection-age"),
            "ACTD_TLS_CLIENT_CA": ("/etc/hostname", "--tls-client-ca"),
            "ACTD_TLS_KEY": ("/etc/hostname", "--tls-cert/--tls-key"),
            "ACTD_AUTH_TOKEN_FILE": ("/nonexistent/token", "--auth-token-file"),
            "ACTD_PORT": ("70000", "ACTD_PORT=70000: --port"),
            "ACTD_ISA": ("sse9", "--isa"),
            "ACTD_ACCESS_LOG": ("maybe", "ACTD_ACCESS_LOG=maybe"),
        }
        for var, (value, expected) in cases.items():
            with self.subTest(var=var):
                rc, out, err, seconds = self.run_actd(
                    ["--metrics_port", "0"], env=h.clean_env(**{var: value}))
                self.assertEqual(rc, 2, (out, err))
                self.assertLess(seconds, 3)
                self.assertIn(expected, self.diagnostic(err))

    def test_kubernetes_service_variable_is_named(self):
        # Kubernetes sets ACTD_PORT=tcp://... for a Service named actd.
        rc, out, err, _ = self.run_actd(
            [], env=h.clean_env(ACTD_PORT="tcp://10.0.0.1:50051"))
        self.assertEqual(rc, 2, (out, err))
        line = self.diagnostic(err)
        self.assertTrue(line.startswith("ACTD_PORT=tcp://10.0.0.1:50051: --port"), line)
        self.assertIn("enableServiceLinks: false", line)

    def test_kebab_and_snake_case_flags(self):
        server = self.start("--max-elements", 2000, "--max_inflight", 9,
                            "--max-batch-items=5", "--compute_threads=1")
        info = self.info(server)
        self.assertEqual((info.max_elements, info.max_inflight,
                          info.max_batch_items, info.compute_threads), (2000, 9, 5, 1))

    def test_version(self):
        rc, out, err, seconds = self.run_actd(["--version"])
        self.assertEqual(rc, 0, err)
        self.assertLess(seconds, 3)
        self.assertRegex(out.strip(), r"^actd \d+\.\d+\.\d+$")

    def test_flag_wins_over_env(self):
        env_port, flag_port = h.free_ports(2)
        env = h.clean_env(ACTD_MAX_ELEMENTS=1000, ACTD_PORT=env_port,
                          ACTD_LOG_FORMAT="json", ACTD_MAX_INFLIGHT=5)
        server = self.start("--max_elements", 2000, "--log_format", "text",
                            "--max_inflight", 9, env=env, port=flag_port)
        info = self.info(server)
        self.assertEqual(info.max_elements, 2000)
        self.assertEqual(info.max_inflight, 9)
        self.assertNotIn(env_port, h.listening_ports(server.pid))
        self.assertIn(flag_port, h.listening_ports(server.pid))
        first = server.log().splitlines()[0]
        self.assertRegex(first, r"^\[\d{4}-\d\d-\d\d [\d:.]+\] \[info\] actd ")

    def diagnostic(self, stderr):
        """The one diagnostic line of stderr (the standard --help hint aside)."""
        lines = [l for l in stderr.splitlines() if l.strip() and l != HELP_HINT]
        self.assertEqual(len(lines), 1, "stderr: %r" % stderr)
        return lines[0]

    def test_bad_config_exits_2(self):
        cases = [
            (["--port", "70000"], "--port", "70000"),
            (["--log_level", "loud"], "--log-level", "loud"),
            (["--log-format", "xml"], "--log-format", "xml"),
            (["--tls_cert", "/etc/hostname"], "--tls-cert", "--tls-key"),
            (["--auth-token-file", "/nonexistent/token"], "--auth-token-file",
             "/nonexistent/token"),
            (["--no-such-flag"], "--no-such-flag", "--no-such-flag"),
            (["--max_elements", "0"], "--max-elements", "0"),
            (["--max-message-bytes", "10"], "--max-message-bytes", "10"),
        ]
        for args, flag, detail in cases:
            with self.subTest(args=args):
                rc, out, err, seconds = self.run_actd(args + ["--metrics_port", "0"])
                self.assertEqual(rc, 2, (out, err))
                self.assertLess(seconds, 3)
                self.assertEqual(out, "")
                line = self.diagnostic(err)
                self.assertIn(flag, line)
                self.assertIn(detail, line)

    def test_empty_token_file_exits_2(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".token") as f:
            f.write("  \n")
            f.flush()
            rc, out, err, _ = self.run_actd(["--auth_token_file", f.name,
                                             "--metrics_port", "0"])
        self.assertEqual(rc, 2, (out, err))
        self.assertIn("--auth-token-file", self.diagnostic(err))

    def test_port_in_use_exits_2(self):
        taken = socket.socket()
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in (["--port", port, "--metrics_port", 0],
                     ["--port", 0, "--metrics_port", port]):
            with self.subTest(args=args):
                rc, out, err, seconds = self.run_actd(["--host", "127.0.0.1"] + args)
                self.assertEqual(rc, 2, (out, err))
                self.assertLess(seconds, 3)
                self.assertIn("port %d is in use" % port, out + err)

    def test_second_server_on_a_port_exits_2(self):
        # gRPC's SO_REUSEPORT would let both listen and split the calls.
        first = self.start()
        rc, out, err, seconds = self.run_actd(
            ["--host", "127.0.0.1", "--port", first.port, "--metrics_port", 0])
        self.assertEqual(rc, 2, (out, err))
        self.assertLess(seconds, 3)
        self.assertIn("cannot listen on 127.0.0.1:%d: port %d is in use" %
                      (first.port, first.port), out + err)
        info = first.stub().GetServerInfo(h.pb.GetServerInfoRequest(), timeout=5)
        self.assertTrue(info.version)

    def test_max_concurrent_streams_is_announced(self):
        # The server's HTTP/2 SETTINGS carry the limit (id 3); 0 sends none.
        for flags, expected in (([], 100), (["--max-concurrent-streams", 7], 7),
                                (["--max-concurrent-streams", 0], None)):
            with self.subTest(flags=flags):
                server = self.start(*flags)
                self.assertEqual(http2_settings(server.port).get(3), expected)

    def test_help(self):
        rc, out, err, seconds = self.run_actd(["--help"])
        self.assertEqual(rc, 0, err)
        self.assertLess(seconds, 3)
        self.assertIn("--max_elements works too", out)
        # Each group's heading, then its flags with their variables.
        sections = re.split(r"(?m)^(\w+):$", out)
        groups = dict(zip(sections[1::2], sections[2::2]))
        for group, flags in GROUPS.items():
            for flag in flags:
                with self.subTest(flag=flag):
                    self.assertRegex(groups.get(group, ""),
                                     r"(?m)^\s+--%s\b.*\(Env:ACTD_%s\)" %
                                     (flag, flag.upper().replace("-", "_")))
        # Prometheus' own port is 9090: actd's default must not collide with it.
        self.assertRegex(groups["Network"], r"--metrics-port INT.*=8002 ")


if __name__ == "__main__":
    h.main()

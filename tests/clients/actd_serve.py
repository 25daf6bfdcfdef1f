#!/usr/bin/python3
"""Starts one actd through the shared launcher (tests/server/actd_harness.py) for test
suites in other languages: prints {"port": N, "metrics_port": M} on one line once the
server is SERVING, keeps it running until stdin closes, then stops it.
Usage: actd_serve.py path/to/actd [actd flags...]
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import actd_harness  # noqa: E402


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    actd_harness.ACTD = os.path.abspath(sys.argv[1])
    server = actd_harness.ActdServer(*sys.argv[2:])
    try:
        print(json.dumps({"port": server.port, "metrics_port": server.metrics_port}),
              flush=True)
        sys.stdin.read()  # until the parent closes our stdin (or exits)
    finally:
        server.stop()


if __name__ == "__main__":
    main()

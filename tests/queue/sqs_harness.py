#!/usr/bin/python3
"""Starts `thumbpipe serve` (its SQS API) for a test, runs the test, stops serve by PID.

    sqs_harness.py THUMBPIPE -- COMMAND ARGS...

serve listens on a free loopback port with a fresh data directory (tests/server/serve_harness.py).
COMMAND runs with THUMBPIPE_TEST_SQS_ENDPOINT=http://127.0.0.1:PORT and the generated key in
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (AWS profile files pointed at /dev/null, so nothing
from the machine's ~/.aws is used); its exit code is the harness's.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
import serve_harness  # noqa: E402


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    server = serve_harness.Server(sys.argv[1])
    try:
        env = server.client_env()
        env["THUMBPIPE_TEST_SQS_ENDPOINT"] = server.endpoint
        code = subprocess.run(sys.argv[3:], env=env).returncode
    finally:
        stopped = server.stop()
    if code == 0 and stopped != 0:
        print(f"serve exited with {stopped}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())

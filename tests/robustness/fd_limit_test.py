#!/usr/bin/python3
"""Catalogue item 44: `thumbpipe serve` out of file descriptors (RLIMIT_NOFILE 64) under a
flood of connections answers the clients it cannot take with 503 SlowDown instead of leaving
them in the listen backlog, does not spin, stays up, and serves normally once the connections
are gone.

    fd_limit_test.py THUMBPIPE
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from serve_harness import Server, poll  # noqa: E402

LIMIT = 64
FLOOD = 120  # connections held open at once: about twice what the limit leaves for them
ANSWER_S = 20  # how long the flood waits for its answers (the 503s come about 20 a second)


def read_some(sock, timeout):
    sock.settimeout(timeout)
    try:
        return sock.recv(4096)
    except socket.timeout:
        return None
    except ConnectionError:
        return b""


def get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data
            data += chunk


def main():
    server = Server(sys.argv[1], max_open_files=LIMIT)
    try:
        assert get(server.port, "/healthz").startswith(b"HTTP/1.1 200"), "not healthy at start"
        flood = []
        for _ in range(FLOOD):
            flood.append(socket.create_connection(("127.0.0.1", server.port), timeout=10))
        # The connections serve could take sit idle (their header timeout is 15 s); the others
        # must be answered. Read each until it answers or the time is up.
        answered, silent = 0, []
        end = time.monotonic() + ANSWER_S
        pending = list(flood)
        while pending and time.monotonic() < end:
            still = []
            for s in pending:
                data = read_some(s, 0.01)
                if data is None:
                    still.append(s)
                elif data:
                    assert data.startswith(b"HTTP/1.1 503"), data[:200]
                    assert b"SlowDown" in data, data[:400]
                    answered += 1
            pending = still
            # Those still pending are either held by serve (idle, accepted) or still waiting.
            if answered + LIMIT >= FLOOD:
                break
        assert answered > 0, "no client over the descriptor limit was answered 503"
        assert server.proc.poll() is None, "serve died:\n" + server.output()
        # serve did not spin meanwhile: its CPU time stays far below the wall time.
        with open(f"/proc/{server.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        assert cpu_s < 10, f"serve used {cpu_s:.1f} CPU s during the flood"
        for s in flood:
            s.close()
        # Once the descriptors are back, requests are served as before.
        poll(lambda: get(server.port, "/healthz").startswith(b"HTTP/1.1 200"), what="/healthz after the flood")
        print(f"ok: {answered} of {FLOOD} connections answered 503 at RLIMIT_NOFILE {LIMIT}, CPU {cpu_s:.2f} s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

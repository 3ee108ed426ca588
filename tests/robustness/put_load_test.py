#!/usr/bin/python3
"""Catalogue item 37, sized for CI: `thumbpipe serve` with its workers under a burst of
100 KB PUTs at 32 connections (bench/s3's load generator, SigV4). Every PUT gets 200 (no 5xx),
every acknowledged PUT has exactly one event, and the queue drains afterwards: the bodies are
random bytes named .jpg, so each job ends at once in the DLQ as unsupported, which is the
pipeline's verdict for them.

    put_load_test.py THUMBPIPE S3_LOAD
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from serve_harness import Server, poll  # noqa: E402

COUNT = 2000
CONCURRENCY = 32
SIZE = 100 * 1024


def main():
    thumbpipe, s3_load = sys.argv[1], sys.argv[2]
    server = Server(thumbpipe, workers=2)
    try:
        out = subprocess.run(
            [s3_load, "--endpoint", server.endpoint, "--access-key", server.access_key,
             "--secret-key", server.secret_key, "--bucket", "images", "--op", "put",
             "--size", str(SIZE), "--count", str(COUNT), "--concurrency", str(CONCURRENCY),
             "--prefix", "uploads/load", "--suffix", ".jpg"],
            capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["count"] == COUNT, result
        assert result["errors"] == 0, result
        # Every acknowledged PUT has its event, once: the queue's sent counter (the relay
        # sends with dedup ids, so a resent outbox entry would not count twice).
        sent = poll(lambda: server.events_sent() >= COUNT and server.events_sent(), what=f"{COUNT} events")
        assert sent == COUNT, f"{sent} events for {COUNT} PUTs"
        # The workers take every message; random bytes are refused for good: the DLQ.
        def drained():
            s = server.queue_cli("stats")
            return s["visible"] + s["in_flight"] + s["delayed"] == 0 and s["dead"] == COUNT and s
        stats = poll(drained, timeout=300, what="the queue to drain into the DLQ")
        assert server.proc.poll() is None, "serve died:\n" + server.output()
        print(f"ok: {COUNT} PUTs of {SIZE} B at c{CONCURRENCY}: {result['req_s']:.0f} req/s, p99 "
              f"{result['p99_ms']:.1f} ms, 0 errors, {sent} events, drained ({stats['dead']} in the DLQ)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()

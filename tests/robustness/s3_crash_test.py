#!/usr/bin/python3
"""kill -9 of `thumbpipe serve` at random moments during a stream of PUTs (issue 4, Robustness).

Each cycle starts `serve` on a random loopback port over the same data directory, runs PUTs
from several client threads (boto3, Debian's /usr/bin/python3), some of them rejected on
purpose (a wrong Content-MD5), and SIGKILLs the server at a random moment. After every restart
(serve has run its own recovery) every SQLite file serve keeps in the data directory (the
store's index, the queue; found by their header, not by name) passes `PRAGMA integrity_check`
and `PRAGMA foreign_key_check`, read with Debian's python3 sqlite3 beside the running serve,
and a listing shows every PUT acknowledged so far with the ETag (MD5) of its bytes and no
rejected or unknown object. After the last cycle a final `serve` starts and drains its outbox,
and the test checks:
  - every PUT that got a 200 is readable with exactly the bytes sent, and has exactly one
    ObjectCreated event in the queue (a crash between the relay's queue commit and its outbox
    delete makes it send the entry again, with the same dedup id, which the queue drops);
  - an object exists if and only if it has an event (a PUT cut off by the kill may have
    landed or not, but never one without the other), and no event names a missing object;
  - no rejected PUT left an object or an event;
  - no temporary blob is left in the data directory (the store's tmp/ is empty).

Usage: s3_crash_test.py THUMBPIPE [CYCLES]
"""
import hashlib
import base64
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from urllib.parse import unquote_plus

import boto3
import botocore
from botocore.config import Config

THUMBPIPE = sys.argv[1]
CYCLES = int(sys.argv[2]) if len(sys.argv) > 2 else 4
ACCESS_KEY = "CRASHTESTACCESSKEY01"
SECRET_KEY = "crash-test-secret-0123456789"
BUCKET = "images"
PREFIX = "uploads/"


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


def sqlite_files(data_dir):
    """Every SQLite database under data_dir, by its header (WAL and SHM files have none)."""
    found = []
    for path in sorted(data_dir.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                if f.read(16) == b"SQLite format 3\x00":
                    found.append(path)
    return found


def check_sqlite_files(data_dir):
    """PRAGMA integrity_check and foreign_key_check of every SQLite file, as another reader
    beside the running serve (WAL: a read transaction neither blocks nor disturbs it)."""
    files = sqlite_files(data_dir)
    names = {p.name for p in files}
    if not {"index.db", "queue.db"} <= names:
        raise AssertionError(f"expected the store index and the queue among the SQLite files, found {names}")
    for path in files:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            integrity = [row[0] for row in db.execute("PRAGMA integrity_check")]
            foreign = db.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            db.close()
        if integrity != ["ok"]:
            raise AssertionError(f"{path}: integrity_check says {integrity[:10]}")
        if foreign:
            raise AssertionError(f"{path}: foreign_key_check says {foreign[:10]}")
    return names


class Server:
    def __init__(self, root):
        self.root = root
        self.config = root / "thumbpipe.toml"
        self.config.write_text(f"""data_dir = "{root / 'data'}"
[[credentials]]
access_key = "{ACCESS_KEY}"
secret_key = "{SECRET_KEY}"
admin = true
[trigger]
bucket = "{BUCKET}"
prefix = "{PREFIX}"
suffixes = [".jpg"]
""")
        self.process = None

    def start(self):
        port_file = self.root / "port"
        port_file.unlink(missing_ok=True)
        args = [THUMBPIPE, "serve", "--config", str(self.config), "--listen", "127.0.0.1:0", "--port-file", str(port_file)]
        help_text = subprocess.run([THUMBPIPE, "serve", "--help"], capture_output=True, text=True).stdout
        if "--workers" in help_text:
            args += ["--workers", "0"]  # the API, notifier and queue only: events stay in the queue
        self.log = open(self.root / "serve.log", "a")
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        port = wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 30, "the port file")
        self.endpoint = f"http://127.0.0.1:{port}"
        self.s3 = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                               aws_secret_access_key=SECRET_KEY, region_name="us-east-1",
                               config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30,
                                             s3={"addressing_style": "path"}))

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.assert_exit(self.process.wait(60))

    def assert_exit(self, code):
        if code != 0:
            raise AssertionError(f"serve exited with {code}; log: {(self.root / 'serve.log').read_text()[-3000:]}")

    def cli_json(self, *args):
        out = subprocess.run([THUMBPIPE, *args, "--config", str(self.config), "--json"], capture_output=True,
                             text=True, timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"thumbpipe {' '.join(args)}: {out.stderr}")
        return json.loads(out.stdout)


class PutStream:
    """Client threads writing until told to stop; records what the server acknowledged."""

    def __init__(self, server, cycle, rng):
        self.server, self.cycle, self.rng = server, cycle, rng
        self.acked = {}       # key -> md5 hex of the bytes acknowledged
        self.attempted = {}   # key -> md5 hex, acknowledged or not
        self.rejected = set()  # keys sent with a wrong Content-MD5 and refused
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.failures = []  # what went wrong in a client thread (raised there, asserted by the test)

    def worker(self, thread_no):
        try:
            self.put_until_stopped(thread_no)
        except Exception as e:  # noqa: BLE001 - every failure is reported by the test
            with self.lock:
                self.failures.append(f"thread {thread_no}: {e!r}")

    def put_until_stopped(self, thread_no):
        n = 0
        while not self.stop.is_set():
            n += 1
            key = f"{PREFIX}c{self.cycle}/t{thread_no}/{n:05d}.jpg"
            size = self.rng.choice([0, 1, 100, 4096, 70_000, 300_000])
            body = os.urandom(size)
            md5 = hashlib.md5(body).hexdigest()
            bad_digest = n % 7 == 0
            with self.lock:
                self.attempted[key] = md5
            try:
                if bad_digest:
                    wrong = base64.b64encode(hashlib.md5(body + b"x").digest()).decode()
                    self.server.s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentMD5=wrong)
                    raise AssertionError(f"a PUT with a wrong Content-MD5 was accepted: {key}")
                self.server.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
                with self.lock:
                    self.acked[key] = md5
            except botocore.exceptions.ClientError as e:
                code = e.response["Error"]["Code"]
                if bad_digest and code in ("BadDigest", "InvalidDigest"):
                    with self.lock:
                        self.rejected.add(key)
                elif not self.stop.is_set():
                    raise
            except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                    botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectionError):
                return  # the server was killed under this request: it may or may not have landed


class RejectedPutsKeepTheConnectionSane(unittest.TestCase):
    def test_a_rejected_put_never_makes_the_next_one_on_the_connection_misread(self):
        # botocore sends Expect: 100-continue with every PUT; a final answer that came before
        # the 100 must close the connection, or botocore reads the next response with the
        # rejected one's status (a BadDigest once came back as "accepted" that way).
        with tempfile.TemporaryDirectory(dir=os.environ.get("THUMBPIPE_TEST_TMP")) as tmp:
            server = Server(Path(tmp))
            server.start()
            try:
                for size in (0, 1, 100, 4096, 0, 70_000):
                    body = os.urandom(size)
                    wrong = base64.b64encode(hashlib.md5(body + b"x").digest()).decode()
                    with self.assertRaises(botocore.exceptions.ClientError) as caught:
                        server.s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}bad{size}.jpg", Body=body, ContentMD5=wrong)
                    self.assertEqual(caught.exception.response["Error"]["Code"], "BadDigest")
                    server.s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}good{size}.jpg", Body=body)
                    got = server.s3.get_object(Bucket=BUCKET, Key=f"{PREFIX}good{size}.jpg")["Body"].read()
                    self.assertEqual(got, body)
                    with self.assertRaises(botocore.exceptions.ClientError):
                        server.s3.head_object(Bucket=BUCKET, Key=f"{PREFIX}bad{size}.jpg")
            finally:
                server.stop()


class CrashDuringPuts(unittest.TestCase):
    def test_kill_9_during_a_stream_of_puts(self):
        seed = int(os.environ.get("THUMBPIPE_TEST_SEED", time.time_ns() % 1_000_000))
        rng = random.Random(seed)
        print(f"seed {seed} (THUMBPIPE_TEST_SEED to repeat)", flush=True)
        with tempfile.TemporaryDirectory(dir=os.environ.get("THUMBPIPE_TEST_TMP")) as tmp:
            server = Server(Path(tmp))
            acked, attempted, rejected = {}, {}, set()
            data_dir = Path(tmp) / "data"
            checked = set()
            for cycle in range(CYCLES):
                server.start()
                if cycle > 0:  # a restart after a kill: (e), then (a) and (b) as a listing shows them
                    checked |= check_sqlite_files(data_dir)
                    self.check_listing(server, acked, attempted, rejected)
                stream = PutStream(server, cycle, random.Random(rng.random()))
                threads = [threading.Thread(target=stream.worker, args=(i,), daemon=True) for i in range(4)]
                for t in threads:
                    t.start()
                # Kill once some PUTs have landed, at a random point after that.
                wait_for(lambda: len(stream.acked) >= 5, 60, "the first acknowledged PUTs")
                time.sleep(rng.uniform(0.0, 1.5))  # the random moment of the crash, not a synchronisation
                stream.stop.set()
                server.kill()
                for t in threads:
                    t.join(60)
                self.assertEqual(stream.failures, [])
                acked.update(stream.acked)
                attempted.update(stream.attempted)
                rejected |= stream.rejected
            self.assertGreater(len(acked), 20)

            server.start()
            checked |= check_sqlite_files(data_dir)
            objects = {}
            for page in server.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
                for o in page.get("Contents", []):
                    objects[o["Key"]] = o["ETag"].strip('"')
            # The relay moves the outbox into the queue after start-up: wait until every object's
            # event is there (or fail with what is missing).
            events = {}

            def receive_some():
                messages = server.cli_json("queue", "receive", "--max", "10", "--visibility", "1h")
                for m in messages:
                    body = json.loads(m["body"])
                    for r in body.get("Records", []):
                        if r["eventName"].startswith("ObjectCreated:"):
                            key = unquote_plus(r["s3"]["object"]["key"])
                            events.setdefault(key, []).append(r["s3"]["object"]["eTag"])
                return len(messages)

            def queued():
                status = server.cli_json("queue", "stats")
                return status["visible"] + status["in_flight"] >= len(objects)

            # The relay is done when the queue holds an event per object (a duplicate is
            # dropped by its dedup id); then every event is taken, ten per receive, however
            # many cycles made them (200 cycles leave thousands: no fixed deadline fits).
            try:
                wait_for(queued, 60, "an event per stored object in the queue")
            except AssertionError:
                pass  # the listing of what is missing, below, says more
            while receive_some():
                pass
            missing = sorted(set(objects) - set(events))
            if missing:
                self.fail(f"{len(missing)} objects without an event, e.g. {missing[:5]}")
            # Anything the relay still had would be a second event: let it finish, take the rest.
            server.stop()
            server.start()
            while receive_some():
                pass

            for key, md5 in acked.items():
                self.assertIn(key, objects, f"acknowledged PUT lost: {key}")
                body = server.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
                self.assertEqual(hashlib.md5(body).hexdigest(), md5, f"wrong bytes for {key}")
                # Exactly one event, of this version, even when a crash fell between the
                # relay's queue commit and its outbox delete (src/events/README.md).
                self.assertEqual(events.get(key), [md5], f"{key}: events {events.get(key)}")
            for key, etag in objects.items():
                self.assertIn(key, attempted, f"an object nobody wrote: {key}")
                self.assertNotIn(key, rejected, f"a rejected PUT left an object: {key}")
                self.assertEqual(etag, attempted[key], f"{key} holds other bytes than were sent")
                self.assertEqual(len(events[key]), 1, f"{key}: events {events[key]}")
            for key in events:
                self.assertIn(key, objects, f"an event for an object that does not exist: {key}")
            server.stop()

            # Temp blobs are named by id inside the store's tmp/ directory.
            temp_dir = data_dir / "objects" / "tmp"
            self.assertTrue(temp_dir.is_dir(), f"no temp area at {temp_dir}")
            leftovers = [p for p in temp_dir.rglob("*") if p.is_file()]
            self.assertEqual(leftovers, [], "temporary blobs left after restart")
            print(f"{CYCLES} crashes, {len(attempted)} PUTs attempted, {len(acked)} acknowledged, "
                  f"{len(rejected)} rejected on purpose, {len(objects)} objects, each with exactly one event; "
                  f"integrity_check ok after every restart on {sorted(checked)}", flush=True)

    def check_listing(self, server, acked, attempted, rejected):
        """After a restart: every PUT acknowledged so far is listed with the MD5 of its bytes (a),
        and every listed object is one that was sent, with those bytes, and not refused (b)."""
        objects = {}
        for page in server.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=PREFIX):
            for o in page.get("Contents", []):
                objects[o["Key"]] = o["ETag"].strip('"')
        for key, md5 in acked.items():
            self.assertEqual(objects.get(key), md5, f"acknowledged PUT lost or changed after a restart: {key}")
        for key, etag in objects.items():
            self.assertNotIn(key, rejected, f"a rejected PUT left an object: {key}")
            self.assertEqual(etag, attempted.get(key), f"{key}: bytes nobody sent")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1])

#!/usr/bin/python3
"""The long run (reliability catalogue item 41): mixed traffic for a set time with a worker
killed every few minutes, then every invariant checked, and the resources of the run printed.

`thumbpipe serve --workers 0` takes the traffic; a `thumbpipe worker --workers 2` beside it
on the same data directory makes the renditions, and is SIGKILLed and started again every
`--kill-every` seconds (a crash mid-job: its messages come back after the visibility
timeout). Client threads (boto3) meanwhile:
  - upload images under uploads/ (a few sizes, mostly new keys, some over an earlier upload;
    one in 25 is a truncated JPEG, which must end in the DLQ and nowhere else);
  - delete some of their earlier uploads (ObjectRemoved: the renditions must go too);
  - GET and HEAD uploads and renditions, and list the bucket.
Every `--sample-every` seconds it prints serve's and the worker's RSS and open file
descriptors, the data directory's size, and the queue's depth.

At the end, with the traffic stopped and the queue drained:
  - every upload still present has every rendition, made from its current bytes (the
    rendition's thumbpipe-source-etag is the upload's ETag); every deleted upload has none;
  - the DLQ holds exactly the truncated uploads, each once, with a "corrupt" reason;
  - no client saw a 5xx;
  - serve's RSS and open descriptors at the end are within bounds of the first sample after
    the warm-up (no leak that grows with requests), and the SQLite WAL files stay under their
    checkpoint limit.

Not part of CI (it is meant to run for hours): `tests/robustness/soak_test.py
build/src/cli/thumbpipe --minutes 120`. bench/README.md has the figures of a run.
"""
import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
import urllib.parse

import botocore

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pipeline"))
from pipeline_harness import (BUCKET, Pipeline, Worker, default_renditions, make_image, poll,  # noqa: E402
                              print_log_tails)

SIZES = [(640, 480), (1600, 1200), (2400, 1600), (800, 1200)]
MiB = 1 << 20
WAL_LIMIT = 80 * MiB  # the queue and the store checkpoint their WAL long before this


def rss_and_fds(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return 0, 0


def tree_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def wal_files(path):
    out = {}
    for root, _, files in os.walk(path):
        for name in files:
            if name.endswith("-wal"):
                full = os.path.join(root, name)
                out[os.path.relpath(full, path)] = os.path.getsize(full)
    return out


class Traffic:
    """The client threads and what they did, for the checks at the end."""

    def __init__(self, p, images, corrupt, seed, rate_per_client):
        self.p = p
        self.images = images          # (path, (w, h))
        self.corrupt = corrupt        # path of a truncated JPEG
        self.rng = random.Random(seed)
        self.mu = threading.Lock()
        self.live = {}                # key -> (w, h) of uploads not deleted
        self.deleted = set()
        self.corrupt_keys = set()
        self.server_errors = []
        self.counts = {"put": 0, "delete": 0, "get": 0, "list": 0}
        self.stop = threading.Event()
        self.next_id = 0
        self.rate_per_client = rate_per_client  # requests a second, Poisson; 0 = flat out

    def _key(self, ext):
        with self.mu:
            self.next_id += 1
            return f"uploads/soak-{self.next_id:06d}.{ext}"

    def _record_error(self, what, e):
        code = getattr(e, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code >= 500 or code == 0:
            with self.mu:
                self.server_errors.append(f"{what}: {e}")

    def one(self, s3, rng, mine):
        """One request. `mine`: this client's live uploads; a client overwrites and deletes
        only its own, so that whether a key should exist at the end is never a race between
        two clients."""
        roll = rng.random()
        if roll < 0.04:
            key = self._key("jpg")
            s3.upload_file(self.corrupt, BUCKET, key)
            with self.mu:
                self.corrupt_keys.add(key)
                self.counts["put"] += 1
        elif roll < 0.44 or not mine:
            # Mostly a new key; one in ten over an earlier upload of this client's, whose
            # renditions must end up of the newer bytes.
            key = self._key("jpg") if roll < 0.40 or not mine else rng.choice(list(mine))
            path, size = rng.choice(self.images)
            s3.upload_file(path, BUCKET, key)
            mine[key] = size
            with self.mu:
                self.live[key] = size
                self.counts["put"] += 1
        elif roll < 0.52:
            key = rng.choice(list(mine))
            s3.delete_object(Bucket=BUCKET, Key=key)
            del mine[key]
            with self.mu:
                self.live.pop(key)
                self.deleted.add(key)
                self.counts["delete"] += 1
        elif roll < 0.95:
            with self.mu:
                candidates = list(self.live)
            if candidates:
                key = rng.choice(candidates)
                target = key if rng.random() < 0.5 else rng.choice(list(default_renditions(key, 1, 1)))
                try:
                    s3.get_object(Bucket=BUCKET, Key=target)["Body"].read()
                except botocore.exceptions.ClientError as e:
                    if e.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                        raise  # a rendition not made yet, or an upload deleted meanwhile, is fine
                with self.mu:
                    self.counts["get"] += 1
        else:
            s3.list_objects_v2(Bucket=BUCKET, Prefix="thumbnails/", MaxKeys=200)
            with self.mu:
                self.counts["list"] += 1

    def run_client(self, n):
        s3 = self.p.client()
        rng = random.Random(self.rng.random() + n)
        mine = {}
        while not self.stop.wait(rng.expovariate(self.rate_per_client) if self.rate_per_client else 0):
            try:
                self.one(s3, rng, mine)
            except botocore.exceptions.ClientError as e:
                self._record_error("client error", e)
            except Exception as e:  # a connection reset or a timeout counts as a server failure
                self._record_error(type(e).__name__, e)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("thumbpipe")
    parser.add_argument("--minutes", type=float, default=120)
    parser.add_argument("--kill-every", type=float, default=300, help="seconds between worker kills")
    parser.add_argument("--sample-every", type=float, default=60)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rate", type=float, default=10,
                        help="requests a second from all clients (about 45%% uploads); 0 = as fast as they go. "
                             "The default keeps 2 workers on 2 cores ahead of the uploads")
    parser.add_argument("--warmup", type=float, default=120, help="seconds before the baseline sample")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    thumbpipe = os.path.abspath(args.thumbpipe)

    with tempfile.TemporaryDirectory(prefix="thumbpipe-soak-") as tmp:
        images = []
        for i, (w, h) in enumerate(SIZES):
            path = os.path.join(tmp, f"img{i}.jpg")
            make_image(path, w, h, "convert", seed=i)
            images.append((path, (w, h)))
        corrupt = os.path.join(tmp, "truncated.jpg")
        with open(images[1][0], "rb") as f, open(corrupt, "wb") as out:
            data = f.read()
            out.write(data[: len(data) // 2])

        sections = {"worker": {"wait": "1s"}, "queue": {"visibility_timeout": "30s", "max_receive_count": 5}}
        p = Pipeline(thumbpipe, tmp, workers=0, sections=sections)
        data_dir = os.path.join(tmp, "data")
        workers = []

        def start_worker():
            w = Worker(p, workers=2, name=f"worker{len(workers)}")
            workers.append(w)
            return w

        worker = start_worker()
        traffic = Traffic(p, images, corrupt, args.seed, args.rate / args.clients)
        threads = [threading.Thread(target=traffic.run_client, args=(n,), daemon=True) for n in range(args.clients)]
        samples = []
        try:
            for t in threads:
                t.start()
            start = time.monotonic()
            end = start + args.minutes * 60
            next_kill = start + args.kill_every
            next_sample = start
            kills = 0
            print("| min | serve RSS MiB | serve fds | worker RSS MiB | worker fds | data MiB | largest WAL MiB "
                  "| visible | in flight | dead | puts | deletes | gets | lists |", flush=True)
            print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
            while time.monotonic() < end:
                now = time.monotonic()
                if now >= next_kill:
                    worker.kill()  # kill -9 mid-batch: its messages return after the visibility timeout
                    kills += 1
                    worker = start_worker()
                    next_kill += args.kill_every
                if now >= next_sample:
                    s_rss, s_fds = rss_and_fds(p.proc.pid)
                    w_rss, w_fds = rss_and_fds(worker.proc.pid)
                    status = p.cli("status")
                    wal = max(wal_files(data_dir).values() or [0])
                    with traffic.mu:
                        counts = dict(traffic.counts)
                    samples.append({"t": now - start, "rss": s_rss, "fds": s_fds, "wal": wal})
                    print(f"| {(now - start) / 60:.0f} | {s_rss / MiB:.0f} | {s_fds} | {w_rss / MiB:.0f} | {w_fds} | "
                          f"{tree_bytes(data_dir) / MiB:.0f} | {wal / MiB:.1f} | {status['visible']} | "
                          f"{status['in_flight']} | {status['dead']} | {counts['put']} | {counts['delete']} | "
                          f"{counts['get']} | {counts['list']} |", flush=True)
                    next_sample += args.sample_every
                if p.proc.poll() is not None:
                    raise AssertionError(f"serve exited {p.proc.returncode} during the run")
                time.sleep(0.5)  # the loop's tick, not synchronisation
            traffic.stop.set()
            for t in threads:
                t.join(timeout=120)

            # Drained: nothing visible, nothing in flight (the last killed worker's messages
            # come back after the 30 s visibility timeout and are made then).
            poll(p.drained, "the queue to drain", timeout=600, interval=1)
            checks = []
            assert not traffic.server_errors, f"{len(traffic.server_errors)} server errors: {traffic.server_errors[:5]}"
            checks.append(f"no 5xx or connection failure in {sum(traffic.counts.values())} requests")

            made = p.keys("thumbnails/")
            missing, stale = [], []
            for key, size in sorted(traffic.live.items()):
                etag = p.s3.head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')
                for r in default_renditions(key, *size):
                    if r not in made:
                        missing.append(r)
                        continue
                    meta = p.s3.head_object(Bucket=BUCKET, Key=r)["Metadata"]
                    if meta.get("thumbpipe-source-etag", "").strip('"') != etag:
                        stale.append((r, meta))
            assert not missing, f"{len(missing)} renditions missing, e.g. {missing[:5]}"
            assert not stale, f"{len(stale)} renditions not of their upload's bytes, e.g. {stale[:3]}"
            checks.append(f"all {len(traffic.live)} live uploads have their {3 * len(traffic.live)} renditions, "
                          "each of the upload's current bytes")
            orphans = [r for key in traffic.deleted for r in default_renditions(key, 1, 1) if r in made]
            assert not orphans, f"{len(orphans)} renditions of deleted uploads remain, e.g. {orphans[:5]}"
            checks.append(f"none of the {len(traffic.deleted)} deleted uploads has a rendition left")

            dead = p.cli("dlq", "list", "--limit", "10000")
            dead_keys = []
            for d in dead:
                assert "corrupt" in d["reason"].lower() or "damaged" in d["reason"].lower(), d["reason"]
                for record in json.loads(d["body"])["Records"]:
                    dead_keys.append(urllib.parse.unquote_plus(record["s3"]["object"]["key"]))
            assert sorted(dead_keys) == sorted(traffic.corrupt_keys), (
                f"DLQ has {len(dead_keys)} entries, {len(traffic.corrupt_keys)} truncated uploads; "
                f"extra {sorted(set(dead_keys) - traffic.corrupt_keys)[:5]}, "
                f"missing {sorted(traffic.corrupt_keys - set(dead_keys))[:5]}")
            checks.append(f"the DLQ holds exactly the {len(traffic.corrupt_keys)} truncated uploads, once each")

            baseline = next((s for s in samples if s["t"] >= args.warmup), samples[0])
            last = samples[-1]
            assert last["rss"] <= baseline["rss"] * 1.5 + 64 * MiB, (
                f"serve's RSS grew from {baseline['rss'] // MiB} MiB (after warm-up) to {last['rss'] // MiB} MiB")
            assert last["fds"] <= baseline["fds"] + 16, f"serve's descriptors grew from {baseline['fds']} to {last['fds']}"
            biggest = max(s["wal"] for s in samples)
            assert biggest <= WAL_LIMIT, f"a WAL reached {biggest // MiB} MiB"
            checks.append(f"serve RSS {baseline['rss'] // MiB} -> {last['rss'] // MiB} MiB and fds "
                          f"{baseline['fds']} -> {last['fds']} from minute {baseline['t'] / 60:.0f} to the end; "
                          f"largest WAL {biggest / MiB:.1f} MiB")
            print(f"\n{args.minutes:g} minutes, {kills} worker kills, requests {traffic.counts}")
            for c in checks:
                print(f"ok {c}")
            assert p.stop() == 0
            return 0
        except Exception:
            traffic.stop.set()
            print_log_tails([("serve", p.log)] + [(f"worker{i}", w.log) for i, w in enumerate(workers)])
            raise
        finally:
            for w in workers:
                w.close()
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGKILL)
                p.proc.wait()


if __name__ == "__main__":
    sys.exit(main())

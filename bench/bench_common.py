"""What bench/pipeline and bench/scale share: the engine-alone pass (`thumbpipe thumbnail -j N`),
the workers' per-job log lines read as they grow, uploads, the photo corpus, percentiles,
load average and CPU seconds from /proc. Debian's /usr/bin/python3; serve and worker processes
come from tests/pipeline/pipeline_harness.py.
"""
import datetime
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(REPO / "tests" / "pipeline"))
from pipeline_harness import BUCKET, children, cpu_seconds, job_lines  # noqa: E402  (re-exported)

IMAGE_EXT = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".heic", ".avif", ".gif"}


def log(message):
    print(message, file=sys.stderr, flush=True)


def ts_of(record):
    """A log record's wall-clock time in seconds since the epoch."""
    when = datetime.datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return when.replace(tzinfo=datetime.timezone.utc).timestamp()


def percentile(values, p):
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def load_average():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def own_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def engine_pass(thumbpipe, config, photos, jobs, out_dir):
    """(photos/s, {name: decode+encode ms}, CPU s) of `thumbpipe thumbnail -j jobs` on every photo."""
    cpu_before = children_cpu_seconds()
    started = time.monotonic()
    out = subprocess.run([thumbpipe, "thumbnail", "--config", config, "-o", out_dir, "-j", str(jobs),
                          *map(str, photos)], capture_output=True, text=True, timeout=1800)
    elapsed = time.monotonic() - started
    if out.returncode != 0:
        raise SystemExit(f"thumbpipe thumbnail failed ({out.returncode}): {out.stderr[-2000:]}")
    per_image = {}
    for line in out.stdout.splitlines():
        r = json.loads(line)
        per_image[os.path.basename(r["input"])] = r["decode_ms"] + r["encode_ms"]
    return len(photos) / elapsed, per_image, children_cpu_seconds() - cpu_before


class JobLog:
    """Reads serve's log as it grows: source key -> time its job line was written."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.done = {}
        self.jobs = {}

    def refresh(self):
        with open(self.path) as f:
            f.seek(self.offset)
            text = f.read()
            # Keep a partial last line for the next read.
            cut = text.rfind("\n") + 1
            self.offset += len(text[:cut].encode())
        for record in job_lines(text[:cut]):
            if record.get("result") in ("done", "skipped"):
                self.done.setdefault(record["keys"], ts_of(record))
                self.jobs.setdefault(record["keys"], record)
        return self.done


def upload(client, path, key):
    with open(path, "rb") as f:
        client.put_object(Bucket=BUCKET, Key=key, Body=f.read())
    return time.time()


def photos_in(directory):
    """The image files of `directory`, sorted; [] when it does not exist."""
    path = Path(directory)
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXT)

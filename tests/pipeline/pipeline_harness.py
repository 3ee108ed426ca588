"""What the pipeline's integration tests and bench/pipeline share: `thumbpipe serve` (and
`thumbpipe worker` processes beside it) on a random loopback port with a config file of the
test's own, a boto3 client, the `thumbpipe status/dlq/queue` views, images made with the
libvips and ImageMagick command-line tools, and renditions read back with vipsheader.

Every wait polls a condition with a deadline; nothing sleeps for synchronisation. Children
are stopped by their own PID. Runs under Debian's /usr/bin/python3 with its boto3.
"""
import json
import os
import sys
import signal
import subprocess
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

DEADLINE_S = 180  # generous: the machine is shared; the condition decides, not the clock
ACCESS_KEY = "AKIAPIPELINETEST0001"
SECRET_KEY = "pipeline-test-secret-0123456789abcdef"
BUCKET = "images"
SKIP = 77  # CTest's SKIP_RETURN_CODE for the tests that need an optional corpus


def poll(condition, what, timeout=DEADLINE_S, interval=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(interval)  # polling interval, not synchronisation
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def run(*args, ok_codes=(0,), **kwargs):
    out = subprocess.run(list(args), capture_output=True, text=True, timeout=300, **kwargs)
    if out.returncode not in ok_codes:
        raise AssertionError(f"{args} exited {out.returncode}: {out.stderr}{out.stdout}")
    return out.stdout


def print_log_tails(logs, chars=4000):
    """On a failure: the end of each (name, open log file) pair, to stderr."""
    for name, log in logs:
        log.seek(0)
        print(f"--- {name}\n" + log.read()[-chars:], file=sys.stderr)


def kill_all(procs):
    """SIGKILL whatever of `procs` still runs, and reap it (a test's cleanup)."""
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def children(pid):
    """PIDs of the live (not zombie) children of `pid` (serve's worker process under
    worker.isolation = process); empty when `pid` is gone."""
    found = set()
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.update(int(c) for c in f.read().split())
    except FileNotFoundError:
        return set()
    return {c for c in found if alive(c)}


def cpu_seconds(pid, tree=False):
    """User + system CPU seconds of a process so far (/proc/PID/stat); with `tree`, also of
    its children, live or reaped (serve's worker process under worker.isolation = process)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if tree else 0)
    total = ticks / os.sysconf("SC_CLK_TCK")
    for child in children(pid) if tree else ():
        try:
            total += cpu_seconds(child, tree=True)
        except FileNotFoundError:
            pass  # it ended meanwhile (its time is then in this process's reaped-children figure)
    return total


def alive(pid):
    """Running: /proc has it and it is not a zombie waiting for its parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def make_image(path, width, height, tool, seed=0):
    """A test image: "vips" a flat grey (cheap), "convert" a plasma fractal (photo-like;
    `seed` makes it differ from its siblings)."""
    if tool == "vips":
        black = path + ".v"
        run("vips", "black", black, str(width), str(height), "--bands", "3")
        run("vips", "linear", black, path, "1", "90")
        os.remove(black)
    else:
        run("convert", "-seed", str(seed), "-size", f"{width}x{height}", "plasma:", path)


def inside(width, height, box):
    """The size of `fit = inside` without enlarging (the default variants)."""
    scale = min(box / width, box / height, 1.0)
    return round(width * scale), round(height * scale)


def stem_of(key, prefix="uploads/"):
    return key[len(prefix):].rsplit(".", 1)[0]


def default_renditions(key, width, height):
    """rendition key -> ((width, height), loader) for DESIGN.md's three default variants."""
    stem = stem_of(key)
    return {
        f"thumbnails/small/{stem}.webp": ((128, 128), "webpload"),
        f"thumbnails/medium/{stem}.jpg": (inside(width, height, 512), "jpegload"),
        f"thumbnails/large/{stem}.webp": (inside(width, height, 1024), "webpload"),
    }


def image_header(path):
    """{"width", "height", "loader", "pages"} of an image file, from one vipsheader call."""
    fields = {}
    for line in run("vipsheader", "-a", path).splitlines():
        name, sep, value = line.partition(": ")
        if sep:
            fields[name.strip()] = value.strip()
    return {"width": int(fields["width"]), "height": int(fields["height"]),
            "loader": fields["vips-loader"], "pages": int(fields.get("n-pages", "1"))}


def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string is a JSON string for these values


def clean_env():
    """The environment without THUMBPIPE_* and AWS_* settings of the caller's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("THUMBPIPE_", "AWS_"))}


def write_config(tmp, sections=None, log_level="info"):
    """The test pipeline's config file in `tmp` (data in tmp/data, the test key as admin,
    uploads/ -> thumbnails/, 1 s long polls); `sections` adds or overrides keys:
    {"queue": {"url": ...}}. Returns its path."""
    path = os.path.join(tmp, "thumbpipe.toml")
    config = {"trigger": {"prefix": "uploads/"}, "output": {"prefix": "thumbnails/"}, "worker": {"wait": "1s"}}
    for name, keys in (sections or {}).items():
        config.setdefault(name, {}).update(keys)
    with open(path, "w") as f:
        f.write(f'data_dir = {toml_value(os.path.join(tmp, "data"))}\n[log]\nlevel = "{log_level}"\n'
                f'[[credentials]]\naccess_key = "{ACCESS_KEY}"\nsecret_key = "{SECRET_KEY}"\nadmin = true\n')
        for name, keys in config.items():
            f.write(f"[{name}]\n")
            for key, value in keys.items():
                f.write(f"{key} = {toml_value(value)}\n")
    return path


class Pipeline:
    """`thumbpipe serve --workers N` with a config of its own in `tmp`. `sections` adds or
    overrides config keys: {"worker": {"wait": "20s"}, "queue": {...}}."""

    def __init__(self, thumbpipe, tmp, workers=2, sections=None, log_level="info"):
        self.thumbpipe = thumbpipe
        self.tmp = tmp
        self.config = write_config(tmp, sections, log_level)
        self.env = clean_env()
        port_file = os.path.join(tmp, "port")
        self.log = open(os.path.join(tmp, "serve.log"), "w+")
        self.proc = subprocess.Popen(
            [thumbpipe, "serve", "--config", self.config, "--listen", "127.0.0.1:0", "--port-file", port_file,
             "--workers", str(workers)], stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        poll(lambda: os.path.exists(port_file) or self.proc.poll() is not None, "the port file", 60)
        if self.proc.poll() is not None:
            raise AssertionError("serve exited at start:\n" + self.output())
        with open(port_file) as f:
            self.endpoint = f"http://127.0.0.1:{int(f.read())}"
        self.s3 = self.client()

    def client(self):
        """A boto3 S3 client of its own (boto3 clients are thread-safe, sessions are not)."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def cli(self, *args):
        return json.loads(run(self.thumbpipe, *args, "--config", self.config, "--json", env=self.env))

    def keys(self, prefix):
        out = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            out.extend(o["Key"] for o in page.get("Contents", []))
        return set(out)

    def header(self, key):
        """(width, height), loader of a stored rendition (the shape default_renditions uses)."""
        h = self.rendition(key)
        return (h["width"], h["height"]), h["loader"]

    def rendition(self, key):
        path = os.path.join(self.tmp, "rendition")
        with open(path, "wb") as f:
            f.write(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        return image_header(path)

    def get(self, path):
        try:
            with urllib.request.urlopen(self.endpoint + path, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def drained(self):
        s = self.cli("status")
        return s["visible"] == 0 and s["in_flight"] == 0 and s["delayed"] == 0

    def stop(self, timeout=120):
        """SIGTERM, then the exit code; kills it (and fails) after `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"serve did not stop within {timeout} s of SIGTERM")


class Worker:
    """A `thumbpipe worker` process beside a Pipeline, on its data directory, with its metrics
    endpoint on a free port (never a fixed one)."""

    def __init__(self, pipeline, workers=1, env=None, name="worker", preexec_fn=None):
        self.log = open(os.path.join(pipeline.tmp, f"{name}.log"), "w+")
        self.proc = subprocess.Popen(
            [pipeline.thumbpipe, "worker", "--config", pipeline.config, "--workers", str(workers),
             "--metrics-listen", "127.0.0.1:0"],
            stdout=self.log, stderr=subprocess.STDOUT, env={**pipeline.env, **(env or {})}, preexec_fn=preexec_fn)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def kill(self):
        """kill -9, as a crash."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout=120):
        """SIGTERM, then the exit code; kills it (and fails) after `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"thumbpipe worker did not stop within {timeout} s of SIGTERM")

    def close(self):
        if self.proc.poll() is None:
            self.kill()
        self.log.close()


def job_lines(text):
    """The worker's one-JSON-line-per-job log records in `text` (other lines skipped)."""
    jobs = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("msg") == "job":
            jobs.append(record)
    return jobs

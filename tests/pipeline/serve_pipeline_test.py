"""The whole pipeline as a user runs it: `thumbpipe serve --workers 2` with a config file,
boto3 uploads under uploads/, and the renditions under thumbnails/ checked with vipsheader.

Covers: every valid image gets exactly its renditions with the right sizes and formats; a
truncated JPEG lands in the DLQ with its reason and makes no rendition; the queue drains to
zero; deleting a source deletes its renditions; `thumbpipe backfill` refills a deleted
rendition (and then finds nothing more to do); `thumbpipe status`; GET /metrics, /healthz,
/readyz on the S3 port; SIGTERM exits 0. Then `serve --workers 0` with a separate
`thumbpipe worker` process on the same data directory: the worker makes the renditions, and
exits 0 on SIGTERM.

Images are made here with libvips and ImageMagick. No sleeps for synchronisation: every wait
polls a condition with a deadline. Usage: serve_pipeline_test.py PATH/TO/thumbpipe
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config

DEADLINE_S = 180  # generous: the machine is shared; the condition decides, not the clock
ACCESS_KEY = "AKIAPIPELINETEST0001"
SECRET_KEY = "pipeline-test-secret-0123456789abcdef"
BUCKET = "images"

# (source key, width, height, how to make it)
SOURCES = [
    ("uploads/flat.jpg", 800, 600, "vips"),
    ("uploads/plasma.png", 640, 480, "convert"),
    ("uploads/dir/big photo.jpg", 1600, 1200, "convert"),
]
CORRUPT = "uploads/broken.jpg"


def poll(condition, what, timeout=DEADLINE_S):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)  # polling interval, not synchronisation
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def run(*args, **kwargs):
    out = subprocess.run(list(args), capture_output=True, text=True, timeout=120, **kwargs)
    if out.returncode != 0:
        raise AssertionError(f"{args} exited {out.returncode}: {out.stderr}{out.stdout}")
    return out.stdout


def make_image(path, width, height, tool):
    if tool == "vips":
        black = path + ".v"
        run("vips", "black", black, str(width), str(height), "--bands", "3")
        run("vips", "linear", black, path, "1", "90")
        os.remove(black)
    else:
        run("convert", "-size", f"{width}x{height}", "plasma:", path)


def inside(width, height, box):
    """The size of `fit = inside` without enlarging (the default variants)."""
    scale = min(box / width, box / height, 1.0)
    return round(width * scale), round(height * scale)


def expected_renditions(key, width, height):
    stem = key[len("uploads/"):].rsplit(".", 1)[0]
    return {
        f"thumbnails/small/{stem}.webp": ((128, 128), "webpload"),
        f"thumbnails/medium/{stem}.jpg": (inside(width, height, 512), "jpegload"),
        f"thumbnails/large/{stem}.webp": (inside(width, height, 1024), "webpload"),
    }


class Pipeline:
    def __init__(self, thumbpipe, tmp, workers=2):
        self.thumbpipe = thumbpipe
        self.tmp = tmp
        self.config = os.path.join(tmp, "thumbpipe.toml")
        with open(self.config, "w") as f:
            f.write(f'''data_dir = "{tmp}/data"
[log]
level = "info"
[[credentials]]
access_key = "{ACCESS_KEY}"
secret_key = "{SECRET_KEY}"
admin = true
[trigger]
prefix = "uploads/"
[output]
prefix = "thumbnails/"
[worker]
wait = "1s"
''')
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("THUMBPIPE_", "AWS_"))}
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
        self.s3 = boto3.session.Session().client(
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
        path = os.path.join(self.tmp, "rendition")
        with open(path, "wb") as f:
            f.write(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        width = int(run("vipsheader", "-f", "width", path))
        height = int(run("vipsheader", "-f", "height", path))
        loader = run("vipsheader", "-f", "vips-loader", path).strip()
        return (width, height), loader

    def get(self, path):
        try:
            with urllib.request.urlopen(self.endpoint + path, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def drained(self):
        s = self.cli("status")
        return s["visible"] == 0 and s["in_flight"] == 0 and s["delayed"] == 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("serve did not stop within 120 s of SIGTERM")


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    checks = 0
    with tempfile.TemporaryDirectory(prefix="thumbpipe-pipeline-") as tmp:
        images = os.path.join(tmp, "images")
        os.makedirs(images)
        p = Pipeline(thumbpipe, tmp)
        try:
            help_text = run(thumbpipe, "serve", "--help")
            assert "--workers" in help_text, help_text
            assert "workers:      2" in p.output(), p.output()

            expected = {}
            for i, (key, w, h, tool) in enumerate(SOURCES):
                path = os.path.join(images, f"{i}.{key.rsplit('.', 1)[1]}")
                make_image(path, w, h, tool)
                p.s3.upload_file(path, BUCKET, key)
                expected[key] = expected_renditions(key, w, h)
            whole = os.path.join(images, "whole.jpg")
            make_image(whole, 1200, 900, "convert")
            with open(whole, "rb") as f:
                data = f.read()
            p.s3.put_object(Bucket=BUCKET, Key=CORRUPT, Body=data[: len(data) * 2 // 5])

            all_renditions = {k for r in expected.values() for k in r}
            poll(lambda: p.keys("thumbnails/") == all_renditions, "every rendition")
            for key, renditions in expected.items():
                for rendition, want in renditions.items():
                    got = p.header(rendition)
                    assert got == want, f"{rendition} of {key}: got {got}, want {want}"
                    checks += 1
            print(f"ok: {len(all_renditions)} renditions of {len(SOURCES)} images with their sizes and formats")

            dead = poll(lambda: p.cli("dlq", "list"), "the corrupt file in the DLQ")
            assert len(dead) == 1, dead
            assert CORRUPT.split("/")[-1] in dead[0]["body"], dead[0]["body"]
            reason = dead[0]["reason"].lower()
            assert "corrupt" in reason or "damaged" in reason or "truncated" in reason, dead[0]["reason"]
            assert not any("broken" in k for k in p.keys("thumbnails/")), "the corrupt file made a rendition"
            poll(p.drained, "the queue to drain")
            status = p.cli("status")
            assert status["dead"] == 1 and status["visible"] == 0, status
            checks += 3
            print(f"ok: the truncated JPEG is in the DLQ ({dead[0]['reason']}); the queue drained")

            # Delete cascade.
            gone = "uploads/flat.jpg"
            p.s3.delete_object(Bucket=BUCKET, Key=gone)
            remaining = all_renditions - set(expected[gone])
            poll(lambda: p.keys("thumbnails/") == remaining, "the deleted source's renditions to go")
            checks += 1
            print("ok: deleting a source deleted its 3 renditions")

            # Backfill refills a gap. The corrupt source goes first: it has no renditions,
            # so backfill would (rightly) enqueue it again.
            p.s3.delete_object(Bucket=BUCKET, Key=CORRUPT)
            poll(p.drained, "the queue to drain after the deletes")
            hole = "thumbnails/small/plasma.webp"
            p.s3.delete_object(Bucket=BUCKET, Key=hole)
            report = p.cli("backfill")
            assert report["enqueued"] == 1 and report["sources"] == 2, report
            poll(lambda: hole in p.keys("thumbnails/"), "backfill to bring the rendition back")
            assert p.header(hole) == ((128, 128), "webpload")
            poll(p.drained, "the queue to drain after the backfill")
            again = p.cli("backfill", "--dry-run")
            assert again["enqueued"] == 0 and again["up_to_date"] == 2, again
            checks += 3
            print("ok: backfill enqueued 1, the rendition came back, a second run finds nothing to do")

            # Operations endpoints on the S3 port, without credentials.
            code, metrics = p.get("/metrics")
            assert code == 200, (code, metrics)
            for needle in ('thumbpipe_jobs_total{result="done"}', 'thumbpipe_jobs_total{result="dead_letter"}',
                           "thumbpipe_queue_dead 1", "thumbpipe_job_duration_seconds_bucket",
                           'thumbpipe_http_requests_total{operation="PutObject",status="200"}',
                           "process_resident_memory_bytes"):
                assert needle in metrics, f"{needle} not in /metrics:\n{metrics}"
            assert p.get("/healthz")[0] == 200 and p.get("/readyz")[0] == 200
            # Anything else unsigned is still S3's, refused.
            assert p.get("/metrics?x=1")[0] >= 400
            checks += 4
            print("ok: /metrics, /healthz, /readyz")
        except BaseException:
            print(p.output()[-20000:], file=sys.stderr)
            p.stop()
            raise
        code = p.stop()
        assert code == 0, f"serve exited {code} on SIGTERM:\n{p.output()[-5000:]}"
        checks += 1
        print("ok: SIGTERM exited 0")

    # Scale-out shape on one machine: the API alone, workers in their own process.
    with tempfile.TemporaryDirectory(prefix="thumbpipe-worker-") as tmp:
        p = Pipeline(thumbpipe, tmp, workers=0)
        worker_log = open(os.path.join(tmp, "worker.log"), "w+")
        worker = subprocess.Popen([thumbpipe, "worker", "--config", p.config, "--workers", "1"],
                                  stdout=worker_log, stderr=subprocess.STDOUT, env=p.env)
        try:
            assert "workers:      0" in p.output(), p.output()
            path = os.path.join(tmp, "one.png")
            make_image(path, 300, 200, "convert")
            p.s3.upload_file(path, BUCKET, "uploads/one.png")
            want = expected_renditions("uploads/one.png", 300, 200)
            poll(lambda: p.keys("thumbnails/") == set(want), "the worker process to make the renditions")
            for rendition, size_format in want.items():
                assert p.header(rendition) == size_format, rendition
            poll(p.drained, "the queue to drain")
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=120) == 0, "thumbpipe worker did not exit 0 on SIGTERM"
            checks += 2
            print("ok: a separate `thumbpipe worker` made the renditions and exited 0 on SIGTERM")
        except BaseException:
            worker_log.seek(0)
            print(p.output()[-10000:], worker_log.read()[-10000:], file=sys.stderr)
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            p.stop()
            raise
        assert p.stop() == 0
        worker_log.close()
    print(f"ok: {checks} checks passed")


if __name__ == "__main__":
    main()

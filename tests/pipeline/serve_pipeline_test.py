"""The whole pipeline as a user runs it: `thumbpipe serve --workers 2` with a config file,
boto3 uploads under uploads/, and the renditions under thumbnails/ checked with vipsheader.

Covers: every valid image gets exactly its renditions with the right sizes and formats; a
truncated JPEG lands in the DLQ with its reason and makes no rendition; the queue drains to
zero; deleting a source deletes its renditions; `thumbpipe backfill` refills a deleted
rendition (and then finds nothing more to do); `thumbpipe status`; GET /metrics, /healthz,
/readyz on the S3 port; SIGTERM exits 0. Then `serve --workers 0` with a separate
`thumbpipe worker` process on the same data directory: the worker makes the renditions.
Both serve and the worker run with a 20 s long poll (worker.wait) and must exit 0 on
SIGTERM within 10 s: the poll is cut short, not waited out.

Images are made here with libvips and ImageMagick (pipeline_harness.py). No sleeps for
synchronisation: every wait polls a condition with a deadline.
Usage: serve_pipeline_test.py PATH/TO/thumbpipe
"""
import os
import re
import subprocess
import sys
import tempfile
import urllib.request

from pipeline_harness import BUCKET, Pipeline, Worker, default_renditions, make_image, poll, run

# (source key, width, height, how to make it)
SOURCES = [
    ("uploads/flat.jpg", 800, 600, "vips"),
    ("uploads/plasma.png", 640, 480, "convert"),
    ("uploads/dir/big photo.jpg", 1600, 1200, "convert"),
]
CORRUPT = "uploads/broken.jpg"
# The SQS maximum long poll. An idle worker spends nearly all its time in such a poll, and
# SIGTERM must not wait it out: the stops below allow far less than this.
LONG_POLL = {"worker": {"wait": "20s"}}
STOP_WITHIN_S = 10


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    checks = 0
    with tempfile.TemporaryDirectory(prefix="thumbpipe-pipeline-") as tmp:
        images = os.path.join(tmp, "images")
        os.makedirs(images)
        p = Pipeline(thumbpipe, tmp, sections=LONG_POLL)
        try:
            help_text = run(thumbpipe, "serve", "--help")
            assert "--workers" in help_text, help_text
            assert "workers:      2 jobs at once" in p.output(), p.output()

            expected = {}
            for i, (key, w, h, tool) in enumerate(SOURCES):
                path = os.path.join(images, f"{i}.{key.rsplit('.', 1)[1]}")
                make_image(path, w, h, tool)
                p.s3.upload_file(path, BUCKET, key)
                expected[key] = default_renditions(key, w, h)
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
        # Its workers sit in a 20 s long poll since the last job: SIGTERM cuts it short.
        code = p.stop(timeout=STOP_WITHIN_S)
        assert code == 0, f"serve exited {code} on SIGTERM:\n{p.output()[-5000:]}"
        checks += 1
        print(f"ok: SIGTERM during a 20 s long poll: serve exited 0 within {STOP_WITHIN_S} s")

    # Scale-out shape on one machine: the API alone, workers in their own process.
    with tempfile.TemporaryDirectory(prefix="thumbpipe-worker-") as tmp:
        p = Pipeline(thumbpipe, tmp, workers=0, sections=LONG_POLL)
        worker = Worker(p, workers=1)
        try:
            assert "workers:      0" in p.output(), p.output()
            poll(lambda: "1 job at once" in worker.output(), "the worker's startup block")
            path = os.path.join(tmp, "one.png")
            make_image(path, 300, 200, "convert")
            p.s3.upload_file(path, BUCKET, "uploads/one.png")
            want = default_renditions("uploads/one.png", 300, 200)
            poll(lambda: p.keys("thumbnails/") == set(want), "the worker process to make the renditions")
            for rendition, size_format in want.items():
                assert p.header(rendition) == size_format, rendition
            poll(p.drained, "the queue to drain")
            checks += 1
            print("ok: a separate `thumbpipe worker` made the renditions")
            # Its /metrics on the free port --metrics-listen 127.0.0.1:0 got.
            metrics_url = re.search(r"metrics: +(http://\S+)", worker.output()).group(1)
            with urllib.request.urlopen(metrics_url, timeout=30) as r:
                body = r.read().decode()
            assert 'thumbpipe_jobs_total{result="done"} 1' in body, body
            bad = subprocess.run([thumbpipe, "worker", "--config", p.config, "--metrics-listen", "nowhere"],
                                 capture_output=True, text=True, env=p.env, timeout=60)
            assert bad.returncode == 2 and "--metrics-listen" in bad.stderr, (bad.returncode, bad.stderr)
            checks += 2
            print(f"ok: the worker's /metrics on {metrics_url}; a bad --metrics-listen is a usage error")
            # Its job done, the worker went straight back into a 20 s long poll: SIGTERM now
            # must not wait it out (the stop's timeout is half of it).
            code = worker.stop(timeout=STOP_WITHIN_S)
            assert code == 0, f"thumbpipe worker exited {code} on SIGTERM"
            checks += 1
            print(f"ok: SIGTERM during a 20 s long poll: thumbpipe worker exited 0 within {STOP_WITHIN_S} s")
        except BaseException:
            print(p.output()[-10000:], worker.output()[-10000:], file=sys.stderr)
            worker.close()
            p.stop()
            raise
        assert p.stop() == 0
        worker.close()
    print(f"ok: {checks} checks passed")


if __name__ == "__main__":
    main()

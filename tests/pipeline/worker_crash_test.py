"""kill -9 of `thumbpipe worker` processes in the middle of their batches loses nothing.

`thumbpipe serve --workers 0` holds the API and the queue; worker processes on the same data
directory take the jobs. In each round more images are uploaded with boto3, a worker starts,
and once it holds messages (the queue shows them in flight) it is killed with SIGKILL after a
random moment. A killed worker's messages stay hidden until their visibility runs out (a short
queue.visibility_timeout here, so the test does not wait long) and then come back. At the end
one more worker drains the queue and exits 0 on SIGTERM. Then:
  - every valid image has exactly its renditions, with the right sizes and formats;
  - no rendition is missing and there is none for an invalid file;
  - the DLQ holds exactly the invalid files (a truncated JPEG, a text file named .png);
  - the queue is empty, and some messages were received more than once (the kills mattered).

queue.max_receive_count is raised so that the crashes alone (at most one receive lost per
kill and message) cannot push a valid image into the DLQ; a real deployment sizes it the same
way against its expected crash rate.

Usage: worker_crash_test.py PATH/TO/thumbpipe [SEED]
"""
import json
import os
import random
import sys
import tempfile
import time
import urllib.parse

from pipeline_harness import BUCKET, Pipeline, Worker, default_renditions, make_image, poll

ROUNDS_MAX = 10           # worker processes started and killed, at most
KILLS_IN_BATCH_MIN = 4    # kills that must land while the worker held messages
IMAGES_PER_ROUND = 16
# (width, height) of the photo-like images; each round uploads every one under new keys. Large
# enough that a round keeps a worker busy for a while, so that kills can land mid-batch.
SHAPES = [(3200, 2400), (2400, 3200), (3000, 2000), (4000, 2000)]


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"seed {seed} (rerun with: worker_crash_test.py THUMBPIPE {seed})")
    checks = 0
    with tempfile.TemporaryDirectory(prefix="thumbpipe-crash-") as tmp:
        images = []
        for i, (w, h) in enumerate(SHAPES):
            path = os.path.join(tmp, f"shape{i}.jpg")
            make_image(path, w, h, "convert", seed=i)
            images.append((path, w, h))
        with open(images[0][0], "rb") as f:
            truncated = f.read()[:20000]

        p = Pipeline(thumbpipe, tmp, workers=0, sections={
            "queue": {"visibility_timeout": "2s", "max_receive_count": 2 * ROUNDS_MAX},
            "worker": {"wait": "1s", "batch": 10}})
        workers = []
        expected = {}   # source key -> {rendition key: ((w, h), loader)}
        invalid = set()
        try:
            kills_in_batch = 0
            for round_ in range(ROUNDS_MAX):
                if kills_in_batch >= KILLS_IN_BATCH_MIN:
                    break
                for i in range(IMAGES_PER_ROUND):
                    path, w, h = images[i % len(images)]
                    key = f"uploads/r{round_}/img{i}.jpg"
                    p.s3.upload_file(path, BUCKET, key)
                    expected[key] = default_renditions(key, w, h)
                if round_ < 2:  # invalid files among the first rounds' batches
                    bad = f"uploads/r{round_}/truncated.jpg"
                    p.s3.put_object(Bucket=BUCKET, Key=bad, Body=truncated)
                    text = f"uploads/r{round_}/notes.png"
                    p.s3.put_object(Bucket=BUCKET, Key=text, Body=b"not an image at all\n" * 50)
                    invalid |= {bad, text}
                worker = Worker(p, workers=2, name=f"worker{round_}")
                workers.append(worker)
                # Kill at a random moment once it holds messages (received, jobs running).
                # A fast worker may finish the whole round before a status call sees it hold
                # anything: then this round's kill lands after the batch and does not count.
                uploaded = len(expected) + len(invalid)
                poll(lambda: p.cli("status")["in_flight"] > 0 or worker.proc.poll() is not None
                     or (p.cli("queue", "stats")["sent"] >= uploaded and p.drained()),
                     "the worker to take messages")
                assert worker.proc.poll() is None, "the worker exited:\n" + worker.output()
                # The crash's moment, drawn at random (not a synchronisation: any moment must do).
                delay = rng.uniform(0.0, 0.3)
                time.sleep(delay)
                worker.kill()
                # The dead worker's messages stay in flight until their visibility runs out;
                # no other worker runs now, so in_flight is what it held.
                held = p.cli("status")["in_flight"]
                print(f"round {round_}: killed after {delay:.2f}s holding {held} message(s)")
                if held > 0:
                    kills_in_batch += 1
            assert kills_in_batch >= KILLS_IN_BATCH_MIN, (
                f"only {kills_in_batch} kills landed mid-batch in {ROUNDS_MAX} rounds")
            checks += 1
            print(f"ok: {kills_in_batch} workers killed with SIGKILL while holding messages")

            final = Worker(p, workers=2, name="final")
            workers.append(final)
            sources = set(expected) | invalid
            poll(lambda: p.cli("queue", "stats")["sent"] >= len(sources) and p.drained(),
                 "the last worker to drain the queue")
            assert final.stop() == 0, "the last worker did not exit 0 on SIGTERM:\n" + final.output()
            checks += 1
            print("ok: the queue drained; the last worker exited 0 on SIGTERM")

            all_renditions = {k for r in expected.values() for k in r}
            got = p.keys("thumbnails/")
            missing, extra = all_renditions - got, got - all_renditions
            assert not missing and not extra, f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            for key, renditions in expected.items():
                for rendition, want in renditions.items():
                    have = p.header(rendition)
                    assert have == want, f"{rendition} of {key}: got {have}, want {want}"
            checks += 1
            print(f"ok: all {len(all_renditions)} renditions of {len(expected)} images, none missing, "
                  "none extra, sizes and formats right")

            dead = p.cli("dlq", "list", "--limit", "1000")
            dead_keys = set()
            for d in dead:
                for record in json.loads(d["body"])["Records"]:
                    dead_keys.add(urllib.parse.unquote_plus(record["s3"]["object"]["key"]))
            assert dead_keys == invalid, f"DLQ holds {sorted(dead_keys)}, want {sorted(invalid)}"
            for d in dead:
                assert "max_receive_count" not in d["reason"], d
            status = p.cli("status")
            assert status["visible"] == 0 and status["in_flight"] == 0 and status["dead"] == len(invalid), status
            stats = p.cli("queue", "stats")
            assert stats["received"] > stats["sent"], f"no message was received twice: {stats}"
            checks += 2
            print(f"ok: the DLQ holds exactly the {len(invalid)} invalid files; {stats['received']} receives "
                  f"for {stats['sent']} messages (the killed workers' messages came back)")
        except BaseException:
            print(p.output()[-5000:], file=sys.stderr)
            for w in workers:
                print(f"--- {w.log.name}\n{w.output()[-5000:]}", file=sys.stderr)
            raise
        finally:
            for w in workers:
                w.close()
            code = p.stop()
        assert code == 0, f"serve exited {code}"
    print(f"ok: {checks} checks passed")


if __name__ == "__main__":
    main()

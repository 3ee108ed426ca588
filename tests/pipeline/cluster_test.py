#!/usr/bin/python3
"""A small scale-out cluster on one machine, every piece a separate process as on many machines,
with the queue on either remote backend (--backend):

- amqp: a private RabbitMQ node (tests/queue/rabbitmq_harness.py) holds the queue and its DLQ;
  `thumbpipe serve --workers 0` sends its events there (queue.url), not to a queue of its own;
  the workers read them from amqp://.
- sqs: no broker. serve keeps its embedded queue and is the SQS service too (docs/sqs-api.md);
  the workers read the events over HTTP from `sqs+http://` against serve (THUMBPIPE_QUEUE_URL),
  and dead-letter through it (SendMessage to the queue's -dlq + DeleteMessage).

Either way serve is also the S3 endpoint and the notifier, and does no image work; three
`thumbpipe worker` processes read the images from serve's S3 API through `s3://`
(THUMBPIPE_STORE_URL) and write the renditions back through it: they never touch serve's data
directory.

500 uploads (small generated images, plus a truncated JPEG and a file of junk bytes) go in
from a pool of boto3 threads; one worker is killed with SIGKILL after half of them. Every valid
upload must get exactly the renditions a single process makes of its source (`thumbpipe
thumbnail`: same keys, and each rendition's ETag is the MD5 of the bytes made locally), the
DLQ must hold exactly the two invalid files, each with the engine's reason, and the queue must
drain. On sqs the DLQ is read both in serve's queue file (`thumbpipe dlq list`) and through
the SQS API (`thumbpipe dlq list` on the sqs:// url).

Usage: cluster_test.py --backend sqs|amqp PATH/TO/thumbpipe
       (exit 77 = skipped: amqp without rabbitmq-server installed)
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "queue"))
import rabbitmq_harness  # noqa: E402
import pipeline_harness  # noqa: E402
from pipeline_harness import ACCESS_KEY, BUCKET, SECRET_KEY, kill_all, make_image, poll, print_log_tails, run  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

UPLOADS = 500
WORKERS = 3
INVALID = {"uploads/bad/truncated.jpg", "uploads/bad/junk.png"}
# Distinct sources (name, width, height, tool); uploads cycle through them under unique keys.
SOURCES = [(f"src{i}.{'png' if i % 2 else 'jpg'}", 160 + 24 * i, 120 + 16 * i, "convert" if i % 2 else "vips")
           for i in range(8)]


def write_config(tmp, queue_url):
    """serve's config, which the workers use too; queue_url None = the embedded queue."""
    # The embedded queue gives a SIGKILLed worker's messages back when their visibility runs
    # out (RabbitMQ at once, when the connection drops): short, so the test does not sit out
    # the default 60 s; the workers' heartbeats keep longer jobs hidden.
    queue = {"url": queue_url} if queue_url else {"visibility_timeout": "5s"}
    return pipeline_harness.write_config(tmp, {"queue": queue})


def local_renditions(thumbpipe, config, tmp):
    """Makes the sources and what one process makes of each: {source name: (bytes, {variant
    path suffix: md5})}, e.g. {"src0.jpg": (b"...", {"small/src0.webp": "..."})}."""
    src_dir = os.path.join(tmp, "sources")
    out_dir = os.path.join(tmp, "local")
    os.makedirs(src_dir)
    paths = []
    for name, width, height, tool in SOURCES:
        paths.append(os.path.join(src_dir, name))
        make_image(paths[-1], width, height, tool)
    run(thumbpipe, "thumbnail", "--config", config, "-o", out_dir, *paths)
    result = {}
    for name, *_ in SOURCES:
        stem = name.rsplit(".", 1)[0]
        made = {}
        for variant in sorted(os.listdir(out_dir)):
            for file in os.listdir(os.path.join(out_dir, variant)):
                if file.rsplit(".", 1)[0] == stem:
                    with open(os.path.join(out_dir, variant, file), "rb") as f:
                        made[f"{variant}/{file}"] = hashlib.md5(f.read()).hexdigest()
        assert len(made) == 3, f"thumbpipe thumbnail made {made} of {name}"
        with open(os.path.join(src_dir, name), "rb") as f:
            result[name] = (f.read(), made)
    return result


def expected_renditions(uploads, sources):
    """{rendition key: md5} that the uploads [(key, source name)] must get, from
    local_renditions' {source name: (bytes, {variant/file: md5})}."""
    expected = {}
    for key, name in uploads:
        stem = key[len("uploads/"):].rsplit(".", 1)[0]
        for suffix, md5 in sources[name][1].items():
            variant, file = suffix.split("/", 1)
            expected[f"thumbnails/{variant}/{stem}.{file.rsplit('.', 1)[1]}"] = md5
    return expected


def main():
    parser = argparse.ArgumentParser(description="the scale-out cluster test")
    parser.add_argument("--backend", choices=("sqs", "amqp"), required=True)
    parser.add_argument("thumbpipe")
    args = parser.parse_args()
    thumbpipe = os.path.abspath(args.thumbpipe)
    amqp = args.backend == "amqp"
    if amqp and not rabbitmq_harness.installed():
        print("rabbitmq-server is not installed (scripts/bootstrap installs it): skipped")
        return 77
    rabbitmq_harness.exit_on_sigterm()
    node = rabbitmq_harness.RabbitNode() if amqp else None
    procs = []
    logs = []
    try:
        if node:
            node.start()
        with tempfile.TemporaryDirectory(prefix="thumbpipe-cluster-") as tmp:
            # sqs: serve's embedded queue (the default url, in its data dir).
            config = write_config(tmp, f"{node.url}?queue=cluster" if node else None)
            sources = local_renditions(thumbpipe, config, tmp)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("THUMBPIPE_", "AWS_"))}

            def start(name, args, extra_env=None):
                log = open(os.path.join(tmp, name + ".log"), "w+")
                logs.append((name, log))
                proc = subprocess.Popen([thumbpipe, *args, "--config", config], stdout=log,
                                        stderr=subprocess.STDOUT, env={**env, **(extra_env or {})})
                procs.append(proc)
                return proc

            port_file = os.path.join(tmp, "port")
            serve = start("serve", ["serve", "--listen", "127.0.0.1:0", "--port-file", port_file, "--workers", "0"])
            poll(lambda: os.path.exists(port_file) or serve.poll() is not None, "the port file", 60)
            assert serve.poll() is None, "serve exited at start"
            with open(port_file) as f:
                endpoint = f"http://127.0.0.1:{int(f.read())}"
            # The workers see serve only as an S3 service (and on sqs an SQS service); they sign
            # with the config's key, never with a profile of the machine's.
            worker_env = {"THUMBPIPE_STORE_URL": f"s3://{BUCKET}?endpoint={endpoint}&region=us-east-1&path_style=true",
                          "THUMBPIPE_DATA_DIR": os.path.join(tmp, "worker-data-unused"),
                          "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_CONFIG_FILE": os.devnull}
            sqs_url = f"sqs+http://{endpoint[len('http://'):]}/000000000000/thumbnails"
            if not amqp:
                worker_env["THUMBPIPE_QUEUE_URL"] = sqs_url
            workers = [start(f"worker-{i}", ["worker", "--workers", "1"], worker_env) for i in range(WORKERS)]
            victim = workers[0]

            s3 = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}, max_pool_connections=8))
            uploads = []  # (key, source name)
            for i in range(UPLOADS - len(INVALID)):
                name = SOURCES[i % len(SOURCES)][0]
                uploads.append((f"uploads/batch{i % 10}/img{i:03d}.{name.rsplit('.', 1)[1]}", name))
            whole = sources["src0.jpg"][0]

            def put(key, body):
                s3.put_object(Bucket=BUCKET, Key=key, Body=body)

            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                half = len(uploads) // 2
                list(pool.map(lambda u: put(u[0], sources[u[1]][0]), uploads[:half]))
                # The victim must be one of the workers doing the jobs when it dies.
                victim_log = os.path.join(tmp, "worker-0.log")
                poll(lambda: open(victim_log).read().count("job") >= 5, "the first worker's first jobs", 120)
                victim.send_signal(signal.SIGKILL)  # midway: what it held goes back to the others
                victim.wait()
                futures = [pool.submit(put, key, sources[name][0]) for key, name in uploads[half:]]
                futures.append(pool.submit(put, "uploads/bad/truncated.jpg", whole[: len(whole) // 3]))
                futures.append(pool.submit(put, "uploads/bad/junk.png", os.urandom(3000)))
                for f in futures:
                    f.result()
            print(f"ok: {UPLOADS} uploads; worker pid {victim.pid} killed with SIGKILL after {half}")

            expected = expected_renditions(uploads, sources)

            def renditions():
                out = {}
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="thumbnails/"):
                    out.update({o["Key"]: o["ETag"].strip('"') for o in page.get("Contents", [])})
                return out

            poll(lambda: set(renditions()) == set(expected), f"all {len(expected)} renditions", 240)
            got = renditions()
            wrong = sorted(k for k in expected if got[k] != expected[k])
            assert not wrong, f"{len(wrong)} renditions differ from the single-process run, e.g. {wrong[:3]}"
            print(f"ok: {len(expected)} renditions, each identical to `thumbpipe thumbnail` of its source")

            def cli(*args, extra_env=None):
                return json.loads(run(thumbpipe, *args, "--config", config, "--json", env={**env, **(extra_env or {})}))

            def dead(extra_env=None):
                """{key: reason} of the DLQ's messages."""
                out = {}
                for message in cli("dlq", "list", extra_env=extra_env):
                    for record in json.loads(message["body"]).get("Records", []):
                        out[record["s3"]["object"]["key"]] = message["reason"]
                return out

            poll(lambda: len(dead()) >= len(INVALID), "the invalid files in the DLQ", 120)
            views = {"thumbpipe dlq list": dead()}
            if not amqp:
                # The same DLQ through the SQS API (the sqs:// client's dead_letters().List).
                views["thumbpipe dlq list on sqs://"] = dead({**worker_env, "THUMBPIPE_QUEUE_URL": sqs_url})
            for view, reasons in views.items():
                assert set(reasons) == INVALID, f"{view}: the DLQ holds {sorted(reasons)}, expected only {sorted(INVALID)}"
                # The engine's verdict, not "max_receive_count exceeded": dead-lettered at once.
                vague = {k: r for k, r in reasons.items() if "max_receive_count" in r or "gave up" in r or not r}
                assert not vague, f"{view}: dead without the engine's reason: {vague}"
            # (On RabbitMQ in_flight counts only the asking process's messages: visible is the check.)
            poll(lambda: cli("queue", "stats")["visible"] == 0, "the queue to drain", 120)
            if not amqp:
                poll(lambda: cli("queue", "stats")["in_flight"] == 0, "nothing in flight", 120)
            print(f"ok: the DLQ holds exactly the two invalid files with their reasons ({', '.join(views)}); "
                  "the queue drained")

            for proc in workers[1:] + [serve]:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=120) == 0, f"pid {proc.pid} did not exit 0 on SIGTERM"
            print("ok: serve and the surviving workers exited 0 on SIGTERM")
    except BaseException:
        print_log_tails(logs)
        raise
    finally:
        kill_all(procs)
        if node:
            node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

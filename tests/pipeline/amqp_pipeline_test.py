#!/usr/bin/python3
"""The pipeline on RabbitMQ, end to end: a private RabbitMQ node (tests/queue/rabbitmq_harness.py),
`thumbpipe serve --workers 0` as the S3 endpoint and notifier with `queue.url = amqp://...`, and two
`thumbpipe worker` processes on the same queue. boto3 uploads images and one truncated JPEG; one
worker is killed with SIGKILL halfway through the uploads (whatever it held comes back to the
other). Every image must get exactly its renditions, the DLQ
must hold only the truncated file, and the queue must drain.

Usage: amqp_pipeline_test.py PATH/TO/thumbpipe  (exit 77 = skipped: rabbitmq-server not installed)
"""
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "queue"))
import rabbitmq_harness  # noqa: E402
from pipeline_harness import ACCESS_KEY, BUCKET, SECRET_KEY, kill_all, make_image, poll, print_log_tails, run, write_config  # noqa: E402
from pipeline_harness import default_renditions as expected_renditions  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

IMAGES = 12


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    if not rabbitmq_harness.installed():
        print("rabbitmq-server is not installed (scripts/bootstrap installs it): skipped")
        return 77
    rabbitmq_harness.exit_on_sigterm()
    node = rabbitmq_harness.RabbitNode()
    procs = []
    logs = []
    try:
        node.start()
        with tempfile.TemporaryDirectory(prefix="thumbpipe-amqp-pipeline-") as tmp:
            config = write_config(tmp, {"queue": {"url": f"{node.url}?queue=pipeline"}})
            env = {k: v for k, v in os.environ.items() if not k.startswith(("THUMBPIPE_", "AWS_"))}

            def start(name, *args):
                log = open(os.path.join(tmp, name + ".log"), "w+")
                logs.append((name, log))
                proc = subprocess.Popen([thumbpipe, *args, "--config", config], stdout=log,
                                        stderr=subprocess.STDOUT, env=env)
                procs.append(proc)
                return proc

            port_file = os.path.join(tmp, "port")
            serve = start("serve", "serve", "--listen", "127.0.0.1:0", "--port-file", port_file, "--workers", "0")
            poll(lambda: os.path.exists(port_file) or serve.poll() is not None, "the port file", 60)
            assert serve.poll() is None, "serve exited at start"
            with open(port_file) as f:
                endpoint = f"http://127.0.0.1:{int(f.read())}"
            s3 = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
            victim = start("worker-1", "worker", "--workers", "2")
            start("worker-2", "worker", "--workers", "2")

            expected = set()
            for i in range(IMAGES):
                path = os.path.join(tmp, f"{i}.png")
                make_image(path, 400 + 8 * i, 300, "convert")
                key = f"uploads/img{i}.png"
                s3.upload_file(path, BUCKET, key)
                expected |= set(expected_renditions(key, 400 + 8 * i, 300))
                if i == IMAGES // 2:
                    victim.send_signal(signal.SIGKILL)  # mid-run: what it held comes back
            whole = os.path.join(tmp, "whole.jpg")
            make_image(whole, 1200, 900, "convert")
            with open(whole, "rb") as f:
                data = f.read()
            s3.put_object(Bucket=BUCKET, Key="uploads/broken.jpg", Body=data[: len(data) * 2 // 5])

            def keys(prefix):
                out = set()
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
                    out |= {o["Key"] for o in page.get("Contents", [])}
                return out

            poll(lambda: keys("thumbnails/") == expected, "every rendition")
            print(f"ok: {len(expected)} renditions of {IMAGES} images, one worker killed midway")

            def cli(*args):
                import json
                return json.loads(run(thumbpipe, *args, "--config", config, "--json", env=env))

            dead = poll(lambda: cli("dlq", "list"), "the truncated JPEG in the DLQ")
            assert len(dead) == 1 and "broken.jpg" in dead[0]["body"], dead
            poll(lambda: cli("queue", "stats")["visible"] == 0, "the queue to drain")
            print(f"ok: the DLQ holds only the truncated file ({dead[0]['reason']}); the queue drained")
            for proc in procs[1:]:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    assert proc.wait(timeout=120) == 0, "a worker did not exit 0 on SIGTERM"
            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=120) == 0, "serve did not exit 0 on SIGTERM"
            print("ok: serve and the surviving worker exited 0 on SIGTERM")
    except BaseException:
        print_log_tails(logs, 6000)
        raise
    finally:
        kill_all(procs)
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

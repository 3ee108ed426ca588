#!/usr/bin/python3
"""`thumbpipe serve` as only the S3 endpoint and the notifier, its events going to an external
queue (RabbitMQ, `queue.url = amqp://...`), across a broker outage:

- an upload's event arrives on the broker's queue (read back with `thumbpipe queue`, which
  opens the same amqp:// queue in its own process);
- with the broker stopped, uploads still succeed (the event waits in serve's outbox) and
  /readyz says not ready; once the broker is back, the relay delivers what waited, in order,
  and nothing twice;
- serve's start-up text does not show the queue URL's password.

Usage: amqp_relay_test.py PATH/TO/thumbpipe  (exit 77 = skipped: rabbitmq-server not installed)
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "queue"))
import rabbitmq_harness  # noqa: E402
from cluster_test import write_config  # noqa: E402
from pipeline_harness import ACCESS_KEY, BUCKET, SECRET_KEY, poll, run  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402


def ready(endpoint):
    try:
        with urllib.request.urlopen(endpoint + "/readyz", timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    if not rabbitmq_harness.installed():
        print("rabbitmq-server is not installed (scripts/bootstrap installs it): skipped")
        return 77
    rabbitmq_harness.exit_on_sigterm()
    node = rabbitmq_harness.RabbitNode()
    serve = None
    log = None
    try:
        node.start()
        with tempfile.TemporaryDirectory(prefix="thumbpipe-amqp-relay-") as tmp:
            config = write_config(tmp, f"{node.url}?queue=events")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("THUMBPIPE_", "AWS_"))}
            port_file = os.path.join(tmp, "port")
            log = open(os.path.join(tmp, "serve.log"), "w+")
            serve = subprocess.Popen([thumbpipe, "serve", "--config", config, "--listen", "127.0.0.1:0",
                                      "--port-file", port_file, "--workers", "0"],
                                     stdout=log, stderr=subprocess.STDOUT, env=env)
            poll(lambda: os.path.exists(port_file) or serve.poll() is not None, "the port file", 60)
            assert serve.poll() is None, "serve exited at start"
            with open(port_file) as f:
                endpoint = f"http://127.0.0.1:{int(f.read())}"
            s3 = boto3.session.Session().client(
                "s3", endpoint_url=endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))

            def cli(*args):
                return json.loads(run(thumbpipe, *args, "--config", config, "--json", env=env))

            def visible():
                return cli("queue", "stats")["visible"]

            log.flush()
            with open(log.name) as f:
                startup = f.read()
            assert "(queue events)" in startup and ":guest@" not in startup, startup

            s3.put_object(Bucket=BUCKET, Key="uploads/before.png", Body=b"x")
            poll(lambda: visible() == 1, "the first event on RabbitMQ", 60)
            print("ok: serve's event reached the amqp:// queue")

            node.stop_server()
            assert ready(endpoint) == 503, "/readyz must say not ready while the broker is down"
            for key in ("uploads/during-1.png", "uploads/during-2.png"):
                s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")  # the outbox holds the events
            print("ok: uploads succeed while the broker is down; /readyz is 503")

            node.start_server()
            poll(lambda: visible() == 3, "the events held during the outage", 120)
            poll(lambda: ready(endpoint) == 200, "/readyz to recover", 60)
            got = cli("queue", "receive", "--max", "10", "--wait", "5s")
            keys = [json.loads(m["body"])["Records"][0]["s3"]["object"]["key"] for m in got]
            assert sorted(keys) == ["uploads/before.png", "uploads/during-1.png", "uploads/during-2.png"], keys
            assert keys.index("uploads/during-1.png") < keys.index("uploads/during-2.png"), keys
            print("ok: after the outage the relay delivered the held events, in order, once each")

            serve.send_signal(signal.SIGTERM)
            assert serve.wait(timeout=120) == 0, "serve did not exit 0 on SIGTERM"
    except BaseException:
        if log is not None:
            log.seek(0)
            print("--- serve\n" + log.read()[-6000:], file=sys.stderr)
        raise
    finally:
        if serve is not None and serve.poll() is None:
            serve.kill()
            serve.wait()
        node.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

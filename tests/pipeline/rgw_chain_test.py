#!/usr/bin/python3
"""The self-hosted chain, all real engines, no `serve`: Ceph RGW keeps the images and sends its
own bucket notifications (an SNS-style topic with an amqp:// push endpoint) to RabbitMQ, and
three `thumbpipe worker` processes on `amqp://` + `s3://` read the events from RabbitMQ, the
images from RGW, and write the renditions back into RGW.

The RGW cluster (one mon, one memstore OSD, radosgw on loopback) is tests/store/rgw_conformance.py's
and the broker tests/queue/rabbitmq_harness.py's. The queue URL's `exchange=` makes thumbpipe
declare the exchange RGW publishes to and bind its queue to it (RGW's routing key is the topic
name, here the queue's name). 200 uploads with aws-cli in two halves, plus one truncated JPEG;
one worker is killed with SIGKILL after the first half. Every valid upload must get exactly the
renditions `thumbpipe thumbnail` makes of its source (ETag = MD5 of the local bytes), and the
DLQ must hold only the truncated file.

Usage: rgw_chain_test.py PATH/TO/thumbpipe  (exit 77 = skipped: RabbitMQ or Ceph not installed)
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "queue"))
sys.path.insert(0, os.path.join(HERE, "..", "store"))
import rabbitmq_harness  # noqa: E402
import rgw_conformance  # noqa: E402
from cluster_test import SOURCES, expected_renditions, local_renditions  # noqa: E402
from pipeline_harness import BUCKET, kill_all, poll, print_log_tails, run  # noqa: E402

UPLOADS = 200
WORKERS = 3
QUEUE = "thumbnails"
BROKEN = "uploads/bad/truncated.jpg"


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    if not rabbitmq_harness.installed():
        print("rabbitmq-server is not installed (scripts/bootstrap installs it): skipped")
        return 77
    if any(not os.path.exists(b) for b in rgw_conformance.BINARIES):
        print("Ceph (ceph-mon, ceph-osd, radosgw) is not installed (scripts/bootstrap installs it): skipped")
        return 77
    rabbitmq_harness.exit_on_sigterm()
    node = rabbitmq_harness.RabbitNode()
    cluster = rgw_conformance.Cluster()
    procs = []
    logs = []
    try:
        node.start()
        cluster.start()
        rgw = f"http://127.0.0.1:{cluster.rgw_port}"
        with tempfile.TemporaryDirectory(prefix="thumbpipe-rgw-chain-") as tmp:
            config = os.path.join(tmp, "worker.toml")
            with open(config, "w") as f:
                f.write(f'''data_dir = "{tmp}/data"
[[credentials]]
access_key = "{rgw_conformance.ACCESS_KEY}"
secret_key = "{rgw_conformance.SECRET_KEY}"
[store]
url = "s3://{BUCKET}?endpoint={rgw}&region=us-east-1&path_style=true"
[trigger]
bucket = "{BUCKET}"
prefix = "uploads/"
[output]
bucket = "{BUCKET}"
prefix = "thumbnails/"
[queue]
url = "{node.url}?queue={QUEUE}&exchange=s3-events"
[worker]
wait = "1s"
''')
            env = {k: v for k, v in os.environ.items() if not k.startswith(("THUMBPIPE_", "AWS_"))}
            aws_env = dict(env, AWS_ACCESS_KEY_ID=rgw_conformance.ACCESS_KEY,
                           AWS_SECRET_ACCESS_KEY=rgw_conformance.SECRET_KEY, AWS_DEFAULT_REGION="us-east-1")

            def aws(*args):
                return run("/usr/bin/aws", "--endpoint-url", rgw, *args, env=aws_env)

            def cli(*args):
                return json.loads(run(thumbpipe, *args, "--config", config, "--json", env=env))

            # Declares the queue, its DLQ and the exchange RGW checks for when it connects.
            cli("queue", "stats")
            aws("s3", "mb", f"s3://{BUCKET}")
            # No password in the push endpoint: RGW refuses to store one sent over plain HTTP,
            # and uses guest/guest without one (the harness's broker allows guest on loopback).
            topic = json.loads(aws("sns", "create-topic", "--name", QUEUE, "--attributes", json.dumps({
                "push-endpoint": f"amqp://127.0.0.1:{node.amqp_port}", "amqp-exchange": "s3-events",
                "amqp-ack-level": "broker"})))["TopicArn"]
            aws("s3api", "put-bucket-notification-configuration", "--bucket", BUCKET,
                "--notification-configuration", json.dumps({"TopicConfigurations": [{
                    "Id": "thumbnails", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}}}]}))

            sources = local_renditions(thumbpipe, config, tmp)

            def start(name):
                log = open(os.path.join(tmp, name + ".log"), "w+")
                logs.append((name, log))
                proc = subprocess.Popen([thumbpipe, "worker", "--workers", "1", "--config", config], stdout=log,
                                        stderr=subprocess.STDOUT, env=env)
                procs.append(proc)
                return proc

            workers = [start(f"worker-{i}") for i in range(WORKERS)]
            victim = workers[0]

            uploads = []  # (key, source name)
            halves = [os.path.join(tmp, "half0"), os.path.join(tmp, "half1")]
            for i in range(UPLOADS):
                name = SOURCES[i % len(SOURCES)][0]
                rel = f"set{i % 2}/img{i:03d}.{name.rsplit('.', 1)[1]}"
                path = os.path.join(halves[i * 2 // UPLOADS], rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(sources[name][0])
                uploads.append(("uploads/" + rel, name))
            aws("s3", "cp", "--recursive", "--only-show-errors", halves[0], f"s3://{BUCKET}/uploads/")
            poll(lambda: open(logs[0][1].name).read().count("job") >= 3, "the first worker's first jobs", 120)
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            aws("s3", "cp", "--recursive", "--only-show-errors", halves[1], f"s3://{BUCKET}/uploads/")
            broken = os.path.join(tmp, "truncated.jpg")
            whole = sources["src0.jpg"][0]
            with open(broken, "wb") as f:
                f.write(whole[: len(whole) // 3])
            aws("s3", "cp", "--only-show-errors", broken, f"s3://{BUCKET}/{BROKEN}")
            print(f"ok: {UPLOADS + 1} uploads to RGW with aws-cli; a worker killed with SIGKILL after {UPLOADS // 2}")

            expected = expected_renditions(uploads, sources)

            def renditions():
                out = json.loads(aws("s3api", "list-objects-v2", "--bucket", BUCKET, "--prefix", "thumbnails/",
                                     "--output", "json") or "{}")
                return {o["Key"]: o["ETag"].strip('"') for o in out.get("Contents", [])}

            poll(lambda: set(renditions()) == set(expected), f"all {len(expected)} renditions in RGW", 300)
            got = renditions()
            wrong = sorted(k for k in expected if got[k] != expected[k])
            assert not wrong, f"{len(wrong)} renditions differ from the single-process run, e.g. {wrong[:3]}"
            print(f"ok: {len(expected)} renditions in RGW, each identical to `thumbpipe thumbnail` of its source")

            def dead_keys():
                return {r["s3"]["object"]["key"] for m in cli("dlq", "list")
                        for r in json.loads(m["body"]).get("Records", [])}

            poll(lambda: dead_keys(), "the truncated file in the DLQ", 120)
            assert dead_keys() == {BROKEN}, dead_keys()
            poll(lambda: cli("queue", "stats")["visible"] == 0, "the queue to drain", 120)
            print("ok: the DLQ holds only the truncated file; the queue drained")
            for proc in workers[1:]:
                proc.send_signal(signal.SIGTERM)
                assert proc.wait(timeout=120) == 0, f"worker pid {proc.pid} did not exit 0 on SIGTERM"
    except BaseException:
        print_log_tails(logs)
        print(cluster.logs_tail(), file=sys.stderr)
        raise
    finally:
        kill_all(procs)
        cluster.stop()
        node.stop()
        shutil.rmtree(cluster.dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""`thumbpipe queue ...` and `thumbpipe dlq ...` on an amqp:// queue: a private RabbitMQ node
(rabbitmq_harness.py) and the CLI as a user runs it, one process per command, so every command
opens its own connections (and a receive that is not removed is given back when the process
ends, which RabbitMQ counts as a failed delivery).

Usage: amqp_cli_test.py THUMBPIPE   (exit 77 = skipped: rabbitmq-server is not installed)
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rabbitmq_harness  # noqa: E402

THUMBPIPE = sys.argv[1]
NODE = None


class AmqpQueueCommands(unittest.TestCase):
    counter = 0

    def setUp(self):
        AmqpQueueCommands.counter += 1
        self.tmp = tempfile.TemporaryDirectory()
        self.queue = "cli-%d-%d" % (os.getpid(), AmqpQueueCommands.counter)
        self.env = dict(os.environ, THUMBPIPE_DATA_DIR=os.path.join(self.tmp.name, "data"),
                        THUMBPIPE_QUEUE_URL="%s?queue=%s" % (NODE.url, self.queue),
                        THUMBPIPE_QUEUE_MAX_RECEIVE_COUNT="2")

    def tearDown(self):
        self.tmp.cleanup()

    def run_cli(self, *args, ok=True, stdin=None):
        proc = subprocess.run([THUMBPIPE, *args], capture_output=True, text=True, env=self.env,
                              input=stdin, timeout=60)
        if ok:
            self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc

    def json(self, *args):
        return json.loads(self.run_cli(*args, "--json").stdout)

    def test_send_receive_remove_through_processes(self):
        sent = self.json("queue", "send", "hello", "--attribute", "kind=test")["id"]
        self.assertEqual(self.json("queue", "stats")["visible"], 1)
        got = self.json("queue", "receive", "--max", "10")
        self.assertEqual([(m["id"], m["body"], m["receive_count"]) for m in got], [(sent, "hello", 1)])
        self.assertEqual(got[0]["attributes"], {"kind": {"type": "String", "value": "test"}})
        # The receiving process ended without removing it: back, counted.
        again = self.json("queue", "receive", "--wait", "5s")
        self.assertEqual([(m["id"], m["receive_count"]) for m in again], [(sent, 2)])

    def test_broker_delivery_limit_then_dlq_tools(self):
        msg_id = self.json("queue", "send", "poison")["id"]
        for _ in range(2):  # max_receive_count = 2: the process exits holding it, twice
            self.assertEqual(len(self.json("queue", "receive", "--wait", "5s")), 1)
        self.assertEqual(self.json("queue", "receive"), [])
        dead = self.json("dlq", "list")
        self.assertEqual([m["id"] for m in dead], [msg_id])
        self.assertIn("max_receive_count", dead[0]["reason"])
        self.assertEqual(self.json("queue", "stats")["dead"], 1)
        self.assertEqual(self.json("dlq", "redrive")["redriven"], 1)
        back = self.json("queue", "receive", "--wait", "5s")
        self.assertEqual([(m["id"], m["receive_count"]) for m in back], [(msg_id, 1)])

    def test_purge_and_what_amqp_cannot(self):
        self.run_cli("queue", "send", "x")
        self.assertEqual(self.json("queue", "purge", "--yes")["purged"], 1)
        self.assertEqual(self.json("dlq", "purge", "--yes")["purged"], 0)
        proc = self.run_cli("queue", "send", "later", "--delay", "1m", ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("delay", proc.stderr)

    def test_unreachable_broker_and_mismatch_are_clear(self):
        self.env["THUMBPIPE_QUEUE_URL"] = "amqp://guest:topsecret@127.0.0.1:1/%2f?queue=x"
        proc = self.run_cli("queue", "stats", ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("cannot connect", proc.stderr)
        self.assertNotIn("topsecret", proc.stderr)
        self.env["THUMBPIPE_QUEUE_URL"] = "%s?queue=%s" % (NODE.url, self.queue)
        self.run_cli("queue", "stats")
        self.env["THUMBPIPE_QUEUE_MAX_RECEIVE_COUNT"] = "5"
        proc = self.run_cli("queue", "stats", ok=False)
        self.assertIn("x-delivery-limit", proc.stderr)


if __name__ == "__main__":
    if not rabbitmq_harness.installed():
        print("rabbitmq-server is not installed (scripts/bootstrap installs it): skipped")
        sys.exit(77)
    rabbitmq_harness.exit_on_sigterm()
    NODE = rabbitmq_harness.RabbitNode()
    try:
        NODE.start()
        result = unittest.main(argv=sys.argv[:1], verbosity=2, exit=False).result
    finally:
        NODE.stop()
    sys.exit(0 if result.wasSuccessful() else 1)

#!/usr/bin/python3
"""End-to-end checks of `thumbpipe queue ...` and `thumbpipe dlq ...` against the configured
embedded queue (a fresh data directory per test, settings through THUMBPIPE_* variables).

Usage: queue_cli_test.py THUMBPIPE
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

THUMBPIPE = sys.argv[1]


class QueueCommands(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.env = dict(os.environ, THUMBPIPE_DATA_DIR=os.path.join(self.tmp.name, "data"),
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

    def test_send_receive_and_stats(self):
        sent = self.json("queue", "send", "hello", "--attribute", "kind=test")["id"]
        self.run_cli("queue", "send", "-", stdin="from stdin")
        stats = self.json("queue", "stats")
        self.assertEqual((stats["visible"], stats["sent"]), (2, 2))
        got = self.json("queue", "receive", "--max", "10", "--visibility", "1h")
        self.assertEqual(sorted(m["body"] for m in got), ["from stdin", "hello"])
        first = next(m for m in got if m["id"] == sent)
        self.assertEqual(first["attributes"], {"kind": {"type": "String", "value": "test"}})
        self.assertEqual(first["receive_count"], 1)
        stats = self.json("queue", "stats")
        self.assertEqual((stats["visible"], stats["in_flight"], stats["received"]), (0, 2, 2))

    def test_delay_keeps_a_message_out_of_sight(self):
        self.run_cli("queue", "send", "later", "--delay", "15m")
        self.assertEqual(self.json("queue", "receive"), [])
        self.assertEqual(self.json("queue", "stats")["delayed"], 1)

    def test_redrive_after_max_receive_count_then_dlq_tools(self):
        msg_id = self.json("queue", "send", "poison")["id"]
        for _ in range(2):  # max_receive_count = 2: two deliveries, visible again at once
            self.assertEqual(len(self.json("queue", "receive", "--visibility", "0s")), 1)
        self.assertEqual(self.json("queue", "receive", "--visibility", "0s"), [])
        dead = self.json("dlq", "list")
        self.assertEqual([m["id"] for m in dead], [msg_id])
        self.assertEqual(dead[0]["receive_count"], 2)
        self.assertIn("max_receive_count", dead[0]["reason"])
        self.assertEqual(self.json("queue", "stats")["dead"], 1)
        self.assertEqual(self.json("dlq", "redrive")["redriven"], 1)
        back = self.json("queue", "receive")
        self.assertEqual([(m["id"], m["receive_count"]) for m in back], [(msg_id, 1)])

    def test_purges_need_confirmation(self):
        self.run_cli("queue", "send", "x")
        proc = self.run_cli("queue", "purge", ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("--yes", proc.stderr)
        self.assertEqual(self.json("queue", "stats")["visible"], 1)
        self.assertEqual(self.json("queue", "purge", "--yes")["purged"], 1)
        self.assertEqual(self.json("dlq", "purge", "--yes")["purged"], 0)

    def test_bad_input_is_a_clear_error(self):
        proc = self.run_cli("queue", "receive", "--wait", "soon", ok=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("invalid duration", proc.stderr)
        proc = self.run_cli("queue", "send", "x", "--attribute", "novalue", ok=False)
        self.assertIn("NAME=VALUE", proc.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)

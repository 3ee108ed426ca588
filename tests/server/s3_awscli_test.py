#!/usr/bin/python3
"""Debian's aws-cli v2 (/usr/bin/aws) against `thumbpipe serve` on a random loopback port:
mb, cp of 0 B, 1 B, 8 MiB + 1 and 100 MiB files (the last two multipart), ls with prefixes and
pagination over 2,500 keys, rm, presign used with curl, s3api
put-bucket-notification-configuration, awkward keys, and one event per upload under the
trigger prefix (none elsewhere), the TestEvent included.

Usage: s3_awscli_test.py THUMBPIPE
"""
import filecmp
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server  # noqa: E402

THUMBPIPE = sys.argv.pop(1)


class AwsCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(THUMBPIPE)
        cls.work = os.path.join(cls.server.tmp.name, "files")
        os.makedirs(cls.work)

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def aws(self, *args, ok=True):
        out = self.server.aws_cli(*args)
        if ok:
            self.assertEqual(out.returncode, 0, f"aws {args}: {out.stderr}")
        return out

    def file(self, name, size):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            remaining = size
            while remaining:
                chunk = os.urandom(min(remaining, 1 << 20))
                f.write(chunk)
                remaining -= len(chunk)
        return path

    def test_1_copy_sizes_and_events(self):
        self.aws("s3", "mb", "s3://cli")
        self.assertIn("cli", self.aws("s3", "ls").stdout)
        sent_before = self.server.events_sent()
        sizes = {"zero.jpg": 0, "one.jpg": 1, "eight.jpg": (8 << 20) + 1, "hundred.jpg": 100 << 20}
        for name, size in sizes.items():
            src = self.file(name, size)
            self.aws("s3", "cp", src, f"s3://images/uploads/{name}")
            back = os.path.join(self.work, "back-" + name)
            self.aws("s3", "cp", f"s3://images/uploads/{name}", back)
            self.assertTrue(filecmp.cmp(src, back, shallow=False), name)
            self.aws("s3", "cp", src, f"s3://cli/sizes/{name}")  # not in the trigger bucket: no event
        self.server.wait_events_sent(sent_before + 4)
        events = self.server.drain_events()
        records = [e["Records"][0] for e in events]
        self.assertEqual(sorted(r["s3"]["object"]["key"] for r in records),
                         sorted(f"uploads/{n}" for n in sizes))
        by_key = {r["s3"]["object"]["key"]: r for r in records}
        self.assertEqual(by_key["uploads/hundred.jpg"]["eventName"], "ObjectCreated:CompleteMultipartUpload")
        self.assertEqual(by_key["uploads/one.jpg"]["eventName"], "ObjectCreated:Put")
        self.assertEqual(by_key["uploads/hundred.jpg"]["s3"]["object"]["size"], 100 << 20)
        self.assertEqual(self.server.events_sent(), sent_before + 4)

    def test_2_ls_pagination_prefixes_rm(self):
        tree = os.path.join(self.work, "tree")
        for i in range(2500):
            d = os.path.join(tree, f"d{i // 500}")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"f{i:05d}"), "w") as f:
                f.write(str(i))
        self.aws("s3", "cp", "--recursive", "--quiet", tree, "s3://cli/tree/")
        listed = self.aws("s3", "ls", "--recursive", "s3://cli/tree/").stdout.splitlines()
        self.assertEqual(len(listed), 2500)
        top = self.aws("s3", "ls", "s3://cli/tree/").stdout.split()
        self.assertEqual([w for w in top if w.startswith("d")], [f"d{i}/" for i in range(5)])
        api = json.loads(self.aws("s3api", "list-objects-v2", "--bucket", "cli", "--prefix", "tree/d1/",
                                  "--page-size", "100").stdout)
        self.assertEqual(len(api["Contents"]), 500)
        self.aws("s3", "rm", "--recursive", "--quiet", "s3://cli/tree/d0/")
        self.assertEqual(len(self.aws("s3", "ls", "--recursive", "s3://cli/tree/").stdout.splitlines()), 2000)
        self.aws("s3", "rm", "s3://cli/tree/d1/f00500")
        self.assertEqual(self.aws("s3", "ls", "s3://cli/tree/d1/f00500", ok=False).returncode, 1)

    def test_3_awkward_keys_and_presign(self):
        src = self.file("small", 1000)
        for key in ["with space.txt", "plus+sign.txt", "ünïcödé ✓.txt", "../dotdot.txt", "a/./b/../c.txt"]:
            self.aws("s3", "cp", src, f"s3://cli/keys/{key}")
            back = os.path.join(self.work, "back-key")
            self.aws("s3", "cp", f"s3://cli/keys/{key}", back)
            self.assertTrue(filecmp.cmp(src, back, shallow=False), key)
        keys = json.loads(self.aws("s3api", "list-objects-v2", "--bucket", "cli", "--prefix", "keys/").stdout)
        self.assertEqual(len(keys["Contents"]), 5)
        self.assertIn("keys/../dotdot.txt", [o["Key"] for o in keys["Contents"]])
        url = self.aws("s3", "presign", "s3://cli/keys/with space.txt", "--expires-in", "600").stdout.strip()
        out = subprocess.run(["curl", "-sS", "-f", "-o", os.path.join(self.work, "curl-get"), url],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(filecmp.cmp(src, os.path.join(self.work, "curl-get"), shallow=False))

    def test_4_notification_configuration_and_test_event(self):
        self.aws("s3", "mb", "s3://notify")
        sent_before = self.server.events_sent()
        conf = {"QueueConfigurations": [{
            "Id": "jpegs", "QueueArn": "arn:aws:sqs:us-east-1:000000000000:thumbnails",
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}]}
        self.aws("s3api", "put-bucket-notification-configuration", "--bucket", "notify",
                 "--notification-configuration", json.dumps(conf))
        got = json.loads(self.aws("s3api", "get-bucket-notification-configuration", "--bucket", "notify").stdout)
        self.assertEqual(got["QueueConfigurations"][0]["Id"], "jpegs")
        src = self.file("n.jpg", 10)
        self.aws("s3", "cp", src, "s3://notify/in/n.jpg")
        self.aws("s3", "cp", src, "s3://notify/out/n.jpg")
        self.server.wait_events_sent(sent_before + 2)
        events = self.server.drain_events()
        self.assertEqual(len(events), 2, events)
        self.assertEqual(sum(1 for e in events if e.get("Event") == "s3:TestEvent"), 1)
        self.assertEqual([e["Records"][0]["s3"]["object"]["key"] for e in events if "Records" in e], ["in/n.jpg"])
        bad = self.aws("s3api", "put-bucket-notification-configuration", "--bucket", "notify",
                       "--notification-configuration",
                       json.dumps({"QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:1:nope",
                                                            "Events": ["s3:ObjectCreated:*"]}]}), ok=False)
        self.assertNotEqual(bad.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

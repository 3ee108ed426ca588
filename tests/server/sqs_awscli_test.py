#!/usr/bin/python3
"""`thumbpipe serve`'s SQS API driven by Debian's aws-cli v2.9 (/usr/bin/aws, query protocol):
the commands an operator types, their JSON output, and their errors.

Usage: sqs_awscli_test.py THUMBPIPE
"""
import hashlib
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server  # noqa: E402

THUMBPIPE = sys.argv.pop(1)


class SqsAwsCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(THUMBPIPE)

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def aws(self, *args, expect_ok=True):
        out = self.server.aws_cli("--output", "json", "sqs", *args, timeout=120)
        if expect_ok:
            self.assertEqual(out.returncode, 0, out.stderr + "\nserver log:\n" + self.server.output())
            return json.loads(out.stdout) if out.stdout.strip() else {}
        self.assertNotEqual(out.returncode, 0, out.stdout)
        return out.stderr

    def test_operator_session(self):
        url = self.aws("create-queue", "--queue-name", "jobs", "--attributes", "VisibilityTimeout=45")["QueueUrl"]
        self.assertEqual(url, f"{self.server.endpoint}/000000000000/jobs")
        self.assertIn(url, self.aws("list-queues", "--queue-name-prefix", "jo")["QueueUrls"])
        self.assertEqual(self.aws("get-queue-url", "--queue-name", "jobs")["QueueUrl"], url)

        sent = self.aws("send-message", "--queue-url", url, "--message-body", "hello from aws-cli",
                        "--message-attributes", '{"who":{"DataType":"String","StringValue":"cli"}}')
        self.assertEqual(sent["MD5OfMessageBody"], hashlib.md5(b"hello from aws-cli").hexdigest())
        attrs = self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
        self.assertEqual(attrs["ApproximateNumberOfMessages"], "1")
        self.assertEqual(attrs["VisibilityTimeout"], "45")

        got = self.aws("receive-message", "--queue-url", url, "--wait-time-seconds", "1",
                       "--attribute-names", "All", "--message-attribute-names", "All")["Messages"]
        self.assertEqual(got[0]["Body"], "hello from aws-cli")
        self.assertEqual(got[0]["MessageAttributes"]["who"]["StringValue"], "cli")
        self.assertEqual(got[0]["Attributes"]["ApproximateReceiveCount"], "1")
        self.aws("change-message-visibility", "--queue-url", url, "--receipt-handle", got[0]["ReceiptHandle"],
                 "--visibility-timeout", "0")
        again = self.aws("receive-message", "--queue-url", url, "--attribute-names", "ApproximateReceiveCount")
        self.assertEqual(again["Messages"][0]["Attributes"]["ApproximateReceiveCount"], "2")
        self.aws("delete-message", "--queue-url", url, "--receipt-handle", again["Messages"][0]["ReceiptHandle"])
        self.assertEqual(self.aws("receive-message", "--queue-url", url), {})

        self.aws("send-message", "--queue-url", url, "--message-body", "to purge")
        self.aws("purge-queue", "--queue-url", url)
        attrs = self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "ApproximateNumberOfMessages")
        self.assertEqual(attrs["Attributes"]["ApproximateNumberOfMessages"], "0")

        self.aws("set-queue-attributes", "--queue-url", url, "--attributes", "VisibilityTimeout=10")
        attrs = self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "VisibilityTimeout")
        self.assertEqual(attrs["Attributes"]["VisibilityTimeout"], "10")

    def test_errors(self):
        err = self.aws("get-queue-url", "--queue-name", "missing", expect_ok=False)
        self.assertIn("AWS.SimpleQueueService.NonExistentQueue", err)
        url = self.aws("create-queue", "--queue-name", "errs")["QueueUrl"]
        err = self.aws("delete-message", "--queue-url", url, "--receipt-handle", "nonsense", expect_ok=False)
        self.assertIn("ReceiptHandleIsInvalid", err)
        err = self.aws("create-queue", "--queue-name", "x.fifo", "--attributes", "FifoQueue=true", expect_ok=False)
        self.assertIn("InvalidParameterValue", err)

    def test_settings_survive_a_restart(self):
        # Queues made over SQS come back with their settings (the registry beside queue.db)
        # and their messages (the queue file).
        url = self.aws("create-queue", "--queue-name", "durable", "--attributes", "DelaySeconds=7")["QueueUrl"]
        self.aws("send-message", "--queue-url", url, "--message-body", "kept")
        self.server.restart()
        url = self.aws("get-queue-url", "--queue-name", "durable")["QueueUrl"]
        attrs = self.aws("get-queue-attributes", "--queue-url", url, "--attribute-names", "All")["Attributes"]
        self.assertEqual(attrs["DelaySeconds"], "7")
        self.assertEqual(int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesDelayed"]), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)

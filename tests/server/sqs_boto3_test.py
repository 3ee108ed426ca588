#!/usr/bin/python3
"""`thumbpipe serve`'s SQS API driven by Debian's boto3 1.26 (botocore 1.29: the query
protocol, form-encoded requests and XML answers), against a real serve on a random loopback
port: queues, messages, visibility, receive counts and the dead-letter queue, batch errors,
signatures, and S3 still answering on the same port.

Usage: sqs_boto3_test.py THUMBPIPE
"""
import hashlib
import json
import os
import struct
import sys
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server  # noqa: E402

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

THUMBPIPE = sys.argv.pop(1)
ACCOUNT = "000000000000"


def md5_of_attributes(attributes):
    """queue-s3.md 1.8, written again here so that the server's digest is checked against an
    implementation of its own."""
    buf = b""
    for name in sorted(attributes):
        value = attributes[name]
        kind = value["DataType"]
        data = value.get("BinaryValue") or value["StringValue"].encode()
        buf += struct.pack(">I", len(name.encode())) + name.encode()
        buf += struct.pack(">I", len(kind.encode())) + kind.encode()
        buf += bytes([2 if kind.split(".")[0] == "Binary" else 1])
        buf += struct.pack(">I", len(data)) + data
    return hashlib.md5(buf).hexdigest()


class SqsBoto3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(THUMBPIPE)
        cls.sqs = cls.client("sqs")

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    @classmethod
    def client(cls, service, secret=None):
        # Reads wait up to 20 s: the client's timeout must exceed it (queue-s3.md 7.15).
        return boto3.session.Session().client(
            service, endpoint_url=cls.server.endpoint, region_name="us-east-1",
            aws_access_key_id=cls.server.access_key,
            aws_secret_access_key=secret or cls.server.secret_key,
            config=Config(read_timeout=60, retries={"max_attempts": 1}))

    def error_of(self, call, *args, **kwargs):
        with self.assertRaises(ClientError) as cm:
            call(*args, **kwargs)
        return cm.exception.response["Error"]["Code"], cm.exception.response["ResponseMetadata"]["HTTPStatusCode"]

    def make_queue(self, name, max_receive_count=None, **attributes):
        attrs = {k: str(v) for k, v in attributes.items()}
        if max_receive_count:
            attrs["RedrivePolicy"] = json.dumps({
                "deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}-dlq",
                "maxReceiveCount": max_receive_count})
        self.sqs.create_queue(QueueName=name + "-dlq")  # DLQ first, as on AWS
        return self.sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]

    def counts(self, url):
        a = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
                int(a["ApproximateNumberOfMessagesDelayed"]))

    def test_create_list_get_url(self):
        url = self.make_queue("orders", max_receive_count=2, VisibilityTimeout=30)
        self.assertEqual(url, f"{self.server.endpoint}/{ACCOUNT}/orders")
        # Idempotent with the same attributes; a different value is QueueAlreadyExists.
        self.assertEqual(self.sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "30"})["QueueUrl"], url)
        self.assertEqual(self.error_of(self.sqs.create_queue, QueueName="orders", Attributes={"VisibilityTimeout": "31"}),
                         ("QueueAlreadyExists", 400))
        urls = self.sqs.list_queues(QueueNamePrefix="orde")["QueueUrls"]
        self.assertEqual(urls, [url, url + "-dlq"])
        self.assertIn(f"{self.server.endpoint}/{ACCOUNT}/thumbnails", self.sqs.list_queues()["QueueUrls"])
        self.assertEqual(self.sqs.get_queue_url(QueueName="orders-dlq")["QueueUrl"], url + "-dlq")
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        self.assertEqual(attrs["QueueArn"], f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders")
        self.assertEqual(attrs["VisibilityTimeout"], "30")
        self.assertEqual(json.loads(attrs["RedrivePolicy"]),
                         {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dlq", "maxReceiveCount": 2})
        # The pipeline's queue carries the ARN the S3 notifications name.
        pipeline = self.sqs.get_queue_url(QueueName="thumbnails")["QueueUrl"]
        self.assertEqual(self.sqs.get_queue_attributes(QueueUrl=pipeline, AttributeNames=["QueueArn"])["Attributes"],
                         {"QueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:thumbnails"})
        self.assertEqual(self.error_of(self.sqs.set_queue_attributes, QueueUrl=pipeline,
                                       Attributes={"VisibilityTimeout": "5"}), ("InvalidParameterValue", 400))
        self.assertEqual(self.error_of(self.sqs.get_queue_url, QueueName="nope"),
                         ("AWS.SimpleQueueService.NonExistentQueue", 400))
        # A RedrivePolicy may only name the queue's own dead side.
        self.assertEqual(self.error_of(self.sqs.create_queue, QueueName="other", Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders-dlq", "maxReceiveCount": 2})}),
            ("InvalidParameterValue", 400))
        self.assertEqual(self.error_of(self.sqs.create_queue, QueueName="bad name"), ("InvalidParameterValue", 400))
        # SetQueueAttributes is kept.
        self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "1"})
        self.assertEqual(self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ReceiveMessageWaitTimeSeconds"])
                         ["Attributes"], {"ReceiveMessageWaitTimeSeconds": "1"})

    def test_send_receive_delete(self):
        url = self.make_queue("plain")
        attributes = {"kind": {"DataType": "String", "StringValue": "thumb"},
                      "size": {"DataType": "Number.int", "StringValue": "42"},
                      "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff\x10"}}
        body = "héllo\r\n<world> & more"
        sent = self.sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
        self.assertEqual(sent["MD5OfMessageBody"], hashlib.md5(body.encode()).hexdigest())
        self.assertEqual(sent["MD5OfMessageAttributes"], md5_of_attributes(attributes))
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                       AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
        self.assertEqual(len(got), 1)
        m = got[0]
        self.assertEqual(m["MessageId"], sent["MessageId"])
        self.assertEqual(m["Body"], body)
        self.assertEqual(m["MD5OfBody"], hashlib.md5(body.encode()).hexdigest())
        self.assertEqual(m["MessageAttributes"], attributes)
        self.assertEqual(m["MD5OfMessageAttributes"], md5_of_attributes(attributes))
        self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], "1")
        self.assertIn("SentTimestamp", m["Attributes"])
        self.assertIn("ApproximateFirstReceiveTimestamp", m["Attributes"])
        self.assertEqual(self.counts(url), (0, 1, 0))
        # Only the names asked for.
        self.sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        again = self.sqs.receive_message(QueueUrl=url, MessageAttributeNames=["kind"],
                                         AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
        self.assertEqual(list(again["MessageAttributes"]), ["kind"])
        self.assertEqual(again["Attributes"], {"ApproximateReceiveCount": "2"})
        # The first receipt is stale now: deleting with it leaves the message (as SQS may).
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        self.assertEqual(self.counts(url), (0, 1, 0))
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
        self.assertEqual(self.counts(url), (0, 0, 0))
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url))
        self.assertEqual(self.error_of(self.sqs.delete_message, QueueUrl=url, ReceiptHandle="garbage"),
                         ("ReceiptHandleIsInvalid", 404))
        self.assertEqual(self.error_of(self.sqs.change_message_visibility, QueueUrl=url,
                                       ReceiptHandle=again["ReceiptHandle"], VisibilityTimeout=5),
                         ("AWS.SimpleQueueService.MessageNotInflight", 400))
        self.assertEqual(self.error_of(self.sqs.send_message, QueueUrl=url, MessageBody="x", DelaySeconds=901),
                         ("InvalidParameterValue", 400))
        self.assertEqual(self.error_of(self.sqs.send_message, QueueUrl=url, MessageBody="bad \x01"),
                         ("InvalidMessageContents", 400))
        # Delayed messages are counted as such.
        self.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=600)
        self.assertEqual(self.counts(url), (0, 0, 1))
        self.sqs.purge_queue(QueueUrl=url)
        self.assertEqual(self.counts(url), (0, 0, 0))

    def test_long_poll_returns_when_a_message_arrives(self):
        url = self.make_queue("waiting")
        got = {}
        poller = threading.Thread(target=lambda: got.update(
            self.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=20)))
        poller.start()
        # The poll is in flight (no message yet), then one arrives: it is the poll's.
        self.sqs.send_message(QueueUrl=url, MessageBody="wake up")
        poller.join(30)
        self.assertFalse(poller.is_alive())
        self.assertEqual([m["Body"] for m in got.get("Messages", [])], ["wake up"])

    def test_receive_count_and_dead_letter_queue(self):
        url = self.make_queue("retry", max_receive_count=2)
        dlq = url + "-dlq"
        self.sqs.send_message(QueueUrl=url, MessageBody="poison")
        for count in ("1", "2"):
            m = self.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0,
                                         AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
            self.assertEqual(m["Attributes"]["ApproximateReceiveCount"], count)
        # A third receive would exceed maxReceiveCount 2: the message goes to the DLQ instead.
        self.assertNotIn("Messages", self.sqs.receive_message(QueueUrl=url))
        self.assertEqual(self.counts(url), (0, 0, 0))
        self.assertEqual(self.counts(dlq)[0], 1)
        peek = self.sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"][0]
        self.assertEqual(peek["Body"], "poison")
        self.assertEqual(peek["Attributes"]["DeadLetterQueueSourceArn"], f"arn:aws:sqs:us-east-1:{ACCOUNT}:retry")
        self.assertEqual(self.error_of(self.sqs.delete_message, QueueUrl=dlq, ReceiptHandle=peek["ReceiptHandle"]),
                         ("AWS.SimpleQueueService.UnsupportedOperation", 400))
        self.assertEqual(self.error_of(self.sqs.send_message, QueueUrl=dlq, MessageBody="x"),
                         ("AWS.SimpleQueueService.UnsupportedOperation", 400))
        self.assertEqual(self.sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"], [url])
        self.sqs.purge_queue(QueueUrl=dlq)
        self.assertEqual(self.counts(dlq)[0], 0)

    def test_batches(self):
        url = self.make_queue("batch")
        entries = [{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(11)]
        self.assertEqual(self.error_of(self.sqs.send_message_batch, QueueUrl=url, Entries=entries),
                         ("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400))
        self.assertEqual(self.error_of(self.sqs.send_message_batch, QueueUrl=url,
                                       Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}]),
                         ("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400))
        self.assertEqual(self.error_of(self.sqs.send_message_batch, QueueUrl=url,
                                       Entries=[{"Id": "bad id!", "MessageBody": "1"}]),
                         ("AWS.SimpleQueueService.InvalidBatchEntryId", 400))
        sent = self.sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": "ok1", "MessageBody": "one"}, {"Id": "late", "MessageBody": "x", "DelaySeconds": 900},
            {"Id": "bad", "MessageBody": "two", "DelaySeconds": 0,
             "MessageAttributes": {"n": {"DataType": "String", "StringValue": ""}}},
            {"Id": "ok2", "MessageBody": "three"}])
        self.assertEqual(sorted(e["Id"] for e in sent["Successful"]), ["late", "ok1", "ok2"])
        self.assertEqual([(e["Id"], e["SenderFault"]) for e in sent["Failed"]], [("bad", True)])
        got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual(sorted(m["Body"] for m in got), ["one", "three"])
        vis = self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": "a", "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
            {"Id": "b", "ReceiptHandle": "junk", "VisibilityTimeout": 0}])
        self.assertEqual([e["Id"] for e in vis["Successful"]], ["a"])
        self.assertEqual([(e["Id"], e["Code"]) for e in vis["Failed"]], [("b", "ReceiptHandleIsInvalid")])
        again = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        deleted = self.sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": "x", "ReceiptHandle": again[0]["ReceiptHandle"]},
            {"Id": "y", "ReceiptHandle": got[1]["ReceiptHandle"]},
            {"Id": "z", "ReceiptHandle": "junk"}])
        self.assertEqual(sorted(e["Id"] for e in deleted["Successful"]), ["x", "y"])
        self.assertEqual([(e["Id"], e["Code"]) for e in deleted.get("Failed", [])], [("z", "ReceiptHandleIsInvalid")])
        self.assertEqual(self.counts(url), (0, 0, 1))

    def test_bad_signature_and_unknown_key(self):
        bad = self.client("sqs", secret="not-the-secret-at-all-0000")
        self.assertEqual(self.error_of(bad.list_queues), ("SignatureDoesNotMatch", 403))
        unknown = boto3.session.Session().client(
            "sqs", endpoint_url=self.server.endpoint, region_name="us-east-1",
            aws_access_key_id="AKIAUNKNOWNUNKNOWN01", aws_secret_access_key="x" * 40)
        self.assertEqual(self.error_of(unknown.list_queues), ("InvalidClientTokenId", 403))
        wrong_region = boto3.session.Session().client(
            "sqs", endpoint_url=self.server.endpoint, region_name="eu-west-1",
            aws_access_key_id=self.server.access_key, aws_secret_access_key=self.server.secret_key)
        self.assertEqual(self.error_of(wrong_region.list_queues)[1], 400)

    def test_s3_still_works_on_the_same_port(self):
        s3 = self.client("s3")
        s3.create_bucket(Bucket="side-by-side")
        s3.put_object(Bucket="side-by-side", Key="k", Body=b"data")
        self.assertEqual(s3.get_object(Bucket="side-by-side", Key="k")["Body"].read(), b"data")
        s3.delete_objects(Bucket="side-by-side", Delete={"Objects": [{"Key": "k"}]})  # POST /bucket?delete
        self.assertIn("side-by-side", [b["Name"] for b in s3.list_buckets()["Buckets"]])
        # And an upload under the trigger prefix lands on the pipeline queue, seen through SQS.
        s3.put_object(Bucket="images", Key="uploads/cat.jpg", Body=b"not really a jpeg")
        pipeline = self.sqs.get_queue_url(QueueName="thumbnails")["QueueUrl"]
        m = self.sqs.receive_message(QueueUrl=pipeline, WaitTimeSeconds=20)["Messages"][0]
        self.assertEqual(json.loads(m["Body"])["Records"][0]["s3"]["object"]["key"], "uploads/cat.jpg")
        self.sqs.delete_message(QueueUrl=pipeline, ReceiptHandle=m["ReceiptHandle"])
        # /metrics on the same port counts the SQS answers by action.
        with urllib.request.urlopen(self.server.endpoint + "/metrics", timeout=30) as r:
            metrics = r.read().decode()
        self.assertRegex(metrics, r'thumbpipe_sqs_requests_total\{[^}]*action="ReceiveMessage"')


if __name__ == "__main__":
    unittest.main(verbosity=2)

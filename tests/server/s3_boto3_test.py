#!/usr/bin/python3
"""boto3 (Debian's python3-boto3) against `thumbpipe serve` on a random loopback port: bucket
and object operations, listing with pagination over 2,500 keys, awkward keys, conditional and
range GETs, copy, multi-delete, multipart, presigned URLs used with curl, CORS, authentication
failures, and the S3 events the notifier puts on the queue.

Usage: s3_boto3_test.py THUMBPIPE
"""
import concurrent.futures
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import unittest
import urllib.parse
import urllib.request

import boto3
from botocore.config import Config

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server, error_code, poll  # noqa: E402

THUMBPIPE = sys.argv.pop(1)


def client(server, secret=None, **config):
    return server.s3_client(secret, **config)


class S3Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(THUMBPIPE)
        cls.s3 = client(cls.server)
        cls.s3.create_bucket(Bucket="data")

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def test_buckets(self):
        s3 = self.s3
        s3.create_bucket(Bucket="scratch")
        self.assertEqual(error_code(lambda: s3.create_bucket(Bucket="scratch")), ("BucketAlreadyOwnedByYou", 409))
        names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
        self.assertIn("images", names)
        self.assertIn("scratch", names)
        s3.head_bucket(Bucket="scratch")
        self.assertEqual(error_code(lambda: s3.head_bucket(Bucket="nope-nope")), ("404", 404))
        self.assertIsNone(s3.get_bucket_location(Bucket="scratch").get("LocationConstraint"))
        s3.put_object(Bucket="scratch", Key="x", Body=b"x")
        self.assertEqual(error_code(lambda: s3.delete_bucket(Bucket="scratch")), ("BucketNotEmpty", 409))
        s3.delete_object(Bucket="scratch", Key="x")
        s3.delete_bucket(Bucket="scratch")
        self.assertEqual(error_code(lambda: s3.list_objects_v2(Bucket="scratch")), ("NoSuchBucket", 404))

    def test_put_get_head_delete(self):
        s3 = self.s3
        body = os.urandom(100_000)
        put = s3.put_object(Bucket="data", Key="obj/one.bin", Body=body, ContentType="application/x-test",
                            Metadata={"colour": "blue"})
        self.assertEqual(put["ETag"], '"%s"' % hashlib.md5(body).hexdigest())
        got = s3.get_object(Bucket="data", Key="obj/one.bin")
        self.assertEqual(got["Body"].read(), body)
        self.assertEqual(got["ContentType"], "application/x-test")
        self.assertEqual(got["Metadata"], {"colour": "blue"})
        self.assertEqual(got["ETag"], put["ETag"])
        head = s3.head_object(Bucket="data", Key="obj/one.bin")
        self.assertEqual(head["ContentLength"], len(body))
        part = s3.get_object(Bucket="data", Key="obj/one.bin", Range="bytes=10-19")
        self.assertEqual(part["Body"].read(), body[10:20])
        self.assertEqual(part["ContentRange"], "bytes 10-19/100000")
        tail = s3.get_object(Bucket="data", Key="obj/one.bin", Range="bytes=-5")
        self.assertEqual(tail["Body"].read(), body[-5:])
        self.assertEqual(error_code(lambda: s3.get_object(Bucket="data", Key="obj/one.bin", Range="bytes=200000-")),
                         ("InvalidRange", 416))
        self.assertEqual(error_code(lambda: s3.get_object(Bucket="data", Key="obj/one.bin", IfNoneMatch=put["ETag"])),
                         ("304", 304))
        self.assertEqual(error_code(lambda: s3.get_object(Bucket="data", Key="obj/one.bin", IfMatch='"0000"')),
                         ("PreconditionFailed", 412))
        s3.get_object(Bucket="data", Key="obj/one.bin", IfMatch=put["ETag"])
        s3.delete_object(Bucket="data", Key="obj/one.bin")
        self.assertEqual(error_code(lambda: s3.get_object(Bucket="data", Key="obj/one.bin")), ("NoSuchKey", 404))
        s3.delete_object(Bucket="data", Key="obj/one.bin")  # deleting a missing key succeeds

    def test_empty_and_awkward_keys(self):
        s3 = self.s3
        keys = ["odd/with space.txt", "odd/plus+sign.txt", "odd/ünïcödé ✓.txt", "odd/../escape.txt",
                "odd//double", "odd/a%2Fb", "odd/semi;colon=eq&amp?q", "/leading"]
        for k in keys:
            s3.put_object(Bucket="data", Key=k, Body=k.encode())
        for k in keys:
            self.assertEqual(s3.get_object(Bucket="data", Key=k)["Body"].read(), k.encode(), k)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="odd/")["Contents"]]
        self.assertEqual(listed, sorted(k for k in keys if k.startswith("odd/")))
        s3.put_object(Bucket="data", Key="empty", Body=b"")
        self.assertEqual(s3.get_object(Bucket="data", Key="empty")["Body"].read(), b"")
        self.assertEqual(error_code(lambda: s3.put_object(Bucket="data", Key="k" * 1025, Body=b"x")),
                         ("KeyTooLongError", 400))
        s3.put_object(Bucket="data", Key="é" * 512, Body=b"x")  # 1024 bytes of UTF-8

    def test_list_pagination_2500_keys(self):
        s3 = self.s3
        keys = [f"many/{i // 100:02d}/{i:05d}" for i in range(2500)]
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket="data", Key=k, Body=b"."), keys))
        pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="data", Prefix="many/",
                                                                  PaginationConfig={"PageSize": 1000}))
        self.assertEqual([len(p.get("Contents", [])) for p in pages], [1000, 1000, 500])
        self.assertEqual([o["Key"] for p in pages for o in p["Contents"]], keys)
        v1 = list(s3.get_paginator("list_objects").paginate(Bucket="data", Prefix="many/",
                                                            PaginationConfig={"PageSize": 700}))
        self.assertEqual([o["Key"] for p in v1 for o in p["Contents"]], keys)
        dirs = s3.list_objects_v2(Bucket="data", Prefix="many/", Delimiter="/", MaxKeys=10)
        self.assertEqual([p["Prefix"] for p in dirs["CommonPrefixes"]], [f"many/{i:02d}/" for i in range(10)])
        self.assertTrue(dirs["IsTruncated"])
        rest = s3.list_objects_v2(Bucket="data", Prefix="many/", Delimiter="/",
                                  ContinuationToken=dirs["NextContinuationToken"])
        self.assertEqual(len(rest["CommonPrefixes"]), 15)
        v1dirs = list(s3.get_paginator("list_objects").paginate(Bucket="data", Prefix="many/", Delimiter="/",
                                                                PaginationConfig={"PageSize": 7}))
        self.assertEqual(len([p for page in v1dirs for p in page.get("CommonPrefixes", [])]), 25)
        after = s3.list_objects_v2(Bucket="data", Prefix="many/", StartAfter="many/24/02498")
        self.assertEqual([o["Key"] for o in after["Contents"]], ["many/24/02499"])
        enc = s3.list_objects_v2(Bucket="data", Prefix="odd/with", EncodingType="url")
        self.assertTrue(all(" " not in o["Key"] for o in enc.get("Contents", [])))

    def test_copy_and_delete_objects(self):
        s3 = self.s3
        s3.put_object(Bucket="data", Key="copy/src", Body=b"source", Metadata={"a": "1"})
        s3.copy_object(Bucket="data", Key="copy/dst", CopySource={"Bucket": "data", "Key": "copy/src"})
        got = s3.get_object(Bucket="data", Key="copy/dst")
        self.assertEqual((got["Body"].read(), got["Metadata"]), (b"source", {"a": "1"}))
        s3.copy_object(Bucket="data", Key="copy/dst2", CopySource="data/copy/src",
                       MetadataDirective="REPLACE", Metadata={"b": "2"})
        self.assertEqual(s3.head_object(Bucket="data", Key="copy/dst2")["Metadata"], {"b": "2"})
        self.assertEqual(error_code(lambda: s3.copy_object(Bucket="data", Key="copy/src", CopySource="data/copy/src")),
                         ("InvalidRequest", 400))
        out = s3.delete_objects(Bucket="data", Delete={"Objects": [{"Key": "copy/src"}, {"Key": "copy/dst"},
                                                                   {"Key": "copy/none"}]})
        self.assertEqual(sorted(d["Key"] for d in out["Deleted"]), ["copy/dst", "copy/none", "copy/src"])
        quiet = s3.delete_objects(Bucket="data", Delete={"Objects": [{"Key": "copy/dst2"}], "Quiet": True})
        self.assertNotIn("Deleted", quiet)
        self.assertNotIn("Contents", s3.list_objects_v2(Bucket="data", Prefix="copy/"))

    def test_multipart(self):
        s3 = self.s3
        up = s3.create_multipart_upload(Bucket="data", Key="mp/big.bin", ContentType="application/x-big")
        uid = up["UploadId"]
        parts_data = [os.urandom(5 << 20), os.urandom(5 << 20), os.urandom(1234)]
        parts = []
        for n, data in enumerate(parts_data, 1):
            r = s3.upload_part(Bucket="data", Key="mp/big.bin", UploadId=uid, PartNumber=n, Body=data)
            parts.append({"PartNumber": n, "ETag": r["ETag"]})
        listed = s3.list_parts(Bucket="data", Key="mp/big.bin", UploadId=uid)
        self.assertEqual([p["PartNumber"] for p in listed["Parts"]], [1, 2, 3])
        uploads = s3.list_multipart_uploads(Bucket="data")
        self.assertIn(uid, [u["UploadId"] for u in uploads.get("Uploads", [])])
        done = s3.complete_multipart_upload(Bucket="data", Key="mp/big.bin", UploadId=uid,
                                            MultipartUpload={"Parts": parts})
        digest = hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts_data)).hexdigest()
        self.assertEqual(done["ETag"], f'"{digest}-3"')
        got = s3.get_object(Bucket="data", Key="mp/big.bin")
        self.assertEqual(got["Body"].read(), b"".join(parts_data))
        self.assertEqual(got["ContentType"], "application/x-big")
        aborted = s3.create_multipart_upload(Bucket="data", Key="mp/aborted")["UploadId"]
        s3.abort_multipart_upload(Bucket="data", Key="mp/aborted", UploadId=aborted)
        self.assertEqual(error_code(lambda: s3.list_parts(Bucket="data", Key="mp/aborted", UploadId=aborted)),
                         ("NoSuchUpload", 404))

    def test_presigned_get_and_put_with_curl(self):
        s3 = self.s3
        put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "data", "Key": "presigned/a b.txt"},
                                            ExpiresIn=300)
        body = os.path.join(self.server.tmp.name, "presigned-body")
        with open(body, "wb") as f:
            f.write(b"uploaded with curl")
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", body, put_url],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout, "200", out.stderr)
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "presigned/a b.txt"},
                                            ExpiresIn=300)
        out = subprocess.run(["curl", "-sS", "-f", get_url], capture_output=True, timeout=60)
        self.assertEqual(out.stdout, b"uploaded with curl")
        tampered = get_url.replace("presigned/a", "presigned/b")
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", tampered],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout, "403")

    def test_authentication(self):
        wrong = client(self.server, secret="x" * 40)
        self.assertEqual(error_code(lambda: wrong.list_buckets()), ("SignatureDoesNotMatch", 403))
        try:
            urllib.request.urlopen(self.server.endpoint + "/data")
            self.fail("anonymous request accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 403)
            self.assertIn(b"<Code>AccessDenied</Code>", e.read())
            self.assertTrue(e.headers["x-amz-request-id"])

    def test_virtual_host_style_presigned_with_curl(self):
        s3 = boto3.client("s3", endpoint_url=f"http://localhost:{self.server.port}", region_name="us-east-1",
                          aws_access_key_id=self.server.access_key, aws_secret_access_key=self.server.secret_key,
                          config=Config(s3={"addressing_style": "virtual"}, signature_version="s3v4"))
        self.s3.put_object(Bucket="data", Key="vhost/k.txt", Body=b"virtual host")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "data", "Key": "vhost/k.txt"})
        self.assertTrue(url.startswith(f"http://data.localhost:{self.server.port}/vhost/k.txt?"), url)
        out = subprocess.run(["curl", "-sS", "-f", "--resolve", f"data.localhost:{self.server.port}:127.0.0.1", url],
                             capture_output=True, timeout=60)
        self.assertEqual(out.stdout, b"virtual host", out.stderr)

    def test_signed_body_hash_is_checked(self):
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        url = f"{self.server.endpoint}/images/uploads/forged.jpg"
        req = AWSRequest(method="PUT", url=url, data=b"genuine body")
        S3SigV4Auth(Credentials(self.server.access_key, self.server.secret_key), "s3", "us-east-1").add_auth(req)
        self.assertNotEqual(req.headers["x-amz-content-sha256"], "UNSIGNED-PAYLOAD")
        headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "content-length")}
        headers["Host"] = f"127.0.0.1:{self.server.port}"  # signed from the URL by S3SigV4Auth
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock.sendall(f"PUT /images/uploads/forged.jpg HTTP/1.1\r\n{head}Content-Length: 12\r\n\r\n".encode()
                     + b"forged body!")
        reply = sock.recv(65536)
        sock.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 400"), reply)
        self.assertIn(b"XAmzContentSHA256Mismatch", reply)
        self.assertEqual(error_code(lambda: self.s3.head_object(Bucket="images", Key="uploads/forged.jpg")),
                         ("404", 404))

    def test_cors(self):
        s3 = self.s3
        s3.put_bucket_cors(Bucket="data", CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT", "GET"],
            "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 600}]})
        rules = s3.get_bucket_cors(Bucket="data")["CORSRules"]
        self.assertEqual(rules[0]["AllowedOrigins"], ["https://app.example"])
        req = urllib.request.Request(self.server.endpoint + "/data/upload.jpg", method="OPTIONS", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "content-type"})
        with urllib.request.urlopen(req) as r:
            self.assertEqual(r.headers["Access-Control-Allow-Origin"], "https://app.example")
            self.assertIn("PUT", r.headers["Access-Control-Allow-Methods"])
        bad = urllib.request.Request(self.server.endpoint + "/data/upload.jpg", method="OPTIONS", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "PUT"})
        with self.assertRaises(urllib.error.HTTPError) as ctx:
            urllib.request.urlopen(bad)
        self.assertEqual(ctx.exception.code, 403)
        s3.delete_bucket_cors(Bucket="data")
        self.assertEqual(error_code(lambda: s3.get_bucket_cors(Bucket="data")), ("NoSuchCORSConfiguration", 404))


class Events(unittest.TestCase):
    """Exactly one AWS-format event per upload under the trigger prefix, none elsewhere."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(THUMBPIPE)
        cls.s3 = client(cls.server)

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def test_events(self):
        s3, server = self.s3, self.server
        s3.put_object(Bucket="images", Key="uploads/red flower.jpg", Body=b"jpeg?")
        s3.put_object(Bucket="images", Key="uploads/notes.txt", Body=b"not an image suffix")
        s3.put_object(Bucket="images", Key="elsewhere/cat.jpg", Body=b"outside the prefix")
        s3.copy_object(Bucket="images", Key="uploads/copy+1.png", CopySource="images/elsewhere/cat.jpg")
        uid = s3.create_multipart_upload(Bucket="images", Key="uploads/big.webp")["UploadId"]
        etag = s3.upload_part(Bucket="images", Key="uploads/big.webp", UploadId=uid, PartNumber=1,
                              Body=b"p" * 100)["ETag"]
        s3.complete_multipart_upload(Bucket="images", Key="uploads/big.webp", UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
        s3.delete_object(Bucket="images", Key="uploads/red flower.jpg")
        server.wait_events_sent(4)
        events = server.drain_events()
        records = [e["Records"][0] for e in events]
        got = sorted((r["eventName"], r["s3"]["object"]["key"]) for r in records)
        self.assertEqual(got, sorted([("ObjectCreated:Put", "uploads/red+flower.jpg"),
                                      ("ObjectCreated:Copy", "uploads/copy%2B1.png"),
                                      ("ObjectCreated:CompleteMultipartUpload", "uploads/big.webp"),
                                      ("ObjectRemoved:Delete", "uploads/red+flower.jpg")]))
        put = next(r for r in records if r["eventName"] == "ObjectCreated:Put")
        self.assertEqual(put["eventVersion"], "2.1")
        self.assertEqual(put["eventSource"], "aws:s3")
        self.assertEqual(put["s3"]["bucket"]["name"], "images")
        self.assertEqual(put["s3"]["bucket"]["arn"], "arn:aws:s3:::images")
        self.assertEqual(put["s3"]["object"]["size"], 5)
        self.assertEqual(put["s3"]["object"]["eTag"], hashlib.md5(b"jpeg?").hexdigest())
        self.assertTrue(put["s3"]["object"]["sequencer"])
        self.assertEqual(put["userIdentity"]["principalId"], server.access_key)

        # A notification configuration sends s3:TestEvent and then fires by its own rules.
        s3.create_bucket(Bucket="other")
        arn = "arn:aws:sqs:us-east-1:000000000000:thumbnails"
        s3.put_bucket_notification_configuration(Bucket="other", NotificationConfiguration={
            "QueueConfigurations": [{"Id": "pngs", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"],
                                     "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".png"}]}}}]})
        conf = s3.get_bucket_notification_configuration(Bucket="other")
        self.assertEqual(conf["QueueConfigurations"][0]["QueueArn"], arn)
        s3.put_object(Bucket="other", Key="a.png", Body=b"png")
        s3.put_object(Bucket="other", Key="a.gif", Body=b"gif")
        server.wait_events_sent(6)
        events = server.drain_events()
        self.assertEqual(len(events), 2, events)
        test = next(e for e in events if "Records" not in e)
        self.assertEqual((test["Event"], test["Bucket"], test["Service"]), ("s3:TestEvent", "other", "Amazon S3"))
        rec = next(e for e in events if "Records" in e)["Records"][0]
        self.assertEqual((rec["s3"]["object"]["key"], rec["s3"]["configurationId"]), ("a.png", "pngs"))
        self.assertEqual(server.events_sent(), 6)


class KeysAndLimits(unittest.TestCase):
    """[[credentials]] from the config: bucket lists, read-only / write-only keys, admin-only
    bucket configuration; and server.max_body_bytes."""
    ADMIN = ("ADMINKEY00000000000001", "admin-secret-0123456789")
    READER = ("READERKEY000000000001", "reader-secret-0123456789")
    WRITER = ("WRITERKEY000000000001", "writer-secret-0123456789")

    @classmethod
    def setUpClass(cls):
        creds = ""
        for (ak, sk), extra in [(cls.ADMIN, 'admin = true'),
                                (cls.READER, 'access = "read-only"\nbuckets = ["images"]'),
                                (cls.WRITER, 'access = "write-only"\nbuckets = ["images"]')]:
            creds += f'[[credentials]]\naccess_key = "{ak}"\nsecret_key = "{sk}"\n{extra}\n'
        cls.server = Server(THUMBPIPE, extra_config="[server]\nmax_body_bytes = 1048576\n" + creds,
                            credentials=cls.ADMIN)

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def as_key(self, pair):
        self.server.access_key, self.server.secret_key = pair
        return client(self.server)

    def test_policy(self):
        admin, reader, writer = self.as_key(self.ADMIN), self.as_key(self.READER), self.as_key(self.WRITER)
        self.assertFalse(os.path.exists(os.path.join(self.server.data_dir, "credentials")))
        admin.create_bucket(Bucket="private")
        writer.put_object(Bucket="images", Key="w.txt", Body=b"w")
        self.assertEqual(reader.get_object(Bucket="images", Key="w.txt")["Body"].read(), b"w")
        self.assertEqual(error_code(lambda: reader.put_object(Bucket="images", Key="r.txt", Body=b"r")),
                         ("AccessDenied", 403))
        self.assertEqual(error_code(lambda: writer.get_object(Bucket="images", Key="w.txt")), ("AccessDenied", 403))
        self.assertEqual(error_code(lambda: reader.list_objects_v2(Bucket="private")), ("AccessDenied", 403))
        self.assertEqual([b["Name"] for b in reader.list_buckets()["Buckets"]], ["images"])
        self.assertEqual(error_code(lambda: writer.create_bucket(Bucket="mine")), ("AccessDenied", 403))
        self.assertEqual(error_code(lambda: writer.put_bucket_cors(Bucket="images", CORSConfiguration={
            "CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]})), ("AccessDenied", 403))
        unknown = self.as_key(("NOSUCHKEY00000000001", "x" * 24))
        self.assertEqual(error_code(lambda: unknown.list_buckets()), ("InvalidAccessKeyId", 403))

    def test_limits_and_digests(self):
        admin = self.as_key(self.ADMIN)
        self.assertEqual(error_code(lambda: admin.put_object(Bucket="images", Key="big", Body=b"x" * (1 << 20 | 1))),
                         ("EntityTooLarge", 400))
        admin.put_object(Bucket="images", Key="fits", Body=b"x" * (1 << 20))
        self.assertEqual(error_code(lambda: admin.put_object(Bucket="images", Key="uploads/md5.jpg", Body=b"abc",
                                                             ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")),
                         ("BadDigest", 400))
        self.assertEqual(error_code(lambda: admin.head_object(Bucket="images", Key="uploads/md5.jpg")), ("404", 404))
        self.assertEqual(self.server.events_sent(), 0)


class GracefulStop(unittest.TestCase):
    """SIGTERM: new connections are refused, a request in flight completes, exit 0."""

    def test_in_flight_upload_finishes(self):
        server = Server(THUMBPIPE)
        try:
            s3 = client(server)
            s3.put_object(Bucket="images", Key="part-source", Body=b"0123456789" * 600000)
            uid = s3.create_multipart_upload(Bucket="images", Key="copied")["UploadId"]
            part = s3.upload_part_copy(Bucket="images", Key="copied", UploadId=uid, PartNumber=1,
                                       CopySource="images/part-source", CopySourceRange="bytes=0-5242879")
            s3.complete_multipart_upload(Bucket="images", Key="copied", UploadId=uid, MultipartUpload={
                "Parts": [{"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
            self.assertEqual(s3.head_object(Bucket="images", Key="copied")["ContentLength"], 5242880)

            url = urllib.parse.urlsplit(s3.generate_presigned_url(
                "put_object", Params={"Bucket": "images", "Key": "uploads/slow.jpg"}, ExpiresIn=300))
            body = b"s" * 200000
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.sendall((f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                          f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n").encode())
            self.assertTrue(sock.recv(100).startswith(b"HTTP/1.1 100"))  # the request is under way
            sock.sendall(body[:1000])
            server.proc.send_signal(signal.SIGTERM)
            # The listener closes: a new connection is refused (polled, not slept).
            def refused():
                try:
                    socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
                    return False
                except OSError:
                    return True
            poll(refused, what="the listener to close")
            sock.sendall(body[1000:])
            reply = b""
            while b"\r\n\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
            self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply)
            sock.close()
            self.assertEqual(server.proc.wait(timeout=60), 0)
            # The relay drained the outbox before the process exited: the event is on the queue.
            self.assertEqual(server.events_sent(), 1)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)

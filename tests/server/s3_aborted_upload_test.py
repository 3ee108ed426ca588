#!/usr/bin/python3
"""Uploads that never complete, sent over raw sockets to a real `thumbpipe serve`: a PUT whose
client sends fewer bytes than its Content-Length and then closes (presigned, UNSIGNED-PAYLOAD;
and header-signed, large enough to be spooled to a temp blob first), and signed aws-chunked
PUTs that are refused (a changed byte in chunk 2, the final chunk missing, a decoded length the
chunks do not reach) or cut off mid-body. After each: HEAD says 404, the store's temp area is
empty, and no event was queued (a complete upload made afterwards is the only new event).
Reliability catalogue items 17 and 45.

Usage: s3_aborted_upload_test.py THUMBPIPE AWS_CHUNKED_REQUEST
"""
import hashlib
import os
import socket
import sys
import unittest
import urllib.parse
import subprocess

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server, error_code, poll  # noqa: E402

THUMBPIPE = sys.argv.pop(1)
AWS_CHUNKED_REQUEST = sys.argv.pop(1)  # prints a signed aws-chunked PUT (src/sigv4's encoder)
BUCKET = "images"  # the default trigger: images/uploads/*.jpg raise events


class AbortedUploads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server(THUMBPIPE)
        cls.s3 = cls.server.s3_client()
        cls.tmp_dir = os.path.join(cls.server.data_dir, "objects", "tmp")  # the local store's temp area
        cls.controls = 0

    @classmethod
    def tearDownClass(cls):
        assert cls.server.stop() == 0

    def connect(self):
        return socket.create_connection(("127.0.0.1", self.server.port), timeout=30)

    @staticmethod
    def send(sock, data):
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; its answer is still to be read

    @staticmethod
    def close_and_read(sock):
        """Ends the client's side (the server reads EOF, as when a client closes) and reads what
        the server answers until it closes too: by then it is done with the request."""
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except ConnectionResetError:
            pass
        sock.close()
        return reply

    def chunked_request(self, key, size, fault):
        return subprocess.run(
            [AWS_CHUNKED_REQUEST, f"127.0.0.1:{self.server.port}", f"/{BUCKET}/{key}", self.server.access_key,
             self.server.secret_key, str(size), fault], capture_output=True, check=True, timeout=60).stdout

    def assert_left_nothing(self, key):
        self.assertEqual(error_code(lambda: self.s3.head_object(Bucket=BUCKET, Key=key)), ("404", 404))
        self.assertEqual(os.listdir(self.tmp_dir), [])
        # No event: the notifier's relay sends in commit order, so a complete upload made now is
        # the only new event unless the refused one was committed too.
        type(self).controls += 1
        control = f"uploads/control-{self.controls}.jpg"
        before = self.server.events_sent()
        self.s3.put_object(Bucket=BUCKET, Key=control, Body=b"control")
        self.server.wait_events_sent(before + 1)
        keys = [r["s3"]["object"]["key"] for e in self.server.drain_events() for r in e["Records"]]
        self.assertEqual(keys, [control])
        self.assertEqual(self.server.events_sent(), before + 1)

    def test_presigned_put_cut_short_then_closed(self):
        key = "uploads/cut-presigned.jpg"
        url = urllib.parse.urlsplit(self.s3.generate_presigned_url(
            "put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300))
        sock = self.connect()
        self.send(sock, (f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
                         f"Content-Length: 1000\r\n\r\n").encode() + b"p" * 100)
        reply = self.close_and_read(sock)
        self.assertFalse(reply.startswith(b"HTTP/1.1 2"), reply)
        self.assert_left_nothing(key)

    def test_large_signed_put_cut_short_then_closed(self):
        # Over the server's 256 KiB body buffer and the store's 64 KiB inline limit: the body
        # streams into a temp blob, which must go when the client goes.
        key = "uploads/cut-large.jpg"
        body = b"L" * 1000000
        req = AWSRequest(method="PUT", url=f"{self.server.endpoint}/{BUCKET}/{key}", data=body)
        S3SigV4Auth(Credentials(self.server.access_key, self.server.secret_key), "s3", "us-east-1").add_auth(req)
        self.assertEqual(req.headers["x-amz-content-sha256"], hashlib.sha256(body).hexdigest())
        headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "content-length")}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        sock = self.connect()
        self.send(sock, (f"PUT /{BUCKET}/{key} HTTP/1.1\r\nHost: 127.0.0.1:{self.server.port}\r\n{head}"
                         f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:400000])
        poll(lambda: os.listdir(self.tmp_dir), what="the upload to be spooled to a temp blob")
        reply = self.close_and_read(sock)
        self.assertFalse(reply.startswith(b"HTTP/1.1 2"), reply)
        self.assert_left_nothing(key)

    def test_valid_chunked_put_is_stored_with_its_event(self):
        # The control for the faults below: the same request without a fault is stored.
        key = "uploads/chunked-ok.jpg"
        before = self.server.events_sent()
        sock = self.connect()
        self.send(sock, self.chunked_request(key, 200000, "none"))
        reply = self.close_and_read(sock)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply)
        self.assertEqual(self.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"], 200000)
        self.server.wait_events_sent(before + 1)
        keys = [r["s3"]["object"]["key"] for e in self.server.drain_events() for r in e["Records"]]
        self.assertEqual(keys, [key])
        self.assertEqual(os.listdir(self.tmp_dir), [])

    def refused_chunked(self, key, size, fault, status, code):
        sock = self.connect()
        self.send(sock, self.chunked_request(key, size, fault))
        reply = self.close_and_read(sock)
        self.assertTrue(reply.startswith(f"HTTP/1.1 {status}".encode()), reply)
        self.assertIn(f"<Code>{code}</Code>".encode(), reply)
        self.assert_left_nothing(key)

    def test_chunked_with_a_changed_byte_in_chunk_2(self):
        # 600,000 bytes: over the server's body buffer, so Begin and a Body step run first.
        self.refused_chunked("uploads/chunk2.jpg", 600000, "chunk2-data", 403, "SignatureDoesNotMatch")

    def test_chunked_without_its_final_chunk(self):
        self.refused_chunked("uploads/no-final.jpg", 200000, "no-final-chunk", 400, "IncompleteBody")

    def test_chunked_shorter_than_its_decoded_length(self):
        self.refused_chunked("uploads/short-decoded.jpg", 200000, "decoded-length", 400, "IncompleteBody")

    def test_chunked_cut_off_mid_body_then_closed(self):
        key = "uploads/chunked-cut.jpg"
        request = self.chunked_request(key, 600000, "none")
        sock = self.connect()
        self.send(sock, request[:len(request) // 2])
        poll(lambda: os.listdir(self.tmp_dir), what="the upload to be spooled to a temp blob")
        reply = self.close_and_read(sock)
        self.assertFalse(reply.startswith(b"HTTP/1.1 2"), reply)
        self.assert_left_nothing(key)


if __name__ == "__main__":
    unittest.main(verbosity=2)

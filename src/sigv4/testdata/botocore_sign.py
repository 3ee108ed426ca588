"""Signs requests with Debian's botocore (the signer inside aws-cli and boto3) and prints
them as JSON lines for botocore_interop_test.cc: S3 header auth, S3 presigned URLs and SQS
(generic SigV4), over keys that S3 clients are known to get wrong. Run with /usr/bin/python3.
"""
import hashlib
import json
import sys
from urllib.parse import quote, urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CREDS = Credentials("AKIAEXAMPLEEXAMPLE01", "a-long-random-secret")
ENDPOINT = "http://127.0.0.1:9000"
KEYS = ["photos/cat one.jpg", "a+b=c&d", "../x", "a/../b", "a//b", "/abs", ".", "..", "a\\b",
        "ü/日本語.png", "sp ace/(paren)!*'", "tilde~key", "key?x=y#frag", "%41%2F", "semi;colon:"]


def emit(kind, request, payload_hash=None):
    split = urlsplit(request.url)
    print(json.dumps({
        "kind": kind,
        "method": request.method,
        "path": split.path,
        "query": split.query,
        # The HTTP library adds Host from the URL; botocore signs that value.
        "headers": [["Host", split.netloc]] + [[k, v] for k, v in request.headers.items()],
        "payload_hash": payload_hash,
    }))


def main():
    for key in KEYS:
        url = ENDPOINT + "/bucket/" + quote(key, safe="/~")
        body = ("body of " + key).encode()
        req = AWSRequest("PUT", url, data=body, headers={"Content-Type": "image/jpeg",
                                                         "x-amz-meta-owner": "  Alice   B "})
        S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
        emit("s3-header", req)

        req = AWSRequest("GET", url + "?response-content-type=" + quote("image/png", safe="~"))
        S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=3600).add_auth(req)
        emit("s3-presign", req)

    req = AWSRequest("GET", ENDPOINT + "/bucket?list-type=2&prefix=" + quote("a b/", safe="~") +
                     "&delimiter=%2F&encoding-type=url")
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(req)
    emit("s3-header", req)

    body = json.dumps({"QueueUrl": ENDPOINT + "/000000000000/images", "MessageBody": "hi"}).encode()
    req = AWSRequest("POST", ENDPOINT + "/", data=body,
                     headers={"Content-Type": "application/x-amz-json-1.0",
                              "X-Amz-Target": "AmazonSQS.SendMessage"})
    SigV4Auth(CREDS, "sqs", "us-east-1").add_auth(req)
    emit("sqs", req, hashlib.sha256(body).hexdigest())


if __name__ == "__main__":
    sys.exit(main())

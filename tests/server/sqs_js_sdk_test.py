#!/usr/bin/python3
"""The current AWS SDK for JavaScript (@aws-sdk/client-sqs, from the npm registry, installed into
the build tree with tests/server/package.json) against `thumbpipe serve`'s SQS API in the JSON
protocol: queues, messages, the DLQ and StartMessageMoveTask, batches, errors by name (read from
x-amzn-query-error / __type). Skipped, saying so, when the registry cannot be reached.

Usage: sqs_js_sdk_test.py THUMBPIPE NPM_PREFIX
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server  # noqa: E402
import npm_sdk  # noqa: E402

THUMBPIPE = sys.argv.pop(1)
NPM_PREFIX = sys.argv.pop(1)


class SqsJsSdk(unittest.TestCase):
    def test_sqs_js_sdk(self):
        server = Server(THUMBPIPE)
        try:
            npm_sdk.run_node_script(self, NPM_PREFIX, "@aws-sdk/client-sqs", "sqs_js_sdk_test.mjs", server)
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

#!/usr/bin/python3
"""The current AWS SDK for JavaScript (@aws-sdk/client-sqs, from the npm registry, installed into
the build tree with tests/server/package.json) against `thumbpipe serve`'s SQS API in the JSON
protocol: queues, messages, the DLQ and StartMessageMoveTask, batches, errors by name (read from
x-amzn-query-error / __type). Skipped, saying so, when the registry cannot be reached.

Usage: sqs_js_sdk_test.py THUMBPIPE NPM_PREFIX
"""
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server  # noqa: E402
import npm_sdk  # noqa: E402

THUMBPIPE = sys.argv.pop(1)
NPM_PREFIX = sys.argv.pop(1)
HERE = os.path.dirname(os.path.abspath(__file__))


class SqsJsSdk(unittest.TestCase):
    def test_sqs_js_sdk(self):
        reason = npm_sdk.install(NPM_PREFIX, "@aws-sdk/client-sqs")
        if reason:
            self.skipTest(reason)
        server = Server(THUMBPIPE)
        try:
            script = os.path.join(NPM_PREFIX, "sqs_js_sdk_test.mjs")
            shutil.copy(os.path.join(HERE, "sqs_js_sdk_test.mjs"), script)  # resolves node_modules beside it
            out = subprocess.run(["node", script, server.endpoint, server.access_key, server.secret_key],
                                 capture_output=True, text=True, timeout=600, env=server.env())
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr + "\nserver log:\n" + server.output())
            self.assertIn("ok", out.stdout)
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

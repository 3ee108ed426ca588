#!/usr/bin/python3
"""The current AWS SDK for JavaScript (@aws-sdk/client-s3, from the npm registry, installed into
the build tree) against `thumbpipe serve`: aws-chunked uploads with CRC32 trailers, and exactly
one event for its upload under the trigger prefix. Skipped, saying so, when the registry cannot
be reached.

Usage: s3_js_sdk_test.py THUMBPIPE NPM_PREFIX
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


class JsSdk(unittest.TestCase):
    def test_js_sdk(self):
        reason = npm_sdk.install(NPM_PREFIX, "@aws-sdk/client-s3")
        if reason:
            self.skipTest(reason)
        server = Server(THUMBPIPE)
        try:
            script = os.path.join(NPM_PREFIX, "s3_js_sdk_test.mjs")
            shutil.copy(os.path.join(HERE, "s3_js_sdk_test.mjs"), script)  # resolves node_modules beside it
            out = subprocess.run(["node", script, server.endpoint, server.access_key, server.secret_key],
                                 capture_output=True, text=True, timeout=600, env=server.env())
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr + "\nserver log:\n" + server.output())
            self.assertIn("ok", out.stdout)
            server.wait_events_sent(1)
            events = server.drain_events()
            self.assertEqual([e["Records"][0]["s3"]["object"]["key"] for e in events], ["uploads/from-js.png"])
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

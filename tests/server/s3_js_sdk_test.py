#!/usr/bin/python3
"""The current AWS SDK for JavaScript (@aws-sdk/client-s3, from the npm registry, installed into
the build tree) against `thumbpipe serve`: aws-chunked uploads with CRC32 trailers, and exactly
one event for its upload under the trigger prefix. Skipped, saying so, when the registry cannot
be reached.

Usage: s3_js_sdk_test.py THUMBPIPE NPM_PREFIX
"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server  # noqa: E402
import npm_sdk  # noqa: E402

THUMBPIPE = sys.argv.pop(1)
NPM_PREFIX = sys.argv.pop(1)


class JsSdk(unittest.TestCase):
    def test_js_sdk(self):
        server = Server(THUMBPIPE)
        try:
            npm_sdk.run_node_script(self, NPM_PREFIX, "@aws-sdk/client-s3", "s3_js_sdk_test.mjs", server)
            server.wait_events_sent(1)
            events = server.drain_events()
            self.assertEqual([e["Records"][0]["s3"]["object"]["key"] for e in events], ["uploads/from-js.png"])
        finally:
            self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)

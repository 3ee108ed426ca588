#!/usr/bin/python3
"""End-to-end checks of `thumbpipe thumbnail`, `version` and `config` as a user runs them:
real files in, files and JSON lines out, exit codes. Inputs come from make_fixtures.

Usage: thumbnail_cli_test.py THUMBPIPE MAKE_FIXTURES
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

THUMBPIPE, MAKE_FIXTURES = sys.argv[1], sys.argv[2]


def run(*args, env=None):
    return subprocess.run([THUMBPIPE, *args], capture_output=True, text=True, env=env, timeout=120)


class ThumbnailCommand(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.fixtures = os.path.join(cls.tmp.name, "in")
        subprocess.run([MAKE_FIXTURES, cls.fixtures], check=True, capture_output=True)

    def fixture(self, name):
        return os.path.join(self.fixtures, name)

    def test_default_variants_and_one_json_line_per_input_in_order(self):
        out = os.path.join(self.tmp.name, "default")
        inputs = [self.fixture(n) for n in ("photo.jpg", "alpha.png", "oriented6.jpg")]
        proc = run("thumbnail", "-o", out, *inputs)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = [json.loads(l) for l in proc.stdout.splitlines()]
        self.assertEqual([l["input"] for l in lines], inputs)
        for line in lines:
            self.assertTrue(line["ok"])
            self.assertEqual([r["variant"] for r in line["renditions"]], ["small", "medium", "large"])
            for r in line["renditions"]:
                self.assertTrue(os.path.isfile(r["path"]), r["path"])
                self.assertEqual(os.path.getsize(r["path"]), r["bytes"])
        self.assertEqual(lines[0]["info"]["format"], "jpeg")
        self.assertEqual(lines[2]["info"]["orientation"], 6)
        self.assertTrue(os.path.isfile(os.path.join(out, "small", "photo.webp")))
        self.assertTrue(os.path.isfile(os.path.join(out, "medium", "alpha.jpg")))

    def test_variant_flags_replace_the_config(self):
        out = os.path.join(self.tmp.name, "flags")
        proc = run("thumbnail", "-o", out, "--variant", "sq:40x40:cover:png",
                   "--variant", "w:50x:inside:webp:60", self.fixture("photo.jpg"))
        self.assertEqual(proc.returncode, 0, proc.stderr)
        line = json.loads(proc.stdout)
        got = {r["variant"]: (r["format"], r["width"], r["height"]) for r in line["renditions"]}
        self.assertEqual(got, {"sq": ("png", 40, 40), "w": ("webp", 50, 33)})

    def test_failures_are_classified_and_the_exit_code_says_so(self):
        out = os.path.join(self.tmp.name, "bad")
        proc = run("thumbnail", "-o", out, self.fixture("photo.jpg"), self.fixture("truncated.jpg"),
                   self.fixture("bomb.png"), self.fixture("lossless.jpg"),
                   os.path.join(self.fixtures, "missing.jpg"))
        self.assertEqual(proc.returncode, 1)
        lines = [json.loads(l) for l in proc.stdout.splitlines()]
        self.assertTrue(lines[0]["ok"])
        classes = [l["error"]["class"] for l in lines[1:]]
        self.assertEqual(classes, ["corrupt", "too_large", "unsupported", "not_found"])
        self.assertTrue(all(l["error"]["permanent"] for l in lines[1:]))
        self.assertIn("max_input_pixels", lines[2]["error"]["reason"])
        self.assertFalse(os.path.exists(os.path.join(out, "small", "truncated.webp")))

    def test_limits_come_from_the_config_file_and_the_environment(self):
        config = os.path.join(self.tmp.name, "limits.toml")
        with open(config, "w") as f:
            f.write("[limits]\nmax_input_pixels = 1000\n")
        proc = run("thumbnail", "--config", config, "-o", self.tmp.name, self.fixture("photo.jpg"))
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(json.loads(proc.stdout)["error"]["class"], "too_large")
        env = dict(os.environ, THUMBPIPE_LIMITS_MAX_INPUT_BYTES="100")
        proc = run("thumbnail", "-o", self.tmp.name, self.fixture("photo.jpg"), env=env)
        self.assertEqual(json.loads(proc.stdout)["error"]["class"], "too_large")
        self.assertIn("max_input_bytes = 100", json.loads(proc.stdout)["error"]["reason"])

    def test_bad_usage_and_bad_config_exit_2_with_a_message(self):
        proc = run("thumbnail", "--variant", "nosize", self.fixture("photo.jpg"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("NAME:WxH", proc.stderr)
        config = os.path.join(self.tmp.name, "typo.toml")
        with open(config, "w") as f:
            f.write("[limits]\nmax_input_pixel = 5\n")
        proc = run("thumbnail", "--config", config, self.fixture("photo.jpg"))
        self.assertEqual(proc.returncode, 2)
        self.assertIn("limits.max_input_pixel", proc.stderr)


class VersionAndConfigCommands(unittest.TestCase):
    def test_version_names_libvips_and_formats(self):
        proc = run("version")
        self.assertEqual(proc.returncode, 0)
        self.assertRegex(proc.stdout, r"libvips 8\.\d+")
        self.assertIn("input formats: jpeg png webp gif tiff heif avif", proc.stdout)
        self.assertIn("output formats: jpeg png webp avif gif", proc.stdout)

    def test_config_prints_the_effective_configuration(self):
        env = dict(os.environ, THUMBPIPE_WORKER_CONCURRENCY="3")
        proc = run("config", env=env)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("concurrency = 3", proc.stdout)
        self.assertIn('name = "small"', proc.stdout)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)

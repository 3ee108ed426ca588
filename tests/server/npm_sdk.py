"""Installs the npm packages of tests/server/package.json into the build tree, once, for the
tests that drive `serve` with the AWS SDK for JavaScript (s3_js_sdk, sqs_js_sdk). Tests running
at once (ctest -j) share one install under a file lock.
"""
import fcntl
import os
import shutil
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def install(npm_prefix, package):
    """Returns None when `package` is installed under npm_prefix, or the reason it could not be."""
    marker = os.path.join(npm_prefix, "node_modules", *package.split("/"), "package.json")
    if os.path.exists(marker):
        return None
    if not shutil.which("npm"):
        return "npm is not installed"
    os.makedirs(npm_prefix, exist_ok=True)
    with open(os.path.join(npm_prefix, ".install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if os.path.exists(marker):
            return None  # another test installed it meanwhile
        shutil.copy(os.path.join(HERE, "package.json"), os.path.join(npm_prefix, "package.json"))
        out = subprocess.run(["npm", "install", "--prefix", npm_prefix, "--no-audit", "--no-fund"],
                             capture_output=True, text=True, timeout=900)
        if out.returncode != 0 or not os.path.exists(marker):
            return f"npm install of {package} failed (registry unreachable?): " + out.stderr[-500:]
    return None


def run_node_script(test, npm_prefix, package, script_name, server):
    """Runs tests/server/SCRIPT_NAME with node against `server` (endpoint, key, secret as
    arguments), once `package` is installed (the test is skipped, saying why, when it cannot
    be), and fails `test` unless the script exits 0 and prints "ok"."""
    reason = install(npm_prefix, package)
    if reason:
        test.skipTest(reason)
    script = os.path.join(npm_prefix, script_name)
    shutil.copy(os.path.join(HERE, script_name), script)  # resolves node_modules beside it
    out = subprocess.run(["node", script, server.endpoint, server.access_key, server.secret_key],
                         capture_output=True, text=True, timeout=600, env=server.env())
    test.assertEqual(out.returncode, 0, out.stdout + out.stderr + "\nserver log:\n" + server.output())
    test.assertIn("ok", out.stdout)

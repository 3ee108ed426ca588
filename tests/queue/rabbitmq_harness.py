#!/usr/bin/python3
"""Starts a private RabbitMQ node for a test, runs the test, stops the node by PID.

    rabbitmq_harness.py [--keep-log] -- COMMAND ARGS...

The node lives in a fresh temp dir (mnesia, logs, HOME with its own Erlang cookie), listens on
127.0.0.1 only, on free ports picked at start (AMQP, Erlang distribution, and its own epmd, so
that parallel tests and other nodes on the machine never meet). COMMAND runs with
THUMBPIPE_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:PORT/%2f and THUMBPIPE_TEST_RABBITMQ_CTL,
a command line that restarts or stops the node (see `restart` below), and its exit code is
the harness's. When rabbitmq-server is not installed the harness says so and exits 77, which
CTest reports as skipped (SKIP_RETURN_CODE).

Also usable as a module from python tests: `with RabbitNode() as node: node.url`.

Why not the package's service: /usr/sbin/rabbitmq-server su's to the rabbitmq user and writes
to /var; the scripts in /usr/lib/rabbitmq/bin take everything from the environment. Why a
slim plugin dir: booting scans every module of every bundled app (about 5 s); the 21 apps the
broker needs boot in about 4 s. Why our own epmd: RabbitMQ 3.10 starts one if none answers,
as a daemon that outlives the broker, on the shared port 4369.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

RABBIT_LIB = "/usr/lib/rabbitmq/lib"
RABBIT_BIN = "/usr/lib/rabbitmq/bin"
EPMD = "/usr/bin/epmd"
# The apps `rabbit` needs to boot (3.10); everything else in the plugin dir is optional.
NEEDED_APPS = ["rabbit", "rabbit_common", "rabbitmq_prelaunch", "ra", "osiris", "aten",
               "gen_batch_server", "seshat", "sysmon_handler", "stdout_formatter", "recon",
               "observer_cli", "amqp10_common", "syslog", "systemd", "enough", "ranch", "jsx",
               "credentials_obfuscation", "cuttlefish", "getopt"]
START_TIMEOUT_S = 90   # a loaded 2-core machine has been seen at 12 s; leave room
STOP_TIMEOUT_S = 30


def installed():
    return os.path.isdir(RABBIT_LIB) and os.path.exists(EPMD)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def amqp_ready(port):
    """True when the broker answers the AMQP 0-9-1 header with connection.start."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"AMQP\x00\x00\x09\x01")
            data = s.recv(7)
            return len(data) == 7 and data[0] == 1  # a method frame
    except OSError:
        return False


class RabbitNode:
    def __init__(self, keep_dir=False):
        self.keep_dir = keep_dir
        self.dir = tempfile.mkdtemp(prefix="thumbpipe-rabbitmq-")
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = "thumbpipe%d_%d@localhost" % (os.getpid(), self.amqp_port)
        self.epmd = None
        self.server = None
        self.url = "amqp://guest:guest@127.0.0.1:%d/%%2f" % self.amqp_port
        self._prepare()

    def _prepare(self):
        d = self.dir
        for sub in ("home", "mnesia", "log", "plugins"):
            os.makedirs(os.path.join(d, sub))
        cookie = os.path.join(d, "home", ".erlang.cookie")
        with open(cookie, "w") as f:
            f.write(os.urandom(16).hex())
        os.chmod(cookie, 0o400)
        plugins = os.path.join(RABBIT_LIB, os.listdir(RABBIT_LIB)[0], "plugins")
        for entry in os.listdir(plugins):
            if entry.rsplit("-", 1)[0] in NEEDED_APPS:
                os.symlink(os.path.join(plugins, entry), os.path.join(d, "plugins", entry))
        with open(os.path.join(d, "rabbitmq.conf"), "w") as f:
            f.write("listeners.tcp.default = 127.0.0.1:%d\n" % self.amqp_port)
            f.write("loopback_users.guest = true\nlog.console = true\nlog.file = false\n")
            f.write("log.console.level = warning\n")
        with open(os.path.join(d, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        open(os.path.join(d, "empty-env.conf"), "w").close()

    def env(self):
        d = self.dir
        e = dict(os.environ)
        dist = "-kernel inet_dist_use_interface {127,0,0,1}"
        e.update({
            "HOME": os.path.join(d, "home"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(d, "empty-env.conf"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": os.path.join(d, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(d, "log"),
            "RABBITMQ_PID_FILE": os.path.join(d, "rabbit.pid"),
            "RABBITMQ_CONFIG_FILE": os.path.join(d, "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(d, "enabled_plugins"),
            "RABBITMQ_PLUGINS_DIR": os.path.join(d, "plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": dist,
            "RABBITMQ_CTL_ERL_ARGS": dist,
            "PATH": RABBIT_BIN + ":" + e.get("PATH", "/usr/bin:/bin"),
        })
        return e

    def start(self):
        log = open(os.path.join(self.dir, "log", "epmd.log"), "ab")
        # In the foreground (no -daemon), so that its PID is ours to stop.
        self.epmd = subprocess.Popen([EPMD, "-address", "127.0.0.1", "-port", str(self.epmd_port)],
                                     stdout=log, stderr=log, env=self.env(), start_new_session=True)
        self.start_server()
        return self

    def start_server(self):
        log = open(os.path.join(self.dir, "log", "console.log"), "ab")
        self.server = subprocess.Popen([os.path.join(RABBIT_BIN, "rabbitmq-server")], stdout=log,
                                       stderr=log, env=self.env(), start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not amqp_ready(self.amqp_port):
            if self.server.poll() is not None:
                raise RuntimeError("rabbitmq-server exited with %d; log: %s" %
                                   (self.server.returncode, self.console_log_tail()))
            if time.monotonic() > deadline:
                raise RuntimeError("rabbitmq-server not ready after %d s; log: %s" %
                                   (START_TIMEOUT_S, self.console_log_tail()))
            time.sleep(0.1)  # polling a port for readiness: there is no event to wait on

    def stop_server(self):
        """SIGTERM to the server script (it stops the Erlang VM gracefully), SIGKILL to its
        process group if that takes too long."""
        if self.server is None or self.server.poll() is not None:
            return
        self.server.send_signal(signal.SIGTERM)
        try:
            self.server.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()
        # The script may exit before the VM it started; the VM is in the same session.
        try:
            os.killpg(self.server.pid, 0)
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while time.monotonic() < deadline:
                time.sleep(0.1)
                os.killpg(self.server.pid, 0)
            os.killpg(self.server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop(self):
        try:
            self.stop_server()
        finally:
            if self.epmd is not None and self.epmd.poll() is None:
                self.epmd.terminate()
                self.epmd.wait()
            if not self.keep_dir:
                shutil.rmtree(self.dir, ignore_errors=True)

    def console_log_tail(self):
        try:
            with open(os.path.join(self.dir, "log", "console.log"), "rb") as f:
                return f.read()[-3000:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def exit_on_sigterm():
    """Turns SIGTERM (a CTest timeout, a CI cancel) into SystemExit, so that `finally` blocks run
    and the broker is stopped instead of outliving the test."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def main(argv):
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1:]
    if not installed():
        print("rabbitmq-server is not installed (scripts/bootstrap installs it): skipped")
        return 77
    exit_on_sigterm()
    node = RabbitNode()
    child = None
    try:
        t0 = time.monotonic()
        node.start()
        print("rabbitmq node %s on 127.0.0.1:%d ready in %.1f s" %
              (node.node, node.amqp_port, time.monotonic() - t0), flush=True)
        env = dict(os.environ)
        env["THUMBPIPE_TEST_AMQP_URL"] = node.url
        # A child test restarts the broker by signalling the harness: SIGUSR1 = stop and start
        # again with the same data dir (a broker restart), answered by touching the file named
        # in THUMBPIPE_TEST_RABBITMQ_RESTARTED.
        restarted = os.path.join(node.dir, "restarted")
        env["THUMBPIPE_TEST_RABBITMQ_HARNESS_PID"] = str(os.getpid())
        env["THUMBPIPE_TEST_RABBITMQ_RESTARTED"] = restarted

        def restart(signum, frame):
            node.stop_server()
            node.start_server()
            with open(restarted, "a") as f:
                f.write("1\n")

        signal.signal(signal.SIGUSR1, restart)
        child = subprocess.Popen(command, env=env)
        while True:
            try:
                return child.wait()
            except InterruptedError:
                continue
    except RuntimeError as e:
        print("rabbitmq harness: %s" % e, file=sys.stderr)
        return 1
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        node.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

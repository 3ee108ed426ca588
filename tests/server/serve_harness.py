"""Starts `thumbpipe serve` on a random loopback port for integration tests, with a fresh
data directory, and gives clients what they need: the endpoint, the generated credentials,
and the events the server put on its queue (read with `thumbpipe queue ...`).
With workers=0 (the default) no worker consumes the events, so tests of the S3 API see them
all on the queue.

No sleeps for synchronisation: the port comes from --port-file (polled with a deadline), and
events are awaited by polling the queue's counters with a deadline.
"""
import json
import os
import resource
import signal
import subprocess
import tempfile
import time

DEADLINE_S = 30
AWS = "/usr/bin/aws"  # Debian's aws-cli, not the pyenv one first on PATH


def poll(condition, timeout=DEADLINE_S, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)  # polling interval, not synchronisation: the condition decides
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def error_code(call):
    """The S3 error code and HTTP status of a boto3 call that must fail."""
    import botocore.exceptions
    try:
        call()
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("no error")


class Server:
    def __init__(self, thumbpipe, extra_config="", credentials=None, workers=0, max_open_files=None):
        self.thumbpipe = thumbpipe
        self.max_open_files = max_open_files  # RLIMIT_NOFILE for serve, when given
        self.tmp = tempfile.TemporaryDirectory(prefix="thumbpipe-serve-")
        self.data_dir = os.path.join(self.tmp.name, "data")
        self.config = os.path.join(self.tmp.name, "thumbpipe.toml")
        with open(self.config, "w") as f:
            f.write(f'data_dir = "{self.data_dir}"\n[log]\nlevel = "warn"\n{extra_config}\n')
        self.port_file = os.path.join(self.tmp.name, "port")
        self.log = open(os.path.join(self.tmp.name, "serve.log"), "w+")
        self.workers = workers
        self._start()
        self.credentials_file = os.path.join(self.data_dir, "credentials")
        # A (key, secret) pair from the config, or the key serve generated on first start.
        self.access_key, self.secret_key = credentials or self._read_credentials()

    def _start(self):
        thumbpipe, workers = self.thumbpipe, self.workers
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.proc = subprocess.Popen(
            [thumbpipe, "serve", "--config", self.config, "--listen", "127.0.0.1:0",
             "--port-file", self.port_file, "--workers", str(workers)],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env(), preexec_fn=self._limits)
        poll(lambda: os.path.exists(self.port_file) or self.proc.poll() is not None, what="the port file")
        if self.proc.poll() is not None:
            raise AssertionError("serve exited at start:\n" + self.output())
        with open(self.port_file) as f:
            self.port = int(f.read().strip())
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _limits(self):
        if self.max_open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_open_files, self.max_open_files))

    def restart(self):
        """Stops serve with SIGTERM and starts it again on the same data directory (a new port)."""
        self.proc.send_signal(signal.SIGTERM)
        if self.proc.wait(timeout=60) != 0:
            raise AssertionError("serve did not exit cleanly:\n" + self.output())
        self._start()

    def env(self):
        env = dict(os.environ)
        for name in list(env):
            if name.startswith("THUMBPIPE_") or name.startswith("AWS_"):
                del env[name]
        return env

    def _read_credentials(self):
        values = {}
        with open(self.credentials_file) as f:
            for line in f:
                if "=" in line and not line.startswith("#"):
                    name, value = line.split("=", 1)
                    values[name.strip()] = value.strip()
        return values["aws_access_key_id"], values["aws_secret_access_key"]

    def client_env(self):
        env = self.env()
        env.update(AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key,
                   AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        return env

    def s3_client(self, secret=None, **config):
        """A boto3 S3 client for this server (path-style, SigV4, no retries), with its key and
        `secret` or its own; `config` adds botocore Config settings."""
        import boto3
        from botocore.config import Config
        return boto3.client(
            "s3", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=self.access_key, aws_secret_access_key=secret or self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, signature_version="s3v4",
                          **config))

    def aws_cli(self, *args, timeout=600):
        """Runs Debian's aws-cli against this server with its credentials: the finished process."""
        return subprocess.run([AWS, "--endpoint-url", self.endpoint, *args], capture_output=True, text=True,
                              env=self.client_env(), timeout=timeout)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def queue_cli(self, *args):
        out = subprocess.run([self.thumbpipe, "queue", *args, "--config", self.config, "--json"],
                             capture_output=True, text=True, env=self.env(), timeout=60)
        if out.returncode != 0:
            raise AssertionError(f"thumbpipe queue {args}: {out.stderr}")
        return json.loads(out.stdout)

    def events_sent(self):
        return self.queue_cli("stats")["sent"]

    def wait_events_sent(self, count):
        poll(lambda: self.events_sent() >= count, what=f"{count} events on the queue")
        return self.events_sent()

    def drain_events(self):
        """Every message on the queue now, parsed (hidden for an hour once read)."""
        bodies = []
        while True:
            got = self.queue_cli("receive", "--max", "10", "--visibility", "1h")
            if not got:
                return bodies
            bodies.extend(json.loads(m["body"]) for m in got)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("serve did not stop within 60 s of SIGTERM")
        else:
            code = self.proc.returncode
        self.log.close()
        self.tmp.cleanup()
        return code

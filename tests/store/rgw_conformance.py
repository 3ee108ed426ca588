#!/usr/bin/python3
"""Runs the S3 client's conformance tests (s3_store_test) against a real Ceph RGW.

Starts a throw-away Ceph cluster on 127.0.0.1 in a temporary directory: one monitor, one OSD
with the memstore object store (data in RAM) and radosgw with the beast frontend, no ceph-mgr,
no authentication inside the cluster (cephx off: nothing listens beyond loopback). Then it
creates an S3 user, runs `s3_store_test --gtest_filter=*/Rgw` with that endpoint and those
keys, and stops every daemon by PID. Exit code 77 (ctest: skipped) when the Ceph packages are
not installed (scripts/bootstrap installs them).

The recipe and its traps: ../shared/reference/engines-on-this-machine.md section 5 (notably
`ms mon client mode = crc`, without which radosgw never finishes authenticating to the mon).

usage: rgw_conformance.py S3_STORE_TEST [extra gtest args...]
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

SKIP = 77
START_DEADLINE_S = 120  # about 15 s on an idle machine; the CI machine is shared
ACCESS_KEY = "THUMBPIPERGWTESTKEY1"
SECRET_KEY = "thumbpipe-rgw-test-secret-key-0123456789"
BINARIES = ["/usr/bin/ceph-mon", "/usr/bin/ceph-osd", "/usr/bin/radosgw", "/usr/bin/ceph", "/usr/bin/radosgw-admin"]


def die_with_parent():
    """Runs in each daemon before exec: SIGTERM when this harness dies, even by SIGKILL (a
    CTest timeout), so no daemon outlives the test."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(condition, what, deadline_s=START_DEADLINE_S, procs=()):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if condition():
            return
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[0]} exited with {p.returncode} while waiting for {what}")
        time.sleep(0.2)  # polling interval; the condition decides
    raise RuntimeError(f"timed out after {deadline_s}s waiting for {what}")


class Cluster:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="thumbpipe-rgw-")
        self.procs = []
        self.mon_port = free_port()
        self.rgw_port = free_port()
        # The OSD binds a few ports from a range; a random range keeps parallel runs apart.
        base = 20000 + (os.getpid() % 400) * 50
        self.conf = os.path.join(self.dir, "ceph.conf")
        for sub in ("run", "log", "mon", "osd", "rgw"):
            os.makedirs(os.path.join(self.dir, sub))
        d = self.dir
        with open(self.conf, "w") as f:
            f.write(f"""[global]
fsid = {uuid.uuid4()}
mon host = v2:127.0.0.1:{self.mon_port}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
ms bind msgr1 = false
ms bind port min = {base}
ms bind port max = {base + 49}
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
mon max pg per osd = 1000
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 1073741824
mon data avail crit = 0
run dir = {d}/run
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
pid file = {d}/run/$name.pid
mon data = {d}/mon/$cluster-$id
osd data = {d}/osd/$cluster-$id
keyring = /dev/null
[mon.a]
public addr = v2:127.0.0.1:{self.mon_port}
[client.rgw.r]
rgw frontends = beast endpoint=127.0.0.1:{self.rgw_port}
rgw data = {d}/rgw
ms mon client mode = crc
""")

    def run(self, *args, timeout=60):
        out = subprocess.run(list(args) + ["-c", self.conf], capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        return out.stdout

    def daemon(self, *args):
        log = open(os.path.join(self.dir, "log", os.path.basename(args[0]) + ".console"), "w")
        p = subprocess.Popen(list(args) + ["-c", self.conf, "-f"], stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True, preexec_fn=die_with_parent)
        self.procs.append(p)
        return p

    def start(self):
        t0 = time.monotonic()
        self.run("/usr/bin/ceph-mon", "--id", "a", "--mkfs", "--keyring", "/dev/null")
        mon = self.daemon("/usr/bin/ceph-mon", "--id", "a")
        poll(lambda: self.ceph_ok("mon", "stat"), "the monitor", procs=[mon])
        osd_id = self.run("/usr/bin/ceph", "osd", "create").strip()
        self.run("/usr/bin/ceph", "osd", "crush", "add", f"osd.{osd_id}", "1", "root=default")
        os.makedirs(os.path.join(self.dir, "osd", f"ceph-{osd_id}"))
        self.run("/usr/bin/ceph-osd", "--id", osd_id, "--mkfs")
        osd = self.daemon("/usr/bin/ceph-osd", "--id", osd_id)
        poll(lambda: "1 up" in self.ceph_out("osd", "stat"), "the OSD", procs=[mon, osd])
        rgw = self.daemon("/usr/bin/radosgw", "-n", "client.rgw.r")
        poll(self.rgw_answers, "radosgw", procs=[mon, osd, rgw])
        self.run("/usr/bin/radosgw-admin", "user", "create", "--uid=thumbpipe", "--display-name=thumbpipe",
                 f"--access-key={ACCESS_KEY}", f"--secret={SECRET_KEY}", timeout=120)
        print(f"rgw: up on 127.0.0.1:{self.rgw_port} after {time.monotonic() - t0:.1f}s (dir {self.dir})", flush=True)

    def ceph_out(self, *args):
        try:
            r = subprocess.run(["/usr/bin/ceph", "--connect-timeout", "5", *args, "-c", self.conf],
                               capture_output=True, text=True, timeout=15)
            return r.stdout if r.returncode == 0 else ""
        except subprocess.TimeoutExpired:
            return ""

    def ceph_ok(self, *args):
        return self.ceph_out(*args) != ""

    def rgw_answers(self):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.rgw_port}/", timeout=2)
            return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer (403 for anonymous) means it is serving
        except OSError:
            return False

    def stop(self):
        for p in reversed(self.procs):  # rgw, osd, mon
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    def logs_tail(self):
        out = []
        for name in sorted(os.listdir(os.path.join(self.dir, "log"))):
            with open(os.path.join(self.dir, "log", name), errors="replace") as f:
                out.append(f"--- {name}\n" + "".join(f.readlines()[-15:]))
        return "\n".join(out)


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    missing = [b for b in BINARIES if not os.path.exists(b)]
    if missing:
        print(f"SKIPPED: Ceph is not installed ({', '.join(missing)} missing; scripts/bootstrap installs it)")
        return SKIP
    # SIGTERM (CTest, a user) runs the finally below, which stops the daemons by PID.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cluster = Cluster()
    keep = False
    try:
        try:
            cluster.start()
        except Exception as e:  # noqa: BLE001 - report and fail with the daemons' logs
            print(f"FAILED to start RGW: {e}\n{cluster.logs_tail()}")
            keep = True
            return 1
        env = dict(os.environ)
        env.update(THUMBPIPE_TEST_S3_ENDPOINT=f"http://127.0.0.1:{cluster.rgw_port}", THUMBPIPE_TEST_S3_NAME="Rgw",
                   THUMBPIPE_TEST_S3_ACCESS_KEY=ACCESS_KEY, THUMBPIPE_TEST_S3_SECRET_KEY=SECRET_KEY)
        test = subprocess.run([sys.argv[1], "--gtest_filter=*/Rgw", *sys.argv[2:]], env=env)
        return test.returncode
    finally:
        cluster.stop()
        if keep and os.environ.get("THUMBPIPE_KEEP_RGW_DIR"):
            print(f"kept {cluster.dir}")
        else:
            shutil.rmtree(cluster.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

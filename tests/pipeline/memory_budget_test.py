"""worker.memory_budget: a worker in a memory cgroup runs large jobs one at a time instead of
being killed (catalogue item 35).

Three uploads of a 100 MP AVIF (2 KB each: libheif decodes the whole image, ~650 MiB at the
peak on 4 KiB pages, ~880 MiB on the huge pages thumbpipe's jemalloc asks for) and four small
JPEGs, then a `thumbpipe worker --workers 2` beside `serve --workers 0`, in a memory cgroup
of 1200 MiB: room for one AVIF job, not for two (with huge pages or without).

  - Control, the budget out of the way (64 GiB): the worker takes two AVIF jobs at once and
    the kernel kills it for memory. This is what the test guards against; if it does not
    happen here, the test proves nothing and fails.
  - worker.memory_budget = 1100 MiB: every upload gets its renditions, the worker is never
    killed (the cgroup's OOM-kill count stays 0), and the log shows AVIF jobs that waited
    for memory (memory_wait_ms > 0) with their estimates within the budget.

Needs a cgroup (v1 memory controller, or v2 with memory delegated) that this test may create
below its own; otherwise it exits 77 (skipped) saying why.

Usage: memory_budget_test.py PATH/TO/thumbpipe
"""
import contextlib
import os
import shutil
import sys
import tempfile

from pipeline_harness import (BUCKET, SKIP, Pipeline, Worker, default_renditions, job_lines, make_image,
                              poll, print_log_tails, run)

MiB = 1 << 20
CGROUP_LIMIT = 1200 * MiB
BUDGET = 1100 * MiB
AVIF_SIDE = 10000
AVIFS = 3
SMALL = (1200, 800)
SMALLS = 4


class MemoryCgroup:
    """A memory cgroup of our own below this process's, with a limit. `enter` is a
    preexec_fn that moves the child into it before exec."""

    def __init__(self, limit):
        self.path, self.version = self._create()
        limit_file = "memory.limit_in_bytes" if self.version == 1 else "memory.max"
        with open(os.path.join(self.path, limit_file), "w") as f:
            f.write(str(limit))

    @staticmethod
    def _own_paths():
        v1 = v2 = None
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if "memory" in controllers.split(","):
                    v1 = path
                elif controllers == "":
                    v2 = path
        return v1, v2

    def _create(self):
        v1, v2 = self._own_paths()
        name = f"thumbpipe-memory-test-{os.getpid()}"
        candidates = []
        if v1 is not None:
            candidates.append((f"/sys/fs/cgroup/memory{v1}", 1))
        if v2 is not None:
            for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                candidates.append((f"{root}{v2}", 2))
        reasons = []
        for parent, version in candidates:
            if version == 2 and "memory" not in self._read(os.path.join(parent, "cgroup.subtree_control")).split():
                reasons.append(f"{parent}: memory not delegated (cgroup.subtree_control)")
                continue
            path = os.path.join(parent, name)
            try:
                os.mkdir(path)
            except OSError as e:
                reasons.append(f"{parent}: {e}")
                continue
            return path, version
        raise SkipTest("no memory cgroup can be made here: " + ("; ".join(reasons) or "none mounted"))

    @staticmethod
    def _read(path):
        try:
            with open(path) as f:
                return f.read()
        except OSError:
            return ""

    def enter(self):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def oom_kills(self):
        """Processes the kernel killed in this cgroup for memory."""
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in self._read(os.path.join(self.path, name)).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        raise AssertionError(f"no oom_kill count in {self.path}/{name}")

    def remove(self):
        try:
            os.rmdir(self.path)
        except OSError as e:
            print(f"could not remove {self.path}: {e}", file=sys.stderr)


class SkipTest(Exception):
    pass


def make_avif(path):
    """A flat 100 MP AVIF: a couple of KB, and libheif still decodes all of it."""
    raw, grey = path + ".v", path + ".grey.v"
    run("vips", "black", raw, str(AVIF_SIDE), str(AVIF_SIDE), "--bands", "3")
    run("vips", "linear", raw, grey, "1", "90", "--uchar")
    run("vips", "copy", grey, path + "[effort=0]")
    os.remove(raw)
    os.remove(grey)


def upload_all(p, avif, small):
    keys = {}
    for i in range(AVIFS):
        key = f"uploads/big-{i}.avif"
        p.s3.upload_file(avif, BUCKET, key)
        keys[key] = (AVIF_SIDE, AVIF_SIDE)
    for i in range(SMALLS):
        key = f"uploads/small-{i}.jpg"
        p.s3.upload_file(small, BUCKET, key)
        keys[key] = SMALL
    return keys


@contextlib.contextmanager
def phase(thumbpipe, tmp, name, budget, avif, small):
    """serve --workers 0 with the uploads, then one worker in a fresh cgroup; yields
    (pipeline, worker, cgroup, keys), prints their logs if the phase fails, and stops them."""
    work = os.path.join(tmp, name)
    os.mkdir(work)
    sections = {"worker": {"memory_budget": budget, "wait": "1s"},
                "queue": {"visibility_timeout": "10m"}}
    p = Pipeline(thumbpipe, work, workers=0, sections=sections)
    cgroup = w = None
    try:
        keys = upload_all(p, avif, small)
        poll(lambda: p.cli("status")["visible"] == len(keys), "every upload's event queued")
        cgroup = MemoryCgroup(CGROUP_LIMIT)
        w = Worker(p, workers=2, preexec_fn=cgroup.enter)
        yield p, w, cgroup, keys
    except SkipTest:
        raise
    except Exception:
        print_log_tails([("serve", p.log)] + ([("worker", w.log)] if w else []))
        raise
    finally:
        if w:
            w.close()
        p.stop()
        if cgroup:
            cgroup.remove()


def all_made(p, keys):
    made = p.keys("thumbnails/")
    return all(k in made for key, size in keys.items() for k in default_renditions(key, *size))


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    if shutil.which("vips") is None:
        print("SKIP: the vips command-line tool is missing (scripts/bootstrap installs it)")
        return SKIP
    checks = 0
    with tempfile.TemporaryDirectory(prefix="thumbpipe-memory-") as tmp:
        avif = os.path.join(tmp, "big.avif")
        make_avif(avif)
        small = os.path.join(tmp, "small.jpg")
        make_image(small, *SMALL, "convert")

        # Control: without a budget that binds, two AVIF jobs at once exceed the cgroup.
        try:
            with phase(thumbpipe, tmp, "control", 64 << 30, avif, small) as (p, w, cgroup, keys):
                poll(lambda: w.proc.poll() is not None or all_made(p, keys), "the unbudgeted worker to die or finish")
                assert w.proc.poll() is not None, (
                    "without worker.memory_budget the worker made every rendition in a cgroup of "
                    f"{CGROUP_LIMIT // MiB} MiB: two AVIF jobs at once should not fit, so this test cannot tell "
                    "the budget working from not")
                assert cgroup.oom_kills() >= 1, f"the control worker exited {w.proc.returncode}, not for memory"
                print(f"ok control: without a budget the worker was killed for memory (exit {w.proc.returncode})")
                checks += 1
        except SkipTest as e:
            print(f"SKIP: {e}")
            return SKIP

        # With the budget: one AVIF job at a time, small jobs beside it, nothing killed.
        with phase(thumbpipe, tmp, "budget", BUDGET, avif, small) as (p, w, cgroup, keys):
            poll(lambda: all_made(p, keys) or w.proc.poll() is not None, "every rendition made", timeout=300)
            assert w.proc.poll() is None, f"the worker exited {w.proc.returncode} (OOM kills: {cgroup.oom_kills()})"
            assert cgroup.oom_kills() == 0, f"{cgroup.oom_kills()} processes killed for memory in the cgroup"
            print(f"ok every one of {len(keys)} uploads has its renditions, the worker alive, no OOM kill")
            checks += 1

            poll(lambda: len([j for j in job_lines(w.output()) if j.get("result") == "done"]) == len(keys),
                 "a job line per upload")
            jobs = {j["keys"]: j for j in job_lines(w.output()) if j.get("result") == "done"}
            big = [jobs[k] for k in keys if k.endswith(".avif")]
            assert all(0 < j["memory_estimate"] <= BUDGET for j in big), [j["memory_estimate"] for j in big]
            assert all(j["memory_estimate"] > BUDGET // 2 for j in big), (
                "an AVIF job's estimate leaves room for a second one in the budget: "
                f"{[j['memory_estimate'] for j in big]}")
            waited = [j for j in big if j["memory_wait_ms"] > 0]
            assert waited, "no AVIF job waited for memory, though two were offered to two job slots at once"
            print(f"ok AVIF estimates {sorted(j['memory_estimate'] // MiB for j in big)} MiB within "
                  f"{BUDGET // MiB}; {len(waited)} waited for memory "
                  f"({', '.join('%.0f ms' % j['memory_wait_ms'] for j in waited)})")
            checks += 1
    print(f"memory_budget: {checks} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

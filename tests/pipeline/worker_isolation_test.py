"""worker.isolation = "process": a worker that dies mid-job costs serve nothing.

`thumbpipe serve --workers 1` with its jobs in a `thumbpipe worker` child. The child is killed
with SIGSEGV (what a codec crashing on a hostile file does to its process) while it holds a
message. Then:
  - serve keeps running and answering S3 (ListBuckets, an upload) and /healthz;
  - serve logs how the child died and which message it held, counts it in
    thumbpipe_worker_process_restarts_total, and a new child takes over;
  - the dead child's messages are visible again at once (the visibility timeout here is 10
    minutes, longer than any wait of this test), the one its job held and the one it had
    received ahead of its busy slot, and each is made on its second receive; a later upload
    is made too;
  - a message whose every receive kills its child reaches the DLQ on its last allowed receive
    (catalogue item 34) with the death as its reason, and the next upload is made;
  - SIGTERM stops serve with exit 0 and takes the child with it;
  - kill -9 of serve does not leave the child running (PR_SET_PDEATHSIG);
  - `thumbpipe worker` beside `serve --workers 0` supervises a child the same way: the child
    SIGSEGVed mid-job, the message released and made by the next one, SIGTERM ends both;
  - with worker.isolation = "thread" (the default) serve starts no child.

Usage: worker_isolation_test.py PATH/TO/thumbpipe
"""
import json
import os
import resource
import signal
import socket
import sys
import tempfile

from pipeline_harness import (BUCKET, Pipeline, Worker, alive, children, cpu_seconds, default_renditions,
                              job_lines, kill_all, make_image, poll, print_log_tails)

SLOW = (9000, 9000)  # a PNG has no shrink-on-load: its whole 81 MP decode keeps the job busy
SMALL = (1200, 800)
MAX_RECEIVES = 2


def free_port():
    """A loopback port nothing listens on now (the child's metrics port: the config takes no 0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_child(p):
    kids = poll(lambda: children(p.proc.pid), "serve's worker process")
    assert len(kids) == 1, f"serve has {len(kids)} children, expected its one worker process: {kids}"
    return kids.pop()


def kill_mid_job(queue_holds_it, child):
    """SIGSEGV to `child` once `queue_holds_it()` (its message is in flight) and the child has
    since spent 0.1 CPU s: the job, not only the receive, is under way (the decode of SLOW
    takes ~2 s), so the child has reported it to its parent. Jobs run at nice 10, so on a
    loaded machine the job can start well after the receive."""
    poll(queue_holds_it, "the message in flight", interval=0.05)
    start = cpu_seconds(child)
    poll(lambda: cpu_seconds(child) >= start + 0.1, "the child's job under way", interval=0.02)
    os.kill(child, signal.SIGSEGV)


def in_flight(p):
    """The queue's messages in flight, from serve's /metrics (one HTTP request, where the CLI
    starts a process)."""
    _, metrics = p.get("/metrics")
    for line in metrics.splitlines():
        if line.startswith("thumbpipe_queue_in_flight "):
            return int(float(line.split()[1]))
    raise AssertionError("no thumbpipe_queue_in_flight in /metrics")


def renditions_made(p, key, width, height):
    return all(k in p.keys("thumbnails/") for k in default_renditions(key, width, height))


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    # Crashes here are on purpose: no core files from them (serve and its child inherit this).
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    checks = 0
    with tempfile.TemporaryDirectory(prefix="thumbpipe-isolation-") as tmp:
        slow = os.path.join(tmp, "slow.png")
        make_image(slow, *SLOW, "vips")
        small = os.path.join(tmp, "small.jpg")
        make_image(small, *SMALL, "convert")
        sections = {"worker": {"isolation": "process", "metrics_listen": f"127.0.0.1:{free_port()}", "wait": "1s"},
                    "queue": {"visibility_timeout": "10m", "max_receive_count": MAX_RECEIVES}}
        p = Pipeline(thumbpipe, tmp, workers=1, sections=sections)
        procs = [p.proc]
        try:
            poll(lambda: "in a worker process of their own" in p.output(), "serve's startup block")
            first = one_child(p)
            checks += 1

            # The child holds the slow image's message (its job running) and, received ahead of
            # its one busy slot (worker.receive_ahead = 1), the next upload's when it is killed.
            # Both uploads at once, and /metrics rather than the CLI to see them in flight: the
            # kill must come well within the slow job's ~2 s, even on a loaded machine.
            p.s3.upload_file(slow, BUCKET, "uploads/slow.png")
            p.s3.upload_file(small, BUCKET, "uploads/ahead.jpg")
            kill_mid_job(lambda: in_flight(p) == 2, first)
            second = poll(lambda: (children(p.proc.pid) - {first}) or None, "a new worker process").pop()
            assert p.proc.poll() is None, "serve died with its worker process"
            status, _ = p.get("/healthz")
            assert status == 200, f"/healthz answered {status} after the worker process died"
            assert BUCKET in [b["Name"] for b in p.s3.list_buckets()["Buckets"]]
            checks += 3
            died = [json.loads(line) for line in p.output().splitlines() if "worker process died" in line]
            assert len(died) == 1 and "SIGSEGV" in died[0]["how"], f"serve's log of the death: {died}"
            assert len(died[0]["held_messages"]) == 2, died
            released = [json.loads(line) for line in p.output().splitlines()
                        if "message of a dead worker process released" in line]
            assert sorted("received ahead" in r["reason"] for r in released) == [False, True], released
            checks += 1

            # The dead child's messages, on their second receive (the first died with the child),
            # and at once: the visibility timeout is 10 minutes.
            poll(lambda: renditions_made(p, "uploads/slow.png", *SLOW), "the slow image's renditions")
            poll(lambda: renditions_made(p, "uploads/ahead.jpg", *SMALL), "the renditions of the one received ahead")
            for key in ("uploads/slow.png", "uploads/ahead.jpg"):
                jobs = [j for j in job_lines(p.output()) if j["keys"] == key]
                assert [(j["result"], j["receive_count"]) for j in jobs] == [("done", 2)], jobs
            p.s3.upload_file(small, BUCKET, "uploads/small.jpg")
            poll(lambda: renditions_made(p, "uploads/small.jpg", *SMALL), "the later image's renditions")
            for key, ((w, h), loader) in default_renditions("uploads/small.jpg", *SMALL).items():
                assert p.header(key) == ((w, h), loader), (key, p.header(key))
            checks += 2

            # A poison message: every child that takes it dies, until the queue moves it to the DLQ.
            # It is the only message: each rise of the queue's receive counter is one of its receives.
            poll(p.drained, "the queue to drain")
            received_before = p.cli("queue", "stats")["received"]
            p.s3.upload_file(slow, BUCKET, "uploads/poison.png")
            for receive in range(1, MAX_RECEIVES + 1):
                child = one_child(p)
                kill_mid_job(lambda: p.cli("queue", "stats")["received"] == received_before + receive
                             and p.cli("status")["in_flight"] == 1, child)
                poll(lambda: (children(p.proc.pid) - {child}) or None, "a new worker process")
            dead = poll(lambda: p.cli("dlq", "list"), "the poison message in the DLQ")
            p.s3.upload_file(small, BUCKET, "uploads/meanwhile.jpg")
            assert len(dead) == 1 and "uploads/poison.png" in dead[0]["body"], dead
            assert dead[0]["reason"] == ("worker process killed by signal 11 (SIGSEGV) while making this "
                                         f"message's renditions (receive {MAX_RECEIVES} of {MAX_RECEIVES})"), dead[0]
            assert dead[0]["receive_count"] == MAX_RECEIVES, dead[0]
            poll(lambda: renditions_made(p, "uploads/meanwhile.jpg", *SMALL), "the upload made after it")
            assert not any("poison" in k for k in p.keys("thumbnails/")), "the poison image made a rendition"
            assert p.proc.poll() is None
            checks += 4

            _, metrics = p.get("/metrics")
            restarts = 1 + MAX_RECEIVES
            assert f"thumbpipe_worker_process_restarts_total {restarts}" in metrics, \
                [line for line in metrics.splitlines() if "restarts" in line]
            checks += 1

            last = one_child(p)
            assert p.stop() == 0, "serve's exit code after SIGTERM"
            poll(lambda: not alive(last), "the worker process to stop with serve")
            assert "worker process stopped" in p.output()
            checks += 2

            # kill -9 of serve: the kernel sends the orphaned child SIGTERM.
            os.remove(os.path.join(tmp, "port"))
            p = Pipeline(thumbpipe, tmp, workers=1, sections=sections)
            procs.append(p.proc)
            orphan = one_child(p)
            p.proc.kill()
            p.proc.wait()
            poll(lambda: not alive(orphan), "the worker process of a killed serve to exit")
            checks += 1

            # `thumbpipe worker` with the setting: a supervisor of its own child.
            os.remove(os.path.join(tmp, "port"))
            p = Pipeline(thumbpipe, tmp, workers=0, sections=sections)
            procs.append(p.proc)
            assert not children(p.proc.pid), "serve --workers 0 must not start a worker process"
            worker = Worker(p, workers=1, name="supervised")
            procs.append(worker.proc)
            try:
                poll(lambda: "in a worker process of their own" in worker.output(), "the worker's startup line")
                kid = poll(lambda: children(worker.proc.pid), "the worker's child").pop()
                p.s3.upload_file(slow, BUCKET, "uploads/slow-again.png")
                kill_mid_job(lambda: p.cli("status")["in_flight"] == 1, kid)
                poll(lambda: renditions_made(p, "uploads/slow-again.png", *SLOW), "the renditions, by the next child")
                assert worker.proc.poll() is None, "the supervising worker died with its child"
                died = [json.loads(line) for line in worker.output().splitlines() if "worker process died" in line]
                assert len(died) == 1 and "SIGSEGV" in died[0]["how"] and len(died[0]["held_messages"]) == 1, died
                last = poll(lambda: children(worker.proc.pid), "the next child").pop()
                assert worker.stop() == 0, "the supervising worker's exit code after SIGTERM"
                poll(lambda: not alive(last), "the child to stop with its supervisor")
                checks += 4
            except BaseException:
                print_log_tails([("supervised worker", worker.log)])
                raise
            finally:
                worker.close()
            assert p.stop() == 0

            os.remove(os.path.join(tmp, "port"))
            p = Pipeline(thumbpipe, tmp, workers=1, sections={**sections, "worker": {
                **sections["worker"], "isolation": "thread"}})
            procs.append(p.proc)
            p.s3.upload_file(small, BUCKET, "uploads/small-again.jpg")
            poll(lambda: renditions_made(p, "uploads/small-again.jpg", *SMALL), "a job in serve's own process")
            assert not children(p.proc.pid), "isolation = thread must not start a worker process"
            checks += 1
        except BaseException:
            print_log_tails([("serve", p.log)])
            raise
        finally:
            kill_all(procs)
    print(f"worker_isolation: {checks} checks passed")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Catalogue item 42: `thumbpipe serve` whose data directory fills up during PUTs. A PUT that
does not fit gets 507 InsufficientCapacity, leaves no object and no event, the process stays
up, and once objects are deleted PUTs succeed again, with their events, without a restart.

The data directory is a 6 MiB tmpfs mounted in a private mount namespace (`unshare --mount`,
so nothing is left mounted if the test dies). Without the privilege to do that the test
skips (exit 77).

    disk_full_test.py THUMBPIPE
"""
import os
import subprocess
import sys
import tempfile

SKIP = 77

if os.environ.get("THUMBPIPE_DISK_FULL_NS") != "1":
    # Re-run this script in a mount namespace of its own.
    env = dict(os.environ, THUMBPIPE_DISK_FULL_NS="1")
    try:
        code = subprocess.call(["unshare", "--mount", "--propagation", "private",
                                sys.executable, *sys.argv], env=env)
    except FileNotFoundError:
        print("skip: no unshare")
        sys.exit(SKIP)
    sys.exit(code)

mount_point = tempfile.mkdtemp(prefix="thumbpipe-disk-full-")
if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", mount_point]) != 0:
    print("skip: cannot mount a tmpfs here")
    sys.exit(SKIP)
tempfile.tempdir = mount_point  # serve_harness puts the data dir, config and log in a temp dir

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "server"))
from serve_harness import Server, poll  # noqa: E402

MIB = 1 << 20


def main():
    server = Server(sys.argv[1])
    s3 = server.s3_client()
    try:
        acked, refused = [], None
        for i in range(20):  # 20 MiB into 6 MiB: some PUT must fail
            key = f"uploads/fill-{i}.jpg"
            body = os.urandom(MIB)
            try:
                s3.put_object(Bucket="images", Key=key, Body=body)
                acked.append(key)
            except s3.exceptions.ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                assert (status, e.response["Error"].get("Code")) == (507, "InsufficientCapacity"), e.response
                refused = key
                print(f"{key}: {status} {e.response['Error'].get('Code')}")
                break
        assert refused is not None, "20 MiB fitted into a 6 MiB tmpfs"
        assert acked, "not even the first PUT fitted"
        assert server.proc.poll() is None, "serve died:\n" + server.output()

        # Nothing of the refused PUT: no object, no event; every acked PUT has its event.
        head = s3.list_objects_v2(Bucket="images", Prefix="uploads/")
        listed = sorted(o["Key"] for o in head.get("Contents", []))
        assert listed == sorted(acked), (listed, acked)
        events = [r["s3"]["object"]["key"] for m in server.drain_events() for r in m.get("Records", [])]
        events = [e for e in events if e.startswith("uploads/")]
        assert sorted(events) == sorted(acked), (events, acked)

        # Room again: delete what was stored; PUTs succeed without a restart.
        for key in acked:
            s3.delete_object(Bucket="images", Key=key)
        poll(lambda: put_fits(s3, "uploads/after.jpg"), what="a PUT to fit once objects were deleted")
        got = s3.get_object(Bucket="images", Key="uploads/after.jpg")["Body"].read()
        assert len(got) == MIB // 2
        poll(lambda: "uploads/after.jpg" in [r["s3"]["object"]["key"] for m in server.drain_events()
                                             for r in m.get("Records", [])], what="the event of the PUT after")
        print(f"ok: {len(acked)} PUTs fitted, {refused} refused and left nothing, PUTs work again after deletes")
    finally:
        server.stop()
        subprocess.call(["umount", mount_point])


def put_fits(s3, key):
    try:
        s3.put_object(Bucket="images", Key=key, Body=os.urandom(MIB // 2))
        return True
    except s3.exceptions.ClientError:
        return False


if __name__ == "__main__":
    main()

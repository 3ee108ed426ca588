"""The dev corpus (../shared/corpus/dev: real photos, odd formats, CMYK, 16-bit, animations,
EXIF orientations, truncated and corrupt files, decompression bombs) through the whole
pipeline: uploaded with boto3 into `thumbpipe serve --workers 2`.

Which files are valid is decided by the engine itself, not by a hand-kept list:
`thumbpipe thumbnail` with the same config runs on every file first, and its JSON line says
what each file must become (every rendition's variant, format, size and page count) or why it
fails (its error class); the files the corpus's SOURCES.md marks as failing must be among
the refused ones. Then, through the pipeline:
  - every valid file has exactly those renditions, with those sizes, formats and pages;
  - every invalid file is in the DLQ once, with a reason of the engine's class, and has no
    rendition;
  - the DLQ holds nothing else and the queue drains to zero.

The trigger's suffixes are widened to every extension in the corpus (.svg, .jp2, ...), so that
no file is silently left out by the filter.

Exits 77 (CTest's skip code) when the corpus is absent: a fresh clone without ../shared passes.
Usage: dev_corpus_test.py PATH/TO/thumbpipe CORPUS_DIR
"""
import json
import os
import sys
import tempfile
import urllib.parse

from pipeline_harness import BUCKET, SKIP, Pipeline, poll, run

LOADER_OF = {"webp": "webpload", "jpeg": "jpegload", "png": "pngload", "gif": "gifload", "avif": "heifload"}


def engine_verdicts(thumbpipe, config, files, out_dir):
    """file name -> the engine's JSON line for it (`thumbpipe thumbnail`, exit 1 = some failed)."""
    lines = run(thumbpipe, "thumbnail", "--config", config, "-o", out_dir, "-j", "2", *files, ok_codes=(0, 1))
    verdicts = {}
    for line in lines.splitlines():
        record = json.loads(line)
        verdicts[os.path.basename(record["input"])] = record
    assert len(verdicts) == len(files), f"{len(verdicts)} engine results for {len(files)} files"
    return verdicts


def meant_invalid(corpus):
    """The files SOURCES.md (the corpus's list) marks as failing to decode or as decompression
    bombs: its `decode` column says FAILS or "not attempted". Empty without the list."""
    path = os.path.join(corpus, "SOURCES.md")
    if not os.path.exists(path):
        return set()
    header, out = None, set()
    with open(path) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None and "decode" in cells and "file" in cells:
                header = cells
            elif header and len(cells) == len(header) and not set(cells[0]) <= {"-"}:
                decode = cells[header.index("decode")]
                if decode.startswith("FAILS") or decode.startswith("not attempted"):
                    out.add(cells[header.index("file")])
    return out


def main():
    thumbpipe = os.path.abspath(sys.argv[1])
    corpus = os.path.abspath(sys.argv[2])
    if not os.path.isdir(corpus):
        print(f"skip: no corpus at {corpus}")
        sys.exit(SKIP)
    names = sorted(n for n in os.listdir(corpus)
                   if os.path.isfile(os.path.join(corpus, n)) and not n.endswith(".md"))
    suffixes = sorted({os.path.splitext(n)[1].lower() for n in names})
    # Renditions are named by the key without its extension (DESIGN.md), so x.gif and x.webp
    # would write the same thumbnails: such files go under a folder named by their extension.
    stems = [n.rsplit(".", 1)[0] for n in names]
    keys = {n: f"uploads/{n}" if stems.count(n.rsplit('.', 1)[0]) == 1 else f"uploads/{n.rsplit('.', 1)[1]}/{n}"
            for n in names}
    checks = 0
    with tempfile.TemporaryDirectory(prefix="thumbpipe-corpus-") as tmp:
        p = Pipeline(thumbpipe, tmp, workers=2, sections={"trigger": {"suffixes": suffixes}})
        try:
            verdicts = engine_verdicts(thumbpipe, p.config, [os.path.join(corpus, n) for n in names],
                                       os.path.join(tmp, "engine"))
            valid = {n: v for n, v in verdicts.items() if v["ok"]}
            invalid = {n: v["error"]["class"] for n, v in verdicts.items() if not v["ok"]}
            print(f"the engine says: {len(valid)} valid, {len(invalid)} invalid "
                  f"({', '.join(f'{n}: {c}' for n, c in sorted(invalid.items()))})")
            assert valid and invalid, "the corpus should hold both valid and invalid files"
            # The corpus's own list agrees: what it says fails, the engine refuses (the engine
            # may refuse more: formats it does not take, such as SVG).
            listed = meant_invalid(corpus)
            assert listed <= set(invalid), f"SOURCES.md says {sorted(listed - set(invalid))} fail; the engine took them"

            for n in names:
                p.s3.upload_file(os.path.join(corpus, n), BUCKET, keys[n])
            poll(lambda: p.cli("queue", "stats")["sent"] >= len(names) and p.drained(),
                 "every event to be sent and the queue to drain")
            checks += 1
            print(f"ok: {len(names)} uploads, the queue drained")

            expected = {}  # rendition key -> (variant record of the engine, source name)
            for n, v in valid.items():
                stem = keys[n][len("uploads/"):].rsplit(".", 1)[0]
                for r in v["renditions"]:
                    ext = r["path"].rsplit(".", 1)[1]
                    rendition = f"thumbnails/{r['variant']}/{stem}.{ext}"
                    assert rendition not in expected, f"{n} and {expected[rendition][1]} both make {rendition}"
                    expected[rendition] = (r, n)
            got = p.keys("thumbnails/")
            missing, extra = set(expected) - got, got - set(expected)
            assert not missing and not extra, f"missing {sorted(missing)}, unexpected {sorted(extra)}"
            for key, (r, source) in sorted(expected.items()):
                have = p.rendition(key)
                want = {"width": r["width"], "height": r["height"], "loader": LOADER_OF[r["format"]],
                        "pages": r.get("pages", 1)}
                assert have == want, f"{key} of {source}: got {have}, the engine made {want}"
            checks += 1
            print(f"ok: the {len(valid)} valid files have exactly their {len(expected)} renditions, "
                  "with the engine's sizes, formats and pages")

            dead = p.cli("dlq", "list", "--limit", "1000")
            reasons = {}
            for d in dead:
                for record in json.loads(d["body"])["Records"]:
                    key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
                    assert key not in reasons, f"{key} is in the DLQ twice"
                    reasons[key] = d["reason"]
            assert set(reasons) == {keys[n] for n in invalid}, (
                f"DLQ holds {sorted(reasons)}, the invalid files are {sorted(invalid)}")
            for n, cls in invalid.items():
                reason = reasons[keys[n]]
                assert f"{cls}:" in reason, f"{n}: DLQ reason {reason!r}, the engine's class is {cls}"
            checks += 1
            print(f"ok: the DLQ holds exactly the {len(invalid)} invalid files, each with its class")

            status = p.cli("status")
            assert status["visible"] == 0 and status["in_flight"] == 0 and status["dead"] == len(invalid), status
            checks += 1
        except BaseException:
            print(p.output()[-20000:], file=sys.stderr)
            p.stop()
            raise
        code = p.stop()
        assert code == 0, f"serve exited {code}"
    print(f"ok: {checks} checks passed")


if __name__ == "__main__":
    main()

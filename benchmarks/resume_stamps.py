"""What a resumable run pays to know its inputs unchanged: a ``.txt`` folder's stamps.

    python benchmarks/resume_stamps.py [--shared PATH] [--articles 35560] [--repeats 3]

``threatclf label`` stamps each input when a run begins and again when it ends, so that
``--resume`` (and the end-of-run check) notices an input edited meanwhile. Since 0.26 a
``.txt`` folder's stamp digests each file's content too, as a file input's always did (an edit
that keeps size and time stamp, as ``rsync -t`` leaves it, was missed). The baseline, run in
the same process on the same folder, is the stamp of names, sizes and time stamps alone (what
0.25 stamped, walked here with 0.26's faster walk of the folder). Prints,
best of ``--repeats`` after one untimed call (the files in the page cache): seconds for each stamp, their ratio, and
the two stamps a run takes against one labelling of the folder (``--label``, a minute or more).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, shared_folder  # noqa: E402

import threatclf  # noqa: E402
import threatclf.resume as resume  # noqa: E402


def txt_folder(corpus: Path, n: int, folder: Path) -> tuple[int, int]:
    """The first ``n`` articles of ``corpus`` as one .txt file each; returns (files, bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = size = 0
    with gzip.open(corpus, "rt", encoding="utf-8") as source:
        for count, line in enumerate(source):
            if count == n:
                break
            path = folder / f"{count:06d}.txt"
            path.write_text(json.loads(line)["text"], encoding="utf-8")
            size += path.stat().st_size
        else:
            count += 1
    return count, size


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", help="the shared data folder (default: ../shared/data or THREATCLF_SHARED_DATA)")
    parser.add_argument("--articles", type=int, default=35_560)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--label", action="store_true", help="also label the folder once, to compare")
    args = parser.parse_args(argv)
    corpus = shared_folder(args.shared) / "corpus" / "articles.jsonl.gz"
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "articles"
        files, size = txt_folder(corpus, args.articles, folder)
        with_contents = resume._content_digest

        def baseline() -> None:
            resume._content_digest = lambda file: None  # names, sizes and time stamps alone (threatclf <= 0.25)
            try:
                resume.input_stamps([folder])
            finally:
                resume._content_digest = with_contents

        base = best_of(baseline, args.repeats)
        now = best_of(lambda: resume.input_stamps([folder]), args.repeats)
        print(f"{files:,} .txt files, {size / 1e6:,.1f} MB")
        print(f"stamp of names, sizes, times (baseline): {base:6.2f} s")
        print(f"stamp with contents (0.26):              {now:6.2f} s   ratio {now / base:.2f}")
        # what the cost buys: an edit that keeps a file's size and time stamp (rsync -t) is seen
        before = resume.input_stamps([folder])
        edited = folder / "000000.txt"
        kept = edited.stat()
        text = edited.read_bytes()
        edited.write_bytes(text[::-1])
        os.utime(edited, ns=(kept.st_atime_ns, kept.st_mtime_ns))
        seen = resume.input_stamps([folder]) != before
        print(f"an edit keeping size and time stamp: {'seen' if seen else 'MISSED'}"
              + ("" if text != text[::-1] else " (the file reads the same backwards: nothing was edited)"))
        if not seen and text != text[::-1]:
            return 1
        if args.label:
            started = time.perf_counter()
            threatclf.label_files(folder, Path(work) / "out.jsonl", progress=False)
            labelling = time.perf_counter() - started
            print(f"labelling the folder (default model):    {labelling:6.2f} s   the two stamps of a run: "
                  f"{2 * base / labelling:.1%} without contents, {2 * now / labelling:.1%} with them (the labelling "
                  "time includes them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

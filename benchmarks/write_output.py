"""The last step of ``threatclf label``: its finished chunks written into one output file.

    python benchmarks/write_output.py [--shared PATH] [--articles 5000] [--repeats 3]

A JSONL output's chunks whose rows all have the run's columns are copied as written; the
baseline, run in the same process on the same input, parses each chunk and writes it anew (as
every chunk was before threatclf 0.20, and as chunks with other columns still are). For article
rows and passage rows (``--passages --keep-text``), best of ``--repeats``: seconds from the
output writer's creation to its close, the whole run's seconds, and the ratio of the two
writing times. The two outputs must be byte for byte the same (exit 1 otherwise).
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_folder  # noqa: E402

import threatclf  # noqa: E402
from threatclf.writers import RecordWriter  # noqa: E402


def corpus_sample(corpus: Path, n: int, out: Path) -> Path:
    with gzip.open(corpus, "rt", encoding="utf-8") as source, open(out, "w", encoding="utf-8") as sample:
        for k, line in enumerate(source):
            if k == n:
                break
            sample.write(line)
    return out


def _parsed_and_written(self, lines: str) -> None:
    """The baseline: a chunk's lines parsed and written anew."""
    self.write([json.loads(line) for line in lines.splitlines()])


def timed_run(source: Path, out: Path, model, options: dict, copy: bool) -> tuple[float, float]:
    """(seconds writing the output, seconds of the whole run)."""
    marks = {}
    init, close, copy_lines = RecordWriter.__init__, RecordWriter.close, RecordWriter.write_json_lines

    def started(self, *args, **kwargs):
        marks["start"] = time.perf_counter()
        init(self, *args, **kwargs)

    def closed(self):
        close(self)
        marks["end"] = time.perf_counter()

    RecordWriter.__init__, RecordWriter.close = started, closed
    if not copy:
        RecordWriter.write_json_lines = _parsed_and_written
    try:
        begun = time.perf_counter()
        threatclf.label_files(source, out, model, progress=False, **options)
        total = time.perf_counter() - begun
    finally:
        RecordWriter.__init__, RecordWriter.close, RecordWriter.write_json_lines = init, close, copy_lines
    return marks["end"] - marks["start"], total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", help="shared data folder (holding corpus/)")
    parser.add_argument("--articles", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    shared = shared_folder(args.shared)
    model = threatclf.load_model()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = corpus_sample(shared / "corpus" / "articles.jsonl.gz", args.articles, tmp / "sample.jsonl")
        print(f"\n{args.articles:,} articles of the corpus, JSONL output, best of {args.repeats}\n")
        print("| rows | writing, copied s | writing, parsed and written s | ratio | whole run, copied s | "
              "whole run, parsed s |")
        print("|---|---|---|---|---|---|")
        for name, options in (("articles", {}), ("passages", {"passages": True, "keep_text": True})):
            best = {}
            for copy in (True, False):
                runs = [timed_run(source, tmp / f"{name}-{copy}-{k}.jsonl", model, options, copy)
                        for k in range(args.repeats)]
                best[copy] = (min(r[0] for r in runs), min(r[1] for r in runs))
            same = (tmp / f"{name}-True-0.jsonl").read_bytes() == (tmp / f"{name}-False-0.jsonl").read_bytes()
            failed |= not same
            print(f"| {name} | {best[True][0]:.2f} | {best[False][0]:.2f} | {best[False][0] / best[True][0]:.2f}x | "
                  f"{best[True][1]:.1f} | {best[False][1]:.1f} |" + ("" if same else " OUTPUTS DIFFER"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

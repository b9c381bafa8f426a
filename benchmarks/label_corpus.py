"""Whole-corpus checks of ``threatclf label``: formats agree, a SIGKILLed run resumes exactly,
and peak memory does not grow with the input.

    python benchmarks/label_corpus.py [--shared PATH] [--repeat 14] [--n-jobs 2] [--workdir DIR]

1. Labels ``corpus/articles.jsonl.gz`` (35,560 articles) to JSONL, CSV and Parquet and checks
   that every id has the same labels in all three.
2. Starts the same JSONL run, SIGKILLs it once about half of its chunks are done, resumes it
   with ``--resume`` and compares the output byte for byte with the uninterrupted run.
3. Peak RSS (of the largest process) on the corpus and on the corpus repeated ``--repeat``
   times (about 1 GB of text for 14), ratio against the single corpus in the same run.
4. The same for inputs read otherwise: one Parquet file holding the corpus once and
   ``--other-repeat`` times (one row group each 100,000 rows), and a folder of .txt files, one
   an article, at 1x and ``--other-repeat`` x (hard links where the file system allows).
"""
from __future__ import annotations

import argparse
import atexit
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import corpus_copies, peak_rss_of, shared_folder  # noqa: E402


def threatclf_command() -> list[str]:
    return [sys.executable, "-m", "threatclf.cli"]


def labels_by_id(path: Path) -> dict:
    if path.suffix == ".jsonl":
        with open(path, encoding="utf-8") as handle:
            return {r["id"]: r["labels"] for r in map(json.loads, handle)}
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, keep_default_na=False)
    return dict(zip(frame["id"].astype(str), frame["labels"].map(lambda s: s.split(";") if s else [])))


def text_megabytes(corpus: Path) -> float:
    """The articles' text in MB (UTF-8), as the report of step 3 says how much each run read."""
    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        return sum(len((json.loads(line).get("text") or "").encode("utf-8")) for line in handle) / 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--shared")
    parser.add_argument("--repeat", type=int, default=14)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--workdir", help="where outputs go (default: a temporary folder, removed at the end)")
    parser.add_argument("--chunk-size", type=int, default=500, help="rows per chunk of the killed run (default: 500)")
    parser.add_argument("--other-repeat", type=int, default=4,
                        help="copies of the corpus in the Parquet file and the .txt folder of step 4 (default: 4)")
    args = parser.parse_args(argv)
    corpus = shared_folder(args.shared) / "corpus" / "articles.jsonl.gz"
    work = Path(args.workdir or tempfile.mkdtemp(prefix="threatclf-bench-"))
    if not args.workdir:  # a folder of our own: gone when the script ends, however it ends
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    label = threatclf_command() + ["label", "-q", "--overwrite", "--n-jobs", str(args.n_jobs)]  # --workdir may be reused
    base = label + ["--summary-json"]

    print("1. formats")
    results = {}
    for suffix in (".jsonl", ".csv", ".parquet"):
        out = work / f"corpus{suffix}"
        wall, peak, summary = peak_rss_of(base + [str(corpus), "-o", str(out)])
        results[suffix] = labels_by_id(out)
        print(f"   {suffix:9} {summary['rows_read']:,} rows, {summary['labelled']:,} labelled, "
              f"{summary['rejected']} rejected, {wall:.1f} s, peak RSS {peak:,.0f} MB, counts {summary['label_counts']}")
    same = results[".jsonl"] == results[".csv"] == results[".parquet"]
    print(f"   ids: {len(results['.jsonl']):,}; same labels for every id in all three formats: {same}")

    print("2. SIGKILL half-way, then --resume")
    killed = work / "killed.jsonl"
    partial = work / "killed.jsonl.partial"
    killed.unlink(missing_ok=True)  # a reused --workdir: "exists after kill" must be about this run
    shutil.rmtree(partial, ignore_errors=True)
    chunking = ["--chunk-size", str(args.chunk_size)]
    process = subprocess.Popen(label + [str(corpus), "-o", str(killed)] + chunking)
    total_chunks = -(-summary["rows_read"] // args.chunk_size)  # the rows step 1 read, in chunks
    while len(list(partial.glob("*.done.json"))) < total_chunks // 2:
        if process.poll() is not None:
            sys.exit("the run finished before it could be killed")
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = len(list(partial.glob("*.done.json")))
    print(f"   killed with {done}/{total_chunks} chunks done; output exists after kill: {killed.exists()}")
    reference = work / "reference.jsonl"
    subprocess.run(base + [str(corpus), "-o", str(reference)] + chunking, check=False, capture_output=True)
    resumed = subprocess.run(base + [str(corpus), "-o", str(killed), "--resume"] + chunking,
                             capture_output=True, text=True)
    summary = json.loads(resumed.stdout)
    identical = killed.read_bytes() == reference.read_bytes()
    print(f"   resumed {summary['resumed_chunks']} chunks; output identical to the uninterrupted run: {identical}")

    print(f"3. peak RSS, corpus x1 and x{args.repeat}")
    rows = []
    inputs = corpus_copies(corpus, args.repeat, work)
    text_mb = text_megabytes(corpus)
    for copies in (1, args.repeat):
        wall, peak, summary = peak_rss_of(base + [str(path) for path in inputs[:copies]]
                                          + ["-o", str(work / f"x{copies}.jsonl")])
        (work / f"x{copies}.jsonl").unlink()
        rows.append((copies, wall, peak, summary))
        print(f"   x{copies:<3} {summary['rows_read']:,} articles, {summary['passages']:,} passages, "
              f"{copies * text_mb:,.0f} MB of text: {wall:.1f} s, {summary['passages'] / wall:,.0f} passages/s, "
              f"peak RSS {peak:,.0f} MB")
    print(f"   peak RSS ratio x{args.repeat} / x1: {rows[1][2] / rows[0][2]:.2f}")

    print(f"4. peak RSS of one Parquet file and of a .txt folder, corpus x1 and x{args.other_repeat}")
    articles = pd.read_json(corpus, lines=True, dtype={"id": str})[["id", "source", "text"]]
    for kind in ("parquet", "txt"):
        peaks = []
        for copies in (1, args.other_repeat):
            made = _as_one_input(articles, copies, kind, work)
            wall, peak, summary = peak_rss_of(base + [str(made), "-o", str(work / "other.jsonl")])
            (work / "other.jsonl").unlink()
            peaks.append(peak)
            print(f"   {kind:8} x{copies:<2} {summary['rows_read']:,} articles: {wall:.1f} s, peak RSS {peak:,.0f} MB")
        print(f"   {kind:8} peak RSS ratio x{args.other_repeat} / x1: {peaks[1] / peaks[0]:.2f}")
    return 0 if same and identical else 1


def _as_one_input(articles: pd.DataFrame, copies: int, kind: str, work: Path) -> Path:
    """The corpus ``copies`` times as one Parquet file, or as a folder of one .txt file an article."""
    if kind == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = work / f"corpus-x{copies}.parquet"
        with pq.ParquetWriter(path, pa.Schema.from_pandas(articles, preserve_index=False)) as writer:
            for k in range(copies):
                writer.write_table(pa.Table.from_pandas(articles.assign(id=articles["id"] + f"-{k}"),
                                                        preserve_index=False), row_group_size=100_000)
        return path
    folder = work / f"corpus-x{copies}-txt"
    first = folder / "0"
    if not first.exists():
        first.mkdir(parents=True)
        for row in articles.itertuples():
            (first / f"{row.Index:06d}.txt").write_text(row.text or "", encoding="utf-8")
    for k in range(1, copies):
        again = folder / str(k)
        if not again.exists():
            again.mkdir()
            for name in os.listdir(first):
                try:
                    os.link(first / name, again / name)
                except OSError:
                    shutil.copyfile(first / name, again / name)
    return folder


if __name__ == "__main__":
    sys.exit(main())

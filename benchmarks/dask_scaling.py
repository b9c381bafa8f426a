"""Labelling the corpus on Dask: speed and memory against labelling in one process.

    python benchmarks/dask_scaling.py [--shared PATH] [--parts 8] [--workers 1 2] [--rows N]
                                      [--scheduler tcp://HOST:8786] [--workdir DIR]

Needs the ``dask`` extra (``pip install ".[dask]"``). The corpus (``corpus/articles.jsonl.gz``,
35,560 articles; ``--rows`` for its first N) is written as ``--parts`` Parquet files, then:

- baseline, in this process: ``threatclf.label_dataframe`` on the whole corpus with the
  bundled model (one thread), after a warm-up call;
- ``threatclf.label_dask(dd.read_parquet(parts), model=None, id_col="id", flat=True).compute()``
  on a ``LocalCluster`` of 1 and 2 single-threaded worker processes (``--workers``), or on the
  cluster at ``--scheduler`` (workers on other machines, which must be able to import threatclf
  and read the Parquet folder at the same path). The first run includes starting the workers'
  Python and loading the model in each; the second reuses them.

Every Dask run's labels must equal the baseline's for every id (it exits 1 otherwise). Wall
time is given as a ratio to the baseline run in the same process; peak RSS is each worker's
own (VmHWM), and this process's, which also holds the whole corpus as a DataFrame.
"""
from __future__ import annotations

import argparse
import atexit
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_folder  # noqa: E402

import threatclf  # noqa: E402
from threatclf._optional import require  # noqa: E402


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM, which starts afresh in a new program
    (getrusage's maximum is inherited from the parent that started it)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def write_parts(corpus: Path, parts: int, rows: int | None, folder: Path) -> tuple[pd.DataFrame, Path]:
    frame = pd.read_json(corpus, lines=True, dtype=False, nrows=rows)
    frame = frame[["id", "text"]].astype({"id": "string", "text": "string"})
    out = folder / f"parts-{len(frame)}-{parts}"
    if not out.is_dir():
        staging = folder / f"{out.name}.partial"
        staging.mkdir(parents=True, exist_ok=True)
        size = -(-len(frame) // parts)
        for k in range(parts):
            frame.iloc[k * size:(k + 1) * size].to_parquet(staging / f"part-{k:03d}.parquet", index=False)
        staging.rename(out)
    return frame, out


def labels_by_id(frame: pd.DataFrame) -> dict:
    """id -> labels joined with ";" (lists from label_dataframe, text from flat=True)."""
    joined = [value if isinstance(value, str) else ";".join(value) for value in frame["labels"]]
    return dict(zip(frame["id"].astype(str), joined))


def run_dask(client, parts: Path) -> tuple[float, pd.DataFrame]:
    dd = require("dask.dataframe")
    started = time.perf_counter()
    ddf = dd.read_parquet(str(parts))
    out = threatclf.label_dask(ddf, model=None, id_col="id", flat=True).compute()
    return time.perf_counter() - started, out


def worker_peaks(client) -> list[float]:
    return sorted(client.run(peak_rss_mb).values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared")
    parser.add_argument("--parts", type=int, default=8, help="Parquet files (Dask partitions) to split the corpus into")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="LocalCluster sizes to run")
    parser.add_argument("--rows", type=int, help="only the corpus's first ROWS articles")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (instead of LocalClusters)")
    parser.add_argument("--workdir", help="where the Parquet parts go (default: a temporary folder, removed at the end)")
    args = parser.parse_args(argv)
    distributed = require("distributed")  # the dask extra, said plainly if missing

    corpus = shared_folder(args.shared) / "corpus" / "articles.jsonl.gz"
    work = Path(args.workdir or tempfile.mkdtemp(prefix="threatclf-dask-"))
    if not args.workdir:  # a folder of our own: gone when the script ends, however it ends
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    frame, parts = write_parts(corpus, args.parts, args.rows, work)
    chars = int(frame["text"].str.len().sum())
    print(f"{len(frame):,} articles ({chars / 1e6:.0f} M characters) in {args.parts} Parquet parts: {parts}\n")

    model = threatclf.load_model()
    threatclf.label_dataframe(frame.head(200), model, id_col="id")  # warm-up: compiled kernels, caches
    started = time.perf_counter()
    baseline = threatclf.label_dataframe(frame, model, id_col="id")
    base_wall = time.perf_counter() - started
    base_peak = peak_rss_mb()
    expected = labels_by_id(baseline)
    del baseline

    rows = [("label_dataframe, this process, 1 thread (baseline)", base_wall, 1.0,
             f"{base_peak:,.0f} (this process, the corpus read in)", "-")]
    clusters = [("the cluster at " + args.scheduler, None)] if args.scheduler else \
        [(f"LocalCluster, {n} worker{'s' if n > 1 else ''} x 1 thread", n) for n in args.workers]
    same_everywhere = True
    for name, n in clusters:
        if n is None:
            client, cluster = distributed.Client(args.scheduler), None
        else:
            cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                               dashboard_address=":0")
            client = distributed.Client(cluster)
        try:
            for run in ("first run", "second run"):
                wall, out = run_dask(client, parts)
                same = labels_by_id(out) == expected and len(out) == len(frame)
                same_everywhere &= same
                peaks = worker_peaks(client)
                rows.append((f"{name}, {run}", wall, wall / base_wall,
                             " / ".join(f"{p:,.0f}" for p in peaks), "yes" if same else "NO"))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    print("| run | wall s | articles/s | wall / baseline | peak RSS MB (per worker) | labels = baseline |")
    print("|---|---|---|---|---|---|")
    for name, wall, ratio, peak, same in rows:
        print(f"| {name} | {wall:.1f} | {len(frame) / wall:,.0f} | {ratio:.2f} | {peak} | {same} |")
    if not same_everywhere:
        print("\nA Dask run's labels differ from label_dataframe's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # worker processes may re-import this script
    sys.exit(main())

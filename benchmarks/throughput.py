"""Labelling speed: the default model against the pipelines a user would otherwise run.

    python benchmarks/throughput.py [--shared PATH] [--skip-label] [--skip-predict] [--train] [--big N]
                                    [--passages 20000]

Table 1, in one process on the same 20,000 passages (``--passages``; 50-100 words, cut from the
article corpus in file order), best of 3 after a warm-up call:

- threatclf default model ``predict_proba``, fast path on 1 and 2 threads, and the
  reference scikit-learn transform it replaces (same model, ``engine="reference"``);
- the plain pipeline ``TfidfVectorizer(ngram_range=(1, 2))`` + one-vs-rest
  ``LogisticRegression``, trained on the shared train set, ``predict_proba`` — the baseline
  every ratio is taken against;
- fastText ``predict`` (``fasttext-numpy2``, one thread), when the ``bench`` extra is installed.

Table 2: ``threatclf label`` end to end on the whole corpus (a child process; rows/s,
passages/s and its peak RSS), with 1 and 2 worker processes; ``--big N`` adds a run on the
corpus repeated N times (peak RSS must not grow with input size). ``--train`` times the fit of
the default recipe.
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, corpus_copies, fasttext_or_none, peak_rss_of, recipe_module, shared_folder  # noqa: E402

import threatclf  # noqa: E402
from threatclf.labels import to_indicator  # noqa: E402

def bench_passages(corpus: Path, n_passages: int) -> list[str]:
    passages = []
    with gzip.open(corpus, "rt", encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line)["text"]
            for start, end in threatclf.split_passages(text, max_words=100):
                if 50 <= len(text[start:end].split()) <= 100:
                    passages.append(text[start:end])
            if len(passages) >= n_passages:
                return passages[:n_passages]
    return passages


def table_predict(shared: Path, n_passages: int) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    texts = bench_passages(shared / "corpus" / "articles.jsonl.gz", n_passages)
    megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    words = np.mean([len(t.split()) for t in texts])
    print(f"\n{len(texts):,} passages, {words:.0f} words on average, {megabytes:.1f} MB\n")
    train = [json.loads(l) for l in open(shared / "threat-passages" / "train.jsonl", encoding="utf-8")]
    labels = list(threatclf.DEFAULT_LABELS)
    plain = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), OneVsRestClassifier(LogisticRegression(max_iter=1000)))
    plain.fit([r["text"] for r in train], to_indicator([r["labels"] for r in train], labels))

    model = threatclf.load_model()
    rows = {}
    rows["plain sklearn pipeline (baseline)"] = best_of(lambda: plain.predict_proba(texts))
    model.set_params(engine="reference")
    model._compiled = None
    rows["threatclf default, reference sklearn transform"] = best_of(lambda: model.predict_proba(texts), repeats=1)
    model.set_params(engine="auto", n_jobs=1)
    model._compiled = None
    rows["threatclf default, fast path, 1 thread"] = best_of(lambda: model.predict_proba(texts))
    model.set_params(n_jobs=2)
    rows["threatclf default, fast path, 2 threads"] = best_of(lambda: model.predict_proba(texts))
    fasttext = fasttext_or_none()
    if fasttext is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as handle:
            for r in train:
                tags = " ".join(f"__label__{n}" for n in r["labels"]) or "__label__none"
                handle.write(f"{tags} {' '.join(r['text'].split())}\n")
        ft = fasttext.train_supervised(handle.name, loss="ova", epoch=25, lr=0.5, wordNgrams=2, thread=1, seed=0,
                                       verbose=0)
        os.unlink(handle.name)
        flat = [" ".join(t.split()) for t in texts]
        rows["fastText predict, 1 thread"] = best_of(lambda: ft.predict(flat, k=-1, threshold=0.0))
    base = rows["plain sklearn pipeline (baseline)"]
    print("| system | passages/s | MB/s | vs plain pipeline |")
    print("|---|---|---|---|")
    for name, seconds in rows.items():
        print(f"| {name} | {len(texts) / seconds:,.0f} | {megabytes / seconds:.1f} | {base / seconds:.2f}x |")
    if "fastText predict, 1 thread" in rows:
        ft_seconds = rows["fastText predict, 1 thread"]
        fast = rows["threatclf default, fast path, 2 threads"]
        print(f"\nthreatclf (2 threads) / fastText (1 thread): {ft_seconds / fast:.2f}x; "
              f"threatclf (1 thread) / fastText (1 thread): {ft_seconds / rows['threatclf default, fast path, 1 thread']:.2f}x")


def run_label(inputs: list[Path], n_jobs: int, out_dir: Path) -> dict:
    out = out_dir / f"labelled-{n_jobs}.jsonl"
    command = [sys.executable, "-m", "threatclf.cli", "label", *map(str, inputs), "-o", str(out), "-q", "--overwrite",
               "--summary-json", "--n-jobs", str(n_jobs)]
    # Each run in its own wrapper process: getrusage's peak over children is a running maximum,
    # so measured from here a later run would report the largest earlier one.
    elapsed, peak_mb, summary = peak_rss_of(command)
    out.unlink()
    return {**summary, "wall_s": elapsed, "peak_rss_mb": peak_mb}


def table_label(shared: Path, big: int) -> None:
    corpus = shared / "corpus" / "articles.jsonl.gz"
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n_jobs in (1, 2):
            runs.append(("whole corpus", n_jobs, run_label([corpus], n_jobs, tmp)))
        if big:
            runs.append((f"corpus x{big}", 2, run_label(corpus_copies(corpus, big, tmp), 2, tmp)))
    print("\n| input | processes | articles | passages | wall s | articles/s | passages/s | peak RSS MB* |")
    print("|---|---|---|---|---|---|---|---|")
    for name, n_jobs, s in runs:
        print(f"| {name} | {n_jobs} | {s['rows_read']:,} | {s['passages']:,} | {s['wall_s']:.1f} | "
              f"{s['rows_read'] / s['wall_s']:,.0f} | {s['passages'] / s['wall_s']:,.0f} | {s['peak_rss_mb']:,.0f} |")
    print("* largest single process (getrusage of children): the parent, or one worker")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--shared")
    parser.add_argument("--skip-label", action="store_true", help="skip the end-to-end table")
    parser.add_argument("--skip-predict", action="store_true", help="skip the predict_proba table")
    parser.add_argument("--big", type=int, default=0, help="also label the corpus repeated N times")
    parser.add_argument("--train", action="store_true", help="time the fit of the default recipe")
    parser.add_argument("--passages", type=int, default=20_000, help="passages of the predict_proba table")
    args = parser.parse_args(argv)
    shared = shared_folder(args.shared)
    if not args.skip_predict:
        table_predict(shared, args.passages)
    if not args.skip_label:
        table_label(shared, args.big)
    if args.train:
        tools = recipe_module()
        recipe = json.loads((tools.HERE / "threat-default.recipe.json").read_text())
        rows = [r for part in recipe["training_data"] + [recipe["dev_data"]] for r in tools.load_part(part, shared)]
        started = time.perf_counter()
        tools.fit_recipe(recipe, rows, shared, n_jobs=2)  # as train_default.py fits it: groups and weights
        print(f"\ntraining the default recipe ({len(rows):,} passages, 5-fold OOF + final fit, 2 threads): "
              f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared pieces of the benchmarks: where the shared data is, and the recipe's data."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_folder(arg: str | None = None) -> Path:
    """The shared data folder, found as ``models/train_default.py`` finds it."""
    return recipe_module().shared_folder(arg)


def recipe_module():
    """``models/train_default.py``, which knows how to read the recipe's training data."""
    spec = importlib.util.spec_from_file_location("train_default", REPO / "models" / "train_default.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fasttext_or_none():
    try:
        import fasttext  # noqa: F401 -- from the "bench" extra (fasttext-numpy2)
    except ImportError:
        print("fastText not installed (pip install '.[bench]'): its rows are skipped", file=sys.stderr)
        return None
    return fasttext


def peak_rss_of(command: list[str]) -> tuple[float, float, dict]:
    """Run a child; return its wall seconds, its peak RSS in MB and its JSON summary."""
    code = ("import resource, subprocess, sys, json, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024; "
            "print(json.dumps({'wall': time.perf_counter() - t, 'peak': peak, 'code': r.returncode, "
            "'out': r.stdout, 'err': r.stderr[-2000:]}))")
    result = json.loads(subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True).stdout)
    if result["code"] not in (0, 3):
        sys.exit(f"failed: {result['err']}")
    return result["wall"], result["peak"], json.loads(result["out"])


def corpus_copies(corpus: Path, copies: int, folder: Path) -> list[Path]:
    """``corpus`` as ``copies`` input files (threatclf refuses one file given twice): the corpus,
    then hard links to it in ``folder`` where the file system allows them, else copies."""
    import shutil

    inputs = [corpus]
    for k in range(1, copies):
        again = folder / f"corpus-{k}{''.join(corpus.suffixes)}"
        if not again.exists():
            try:
                os.link(corpus, again)
            except OSError:
                shutil.copyfile(corpus, again)
        inputs.append(again)
    return inputs


def best_of(fn, repeats: int = 3) -> float:
    """The fastest of ``repeats`` timed calls of ``fn``, after one untimed call (JIT compilation,
    caches, the page cache)."""
    import time

    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)

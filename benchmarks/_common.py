"""Shared pieces of the benchmarks: where the shared data is, and the recipe's data."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def shared_folder(arg: str | None = None) -> Path:
    path = Path(arg or os.environ.get("THREATCLF_SHARED_DATA") or REPO.parent / "shared" / "data")
    if not (path / "threat-passages").is_dir():
        sys.exit(f"shared data not found at {path}: pass --shared or set THREATCLF_SHARED_DATA")
    return path


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

"""Fixtures shared by unit and integration tests.

Real data is never copied into the repository: tests that need it read it from
``../shared/data`` (override with ``THREATCLF_SHARED_DATA``). Where it is absent they are
skipped, unless ``THREATCLF_REQUIRE_SHARED=1`` (set by ``.ci/run``) makes that a failure.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/builders.py

REPO_ROOT = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path:
    env = os.environ.get("THREATCLF_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder holding ``threat-passages/`` and ``corpus/`` (read-only, third-party text)."""
    path = _shared_data_dir()
    if not (path / "threat-passages" / "train.jsonl").is_file():
        message = f"shared data not found at {path} (set THREATCLF_SHARED_DATA)"
        if os.environ.get("THREATCLF_REQUIRE_SHARED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def small_model():
    """A ThreatClassifier fitted on the literal test corpus (shared, do not mutate)."""
    from builders import small_model as build

    return build()


@pytest.fixture(scope="session")
def saved_small_model(small_model, tmp_path_factory):
    """A skops model folder of :func:`small_model`."""
    return small_model.save(tmp_path_factory.mktemp("models") / "small")

"""threatclf — tag news passages and articles with security-threat categories.

The pieces, in the order data flows through them::

    labels       the taxonomy (terrorism, organized_crime, ...), label-list <-> matrix, label-name checks
    data         labelled files (JSONL / CSV / Parquet) -> texts and label lists, for train and evaluate
    text         articles -> passages with character offsets
    features     the TF-IDF vectorizers and their compact stored form
    fastvec      a compiled, exact re-implementation of TF-IDF + linear scoring
    folds        cross-validation folds that keep copies of a text, and groups, in one fold
    classifier   ThreatClassifier: fit / predict / predict_proba / explain, and the checks of its
                 inputs it shares with evaluate
    thresholds   per-label decision thresholds from out-of-fold probabilities (the rules)
    evaluate     per-label metrics and cross-validation
    persistence  model folders: skops by default, digests, trusted types; a folder's settings
    modelcard    the README.md card written into each model folder
    readers      streaming CSV / JSONL / Parquet / txt input; bad rows become rejects
    writers      atomic JSONL / CSV / Parquet output
    evidence     the terms behind a label: which of a passage's words raised its score
    resume       OUTPUT.partial/: finished chunks, the run's fingerprint, id digests, the lock on an output
    batch        labelling DataFrames and files: passages -> article labels, chunks, workers
    distributed  the same labelling on Dask, and files read for it as `threatclf label` reads them
    cli          the ``threatclf`` command
    exceptions   DataError, ModelFormatError, ... : what callers can catch

Importing threatclf has no side effects: no logging set-up, no warning filters, no model
loaded. The default model is read on first use of ``load_model()``.
"""
from __future__ import annotations

__version__ = "0.27.0"

from .classifier import ThreatClassifier
from .evaluate import Evaluation, cross_validate, evaluate, reliability, score_predictions
from .exceptions import (
    DataError,
    IncompatibleModelError,
    MissingDependencyError,
    ModelFormatError,
    ThreatclfError,
    UntrustedModelError,
)
from .labels import DEFAULT_LABELS, LABEL_DEFINITIONS, THREAT_LABELS
from .persistence import ModelVersionWarning, load_model, save_model, settings_of_model, verify_model
from .text import split_passages

__all__ = [
    "__version__",
    "ThreatClassifier",
    "load_model",
    "save_model",
    "verify_model",
    "settings_of_model",
    "evaluate",
    "cross_validate",
    "reliability",
    "score_predictions",
    "Evaluation",
    "split_passages",
    "label_dataframe",
    "label_files",
    "label_dask",
    "read_dask",
    "DEFAULT_LABELS",
    "LABEL_DEFINITIONS",
    "THREAT_LABELS",
    "ThreatclfError",
    "DataError",
    "ModelFormatError",
    "UntrustedModelError",
    "IncompatibleModelError",
    "MissingDependencyError",
    "ModelVersionWarning",
]


def __getattr__(name: str):
    # Batch labelling pulls in pandas I/O and tqdm; import it when first asked for.
    if name in ("label_dataframe", "label_files"):
        from . import batch

        return getattr(batch, name)
    if name in ("label_dask", "read_dask"):
        from . import distributed

        return getattr(distributed, name)
    raise AttributeError(f"module 'threatclf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))  # the lazily imported label_* functions too

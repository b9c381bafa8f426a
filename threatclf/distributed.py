"""Labelling a Dask DataFrame: the batch labelling path mapped over partitions.

threatclf does not schedule work across machines itself: Dask does. The model reaches each
worker once — as a single graph task that every partition depends on (an in-memory model),
or loaded once per worker process from a model folder path that all workers can read.
Needs the ``dask`` extra: ``pip install "threatclf[dask]"``.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import threading

import pandas as pd

from ._optional import require
from .batch import label_dataframe
from .exceptions import DataError, ThreatclfError
from .text import DEFAULT_MAX_WORDS

__all__ = ["label_dask"]


def _model_from_path(path: str | None):
    """The model in ``path`` (None: the bundled one), loaded once per worker process for as
    long as the folder's files are unchanged: a model saved over it is loaded (and checked) anew."""
    if path is None:  # the bundled model by its folder: None and that path are one cache entry
        from .persistence import default_model_path

        path = default_model_path()
    path = os.path.realpath(path)  # "m", "./m" and "/abs/m" are one model
    return _load_cached(path, _folder_stamp(path))


def _folder_stamp(path: str | None) -> tuple:
    if path is None:
        return ()
    try:
        if os.path.isdir(path):
            stats = [(e.name, e.stat()) for e in sorted(os.scandir(path), key=lambda e: e.name)
                     if e.is_file()]
        else:
            stats = [(path, os.stat(path))]
    except OSError:  # load_model names the problem
        return ()
    return tuple((name, st.st_mtime_ns, st.st_size, st.st_ino) for name, st in stats)


_LOADING = threading.Lock()


def _load_cached(path: str | None, stamp: tuple):
    """One model per worker process (~230 MB for the default): a worker's threads share it, and
    the model of a folder saved over, or of another folder, replaces it rather than joining it."""
    with _LOADING:  # two threads of one worker would otherwise both load it
        return _load_once(path, stamp)


@functools.lru_cache(maxsize=1)
def _load_once(path: str | None, stamp: tuple):
    from .persistence import load_model

    return load_model(path)


def _model_identity(path: str | None) -> str | None:
    """What a model folder holds, told by its metadata.json (which records every file's digest):
    the same for a copy of the folder on another machine, different once a model is saved over
    it. None where it cannot be read: loading names that problem."""
    try:
        if path is None:
            from .persistence import default_model_path

            path = default_model_path()
        with open(os.path.join(path, "metadata.json"), "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except (OSError, ThreatclfError):
        return None


def _label_partition(frame: pd.DataFrame, model, options: dict, flat: bool, identity: str | None = None,
                     partition_info=None) -> pd.DataFrame:
    if model is None or isinstance(model, (str, os.PathLike)):
        path = None if model is None else os.fspath(model)
        _check_identity(path, identity, partition_info)
        model = _model_from_path(path)
        _check_identity(path, identity, partition_info)  # not saved over while it was loaded
    try:
        out = label_dataframe(frame, model, **options)
    except DataError as exc:  # a partition's row numbers restart at 0: say which partition
        if partition_info is None:
            raise
        raise DataError(f"partition {partition_info['number']}: {exc}") from None
    return _flatten(out) if flat else out


def _check_identity(path: str | None, identity: str | None, partition_info) -> None:
    """Every partition is labelled by the model ``label_dask()`` was given: a folder saved over
    since would label the rest with another model, under columns told to Dask from the first."""
    if identity is None:
        return
    found = _model_identity(path)
    if found == identity:
        return
    where = f"partition {partition_info['number']}: " if partition_info is not None else ""
    folder = f"model folder {path}" if path is not None else "bundled model's folder"
    if found is None:  # most often a folder only the calling machine has
        import socket

        raise DataError(f"{where}the {folder} cannot be read on the worker on {socket.gethostname()} (its "
                        "metadata.json is missing or unreadable there): a model folder must be readable at the same "
                        "path on every worker; or pass the loaded model (label_dask(ddf, threatclf.load_model(path))), "
                        "which is sent to the workers")
    raise DataError(f"{where}the {folder} has changed since label_dask() was called (a model saved over it?): "
                    "labelling on would mix two models' results; call label_dask() again")


def _flatten(out: pd.DataFrame) -> pd.DataFrame:
    """The file outputs' flat form: ``labels`` joined with ``;``, ``evidence`` as JSON text."""
    from .writers import _join_labels, _json_value

    out = out.copy()
    out["labels"] = pd.array([_join_labels(names) for names in out["labels"]], dtype="string")
    if "evidence" in out:
        out["evidence"] = pd.array([json.dumps(_json_value(e), ensure_ascii=False) for e in out["evidence"]],
                                   dtype="string")
    if "text" in out and "passage" in out:
        out["text"] = out["text"].astype("string")
    return out


def label_dask(ddf, model=None, *, text_col: str = "text", id_col: str | None = None, passages: bool = False,
               threshold=None, top_terms: int = 5, max_words: int = DEFAULT_MAX_WORDS, flat: bool = False):
    """Label a ``dask.dataframe.DataFrame`` lazily; returns a Dask DataFrame.

    The columns, and ``text_col``, ``id_col``, ``passages``, ``threshold``, ``top_terms`` and ``max_words``,
    are those of :func:`threatclf.label_dataframe`; passage rows need ``id_col`` unless the
    Dask index is known (``set_index``). ``model`` is a fitted
    ``ThreatClassifier``, a model folder path readable by every worker, or ``None`` for the
    bundled default model. Call ``.compute()`` on the result; to write it with
    ``.to_parquet()`` or ``.to_csv()``, ask for ``flat=True``: ``labels`` joined with ``;``
    and ``evidence`` as JSON text, as in ``threatclf label``'s CSV and Parquet outputs.
    """
    dask = require("dask")
    dd = require("dask.dataframe")
    from .classifier import ThreatClassifier

    if not isinstance(ddf, dd.DataFrame):
        hint = "; for a pandas DataFrame use threatclf.label_dataframe" if isinstance(ddf, pd.DataFrame) else ""
        raise DataError(f"label_dask() takes a dask.dataframe.DataFrame, got {type(ddf).__name__}{hint}")

    if text_col not in ddf.columns:
        raise DataError(f"column {text_col!r} not found; columns are {list(ddf.columns)}")
    if passages and id_col is None and not ddf.known_divisions:
        raise DataError(
            "passage rows need their article's id, and this Dask DataFrame's index is not known to be one "
            "(read_csv/read_json restart it in each partition): pass id_col=, or set_index() on an id column first")
    options = dict(text_col=text_col, id_col=id_col, passages=passages, threshold=threshold, top_terms=top_terms,
                   max_words=max_words)
    if isinstance(model, ThreatClassifier):
        resolved = model
        shipped, identity = dask.delayed(model, pure=True, traverse=False), None
    else:
        if model is not None and not isinstance(model, (str, os.PathLike)):
            raise TypeError(f"model must be a ThreatClassifier, a model folder or None, got {type(model).__name__}"
                            + ("; a model scattered to the cluster cannot be used: pass the ThreatClassifier itself "
                               "(sent once per call and worker) or a folder every worker can read"
                               if type(model).__name__ == "Future" else ""))
        # absolute: a worker's current folder is not the caller's (a dask worker on another host)
        shipped = None if model is None else os.path.abspath(os.fspath(model))
        identity = _model_identity(shipped)
        resolved = _model_from_path(shipped)
        _check_identity(shipped, identity, None)
    # Every option is checked here, on the empty frame, not once per partition at compute time;
    # the empty result is the output's columns and dtypes, so Dask need not run a partition to learn them.
    empty = label_dataframe(ddf._meta, resolved, **options)
    # Passage rows are numbered afresh in each partition: the input's divisions no longer hold.
    return ddf.map_partitions(_label_partition, shipped, options, flat, identity, meta=_flatten(empty) if flat else empty,
                              enforce_metadata=False, align_dataframes=False, clear_divisions=passages)

"""Labelling a Dask DataFrame: the batch labelling path mapped over partitions.

threatclf does not schedule work across machines itself: Dask does. The model reaches each
worker once — as a single graph task that every partition depends on (an in-memory model),
or loaded once per worker process from a model folder path that all workers can read.
Needs the ``dask`` extra: ``pip install "threatclf[dask]"``.
"""
from __future__ import annotations

import collections
import datetime
import decimal
import functools
import glob
import hashlib
import json
import os
import threading
import warnings

import pandas as pd

from ._optional import require
from .batch import label_dataframe
from .exceptions import DataError, ThreatclfError
from .text import DEFAULT_MAX_WORDS

__all__ = ["label_dask", "read_dask"]


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
#: Model folders a worker keeps loaded at once (~230 MB each for the default): two or three
#: compared in one ``compute()`` would otherwise replace each other partition after partition.
MODELS_KEPT = 3
_LOADED: collections.OrderedDict = collections.OrderedDict()  # path -> (stamp, model), least recently used first


def _load_cached(path: str | None, stamp: tuple):
    """The model of a folder, loaded once per worker process and shared by its threads; a folder
    saved over is loaded anew (its old model dropped), and beyond :data:`MODELS_KEPT` folders the
    one least recently used is dropped."""
    with _LOADING:  # two threads of one worker would otherwise both load it
        kept = _LOADED.get(path)
        if kept is not None and kept[0] == stamp:
            _LOADED.move_to_end(path)
            return kept[1]
        _LOADED.pop(path, None)  # saved over: its old model is not kept beside the new one
        from .persistence import load_model

        model = load_model(path)
        _LOADED[path] = (stamp, model)
        while len(_LOADED) > MODELS_KEPT:
            _LOADED.popitem(last=False)
        return model


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
                     caller_version: str | None = None, escape_formulas: bool = False,
                     partition_info=None) -> pd.DataFrame:
    if model is None or isinstance(model, (str, os.PathLike)):
        path = None if model is None else os.fspath(model)
        _check_identity(path, identity, partition_info, caller_version)
        model = _model_from_path(path)
        _check_identity(path, identity, partition_info, caller_version)  # not saved over while it was loaded
    try:
        out = label_dataframe(frame, model, **options)
    except DataError as exc:  # a partition's row numbers restart at 0: say which partition
        if partition_info is None:
            raise
        raise DataError(f"partition {partition_info['number']}: {exc}") from None
    return _flatten(out, escape_formulas) if flat else out


def _check_identity(path: str | None, identity: str | None, partition_info, caller_version: str | None = None) -> None:
    """Every partition is labelled by the model ``label_dask()`` was given: a folder saved over
    since would label the rest with another model, under columns told to Dask from the first."""
    if identity is None:
        return
    found = _model_identity(path)
    if found == identity:
        return
    where = f"partition {partition_info['number']}: " if partition_info is not None else ""
    from . import __version__

    if path is None and caller_version is not None and caller_version != __version__:  # most often, mixed installs
        import socket

        raise DataError(f"{where}the worker on {socket.gethostname()} runs threatclf {__version__}, the calling process "
                        f"{caller_version}, whose bundled models differ: install the same release everywhere, or "
                        "pass a model folder every worker can read, or the loaded model")
    folder = f"model folder {path}" if path is not None else "bundled model's folder"
    if found is None:  # most often a folder only the calling machine has
        import socket

        raise DataError(f"{where}the {folder} cannot be read on the worker on {socket.gethostname()} (its "
                        "metadata.json is missing or unreadable there): a model folder must be readable at the same "
                        "path on every worker; or pass the loaded model (label_dask(ddf, threatclf.load_model(path))), "
                        "which is sent to the workers")
    raise DataError(f"{where}the {folder} has changed since label_dask() was called (a model saved over it?): "
                    "labelling on would mix two models' results; call label_dask() again")


def _flatten(out: pd.DataFrame, escape_formulas: bool = False) -> pd.DataFrame:
    """The file outputs' flat form: ``labels`` joined with ``;``, ``evidence`` and the lists
    and dicts of carried columns as JSON text; with ``escape_formulas``, text a spreadsheet
    would run as a formula escaped as in ``threatclf label --escape-formulas``."""
    from .writers import _CsvSink, _is_nested, _join_labels, _json_value

    out = out.copy()
    out["labels"] = pd.array([_join_labels(names) for names in out["labels"]], dtype="string")
    if "evidence" in out:
        out["evidence"] = pd.array([json.dumps(_json_value(e), ensure_ascii=False) for e in out["evidence"]],
                                   dtype="string")
    for column in out.columns:  # as in the CSV and Parquet of threatclf label
        if column not in ("labels", "evidence") and out[column].dtype == object and any(map(_is_nested, out[column])):
            out[column] = [json.dumps(_json_value(v), ensure_ascii=False) if _is_nested(v) else v for v in out[column]]
        elif out[column].dtype.kind in "mM" or (out[column].dtype == object and any(map(_as_text_in_files, out[column]))):
            # dates, times, durations, decimals and bytes: the ISO (or exact) text threatclf label writes
            out[column] = pd.array([_json_value(v) if _as_text_in_files(v) else v for v in out[column]],  # NaT: None
                                   dtype="string" if out[column].dtype.kind in "mM" else object)
    if "text" in out and "passage" in out:
        out["text"] = out["text"].astype("string")
    if not escape_formulas:
        return out
    escaped = _CsvSink._escaped(out)  # names too, as --escape-formulas does
    for before, after in zip(out.columns, escaped.columns):  # text columns stay of their dtype (the meta's)
        if escaped[after].dtype != out[before].dtype:
            escaped[after] = escaped[after].astype(out[before].dtype)
    return escaped


def _as_text_in_files(value) -> bool:
    """A carried value the file outputs write as text: a date, time, duration (pd.Timestamp,
    pd.Timedelta and NaT among them), decimal or bytes."""
    return isinstance(value, _WRITTEN_AS_TEXT)


_WRITTEN_AS_TEXT = (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal, bytes, bytearray)


def label_dask(ddf, model=None, *, text_col: str = "text", id_col: str | None = None, passages: bool = False,
               threshold=None, top_terms: int = 5, max_words: int = DEFAULT_MAX_WORDS, flat: bool = False,
               escape_formulas: bool = False):
    """Label a ``dask.dataframe.DataFrame`` lazily; returns a Dask DataFrame.

    The columns, and ``text_col``, ``id_col``, ``passages``, ``threshold``, ``top_terms`` and ``max_words``,
    are those of :func:`threatclf.label_dataframe`; passage rows need ``id_col`` unless the
    Dask index is known (``set_index``). ``model`` is a fitted
    ``ThreatClassifier``, a model folder path readable by every worker, or ``None`` for the
    bundled default model. Call ``.compute()`` on the result; to write it with
    ``.to_parquet()`` or ``.to_csv()``, ask for ``flat=True``: ``labels`` joined with ``;``
    and ``evidence`` as JSON text, as in ``threatclf label``'s CSV and Parquet outputs;
    ``escape_formulas=True`` (with ``flat=True``, for CSV a spreadsheet will open) puts a ``'``
    before text that would run as a formula, as ``threatclf label --escape-formulas`` does.
    :func:`read_dask` reads files as ``threatclf label`` does, ids as written.
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
    if escape_formulas and not flat:
        raise DataError("escape_formulas=True escapes the flat form written to CSV: ask for flat=True too")
    if id_col is not None and id_col in ddf.columns and ddf[id_col].dtype.kind == "f":
        warnings.warn(f"the id column {id_col!r} holds floats, as pandas and Dask read whole-number ids with a null "
                      "among them: 7 is written 7.0, and ids beyond 2**53 have lost digits; threatclf.read_dask(files) "
                      "reads ids as written", UserWarning, stacklevel=2)
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
    from . import __version__

    # Passage rows are numbered afresh in each partition: the input's divisions no longer hold.
    return ddf.map_partitions(_label_partition, shipped, options, flat, identity, __version__, escape_formulas,
                              meta=_flatten(empty, escape_formulas) if flat else empty,
                              enforce_metadata=False, align_dataframes=False, clear_divisions=passages)


def read_dask(inputs, *, text_col: str = "text", id_col: str = "id", columns=None, csv_sep: str = ",",
              encoding: str = "utf-8"):
    """Read JSONL / CSV / Parquet files (or .txt folders) as a Dask DataFrame, one partition a
    file, with the rules of ``threatclf label``: ids as written, as text (``7``, not ``7.0``;
    ``FILE:LINE`` for a row without one — the path as given when two inputs share a name), the
    text column named ``text`` and the id ``id``; the other columns' numbers stay numbers
    (``Int64`` with a null), and their lists and dicts are JSON text, as ``threatclf label``
    writes them to CSV and Parquet (Dask's own readers write ``['a', 'b']``).

    ``inputs`` is a path, a glob (``"parts/*.jsonl.gz"``) or a list of them, made absolute here
    (a worker's current folder is not the caller's); ``columns`` names the other input columns
    to carry (null in a file without them), by default the first file's that has rows, and a
    file with rows and other columns is then an error naming it (name the columns to carry when
    files differ). That file is read here, for the columns' types: a column null or absent there
    is text, and a partition whose column holds numbers where the first file's held text gets
    them as text (as ``threatclf label`` writes a column whose type differs across files); the
    other way round is an error naming the file. Every file is checked. A bad row (a missing or
    non-text text, say) makes its partition raise naming file and line — no row is dropped
    (``threatclf label`` instead sets such rows aside in a rejects file).
    """
    dd = require("dask.dataframe")
    from .readers import check_inputs, folder_id_prefix, ids_named, is_stdin

    paths = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    given = []  # as the caller named them (a glob's matches as it found them): what ids are named after
    for path in paths:
        path = os.fspath(path)
        if is_stdin(path):
            raise DataError("read_dask reads files every worker can open, not standard input ('-'): save it to a "
                            "file first")
        matched = sorted(glob.glob(path)) if glob.has_magic(path) and not os.path.exists(path) else [path]
        if not matched:
            raise DataError(f"no input file matches {path}")
        given.extend(matched)
    if not given:
        raise DataError("no input files given")
    files = [os.path.abspath(path) for path in given]
    check_inputs(files, text_col=text_col, id_col=id_col, csv_sep=csv_sep, encoding=encoding)
    named = dict(zip(files, ids_named(given)))
    # a .txt folder's ids start with its name where it is one of several inputs, as threatclf label names them
    prefixes = {path: folder_id_prefix(named[path]) if len(files) > 1 and os.path.isdir(path) else ""
                for path in files}
    options = dict(text_col=text_col, id_col=id_col, csv_sep=csv_sep, encoding=encoding)
    exact = columns is None  # the first file's columns, which every file must have
    if columns is not None:  # the id and text fields are the id and text columns, under any name
        columns = [c for c in dict.fromkeys(columns) if c not in ("id", "text", id_col, text_col)]
    first = first_file = None
    for first_file in files:  # the first file with rows says the columns (an empty file has none to say)
        first = _read_file(first_file, carry=columns, ids_named=named[first_file],
                           txt_id_prefix=prefixes[first_file], **options)
        if len(first):
            break

    def found_in(frame):
        return [c for c in frame.columns if c not in frame.attrs.get("absent", ())]

    if first.attrs.get("absent"):  # a typo ("titel") would otherwise be a column of nulls, unsaid
        warnings.warn(f"columns {first.attrs['absent']} are in no row of {first_file} (null there; a later file may "
                      f"have them); its columns are {found_in(first)}", UserWarning, stacklevel=2)
    read = functools.partial(_read_partition, carry=[c for c in first.columns if c not in ("id", "text")],
                             exact=exact, named=named, prefixes=prefixes, meta=first.iloc[:0], **options)
    # named by what is read and how, not left to Dask's hash of the partial: older Dask releases
    # could give two calls' graphs one name, and then compute one with the other's columns and types
    from dask.base import tokenize

    stamps = [(stat.st_size, stat.st_mtime_ns) if os.path.isfile(f) and (stat := os.stat(f)) else None for f in files]
    token = tokenize(files, stamps, options, columns, exact, named, prefixes, [(c, str(t)) for c, t in first.dtypes.items()])
    return dd.from_map(read, files, label=f"threatclf-read-{token[:12]}", meta=first.iloc[:0])


def _read_partition(path: str, columns=None, *, carry, exact, named, prefixes, meta, **options) -> pd.DataFrame:
    """:func:`read_dask`'s partition: the file read as the first file's columns and types; ``columns``
    are those the Dask graph still needs (``ddf[["id", "text"]]``), which Dask passes in."""
    frame = _conform(_read_file(path, carry=carry, exact=exact, ids_named=named[path], txt_id_prefix=prefixes[path],
                                **options), meta, path)
    if columns is None:
        return frame
    return frame[columns] if isinstance(columns, str) else frame[list(columns)]


def _conform(frame: pd.DataFrame, meta: pd.DataFrame, path: str) -> pd.DataFrame:
    """``frame`` with ``meta``'s column types: numbers where the first file had text (or nulls)
    become text, as ``threatclf label`` writes a column whose type differs across files; text
    where it had numbers is an error naming the file and column (a Parquet file could not hold it)."""
    for column in meta.columns:
        want, have = meta[column].dtype, frame[column].dtype
        if have == want:
            continue
        if len(frame) and (pd.api.types.is_string_dtype(want) or want == object):
            frame[column] = frame[column].map(lambda v: v if isinstance(v, str) else _as_text(v),
                                              na_action="ignore").astype(want)
            continue
        try:
            cast = frame[column].astype(want)
        except (TypeError, ValueError, OverflowError):
            raise DataError(f"{path}: column {column!r} holds {have} values where the first file's held {want}; "
                            "a Dask DataFrame has one type a column: read the files whose column holds text "
                            "first, or convert the column in them") from None
        changed = _changed_by_cast(frame[column], cast, have, want)
        if changed is not None:  # 2.5 as 2, 7 as True: numpy and pandas cast these without a word
            raise DataError(f"{path}: column {column!r} holds {have} values where the first file's held {want}, "
                            f"which would change them ({changed}): a Dask DataFrame has one type a column, the first "
                            f"file's; put first a file whose column holds {have} values, if they can hold the others' "
                            "(decimals can hold whole numbers), or convert the column in the files")
        frame[column] = cast
    return frame


def _changed_by_cast(original: pd.Series, cast: pd.Series, have, want) -> str | None:
    """The first value ``cast`` does not hold as ``original`` did (``2.5 read as 2``); a cast
    between booleans and numbers changes every value's kind. None when nothing changed."""
    kinds = {getattr(have, "kind", "O"), getattr(want, "kind", "O")}
    if "b" in kinds and kinds & set("iuf"):
        value = original.dropna()
        return (f"{_shown(value.iloc[0])} read as {_shown(cast.loc[value.index[0]])}" if len(value)
                else "booleans and numbers are not one type")
    missing = original.isna().to_numpy()
    if (cast.isna().to_numpy() != missing).any():
        k = int(((cast.isna().to_numpy()) != missing).argmax())
        return f"{_shown(original.iloc[k])} read as {_shown(cast.iloc[k])}"
    before = original.astype(object).to_numpy()[~missing]
    after = cast.astype(object).to_numpy()[~missing]
    differ = [k for k, (a, b) in enumerate(zip(before, after)) if not (a == b)]
    return f"{_shown(before[differ[0]])} read as {_shown(after[differ[0]])}" if differ else None


def _shown(value) -> str:
    return repr(value.item() if hasattr(value, "item") else value)


def _as_text(value) -> str:
    """A carried number or boolean as text, as JSON writes it (``5``, ``2.5``, ``true``)."""
    return json.dumps(value.item() if hasattr(value, "item") else value)


def _read_file(path: str, carry=None, exact: bool = False, ids_named=None, txt_id_prefix: str = "",
               **options) -> pd.DataFrame:
    """One input file, whole (without the reader's own ``_source`` / ``_line`` columns, which
    ``threatclf label`` does not write); ``carry``: the other columns to keep (by default all);
    ``exact``: a file with rows must have ``carry`` and no others."""
    from .readers import read_records
    from .writers import _is_nested, _json_value

    frame = read_records(path, strict=True, ids_named=ids_named, txt_id_prefix=txt_id_prefix,
                         **options).drop(columns=["_source", "_line"])
    found = [c for c in frame.columns if c not in ("id", "text")]
    if exact and len(frame) and set(found) != set(carry):
        extra, missing = [c for c in found if c not in carry], [c for c in carry if c not in found]
        raise DataError(f"{path}: columns {found} differ from the first file's {list(carry)} ("
                        + "; ".join(part for part in (extra and f"not in the first file: {extra}",
                                                      missing and f"missing here: {missing}") if part)
                        + "): name the columns to carry, read_dask(..., columns=[...])")
    carried = found if carry is None else carry
    frame.attrs["absent"] = [c for c in carried if c not in frame]  # for read_dask to name
    for column in carried:
        if column not in frame:  # named, but in no row of this file: null here, as threatclf label writes it
            frame[column] = None
        values = frame[column]
        if values.dtype == object and any(map(_is_nested, values)):
            values = pd.Series([json.dumps(_json_value(v), ensure_ascii=False) if _is_nested(v) else v for v in values],
                               index=frame.index, dtype=object)
        frame[column] = values.convert_dtypes() if values.dtype == object else values
    return frame[["id", "text", *carried]]

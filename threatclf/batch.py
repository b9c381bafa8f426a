"""Labelling articles in bulk: DataFrames in memory, and files in resumable chunks.

One path serves both::

    records ──split──▶ passages ──score──▶ passage probabilities ──max per article──▶ labels
            ──best passage per label──▶ evidence (offsets, top terms)

For files, the input is read in fixed-size chunks (:func:`threatclf.readers.iter_batches`);
each chunk's results go to ``OUTPUT.partial/`` as soon as it is done (atomically, a
``.done.json`` marker last; :mod:`threatclf.resume`), so ``resume=True`` skips finished
chunks after a crash or a kill. The final output is assembled from the chunks into a
temporary file and renamed into place only when complete. Every input row ends up labelled
or in the rejects file. The terms shown as evidence come from :mod:`threatclf.evidence`.
"""
from __future__ import annotations

import codecs
import contextlib
import errno
import gzip
import json
import logging
import math
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .classifier import ThreatClassifier
from .exceptions import DataError
from .text import DEFAULT_MAX_WORDS, split_passages
from ._optional import require
from .features import plain
from .evidence import terms_behind
from .readers import RESERVED_COLUMNS, Reject, check_csv_options, check_inputs, count_rows, is_stdin, iter_batches
from .resume import (PARTIAL_SUFFIX, ChunkStore, input_stamps, digests_of, exclusive_run, id_digests, interrupted_rejects, lock_path_of,
                     make_folder, option_named, run_fingerprint)
from .writers import RecordWriter, atomic_path, infinite_counts, output_format, remove_stale_temps, value_kinds

__all__ = ["LabelOptions", "LabelSummary", "label_dataframe", "label_files", "label_records"]

logger = logging.getLogger("threatclf")


def _count(n: int, noun: str) -> str:
    """``"1 chunk"`` / ``"3 chunks"``."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _rows(n: int) -> str:
    """``"1 row repeats"`` / ``"3 rows repeat"``."""
    return f"{n:,} row repeats" if n == 1 else f"{n:,} rows repeat"


@dataclass(frozen=True)
class LabelOptions:
    """How records are labelled; part of a run's fingerprint, so a resume cannot mix settings."""

    passages: bool = False
    threshold: float | dict | None = None
    top_terms: int = 5
    max_words: int = DEFAULT_MAX_WORDS
    keep_text: bool = False


@dataclass
class LabelSummary:
    """What a labelling run did."""

    rows_read: int = 0
    labelled: int = 0
    rejected: int = 0
    passages: int = 0
    label_counts: dict = field(default_factory=dict)
    elapsed_s: float = 0.0
    output: str | None = None
    rejects: str | None = None
    resumed_chunks: int = 0
    #: Rows and passages of the resumed chunks, labelled by the interrupted run (not in the rates).
    resumed_rows: int = 0
    resumed_passages: int = 0
    #: Input rows whose id an earlier row already had: their output rows are not unique by id.
    duplicate_ids: int = 0
    #: Labelled rows with no text to score (empty, or white space, invisible or control characters
    #: only): an output row each, with no label and no score. Many of them often mean the wrong ``text_col``.
    without_text: int = 0
    #: Why rows were rejected: reason -> rows, most common first (a run's rejects file has each row).
    reject_reasons: dict = field(default_factory=dict)
    #: Per carried field, the rows whose value was ±Infinity, written as null (JSON has no such number).
    infinite_values: dict = field(default_factory=dict)

    @property
    def rows_per_s(self) -> float:
        """Rows labelled by this run per second (a resumed run's earlier chunks left out)."""
        return (self.rows_read - self.resumed_rows) / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def passages_per_s(self) -> float:
        return (self.passages - self.resumed_passages) / self.elapsed_s if self.elapsed_s else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "rows_per_s": round(self.rows_per_s, 1), "passages_per_s": round(self.passages_per_s, 1)}

    def to_text(self) -> str:
        counts = ", ".join(f"{k} {v:,}" for k, v in self.label_counts.items()) or "none"
        return (
            f"rows in {self.rows_read:,} | labelled {self.labelled:,}"
            + (f" ({self.without_text:,} without text)" if self.without_text else "")
            + f" | rejected {self.rejected:,} | "
            f"passages {self.passages:,}\nlabels (output rows carrying each): {counts}\n"
            f"elapsed {self.elapsed_s:.1f} s | {_rate(self.rows_per_s)} rows/s | {_rate(self.passages_per_s)} passages/s"
            + (f"\nresumed: {_count(self.resumed_chunks, 'chunk')} ({_count(self.resumed_rows, 'row')}) "
               f"{'was' if self.resumed_chunks == 1 else 'were'} taken from the interrupted run"
               if self.resumed_chunks else "")
            + (f"\noutput: {self.output}" if self.output else "")
            + (f"\nrejects: {self.rejects}" if self.rejected else "")
            + (f"\n{_why_rejected(self.rejected, self.reject_reasons)}" if self.rejected and self.reject_reasons else "")
            + (f"\nWARNING: {_rows(self.duplicate_ids)} an id of an earlier row; "
               "the output is not unique by id" if self.duplicate_ids else "")
            + (f"\nWARNING: {_infinities(self.infinite_values)}" if self.infinite_values else "")
        )


def _infinities(counts: dict) -> str:
    """What became of ±Infinity values, said where it is seen: the row is kept, the value is not."""
    fields = ", ".join(f"{name!r} in {_count(rows, 'row')}" for name, rows in list(counts.items())[:5])
    more = f" and {len(counts) - 5:,} more fields" if len(counts) > 5 else ""
    return (f"Infinity or -Infinity, which JSON has no number for, was written as null: {fields}{more} "
            "(the rows are labelled and kept)")


def _why_rejected(rejected: int, reasons: dict) -> str:
    """The most common reject reason, said where it is seen: the reasons are otherwise only in
    the rejects file (a file in the wrong encoding has every row with an accent rejected)."""
    if not reasons:
        return ""
    reason, rows = next(iter(reasons.items()))
    if rejected == 1:
        return f"why: {reason}"
    share = "every rejected row" if rows == rejected else f"{rows:,} of the {rejected:,} rejected rows"
    return f"why ({share}): {reason}"


def _rate(per_second: float) -> str:
    """Whole numbers for real runs; three figures for a handful of rows (0.268, not 0)."""
    return f"{per_second:,.0f}" if per_second >= 100 or per_second == 0 else f"{per_second:.3g}"


def _thresholds(model: ThreatClassifier, threshold) -> np.ndarray:
    if threshold is None:
        return np.asarray(model.thresholds_, dtype=np.float64)
    if isinstance(threshold, Mapping):
        unknown = set(threshold) - set(model.labels_) - {"*"}
        if unknown:
            raise DataError(f"threshold names unknown labels {sorted(unknown)}; model labels: {list(model.labels_)}")
    try:
        if isinstance(threshold, Mapping):  # "*": for the labels not named, as in ThreatClassifier(threshold=)
            values = np.array([float(threshold.get(lab, threshold.get("*", t)))
                               for lab, t in zip(model.labels_, model.thresholds_)])
        else:
            if isinstance(threshold, (str, bytes)):
                raise TypeError
            values = np.full(len(model.labels_), float(threshold))
        given = values if not isinstance(threshold, Mapping) else np.array([float(v) for v in threshold.values()])
    except (TypeError, ValueError):
        raise DataError(f"threshold must be a number or a dict of label -> number, got {threshold!r}"
                        + (" (the label=0.5,... form is the command line's)" if isinstance(threshold, str) else "")
                        ) from None
    if not ((given >= 0.0) & (given <= 1.0)).all():  # the model's own "never" (above 1) stays as it is
        raise DataError(f"thresholds must be between 0 and 1, got {threshold}")
    return values


def check_thresholds(model: ThreatClassifier, threshold) -> None:
    """Check ``threshold`` before any work; warn when it gives a label the model did not learn."""
    values = _thresholds(model, threshold)
    given = [label for label, own, cut in zip(model.labels_, model.thresholds_, values) if own > 1 >= cut]
    if threshold is not None and given:
        warnings.warn(f"threshold gives labels the model did not learn: {', '.join(given)} (its out-of-fold scores "
                      "picked them out no better than chance, so how often a label so given is right is not known)",
                      UserWarning, stacklevel=3)


def _plain_key(value):
    """An index label as its user wrote it: ``2``, not ``np.int64(2)``."""
    return value.item() if isinstance(value, np.generic) else value


class DeferredModel:
    """A model to be loaded by ``load()`` only once a run has passed the checks that need no
    model (inputs, output, options): ``threatclf label`` refuses a mistyped path at once, not
    after loading its model."""

    def __init__(self, load):
        self.load = load


def _resolve_model(model) -> ThreatClassifier:
    if isinstance(model, DeferredModel):
        model = model.load()
    if model is None or isinstance(model, (str, os.PathLike)):
        from .persistence import load_model

        return load_model(model)
    if not isinstance(model, ThreatClassifier):
        raise TypeError(f"model must be a ThreatClassifier, a model folder or None, got {type(model).__name__}")
    check_is_fitted(model, "thresholds_")
    return model


def output_columns(labels: Sequence[str], passages: bool) -> tuple[str, ...]:
    """Columns a labelling run writes besides ``id`` and ``text``: an input column of the same
    name would be overwritten, so it is an error (``score_<label>`` is the flattened form)."""
    own = ("passage", "start", "end", "labels", "scores", "evidence") if passages else ("labels", "scores", "evidence")
    return own + tuple(f"score_{label}" for label in labels)


def _check_no_clash(frame: pd.DataFrame, reserved: Sequence[str]) -> None:
    """DataError naming the file and line of the first input value an output column would overwrite."""
    for column in (c for c in frame.columns if c in reserved):
        present = frame[column].notna().to_numpy()
        if present.any():
            row = frame.iloc[int(np.flatnonzero(present)[0])]
            where = "row" if str(row["_source"]).lower().endswith(".parquet") else "line"
            raise DataError(f"{row['_source']}: {where} {row['_line']}: input column {column!r} would be overwritten "
                            f"by the output's {column!r} column; rename it")


def label_records(model: ThreatClassifier, ids: Sequence[str], texts: Sequence[str],
                  options: LabelOptions = LabelOptions()) -> list[dict]:
    """Label articles (or passages with ``options.passages``): the one labelling path.

    Returns one dict per article: ``labels``, ``scores`` (label → probability, the best
    passage's) and ``evidence`` (per label: passage index, offsets, score, top terms), or one
    dict per passage with its offsets, labels and scores.
    """
    return _label(model, ids, texts, options)[0]


def _label(model, ids, texts, options) -> tuple[list[dict], int, int]:
    """:func:`label_records`, the number of passages scored and of texts without any."""
    labels = list(model.labels_)
    cut = _thresholds(model, options.threshold)
    owner: list[int] = []
    spans: list[tuple[int, int]] = []
    for i, text in enumerate(texts):
        for passage in split_passages(text, max_words=options.max_words):
            owner.append(i)
            spans.append(passage)
    passage_texts = [texts[i][s:e] for i, (s, e) in zip(owner, spans)]
    textless = len(texts) - len(set(owner))  # texts that gave no passage
    # scored a block at a time: the scoring's temporaries grow with the text scored at once
    proba = np.vstack([np.zeros((0, len(labels)))] + [
        model._proba_from_scores(model.decision_function(passage_texts[block])) for block in _blocks(passage_texts)])
    hits = proba >= cut
    if options.passages:
        # evidence of a passage: its labels' scores and, with top_terms, the terms behind them
        wanted = {k: np.flatnonzero(hits[k]) for k in np.flatnonzero(hits.any(axis=1))} if options.top_terms else {}
        terms_of = _terms_behind_each(model, passage_texts, wanted, options.top_terms)
        rows: list[list[dict]] = [[] for _ in texts]
        for k, (i, (s, e)) in enumerate(zip(owner, spans)):
            record = {"id": ids[i], "passage": len(rows[i]), "start": int(s), "end": int(e)}
            if options.keep_text:
                record["text"] = passage_texts[k]
            assigned = np.flatnonzero(hits[k])
            record["labels"] = [labels[j] for j in assigned]
            shown = _shown(proba[k], cut)
            record["scores"] = dict(zip(labels, shown))
            evidence = []
            for j in assigned:
                item = {"label": labels[j], "score": shown[j], "terms": []}
                if options.top_terms:
                    item["terms"] = terms_of[k, j]
                evidence.append(item)
            record["evidence"] = evidence
            rows[i].append(record)
        for i, article_rows in enumerate(rows):
            if not article_rows:  # an article without text still gets a row: no id goes missing
                record = {"id": ids[i], "passage": None, "start": None, "end": None}
                if options.keep_text:
                    record["text"] = ""
                record["labels"] = []
                record["scores"] = {lab: None for lab in labels}  # no text, no score (not a 0 % chance)
                record["evidence"] = []
                article_rows.append(record)
        return [record for article_rows in rows for record in article_rows], len(spans), textless
    # Article scores: each label's best passage. Features are rebuilt only for the passages
    # that serve as evidence, a small share of all passages.
    bounds = np.searchsorted(np.asarray(owner, dtype=np.int64), np.arange(len(texts) + 1))
    per_article = []
    for i in range(len(texts)):
        first, last = bounds[i], bounds[i + 1]
        if first == last:
            per_article.append(None)
            continue
        block = proba[first:last]
        best = block.argmax(axis=0)
        top = block[best, np.arange(len(labels))]
        per_article.append((first, best, top, np.flatnonzero(top >= cut)))
    wanted: dict[int, list[int]] = {}  # evidence passage -> the labels it is the evidence of
    if options.top_terms:
        for entry in per_article:
            if entry is not None:
                first, best, _, assigned = entry
                for j in assigned:
                    wanted.setdefault(first + int(best[j]), []).append(j)
    terms_of = _terms_behind_each(model, passage_texts, wanted, options.top_terms)
    records = []
    for i, entry in enumerate(per_article):
        if entry is None:
            records.append({"id": ids[i], "labels": [], "scores": {lab: None for lab in labels}, "evidence": []})
            continue
        first, best, top, assigned = entry
        evidence = []
        for j in assigned:
            k = first + int(best[j])
            item = {"label": labels[j], "score": _shown(top[j:j + 1], cut[j:j + 1])[0], "passage": int(best[j]),
                    "start": int(spans[k][0]), "end": int(spans[k][1]), "terms": []}
            if options.top_terms:
                item["terms"] = terms_of[k, j]
            evidence.append(item)
        records.append({"id": ids[i], "labels": [labels[j] for j in assigned],
                        "scores": dict(zip(labels, _shown(top, cut))),
                        "evidence": evidence})
    return records, len(spans), textless


#: Passages scored, or featurised for evidence, at once: at most this many characters (the
#: temporaries take about 13 bytes a character: a chunk of 2,000 long texts held gigabytes) ...
BLOCK_CHARS = 4_000_000
#: ... and at most this many passages.
BLOCK_PASSAGES = 5_000


def _blocks(texts: Sequence[str]) -> Iterator[slice]:
    """Consecutive slices of ``texts``, each of at most BLOCK_CHARS characters (or one longer text)
    and BLOCK_PASSAGES texts. Each text's result is the same in any block."""
    start, chars = 0, 0
    for k, text in enumerate(texts):
        if k > start and (chars + len(text) > BLOCK_CHARS or k - start == BLOCK_PASSAGES):
            yield slice(start, k)
            start, chars = k, 0
        chars += len(text)
    if start < len(texts):
        yield slice(start, len(texts))


def _terms_behind_each(model, passage_texts: list[str], wanted: dict, top: int) -> dict[tuple[int, int], list[str]]:
    """The top terms behind label ``j`` in passage ``k``, for each ``j`` in ``wanted[k]``, keyed
    ``(k, j)``: features are built a block of passages at a time, and dropped after."""
    if not wanted or not top:
        return {}
    terms, is_word = model._evidence_terms()
    order = list(wanted)
    found = {}
    for block in _blocks([passage_texts[k] for k in order]):
        ks = order[block]
        X = model.transform([passage_texts[k] for k in ks])
        for row, k in enumerate(ks):
            for j in wanted[k]:
                found[k, j] = terms_behind(X, row, model.coef_[j], terms, is_word, top, passage_texts[k])
    return found


def _shown(proba: np.ndarray, cut: np.ndarray) -> list[float]:
    """Probabilities rounded to 6 decimals for output, never across their label's threshold:
    re-applying the thresholds to the written scores gives the written labels."""
    shown = []
    for p, t in zip(proba.tolist(), cut.tolist()):
        r = round(p, 6)
        if (r >= t) != (p >= t):
            r = (math.ceil if p >= t else math.floor)(p * 1e6) / 1e6
            if (r >= t) != (p >= t):  # floating point still on the wrong side: the value itself
                r = p
        shown.append(r)
    return shown














def label_dataframe(df: pd.DataFrame, model=None, *, text_col: str = "text", id_col: str | None = None,
                    passages: bool = False, threshold=None, top_terms: int = 5,
                    max_words: int = DEFAULT_MAX_WORDS, chunk_size: int = 5000) -> pd.DataFrame:
    """Label the texts of a DataFrame; return a new DataFrame.

    Article level (default): the input columns plus ``labels`` (list), one ``score_<label>``
    column per label and ``evidence`` (list of dicts with offsets into the text and terms).
    With ``passages=True``: one row per passage with the article's id (``id_col`` or the
    index), the article's other input columns, ``passage``, ``start``, ``end``, ``text``,
    ``labels``, the score columns and ``evidence`` (per label of the passage: its score and,
    with ``top_terms``, its terms), as ``threatclf label --passages`` writes them.
    ``model`` is a fitted :class:`ThreatClassifier`, a model folder path, or ``None`` for the
    bundled default model. ``threshold`` replaces the model's cut-offs: one number, or
    ``{label: number}`` (``"*"`` for the labels not named). ``top_terms`` evidence terms per
    label (0: none); ``max_words`` is the longest passage in words; ``chunk_size`` texts are
    scored at a time, which bounds the memory of the features. A missing or non-string text
    raises :class:`DataError` naming the row; an input column an output column would
    overwrite raises too.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"label_dataframe() takes a pandas DataFrame, got {type(df).__name__}")
    if text_col not in df.columns:
        raise DataError(f"column {text_col!r} not found; columns are {list(df.columns)}")
    if id_col is not None and id_col not in df.columns:
        raise DataError(f"id column {id_col!r} not found; columns are {list(df.columns)}")
    if id_col == text_col:
        raise DataError(f"text and id columns must differ (both {text_col!r})")
    repeated = [name for name in dict.fromkeys((text_col, id_col)) if name is not None and (df.columns == name).sum() > 1]
    if repeated:
        raise DataError(f"column {repeated[0]!r} appears {(df.columns == repeated[0]).sum()} times; "
                        "keep one (df.loc[:, ~df.columns.duplicated()]) or rename the others")
    _check_whole_numbers(str, chunk_size=(chunk_size, 1), top_terms=(top_terms, 0), max_words=(max_words, 1))
    model = _resolve_model(model)
    check_thresholds(model, threshold)  # before any work
    if passages and (id_col in output_columns(model.labels_, passages=True) or id_col == "text" != text_col):
        # passage rows hold their passage's text in "text"
        raise DataError(f"id column {id_col!r} has the name of an output column of passage rows; rename it")
    carried = _carried_columns(df, text_col, id_col, passages)
    # rows of both levels carry the input columns: none may share an output column's name
    reserved = output_columns(model.labels_, passages) + (("text", "id" if id_col is None else id_col) if passages else ())
    clash = [c for c in carried.columns if c in reserved]
    if clash:
        hint = (" (or pass id_col='id' if it holds the articles' ids)"
                if passages and clash[0] == "id" and id_col is None else "")
        raise DataError(f"column {clash[0]!r} would be overwritten by the output's {clash[0]!r} column; "
                        f"rename it{hint}")
    texts = df[text_col].tolist()
    for i, (row, text) in enumerate(zip(df.index, texts)):
        what = None
        if not isinstance(text, str):
            what = "missing" if pd.api.types.is_scalar(text) and pd.isna(text) else f"{type(text).__name__}, expected str"
        elif not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:  # as json.loads gives for a broken "\ud83d" escape; files reject it
                what = (f"not valid Unicode: a lone surrogate {text[exc.start]!r} at character {exc.start} "
                        "(a broken escape in the source?)")
        if what:
            which = f" ({id_col} {df[id_col].tolist()[i]!r})" if id_col else ""  # 2, not np.int64(2)
            raise DataError(f"row {_plain_key(row)!r}{which}: {text_col!r} is {what}")
    ids = df[id_col].tolist() if id_col else df.index.tolist()
    for i, id_ in enumerate(ids):  # passage rows are built as text columns, which refuse them
        if isinstance(id_, str) and not id_.isascii():
            try:
                id_.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise DataError(f"row {df.index[i]!r}: the id {id_!r} is not valid Unicode (a lone surrogate at "
                                f"character {exc.start})") from None
    options = LabelOptions(passages=passages, threshold=threshold, top_terms=top_terms, max_words=max_words,
                           keep_text=passages)
    records = []
    for start in range(0, len(texts), chunk_size):
        records.extend(label_records(model, ids[start:start + chunk_size], texts[start:start + chunk_size], options))
    labels = list(model.labels_)
    key = id_col or "id"
    if not records:  # the columns and dtypes of a non-empty result (an empty Dask partition must match)
        score_columns = {f"score_{lab}": pd.Series(dtype="float64") for lab in labels}
        if passages:
            id_dtype = df[id_col].dtype if id_col else df.index.dtype
            head = pd.DataFrame({key: pd.Series(dtype=id_dtype)})
            tail = pd.DataFrame({**{c: pd.Series(dtype="Int64") for c in ("passage", "start", "end")},
                                 "text": pd.Series(dtype=_passage_text_dtype(df[text_col].dtype)),
                                 "labels": pd.Series(dtype=object),
                                 **score_columns, "evidence": pd.Series(dtype=object)})
            return pd.concat([_columns_like(head, df.columns), carried.iloc[:0].reset_index(drop=True),
                              _columns_like(tail, df.columns)], axis=1)
        out = df.iloc[:0].copy()
        for column, empty in {"labels": pd.Series(dtype=object), **score_columns,
                              "evidence": pd.Series(dtype=object)}.items():
            out[_column_key(column, df.columns)] = empty
        return out
    # float64 even when every text of the call is empty (its scores all None): NaN, not object
    scores = pd.DataFrame([r.pop("scores") for r in records], columns=labels, dtype="float64").add_prefix("score_")
    result = pd.DataFrame.from_records(records)
    if passages:
        result = result.rename(columns={"id": key})
        for column in ("passage", "start", "end"):  # <NA> for an article without text
            result[column] = result[column].astype("Int64")
        # ids and texts keep the input's dtypes, as the empty result does (Dask's partitions must agree)
        for column, dtype in ((key, df[id_col].dtype if id_col else df.index.dtype),
                              ("text", _passage_text_dtype(df[text_col].dtype))):
            try:
                result[column] = result[column].astype(dtype)
            except (TypeError, ValueError):
                pass
        evidence = result.pop("evidence")  # last, as at article level
        # an article's passage rows follow each other, numbered from 0 (<NA>: an article without text)
        owners = np.cumsum((result["passage"].fillna(0) == 0).to_numpy()) - 1
        inputs = carried.iloc[owners].reset_index(drop=True)
        return pd.concat([_columns_like(result[[key]], df.columns), inputs,
                          _columns_like(result.drop(columns=[key]), df.columns), _columns_like(scores, df.columns),
                          _columns_like(evidence.to_frame(), df.columns)], axis=1)
    result.index = df.index
    scores.index = df.index
    out = df.copy()
    for name, column in [("labels", result["labels"]), *scores.items(), ("evidence", result["evidence"])]:
        out[_column_key(name, df.columns)] = column
    return out


def _column_key(name, columns: pd.Index):
    """``name`` as a column key beside ``columns``: on MultiIndex columns a full-length tuple,
    ``("labels", "")`` (a shorter key is deprecated by pandas 3.1, and mixed with tuples in a
    plain Index the output's columns could not be selected by level)."""
    if not isinstance(columns, pd.MultiIndex) or (isinstance(name, tuple) and len(name) == columns.nlevels):
        return name
    return (name,) + ("",) * (columns.nlevels - 1)


def _columns_like(frame: pd.DataFrame, columns: pd.Index) -> pd.DataFrame:
    """``frame`` with its columns keyed as :func:`_column_key` keys them beside ``columns``."""
    if isinstance(columns, pd.MultiIndex):
        frame = frame.copy()
        frame.columns = pd.MultiIndex.from_tuples([_column_key(name, columns) for name in frame.columns])
    return frame


def _passage_text_dtype(dtype):
    """The dtype of passage texts cut from texts of ``dtype``: a categorical's categories' (a
    passage is rarely one of the articles, and casting it to them would make it NaN)."""
    return dtype.categories.dtype if isinstance(dtype, pd.CategoricalDtype) else dtype


def _carried_columns(df: pd.DataFrame, text_col: str, id_col: str | None, passages: bool) -> pd.DataFrame:
    """The input columns an output row carries: all of them for article rows; for passage rows
    all but the text (each row holds its passage's) and the id (the rows' key)."""
    if not passages:
        return df
    dropped = np.zeros(len(df.columns), dtype=bool)
    for name in (text_col, id_col):  # by position: a MultiIndex's "text" is ("text", "")
        if name is not None:
            where = df.columns.get_loc(name)
            if isinstance(where, slice):
                dropped[where] = True
            else:
                dropped |= np.asarray(where) if isinstance(where, np.ndarray) else np.arange(len(dropped)) == where
    return df.loc[:, ~dropped]






















def _check_whole_numbers(named, **given) -> None:
    """Each ``name=(value, least)`` is an int (not a bool) >= ``least``; else DataError with ``named(name)``."""
    for name, (value, least) in given.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise DataError(f"{named(name)} must be an integer >= {least}, got {value!r}")










def _records_for_chunk(model, frame: pd.DataFrame, options: LabelOptions) -> tuple[list[dict], int, int]:
    """Label one chunk; every output row carries its article's other input columns. Also
    returns the number of passages and of rows without text."""
    _check_no_clash(frame, output_columns(model.labels_, options.passages))
    ids = frame["id"].tolist()
    records, n_passages, textless = _label(model, ids, frame["text"].tolist(), options)
    carried = [c for c in frame.columns if c not in RESERVED_COLUMNS]
    if options.keep_text and not options.passages:  # passage rows hold their own text
        carried.append("text")
    if not carried:
        return records, n_passages, textless
    extra = frame[carried].astype(object).where(frame[carried].notna(), None).to_dict("records")
    if options.passages:  # an article's passage rows follow each other, numbered from 0 (None: no text)
        owners = np.cumsum([r["passage"] in (0, None) for r in records]) - 1
        extra = [extra[i] for i in owners]
    records = [{"id": r["id"], **e, **{k: r[k] for k in r if k != "id"}} for r, e in zip(records, extra)]
    return records, n_passages, textless


def _reject_clashing_rows(batch, reserved: Sequence[str]):
    """``batch`` with its rows that hold a field the output would overwrite moved to its rejects
    (a JSONL row may have fields no other row has; CSV and Parquet columns are refused up front)."""
    frame = batch.frame
    clashing = [c for c in frame.columns if c in reserved]
    if not clashing:
        return batch
    held = frame[clashing].notna()
    bad = held.any(axis=1).to_numpy()
    rejects = list(batch.rejects)
    for i in np.flatnonzero(bad):
        row, column = frame.iloc[i], held.columns[held.iloc[i].to_numpy()][0]
        rejects.append(Reject(str(row["_source"]), int(row["_line"]), row["id"],
                              f"field {column!r} would be overwritten by the output's {column!r} column; rename it"))
    order = {source: k for k, source in enumerate(batch.sources)}  # the rejects file in input order, whatever
    rejects.sort(key=lambda r: (order.get(r.source, len(order)), r.line or 0))  # the chunk size
    kept = frame.loc[~bad].drop(columns=clashing).reset_index(drop=True)
    return replace(batch, frame=kept, rejects=rejects)


def _process_chunk(model, store: ChunkStore, batch, options: LabelOptions) -> dict:
    batch = _reject_clashing_rows(batch, output_columns(model.labels_, options.passages))
    records, passages, textless = _records_for_chunk(model, batch.frame, options)
    # With --passages, an article without passages (empty text) writes no row, yet is labelled.
    counts = Counter(label for r in records for label in r["labels"])
    keys = list(dict.fromkeys(key for r in records for key in r))
    stats = {"rows_read": batch.rows_read, "labelled": len(batch.frame), "rejected": len(batch.rejects),
             "passages": passages, "label_counts": dict(counts), "keys": keys, "without_text": textless,
             # every record with the chunk's keys, in order: its lines are the JSONL output's as they are
             "uniform_keys": all(len(r) == len(keys) and list(r) == keys for r in records),
             # bounded: a chunk of broken JSON lines has as many reasons as rows
             "reject_reasons": Counter(r.reason for r in batch.rejects).most_common(20),
             # the kinds of the carried values: a column that changes kind between chunks gets one type
             "kinds": {k: sorted(v) for k, v in value_kinds(
                 records, skip=("id",) + output_columns((), options.passages)).items()},
             "infinite": infinite_counts(records, skip=("id",) + output_columns((), options.passages)),
             "id_digests": id_digests(batch.frame["id"].tolist())}
    store.write(batch.index, records, [r.to_dict() for r in batch.rejects], stats)
    return stats


# Worker processes keep the model they were given once, at start.
_WORKER: dict = {}


def _with_estimated_total(batches: Iterator, bar, rows_before: int) -> Iterator:
    """``batches``, setting the progress bar's total as they are read: the rows read so far over
    the share of the inputs' bytes they took (JSONL and CSV rows are not counted up front, which
    would mean reading them twice), so that the bar shows a percentage and the time left."""
    read = rows_before
    for batch in batches:
        read += batch.rows_read
        if batch.input_fraction:
            bar.total = max(round(read / batch.input_fraction), read)
            bar.refresh()
        yield batch


def _worker_started() -> None:
    """In each worker process: leave Ctrl-C to the parent, and end when the parent has gone.

    Ctrl-C reaches every process of the terminal's group; a worker interrupted in the pool's
    queue machinery can leave the parent waiting for ever. The parent stops the pool itself
    (running chunks finish, queued ones are dropped). A parent killed outright (SIGKILL, the
    out-of-memory killer) cannot stop anything: the workers notice they were orphaned.
    """
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the command's handler, which a forked worker inherits
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="threatclf-parent-watch", daemon=True).start()


def _init_worker(model_bytes: bytes) -> None:
    import pickle

    _worker_started()
    _WORKER["model"] = pickle.loads(model_bytes)  # our own in-memory model, handed over by the parent


def _worker_pool(model, n_jobs: int) -> ProcessPoolExecutor:
    """Worker processes that hold the model once each.

    On Linux they are forked from this process after the model's compiled scorer and term
    table are built, so they start at once and share those pages; elsewhere they are spawned
    and receive the model pickled (threatclf's own in-memory object, not a file).
    """
    import multiprocessing
    import pickle

    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        model._fast_scorer()
        model._evidence_terms()
        _WORKER["model"] = model
        return ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("fork"), initializer=_worker_started)
    return ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(pickle.dumps(model),))


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """End the pool's processes at once (they ignore Ctrl-C); their unfinished chunks are redone
    on --resume, as a chunk counts as done only once all its files are written."""
    _terminate_processes(pool)
    pool.shutdown(wait=False, cancel_futures=True)


def _terminate_processes(pool: ProcessPoolExecutor) -> None:
    # no public way before 3.14; a copy, as the pool's own thread may let a process go meanwhile
    for process in list(dict(getattr(pool, "_processes", None) or {}).values()):
        process.terminate()


@contextlib.contextmanager
def _stopped_by_another_interrupt(pool: ProcessPoolExecutor):
    """While the running chunks finish after a Ctrl-C or SIGTERM, another one ends the workers at once.

    A second press raised as KeyboardInterrupt could land anywhere in the stopping code (or as the
    interpreter exits, which waits for the pool): it would stop nothing, and the command would still
    wait for every running chunk. A handler that only ends the processes lands safely anywhere (it
    takes no lock), and the pool's wait ends as they do. The command's own handler is still called,
    so that a SIGTERM is still told apart (exit 143)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():  # handlers are the main thread's
        yield
        return

    def handler(signum, frame) -> None:
        _terminate_processes(pool)
        try:
            kept[signum](signum, frame)
        except KeyboardInterrupt:  # already stopping, for the first one
            pass

    kept = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        # Python's own handlers only: ignored (nohup) stays ignored, the default action (SIGTERM in a
        # script: the end of the process) stays the default, and a handler set outside Python (None,
        # an embedding program's) stays in place
        if callable(current):
            kept[signum] = current
            signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, previous in kept.items():
            signal.signal(signum, previous)


def _worker_chunk(store_folder: str, batch, options: LabelOptions) -> tuple[int, dict]:
    store = ChunkStore.__new__(ChunkStore)
    store.folder = Path(store_folder)
    model = _WORKER["model"]
    model.n_jobs = 1  # this process's copy: one thread per worker process, the pool is the parallelism
    return batch.index, _process_chunk(model, store, batch, options)


def label_files(inputs, output, model=None, *, text_col: str = "text", id_col: str = "id", passages: bool = False,
                threshold=None, top_terms: int = 5, max_words: int = DEFAULT_MAX_WORDS, keep_text: bool = False,
                chunk_size: int = 2000, max_text_chars: int = 1_000_000, n_jobs: int = 1, resume: bool = False,
                restart: bool = False, overwrite: bool = False, rejects=None,
                progress: bool | None = None, csv_sep: str = ",", encoding: str = "utf-8",
                output_csv_sep: str = ",", output_encoding: str = "utf-8",
                escape_formulas: bool = False) -> LabelSummary:
    """Label CSV / JSONL / Parquet files (or folders of .txt files) into ``output``.

    CSV files are separated by ``csv_sep``, and CSV and .txt files read in ``encoding`` (a
    Windows or Excel export may be ``"cp1252"``); JSONL and Parquet are UTF-8 by definition.
    A CSV output is written with ``output_csv_sep`` in ``output_encoding`` (``"utf-8-sig"``
    opens in Excel with every accent intact; a character the encoding lacks stops the writing
    with its row and column, and ``resume=True`` then writes the finished run in another).
    ``escape_formulas=True`` puts a ``'`` before every CSV cell that starts with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return, so that a spreadsheet shows scraped text such as
    ``=HYPERLINK(...)`` instead of running it (the cells then differ from the input's).

    The format of ``output`` follows its extension (``.jsonl[.gz]``, ``.csv[.gz]``,
    ``.parquet``). Bad rows go to ``rejects`` (default ``OUTPUT.rejects.jsonl``) with their
    ``source`` (the file), ``line``, ``id`` and ``reason``. ``resume=True`` continues a killed run with the same inputs,
    model and options, giving the output an uninterrupted run would have given; a run that
    would discard an earlier run's finished chunks needs ``restart=True``. An existing
    ``output`` or rejects file is replaced only with ``overwrite=True`` (or when resuming the
    run that was already replacing them; an explicit ``rejects`` path needs ``overwrite`` even
    then): a finished labelling is not lost to a repeated command.

    The rest are as in :func:`label_dataframe` and ``threatclf label``: ``model`` (a
    :class:`ThreatClassifier`, a model folder, or ``None`` for the bundled model),
    ``text_col`` / ``id_col`` (the input's fields; a row without an id gets ``FILE:LINE``),
    ``passages`` (one row per passage), ``threshold``, ``top_terms``, ``max_words``,
    ``keep_text`` (copy the article's text into its row). ``chunk_size`` input rows make one
    chunk, the unit of resuming and of memory; a text over ``max_text_chars`` characters is
    rejected. ``n_jobs`` worker processes label chunks side by side (``-1``: all cores).
    ``progress`` shows a bar (default: when stderr is a terminal). Returns a
    :class:`LabelSummary` of the rows read, labelled and rejected, per-label counts and speed.

    One run at a time writes an output: a second run on the same ``output`` (a cron job started
    again while the first still runs) is refused while the first holds its lock, the hidden
    file ``.OUTPUT.lock`` beside it; so is a run whose ``rejects`` file another run writes.
    """
    if not isinstance(output, (str, os.PathLike)):
        raise DataError(f"output must be a file path, got {type(output).__name__}")
    # the lock beside the file written: a run naming it through a link is the same run's rival
    with contextlib.ExitStack() as locks:
        written = _written_path(Path(output), "output")
        locks.enter_context(exclusive_run(written))
        named = _written_path(Path(rejects), "rejects file") if isinstance(rejects, (str, os.PathLike)) else None
        if named is not None and os.path.abspath(named) != os.path.abspath(written):  # the same: refused below
            locks.enter_context(exclusive_run(named, "folder of the rejects file"))  # two runs' rejects would
            # overwrite each other
        return _label_files(
            inputs, output, model, text_col=text_col, id_col=id_col, passages=passages, threshold=threshold,
            top_terms=top_terms, max_words=max_words, keep_text=keep_text, chunk_size=chunk_size,
            max_text_chars=max_text_chars, n_jobs=n_jobs, resume=resume, restart=restart, overwrite=overwrite,
            rejects=rejects, progress=progress, csv_sep=csv_sep, encoding=encoding, output_csv_sep=output_csv_sep,
            output_encoding=output_encoding, escape_formulas=escape_formulas)


#: A value of each kind of column, for the columns of an output without rows.
_EXAMPLE_OF_KIND = {"text": "", "int": 0, "float": 0.0, "bool": False}

#: The names a rejects file may take: JSONL, gzipped where the name says so.
REJECTS_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


def _written_path(path: Path, what: str) -> Path:
    """The file ``path`` names: through a symbolic link, the one it points to, which the run writes
    (its folder made, its OUTPUT.partial/ beside it), as a link is followed by any other tool."""
    if not path.is_symlink():
        return path
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(f"{what} {path} is a symbolic link that leads back to itself") from None
    return Path(os.path.realpath(path))  # a link to a file not yet made: that file


def _check_run_settings(paths: list[Path], output, rejects, *, text_col, id_col, chunk_size, max_text_chars, top_terms,
                        max_words, n_jobs, resume, restart, overwrite, output_csv_sep,
                        output_encoding, escape_formulas=False) -> tuple[Path, Path, int]:
    """Refuse settings of a run that cannot work before any file is read or written; return the
    output path, the rejects path and the number of worker processes."""
    output = _written_path(Path(output), "output")
    output_format(output)  # fail early on an unknown extension
    if output.resolve() in {p.resolve() for p in paths if not is_stdin(p)}:
        raise DataError(f"output {output} is also an input")
    from_stdin = any(is_stdin(p) for p in paths)
    if resume and from_stdin:
        raise DataError("a run reading standard input (-) cannot be resumed: its rows are gone once read, and "
                        "whatever comes in now cannot be checked to be the same; label a saved file to be able to "
                        "resume, or start over with --restart (restart=True)")
    rejects_path = _written_path(Path(rejects), "rejects file") if rejects else \
        output.with_name(output.name + ".rejects.jsonl")
    if rejects_path.resolve() in {p.resolve() for p in paths if not is_stdin(p)} | {output.resolve()}:
        raise DataError(f"rejects file {rejects_path} would overwrite an input or the output")
    _check_whole_numbers(option_named, chunk_size=(chunk_size, 1), max_text_chars=(max_text_chars, 1),
                         top_terms=(top_terms, 0), max_words=(max_words, 1))
    if text_col == id_col:
        raise DataError(f"text and id columns must differ (both {text_col!r})")
    check_csv_options(output_csv_sep, output_encoding, names=("output_csv_sep", "output_encoding"))
    if output_format(output) != "csv" and (output_csv_sep, codecs.lookup(output_encoding).name) != (",", "utf-8"):
        raise DataError(f"output {output}: a separator and an encoding can be chosen for CSV output only")
    if escape_formulas and output_format(output) != "csv":
        raise DataError(f"output {output}: formulas are escaped (--escape-formulas) in CSV output only, which "
                        "spreadsheets open")
    if resume and restart:
        raise DataError("resume and restart exclude each other")
    partial = ChunkStore(output).folder
    if rejects_path.resolve() == lock_path_of(output).resolve():
        raise DataError(f"rejects file {rejects_path} is the run's lock file; name another")
    if partial.resolve() in rejects_path.resolve().parents:
        raise DataError(f"rejects file {rejects_path} would be inside {partial}, which a finished run deletes")
    if not rejects_path.name.lower().endswith(REJECTS_SUFFIXES):  # r.parquet would hold JSON lines
        raise DataError(f"rejects file {rejects_path}: rejected rows are written as JSONL, one a line; name it "
                        ".jsonl (or .jsonl.gz to compress it)")
    resuming = resume and partial.exists()
    # Both files are written only at the end, so on a resume they were there before the interrupted
    # run, which had to be told --overwrite (or wrote the rejects itself, just before it was killed);
    # a rejects path it was not given (named, or the default beside the output) still needs it now.
    named = interrupted_rejects(partial) if resuming else None  # None: a run begun before 0.12 named none
    rejects_resumed = resuming and (named == str(rejects_path.resolve()) if named is not None else not rejects)
    for path, what, resumed in ((output, "output", resuming), (rejects_path, "rejects file", rejects_resumed)):
        if path.is_dir():
            raise DataError(f"{what} {path} is a folder: name a file")
        if path.exists() and not (overwrite or resumed):
            hint = (f"; {partial} holds an interrupted run: --resume (resume=True) continues it"
                    if partial.exists() and not (resume or restart) else
                    f"; there is no interrupted run to resume ({partial} is gone: the run that wrote it finished)"
                    if resume and not partial.exists() else "")
            raise DataError(f"{what} {path} already exists: pass --overwrite (overwrite=True) to replace it{hint}")
    if n_jobs == 0:
        raise DataError("n_jobs (--n-jobs) must be a positive number of processes, or negative for all cores but |n|-1, "
                        "got 0")
    if n_jobs < 1:
        n_jobs = max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return output, rejects_path, n_jobs


def _say_where_an_interrupted_run_is(store: ChunkStore, paths: list[Path]) -> None:
    """``resume`` with no run to resume starts from the beginning, as a first run does; when an
    interrupted run of the same inputs waits beside it for another output, say so: resuming it
    there may save hours."""
    named = [os.fspath(path) for path in paths]
    for other in sorted(store.folder.parent.glob(f"*{PARTIAL_SUFFIX}")):
        try:
            same = json.loads((other / "manifest.json").read_text(encoding="utf-8")).get("named") == named
        except (OSError, ValueError, AttributeError):
            continue
        if same and other != store.folder:
            output = other.name[:-len(PARTIAL_SUFFIX)]
            warnings.warn(f"nothing to resume for {store.folder.name[:-len(PARTIAL_SUFFIX)]}, so it is labelled from the "
                          f"start; {other} holds an interrupted run of the same inputs: to continue that one, "
                          f"resume it with its own output ({output})", UserWarning, stacklevel=4)
            return


def _label_files(inputs, output, model, *, text_col, id_col, passages, threshold, top_terms, max_words, keep_text,
                 chunk_size, max_text_chars, n_jobs, resume, restart, overwrite, rejects, progress, csv_sep, encoding,
                 output_csv_sep, output_encoding, escape_formulas) -> LabelSummary:
    """The body of :func:`label_files`, run under its lock."""
    started = time.perf_counter()
    # "-" is standard input; a file or folder named "-" is given as "./-", which Path would shorten to "-"
    paths = [Path(p) if is_stdin(p) or Path(p).parts != ("-",) else Path(os.path.abspath(p))
             for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    if not paths:
        raise DataError("no input files given")
    output, rejects_path, n_jobs = _check_run_settings(
        paths, output, rejects, text_col=text_col, id_col=id_col, chunk_size=chunk_size, max_text_chars=max_text_chars,
        top_terms=top_terms, max_words=max_words, n_jobs=n_jobs, resume=resume, restart=restart, overwrite=overwrite,
        output_csv_sep=output_csv_sep, output_encoding=output_encoding, escape_formulas=escape_formulas)
    # numpy integers pass the checks; the run's manifest is JSON, which takes Python ones
    chunk_size, max_text_chars, top_terms, max_words = map(int, (chunk_size, max_text_chars, top_terms, max_words))
    from_stdin = any(is_stdin(p) for p in paths)
    files = [p for p in paths if not is_stdin(p)]  # standard input is read once, below
    checked = ()
    if files and not isinstance(model, ThreatClassifier):  # a model to load: the files are checked first, as far
        # as they can be without the model's labels (its output columns, which no input column may have: below)
        check_inputs(files, text_col=text_col, id_col=id_col, csv_sep=csv_sep, encoding=encoding,
                     written=(output, rejects_path))
        checked = files
    model = _resolve_model(model)
    check_thresholds(model, threshold)  # before any work
    options = LabelOptions(passages=passages, threshold=plain(threshold), top_terms=top_terms,  # numpy -> JSON
                           max_words=max_words, keep_text=keep_text)
    try:  # "UTF-8" and "utf8" are "utf-8": a resume is not refused over how the name was typed
        encoding_name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        encoding_name = encoding  # refused by check_inputs below
    reader_options = {"text_col": text_col, "id_col": id_col, "chunk_size": chunk_size, "max_text_chars": max_text_chars,
                      "csv_sep": csv_sep, "encoding": encoding_name}
    # Everything that can be known up front fails before a file is written or a row labelled.
    headed = check_inputs(paths, text_col=text_col, id_col=id_col, reserved=output_columns(model.labels_, passages),
                          csv_sep=csv_sep, encoding=encoding, checked=checked, written=(output, rejects_path))
    if output_format(output) == "parquet":
        require("pyarrow.parquet")
    make_folder(output.parent, "output folder")
    make_folder(rejects_path.parent, "folder of the rejects file")
    try:  # written last, so a folder it cannot be written in would waste the whole run (the output's
        # folder is tried at once: OUTPUT.partial/ goes there)
        tempfile.NamedTemporaryFile(dir=rejects_path.parent, prefix=f".{rejects_path.name}.", suffix=".probe").close()
    except OSError as exc:
        raise DataError(f"rejects file {rejects_path} cannot be written: {exc.strerror or exc}") from None
    store = ChunkStore(output)
    if resume and not store.folder.exists():
        _say_where_an_interrupted_run_is(store, paths)
    fingerprint = run_fingerprint(paths, model, reader_options, options, rejects_path)
    done = store.open(fingerprint, resume, restart)
    summary = LabelSummary(resumed_chunks=len(done))

    show = (sys.stderr.isatty() if progress is None else progress)
    from tqdm import tqdm  # a text bar on stderr, also in a notebook (tqdm.auto would want ipywidgets there)

    # Chunks finished before a resume: the leading run of them is skipped without parsing, and the
    # bar starts at their rows (counted as read now, they would make its rate and time left a fiction).
    leading = resumed_rows = 0
    while leading in done:
        resumed_rows += store.stats(leading)["rows_read"]
        leading += 1
    total = count_rows(paths)
    bar = tqdm(total=total, initial=resumed_rows, unit=" rows", disable=not show, dynamic_ncols=True,
               desc="labelling")

    def account(stats: dict) -> None:
        bar.update(stats["rows_read"])

    indices: list[int] = list(range(leading))
    batches = iter_batches(paths, text_col=text_col, id_col=id_col, batch_size=chunk_size,
                           max_text_chars=max_text_chars, skip_batches=leading, csv_sep=csv_sep, encoding=encoding)
    if total is None and show:
        batches = _with_estimated_total(batches, bar, resumed_rows)

    try:
        if n_jobs == 1:
            for batch in batches:
                indices.append(batch.index)
                if batch.index in done:
                    account(store.stats(batch.index))
                    continue
                account(_process_chunk(model, store, batch, options))
        else:
            pool = _worker_pool(model, n_jobs)
            try:
                pending = set()
                for batch in batches:
                    indices.append(batch.index)
                    if batch.index in done:
                        account(store.stats(batch.index))
                        continue
                    pending.add(pool.submit(_worker_chunk, str(store.folder), batch, options))
                    if len(pending) >= 2 * n_jobs:  # bound memory: a few chunks in flight
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            account(future.result()[1])
                for future in pending:
                    account(future.result()[1])
            except BaseException:  # Ctrl-C or an error: drop queued chunks, let running ones finish
                try:
                    with _stopped_by_another_interrupt(pool):
                        pool.shutdown(wait=True, cancel_futures=True)
                except KeyboardInterrupt:  # one landing before the handler was in place
                    _stop_workers(pool)
                    raise
                raise
            pool.shutdown(wait=True)
    except BaseException as exc:  # a data error; an interrupt keeps the folder, for --resume
        # nothing to resume from, or a run that cannot be resumed (standard input): no OUTPUT.partial/
        if from_stdin or (isinstance(exc, Exception) and not store.done()):
            store.remove()
        raise
    finally:
        bar.close()
        _WORKER.clear()

    all_stats = [store.stats(index) for index in indices]
    for index, stats in zip(indices, all_stats):
        if index in done:
            summary.resumed_rows += stats["rows_read"]
            summary.resumed_passages += stats["passages"]
    counts: Counter = Counter()
    reasons: Counter = Counter()
    infinite: Counter = Counter()
    for stats in all_stats:
        infinite.update(stats.get("infinite", {}))  # .get: chunks of a run begun by 0.24 or earlier
        summary.without_text += stats.get("without_text", 0)  # .get: chunks of a run begun by 0.13
        reasons.update(dict(stats.get("reject_reasons", ())))
        summary.rows_read += stats["rows_read"]
        summary.labelled += stats["labelled"]
        summary.rejected += stats["rejected"]
        summary.passages += stats["passages"]
        counts.update(stats["label_counts"])
    summary.label_counts = {lab: counts.get(lab, 0) for lab in model.labels_}
    summary.reject_reasons = dict(reasons.most_common(20))
    summary.infinite_values = dict(infinite)
    digests = np.concatenate([digests_of(stats) for stats in all_stats] or [np.zeros(0, np.uint64)])
    summary.duplicate_ids = int(len(digests) - len(np.unique(digests)))
    if summary.labelled + summary.rejected != summary.rows_read:  # a bug, never a data problem
        raise RuntimeError(f"row accounting failed: {summary.labelled} + {summary.rejected} != {summary.rows_read}")

    changed = [entry["path"] for path, entry, now in zip(paths, fingerprint["inputs"], input_stamps(paths))
               if entry != now and not is_stdin(path)
               and (path.is_file() or path.is_dir())]  # a pipe's time stamp moves as it is read
    if changed:  # rewritten or appended to while it was read: the chunks hold parts of two versions
        raise DataError(f"input {changed[0]} changed while it was being labelled (its size or time stamp differs "
                        f"from the start of the run), so the output would mix its versions; run again with "
                        "--restart (restart=True) once it no longer changes")
    label_names = list(model.labels_)
    # Inputs may gain fields half-way; every output row gets every column (CSV/Parquet need it),
    # the input's before the run's own whatever chunk a field first shows in: one layout at any chunk size
    seen = list(dict.fromkeys(key for stats in all_stats for key in stats["keys"]))
    own = set(output_columns((), passages)) | {"text"}  # the text kept (--keep-text) goes just before the labels
    keys = [key for key in seen if key not in own] + [key for key in seen if key in own]
    scores = {label: 0.0 for label in label_names}
    # no row written (every row rejected, a header alone): the columns the headers and schemas name
    # all the same, so that a day's empty output has the columns of the others
    empty_schema = {"id": "", **{name: _EXAMPLE_OF_KIND[kind] for name, kind in headed.items()},
                    **({"passage": 0, "start": 0, "end": 0} if passages else {}), **({"text": ""} if keep_text else {}),
                    "labels": [], "scores": scores, "evidence": []}
    # Rejects first: an output that exists always comes with its rejects file.
    if summary.rejected or rejects_path.exists():
        # An old output must not outlive the rejects written for a new one (a kill in between
        # would pair them); OUTPUT.partial/ still holds every chunk, so --resume rewrites it.
        output.unlink(missing_ok=True)
        with atomic_path(rejects_path) as tmp, (gzip.open(tmp, "wt", encoding="utf-8")
                                                if rejects_path.name.lower().endswith(".gz")
                                                else open(tmp, "w", encoding="utf-8")) as handle:
            for index in indices:
                for reject in store.read(index, 1):
                    handle.write(json.dumps(reject, ensure_ascii=False) + "\n")
    # passage numbers and offsets are whole numbers even where a first chunk held only empty texts
    kinds: dict[str, set] = {name: {"int"} for name in ("passage", "start", "end")} if passages else {}
    if not summary.labelled:  # the kinds the schemas say, for the columns of an output without rows
        kinds.update({name: {kind} for name, kind in headed.items()})
    for stats in all_stats:
        for key, seen in stats.get("kinds", {}).items():
            kinds.setdefault(key, set()).update(seen)
    try:
        with RecordWriter(output, label_names, empty_schema=empty_schema, column_kinds=kinds,
                          csv_sep=output_csv_sep, encoding=output_encoding, escape_formulas=escape_formulas) as writer, \
                tqdm(total=summary.labelled, unit=" rows", disable=not show, dynamic_ncols=True,
                     desc=f"writing {output.name}") as written:  # the last step of a long run is not silent
            for index, stats in zip(indices, all_stats):
                if writer.format == "jsonl" and stats.get("uniform_keys") and stats["keys"] == keys:
                    writer.write_json_lines(store.read_lines(index))  # what the other way would write, without parsing it
                else:  # every row gets the run's columns, in one order
                    writer.write([{key: record.get(key) for key in keys} for record in store.read(index, 0)])
                written.update(stats["labelled"])
    except DataError as exc:  # a character the output encoding lacks: the labelling itself is kept
        raise DataError(f"{exc}; the labelled rows are kept in {store.folder}: resume (--resume) "
                        "with another output encoding to write them") from None
    try:
        store.remove()
        store.remove_leftovers()
        for path in (output, rejects_path):  # what a run killed while writing them left, as large as them
            remove_stale_temps(path)
    except KeyboardInterrupt:  # the output is complete and in place: "interrupted, --resume" would mislead
        warnings.warn(f"interrupted while tidying up: {output} is complete; what is left of {store.folder.name} "
                      "(a hidden .removing folder beside it) is removed by the next run to it", UserWarning,
                      stacklevel=3)
    summary.output = str(output)
    summary.rejects = str(rejects_path) if summary.rejected else None
    summary.elapsed_s = time.perf_counter() - started
    try:
        _say_closing_notes(summary, paths)
    except KeyboardInterrupt:  # the output is complete: the caller is told so, with the run's summary
        raise InterruptedAfterFinishing(summary) from None
    return summary


class InterruptedAfterFinishing(KeyboardInterrupt):
    """Ctrl-C (or the command's SIGTERM) after a run's output was complete and in place, while
    its closing notes were said; ``summary`` is the finished run's :class:`LabelSummary`."""

    def __init__(self, summary: "LabelSummary"):
        super().__init__()
        self.summary = summary


def _say_closing_notes(summary: "LabelSummary", paths) -> None:
    """The warnings a finished run ends with: repeated ids, infinite values, no rows, rejects."""
    if summary.duplicate_ids:  # said once the output is written: warnings turned into errors lose nothing
        warnings.warn(f"{_rows(summary.duplicate_ids)} an id of an earlier row: the output is not unique by id",
                      UserWarning, stacklevel=4)
    if summary.infinite_values:
        warnings.warn(_infinities(summary.infinite_values), UserWarning, stacklevel=4)
    if not summary.rows_read:  # an empty file is valid JSONL, but an empty output is rarely what was meant
        named = ["standard input" if is_stdin(p) else str(p) for p in paths]
        warnings.warn(f"no input rows: {', '.join(named[:3])}{', ...' if len(named) > 3 else ''} "
                      f"{'holds' if len(named) == 1 else 'hold'} none, so the output holds none", UserWarning,
                      stacklevel=4)
    if summary.rejected:  # no row lost silently, even where the summary is not shown
        why = _why_rejected(summary.rejected, summary.reject_reasons)  # none from chunks of a run begun by 0.13
        warnings.warn(f"{summary.rejected:,} of the {summary.rows_read:,} input rows "
                      f"{'was' if summary.rejected == 1 else 'were'} rejected; {why + '; ' if why else ''}each is in "
                      f"{summary.rejects} with its line and reason", UserWarning, stacklevel=4)

"""Labelled data sets for training and evaluation: texts plus a list of labels per text."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from .exceptions import DataError
from .labels import unknown_label

__all__ = ["load_labelled", "load_labelled_groups", "read_labelled"]


def _parse_labels(value, source: str, row: int) -> list[str]:
    """A label list from JSON/Parquet lists or CSV strings (``a;b`` or ``["a","b"]``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        # a missing field is not "no label": a typo in the field name would make every row a negative
        raise DataError(f"{source} {row}: no labels (write [] for a passage without a label)")
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy / arrow arrays from Parquet
        value = value.tolist()
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                value = json.loads(text)
            except ValueError:
                hint = (" (a Python list, as pandas writes one: write JSON, [\"a\", \"b\"], or a;b)"
                        if "'" in text else "")
                raise DataError(f"{source} {row}: labels {text!r:.60} look like JSON but do not parse"
                                + hint) from None
        else:
            names = [part.strip() for part in text.split(";") if part.strip()]
            joined = next((name for name in names if "," in name or "|" in name), None)
            if joined is not None:  # "a,b" and "a|b" are how other tools join labels; no label holds either
                raise DataError(f"{source} {row}: label {joined!r} holds a {'comma' if ',' in joined else '|'}: "
                                "separate labels with ';' (a;b), or write a JSON list")
            return list(dict.fromkeys(names))  # a name given twice is one label
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise DataError(
            f"{source} {row}: labels must be a list of label names (or 'a;b' in CSV), got {value!r:.60}"
        )
    odd = [name for name in value if name != name.strip() or not name.strip() or any(c in name for c in ",;|")]
    if odd:
        raise DataError(f"{source} {row}: label {odd[0]!r} is not a label name (no ',', ';' or '|' inside, "
                        "no white space around, not empty): give one list item per label")
    return list(dict.fromkeys(value))


def _has_no_rows(path, text_col: str, **csv_options) -> bool:
    from .readers import iter_batches

    try:
        return sum(b.rows_read for b in iter_batches([path], text_col=text_col, **csv_options)) == 0
    except DataError:
        return False


def load_labelled(path, *, text_col: str = "text", labels_col: str = "labels",
                  known_labels=None, csv_sep: str = ",", encoding: str = "utf-8") -> tuple[list[str], list[list[str]]]:
    """Texts and label lists from a JSONL, CSV or Parquet file; any bad row is an error.

    ``known_labels`` (e.g. a model's labels when evaluating it): a label outside them is an
    error naming the file and row. ``csv_sep`` and ``encoding`` as for :func:`threatclf.label_files`.
    """
    texts, labels, _, _ = read_labelled(path, text_col=text_col, labels_col=labels_col, known_labels=known_labels,
                                        csv_sep=csv_sep, encoding=encoding)
    return texts, labels


def load_labelled_groups(path, *, group_col: str, text_col: str = "text", labels_col: str = "labels",
                         known_labels=None, csv_sep: str = ",",
                         encoding: str = "utf-8") -> tuple[list[str], list[list[str]], list[str]]:
    """As :func:`load_labelled`, plus each row's value of ``group_col`` (e.g. its article id),
    read in the same pass; a row without one is an error naming file and line."""
    return read_labelled(path, text_col=text_col, labels_col=labels_col, group_col=group_col,
                         known_labels=known_labels, csv_sep=csv_sep, encoding=encoding)[:3]


def read_labelled(path, *, text_col: str = "text", labels_col: str = "labels", group_col: str | None = None,
                  known_labels=None, csv_sep: str = ",",
                  encoding: str = "utf-8") -> tuple[list[str], list[list[str]], list[str] | None, list[str]]:
    """Texts, label lists, groups (None without ``group_col``) and where each row is in the file
    (``"train.csv: line 5"``; a Parquet record is ``"data.parquet: row 5"``), so later checks can name it."""
    from .readers import read_records

    if Path(path).is_dir():  # a folder of .txt files is something to label, not labelled data
        raise DataError(f"{path} is a folder: labelled data is a JSONL, CSV or Parquet file with a "
                        f"{labels_col!r} column (a folder of .txt files holds no labels)")
    try:
        frame = read_records(path, text_col=text_col, columns=[labels_col] + ([group_col] if group_col else []),
                             strict=True, csv_sep=csv_sep, encoding=encoding)
    except DataError:
        if Path(path).is_file() and _has_no_rows(path, text_col, csv_sep=csv_sep, encoding=encoding):
            raise DataError(f"{path} has no rows: cannot use an empty data set") from None
        raise
    # a CSV or JSONL record is named by its line in the file (a CSV header is line 1), a Parquet one by its row
    source = f"{Path(path)}: {'row' if Path(path).suffix.lower() == '.parquet' else 'line'}"  # as readers say it
    lines = frame["_line"].tolist() if "_line" in frame else list(range(1, len(frame) + 1))
    labels = [_parse_labels(v, source, line) for v, line in zip(frame[labels_col].tolist(), lines)]
    if known_labels is not None:
        known = list(known_labels)
        for names, line in zip(labels, lines):
            unknown = [n for n in names if n not in known]
            if unknown:
                raise DataError(f"{source} {line}: {unknown_label(unknown[0], known)}")
    groups = None
    unit = "row" if Path(path).suffix.lower() == ".parquet" else "line"
    if group_col:
        groups = []
        for value, line in zip(frame[group_col].tolist(), lines):
            if isinstance(value, (list, tuple, dict, set)) or (hasattr(value, "tolist") and not np.isscalar(value)):
                raise DataError(f"{path}: {unit} {line}: group column {group_col!r} holds a "
                                f"{type(value).__name__} {value!r:.60}; a group is one value (an id, a text, a number)")
            if value is None or pd.isna(value) or str(value).strip() == "":  # None, NaN, NaT, pd.NA, blank
                raise DataError(f"{path}: {unit} {line}: no value in group column {group_col!r}")
            groups.append(str(value))
    return frame["text"].tolist(), labels, groups, [f"{source} {line}" for line in lines]

"""Atomic, streaming writers for labelled records: JSONL, CSV and Parquet.

Output is written to a hidden temporary file next to the target and renamed onto it only
when everything has been written and synced, so a crash, an exception or Ctrl-C never
leaves a file that looks complete but is not: the target is either the old file (or
absent) or the whole new one.
"""
from __future__ import annotations

import codecs
import csv
import datetime
import decimal
import errno
import glob
import gzip
import io
import itertools
import json
import math
import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from ._optional import require
from .exceptions import DataError
from .readers import FILE_SUFFIXES, check_csv_options

__all__ = ["atomic_path", "output_format", "flatten_records", "RecordWriter"]

_FORMATS = ("jsonl", "csv", "parquet")
# Level 3: on news text about 2.5 times faster than level 6 (and 8 times faster than
# gzip's own default, 9) for output about 7 % larger.
_GZIP_LEVEL = 3


def output_format(path) -> str:
    """Name the writer for ``path`` from its extension: ``"jsonl"``, ``"csv"`` or ``"parquet"``."""
    name = os.fspath(path).lower()
    for suffix, fmt in FILE_SUFFIXES:
        if name.endswith(suffix):
            return fmt
    raise DataError(
        f"unknown output format for {path}: expected .jsonl or .ndjson (optionally .gz), "
        ".csv (optionally .gz) or .parquet"
    )


# --------------------------------------------------------------------------- atomic files


class _PendingFile:
    """A temporary file that becomes ``target`` on :meth:`commit`, or vanishes on :meth:`discard`."""

    def __init__(self, target):
        # through a symbolic link: the file it points to is replaced, and the link stays one
        self.target = Path(os.path.realpath(target)) if os.path.islink(target) else Path(target)
        if self.target.is_dir():
            raise IsADirectoryError(errno.EISDIR, "output path is a folder", str(self.target))
        if not self.target.parent.is_dir():
            raise FileNotFoundError(
                errno.ENOENT, "output folder does not exist", str(self.target.parent))
        self.temp = self._reserve()

    def _reserve(self) -> Path:
        # O_EXCL so two writers never share a temp file; mode 0o666 so the umask applies,
        # as for any normally created file (mkstemp would leave it private, 0o600).
        while True:
            candidate = self.target.with_name(
                f".{self.target.name}.{secrets.token_hex(4)}.partial")
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            return candidate

    def commit(self) -> None:
        """Sync the data, then atomically replace the target, then sync the folder entry."""
        try:
            fd = os.open(self.temp, os.O_RDWR)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self.temp, self.target)
        except BaseException:
            self.discard()
            raise
        if os.name == "posix":
            try:
                fd = os.open(self.target.parent, os.O_RDONLY)
            except OSError:
                return
            try:
                os.fsync(fd)
            except OSError:  # some file systems refuse fsync on folders; the rename stands
                pass
            finally:
                os.close(fd)

    def discard(self) -> None:
        """Remove the temporary file; the target is left as it was."""
        try:
            os.unlink(self.temp)
        except FileNotFoundError:
            pass


def remove_stale_temps(path) -> list[Path]:
    """Remove the temporary files a killed writer of ``path`` left beside it; return them.

    Call it once ``path`` has been written: the temporary files then left for it are not in
    use (a run killed mid-write cannot clean up after itself).
    """
    path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)  # as _PendingFile writes it
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{8}}\.partial")
    stale = [p for p in path.parent.glob(f".{glob.escape(path.name)}.*.partial") if pattern.fullmatch(p.name)]
    for temp in stale:
        temp.unlink(missing_ok=True)
    return stale


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield a temporary path in the folder of ``path``; on success it replaces ``path``.

    On an exception (including KeyboardInterrupt) the temporary file is removed and
    ``path`` is left untouched. Same folder, so the final ``os.replace`` is atomic.
    """
    pending = _PendingFile(path)
    try:
        yield pending.temp
    except BaseException:
        pending.discard()
        raise
    pending.commit()


# --------------------------------------------------------------------------- values


def _json_value(value: Any) -> Any:
    """``value`` made of JSON types only: numpy scalars unwrapped, NaN/NA/NaT to ``None``."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_json_value(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _json_value(value.item())
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):  # pd.Timedelta too: ISO 8601 duration
        return pd.Timedelta(value).isoformat()
    if isinstance(value, decimal.Decimal):  # its exact text: a float would round 12345678901234567.89
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):  # binary columns: base64 text
        import base64

        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, str):  # subclasses, e.g. string enums
        return str(value)
    if isinstance(value, (int, float)):
        return _json_value(float(value) if isinstance(value, float) else int(value))
    raise TypeError(f"cannot write a value of type {kind.__name__} as JSON")


def _as_text(value: Any) -> str:
    """A JSON-typed value as one text cell: strings as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _json_line(record: dict) -> str:
    return json.dumps(_json_value(record), ensure_ascii=False, allow_nan=False) + "\n"


def _is_nested(value: Any) -> bool:
    return isinstance(value, (list, tuple, dict, np.ndarray))


def _is_null(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and math.isnan(value))


def _join_labels(value: Any) -> Any:
    if _is_nested(value) and not isinstance(value, dict):
        return ";".join(str(v) for v in value)
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"'labels' must be a list of label names, got {type(value).__name__}")


def _whole_numbers_with_gaps(values: list) -> str | None:
    """``"Int64"`` if the values are integers (not booleans) within int64 and missing values,
    some of each; ``"object"`` for such a mix holding an integer beyond int64 (kept exact, as
    Python ints); else None."""
    seen_int = seen_null = beyond = False
    for v in values:
        if _is_null(v):
            seen_null = True
        elif isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
            seen_int = True
            beyond = beyond or not -2**63 <= v < 2**63
        else:
            return None
    if not (seen_int and seen_null):
        return None
    return "object" if beyond else "Int64"


def _ints_beside_floats(values: list) -> bool:
    """Whether the values are numbers, whole (not booleans) and fractional side by side, with
    perhaps missing values: kept as written (CSV) rather than all made floats."""
    kinds = {"int" if isinstance(v, (int, np.integer)) else "float" if isinstance(v, (float, np.floating)) else "other"
             for v in values if not _is_null(v) and not isinstance(v, (bool, np.bool_))}
    return kinds == {"int", "float"} and not any(isinstance(v, (bool, np.bool_)) for v in values)


def flatten_records(records: list[dict], label_names: Sequence[str]) -> pd.DataFrame:
    """Make records tabular for CSV and Parquet.

    ``labels`` (a list) becomes one ``";"``-joined string; ``scores`` (a dict) becomes one
    float column ``score_<label>`` per label, in ``label_names`` order; any other list- or
    dict-valued field becomes a JSON string. Columns keep the order they first appear in.
    """
    label_names = list(label_names)
    names = dict.fromkeys(itertools.chain.from_iterable(records))
    columns: dict[str, Any] = {}
    for name in names:
        values = [record.get(name) for record in records]
        if name == "labels":
            columns[name] = [_join_labels(v) for v in values]
        elif name == "scores":
            for label in label_names:
                column = f"score_{label}"
                if column in names:
                    raise DataError(f"records hold both 'scores' and {column!r}")
                columns[column] = np.array(
                    [np.nan if _is_null(v) or _is_null(v.get(label, None)) else float(v[label])
                     for v in values], dtype=np.float64)
            unknown = {k for v in values if isinstance(v, dict) for k in v} - set(label_names)
            if unknown:
                raise DataError(
                    f"'scores' hold labels not in label_names: {sorted(map(str, unknown))}")
        elif _whole_numbers_with_gaps(values):
            # A missing value (an article without text, a null in the input) must not turn
            # whole numbers into floats: 12345678901234567 would come out as 1.2345678901234568e+16.
            whole = [None if _is_null(v) else int(v) for v in values]
            columns[name] = (pd.array(whole, dtype="Int64") if _whole_numbers_with_gaps(values) == "Int64"
                             else np.array(whole, dtype=object))
        elif _ints_beside_floats(values):  # a float column would write 7 as 7.0, and round 12345678901234567
            columns[name] = np.array([None if _is_null(v) else v for v in values], dtype=object)
        elif any(_is_nested(v) for v in values):
            columns[name] = [
                json.dumps(_json_value(v), ensure_ascii=False) if _is_nested(v) else v
                for v in values]
        else:
            columns[name] = values
    return pd.DataFrame(columns, index=pd.RangeIndex(len(records)))


# --------------------------------------------------------------------------- sinks


def _open_text(temp: Path, target: Path, encoding: str = "utf-8") -> tuple[io.TextIOWrapper, Any]:
    """A text stream (UTF-8 unless told) onto ``temp``, gzip-compressed when ``target`` ends in .gz."""
    raw = open(temp, "wb")
    binary = raw
    if target.name.lower().endswith(".gz"):
        # Name the target (not the temp file) in the gzip header; mtime=0 keeps the
        # output reproducible.
        binary = gzip.GzipFile(filename=target.name, mode="wb", fileobj=raw,
                               compresslevel=_GZIP_LEVEL, mtime=0)
    return io.TextIOWrapper(binary, encoding=encoding, newline="\n"), raw


class _JsonlSink:
    def __init__(self, temp: Path, target: Path):
        self._text, self._raw = _open_text(temp, target)

    def write(self, records: list[dict]) -> None:
        self._text.write("".join(_json_line(r) for r in records))

    def write_lines(self, lines: str) -> None:
        self._text.write(lines)

    def close(self) -> None:
        try:
            self._text.close()
        finally:
            self._raw.close()


#: How a cell a spreadsheet would run as a formula starts (OWASP's list for CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


_PLAIN_NUMBER = re.compile(r"[+-](?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def escape_formula(value):
    """``value`` with a ``'`` before it when it is text a spreadsheet would take for a formula
    (a number such as ``-0.4``, read from a CSV input as text, is left a number)."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if value[0] in "+-" and _PLAIN_NUMBER.fullmatch(value):  # not "-inf", "-nan", "+1_000": float() takes them
        return value
    return "'" + value


class _CsvSink:
    def __init__(self, temp: Path, target: Path, label_names: Sequence[str], sep: str = ",", encoding: str = "utf-8",
                 escape_formulas: bool = False):
        self._text, self._raw = _open_text(temp, target, encoding)
        self._target, self._sep, self._encoding = target, sep, encoding
        self._escape = escape_formulas
        self._label_names = label_names
        self._columns: list[str] | None = None

    def write(self, records: list[dict]) -> None:
        if not records:
            return
        frame = flatten_records(records, self._label_names)
        if self._escape:
            frame = self._escaped(frame)
        if self._columns is None:
            self._columns = list(frame.columns)
            header = True
        else:
            frame = _conform(frame, self._columns)
            header = False
        # The csv module quotes a field holding the delimiter, a quote or "\n", but not a bare
        # "\r", which readers take for a line end; a batch with one quotes all its text fields.
        carriage_return = (header and any("\r" in str(c) for c in frame.columns)) or any(
            isinstance(v, str) and "\r" in v for c in frame.columns if frame[c].dtype.kind not in "biufcmM"
            for v in frame[c])
        self._to_csv(frame, header, csv.QUOTE_NONNUMERIC if carriage_return else csv.QUOTE_MINIMAL)

    @staticmethod
    def _escaped(frame: pd.DataFrame) -> pd.DataFrame:
        """Text cells and column names that would run as formulas, escaped (numbers are left: -3 is a number)."""
        names = [escape_formula(name) for name in frame.columns]
        clash = next((name for name in names if names.count(name) > 1), None)
        if clash is not None:
            raise DataError(f"columns {[c for c, n in zip(frame.columns, names) if n == clash]} would both be "
                            f"written as {clash!r} once escaped (--escape-formulas); rename one")
        frame = frame.set_axis(names, axis=1)
        for column in frame.columns:
            if frame[column].dtype.kind not in "biufcmM":
                frame[column] = frame[column].map(escape_formula)
        return frame

    def write_empty(self, frame: pd.DataFrame) -> None:
        """The header alone, for an output without rows."""
        if self._escape:
            frame = self._escaped(frame)
        if self._columns is None:
            self._columns = list(frame.columns)
            self._to_csv(frame, True, csv.QUOTE_ALL if any("\r" in str(c) for c in frame.columns) else csv.QUOTE_MINIMAL)

    def _to_csv(self, frame: pd.DataFrame, header: bool, quoting: int) -> None:
        try:
            frame.to_csv(self._text, sep=self._sep, header=header, index=False, lineterminator="\n", quoting=quoting)
        except UnicodeEncodeError:  # the whole output is dropped: say which cell, then stop
            self._name_unwritable(frame, header)
            raise

    def _name_unwritable(self, frame: pd.DataFrame, header: bool) -> None:
        """DataError naming the row and column of the first character the encoding has no bytes for."""
        cells = [("header", None, str(c)) for c in frame.columns] if header else []
        text_columns = [c for c in frame.columns if frame[c].dtype.kind not in "biufcmM"]
        for column in text_columns:
            for row, value in enumerate(frame[column]):
                if isinstance(value, str):
                    cells.append((row, column, value))
        for row, column, value in cells:
            try:
                value.encode(self._encoding)
            except UnicodeEncodeError as exc:
                char = value[exc.start]
                where = "the header" if row == "header" else (
                    f"the row of id {frame['id'].iloc[row]!r}, column {column!r}" if "id" in frame else
                    f"row {row}, column {column!r}")
                raise DataError(f"{self._target}: {where} holds {char!r} (U+{ord(char):04X}), which {self._encoding} "
                                "cannot write; write utf-8, or utf-8-sig, which Excel reads") from None

    def close(self) -> None:
        try:
            self._text.close()
        finally:
            self._raw.close()


def _conform(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Columns as in the first batch; a column the first batch did not have is an error."""
    new = [c for c in frame.columns if c not in columns]
    if new:
        raise DataError(
            f"records have columns {new} that the first batch did not have; CSV and Parquet "
            "fix their columns at the first write (JSONL does not)"
        )
    return frame.reindex(columns=columns)


def value_kinds(records: list[dict], skip: Sequence[str] = ()) -> dict[str, set[str]]:
    """Per field, the kinds of its non-null values as written: bool, int, float or text
    (strings, and lists or dicts, which CSV and Parquet store as JSON text)."""
    kinds: dict[str, set[str]] = {}
    for record in records:
        for key, value in record.items():
            if key in skip:
                continue
            value = _json_value(value)
            if value is None:
                continue
            kind = type(value)
            kinds.setdefault(key, set()).add(
                "bool" if kind is bool else "float" if kind is float
                else "int" if kind is int and -2**63 <= value < 2**63  # beyond int64: text
                else "text")
    return kinds


def infinite_counts(records: list[dict], skip: Sequence[str] = ()) -> dict[str, int]:
    """Per field, the records whose value is or holds ±Infinity (a JSONL ``Infinity`` or ``1e400``,
    a Parquet ``inf``), which the output writes as null: JSON, which every output row passes
    through, has no such number. (A NaN is written as null too, but says "missing", as pandas
    writes it; a Parquet null and NaN are one value once read.)"""
    counts: dict[str, int] = {}
    for record in records:
        for key, value in record.items():
            if key not in skip and _holds_infinity(value):
                counts[key] = counts.get(key, 0) + 1
    return counts


def _holds_infinity(value: Any) -> bool:
    if isinstance(value, (float, np.floating)):
        return math.isinf(value)
    if isinstance(value, dict):
        return any(_holds_infinity(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_infinity(v) for v in value)
    if isinstance(value, np.ndarray):
        return bool(np.isinf(value).any()) if value.dtype.kind == "f" else any(_holds_infinity(v) for v in value.tolist())
    return False


def parquet_types(column_kinds: dict) -> dict[str, str]:
    """Each column's one Parquet kind from the kinds of all its values: ``float`` for ints
    with floats, ``text`` for any other mix, else the single kind — so that the schema does
    not depend on which values the first batch happened to hold."""
    types = {}
    for name, kinds in column_kinds.items():
        kinds = set(kinds)
        if len(kinds) == 1:
            types[name] = kinds.pop()
        elif kinds:
            types[name] = "float" if kinds == {"int", "float"} else "text"
    return types


class _ParquetSink:
    def __init__(self, temp: Path, label_names: Sequence[str], types: dict | None = None):
        self._pa = require("pyarrow")
        self._pq = require("pyarrow.parquet")
        self._temp = temp
        self._types = types or {}
        self._label_names = label_names
        self._writer = None
        self._schema = None

    def _array(self, values: pd.Series):
        pa = self._pa
        wanted = self._types.get(values.name)
        if wanted == "float":
            return pa.array([None if _is_null(v) else float(v) for v in values], type=pa.float64())
        if wanted == "text":
            return self._text_array(values)
        if wanted in ("int", "bool"):
            convert, kind = (int, pa.int64()) if wanted == "int" else (bool, pa.bool_())
            return pa.array([None if _is_null(v) else convert(v) for v in values], type=kind)
        try:
            return pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed types; ints beyond int64
            return self._text_array(values)

    def _text_array(self, values: pd.Series):
        """Each value as text: strings as they are, anything else as JSON."""
        return self._pa.array(
            [None if _is_null(v) else v if isinstance(v, str) else _as_text(_json_value(v))
             for v in values],
            type=self._pa.large_string())

    def _first_schema(self, frame: pd.DataFrame, arrays: list):
        """Schema fixed by the first batch; an all-null column is declared as text.

        An all-null column has no type of its own (Arrow would say ``null``, or ``double``
        for NaN), and later batches could not be cast to it.
        """
        pa = self._pa
        fields = []
        for name, array in zip(frame.columns, arrays):
            kind = array.type
            if name.startswith("score_") and name[6:] in self._label_names:
                kind = pa.float64()
            elif name in self._types:
                kind = {"text": pa.large_string(), "float": pa.float64(), "int": pa.int64(),
                        "bool": pa.bool_()}[self._types[name]]
            elif name == "_line":
                kind = pa.int64()
            elif array.null_count == len(array) or pa.types.is_null(kind):
                kind = pa.large_string()
            fields.append(pa.field(str(name), kind))
        return self._with_pandas_dtypes(pa.schema(fields))

    def _with_pandas_dtypes(self, schema):
        """``schema`` with the pandas metadata that reads its integer and bool columns back as
        nullable ``Int64`` and ``boolean``, as ``label_dataframe`` gives them: without it, one
        null (an article without text has no passage offsets) makes pandas read a whole integer
        column as float, and ``text[start:end]`` fails."""
        pa = self._pa
        try:
            empty = schema.empty_table().to_pandas()
            for field in schema:
                if pa.types.is_integer(field.type) or pa.types.is_boolean(field.type):
                    empty[field.name] = empty[field.name].astype("Int64" if pa.types.is_integer(field.type) else "boolean")
            return schema.with_metadata(pa.Schema.from_pandas(empty, preserve_index=False).metadata)
        except (pa.ArrowException, TypeError, ValueError):  # a column pandas has no dtype for: read as pyarrow says
            return schema

    def write(self, records: list[dict]) -> None:
        if not records:
            return
        pa = self._pa
        frame = flatten_records(records, self._label_names)
        if self._schema is None:
            arrays = [self._array(frame[c]) for c in frame.columns]
            self._schema = self._first_schema(frame, arrays)
            self._writer = self._pq.ParquetWriter(self._temp, self._schema)
        else:
            frame = _conform(frame, self._schema.names)
            arrays = [self._array(frame[c]) for c in frame.columns]
        arrays = [self._cast(a, f) for a, f in zip(arrays, self._schema)]
        table = pa.Table.from_arrays(arrays, schema=self._schema)
        self._writer.write_table(table, row_group_size=len(table))

    def _cast(self, array, field):
        pa = self._pa
        if array.type == field.type:
            return array
        if array.null_count == len(array):
            return pa.nulls(len(array), type=field.type)
        try:
            return array.cast(field.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
            raise DataError(
                f"column {field.name!r} was first written as {field.type}; this batch holds "
                f"{array.type} values that cannot be converted ({exc})"
            ) from exc

    def write_empty(self, frame: pd.DataFrame) -> None:
        """A file with the columns and no row group, for an output without rows."""
        if self._writer is None:
            pa = self._pa
            kinds = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}
            fields = [pa.field(c, pa.float64() if c.startswith("score_") else
                               pa.int64() if c in ("passage", "start", "end") else
                               kinds.get(self._types.get(c), pa.large_string()))
                      for c in frame.columns]
            self._schema = self._with_pandas_dtypes(pa.schema(fields))
            self._writer = self._pq.ParquetWriter(self._temp, self._schema)

    def close(self) -> None:
        if self._writer is None:  # nothing written: still a valid, empty Parquet file
            self._pq.write_table(self._pa.table({}), self._temp)
        else:
            self._writer.close()


# --------------------------------------------------------------------------- public writers


class RecordWriter:
    """Stream batches of labelled records into one file, which appears only when complete.

    The format comes from the extension (see :func:`output_format`) unless ``fmt`` is
    given; ``.gz`` compresses JSONL and CSV. JSONL keeps nested fields as JSON; CSV and
    Parquet get :func:`flatten_records`, with their columns (and Parquet types) fixed by
    the first non-empty batch. Each ``write`` is one Parquet row group. ``column_kinds``
    (column -> the :func:`value_kinds` of all its values, when known before writing) gives
    each Parquet column its type from all batches, not the first: integers with floats are
    float, other mixes text, and a column empty in the first batch still gets its own type.

    Use it as a context manager: leaving the block normally commits, an exception
    discards. Outside a ``with`` block, call :meth:`close` (commit) or :meth:`abort`.
    """

    def __init__(self, path, label_names: Sequence[str], fmt: str | None = None, *,
                 empty_schema: dict | None = None, column_kinds: dict | None = None,
                 csv_sep: str = ",", encoding: str = "utf-8", escape_formulas: bool = False):
        self.path = Path(path)
        self.label_names = list(label_names)
        # A record whose keys (and value kinds) give CSV/Parquet their columns when no row at
        # all is written, so that an empty output still has a header.
        self.empty_schema = empty_schema
        self.format = output_format(path) if fmt is None else fmt
        if self.format not in _FORMATS:
            raise ValueError(f"fmt must be one of {_FORMATS}, got {fmt!r}")
        if self.format == "parquet":
            require("pyarrow.parquet")  # fail before creating any file
        check_csv_options(csv_sep, encoding)
        if self.format != "csv" and (csv_sep, codecs.lookup(encoding).name) != (",", "utf-8"):
            raise DataError(f"{self.path}: a separator and an encoding can be chosen for CSV output only")
        if self.format != "csv" and escape_formulas:
            raise DataError(f"{self.path}: formulas are escaped in CSV output only")
        self.rows_written = 0
        self._pending = _PendingFile(self.path)
        try:
            if self.format == "jsonl":
                self._sink = _JsonlSink(self._pending.temp, self.path)
            elif self.format == "csv":
                self._sink = _CsvSink(self._pending.temp, self.path, self.label_names, csv_sep, encoding,
                                      escape_formulas)
            else:
                self._sink = _ParquetSink(self._pending.temp, self.label_names, parquet_types(column_kinds or {}))
        except BaseException:
            self._pending.discard()
            raise
        self._open = True

    def write(self, records: list[dict]) -> None:
        """Append ``records``; an error here discards the whole output."""
        self._append(self._sink.write, records, len(records))

    def write_json_lines(self, lines: str) -> None:
        """Append records already written as this writer writes them, one JSON object a line
        (JSONL output only): a finished chunk copied through rather than parsed and written anew."""
        if self.format != "jsonl":
            raise ValueError(f"RecordWriter for {self.path}: JSON lines are copied into JSONL output only")
        self._append(self._sink.write_lines, lines, lines.count("\n"))

    def _append(self, write, what, rows: int) -> None:
        if not self._open:
            raise ValueError(f"RecordWriter for {self.path} is closed")
        try:
            write(what)
        except BaseException:
            self.abort()
            raise
        self.rows_written += rows

    def close(self) -> None:
        """Finish the file and move it into place. Calling it again does nothing."""
        if not self._open:
            return
        self._open = False
        try:
            if self.rows_written == 0 and self.empty_schema is not None and self.format != "jsonl":
                self._sink.write_empty(flatten_records([self.empty_schema], self.label_names).iloc[:0])
            self._sink.close()
        except BaseException:
            self._pending.discard()
            raise
        self._pending.commit()

    def abort(self) -> None:
        """Drop everything written; the target is left as it was."""
        if not self._open:
            return
        self._open = False
        try:
            self._sink.close()
        except Exception:  # noqa: BLE001 - the file is being thrown away anyway
            pass
        finally:
            self._pending.discard()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __repr__(self) -> str:
        return f"RecordWriter({str(self.path)!r}, format={self.format!r})"

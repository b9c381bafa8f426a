"""Streaming readers for batch labelling: every input row becomes a record or a reject.

Inputs are JSON Lines (``.jsonl``, ``.ndjson``, optionally ``.gz``), CSV (``.csv``,
optionally ``.gz``), Parquet (``.parquet``, ``.pq``) or a folder of ``.txt`` files. They are
read in batches so that memory stays bounded whatever the size of a file, and a row that
cannot be used is never dropped silently: it comes back as a :class:`Reject` that says
where it was and why.

Batching is by *input rows*: batch ``k`` holds rows ``[k * batch_size, (k + 1) *
batch_size)`` of all inputs read one after the other, good and rejected rows alike. Batches
may span two files. This makes the cut independent of the content, so a run that stops
after batch ``k`` can resume with ``skip_batches=k + 1`` and see exactly the same batches.

What counts as a row:

- JSONL: one non-blank physical line. A line holding only whitespace is not a record:
  it is neither counted nor rejected, but line numbers stay physical.
- CSV: one record after the header (it may span several physical lines when a quoted
  field holds newlines). A completely empty line is skipped like a blank JSONL line.
- Parquet: one table row.
- txt folder: one ``*.txt`` file anywhere below the folder, in order of relative path.
"""
from __future__ import annotations

import codecs
import csv
import decimal
import gzip
import io
import itertools
import json
import logging
import math
import os
import re
import sys
import warnings
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from ._optional import require
from .exceptions import DataError

__all__ = [
    "Reject",
    "RecordBatch",
    "detect_format",
    "check_inputs",
    "iter_batches",
    "read_records",
    "count_rows",
]

logger = logging.getLogger("threatclf")

#: Columns of every record frame that the reader makes itself.
RESERVED_COLUMNS = ("id", "text", "_source", "_line")

#: File name endings and the table format each stands for (shared with the writers).
FILE_SUFFIXES = (
    (".jsonl.gz", "jsonl"),
    (".ndjson.gz", "jsonl"),
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
    (".csv.gz", "csv"),
    (".csv", "csv"),
    (".parquet", "parquet"),
    (".pq", "parquet"),
)

#: How much of a JSON line too long to read is kept, to find its id at its start.
_ID_PEEK_BYTES = 4096

# A JSON line can be longer than its text (escapes, other fields), so the cap on a line is
# generous; it only exists so that one pathological line cannot exhaust memory. 12 bytes is
# the longest a character can be written: json.dumps's default escapes an emoji as \ud83d\ude00.
_LINE_BYTES_PER_CHAR = 12
_LINE_BYTES_SLACK = 1 << 16
# CSV fields may exceed max_text_chars (they are then rejected), up to this factor; beyond
# it the file is taken as broken (typically an unclosed quote swallowing the rest).
_CSV_FIELD_FACTOR = 8
_CSV_DEFAULT_FIELD_LIMIT = 131_072

_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)
_MISSING = object()


@dataclass(frozen=True)
class Reject:
    """An input row that could not become a record, and why."""

    source: str
    line: int | None
    id: str | None
    reason: str

    def to_dict(self) -> dict:
        """Plain dict, ready for JSON."""
        return asdict(self)


@dataclass
class RecordBatch:
    """The records and rejects of one consecutive run of input rows."""

    index: int
    frame: pd.DataFrame
    rejects: list[Reject] = field(default_factory=list)
    #: The inputs the batch's rows come from, in the order read (as ``Reject.source`` names them).
    sources: tuple[str, ...] = ()
    #: The share of the inputs' bytes read once this batch was (compressed bytes of a .gz file),
    #: from which a progress bar estimates the rows of inputs whose count is not known up front;
    #: None where an input is not a file of known size (standard input, a folder).
    input_fraction: float | None = None

    @property
    def rows_read(self) -> int:
        """Input rows this batch covers: good records plus rejects."""
        return len(self.frame) + len(self.rejects)


# --------------------------------------------------------------------------- formats


#: Why a JSONL row whose bytes are not UTF-8 is rejected (JSON is UTF-8), and the fix.
NOT_UTF8 = "undecodable bytes (not UTF-8: re-save the file as UTF-8, e.g. iconv -f cp1252 -t utf-8)"
#: The same for a CSV or .txt file, which may be read in another encoding: Excel and Windows
#: programs often save Windows-1252.
NOT_UTF8_TEXT = ("undecodable bytes (not UTF-8; a file saved by Excel or Windows is often Windows-1252: "
                 "pass --encoding cp1252 (encoding='cp1252'), unless its other rows hold UTF-8 accents (files "
                 "in two encodings joined): then re-save these rows as UTF-8)")


def _encoding_hint(path, encoding: str) -> str:
    """Which ``--encoding`` a file whose start does not decode in ``encoding`` probably needs
    ("" when that is the one in use)."""
    start = _start_of(path)
    if start is None:
        return ""
    hint = _utf16_hint(start, encoding)
    if hint is not None:
        return hint
    if codecs.lookup(encoding).name == "cp1252":
        return ""
    return " (a file saved by Excel or Windows is often Windows-1252: pass --encoding cp1252)"


def _shortened(names: list, limit: int = 300) -> str:
    """A header for a message: a file read in the wrong encoding can make its whole start one name."""
    shown = repr(names)
    return shown if len(shown) <= limit else shown[:limit] + " ...]"


def _start_of(path, size: int = 4096) -> bytes | None:
    try:
        with _open_binary(path) as handle:
            return handle.read(size)
    except (OSError, *_GZIP_ERRORS):
        return None


#: ASCII characters of a CSV file's structure: in UTF-16 each is one byte beside a zero byte.
_CSV_STRUCTURE = frozenset(b"\n\r,;\t|\"")


#: Printable ASCII, tab and line ends: what a plain-text file in a Latin alphabet is mostly made
#: of, in UTF-16 each beside a zero byte.
_TXT_STRUCTURE = frozenset(b"\t\n\r") | frozenset(range(0x20, 0x7f))


def _utf16_hint(start: bytes, encoding: str, structure: frozenset = _CSV_STRUCTURE) -> str | None:
    """The ``--encoding`` hint for a file that is UTF-16 ("" when ``encoding`` reads it), or
    None when it does not look like UTF-16. Without a byte-order mark, the byte order is read
    from where the zero byte sits beside the characters of ``structure``: by default the CSV's
    line ends and separators, which are ASCII even in Chinese or Russian text."""
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "" if _encoding_family(encoding) == "utf-16" else \
            " (it looks like UTF-16, as Excel's Unicode text export: pass --encoding utf-16)"
    pairs = [start[i:i + 2] for i in range(0, len(start) - 1, 2)]
    little = sum(1 for pair in pairs if pair[1] == 0 and pair[0] in structure)
    big = sum(1 for pair in pairs if pair[0] == 0 and pair[1] in structure)
    if max(little, big) < 2 or min(little, big) * 4 > max(little, big):
        return None
    order = "le" if little > big else "be"
    if codecs.lookup(encoding).name == f"utf-16-{order}":
        return ""
    return f" (it looks like UTF-16 without a byte-order mark: pass --encoding utf-16-{order}; plain utf-16 needs the mark)"


#: How much of a CSV or .txt file read in a one-byte encoding is looked at for UTF-8 text.
_UTF8_SNIFF_BYTES = 1 << 18


def utf8_read_as_other(path, encoding: str) -> tuple[str, str] | None:
    """How a file to be read in another encoding would be garbled, when it looks like UTF-8:
    ``("utf-8", "café -> cafÃ©")`` for its first non-ASCII word; ``("mixed", ...)`` when its start
    holds UTF-8 characters beside bytes that are not UTF-8 (files in two encodings joined, so
    no one encoding reads it whole); else None.

    One-byte encodings (cp1252, latin-1) decode any bytes, and others (gb18030) most, so a UTF-8
    file read in one is garbled without an error. Accented text in another encoding almost never
    forms valid UTF-8 sequences, so a start whose non-ASCII bytes all do is taken for UTF-8. A
    start the encoding cannot decode is not garbled silently: its rows are rejected, and said."""
    if _encoding_family(encoding) in ("utf-8", "utf-16", "utf-32") or is_stdin(path):
        return None
    files = [Path(path)] if not os.path.isdir(path) else itertools.islice(txt_files(Path(path)), 20)
    for file in files:
        try:
            with _open_binary(file) as handle:
                start = handle.read(_UTF8_SNIFF_BYTES)
        except (OSError, *_GZIP_ERRORS):
            continue  # reading it says what is wrong
        if start.isascii():
            continue
        if any(start.startswith(mark) for mark, _ in _BOMS):
            return None  # refused as the encoding its mark names (bom_conflict)
        try:  # a character cut at the end of the sample is not an error
            codecs.getincrementaldecoder(encoding)().decode(start, final=False)
        except UnicodeDecodeError:
            return None
        try:
            text, kind = codecs.getincrementaldecoder("utf-8")().decode(start, final=False), "utf-8"
        except UnicodeDecodeError:
            if not _UTF8_SEQUENCE.search(start):
                return None  # not UTF-8 at all: the encoding given
            text, kind = start.decode("utf-8", "replace"), "mixed"
        word = next((token for token in re.findall(r"\w+", text) if not token.isascii()), None)
        if word is None:  # only non-ASCII spaces or marks (U+00A0, quotes): shown by their code
            word = next((char for char in text if not char.isascii() and char != "\ufffd"), None)
            if word is None:
                return None
            return kind, f"{ascii(word)} -> {ascii(word.encode('utf-8').decode(encoding, 'replace'))}"
        return kind, f"{word[:40]} -> {word[:40].encode('utf-8').decode(encoding, 'replace')}"
    return None


#: A character of two to four bytes, as UTF-8 writes it: in text of a one-byte encoding such runs
#: ("Ã©") are all but unknown.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


#: Encodings whose decoders leave a byte-order mark in the text (utf-8-sig, utf-16 and utf-32 take it off).
_KEEP_THEIR_MARK = ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")


def _encoding_family(encoding: str) -> str:
    """``utf-8``, ``utf-16``, ``utf-32`` or the codec's own name: what a byte-order mark can say."""
    name = codecs.lookup(encoding).name
    return next((family for family in ("utf-8", "utf-16", "utf-32") if name.startswith(family)), name)


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def bom_conflict(start: bytes, encoding: str) -> str | None:
    """Why a file beginning with ``start`` cannot be read in ``encoding``: it begins with another
    encoding's byte-order mark (an Excel "CSV UTF-8" export read as cp1252 would come out garbled)."""
    marked = next((family for bom, family in _BOMS if start.startswith(bom)), None)
    if marked is None or marked == _encoding_family(encoding):
        return None
    return f"it begins with a {marked.upper()} byte-order mark, so it is {marked.upper()}, not {encoding}: pass " \
           f"--encoding {marked} (encoding={marked!r})"


def _undecodable(encoding: str) -> str:
    """The reject reason for bytes a CSV or .txt file's ``encoding`` cannot decode."""
    return NOT_UTF8_TEXT if codecs.lookup(encoding).name == "utf-8" else f"undecodable bytes (not {encoding})"


def _utf8_safe(name: str) -> str:
    """A file name as text that can be written: bytes of a name that is not UTF-8 (which Python
    keeps as lone surrogates) shown as ``\\xe9``, so ``caf\\xe9.txt`` is an id, not a crash."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


#: Deepest nesting of lists and objects a JSONL row may hold (the writers recurse through it).
MAX_JSON_DEPTH = 100


def _nesting_exceeds(obj: dict, limit: int) -> bool:
    """Whether lists and objects inside ``obj`` nest more than ``limit`` levels (no recursion)."""
    stack = [(value, 1) for value in obj.values() if isinstance(value, (dict, list))]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        children = value.values() if isinstance(value, dict) else value
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def excel_separator_line(header: list[str] | None, sep: str) -> str | None:
    """The separator an Excel ``sep=;`` first line names (read as a CSV row with ``sep``), or None."""
    if not header:
        return None
    line = sep.join(header)
    return line[4] if len(line) == 5 and line.startswith("sep=") and line[4] not in "\"\r\n" else None


def txt_files(folder: Path) -> Iterator[Path]:
    """The .txt files in ``folder`` and its subfolders (.TXT too), through links to folders as
    through links to files (each folder once: a link back up is not followed round)."""
    return map(Path, txt_file_paths(folder))


def txt_file_paths(folder) -> Iterator[str]:
    """:func:`txt_files` as strings, ``folder`` joined with the path within it: a folder of a
    million articles is walked several times a run (checks, count, listing, stamps), and a Path
    a file, or a stat call a name, costs more than the walk itself."""
    return (path for path, _ in _walk_files(folder, _is_txt_name, broken_links=True))


def _entry_is(test) -> bool:
    """A DirEntry test (``entry.is_dir``...) that takes an entry it cannot stat (a link in a loop,
    through a file, into a folder it may not enter) for not one, as os.walk and pathlib do."""
    try:
        return test()
    except OSError:
        return False


def _is_txt_name(lower: str) -> bool:
    return lower.endswith(".txt") and len(lower) > 4  # ".txt" alone is a hidden file's name, as pathlib has it


def _walk_files(folder, wanted, *, broken_links: bool) -> Iterator[tuple[str, str]]:
    """(path, real path) of each file in ``folder`` and its subfolders whose lower-cased name
    ``wanted`` accepts, through links to folders (each folder once: a link back up is not followed
    round) and to files; ``broken_links``: a link to a file that is gone too (its row is then
    rejected, not lost unseen). Depth first, a folder's files before its subfolders, as os.walk
    goes; the real path is resolved only for links (a file's is its folder's and its name)."""
    folder = os.fspath(folder)
    real_top = os.path.realpath(folder)
    seen = {real_top}
    stack = [(folder, real_top)]
    while stack:
        top, real = stack.pop()
        try:
            with os.scandir(top) as listing:
                entries = list(listing)
        except OSError:  # unreadable: passed over, as os.walk does
            continue
        subfolders = []
        for entry in entries:
            if _entry_is(entry.is_dir):  # a link to a folder too
                subfolders.append(entry)
            # a link in a loop, or through a file, is no folder: a .txt one is listed, its row rejected
            elif wanted(entry.name.lower()) and (_entry_is(entry.is_file) or (
                    broken_links and _entry_is(entry.is_symlink) and not os.path.exists(entry.path))):
                yield entry.path, (os.path.realpath(entry.path) if _entry_is(entry.is_symlink)
                                   else os.path.join(real, entry.name))
        kept = []
        for entry in sorted(subfolders, key=lambda entry: entry.name):  # of two links to one folder, the first
            sub = os.path.realpath(entry.path) if _entry_is(entry.is_symlink) else os.path.join(real, entry.name)
            if sub not in seen:
                seen.add(sub)
                kept.append((entry.path, sub))
        stack.extend(reversed(kept))


def _is_data_name(lower: str) -> bool:
    return lower.endswith(_DATA_SUFFIXES)


_DATA_SUFFIXES = tuple(suffix for suffix, _ in FILE_SUFFIXES)


def path_within(path: str, folder) -> str:
    """A path :func:`txt_file_paths` gave, as the path within ``folder`` it walked (``sub/a.txt``)."""
    return path[len(os.fspath(folder)):].lstrip(os.sep).replace(os.sep, "/")


def detect_format(path) -> str:
    """Name the reader for ``path``: ``"jsonl"``, ``"csv"``, ``"parquet"`` or ``"txt"``
    (``"-"``, standard input, is JSONL)."""
    if is_stdin(path):
        if os.isatty(_stdin_descriptor()):
            raise DataError("input - is standard input, which is a terminal here: pipe JSONL into it "
                            "(zcat corpus.jsonl.gz | threatclf label - -o labelled.jsonl)")
        return "jsonl"
    p = Path(path)
    if not p.exists():
        raise DataError(f"input not found: {path}")
    if p.is_dir():
        if next(txt_files(p), None) is None:
            data = sorted(f.name for f in p.iterdir() if f.is_file()
                          and any(f.name.lower().endswith(suffix) for suffix, _ in FILE_SUFFIXES))
            hint = (f"; it holds {len(data):,} data files ({', '.join(data[:3])}{', ...' if len(data) > 3 else ''}): "
                    f"pass them as inputs, e.g. {Path(path) / ('*' + Path(data[0]).suffix)}" if data else "")
            raise DataError(f"input folder {path} holds no .txt files (a folder is read as one .txt file per "
                            f"article){hint}")
        return "txt"
    name = p.name.lower()
    for suffix, fmt in FILE_SUFFIXES:
        if name.endswith(suffix):
            if (fmt != "jsonl" or name.endswith(".gz")) and not p.is_file():
                # a pipe (/dev/stdin, a fifo) can be read once, and these are opened to be checked first
                raise DataError(f"{path} is not a regular file (a pipe?): {suffix} input is read more than once "
                                "(checked before labelling), so it must be a file; save it first (plain JSONL "
                                "may come from a pipe: - reads it from standard input)")
            return fmt
    hint = "; JSONL from a pipe is read as - (standard input)" if not p.is_file() else ""
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods", ".numbers")):
        hint = "; a spreadsheet workbook is not read: save its sheet as CSV (UTF-8) and use that"
    elif name.endswith((".tsv", ".tsv.gz", ".tab")):
        hint = ("; tab-separated values are read as CSV: name the file .csv (or .csv.gz) and pass --csv-sep tab "
                "(csv_sep='\\t')")
    elif name.endswith((".json", ".json.gz")):
        stem = p.name[:-len(".json.gz") if name.endswith(".gz") else -len(".json")]
        hint = (f"; a .json file is one JSON document, often an array of objects: write its objects one a line "
                f"({'zcat' if name.endswith('.gz') else 'cat'} {p.name} | jq -c '.[]' > {stem}.jsonl), or name it "
                ".jsonl if it holds one object a line already")
    raise DataError(
        f"unknown input format for {path}: expected .jsonl or .ndjson (optionally .gz), "
        f".csv (optionally .gz), .parquet, or a folder of .txt files{hint}"
    )


def _as_paths(inputs) -> list:
    if isinstance(inputs, (str, os.PathLike)):
        return [inputs]
    paths = list(inputs)
    if not paths:
        raise DataError("no input files given")
    return paths


# --------------------------------------------------------------------------- row helpers


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _normalise_id(value: Any) -> str | None:
    """The id as a string; ``None`` asks for the positional fallback; ``ValueError`` if unusable."""
    if value is None:
        return None
    kind = type(value)
    if kind is str:
        return value or None
    if kind is int:
        return str(value)
    if kind is float:
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError("id is not a finite number (Infinity)")
        if abs(value) >= 2**53 and value.is_integer():  # 9007199254740993.0 reads as ...992: not the id written
            raise ValueError(f"id is a number too large to be kept exactly as a float (over 2**53; read as {value!r}, "
                             "which may not be the number written): write the id as text (\"...\") or as an integer "
                             "without a decimal point")
        return str(int(value)) if value.is_integer() else repr(value)
    if kind is decimal.Decimal:  # a Parquet decimal column (database and Spark exports): exact, as written
        if value.is_nan():
            return None
        if value.is_infinite():
            raise ValueError("id is not a finite number (Infinity)")
        return str(int(value)) if value == value.to_integral_value() else str(value)
    raise ValueError(f"id is not a string or a number ({_type_name(value)})")


#: How the reasons for a row over the text limit begin (a text, or a JSONL line, too large): a run
#: whose finished chunks rejected none may resume with the limit raised.
LENGTH_REASONS = ("text too large", "line too large")


def _too_large(n_chars: int, max_chars: int) -> str:
    """Why a text over the limit is rejected (it begins with one of :data:`LENGTH_REASONS`)."""
    return f"text too large: {n_chars:,} characters > limit {max_chars:,}"


def _text_problem(text: Any, text_col: str, max_chars: int | None) -> str | None:
    if text is _MISSING:
        return f"missing text field {text_col!r}"
    if text is None:
        return "text is null"
    if type(text) is not str:
        return f"text is not a string ({_type_name(text)})"
    if max_chars is not None and len(text) > max_chars:
        return _too_large(len(text), max_chars)
    return None


def _is_valid_unicode(value: Any) -> bool:
    """False if a string anywhere in ``value`` holds a lone surrogate (cannot be written as UTF-8)."""
    if isinstance(value, str):
        if value.isascii():
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_is_valid_unicode(k) and _is_valid_unicode(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_valid_unicode(v) for v in value)
    return True


def _empty_frame(extra_columns: Sequence[str] = ()) -> pd.DataFrame:
    columns = {"id": pd.Series([], dtype="str"), "text": pd.Series([], dtype="str")}
    for name in extra_columns:
        columns[name] = pd.Series([], dtype=object)
    columns["_source"] = pd.Series([], dtype="str")
    columns["_line"] = pd.Series([], dtype="Int64")
    return pd.DataFrame(columns)


class _Rows:
    """Good rows of one chunk, collected as lists so the frame is built once."""

    __slots__ = ("ids", "texts", "lines", "extras")

    def __init__(self):
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.lines: list[int | None] = []
        self.extras: list = []

    def frame(self, source: str, extra_names: Sequence[str] | None = None) -> pd.DataFrame:
        """Build the frame; ``extra_names`` given means extras are tuples in that order."""
        if not self.ids:
            return _empty_frame(extra_names or ())
        columns: dict[str, Any] = {"id": self.ids, "text": self.texts}
        if extra_names is not None:
            for name, values in zip(extra_names, zip(*self.extras)):
                columns[name] = list(values)
        else:
            for name in dict.fromkeys(itertools.chain.from_iterable(self.extras)):
                # object: a field missing from some rows must not turn its integers into floats
                columns[name] = pd.array([row.get(name) for row in self.extras], dtype=object)
        columns["_source"] = [source] * len(self.ids)
        columns["_line"] = pd.array(self.lines, dtype="Int64")
        return pd.DataFrame(columns)


@dataclass
class _Chunk:
    rows: int
    frame: pd.DataFrame | None
    rejects: list[Reject]


def _check_unique(names: list[str], where: str, kind: str) -> None:
    """Two columns of one name: one of them would be dropped from every row."""
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        unnamed = [i + 1 for i, n in enumerate(names) if not n.strip()]
        why = (f"; columns {', '.join(map(str, unnamed))} have no name (empty columns a spreadsheet left in the "
               "header?): delete them, or name them" if "" in [n.strip() for n in dupes] else "")
        raise DataError(f"{where}: duplicate {kind} column names {dupes}{why}")


#: Columns the readers add to every row (its file and line); an input column of such a name is refused.
_INTERNAL_COLUMNS = ("_source", "_line")


def _check_clash(names: Iterable[str], text_col: str, id_col: str, where: str, reserved: Sequence[str] = ()) -> None:
    """A column named like one the output makes is an error (``reserved``: the output's own
    columns, e.g. ``labels``; ``id`` and ``text`` unless they are the id and text columns)."""
    names = list(names)
    taken = [n for n in names if n in reserved and n not in (text_col, id_col)]
    if taken:
        more = (f", and so would {len(taken) - 1} more: {', '.join(map(repr, taken[1:]))} (a threatclf output fed "
                "back in? rename them all, or carry only the columns you need)" if len(taken) > 1 else "")
        raise DataError(f"{where}: column {taken[0]!r} would be overwritten by the output's {taken[0]!r} column{more}; "
                        f"rename {'them' if more else 'it'}")
    if id_col != "id" and id_col not in names:  # a named id column must exist; only "id" may be absent
        raise DataError(f"{where}: no id column {id_col!r}; columns are {names} "
                        "(without an id column, rows get ids FILE:LINE)")
    internal = [n for n in names if n in _INTERNAL_COLUMNS]
    if internal:
        raise DataError(f"{where}: column {internal[0]!r} has a name threatclf uses for its own bookkeeping (where "
                        "each row came from); rename it")
    clash = [n for n in names if n in ("id", "text") and n not in (text_col, id_col)]
    if clash:
        raise DataError(
            f"{where}: column {clash[0]!r} would be overwritten by the output column made "
            f"from the text column {text_col!r} / id column {id_col!r} (--text-col / --id-col, text_col= / "
            "id_col=); choose it as the text or id column, or rename it"
        )


# --------------------------------------------------------------------------- sources


class _Source:
    """One input. ``check()`` validates cheaply up front; ``take()`` reads lazily."""

    def __init__(self, path, *, text_col, id_col, max_text_chars, batch_size):
        self.path = path
        # named in ids, rejects and messages; opened as self.path
        self.source = STDIN_NAME if is_stdin(path) else _utf8_safe(os.fspath(path))
        self.name = os.path.basename(os.path.normpath(self.source))
        self.text_col = text_col
        self.id_col = id_col
        self.max_text_chars = max_text_chars
        self.batch_size = batch_size
        self.columns: list[str] | None = None  # known up front for CSV and Parquet
        self.reserved: tuple[str, ...] = ()  # the output's own column names: refused as input columns
        self.csv_sep = ","  # CSV only
        self.encoding = "utf-8"  # CSV and .txt files; JSONL and Parquet are UTF-8 by definition

    def fraction_read(self) -> float | None:
        """The share of this input read so far, while it is being read; None if not known."""
        return None

    def carried_kinds(self) -> dict[str, str]:
        """The columns a header or schema names, other than the id and text, each with the kind
        its values are written as (``text``, ``int``, ``float``, ``bool``): what an output
        without rows still shows as its columns. A JSONL file's fields are known row by row: none."""
        if self.columns is None:
            return {}
        return {name: self._kind_of(name) for name in self.columns
                if name not in (self.text_col, self.id_col, *RESERVED_COLUMNS)
                and not re.fullmatch(r"__index_level_\d+__", name)}

    def _kind_of(self, name: str) -> str:
        return "text"  # a CSV header says no types

    def check(self) -> None:
        """Raise DataError now for problems that would otherwise surface mid-run."""

    def take(self, n: int, build: bool) -> _Chunk:
        """Read up to ``n`` rows; fewer only at the end of the input."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the open file, if any."""

    def _reject(self, line, id_, reason) -> Reject:
        return Reject(self.source, line, id_, reason)

    def _leading_id(self, start: bytes):
        """The id of a JSON line too long to read, when its object names it first, as most writers
        put it (the rest of the line is never read: an id further in stays unknown); else None."""
        key = json.dumps(self.id_col, ensure_ascii=False).encode("utf-8", "surrogatepass")
        match = re.match(rb'\s*\{\s*' + re.escape(key) + rb'\s*:\s*("(?:[^"\\]|\\.)*"|-?\d{1,16})\s*[,}]', start)
        if match is None:
            return None
        try:
            return self._readable_id({self.id_col: json.loads(match.group(1))})
        except ValueError:
            return None

    def _readable_id(self, record: dict):
        """A rejected record's id, when it is one and valid Unicode (so that the reject names it); else None."""
        try:
            id_ = _normalise_id(record.get(self.id_col))
            return id_ if id_ is None or _is_valid_unicode(id_) else None
        except ValueError:
            return None


#: The input name that means standard input, read as JSONL (``zcat x.jsonl.gz | threatclf label - ...``).
STDIN = "-"
#: How standard input is named in ids (``<stdin>:LINE``), rejects and messages.
STDIN_NAME = "<stdin>"


def is_stdin(path) -> bool:
    return os.fspath(path) == STDIN


def _stdin_descriptor() -> int:
    """The file descriptor of standard input, or DataError when there is none to read."""
    try:
        return sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):  # None (closed, pythonw), or an object without one (IDLE)
        raise DataError("input - is standard input, which this process does not have (closed, or replaced by an "
                        "object that is not a file): pipe JSONL into the command, or name a file") from None


class _Prefixed(io.RawIOBase):
    """``stream`` with ``head``, already read from it, in front again."""

    def __init__(self, head: bytes, stream):
        self._head, self._stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._stream.read1(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


class _RepeatedKey(ValueError):
    """A JSON object names a field twice (``args[0]``: the field)."""


def _object_of_unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """``json.loads``'s ``object_pairs_hook``: the object, or :class:`_RepeatedKey` if a field repeats."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise _RepeatedKey(next(key for key, _ in pairs if key in seen or seen.add(key)))
    return obj


def _top_level_keys(decoded: str) -> list[str]:
    """The fields of the object on a line, repeats included (for the reason a repeat is rejected)."""
    objects: list[list[str]] = []

    def remember(pairs):
        objects.append([key for key, _ in pairs])
        return {}

    json.loads(decoded, object_pairs_hook=remember)
    return objects[-1]  # objects are completed inside out: the line's own comes last


def _blank_line(raw: bytes) -> bool:
    """A JSONL line to skip: white space, or a byte-order mark alone (an empty file saved by Notepad or
    PowerShell, alone or joined onto another), which holds no row."""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    return not raw or raw.isspace()


def _is_string_view(kind) -> bool:
    """pyarrow's string_view type (pyarrow 16 and later; earlier ones have none to be)."""
    import pyarrow as pa

    return getattr(pa.types, "is_string_view", lambda _: False)(kind)


def _share_of_file(binary, path) -> float | None:
    """How far into the file at ``path`` the open ``binary`` stream has read (for a gzip stream,
    the compressed bytes consumed), as a share of its size; None if unknown."""
    if binary is None or is_stdin(path):
        return None
    try:
        raw = binary.fileobj if isinstance(binary, gzip.GzipFile) else binary
        size = os.fstat(raw.fileno()).st_size
        return min(raw.tell() / size, 1.0) if size else None
    except (OSError, ValueError, AttributeError):  # a closed stream; a file object without a descriptor
        return None


def _open_binary(path) -> io.BufferedIOBase:
    if is_stdin(path):  # a duplicate of the descriptor, so that closing it leaves sys.stdin open
        stream = os.fdopen(os.dup(_stdin_descriptor()), "rb")
        head = stream.read(2)  # all of it: a pipe may deliver one byte first
        whole = io.BufferedReader(_Prefixed(head, stream))
        if head == b"\x1f\x8b":  # gzip's magic: `cat corpus.jsonl.gz | threatclf label -`
            unpacked = gzip.GzipFile(fileobj=whole, mode="rb")
            unpacked.myfileobj = whole  # closed with it, as gzip.open does with a file it opened
            return unpacked
        return whole
    if os.fspath(path).lower().endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


#: Lines read without one that parses as JSON after which a ``.jsonl`` file is called no JSONL:
#: fewer are rejected one by one, as a damaged start of a real JSONL file would be.
_NOT_JSONL_AFTER = 5


def _not_jsonl(not_json: list[bytes], ended: bool) -> bool:
    """Whether lines that all fail to parse (``not_json``, the first of a file or stream) say
    it is no JSONL: enough of them, or a whole input of them that does not even begin as JSON
    does (a short CSV; one cut-off JSON line is a damaged row, rejected as such)."""
    if len(not_json) >= _NOT_JSONL_AFTER:
        return True
    return ended and bool(not_json) and not not_json[0].lstrip(codecs.BOM_UTF8).lstrip().startswith((b"{", b"["))


#: First bytes of files that a ``.jsonl`` name may hide, what they are, and what to do.
_OTHER_FORMATS = (
    (b"\x1f\x8b", "gzip-compressed", "name it with .gz at the end (.jsonl.gz)"),
    (b"PAR1", "a Parquet file", "name it .parquet"),
    (b"PK\x03\x04", "a zip archive", "unpack it first"),
)


class _JsonlSource(_Source):
    def __init__(self, path, **options):
        super().__init__(path, **options)
        self._file = None
        self._line = 0
        # standard input, read once, is checked as it comes: its first lines, while none parses
        self._first_not_json: list[bytes] | None = [] if is_stdin(path) else None
        self._line_cap = (
            None
            if self.max_text_chars is None
            else _LINE_BYTES_PER_CHAR * self.max_text_chars + _LINE_BYTES_SLACK
        )

    def check(self) -> None:
        if self.source.lower().endswith(".gz"):
            with open(self.path, "rb") as raw:
                magic = raw.read(2)
            if magic and magic != b"\x1f\x8b":
                raise DataError(f"{self.source} is not a gzip file")
            if not magic and os.path.isfile(self.path):  # not even a header: cut off before its first byte
                raise DataError(f"{self.source} is empty, which no gzip file is (a download or a gzip > cut off "
                                "before it began?)")
        elif not is_stdin(self.path) and os.path.isfile(self.path):
            # every line would be rejected as undecodable, with advice about text encodings
            with open(self.path, "rb") as raw:
                magic = raw.read(4)
            for start, kind, fix in _OTHER_FORMATS:
                if magic.startswith(start):
                    raise DataError(f"{self.source} is {kind} (its first bytes say so), not JSONL text: {fix}")
        self._check_first_rows()

    def _check_first_rows(self, rows: int = 100) -> None:
        """What a CSV header or Parquet schema says up front, read off the first ``rows`` rows that
        parse: a misspelt text or id field, or a field the output would overwrite, in all of them
        is refused now (each row would otherwise be rejected, or get a FILE:LINE id); a field that
        only some rows lack or have is a matter for those rows."""
        if is_stdin(self.path) or not os.path.isfile(self.path):  # a pipe can be read once only: its rows are
            return  # checked as they come
        parsed: list[dict] = []
        not_json: list[bytes] = []  # lines that do not parse: all of them, and the file is not JSONL
        ended = False  # the whole file read
        cap = self._line_cap or _LINE_BYTES_PER_CHAR * 1_000_000 + _LINE_BYTES_SLACK
        try:
            with _open_binary(self.path) as handle:
                for _ in range(rows * 2):
                    raw = handle.readline(cap)
                    if not raw:
                        ended = True
                        break
                    if len(raw) == cap and not raw.endswith(b"\n"):  # over the cap: skipped, and rejected later
                        while len(raw) == cap and not raw.endswith(b"\n"):
                            raw = handle.readline(cap)
                        continue
                    try:
                        obj = json.loads(raw.decode("utf-8-sig"))
                    except UnicodeDecodeError:
                        continue
                    except (ValueError, RecursionError):
                        if not _blank_line(raw):
                            not_json.append(raw)
                        continue
                    if type(obj) is dict:
                        parsed.append(obj)
                        if len(parsed) == rows:
                            break
        except (*_GZIP_ERRORS, OSError):  # a damaged file: reading it says so, with its line
            return
        if not parsed and _not_jsonl(not_json, ended):
            raise self._not_jsonl_error(not_json, ended)
        if not parsed:
            return
        fields = sorted(set().union(*parsed))[:20]
        if not any(self.text_col in obj for obj in parsed):
            raise DataError(f"{self.source}: no text field {self.text_col!r} in its first rows; their fields are "
                            f"{fields}")
        if self.id_col != "id" and not any(self.id_col in obj for obj in parsed):
            raise DataError(f"{self.source}: no id field {self.id_col!r} in its first rows; their fields are "
                            f"{fields} (without an id field, rows get ids FILE:LINE)")
        internal = [name for name in _INTERNAL_COLUMNS if all(name in obj for obj in parsed)]
        if internal:  # every row would be rejected for it
            raise DataError(f"{self.source}: field {internal[0]!r} has a name threatclf uses for its own bookkeeping "
                            "(where each row came from); rename it")
        taken = [name for name in ("id", "text", *self.reserved) if name not in (self.text_col, self.id_col) and all(
            # a null output field is taken as absent (as in each row); a null "id" or "text" is refused there too
            (name in obj) if name in ("id", "text") else (obj.get(name) is not None) for obj in parsed)]
        if taken:
            raise DataError(f"{self.source}: field {taken[0]!r} would be overwritten by the output's {taken[0]!r} "
                            f"column (text_col={self.text_col!r}, id_col={self.id_col!r}); rename it, or choose it "
                            "as the text or id field")

    def _not_jsonl_error(self, not_json: list[bytes], ended: bool) -> DataError:
        start = None if is_stdin(self.path) else _start_of(self.path)
        if start is not None and _utf16_hint(start, "utf-8"):  # Windows PowerShell 5's > writes UTF-16
            convert = ("zcat FILE | iconv -f UTF-16 -t UTF-8 > FILE-utf8.jsonl" if self.source.lower().endswith(".gz")
                       else "iconv -f UTF-16 -t UTF-8 FILE > FILE-utf8.jsonl")
            return DataError(f"{self.source} is UTF-16 text (what Windows PowerShell 5's > writes), but JSONL is "
                             f"read as UTF-8: convert it ({convert}), or write it as UTF-8 (Out-File -Encoding utf8)")
        first = not_json[0].decode("utf-8", "replace").strip()
        if first.startswith(("[", "{")):  # JSON, but not one object a line
            advice = ("a JSON array or JSON spread over lines? JSONL holds one object a line: "
                      + ("jq -c '.[]' FILE > FILE.jsonl" if first.startswith("[") else "jq -c . FILE > FILE.jsonl"))
        else:
            kind = next((name for sep, name in (("\t", "tab-separated file"), (",", "CSV"), (";", "CSV"))
                         if sep in first), "CSV")
            advice = (f"a {kind}? Name it .csv (--csv-sep for its separator)" if not is_stdin(self.path)
                      else f"a {kind}? Standard input is read as JSONL: give the file's name instead")
        said = ("its only line is not JSON" if len(not_json) == 1 else
                f"none of its {'' if ended else 'first '}{len(not_json)} lines is JSON")
        return DataError(f"{self.source}: {said}, so it is not JSONL; its first line begins {first[:60]!r} ({advice})")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _readline(self) -> tuple[bytes, bool]:
        """Next physical line and whether it fits under the line cap (the rest is consumed)."""
        cap = self._line_cap
        try:
            if cap is None:
                return self._file.readline(), True
            raw = self._file.readline(cap)
            if len(raw) < cap or raw.endswith(b"\n"):
                return raw, True
            while True:  # skip the rest of an overlong line without keeping it (its start names its id)
                rest = self._file.readline(cap)
                if not rest or rest.endswith(b"\n"):
                    return raw[:_ID_PEEK_BYTES], False
        except _GZIP_ERRORS as exc:
            raise DataError(
                f"{self.source}: compressed stream is truncated or corrupt after line "
                f"{self._line} ({exc}); the rest of the file cannot be read"
            ) from exc

    def fraction_read(self) -> float | None:
        return _share_of_file(self._file, self.path)

    def _salvage_id(self, raw: bytes) -> str | None:
        """The id of a line with bad bytes elsewhere, so the reject can be traced."""
        try:
            obj = json.loads(raw.decode("utf-8", errors="replace"))
            id_ = _normalise_id(obj.get(self.id_col)) if type(obj) is dict else None
        except (ValueError, RecursionError):
            return None
        return id_ if id_ is not None and "\ufffd" not in id_ else None

    def take(self, n: int, build: bool) -> _Chunk:
        if self._file is None:
            self._file = _open_binary(self.path)
        rows = _Rows()
        rejects: list[Reject] = []
        count = 0
        text_col, id_col, max_chars = self.text_col, self.id_col, self.max_text_chars
        while count < n:
            raw, fits = self._readline()
            if not raw:
                if self._first_not_json and _not_jsonl(self._first_not_json, ended=True):
                    raise self._not_jsonl_error(self._first_not_json, ended=True)
                break
            self._line += 1
            line = self._line
            if fits and _blank_line(raw):
                continue
            count += 1
            if not build:
                continue
            if not fits:
                rejects.append(self._reject(line, self._leading_id(raw), (
                    f"line too large: more than {self._line_cap:,} bytes "
                    f"(text limit {max_chars:,} characters)"
                )))
                continue
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError:
                rejects.append(self._reject(
                    line, self._salvage_id(raw), NOT_UTF8))
                continue
            if decoded.startswith("\ufeff"):  # line 1's mark, or one a file joined on after it brought along
                decoded = decoded[1:]
            try:
                obj = json.loads(decoded, object_pairs_hook=_object_of_unique_keys)
            except _RepeatedKey as exc:  # {"text": "A", "text": "B"}: json.loads would keep "B", and "A" be lost
                key = exc.args[0]
                where = "this line's object" if _top_level_keys(decoded).count(key) > 1 else "an object on this line"
                rejects.append(self._reject(
                    line, None if key == id_col else self._readable_id(json.loads(decoded)),
                    f"field {key!r} appears twice in {where}: a JSON reader keeps the last value, so the other "
                    "would be lost without a word; keep the one meant"))
                continue
            except ValueError as exc:  # JSONDecodeError, and over-long integer literals
                if self._first_not_json is not None:
                    self._first_not_json.append(raw)
                    if _not_jsonl(self._first_not_json, ended=False):
                        raise self._not_jsonl_error(self._first_not_json, ended=False) from None
                reason = f"{exc.msg} (col {exc.colno})" if hasattr(exc, "colno") else str(exc)
                digits = re.search(r"value has (\d+) digits", reason) if not hasattr(exc, "colno") else None
                if digits:  # Python's own words name a setting of Python's (sys.set_int_max_str_digits)
                    reason = (f"a number of {int(digits.group(1)):,} digits, more than a JSON reader takes "
                              f"({sys.get_int_max_str_digits():,} here): write it as a string")
                elif getattr(exc, "pos", -1) >= len(decoded.rstrip("\r\n")):  # failed at (or on) the line end
                    reason = "the line ends before its JSON does (a truncated line?)"
                elif "\r" in decoded.rstrip("\r\n"):
                    reason += ("; its lines end in a lone carriage return (CR, as old Mac files do), so the file "
                               "reads as one line: JSONL lines end in \\n (tr '\\r' '\\n' < FILE > FILE.jsonl)")
                elif getattr(exc, "msg", "") == "Extra data":
                    reason += ("; a second JSON value follows the first on this line: two files joined "
                               "(cat a.jsonl b.jsonl) where the first lacked its final newline? Each is a row of its "
                               "own: split the line to label both")
                rejects.append(self._reject(line, None, f"invalid JSON: {reason}"))
                continue
            except RecursionError:
                rejects.append(self._reject(line, None, "invalid JSON: nested too deeply"))
                continue
            self._first_not_json = None  # a line of JSON: the input is JSONL, its bad lines are rows
            if type(obj) is not dict:
                array = type(obj) is list and obj and all(type(item) is dict for item in obj)
                rejects.append(self._reject(line, None, (
                    f"not a JSON object but an array of {len(obj):,} on one line: JSONL holds one object a line "
                    "(jq -c '.[]' FILE > FILE.jsonl)") if array else f"not a JSON object ({_type_name(obj)})"))
                continue
            if _nesting_exceeds(obj, MAX_JSON_DEPTH):
                rejects.append(self._reject(line, None, f"a field is nested more than {MAX_JSON_DEPTH} levels deep"))
                continue
            if (b"\\ud" in raw or b"\\uD" in raw) and not _is_valid_unicode(obj):
                rejects.append(self._reject(
                    line, self._readable_id(obj), "invalid Unicode: lone surrogate escape in a JSON string"))
                continue
            text = obj.pop(text_col, _MISSING)
            try:
                id_ = _normalise_id(obj.pop(id_col, None))
            except ValueError as exc:
                rejects.append(self._reject(line, None, str(exc)))
                continue
            if id_ is None:
                id_ = f"{self.name}:{line}"
            problem = _text_problem(text, text_col, max_chars)
            if problem is not None:
                rejects.append(self._reject(line, id_, problem))
                continue
            if ("id" in obj and id_col != "id" and text_col != "id") or \
                    ("text" in obj and text_col != "text" and id_col != "text"):
                clash = "id" if "id" in obj and "id" not in (id_col, text_col) else "text"
                rejects.append(self._reject(line, id_, f"field {clash!r} would be overwritten by the output's "
                                                       f"{clash!r} column (text_col={text_col!r}, id_col={id_col!r})"))
                continue
            internal = [name for name in _INTERNAL_COLUMNS if name in obj]
            if internal:
                rejects.append(self._reject(line, id_, f"field {internal[0]!r} has a name threatclf uses for its own "
                                                       "bookkeeping (where each row came from); rename it"))
                continue
            rows.ids.append(id_)
            rows.texts.append(text)
            rows.lines.append(line)
            rows.extras.append(obj)
        frame = rows.frame(self.source) if build else None
        return _Chunk(count, frame, rejects)


@contextmanager
def _csv_field_limit(max_text_chars: int | None) -> Iterator[None]:
    """Let csv read fields larger than its default, bounded so memory stays bounded.

    ``csv.field_size_limit`` is process-wide, so it is set only while parsing and then
    restored: the bound never depends on what ran before, and other csv users are unaffected.
    """
    if max_text_chars is None:
        wanted = sys.maxsize
    else:
        wanted = max(_CSV_DEFAULT_FIELD_LIMIT, _CSV_FIELD_FACTOR * max_text_chars + 1)
    try:
        previous = csv.field_size_limit(wanted)
    except OverflowError:  # C long is 32-bit on Windows
        previous = csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


class _CsvSource(_Source):
    def __init__(self, path, **options):
        super().__init__(path, **options)
        self._stream = None
        self._reader = None
        self._lines_read = 0
        self._last_bad_line = 0
        self._record_end = 1  # physical line of the end of the previous record (header)
        # Physical lines as grep, sed and the JSONL reader count them: a CR alone inside a quoted
        # field (an old Mac text pasted into a cell) does not end one, though csv's line_num counts it
        self._line_ends = 0  # line ends passed: \n (or \r\n), and a lone \r that ended a record
        self._lone_cr = False  # the last line csv was given ends with a lone \r

    def _open(self):
        binary = _open_binary(self.path)
        try:
            start = binary.peek(4)[:4] if hasattr(binary, "peek") else b""
            conflict = bom_conflict(start, self.encoding)
        except (OSError, *_GZIP_ERRORS):
            start, conflict = b"", None  # a damaged file: reading it says so
        if start == b"PK\x03\x04":  # read as text, a workbook's header would be its zip directory
            conflict = ("this is a zip archive, not a CSV file (an Excel .xlsx workbook renamed?): save the sheet "
                        "as CSV (UTF-8) and use that")
        else:  # a download saved compressed under a .csv name: read as text, it would be "not valid utf-8"
            conflict = next((f"this is {kind} (its first bytes say so), not CSV text: {fix.replace('.jsonl', '.csv')}"
                             for magic, kind, fix in _OTHER_FORMATS if start.startswith(magic)), conflict)
            if start.startswith(b"\x1f\x8b") and self.source.lower().endswith(".gz"):
                conflict = "this is compressed twice (gzip inside gzip, its first bytes say): decompress it once"
        if conflict:
            binary.close()
            raise DataError(f"{self.source}: {conflict}")
        utf8 = codecs.lookup(self.encoding).name == "utf-8"
        text = io.TextIOWrapper(
            binary, encoding="utf-8-sig" if utf8 else self.encoding, errors="surrogateescape", newline=""
        )
        lines = self._track(text)
        # strict: a quote left open at the end of the file is an error, not a field that swallows the rest
        reader = csv.reader(lines, strict=True, delimiter=self.csv_sep)
        header = self._read_header(reader, text)
        said = excel_separator_line(header, self.csv_sep)
        if said is not None:  # Excel's "sep=;" first line: the header follows it
            if self.csv_sep not in (",", said):
                text.close()
                raise DataError(f"{self.source}: its first line, 'sep={said}', says its fields are separated by "
                                f"{said!r}, but csv_sep={self.csv_sep!r} was given; leave --csv-sep out")
            self.csv_sep = said
            reader = csv.reader(lines, strict=True, delimiter=said)
            header = self._read_header(reader, text)
        if header is None and said is None:  # no line at all: no rows, as an empty JSONL file (a day's empty export)
            return text, reader, None
        if header is None or not header:
            text.close()
            raise DataError(f"{self.source}: " + ("no header row after its 'sep=' line" if header is None else
                                                   "its first line is blank: the header row must come first"))
        if self._last_bad_line:
            text.close()
            raise DataError(f"{self.source}: the CSV header is not valid {self.encoding}"
                            f"{_encoding_hint(self.path, self.encoding)}")
        self._record_end = self._ended_record()
        return text, reader, header

    def _read_header(self, reader, text) -> list[str] | None:
        try:
            with _csv_field_limit(self.max_text_chars):
                return next(reader, None)
        except (csv.Error, UnicodeError, *_GZIP_ERRORS) as exc:  # UnicodeError: utf-16 with no mark
            text.close()
            hint = _encoding_hint(self.path, self.encoding) if isinstance(exc, UnicodeError) else ""
            raise DataError(f"{self.source}: cannot read the CSV header: {exc}{hint}") from exc

    def _ended_record(self) -> int:
        """The physical line a record csv has just returned ends on: a lone \r its last line
        ends with ended the record (inside a quoted field csv would have read on), so it ends a line."""
        if self._lone_cr:
            self._line_ends += 1
            self._lone_cr = False
        return max(self._line_ends, 1)

    def _track(self, lines: Iterable[str]) -> Iterator[str]:
        """Pass lines to csv, remembering the last one that held undecodable bytes."""
        for line in lines:
            self._lines_read += 1
            if self._lines_read == 1 and line.startswith("\ufeff"):  # a mark an encoding kept (utf-16-le): dropped
                line = line[1:]  # before csv sees it, so that a quoted first name stays quoted
            number = self._line_ends + 1  # the physical line this one is (part of)
            if line.endswith("\n"):
                self._line_ends += 1
            self._lone_cr = line.endswith("\r")
            if not line.isascii():
                try:
                    line.encode("utf-8")
                except UnicodeEncodeError:
                    self._last_bad_line = number
            yield line

    def fraction_read(self) -> float | None:
        return _share_of_file(None if self._stream is None else self._stream.buffer, self.path)

    def check(self) -> None:
        stream, _, header = self._open()
        stream.close()
        self._lines_read = self._last_bad_line = self._line_ends = 0
        self._lone_cr = False
        if header is None:  # an empty file: no columns to check
            return
        _check_unique(header, self.source, "CSV")
        if self.text_col not in header:
            other = next((sep for sep in (";", "\t", "|", ",") if len(header) == 1 and sep in header[0]
                          and sep != self.csv_sep), None)
            hint = (f" (the header is one column holding {other!r}: separated by {other!r}? pass --csv-sep "
                    f"{other!r} (csv_sep={other!r}))" if other else "")
            start = _start_of(self.path)
            if start is not None:  # UTF-16 without a byte-order mark read as UTF-8, or in the other byte order
                hint = _utf16_hint(start, self.encoding) or hint
            raise DataError(
                f"{self.source}: no text column {self.text_col!r}; columns are {_shortened(header)}{hint}"
            )
        _check_clash(header, self.text_col, self.id_col, self.source, self.reserved)
        self.columns = header

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def take(self, n: int, build: bool) -> _Chunk:
        with _csv_field_limit(self.max_text_chars):
            return self._take(n, build)

    def _take(self, n: int, build: bool) -> _Chunk:
        if self._reader is None:
            self._stream, self._reader, header = self._open()
            self.columns = header
        header = self.columns
        if header is None:  # an empty file
            return _Chunk(0, _Rows().frame(self.source, []) if build else None, [])
        n_fields = len(header)
        text_at = header.index(self.text_col)
        id_at = header.index(self.id_col) if self.id_col in header else None
        extra_at = [
            i for i, name in enumerate(header)
            if i not in (text_at, id_at)
        ]
        extra_names = [header[i] for i in extra_at]
        max_chars = self.max_text_chars
        reader = self._reader
        rows = _Rows()
        rejects: list[Reject] = []
        count = 0
        while count < n:
            start = self._record_end + 1
            try:
                row = next(reader, None)
            except csv.Error as exc:
                hint = "an unclosed quote?"
                if "expected after '\"'" in str(exc):  # 1,"Breaking" news: a quote that opens a field but not all of it
                    hint = ("a field that begins with a quote must be quoted whole, with a quote inside it doubled: "
                            "1,\"\"\"Breaking\"\" news\" (a file written by hand, or by a tool that does not quote?)")
                if "field larger than field limit" in str(exc):  # a field this long stops the file: it is
                    # far more often a quote left open, swallowing the rows after it, than a real text
                    hint = (f"a field over {csv.field_size_limit():,} characters is taken for a quote left open, "
                            "swallowing the rows after it; if texts are that long, raise --max-text-chars "
                            "(max_text_chars=): a field up to 8 times it is read, and rejected when too long "
                            "(--resume with it raised keeps the chunks finished so far)")
                raise DataError(f"{self.source}: line {start}: cannot parse CSV ({exc}); {hint}") from exc
            except _GZIP_ERRORS as exc:
                raise DataError(
                    f"{self.source}: compressed stream is truncated or corrupt after line "
                    f"{self._record_end} ({exc}); the rest of the file cannot be read"
                ) from exc
            except UnicodeDecodeError as exc:  # an encoding whose bad bytes cannot be set aside (UTF-16)
                raise DataError(
                    f"{self.source}: bytes that are not {self.encoding} after line {self._record_end} "
                    f"({exc.reason}); the rest of the file cannot be read"
                ) from exc
            if row is None:
                break
            self._record_end = self._ended_record()
            if not row:
                continue
            count += 1
            if not build:
                continue
            if len(row) != n_fields:
                # the id as read, to trace the row, when it is the first field
                guess = row[id_at] if id_at == 0 else None  # the first field: no stray comma before it
                rejects.append(self._reject(
                    start, guess if guess and _is_valid_unicode(guess) else None,
                    f"CSV row has {len(row)} fields, header has {n_fields}"))
                continue
            if row[0].startswith("\ufeff") and [row[0][1:], *row[1:]] == header or row == header:
                rejects.append(self._reject(start, None, "the header row again, here a row: two CSV files joined "
                                                         "(cat a.csv b.csv)? Nothing is lost: it holds no article"))
                continue
            raw_id = row[id_at] if id_at is not None else ""
            if self._last_bad_line >= start:
                readable = raw_id and _is_valid_unicode(raw_id)
                rejects.append(self._reject(
                    start, raw_id if readable else None, _undecodable(self.encoding)))
                continue
            id_ = raw_id or f"{self.name}:{start}"
            text = row[text_at]
            if max_chars is not None and len(text) > max_chars:
                rejects.append(self._reject(
                    start, id_,
                    _too_large(len(text), max_chars)))
                continue
            rows.ids.append(id_)
            rows.texts.append(text)
            rows.lines.append(start)
            rows.extras.append([row[i] for i in extra_at])
        frame = rows.frame(self.source, extra_names) if build else None
        return _Chunk(count, frame, rejects)


class _TxtSource(_Source):
    def __init__(self, path, **options):
        super().__init__(path, **options)
        self._files: list[str] | None = None
        self._next = 0
        #: Before each id, the path within the folder: the folder's name where a run reads several
        #: inputs (day1/0001.txt and day2/0001.txt would otherwise both be 0001.txt).
        self.id_prefix = ""

    def _list(self) -> list[str]:
        """The files' paths within the folder, as the file system names them, in the order of their
        ids: one string a file (not a Path and a tuple each: about 160 bytes a file, not 430, in a folder
        of millions)."""
        if self._files is None:
            root = Path(self.path)
            self._files = sorted((path_within(p, root) for p in txt_file_paths(root)), key=_utf8_safe)
        return self._files

    def __len__(self) -> int:
        return len(self._list())

    def take(self, n: int, build: bool) -> _Chunk:
        files = self._list()
        chosen = files[self._next:self._next + n]
        self._next += len(chosen)
        if not build:
            return _Chunk(len(chosen), None, [])
        rows = _Rows()
        rejects: list[Reject] = []
        max_chars = self.max_text_chars
        for within in chosen:
            rel, path = _utf8_safe(within), Path(self.path, within)
            problem, text = self._read(path, max_chars)
            if problem is not None:
                rejects.append(self._reject(None, self.id_prefix + rel, problem))
                continue
            rows.ids.append(self.id_prefix + rel)
            rows.texts.append(text)
            rows.lines.append(None)
            rows.extras.append(())
        return _Chunk(len(chosen), rows.frame(self.source, []), rejects)

    def _read(self, path: Path, max_chars: int | None) -> tuple[str | None, str]:
        try:
            size = path.stat().st_size
            # UTF-8, -16 and -32 need at most 4 bytes a character, after a byte-order mark of up to
            # 4: a larger file is over the limit for sure, and is not read into memory.
            if max_chars is not None and size > 4 * max_chars + 4:
                return (f"text too large: {size:,} bytes, over the limit of "
                        f"{max_chars:,} characters"), ""
            data = path.read_bytes()
        except OSError as exc:
            return f"cannot read file: {exc.strerror or exc}", ""
        conflict = bom_conflict(data[:4], self.encoding)
        if conflict:
            return conflict, ""
        utf8 = codecs.lookup(self.encoding).name == "utf-8"
        if utf8 and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8):]
        try:
            text = data.decode(self.encoding)
        except UnicodeDecodeError:
            return _undecodable(self.encoding), ""
        if text.startswith("\ufeff") and codecs.lookup(self.encoding).name in _KEEP_THEIR_MARK:
            text = text[1:]  # the mark an encoding kept; the others (and UTF-8, above) took it off
        if "\x00" in text[:_UTF8_SNIFF_BYTES]:  # UTF-16 without a mark decodes as UTF-8 (or cp1252): a zero between letters
            hint = _utf16_hint(data[:_UTF8_SNIFF_BYTES], self.encoding, _TXT_STRUCTURE)
            if hint:
                return f"a zero byte beside each character{hint}", ""
        return _text_problem(text, "", max_chars), text


#: Bytes pyarrow reads at a time from a Parquet column chunk (a buffered stream, not the whole chunk).
PARQUET_READ_BUFFER = 1 << 20


class _ParquetSource(_Source):
    def __init__(self, path, **options):
        super().__init__(path, **options)
        self._file = None
        self._num_rows = 0
        self._group_starts: list[int] = []
        self._position = 0  # next row to hand out, 0-based
        self._batches = None  # iterator positioned at self._position (after _pending)
        self._pending = None  # rows already read but not handed out
        self._range_index = None  # (name, start, step) of a RangeIndex pandas stored as metadata

    def _open(self):
        pq = require("pyarrow.parquet")
        pa = require("pyarrow")
        try:
            # Not pre-buffered: pyarrow keeps each pre-buffered row group until a file's batches
            # end, so memory grew with the file (1.1 GB for 355,600 rows; 0.76 GB without)
            handle = pq.ParquetFile(self.path, pre_buffer=False, buffer_size=PARQUET_READ_BUFFER)
        except (pa.ArrowInvalid, OSError) as exc:
            raise DataError(f"{self.source}: not a readable Parquet file ({exc})") from exc
        return handle

    def check(self) -> None:
        pa = require("pyarrow")
        handle = self._open()
        try:
            schema = handle.schema_arrow
            metadata = handle.metadata
        finally:
            handle.close()
        self._range_index = _stored_range_index(schema, metadata.num_rows)
        if self._range_index is not None and (self._range_index[0] in schema.names
                                              or self._range_index[0] in self.reserved):
            self._range_index = None  # a column of its own name is the data (set_index(drop=False))
        if self._range_index is not None:  # a column of the data, as pd.read_parquet gives it back
            schema = schema.append(pa.field(self._range_index[0], pa.int64()))
        names = schema.names
        _check_unique(names, self.source, "Parquet")
        if self.text_col not in names:
            raise DataError(
                f"{self.source}: no text column {self.text_col!r}; columns are {names}"
            )
        text_type = schema.field(self.text_col).type
        if pa.types.is_dictionary(text_type):
            text_type = text_type.value_type
        if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)
                or _is_string_view(text_type) or pa.types.is_null(text_type)):  # null: all missing
            raise DataError(
                f"{self.source}: text column {self.text_col!r} holds {text_type}, not strings"
            )
        if self.id_col in names:
            id_type = schema.field(self.id_col).type
            if pa.types.is_dictionary(id_type):
                id_type = id_type.value_type
            if not (pa.types.is_string(id_type) or pa.types.is_large_string(id_type) or _is_string_view(id_type)
                    or pa.types.is_integer(id_type) or pa.types.is_floating(id_type)
                    or pa.types.is_decimal(id_type) or pa.types.is_null(id_type)):
                raise DataError(  # said once, not for every row
                    f"{self.source}: id column {self.id_col!r} holds {id_type}, not text or numbers: name "
                    "another column with --id-col (id_col=), or cast this one to text")
        _check_clash(names, self.text_col, self.id_col, self.source, self.reserved)
        self.columns = names
        self._schema = schema
        self._num_rows = metadata.num_rows
        starts, total = [], 0
        for i in range(metadata.num_row_groups):
            starts.append(total)
            total += metadata.row_group(i).num_rows
        self._group_starts = starts

    def fraction_read(self) -> float | None:
        return self._position / self._num_rows if self._num_rows else None

    def _kind_of(self, name: str) -> str:
        pa = require("pyarrow")
        kind = self._schema.field(name).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        return ("bool" if pa.types.is_boolean(kind) else "int" if pa.types.is_integer(kind)
                else "float" if pa.types.is_floating(kind) else "text")  # dates, decimals, lists: as text

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._batches = self._pending = None

    def _seek(self):
        """Start reading at ``self._position``, skipping whole row groups cheaply."""
        if self._file is None:
            self._file = self._open()
        first = 0
        for i, start in enumerate(self._group_starts):
            if start <= self._position:
                first = i
        groups = list(range(first, len(self._group_starts)))
        self._batches = self._file.iter_batches(
            batch_size=max(self.batch_size, 1024), row_groups=groups)
        skip = self._position - (self._group_starts[first] if groups else 0)
        self._pending = None
        while skip > 0:
            batch = next(self._batches)
            if len(batch) > skip:
                self._pending = batch.slice(skip)
                break
            skip -= len(batch)

    def take(self, n: int, build: bool) -> _Chunk:
        wanted = min(n, self._num_rows - self._position)
        if not build:
            self._position += wanted
            self._batches = self._pending = None
            return _Chunk(wanted, None, [])
        if wanted > 0 and self._batches is None:
            self._seek()
        first_row = self._position
        pieces, got = [], 0
        while got < wanted:
            if self._pending is None or len(self._pending) == 0:
                try:
                    self._pending = next(self._batches)
                except (require("pyarrow").ArrowInvalid, OSError) as exc:
                    # undecodable text in a dictionary column, say: pyarrow stops at the row group, so no
                    # row can be singled out
                    raise DataError(f"{self.source}: cannot read the rows after row {first_row + got:,} ({exc}); "
                                    "re-write the file (text must be UTF-8)") from None
                continue
            piece = self._pending.slice(0, wanted - got)
            self._pending = self._pending.slice(len(piece))
            pieces.append(piece)
            got += len(piece)
        self._position += got
        return self._convert(pieces, first_row, got)

    def _convert(self, pieces, first_row: int, n: int) -> _Chunk:
        if n == 0:
            return _Chunk(0, _empty_frame(), [])
        pa = require("pyarrow")
        pc = require("pyarrow.compute")
        table = pa.Table.from_batches(pieces)
        if self._range_index is not None:
            name, start, step = self._range_index
            table = table.append_column(name, pa.array(start + step * np.arange(first_row, first_row + n, dtype=np.int64)))
        table, undecodable = _without_bad_utf8(table, self.source)
        text = table.column(self.text_col)
        if not (pa.types.is_string(text.type) or pa.types.is_large_string(text.type)):
            # a categorical (dictionary) or string_view column: plain strings for the checks and the output
            text = pc.cast(text, pa.large_string())
            table = table.set_column(table.column_names.index(self.text_col), self.text_col, text)
        bad = text.is_null()
        if self.max_text_chars is not None:
            lengths = pc.utf8_length(text)
            bad = pc.or_(bad, pc.fill_null(pc.greater(lengths, self.max_text_chars), False))
        bad = bad.to_numpy(zero_copy_only=False).copy()
        lines = np.arange(first_row + 1, first_row + n + 1)
        ids: list[Any] = [None] * n
        reasons: dict[int, str] = {}
        bad[list(undecodable)] = True
        if self.id_col in table.column_names:
            for i, value in enumerate(table.column(self.id_col).to_pylist()):
                try:
                    ids[i] = _normalise_id(value)
                except ValueError as exc:
                    reasons[i] = str(exc)
                    bad[i] = True
        for i in range(n):
            if ids[i] is None:
                ids[i] = f"{self.name}:{lines[i]}"
        rejects = []
        for i in np.flatnonzero(bad):
            i = int(i)
            if i in reasons:
                rejects.append(self._reject(int(lines[i]), None, reasons[i]))
                continue
            if i in undecodable:  # named by its line alone when the id is what cannot be read
                rejects.append(self._reject(int(lines[i]), None if undecodable[i] == self.id_col else ids[i],
                                            f"column {undecodable[i]!r} holds undecodable bytes (not UTF-8, as "
                                            "Parquet strings must be)"))
                continue
            # over the limit: said from its length, without building the text (hundreds of MB)
            problem = (_too_large(lengths[i].as_py(), self.max_text_chars) if text[i].is_valid
                       else _text_problem(None, self.text_col, self.max_text_chars))
            rejects.append(self._reject(int(lines[i]), ids[i], problem))
        good = ~bad
        kept = table.filter(pa.array(good))
        drop = [c for c in (self.id_col, "_source", "_line") if c in kept.column_names]
        # ints with nulls stay ints; pandas' stored index is read as the columns it was written from
        # (a named index is a column of the data: set_index("doc").to_parquet() keeps "doc")
        frame = kept.drop_columns(drop).to_pandas(integer_object_nulls=True, ignore_metadata=True)
        frame = frame.drop(columns=[c for c in frame.columns if re.fullmatch(r"__index_level_\d+__", str(c))])
        frame = frame.rename(columns={self.text_col: "text"})
        frame.insert(0, "id", pd.array([ids[i] for i in np.flatnonzero(good)], dtype="str"))
        frame.insert(1, "text", frame.pop("text"))
        frame["_source"] = pd.array([self.source] * len(frame), dtype="str")
        frame["_line"] = pd.array(lines[good], dtype="Int64")
        return _Chunk(n, frame, rejects)


def _stored_range_index(schema, num_rows: int) -> tuple[str, int, int] | None:
    """The name, start and step of a named pandas RangeIndex the file stores: pandas writes
    ``set_index("doc")`` on ids 0, 1, 2, ... (a RangeIndex since pandas 3) into the file's
    metadata only, not as a column; None for any other index (those are columns), and for a range
    that is not one value a row in 64-bit integers (pd.read_parquet ignores it then too)."""
    try:
        stored = schema.pandas_metadata or {}
    except ValueError:  # metadata that is not JSON: written by another tool, no pandas index to restore
        return None
    for entry in stored.get("index_columns") or () if isinstance(stored, dict) else ():
        if not (isinstance(entry, dict) and entry.get("kind") == "range" and isinstance(entry.get("name"), str)):
            continue
        start, stop, step = (entry.get(k) for k in ("start", "stop", "step"))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, stop, step)) or step == 0:
            return None
        values = range(start, stop, step)
        ends = (values[0], values[-1]) if values else ()
        if len(values) != num_rows or any(not -2**63 <= v < 2**63 for v in ends):
            return None
        return entry["name"], start, step
    return None


def _without_bad_utf8(table, source: str = "input"):
    """``table`` with each string that is not valid UTF-8 (a writer that does not check, binary
    stored as string) made null, and ``{row: column}`` of the rows that held one (their first).
    Reading such a value would stop the run with an ArrowException, not reject its row. The cost
    is one validation of the chunk; rows are looked at one by one only in a column that fails."""
    pa = require("pyarrow")
    pc = require("pyarrow.compute")
    try:
        table.validate(full=True)
        return table, {}
    except pa.ArrowInvalid:
        pass
    found: dict[int, str] = {}
    for position, name in enumerate(table.column_names):
        column = table.column(position)
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        array = column.combine_chunks()
        kind = array.type
        if pa.types.is_dictionary(kind) and (pa.types.is_string(kind.value_type)
                                             or pa.types.is_large_string(kind.value_type)):
            values, good_values = _decoded(array.dictionary)
            valid = np.ones(len(array), dtype=bool)
            codes = array.indices.to_numpy(zero_copy_only=False)
            present = ~np.asarray(array.indices.is_null().to_numpy(zero_copy_only=False), dtype=bool)
            valid[present] = good_values[codes[present].astype(np.int64)]
            values = [v if ok else "" for v, ok in zip(values, good_values)]
            indices = pc.if_else(pa.array(valid), array.indices, pa.nulls(len(array), array.indices.type))
            fixed = pa.DictionaryArray.from_arrays(indices, pa.array(values, kind.value_type))
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            valid = _decoded(array)[1]
            fixed = pc.if_else(pa.array(valid), array, pa.nulls(len(array), kind))
        else:  # nested values, a string_view: no row to single out, so the file is named instead
            raise DataError(f"{source}: column {name!r} holds text that is not UTF-8, as Parquet strings must be; "
                            "re-write the file with valid UTF-8")
        for i in np.flatnonzero(~valid):
            found.setdefault(int(i), name)
        table = table.set_column(position, name, pa.chunked_array([fixed], fixed.type))
    return table, found


def _decoded(array) -> tuple[list, np.ndarray]:
    """A string array's values as Python text (read as binary), undecodable ones as None, and
    whether each is valid UTF-8 (a null is)."""
    pa = require("pyarrow")
    raw = array.view(pa.large_binary() if pa.types.is_large_string(array.type) else pa.binary())
    values, valid = [], []
    for value in raw.to_pylist():
        try:
            values.append(None if value is None else value.decode("utf-8"))
            valid.append(True)
        except UnicodeDecodeError:
            values.append(None)
            valid.append(False)
    return values, np.array(valid, dtype=bool)


_SOURCES = {"jsonl": _JsonlSource, "csv": _CsvSource, "parquet": _ParquetSource, "txt": _TxtSource}


def _sources(inputs, *, text_col, id_col, max_text_chars, batch_size, reserved=(), csv_sep=",",
             encoding="utf-8", once_a_run=False, checked=frozenset(), written=()) -> list[_Source]:
    """Validate every input up front, so a bad third file fails before the first batch.
    ``once_a_run``: also what a run needs said or checked once (by :func:`check_inputs` and
    :func:`read_records`, not again as the batches are read): the encoding warning, and a walk of
    the .txt folders for a file reached twice — but not for the inputs in ``checked``, which an
    earlier check of the run said it for. ``written``: the files the run writes (its output and
    rejects), which a .txt folder may hold without their being data left unread."""
    if text_col == id_col:
        raise ValueError(f"text_col and id_col must differ, both are {text_col!r}")
    check_csv_options(csv_sep, encoding)
    sources, seen = [], {}
    paths = _as_paths(inputs)
    for path in paths:
        if os.path.realpath(path) in seen:  # its rows would be labelled, and written, twice
            raise DataError(f"input {path} is given twice (also as {seen[os.path.realpath(path)]})")
        seen[os.path.realpath(path)] = path
    folders = [(os.path.realpath(path), path) for path in paths if os.path.isdir(path)]
    for real, path in seen.items():  # a .txt file or folder inside a folder given too (other files there are not read)
        if not (os.path.isdir(real) or real.lower().endswith(".txt")):
            continue
        inside = next((given for folder, given in folders if real != folder and real.startswith(folder + os.sep)), None)
        if inside is not None:
            raise DataError(f"input {path} is inside the input folder {inside}: its files would be labelled twice")
    read: dict[str, Path] = {}
    walk = once_a_run and any(path not in checked for _, path in folders)  # all of them walked together
    for _, folder in (folders if walk else ()):  # a file linked from two places would be labelled twice
        for file, real in _walk_files(folder, _is_txt_name, broken_links=True):
            if real in read or real in seen:
                raise DataError(f"{file} is the same file as {read.get(real) or seen[real]}: it would be labelled twice")
            read[real] = file
        # a stray README.txt beside part-0.parquet: the folder's data files would go unread, unsaid
        # (not the chunks of a run writing its output into the folder: OUTPUT.partial/, .removing ones)
        # nor the files given as inputs too, nor the run's own output and rejects
        not_data = set(seen) | {os.path.realpath(path) for path in written if not is_stdin(path)}
        data = sorted(within for within, real in ((path_within(file, folder), real) for file, real
                                                  in _walk_files(folder, _is_data_name, broken_links=False))
                      if not any(part.endswith((".partial", ".removing")) for part in within.split("/")[:-1])
                      and real not in not_data)
        if data:
            warnings.warn(f"input folder {folder} is read as its .txt files, one article each; the "
                          f"{len(data):,} data file{'s' if len(data) > 1 else ''} in it ({', '.join(data[:3])}"
                          f"{', ...' if len(data) > 3 else ''}) {'are' if len(data) > 1 else 'is'} not read: to label them, pass "
                          f"them as inputs (e.g. {Path(folder) / ('*' + Path(data[0]).suffix)})",
                          UserWarning, stacklevel=3)
    for path in paths:
        cls = _SOURCES[detect_format(path)]
        say = once_a_run and path not in checked
        if say and cls in (_JsonlSource, _ParquetSource) and _encoding_family(encoding) != "utf-8":
            warnings.warn(f"{path} is read as UTF-8 (JSON and Parquet are UTF-8 by definition): encoding={encoding!r} "
                          "applies to CSV and .txt files only", UserWarning, stacklevel=3)
        elif say and cls in (_CsvSource, _TxtSource) and (garbled := utf8_read_as_other(path, encoding)):
            kind, example = garbled
            warnings.warn(f"{path} looks like UTF-8 (its accented characters are UTF-8 byte sequences) but is read as "
                          f"{encoding}, which garbles them ({example}): leave out --encoding (encoding=) "
                          "if the file is UTF-8" if kind == "utf-8" else
                          f"{path} mixes UTF-8 with another encoding (its start holds both UTF-8 characters and bytes "
                          f"that are not UTF-8), and read as {encoding} its UTF-8 characters are garbled ({example}): "
                          "no one encoding reads it whole; re-save the rows in the other encoding as UTF-8 and leave "
                          "out --encoding (encoding=)", UserWarning, stacklevel=3)
        source = cls(path, text_col=text_col, id_col=id_col,
                     max_text_chars=max_text_chars, batch_size=batch_size)
        source.reserved = tuple(reserved)
        source.csv_sep, source.encoding = csv_sep, encoding
        source.check()
        sources.append(source)
    for source, name in zip(sources, ids_named([source.source for source in sources])):
        source.name = name
        if isinstance(source, _TxtSource) and len(sources) > 1:
            source.id_prefix = folder_id_prefix(name)
    return sources


def folder_id_prefix(named: str) -> str:
    """What a .txt folder's ids start with when it is one of several inputs: its name (as
    :func:`ids_named` gives it) and a slash, as ``FILE:LINE`` ids name their file."""
    return Path(named).as_posix().rstrip("/") + "/"


def ids_named(paths: Sequence[str]) -> list[str]:
    """What each input's rows without an id are named after (``NAME:LINE``): the file's name;
    inputs of one name in several folders (daily folders, say) the paths as given, or their
    ids would repeat. The current folder (``.``) or one above it is named by its own name."""
    names = [os.path.basename(os.path.normpath(path)) for path in paths]
    names = [own if name in (".", "..") and (own := os.path.basename(os.path.abspath(path))) and own not in names
             else name for path, name in zip(paths, names)]  # the folder's own name, unless another input has it
    counts = Counter(names)
    return [path if counts[name] > 1 else name for path, name in zip(paths, names)]


def _join(chunks: list[_Chunk]) -> pd.DataFrame:
    frames = [c.frame for c in chunks if len(c.frame)] or [chunks[0].frame]
    if len(frames) == 1:
        return frames[0]
    # a column some inputs lack is filled with NaN, which would turn integers into floats
    # (12345678901234567 -> 1.2345678901234568e+16): such columns are joined as Python objects
    everywhere = set.intersection(*(set(f.columns) for f in frames))
    frames = [f.astype({c: object for c in f.columns if c not in everywhere and f[c].dtype.kind in "iub"})
              for f in frames]
    frame = pd.concat(frames, ignore_index=True)
    order = [c for c in frame.columns if c not in ("_source", "_line")] + ["_source", "_line"]
    return frame[order]


def _file_sizes(sources: list[_Source]) -> list[int] | None:
    """Each input's size in bytes, or None unless every input is a regular file (a pipe, or a
    folder of .txt files, whose rows count_rows knows anyway)."""
    sizes = []
    for source in sources:
        if is_stdin(source.path) or not os.path.isfile(source.path):
            return None
        sizes.append(os.path.getsize(source.path))
    return sizes if sum(sizes) else None


def _generate(sources: list[_Source], batch_size: int, skip_batches: int) -> Iterator[RecordBatch]:
    index = 0
    remaining = iter(sources)
    current = next(remaining, None)
    sizes = _file_sizes(sources)
    finished_bytes = 0  # of the inputs read to their end

    def fraction() -> float | None:
        if sizes is None:
            return None
        if current is None:
            return 1.0
        share = current.fraction_read()
        return None if share is None else (finished_bytes + share * sizes[sources.index(current)]) / sum(sizes)

    try:
        while current is not None:
            build = index >= skip_batches
            chunks: list[_Chunk] = []
            names: list[str] = []
            need = batch_size
            while need and current is not None:
                chunk = current.take(need, build)
                chunks.append(chunk)
                names.append(current.source)
                if chunk.rows < need:  # this input is exhausted
                    if sizes is not None:
                        finished_bytes += sizes[sources.index(current)]
                    current.close()
                    current = next(remaining, None)
                need -= chunk.rows
            if need == batch_size:
                break
            if build:
                rejects = [r for c in chunks for r in c.rejects]
                yield RecordBatch(index, _join(chunks), rejects, tuple(names), input_fraction=fraction())
            index += 1
    finally:
        if current is not None:
            current.close()


def check_csv_options(csv_sep: str, encoding: str, names: tuple[str, str] = ("csv_sep", "encoding")) -> None:
    """A CSV separator is one character other than a quote or a line end; an encoding is one
    Python knows. ``names`` are what messages call the two (the command line's options there)."""
    if not isinstance(csv_sep, str) or len(csv_sep) != 1 or csv_sep in "\"\r\n":
        hint = " (a tab is '\\t')" if isinstance(csv_sep, str) and csv_sep.strip().lower() == "tab" else ""
        raise DataError(f"{names[0]} must be one character (not a quote or a line end), got {csv_sep!r}{hint}")
    try:
        text_encoding = getattr(codecs.lookup(encoding), "_is_text_encoding", True)
    except (LookupError, TypeError):
        raise DataError(f"unknown {names[1]} {encoding!r} (e.g. utf-8, cp1252, latin-1)") from None
    if not text_encoding:  # rot13, base64, hex: codecs, but not of text
        raise DataError(f"{names[1]} {encoding!r} is not a text encoding (e.g. utf-8, cp1252, latin-1)")
    try:  # files are read with undecodable bytes kept aside, which idna and punycode cannot do (four
        b"\xff\xff\xff\xff".decode(encoding, "surrogateescape")  # bytes no UTF-32 either: ASCII ones are
    except UnicodeError:
        raise DataError(f"{names[1]} {encoding!r} is an encoding of names, not of files (e.g. utf-8, cp1252, "
                        "latin-1)") from None


def check_inputs(inputs, *, text_col: str = "text", id_col: str = "id", reserved: Sequence[str] = (),
                 csv_sep: str = ",", encoding: str = "utf-8", checked=frozenset(), written=()) -> dict[str, str]:
    """Raise DataError now for any input that :func:`iter_batches` would refuse (missing file,
    unknown format, CSV header, Parquet schema, a JSONL file whose first rows lack the text or
    id field), before a run writes anything; ``reserved`` names the output's own columns, which
    no input column may have (a JSONL file whose first rows all have one is refused, a later
    row that has one is rejected). ``checked``: inputs an earlier check of the same run warned
    of already (its warnings are not repeated); ``written``: the files the run writes. Returns
    the other columns the CSV headers and Parquet schemas name, each with its kind
    (:meth:`_Source.carried_kinds`), in input order."""
    columns: dict[str, str] = {}
    for source in _sources(inputs, text_col=text_col, id_col=id_col, max_text_chars=None, batch_size=1,
                           reserved=reserved, csv_sep=csv_sep, encoding=encoding, once_a_run=True,
                           checked=frozenset(checked), written=written):
        for name, kind in source.carried_kinds().items():
            columns[name] = kind if columns.get(name, kind) == kind else "text"  # differing kinds: text, as written
        source.close()
    return columns


def iter_batches(
    inputs,
    *,
    text_col: str = "text",
    id_col: str = "id",
    batch_size: int = 1000,
    max_text_chars: int | None = 1_000_000,
    skip_batches: int = 0,
    csv_sep: str = ",",
    encoding: str = "utf-8",
) -> Iterator[RecordBatch]:
    """Stream ``inputs`` (a path or a list of paths) as :class:`RecordBatch` objects.

    Every input is validated before the first batch (existence, format, CSV header,
    Parquet schema), so a problem with the last file does not surface after hours of work.
    Batch ``k`` covers input rows ``[k * batch_size, (k + 1) * batch_size)`` of the inputs
    read in order; batches may span files. ``skip_batches=n`` resumes after ``n`` batches
    without parsing them (rows are still counted, so the cut stays the same).

    A truncated gzip stream, or a CSV field more than 8 times ``max_text_chars`` (taken as
    an unclosed quote), raises :class:`DataError` naming the file: the batch being built is
    not yielded, so a resumed run never mistakes a partial batch for a done one.
    ``max_text_chars=None`` disables the size limit. ``csv_sep`` is the CSV files' separator and
    ``encoding`` the CSV and .txt files' encoding (a Windows export may be ``cp1252``); JSONL and
    Parquet are UTF-8 by definition.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if skip_batches < 0:
        raise ValueError(f"skip_batches must be 0 or more, got {skip_batches}")
    if max_text_chars is not None and max_text_chars < 0:
        raise ValueError(f"max_text_chars must be 0 or more, got {max_text_chars}")
    sources = _sources(inputs, text_col=text_col, id_col=id_col,
                       max_text_chars=max_text_chars, batch_size=batch_size, csv_sep=csv_sep, encoding=encoding)
    return _generate(sources, batch_size, skip_batches)


def _where(reject: Reject, source: _Source) -> str:
    if reject.line is None:
        return f"file {reject.id}"
    return f"{'row' if isinstance(source, _ParquetSource) else 'line'} {reject.line}"


def read_records(
    path,
    *,
    text_col: str = "text",
    id_col: str = "id",
    columns: Sequence[str] | None = None,
    strict: bool = True,
    csv_sep: str = ",",
    encoding: str = "utf-8",
    ids_named: str | None = None,
    txt_id_prefix: str = "",
) -> pd.DataFrame:
    """Read one whole (small) file, e.g. training data, into a single frame.

    ``columns`` limits the carried input columns to these (``id``, ``text``, ``_source``
    and ``_line`` are always there); asking for one that does not exist is a DataError.
    With ``strict=True`` the first bad row raises DataError naming file, line and problem;
    otherwise bad rows are skipped and counted in a warning on the ``threatclf`` logger.
    ``ids_named``: what a row without an id is named after, ``NAME:LINE`` (by default the
    file's name; one of several inputs of one name is named by its path); ``txt_id_prefix``: what
    a .txt folder's ids start with (its name, where it is one of several inputs).
    """
    source, = _sources(path, text_col=text_col, id_col=id_col, max_text_chars=1_000_000, batch_size=10_000,
                       csv_sep=csv_sep, encoding=encoding, once_a_run=True)
    if ids_named is not None:
        source.name = ids_named
    if isinstance(source, _TxtSource):
        source.id_prefix = txt_id_prefix
    wanted = list(dict.fromkeys(c for c in (columns or ()) if c not in RESERVED_COLUMNS))
    if source.columns is not None:
        missing = [c for c in wanted if c not in source.columns]
        if missing:
            raise DataError(
                f"{source.source}: no column {missing[0]!r}; columns are {source.columns}"
            )
    frames, rejects = [], []
    for batch in _generate([source], 10_000, 0):
        if strict and batch.rejects:
            first = batch.rejects[0]
            raise DataError(f"{first.source}: {_where(first, source)}: {first.reason}")
        frames.append(batch.frame)
        rejects.extend(batch.rejects)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (
        frames[0] if frames else _empty_frame())
    if rejects:
        if not len(frame) and all(r.reason.startswith("missing text field") for r in rejects):
            raise DataError(f"{source.source}: no text field {text_col!r} in any row")
        logger.warning("%s: skipped %d bad rows (first: %s: %s)", source.source,
                       len(rejects), _where(rejects[0], source), rejects[0].reason)
    if columns is not None:
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise DataError(f"{source.source}: no field {missing[0]!r} in any row")
        frame = frame[["id", "text", *wanted, "_source", "_line"]]
    return frame


def count_rows(inputs) -> int | None:
    """Total input rows when cheap to know (Parquet metadata, txt folders), else ``None``.

    Meant for progress bars; JSONL and CSV would need a full read, so they give ``None``.
    """
    total = 0
    for path in _as_paths(inputs):
        fmt = detect_format(path)
        if fmt == "parquet":
            pq = require("pyarrow.parquet")
            with pq.ParquetFile(path) as handle:
                total += handle.metadata.num_rows
        elif fmt == "txt":
            total += sum(1 for _ in txt_file_paths(path))
        else:
            return None
    return total

"""Streaming readers: every input row becomes a record or a reject, in deterministic batches."""
from __future__ import annotations

import gzip
import json
import logging
import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from threatclf.exceptions import DataError
from threatclf.readers import (
    NOT_UTF8,
    NOT_UTF8_TEXT,
    Reject,
    count_rows,
    detect_format,
    check_inputs,
    iter_batches,
    read_records,
)

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def write_lines(path, lines: list[bytes]) -> None:
    data = b"".join(line + b"\n" for line in lines)
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)


def jline(**fields) -> bytes:
    return json.dumps(fields, ensure_ascii=False).encode("utf-8")


def write_csv(path, text: str, raw_tail: bytes = b"") -> None:
    data = text.encode("utf-8") + raw_tail
    if str(path).endswith(".gz"):
        data = gzip.compress(data)
    path.write_bytes(data)


def all_batches(inputs, **kwargs):
    return list(iter_batches(inputs, **kwargs))


def one_batch(inputs, **kwargs):
    batches = all_batches(inputs, batch_size=10_000, **kwargs)
    assert len(batches) == 1
    return batches[0]


def reject_at(batch, line) -> Reject:
    found = [r for r in batch.rejects if r.line == line]
    assert len(found) == 1, batch.rejects
    return found[0]


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.jsonl", "jsonl"),
        ("a.JSONL", "jsonl"),
        ("a.jsonl.gz", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.ndjson.gz", "jsonl"),
        ("a.csv", "csv"),
        ("a.csv.gz", "csv"),
        ("a.parquet", "parquet"),
    ],
)
def test_detect_format_from_extension(tmp_path, name, expected):
    (tmp_path / name).write_bytes(b"")
    assert detect_format(tmp_path / name) == expected


def test_detect_format_folder_of_txt(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("x")
    assert detect_format(tmp_path) == "txt"


def test_a_folder_of_data_files_is_pointed_to_them(tmp_path):
    # Spark and Dask write a dataset as a folder of part files; a folder is read as .txt files
    (tmp_path / "part-1.parquet").write_bytes(b"")
    (tmp_path / "part-0.parquet").write_bytes(b"")
    with pytest.raises(DataError, match=r"holds no .txt files \(a folder is read as one .txt file per article\); it "
                                        r"holds 2 data files \(part-0.parquet, part-1.parquet\): pass them as inputs, "
                                        r"e.g. .*\*.parquet"):
        detect_format(tmp_path)
    (tmp_path / "part-0.parquet").unlink()
    (tmp_path / "part-1.parquet").unlink()
    with pytest.raises(DataError, match=r"holds no .txt files \(a folder is read as one .txt file per article\)$"):
        detect_format(tmp_path)


def test_detect_format_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match="nope.jsonl"):
        detect_format(tmp_path / "nope.jsonl")
    (tmp_path / "data.xlsx").write_bytes(b"")
    with pytest.raises(DataError, match="data.xlsx"):
        detect_format(tmp_path / "data.xlsx")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no .txt files"):
        detect_format(empty)


# --------------------------------------------------------------------------- JSONL


@pytest.mark.parametrize("name", ["in.jsonl", "in.jsonl.gz"])
def test_jsonl_records_carry_every_field(tmp_path, name):
    path = tmp_path / name
    write_lines(path, [
        jline(id="a1", text="a quiet day", title="T1", year=2001),
        jline(id="a2", text="a loud night", title="T2", year=2002),
    ])
    batch = one_batch(path)
    frame = batch.frame
    assert list(frame.columns) == ["id", "text", "title", "year", "_source", "_line"]
    assert frame["id"].tolist() == ["a1", "a2"]
    assert frame["text"].tolist() == ["a quiet day", "a loud night"]
    assert frame["year"].tolist() == [2001, 2002]
    assert frame["_source"].tolist() == [str(path)] * 2
    assert frame["_line"].tolist() == [1, 2]
    assert str(frame["_line"].dtype) == "Int64"
    assert batch.rejects == [] and batch.rows_read == 2


def test_jsonl_every_reject_kind_with_line_and_id(tmp_path):
    path = tmp_path / "mixed.jsonl"
    write_lines(path, [
        jline(id="ok1", text="fine"),                    # 1
        b'{"id": "b2", "text": "broken" "x"}',           # 2 broken JSON
        b"[1, 2]",                                       # 3 not an object
        b"42",                                           # 4 not an object
        jline(id="m5", body="no text here"),             # 5 missing text
        jline(id="n6", text=None),                       # 6 null
        jline(id="i7", text=7),                          # 7 number
        jline(id="l8", text=["a", "b"]),                 # 8 list
        jline(id="d9", text={"a": 1}),                   # 9 dict
        b'{"id": "u10", "text": "caf\xe9"}',             # 10 undecodable (latin-1)
        jline(id="big11", text="x" * 21),                # 11 too large
        b"",                                             # 12 blank: not a row
        b"   \t",                                        # 13 whitespace: not a row
        jline(id="e14", text=""),                        # 14 empty text is kept
        b'{"id": "s15", "text": "bad \\udc80 escape"}',  # 15 lone surrogate
        jline(id="ok16", text="also fine"),              # 16
    ])
    batch = one_batch(path, max_text_chars=20)
    assert batch.rows_read == 14  # 16 physical lines, 2 blank
    assert batch.frame["id"].tolist() == ["ok1", "e14", "ok16"]
    assert batch.frame["_line"].tolist() == [1, 14, 16]
    assert batch.frame["text"].tolist() == ["fine", "", "also fine"]

    broken = reject_at(batch, 2)
    assert broken.reason.startswith("invalid JSON: Expecting")
    assert "(col " in broken.reason and broken.id is None
    assert reject_at(batch, 3).reason == "not a JSON object (list)"
    assert reject_at(batch, 4).reason == "not a JSON object (int)"
    assert reject_at(batch, 5) == Reject(str(path), 5, "m5", "missing text field 'text'")
    assert reject_at(batch, 6).reason == "text is null"
    assert reject_at(batch, 7) == Reject(str(path), 7, "i7", "text is not a string (int)")
    assert reject_at(batch, 8).reason == "text is not a string (list)"
    assert reject_at(batch, 9).reason == "text is not a string (dict)"
    assert reject_at(batch, 10) == Reject(str(path), 10, "u10", NOT_UTF8)
    assert reject_at(batch, 11) == Reject(
        str(path), 11, "big11", "text too large: 21 characters > limit 20")
    assert "surrogate" in reject_at(batch, 15).reason and reject_at(batch, 15).id == "s15"  # the id is readable
    assert len(batch.rejects) == 11


def test_jsonl_ids_fall_back_to_file_and_line(tmp_path):
    path = tmp_path / "ids.jsonl"
    write_lines(path, [
        jline(text="no id"),
        jline(id=7, text="int id"),
        jline(id=None, text="null id"),
        jline(id="", text="empty id"),
        jline(id=3.0, text="integral float id"),
    ])
    frame = one_batch(path).frame
    assert frame["id"].tolist() == ["ids.jsonl:1", "7", "ids.jsonl:3", "ids.jsonl:4", "3"]


def test_jsonl_unusable_id_is_rejected(tmp_path):
    path = tmp_path / "ids.jsonl"
    write_lines(path, [jline(id=["x"], text="list id"), jline(id="k", text="ok")])
    batch = one_batch(path)
    assert batch.frame["id"].tolist() == ["k"]
    assert reject_at(batch, 1).reason == "id is not a string or a number (list)"
    # a number longer than Python reads: said in the data's terms, not as a Python setting to change
    write_lines(path, [b'{"id": "n", "text": "x", "count": ' + b"9" * 5000 + b"}", jline(id="k", text="ok")])
    batch = one_batch(path)
    assert batch.frame["id"].tolist() == ["k"]
    assert reject_at(batch, 1).reason == ("invalid JSON: a number of 5,000 digits, more than a JSON reader takes "
                                          f"({sys.get_int_max_str_digits():,} here): write it as a string")


def test_jsonl_custom_columns_and_bom(tmp_path):
    path = tmp_path / "custom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + jline(uid="u1", body="first") + b"\r\n"
                     + jline(uid="u2", body="second") + b"\r\n")
    frame = one_batch(path, text_col="body", id_col="uid").frame
    assert list(frame.columns) == ["id", "text", "_source", "_line"]
    assert frame["id"].tolist() == ["u1", "u2"]
    assert frame["text"].tolist() == ["first", "second"]


def test_jsonl_row_with_a_clashing_field_is_rejected_not_fatal(tmp_path):
    path = tmp_path / "clash.jsonl"
    write_lines(path, [jline(id="a", body="b", text="c"), jline(id="d", body="e")])
    batch = one_batch(path, text_col="body")
    assert batch.frame["id"].tolist() == ["d"]
    assert [(r.line, r.id) for r in batch.rejects] == [(1, "a")]
    assert "'text' would be overwritten" in batch.rejects[0].reason
    assert batch.rows_read == 2


def test_jsonl_overlong_line_is_rejected_and_reading_goes_on(tmp_path):
    path = tmp_path / "long.jsonl"
    write_lines(path, [
        jline(id="a", text="ok"),
        jline(id="b", text="ok", blob="y" * 200_000),
        jline(id="c", text="ok"),
    ])
    batch = one_batch(path, max_text_chars=10)  # line cap: 12 * 10 + 65,536 bytes
    assert batch.frame["id"].tolist() == ["a", "c"]
    assert batch.frame["_line"].tolist() == [1, 3]
    assert reject_at(batch, 2).reason.startswith("line too large")
    assert reject_at(batch, 2).id == "b"  # named first in its object: read off the line's start


def test_an_overlong_line_names_its_id_only_where_its_start_shows_it_is_the_objects_own(tmp_path):
    path = tmp_path / "long.jsonl"
    blob = "y" * 200_000
    write_lines(path, [
        b'{"id": 7, "text": "ok", "blob": "' + blob.encode() + b'"}',
        b'{ "id" : "caf\\u00e9 \\"x\\"", "blob": "' + blob.encode() + b'"}',
        b'{"meta": {"id": "inner"}, "id": "outer", "blob": "' + blob.encode() + b'"}',  # not first: unknown
        b'{"blob": "' + blob.encode() + b'", "id": "late"}',
        jline(uid="u5", text="ok", blob=blob),
    ])
    batch = one_batch(path, max_text_chars=10)
    assert [reject_at(batch, k).id for k in range(1, 6)] == ["7", 'caf\u00e9 "x"', None, None, None]
    assert reject_at(one_batch(path, max_text_chars=10, id_col="uid"), 5).id == "u5"


def test_a_text_within_the_limit_is_read_however_json_escapes_it(tmp_path):
    # json.dumps's default writes an emoji as a 12-byte surrogate pair escape
    path = tmp_path / "escaped.jsonl"
    text = "\U0001F600" * 100_000
    write_lines(path, [json.dumps({"id": "a", "text": text}).encode("ascii")])
    batch = one_batch(path, max_text_chars=len(text))
    assert batch.frame["text"].tolist() == [text] and not batch.rejects


def test_truncated_gzip_raises_after_yielding_complete_batches(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    lines = [jline(id=f"r{i}", text=f"item number {i} " * 20) for i in range(2000)]
    data = gzip.compress(b"\n".join(lines) + b"\n")
    path.write_bytes(data[: len(data) * 2 // 3])
    seen = []
    with pytest.raises(DataError, match="cut.jsonl.gz.*truncated"):
        for batch in iter_batches(path, batch_size=100):
            seen.append(batch)
    assert seen and all(b.rows_read == 100 for b in seen)
    assert seen[-1].index == len(seen) - 1


def test_file_named_gz_that_is_not_gzip(tmp_path):
    path = tmp_path / "plain.jsonl.gz"
    write_lines(path.with_suffix(""), [jline(text="x")])
    path.write_bytes(path.with_suffix("").read_bytes())
    with pytest.raises(DataError, match="plain.jsonl.gz is not a gzip file"):
        iter_batches(path)


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("name", ["in.csv", "in.csv.gz"])
def test_csv_quoted_newlines_and_physical_start_lines(tmp_path, name):
    path = tmp_path / name
    write_csv(path, (
        "id,text,topic\n"
        'c1,"two\nlines, and ""quotes""",alpha\n'   # lines 2-3
        "c2,short,beta\n"                            # line 4
        '"c3","three\n\nlines",\n'                   # lines 5-7
    ))
    batch = one_batch(path)
    frame = batch.frame
    assert list(frame.columns) == ["id", "text", "topic", "_source", "_line"]
    assert frame["id"].tolist() == ["c1", "c2", "c3"]
    assert frame["text"].tolist() == ['two\nlines, and "quotes"', "short", "three\n\nlines"]
    assert frame["topic"].tolist() == ["alpha", "beta", ""]
    assert frame["_line"].tolist() == [2, 4, 5]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_csv_lines_are_physical_lines_with_a_lone_cr_inside_a_field(tmp_path, end):
    # a CR alone inside a quoted field (an old Mac text in a cell) does not end a line for grep,
    # sed or the JSONL reader; line ends of CR alone (an old Mac file) do
    path = tmp_path / "cr.csv"
    path.write_bytes(end.join(["id,text", 'a,"Old Mac text\rsecond paragraph"', ",no id on this row",
                               "b,too,many", 'c,"x\ry\rz"']).encode() + end.encode())
    batch = one_batch(path)
    assert batch.frame["id"].tolist() == ["a", "cr.csv:3", "c"]
    assert batch.frame["_line"].tolist() == [2, 3, 5]
    assert reject_at(batch, 4).reason == "CSV row has 3 fields, header has 2"


def test_csv_rejects_and_fallback_ids(tmp_path):
    path = tmp_path / "bad.csv"
    write_csv(path, (
        "text,id,topic\n"
        "fine,k2,a\n"              # 2
        "too,many,fields,here\n"   # 3
        "too few\n"                # 4
        "\n"                       # 5 blank: not a row
        ",k6,empty text kept\n"    # 6
        "no id here,,b\n"          # 7
        "xxxxxxxxxxxxxxxxxxxxxxx,k8,c\n"  # 8 too large
    ), raw_tail=b"caf\xe9,k9,d\n" + b"after,k10,e\n")  # 9 undecodable, 10 fine
    batch = one_batch(path, max_text_chars=20)
    assert batch.rows_read == 8  # 9 lines after the header, 1 blank
    assert batch.frame["id"].tolist() == ["k2", "k6", "bad.csv:7", "k10"]
    assert batch.frame["text"].tolist() == ["fine", "", "no id here", "after"]
    assert batch.frame["_line"].tolist() == [2, 6, 7, 10]
    assert reject_at(batch, 3).reason == "CSV row has 4 fields, header has 3"
    assert reject_at(batch, 4).reason == "CSV row has 1 fields, header has 3"
    assert reject_at(batch, 8) == Reject(
        str(path), 8, "k8", "text too large: 23 characters > limit 20")
    assert reject_at(batch, 9) == Reject(str(path), 9, "k9", NOT_UTF8_TEXT)
    assert len(batch.rejects) == 4


def test_csv_field_over_default_csv_limit(tmp_path):
    path = tmp_path / "big.csv"
    write_csv(path, f"id,text\nsmall,{'a' * 150_000}\nlarge,{'b' * 300_000}\n")
    batch = one_batch(path, max_text_chars=200_000)
    assert batch.frame["id"].tolist() == ["small"]
    assert len(batch.frame["text"][0]) == 150_000
    assert reject_at(batch, 3).reason == "text too large: 300,000 characters > limit 200,000"


def test_csv_unclosed_quote_swallowing_the_file_is_an_error(tmp_path):
    path = tmp_path / "unclosed.csv"
    write_csv(path, 'id,text\nq1,"starts but never ends\n' + "more words\n" * 20_000)
    with pytest.raises(DataError, match=r"unclosed.csv: line 2"):
        all_batches(path, max_text_chars=10)


def test_csv_quote_left_open_at_the_end_of_the_file_is_an_error(tmp_path):
    # A short file: the open field never grows past the size limit, it just ends.
    path = tmp_path / "tail.csv"
    write_csv(path, 'id,text\n1,"unclosed\n2,ok\n')
    with pytest.raises(DataError, match=r"tail.csv: line 2: cannot parse CSV"):
        all_batches(path)


def test_csv_quote_that_opens_only_part_of_a_field_says_how_to_quote_it(tmp_path):
    path = tmp_path / "handmade.csv"
    write_csv(path, 'id,text\n1,"Breaking" news: a bomb exploded\n2,ok\n')
    with pytest.raises(DataError, match=r"handmade.csv: line 2: cannot parse CSV .*; a field that begins with a "
                                        r"quote must be quoted whole, with a quote inside it doubled"):
        all_batches(path)


def test_jsonl_integers_keep_their_precision_when_a_row_lacks_the_field(tmp_path):
    path = tmp_path / "ints.jsonl"
    write_lines(path, [b'{"id": "a", "text": "x", "n": 12345678901234567}', b'{"id": "b", "text": "y"}'])
    assert one_batch(path).frame["n"].tolist() == [12345678901234567, None]


def test_parquet_integers_with_nulls_keep_their_precision(tmp_path):
    path = tmp_path / "ints.parquet"
    pq.write_table(pa.table({"text": ["x", "y"], "n": pa.array([9007199254740993, None], pa.int64())}), path)
    assert one_batch(path).frame["n"].tolist() == [9007199254740993, None]


def test_csv_header_problems(tmp_path):
    path = tmp_path / "cols.csv"
    write_csv(path, "id,body\n1,x\n")
    with pytest.raises(DataError, match=r"cols.csv.*'text'.*\['id', 'body'\]"):
        iter_batches(path)
    blank = tmp_path / "blank.csv"
    write_csv(blank, "\nid,text\n1,x\n")
    with pytest.raises(DataError, match="blank.csv: its first line is blank: the header row must come first"):
        iter_batches(blank)
    excel = tmp_path / "excel.csv"
    write_csv(excel, "sep=;\n")
    with pytest.raises(DataError, match="excel.csv: no header row after its 'sep=' line"):
        iter_batches(excel)
    clash = tmp_path / "clash.csv"
    write_csv(clash, "uid,id,text\n1,2,x\n")
    with pytest.raises(DataError, match="'id'"):
        iter_batches(clash, id_col="uid")


# --------------------------------------------------------------------------- Parquet


def test_parquet_records_rejects_and_row_numbers(tmp_path):
    path = tmp_path / "in.parquet"
    table = pa.table({
        "id": pa.array([10, None, 12, 13, 14], pa.int64()),
        "text": ["first", "second", None, "x" * 30, ""],
        "score": [0.5, 1.5, 2.5, 3.5, 4.5],
    })
    pq.write_table(table, path, row_group_size=2)
    batch = one_batch(path, max_text_chars=20)
    frame = batch.frame
    assert list(frame.columns) == ["id", "text", "score", "_source", "_line"]
    assert frame["id"].tolist() == ["10", "in.parquet:2", "14"]
    assert frame["text"].tolist() == ["first", "second", ""]
    assert frame["score"].tolist() == [0.5, 1.5, 4.5]
    assert frame["_line"].tolist() == [1, 2, 5]
    assert batch.rejects == [
        Reject(str(path), 3, "12", "text is null"),
        Reject(str(path), 4, "13", "text too large: 30 characters > limit 20"),
    ]


def test_parquet_schema_problems(tmp_path):
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"id": ["a"], "body": ["x"]}), path)
    with pytest.raises(DataError, match=r"bad.parquet.*'text'.*\['id', 'body'\]"):
        iter_batches(path)
    numbers = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), numbers)
    with pytest.raises(DataError, match="numbers.parquet.*int64"):
        iter_batches(numbers)


@pytest.mark.parametrize("duplicated", ["note", "text"])
def test_parquet_duplicate_column_names_are_refused(tmp_path, duplicated):
    # pandas would keep one of the two columns, silently
    path = tmp_path / "dupes.parquet"
    table = pa.Table.from_arrays([pa.array(["a"]), pa.array(["x"]), pa.array(["first"]), pa.array(["second"])],
                                 names=["id", "text", "note", duplicated])
    pq.write_table(table, path)
    with pytest.raises(DataError, match=rf"dupes.parquet: duplicate Parquet column names \['{duplicated}'\]"):
        iter_batches(path)


def test_parquet_batches_across_row_groups_and_skip(tmp_path):
    path = tmp_path / "groups.parquet"
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(23)],
                             "text": [f"t{i}" for i in range(23)]}), path, row_group_size=4)
    full = all_batches(path, batch_size=5)
    assert [b.rows_read for b in full] == [5, 5, 5, 5, 3]
    assert full[3].frame["id"].tolist() == ["p15", "p16", "p17", "p18", "p19"]
    resumed = all_batches(path, batch_size=5, skip_batches=3)
    assert [b.index for b in resumed] == [3, 4]
    pd.testing.assert_frame_equal(resumed[0].frame, full[3].frame)
    assert resumed[1].frame["_line"].tolist() == [21, 22, 23]


def test_parquet_memory_stays_bounded_across_row_groups(tmp_path):
    # pyarrow keeps pre-buffered row groups until a file's batches end: the reader must not
    # pre-buffer, or memory grows with the file (a 5 GB Parquet corpus held whole)
    path = tmp_path / "many-groups.parquet"
    letters = np.random.default_rng(0).integers(97, 123, size=(5000, 2000), dtype=np.uint8)
    texts = [row.tobytes().decode() for row in letters]  # incompressible: the file is as large as its text
    pq.write_table(pa.table({"id": [f"p{i}" for i in range(5000)], "text": texts}), path, row_group_size=50)
    peak = 0
    for batch in iter_batches(path, batch_size=50):
        peak = max(peak, pa.total_allocated_bytes())
    assert peak < path.stat().st_size / 2, (peak, path.stat().st_size)


# --------------------------------------------------------------------------- txt folders


def test_txt_folder(tmp_path):
    root = tmp_path / "docs"
    (root / "b").mkdir(parents=True)
    (root / "b" / "two.txt").write_text("second file", encoding="utf-8")
    (root / "a.txt").write_text("first file", encoding="utf-8")
    (root / "c.txt").write_bytes(b"caf\xe9")
    (root / "d.txt").write_bytes(b"")
    (root / "e.txt").write_text("y" * 30, encoding="utf-8")
    (root / "notes.md").write_text("not a text file")
    batch = one_batch(root, max_text_chars=20)
    assert batch.rows_read == 5
    assert batch.frame["id"].tolist() == ["a.txt", "b/two.txt", "d.txt"]
    assert batch.frame["text"].tolist() == ["first file", "second file", ""]
    assert batch.frame["_line"].isna().all()
    assert batch.rejects == [
        Reject(str(root), None, "c.txt", NOT_UTF8_TEXT),
        Reject(str(root), None, "e.txt", "text too large: 30 characters > limit 20"),
    ]
    assert count_rows(root) == 5


# --------------------------------------------------------------------------- batching


def numbered_jsonl(path, n, bad_every=0):
    lines = []
    for i in range(n):
        if bad_every and i % bad_every == 0:
            lines.append(b"{oops")
        else:
            lines.append(jline(id=f"r{i}", text=f"text {i}"))
    write_lines(path, lines)


def test_batches_are_cut_by_input_rows_including_rejects(tmp_path):
    path = tmp_path / "rows.jsonl"
    numbered_jsonl(path, 10, bad_every=4)  # rows 0, 4, 8 broken
    batches = all_batches(path, batch_size=3)
    assert [b.index for b in batches] == [0, 1, 2, 3]
    assert [b.rows_read for b in batches] == [3, 3, 3, 1]
    assert [len(b.rejects) for b in batches] == [1, 1, 1, 0]
    assert batches[1].frame["id"].tolist() == ["r3", "r5"]
    assert [r.line for b in batches for r in b.rejects] == [1, 5, 9]


@pytest.mark.parametrize("skip", [0, 1, 2, 3, 4, 5])
def test_skip_batches_gives_the_same_batches(tmp_path, skip):
    path = tmp_path / "rows.jsonl"
    numbered_jsonl(path, 10, bad_every=4)
    full = all_batches(path, batch_size=3)
    resumed = all_batches(path, batch_size=3, skip_batches=skip)
    assert [b.index for b in resumed] == [b.index for b in full[skip:]]
    for got, want in zip(resumed, full[skip:]):
        pd.testing.assert_frame_equal(got.frame, want.frame)
        assert got.rejects == want.rejects


def test_multiple_inputs_continue_numbering_and_batches_span_files(tmp_path):
    first = tmp_path / "one.jsonl"
    write_lines(first, [jline(id=f"j{i}", text="j") for i in range(5)])
    second = tmp_path / "two.csv"
    write_csv(second, "id,text\n" + "".join(f"c{i},c\n" for i in range(4)))
    batches = all_batches([first, second], batch_size=3)
    assert [b.index for b in batches] == [0, 1, 2]
    assert [b.rows_read for b in batches] == [3, 3, 3]
    spanning = batches[1].frame
    assert spanning["id"].tolist() == ["j3", "j4", "c0"]
    assert spanning["_source"].tolist() == [str(first)] * 2 + [str(second)]
    assert spanning["_line"].tolist() == [4, 5, 2]
    assert list(spanning.columns)[-2:] == ["_source", "_line"]
    resumed = all_batches([first, second], batch_size=3, skip_batches=2)
    assert [b.index for b in resumed] == [2]
    pd.testing.assert_frame_equal(resumed[0].frame, batches[2].frame)


def test_inputs_are_validated_before_the_first_batch(tmp_path):
    good = tmp_path / "good.jsonl"
    write_lines(good, [jline(text="x")])
    with pytest.raises(DataError, match="missing.csv"):
        iter_batches([good, tmp_path / "missing.csv"])
    with pytest.raises(DataError, match="no input files"):
        iter_batches([])


def test_empty_file_gives_no_batches(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"\n\n")
    assert all_batches(path) == []
    # a CSV file with no line at all (a day's empty export) is no rows too, not a file without its header
    for name, content in (("empty.csv", b""), ("bom.csv", b"\xef\xbb\xbf")):
        (tmp_path / name).write_bytes(content)
        check_inputs([tmp_path / name])
        check_inputs([tmp_path / name])
    (tmp_path / "day.csv").write_text("id,text\n1,A bomb exploded.\n")
    batches = all_batches([tmp_path / "empty.csv", tmp_path / "day.csv"])
    assert [frame["id"].tolist() for frame in (b.frame for b in batches)] == [["1"]]


# --------------------------------------------------------------------------- read_records


def test_read_records_strict_names_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    write_lines(path, [jline(id="a", text="ok"), b"", jline(id="b", text=5)])
    with pytest.raises(DataError, match=r"train.jsonl: line 3: text is not a string \(int\)"):
        read_records(path)


def test_read_records_lenient_skips_and_warns(tmp_path, caplog):
    path = tmp_path / "train.jsonl"
    write_lines(path, [jline(id="a", text="ok", labels=["x"]), b"{",
                       jline(id="c", text="ok too", labels=[])])
    with caplog.at_level(logging.WARNING, logger="threatclf"):
        frame = read_records(path, columns=["labels"], strict=False)
    assert list(frame.columns) == ["id", "text", "labels", "_source", "_line"]
    assert frame["id"].tolist() == ["a", "c"]
    assert frame["labels"].tolist() == [["x"], []]
    assert "skipped 1 bad rows" in caplog.text


def test_read_records_missing_columns(tmp_path):
    csv_path = tmp_path / "train.csv"
    write_csv(csv_path, "id,text\n1,x\n")
    with pytest.raises(DataError, match=r"train.csv: no column 'labels'"):
        read_records(csv_path, columns=["labels"])
    jsonl_path = tmp_path / "train.jsonl"
    write_lines(jsonl_path, [jline(id="1", body="x")])
    with pytest.raises(DataError, match=r"train.jsonl: no text field 'text' in its first rows; their fields are \['body', 'id'\]"):
        read_records(jsonl_path, strict=False)
    write_lines(jsonl_path, [jline(id="1", text="x")])
    with pytest.raises(DataError, match="no field 'labels'"):
        read_records(jsonl_path, columns=["labels"])


def test_read_records_parquet_says_row(tmp_path):
    path = tmp_path / "train.parquet"
    pq.write_table(pa.table({"text": ["a", None]}), path)
    with pytest.raises(DataError, match="train.parquet: row 2: text is null"):
        read_records(path)


# --------------------------------------------------------------------------- misc


def test_count_rows(tmp_path):
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"]}), one)
    pq.write_table(pa.table({"text": ["d"]}), two)
    assert count_rows([one, two]) == 4
    jsonl = tmp_path / "x.jsonl"
    write_lines(jsonl, [jline(text="a")])
    assert count_rows([one, jsonl]) is None


def test_reject_to_dict():
    reject = Reject("in.jsonl", 3, None, "invalid JSON: x")
    assert reject.to_dict() == {
        "source": "in.jsonl", "line": 3, "id": None, "reason": "invalid JSON: x"}
    assert json.loads(json.dumps(reject.to_dict())) == reject.to_dict()


def test_parquet_strings_that_are_not_utf8_reject_their_rows(tmp_path):
    # writers that do not check (binary stored as string): reading one stopped the run with an ArrowException
    def strings(values):
        return pa.array(values, pa.binary()).view(pa.string())

    path = tmp_path / "bytes.parquet"
    pq.write_table(pa.table({"id": strings([b"a", b"b\xff", b"c", b"d"]),
                             "text": strings([b"A bomb.", b"fine", b"caf\xe9", b"Rain."]),
                             "note": strings([b"x", b"y", b"z", b"\xed\xa0\x80"])}), path)
    batch = one_batch(path)
    assert batch.frame["id"].tolist() == ["a"] and batch.frame["note"].tolist() == ["x"]
    assert [(r.line, r.id, r.reason.split(" holds")[0]) for r in batch.rejects] == [
        (2, None, "column 'id'"), (3, "c", "column 'text'"), (4, "d", "column 'note'")]
    assert all("not UTF-8" in r.reason for r in batch.rejects)


def test_a_txt_file_loses_its_byte_order_mark_and_nothing_more(tmp_path):
    import codecs

    utf8, utf16 = tmp_path / "utf8", tmp_path / "utf16"
    utf8.mkdir()
    utf16.mkdir()
    (utf8 / "a.txt").write_bytes(codecs.BOM_UTF8 + "\ufeffJoined first.".encode("utf-8"))  # the text's own U+FEFF
    (utf8 / "b.txt").write_bytes(codecs.BOM_UTF8 + b"Marked.")
    (utf16 / "c.txt").write_bytes(codecs.BOM_UTF16_LE + "Sixteen.".encode("utf-16-le"))
    for encoding in ("utf-8", "utf-8-sig"):  # offsets count from after the mark
        assert one_batch(utf8, encoding=encoding).frame["text"].tolist() == ["\ufeffJoined first.", "Marked."]
    for encoding in ("utf-16", "utf-16-le"):  # the second keeps the mark as a character: dropped
        assert one_batch(utf16, encoding=encoding).frame["text"].tolist() == ["Sixteen."]
    (utf16 / "c.txt").write_bytes(codecs.BOM_UTF16_LE + "\ufeffOwn.".encode("utf-16-le"))
    for encoding in ("utf-16", "utf-16-le"):
        assert one_batch(utf16, encoding=encoding).frame["text"].tolist() == ["\ufeffOwn."]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-32"])
def test_a_txt_file_at_the_length_limit_is_read_whatever_its_byte_order_mark(tmp_path, encoding):
    # the size check before reading did not count the mark: ten 4-byte characters after it were "too large"
    (tmp_path / "a.txt").write_text("\U0001f4a3" * 10, encoding=encoding)
    (tmp_path / "b.txt").write_text("\U0001f4a3" * 11, encoding=encoding)
    batch = one_batch(tmp_path, encoding=encoding, max_text_chars=10)
    assert batch.frame["text"].tolist() == ["\U0001f4a3" * 10]
    assert [r.id for r in batch.rejects] == ["b.txt"] and "over the limit of 10 characters" in batch.rejects[0].reason


def test_a_txt_file_in_utf_16_without_a_mark_is_rejected_with_the_encoding_to_pass(tmp_path):
    # read as UTF-8 it was labelled as text of zero bytes between letters: no label, no word said
    (tmp_path / "le.txt").write_bytes("A bomb exploded in Kabul.\n".encode("utf-16-le"))
    (tmp_path / "be.txt").write_bytes("Police seized cocaine.".encode("utf-16-be"))
    (tmp_path / "nul.txt").write_bytes(b"Some text\x00 with one zero byte.")
    batch = one_batch(tmp_path)
    assert batch.frame["id"].tolist() == ["nul.txt"]
    assert {r.id: r.reason for r in batch.rejects} == {
        f"{order}.txt": "a zero byte beside each character (it looks like UTF-16 without a byte-order mark: pass "
                        f"--encoding utf-16-{order}; plain utf-16 needs the mark)" for order in ("le", "be")}
    assert "le.txt" in one_batch(tmp_path, encoding="utf-16-le").frame["id"].tolist()  # and read so


def test_a_txt_link_to_a_file_that_is_gone_is_rejected_not_skipped(tmp_path):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "a.txt").write_text("a bomb threat")
    (root / "b.txt").symlink_to(tmp_path / "gone.txt")
    batch = one_batch(root)
    assert batch.rows_read == 2 and batch.frame["id"].tolist() == ["a.txt"]
    (reject,) = batch.rejects
    assert reject.id == "b.txt" and reject.reason.startswith("cannot read file")


def test_an_empty_gzip_file_is_an_error_not_an_empty_input(tmp_path):
    (tmp_path / "cut.jsonl.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"cut.jsonl.gz is empty, which no gzip file is"):
        iter_batches(tmp_path / "cut.jsonl.gz")


def test_encodings_of_names_are_refused_up_front(tmp_path):
    (tmp_path / "a.csv").write_text("id,text\n1,x\n")
    for name in ("idna", "punycode"):
        with pytest.raises(DataError, match=f"encoding '{name}' is an encoding of names, not of files"):
            iter_batches(tmp_path / "a.csv", encoding=name)


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le", "utf-32-be"])
def test_utf_32_files_are_read_with_the_encoding_the_error_advises(tmp_path, encoding):
    # refused as "an encoding of names": the check decoded four ASCII bytes, which are no UTF-32 character
    path = tmp_path / "wide.csv"
    path.write_text('id,text\n1,Bomb blast in Kabul\n2,"Police, ""seized"" cocaine"\n', encoding=encoding)
    rows = pd.concat([b.frame for b in iter_batches(path, encoding=encoding)])
    assert rows["text"].tolist() == ["Bomb blast in Kabul", 'Police, "seized" cocaine'] and rows["id"].tolist() == ["1", "2"]


def test_a_csv_field_too_long_to_read_names_the_option_that_allows_it(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("id,text\n1,short\n2," + "x" * 200_000 + "\n3,ok\n")
    with pytest.raises(DataError, match=r"long.csv: line 3: cannot parse CSV .* raise --max-text-chars"):
        list(iter_batches(path, max_text_chars=1000))
    rows = [len(t) for b in iter_batches(path, max_text_chars=30_000) for t in b.frame["text"]]
    assert rows == [5, 2]  # read, and the long text rejected by size


def test_gzip_on_standard_input_is_told_by_two_bytes_even_when_one_comes_first(monkeypatch):
    # a producer whose first write is one byte: a peek would see b"\x1f" alone and read gzip as text
    import os
    import threading
    import time

    from threatclf import readers

    packed = gzip.compress(b'{"text": "A bomb exploded."}\n')
    read_end, write_end = os.pipe()
    monkeypatch.setattr(readers, "_stdin_descriptor", lambda: read_end)

    def produce():
        os.write(write_end, packed[:1])
        time.sleep(0.5)  # the reader is waiting by now
        os.write(write_end, packed[1:])
        os.close(write_end)

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        with readers._open_binary("-") as stream:
            assert stream.read() == b'{"text": "A bomb exploded."}\n'
    finally:
        producer.join()
        os.close(read_end)


@pytest.mark.parametrize("write, said", [
    (lambda p: p.write_bytes(gzip.compress(b'{"id": "1", "text": "x"}\n')), r"is gzip-compressed .*\(.jsonl.gz\)"),
    (lambda p: pq.write_table(pa.table({"text": ["x"]}), p), "is a Parquet file .*name it .parquet"),
    (lambda p: __import__("zipfile").ZipFile(p, "w").writestr("corpus.jsonl", '{"text": "x"}\n'),
     "is a zip archive .*unpack it first"),
])
def test_a_jsonl_name_on_another_format_is_refused_up_front(tmp_path, write, said):
    path = tmp_path / "corpus.jsonl"
    write(path)
    with pytest.raises(DataError, match=rf"corpus.jsonl {said}"):
        read_records(path)


@pytest.mark.parametrize("name, write, said", [
    ("corpus.csv", lambda p: p.write_bytes(gzip.compress(b"id,text\n1,x\n")), r"is gzip-compressed .*\(.csv.gz\)"),
    ("corpus.csv", lambda p: pq.write_table(pa.table({"text": ["x"]}), p), "is a Parquet file .*name it .parquet"),
    ("corpus.csv.gz", lambda p: p.write_bytes(gzip.compress(gzip.compress(b"id,text\n1,x\n"))),
     "is compressed twice .*decompress it once"),
])
def test_a_csv_name_on_another_format_is_refused_naming_the_format_not_the_encoding(tmp_path, name, write, said):
    # curl saves a gzip download under the name given, without --compressed: "not valid utf-8" misled
    path = tmp_path / name
    write(path)
    with pytest.raises(DataError, match=rf"{name}: this {said}"):
        read_records(path)


def test_a_csv_named_jsonl_is_refused_up_front_not_rejected_line_by_line(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text("id\ttext\n" + "".join(f"{i}\tpassage {i}\n" for i in range(20)))
    with pytest.raises(DataError, match=r"corpus.jsonl: none of its 21 lines is JSON, so it is not JSONL; its "
                                        r"first line begins 'id\\ttext' \(a tab-separated file\? Name it .csv"):
        read_records(path)
    # a few broken lines at the start of a real JSONL file are rejected one by one, as before
    write_lines(path, [b"{broken", b"also broken", jline(id="1", text="x")])
    assert read_records(path, strict=False)["text"].tolist() == ["x"]
    # JSON that is not one object a line is told apart from a CSV
    path.write_text(json.dumps([{"id": i, "text": f"t{i}"} for i in range(10)], indent=2))
    with pytest.raises(DataError, match=r"a JSON array or JSON spread over lines\? JSONL holds one object a line: "
                                        r"jq -c '\.\[\]' FILE"):
        read_records(path)
    path.write_text("".join(json.dumps({"id": i, "text": f"t{i}"}, indent=2) + "\n" for i in range(3)))
    with pytest.raises(DataError, match=r"JSONL holds one object a line: jq -c \. FILE"):
        read_records(path)
    # Latin-1 bytes in JSONL are rows to reject (undecodable), not a sign of a CSV
    write_lines(path, [json.dumps({"id": str(i), "text": "caf\u00e9"}).encode("latin-1").replace(b"\\u00e9", b"\xe9")
                       for i in range(8)])
    with pytest.raises(DataError, match="line 1: undecodable"):
        read_records(path)


def test_null_output_fields_in_the_first_rows_are_absent_but_a_null_text_field_is_not(tmp_path):
    path = tmp_path / "in.jsonl"
    from threatclf.readers import check_inputs

    write_lines(path, [jline(id=str(i), text="x", labels=None, evidence=None) for i in range(5)])
    check_inputs([path], reserved=("labels", "evidence"))
    write_lines(path, [jline(id=str(i), text="x", labels=[], evidence=None) for i in range(5)])
    with pytest.raises(DataError, match="field 'labels' would be overwritten"):
        check_inputs([path], reserved=("labels", "evidence"))
    write_lines(path, [jline(id=str(i), body="x", text=None) for i in range(5)])
    with pytest.raises(DataError, match="field 'text' would be overwritten by the output's 'text' column"):
        check_inputs([path], text_col="body")


# --------------------------------------------------------------------------- limits, at the boundary

def test_a_text_of_exactly_max_text_chars_is_read_and_one_more_is_rejected(tmp_path):
    jsonl, csv = tmp_path / "a.jsonl", tmp_path / "b.csv"
    write_lines(jsonl, [jline(id="exact", text="x" * 10), jline(id="over", text="x" * 11)])
    csv.write_text("id,text\nexact," + "x" * 10 + "\nover," + "x" * 11 + "\n")
    for path in (jsonl, csv):
        batch = one_batch(path, max_text_chars=10)
        assert batch.frame["id"].tolist() == ["exact"]
        assert [r.reason for r in batch.rejects] == ["text too large: 11 characters > limit 10"]


def test_nesting_is_refused_beyond_100_levels_not_at_100(tmp_path):
    def nested(levels):
        value = "x"
        for _ in range(levels):
            value = [value]
        return value

    path = tmp_path / "deep.jsonl"
    write_lines(path, [jline(id="100", text="t", f=nested(99)), jline(id="101", text="t", f=nested(101))])
    batch = one_batch(path)
    assert batch.frame["id"].tolist() == ["100"]
    assert reject_at(batch, 2).reason == "a field is nested more than 100 levels deep"


def test_a_line_of_exactly_the_cap_is_read_and_so_is_the_next(tmp_path):
    path = tmp_path / "cap.jsonl"
    cap = 1 << 16  # the line cap with max_text_chars=0
    base = json.dumps({"id": "first", "text": "", "pad": ""})
    line = base[:-2] + "p" * (cap - 1 - len(base)) + '"}'
    assert len(line) + 1 == cap
    write_lines(path, [line.encode(), jline(id="second", text="")])
    batch = one_batch(path, max_text_chars=0)
    assert batch.frame["id"].tolist() == ["first", "second"] and not batch.rejects


def test_five_lines_none_of_them_json_are_no_jsonl_file(tmp_path):
    path = tmp_path / "e.jsonl"
    path.write_text("a,b\n" * 6)
    with pytest.raises(DataError, match="e.jsonl: none of its 6 lines is JSON, so it is not JSONL"):
        all_batches(path)
    path.write_text("a,b\n" * 6 + '{"text": "x"}\n')  # a JSON row among the first: bad rows to reject
    assert all_batches(path)[0].frame["text"].tolist() == ["x"]


def test_a_short_csv_named_jsonl_is_refused_but_one_cut_off_json_line_is_a_row_to_reject(tmp_path):
    path = tmp_path / "short.jsonl"
    path.write_text("id,text\n1,hello there\n2,foo bar\n")
    with pytest.raises(DataError, match=r"short.jsonl: none of its 3 lines is JSON, so it is not JSONL; its first "
                                        r"line begins 'id,text' \(a CSV\? Name it .csv"):
        read_records(path)
    path.write_text("id;text\n")
    with pytest.raises(DataError, match=r"short.jsonl: its only line is not JSON, so it is not JSONL; its first line begins 'id;text'"):
        read_records(path)
    path.write_text('{"id": "1", "text": "cut off he')  # JSON that ends early: that row is rejected, as before
    batch = one_batch(path)
    assert batch.frame.empty and [r.reason for r in batch.rejects] == [
        "invalid JSON: Unterminated string starting at (col 21)"]


@pytest.mark.parametrize("lines, said", [
    (["id,text"] + [f"{i},passage {i}" for i in range(10)], "none of its first 5 lines is JSON"),
    (["id,text", "1,passage"], "none of its 2 lines is JSON"),
])
def test_a_csv_on_standard_input_is_refused_as_no_jsonl(monkeypatch, lines, said):
    import os

    from threatclf import readers

    read_end, write_end = os.pipe()
    os.write(write_end, "".join(line + "\n" for line in lines).encode())
    os.close(write_end)
    monkeypatch.setattr(readers, "_stdin_descriptor", lambda: read_end)
    with pytest.raises(DataError, match=rf"<stdin>: {said}, so it is not JSONL; its first line begins 'id,text' "
                                        r"\(a CSV\? Standard input is read as JSONL: give the file's name instead\)"):
        all_batches("-")


def test_bad_lines_on_standard_input_after_a_json_one_are_rows_to_reject(monkeypatch):
    import os

    from threatclf import readers

    read_end, write_end = os.pipe()
    os.write(write_end, b'{"id": "ok", "text": "x"}\n' + b"a,b\n" * 6)
    os.close(write_end)
    monkeypatch.setattr(readers, "_stdin_descriptor", lambda: read_end)
    batches = all_batches("-")
    assert [t for b in batches for t in b.frame["text"]] == ["x"] and sum(len(b.rejects) for b in batches) == 6


def test_a_long_field_other_than_the_text_does_not_stop_a_csv_read_with_a_small_text_limit(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("id,text,url\nr1,short,http://" + "u" * 200 + "\n")
    batch = one_batch(path, max_text_chars=10)
    assert batch.frame["id"].tolist() == ["r1"] and len(batch.frame["url"][0]) == 207


def test_a_lone_surrogate_escape_is_rejected_in_either_case(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"id": "lower", "text": "bad \\ud800"}\n{"id": "upper", "text": "bad \\uD800"}\n'
                    '{"id": "pair", "text": "ok \\uD83D\\uDE00"}\n')
    batch = one_batch(path)
    assert batch.frame["id"].tolist() == ["pair"]
    assert [r.line for r in batch.rejects] == [1, 2]


def test_skip_batches_must_not_be_negative(tmp_path):
    path = tmp_path / "a.jsonl"
    write_lines(path, [jline(id="a", text="t")])
    with pytest.raises(ValueError):
        all_batches(path, skip_batches=-1)


def test_read_records_not_strict_and_columns_named_twice(tmp_path):
    path = tmp_path / "a.jsonl"
    write_lines(path, [jline(id="1", text=None), jline(id="2", body="x")])
    assert len(read_records(path, strict=False)) == 0  # one null text, one without: warned, not "no text field"
    other = tmp_path / "b.jsonl"
    write_lines(other, [jline(id="1", text="t", src="s")])
    assert list(read_records(other, columns=["src", "src"]).columns).count("src") == 1


def test_sibling_folders_whose_names_share_a_start_are_both_read(tmp_path):
    for name in ("news", "news2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.txt").write_text("text")
    ids = [i for b in all_batches([tmp_path / "news", tmp_path / "news2"]) for i in b.frame["id"]]
    assert sorted(ids) == ["news/news.txt", "news2/news2.txt"]  # one of several inputs: the folder's name first


def test_how_a_utf8_file_read_in_another_encoding_would_be_garbled_is_shown(tmp_path):
    from threatclf.readers import check_inputs, utf8_read_as_other

    path = tmp_path / "a.csv"
    for text, encoding, shown in (("1,caf\u00e9 noir\n", "cp1252", ("utf-8", "caf\u00e9 -> caf\u00c3\u00a9")),
                                  ("1,a\u00a0b\n", "latin-1", ("utf-8", r"'\xa0' -> '\xc2\xa0'")),  # a space alone
                                  ("1,caf\u00e9\n", "utf-8", None), ("1,cafe\n", "cp1252", None),
                                  ("1,caf\u00e9\n", "ascii", None)):  # ascii rejects the rows, and says so
        path.write_text("id,text\n" + text, encoding="utf-8")
        assert utf8_read_as_other(path, encoding) == shown
    path.write_text("id,text\n1,caf\u00e9\n", encoding="cp1252")  # really cp1252: not UTF-8
    assert utf8_read_as_other(path, "cp1252") is None
    # files in two encodings joined: read as cp1252, the UTF-8 rows would be garbled
    path.write_bytes("id,text\n1,na\u00efve\n".encode("utf-8") + "2,caf\u00e9\n".encode("cp1252"))
    assert utf8_read_as_other(path, "cp1252") == ("mixed", "na\u00efve -> na\u00c3\u00afve")
    with pytest.warns(UserWarning, match=r"a.csv mixes UTF-8 with another encoding .* \(na\u00efve -> na\u00c3\u00afve\): "
                                         r"no one encoding reads it whole"):
        check_inputs([path], encoding="cp1252")
    # the rows that are not UTF-8, read as UTF-8: rejected with a reason that names the trap of re-encoding
    batches = all_batches(path)
    assert [r.line for b in batches for r in b.rejects] == [3]
    assert "unless its other rows hold UTF-8 accents" in batches[0].rejects[0].reason


def test_a_txt_folder_that_also_holds_data_files_says_they_are_not_read(tmp_path):
    from threatclf.readers import check_inputs

    folder = tmp_path / "export"
    (folder / "parts").mkdir(parents=True)
    (folder / "README.txt").write_text("About this export.")
    pq.write_table(pa.table({"id": ["a"], "text": ["A bomb exploded."]}), folder / "parts" / "part-0.parquet")
    (folder / "part-1.jsonl").write_bytes(jline(id="b", text="x") + b"\n")
    with pytest.warns(UserWarning, match=r"input folder .*export is read as its .txt files, one article each; the 2 "
                                         r"data files in it \(part-1.jsonl, parts/part-0.parquet\) are not read"):
        check_inputs([folder])
    (folder / "part-1.jsonl").unlink()
    (folder / "parts" / "part-0.parquet").unlink()
    # the chunks of a run writing its output into the folder are threatclf's own, not data to point to
    for own in ("labelled.jsonl.partial", ".labelled.jsonl.partial.0123abcd.removing"):
        (folder / own).mkdir()
        (folder / own / "chunk-0000000.jsonl").write_bytes(b"{}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_inputs([folder])
    # nor are a data file given as an input too, or the run's own output and rejects from an earlier run
    (folder / "more.jsonl").write_bytes(jline(id="m", text="x") + b"\n")
    (folder / "labelled.jsonl").write_bytes(b"{}\n")
    (folder / "labelled.rejects.jsonl").write_bytes(b"")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_inputs([folder, folder / "more.jsonl"],
                     written=(folder / "labelled.jsonl", folder / "labelled.rejects.jsonl"))
    with pytest.warns(UserWarning, match=r"the 1 data file in it \(more.jsonl\) is not read"):
        check_inputs([folder], written=(folder / "labelled.jsonl", folder / "labelled.rejects.jsonl"))


def test_two_jsonl_files_joined_without_a_final_newline_are_named_as_such(tmp_path):
    path = tmp_path / "joined.jsonl"
    path.write_bytes(jline(id="a", text="A bomb.") + jline(id="b", text="A raid.") + b"\n"
                     + b"\xef\xbb\xbf" + jline(id="c", text="Bribes.") + b"\n")  # and a second file's mark
    batch = one_batch([path])
    assert list(batch.frame["id"]) == ["c"]  # the mark a joined file brought along is no reason to reject
    assert "a second JSON value follows the first on this line: two files joined" in reject_at(batch, 1).reason
    lone_cr = tmp_path / "mac.jsonl"
    lone_cr.write_bytes(jline(id="a", text="A bomb.") + b"\r" + jline(id="b", text="A raid.") + b"\r")
    assert "its lines end in a lone carriage return (CR" in reject_at(one_batch([lone_cr]), 1).reason


def test_a_csv_header_repeated_inside_the_file_is_rejected_not_labelled(tmp_path):
    path = tmp_path / "joined.csv"
    write_csv(path, "\ufeffid,text\n1,A bomb.\n\ufeffid,text\n2,A raid.\nid,text\n")
    batch = one_batch([path])
    assert list(batch.frame["id"]) == ["1", "2"]
    assert [r.line for r in batch.rejects] == [3, 5]
    assert all("the header row again, here a row: two CSV files joined" in r.reason for r in batch.rejects)


@pytest.mark.parametrize("given", [",", ";"])
def test_an_excel_sep_line_names_the_separator_and_lines_are_still_counted_from_the_file_start(tmp_path, given):
    path = tmp_path / "export.csv"
    path.write_bytes(b'sep=;\r\nid;text\r\n1;A bomb exploded.\r\n2;"Rain; then sun."\r\n3;extra;field\r\n')
    frame = read_records(path, csv_sep=given, strict=False)
    assert frame["id"].tolist() == ["1", "2"] and frame["text"].tolist() == ["A bomb exploded.", "Rain; then sun."]
    with pytest.raises(DataError, match=r"export.csv: line 5: CSV row has 3 fields, header has 2"):
        read_records(path, csv_sep=given)
    with pytest.raises(DataError, match=r"its first line, 'sep=;', says its fields are separated by ';', but "
                                        r"csv_sep='\|' was given"):
        read_records(path, csv_sep="|")


def test_unnamed_header_columns_and_a_one_line_json_array_say_what_they_likely_are(tmp_path):
    path = tmp_path / "sheet.csv"
    path.write_text("id,text,,\n1,A bomb exploded.,,\n")
    with pytest.raises(DataError, match=r"sheet.csv: duplicate CSV column names \[''\]; columns 3, 4 have no name "
                                        r"\(empty columns a spreadsheet left in the header\?\)"):
        read_records(path)
    path = tmp_path / "array.jsonl"
    path.write_text(json.dumps([{"id": "1", "text": "x"}, {"id": "2", "text": "y"}]) + "\n" + json.dumps([1, 2]) + "\n")
    with pytest.raises(DataError, match=r"line 1: not a JSON object but an array of 2 on one line: .*jq -c '\.\[\]'"):
        read_records(path)
    path.write_text(json.dumps({"id": "0", "text": "z"}) + "\n" + json.dumps([1, 2]) + "\n")
    with pytest.raises(DataError, match=r"line 2: not a JSON object \(list\)"):  # not an array of objects
        read_records(path)


def test_a_float_id_that_cannot_be_kept_exactly_is_rejected_not_changed(tmp_path):
    # JSON 9007199254740993.0 reads as ...992: labelled under an id the file does not hold, silently
    path = tmp_path / "ids.jsonl"
    path.write_bytes(b'{"id": 9007199254740993.0, "text": "a"}\n{"id": Infinity, "text": "b"}\n'
                     b'{"id": 9007199254740993, "text": "c"}\n{"id": 2.0, "text": "d"}\n')
    batch = one_batch(path)
    assert batch.frame["id"].tolist() == ["9007199254740993", "2"]
    assert "too large to be kept exactly as a float" in reject_at(batch, 1).reason
    assert "read as 9007199254740992.0, which may not be the number written" in reject_at(batch, 1).reason
    assert reject_at(batch, 2).reason == "id is not a finite number (Infinity)"


def test_every_column_an_output_would_overwrite_is_named_at_once(tmp_path):
    from threatclf.readers import check_inputs

    path = tmp_path / "labelled.csv"
    write_csv(path, "id,text,labels,score_terrorism,evidence\n1,A bomb.,terrorism,0.9,[]\n")
    with pytest.raises(DataError, match=r"column 'labels' would be overwritten by the output's 'labels' column, and so "
                                        r"would 2 more: 'score_terrorism', 'evidence' \(a threatclf output fed back in"):
        check_inputs([path], reserved=("labels", "score_terrorism", "evidence"))


def test_a_parquet_decimal_id_is_its_exact_number_and_an_id_column_of_another_type_is_refused_once(tmp_path):
    import datetime
    import decimal
    import os

    path = tmp_path / "db.parquet"
    ids = [decimal.Decimal("1001"), decimal.Decimal("12345678901234567890"), decimal.Decimal("7.50"), None]
    pq.write_table(pa.table({"id": pa.array(ids, pa.decimal128(22, 2)), "text": ["a", "b", "c", "d"]}), path)
    batch = one_batch([path])
    assert batch.rejects == []
    assert batch.frame["id"].tolist() == ["1001", "12345678901234567890", "7.50", "db.parquet:4"]
    for kind, values in (("date32[day]", [datetime.date(2024, 1, 1)]), ("bool", [True]), ("binary", [b"x"])):
        other = tmp_path / f"{kind[:4]}.parquet"
        pq.write_table(pa.table({"id": pa.array(values), "text": ["a"]}), other)
        with pytest.raises(DataError, match=rf"{os.path.basename(other)}: id column 'id' holds {re.escape(kind)}, not "
                                            r"text or numbers: name another column with --id-col"):
            all_batches([other])


def test_a_line_holding_only_a_byte_order_mark_is_no_row(tmp_path):
    empty = tmp_path / "empty.jsonl"  # an empty file saved by Notepad or PowerShell
    empty.write_bytes(b"\xef\xbb\xbf\n")
    assert sum(b.rows_read for b in all_batches([empty])) == 0
    joined = tmp_path / "joined.jsonl.gz"  # that file joined onto another: its mark alone on a line
    write_lines(joined, [jline(id="a", text="t"), b"\xef\xbb\xbf", jline(id="b", text="u")])
    batches = all_batches([joined])
    assert [i for b in batches for i in b.frame["id"]] == ["a", "b"] and not any(b.rejects for b in batches)


def test_a_field_named_twice_in_a_json_object_rejects_its_row_saying_so(tmp_path):
    path = tmp_path / "dup.jsonl"
    write_lines(path, [b'{"id": "a", "text": "first", "id": "b"}', b'{"id": "c", "text": "A", "text": "B"}',
                       b'{"id": "d", "text": "ok", "meta": {"x": 1, "x": 2}}', jline(id="e", text="fine", meta={"x": 1})])
    batch = one_batch([path])
    assert batch.frame["id"].tolist() == ["e"]
    assert [(r.line, r.id) for r in batch.rejects] == [(1, None), (2, "c"), (3, "d")]
    reasons = [r.reason for r in batch.rejects]
    assert reasons[0].startswith("field 'id' appears twice in this line's object: a JSON reader keeps the last value")
    assert reasons[1].startswith("field 'text' appears twice in this line's object")
    assert reasons[2].startswith("field 'x' appears twice in an object on this line")


def test_a_txt_folder_is_read_through_links_to_folders_each_once(tmp_path):
    root, elsewhere = tmp_path / "articles", tmp_path / "elsewhere"
    (root / "sub").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "own.txt").write_text("own")
    (root / "sub" / "a.txt").write_text("a")
    (elsewhere / "linked.txt").write_text("linked")
    (root / "more").symlink_to(elsewhere, target_is_directory=True)
    (root / "sub" / "up").symlink_to(root, target_is_directory=True)  # a loop: not followed round
    batches = all_batches([root])
    assert sorted(i for b in batches for i in b.frame["id"]) == ["more/linked.txt", "own.txt", "sub/a.txt"]
    assert count_rows([root]) == 3


def test_txt_folders_among_several_inputs_name_their_ids_after_the_folder(tmp_path):
    for day, text in (("day1", "Customs seized cocaine."), ("day2", "A bomb exploded.")):
        (tmp_path / day).mkdir()
        (tmp_path / day / "0001.txt").write_text(text)
    both = all_batches([tmp_path / "day1", tmp_path / "day2"])
    assert [i for b in both for i in b.frame["id"]] == ["day1/0001.txt", "day2/0001.txt"]
    alone = all_batches([tmp_path / "day1"])  # one folder: the path within it, as before
    assert [i for b in alone for i in b.frame["id"]] == ["0001.txt"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "day1").symlink_to(tmp_path / "day1", target_is_directory=True)
    (tmp_path / "b" / "day1").symlink_to(tmp_path / "day2", target_is_directory=True)
    same_names = all_batches([str(tmp_path / "a" / "day1"), str(tmp_path / "b" / "day1")])  # named by their paths
    assert [i for b in same_names for i in b.frame["id"]] == [f"{tmp_path}/a/day1/0001.txt",
                                                                f"{tmp_path}/b/day1/0001.txt"]


def test_links_in_a_loop_or_through_a_file_in_a_txt_folder_do_not_stop_the_walk(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("A bomb exploded.")
    (docs / "loop").symlink_to(docs / "loop")  # a link to itself: stat says "too many levels of links"
    (docs / "loop.txt").symlink_to(docs / "loop.txt")
    (docs / "through.txt").symlink_to(docs / "a.txt" / "gone")  # "not a directory"
    batches = all_batches([docs])
    assert [i for b in batches for i in b.frame["id"]] == ["a.txt"]
    rejected = sorted((r.id, r.reason.split(":")[0]) for b in batches for r in b.rejects)
    assert rejected == [("loop.txt", "cannot read file"), ("through.txt", "cannot read file")]  # rows, not lost
    check_inputs([docs])
    assert count_rows([docs]) == 3
    from threatclf.resume import input_stamps

    assert input_stamps([docs]) == input_stamps([docs])


def test_the_current_folder_among_several_inputs_is_named_by_its_own_name(tmp_path, monkeypatch):
    (tmp_path / "day1" / "sub").mkdir(parents=True)
    (tmp_path / "day1" / "sub" / "a.txt").write_text("Customs seized cocaine.")
    (tmp_path / "more.jsonl").write_bytes(jline(id="m", text="A bomb exploded.") + b"\n")
    monkeypatch.chdir(tmp_path / "day1")
    ids = [i for b in all_batches([".", "../more.jsonl"]) for i in b.frame["id"]]
    assert ids == ["day1/sub/a.txt", "m"]  # not ./sub/a.txt
    monkeypatch.chdir(tmp_path / "day1" / "sub")
    assert [i for b in all_batches(["..", "../../more.jsonl"]) for i in b.frame["id"]] == ["day1/sub/a.txt", "m"]
    # another input of that name: "." keeps its own, so that the other keeps its short name
    (tmp_path / "b" / "day1").mkdir(parents=True)
    (tmp_path / "b" / "day1" / "z.txt").write_text("A bomb exploded.")
    monkeypatch.chdir(tmp_path / "day1")
    ids = [i for b in all_batches([".", "../b/day1"]) for i in b.frame["id"]]
    assert ids == ["./sub/a.txt", "day1/z.txt"]

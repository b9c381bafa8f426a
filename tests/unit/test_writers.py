"""Atomic writers: output appears only when complete, and round-trips per format."""
from __future__ import annotations

import gzip
import json
import os

import numpy as np
import pandas as pd
import pytest

from threatclf.exceptions import DataError
from threatclf.readers import read_records
from threatclf.writers import (
    RecordWriter,
    atomic_path,
    flatten_records,
    output_format,
    remove_stale_temps,
    value_kinds,
)

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

LABELS = ["alpha", "beta", "gamma"]


class Boom(Exception):
    pass


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def record(i: int, **extra) -> dict:
    return {
        "id": f"r{i}",
        "text": f"short text {i}, with \"quotes\"\nand a second line é",
        "labels": ["alpha", "gamma"] if i % 2 else [],
        "scores": {"alpha": 0.25 * (i % 4), "beta": 0.5, "gamma": 1.0},
        **extra,
    }


def read_back(path) -> pd.DataFrame:
    if str(path).endswith(".parquet"):
        return pq.read_table(path).to_pandas()
    if ".csv" in str(path):
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return pd.DataFrame([json.loads(line) for line in handle])


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("name, expected", [
    ("o.jsonl", "jsonl"), ("o.jsonl.gz", "jsonl"), ("o.ndjson", "jsonl"),
    ("o.csv", "csv"), ("o.CSV.gz", "csv"), ("o.parquet", "parquet"),
])
def test_output_format(name, expected):
    assert output_format(name) == expected


def test_output_format_unknown():
    with pytest.raises(DataError, match="out.xlsx"):
        output_format("out.xlsx")


# --------------------------------------------------------------------------- atomicity


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_path(target) as temp:
        assert temp.parent == tmp_path and temp != target
        temp.write_text("new")
        assert target.read_text() == "old"  # not visible until the block ends
    assert target.read_text() == "new"
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not hasattr(os, "symlink") or os.name == "nt", reason="symbolic links")
def test_atomic_path_writes_through_a_symbolic_link_and_keeps_it(tmp_path):
    # `-o results.jsonl` where results.jsonl links to a file on a larger disk: the file pointed to
    # is replaced, in its own folder (the rename stays atomic), and the link is still a link
    (tmp_path / "big").mkdir()
    real = tmp_path / "big" / "out.txt"
    real.write_text("old")
    link = tmp_path / "out.txt"
    link.symlink_to(real)
    with atomic_path(link) as temp:
        assert temp.parent == real.parent
        temp.write_text("new")
    assert link.is_symlink() and real.read_text() == "new"
    dangling = tmp_path / "later.txt"  # a link made before its file
    dangling.symlink_to(tmp_path / "big" / "later.txt")
    with atomic_path(dangling) as temp:
        temp.write_text("first")
    assert dangling.is_symlink() and (tmp_path / "big" / "later.txt").read_text() == "first"
    stale = tmp_path / "big" / ".out.txt.0123abcd.partial"  # left by a writer killed mid-write
    stale.write_text("half")
    assert remove_stale_temps(link) == [stale] and not stale.exists()
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "big") == []


@pytest.mark.parametrize("existing", [False, True])
def test_atomic_path_on_exception_leaves_target_untouched(tmp_path, existing):
    target = tmp_path / "out.txt"
    if existing:
        target.write_text("old")
    with pytest.raises(Boom):
        with atomic_path(target) as temp:
            temp.write_text("half")
            raise Boom
    assert (target.read_text() if existing else target.exists()) == ("old" if existing else False)
    assert leftovers(tmp_path) == []


def test_atomic_file_gets_the_usual_permissions(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with atomic_path(tmp_path / "atomic.txt") as temp:
        temp.write_text("x")
    assert os.stat(tmp_path / "atomic.txt").st_mode == os.stat(plain).st_mode


def test_missing_output_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        RecordWriter(tmp_path / "nowhere" / "out.jsonl", LABELS)


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz", "out.csv", "out.csv.gz",
                                  "out.parquet"])
@pytest.mark.parametrize("existing", [False, True])
def test_record_writer_exception_writes_nothing(tmp_path, name, existing):
    target = tmp_path / name
    if existing:
        target.write_bytes(b"previous run")
    with pytest.raises(Boom):
        with RecordWriter(target, LABELS) as writer:
            writer.write([record(0), record(1)])
            raise Boom
    if existing:
        assert target.read_bytes() == b"previous run"
    else:
        assert not target.exists()
    assert leftovers(tmp_path) == []


def test_record_writer_failing_write_discards(tmp_path):
    target = tmp_path / "out.jsonl"
    writer = RecordWriter(target, LABELS)
    writer.write([record(0)])
    with pytest.raises(TypeError, match="object"):
        writer.write([{"id": "x", "text": "y", "bad": object()}])
    writer.close()  # already aborted: nothing to commit
    assert not target.exists() and leftovers(tmp_path) == []
    with pytest.raises(ValueError, match="closed"):
        writer.write([record(1)])


def test_jsonl_written_half_way_leaves_no_output(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(Boom):
        with RecordWriter(target, LABELS) as writer:
            writer.write([record(1)])
            raise Boom
    assert not target.exists() and leftovers(tmp_path) == []


# --------------------------------------------------------------------------- JSONL


@pytest.mark.parametrize("name", ["out.jsonl", "out.jsonl.gz"])
def test_jsonl_round_trip_keeps_nesting_and_nulls(tmp_path, name):
    target = tmp_path / name
    records = [
        record(1, n=np.int64(3), f=np.float32(0.5), missing=float("nan"), na=pd.NA,
               flag=np.bool_(True), vec=np.array([1, 2])),
        record(2, n=4, f=None, missing=1.0, na=None, flag=False, vec=[]),
    ]
    with RecordWriter(target, LABELS) as writer:
        writer.write(records[:1])
        writer.write(records[1:])
    assert writer.rows_written == 2
    opener = gzip.open if name.endswith(".gz") else open
    with opener(target, "rb") as handle:
        raw = handle.read()
    assert "é".encode() in raw  # ensure_ascii=False
    assert raw.count(b"\n") == 2  # one line a record: newlines in text are escaped
    rows = [json.loads(line) for line in raw.decode().splitlines()]
    assert rows[0]["labels"] == ["alpha", "gamma"] and rows[1]["labels"] == []
    assert rows[0]["scores"] == {"alpha": 0.25, "beta": 0.5, "gamma": 1.0}
    assert (rows[0]["n"], rows[0]["f"], rows[0]["missing"], rows[0]["na"]) == (3, 0.5, None, None)
    assert rows[0]["flag"] is True and rows[0]["vec"] == [1, 2]
    assert rows[1]["text"] == records[1]["text"]


def test_gzip_header_names_the_target_not_the_temp_file(tmp_path):
    target = tmp_path / "named.jsonl.gz"
    with RecordWriter(target, LABELS) as writer:
        writer.write([record(1)])
    header = target.read_bytes()[:64]
    assert b"named.jsonl" in header and b"partial" not in header


def test_jsonl_output_round_trips_through_the_reader(tmp_path):
    target = tmp_path / "out.jsonl"
    with RecordWriter(target, LABELS) as writer:
        writer.write([record(i) for i in range(2500)])
    frame = read_records(target)
    assert len(frame) == 2500
    assert frame["id"].tolist()[:2] == ["r0", "r1"]
    assert frame["text"][1] == record(1)["text"]
    assert frame["labels"][1] == ["alpha", "gamma"]


# --------------------------------------------------------------------------- flattening


def test_flatten_records():
    frame = flatten_records([
        {"id": "a", "labels": ["alpha", "beta"], "scores": {"beta": 0.5, "alpha": 0.9},
         "meta": {"k": [1, "é"]}, "n": 1},
        {"id": "b", "labels": [], "scores": {"alpha": 0.1, "beta": 0.2, "gamma": 0.3},
         "meta": "plain"},
    ], LABELS)
    assert list(frame.columns) == [
        "id", "labels", "score_alpha", "score_beta", "score_gamma", "meta", "n"]
    assert frame["labels"].tolist() == ["alpha;beta", ""]
    assert frame["score_alpha"].tolist() == [0.9, 0.1]
    assert np.isnan(frame["score_gamma"][0]) and frame["score_gamma"][1] == 0.3
    assert frame["score_beta"].dtype == np.float64
    assert frame["meta"].tolist() == ['{"k": [1, "é"]}', "plain"]


def test_flatten_records_unknown_score_label():
    with pytest.raises(DataError, match="delta"):
        flatten_records([{"scores": {"alpha": 1.0, "delta": 0.5}}], LABELS)


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz"])
def test_csv_round_trip_with_header_once(tmp_path, name):
    target = tmp_path / name
    with RecordWriter(target, LABELS) as writer:
        writer.write([record(0, extra={"a": 1}), record(1, extra=None)])
        writer.write([record(2)])  # no "extra" column in this batch
    frame = read_back(target)
    assert list(frame.columns) == [
        "id", "text", "labels", "score_alpha", "score_beta", "score_gamma", "extra"]
    assert frame["id"].tolist() == ["r0", "r1", "r2"]  # header not repeated
    assert frame["text"].tolist() == [record(i)["text"] for i in range(3)]
    assert frame["labels"].fillna("").tolist() == ["", "alpha;gamma", ""]
    assert frame["score_alpha"].tolist() == [0.0, 0.25, 0.5]
    assert json.loads(frame["extra"][0]) == {"a": 1}
    assert frame["extra"][1:].isna().all()


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz"])
def test_csv_in_another_separator_and_encoding_reads_back_the_same(tmp_path, name):
    plain, excel = tmp_path / f"plain-{name}", tmp_path / f"excel-{name}"
    rows = [record(0, extra={"a": "café"}), record(1, extra=None)]
    for target, options in ((plain, {}), (excel, {"csv_sep": ";", "encoding": "utf-8-sig"})):
        with RecordWriter(target, LABELS, **options) as writer:
            writer.write(rows)
    raw = gzip.decompress(excel.read_bytes()) if name.endswith(".gz") else excel.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbfid;text;labels;")  # the mark Excel needs to read UTF-8
    again = pd.read_csv(excel, sep=";", encoding="utf-8-sig", keep_default_na=False)
    pd.testing.assert_frame_equal(again, pd.read_csv(plain, keep_default_na=False))


def test_csv_in_an_encoding_without_a_character_names_its_row_and_writes_nothing(tmp_path):
    target = tmp_path / "out.csv"
    with RecordWriter(target, LABELS, encoding="cp1252") as writer:
        writer.write([record(0)])  # "é" has a cp1252 byte
    assert target.read_bytes().count(b"\xe9") == 1
    with pytest.raises(DataError, match=r"out.csv: the row of id 'r1', column 'text' holds 'Ж' \(U\+0416\), which "
                                        "cp1252 cannot write"):
        with RecordWriter(target, LABELS, encoding="cp1252") as writer:
            writer.write([record(0)])
            writer.write([record(1, text="Moscow Ж")])
    assert target.read_bytes().count(b"\xe9") == 1 and leftovers(tmp_path) == []  # the old file stands
    with pytest.raises(DataError, match="the header holds"):
        with RecordWriter(tmp_path / "h.csv", LABELS, encoding="latin-1") as writer:
            writer.write([record(0, **{"Ж": 1})])
    assert not (tmp_path / "h.csv").exists()


def test_csv_without_rows_writes_its_header_in_the_separator_and_encoding(tmp_path):
    target = tmp_path / "empty.csv"
    schema = {"id": "", "café": 1, "labels": [], "scores": {name: 0.0 for name in LABELS}, "evidence": []}
    with RecordWriter(target, LABELS, empty_schema=schema, csv_sep="\t", encoding="utf-16") as writer:
        writer.write([])
    assert target.read_bytes().decode("utf-16") == "id\tcafé\tlabels\t" + "\t".join(
        f"score_{name}" for name in LABELS) + "\tevidence\n"


@pytest.mark.parametrize("options, message", [({"csv_sep": '"'}, "csv_sep must be one character"),
                                              ({"csv_sep": "\n"}, "csv_sep must be one character"),
                                              ({"csv_sep": "tab"}, r"got 'tab' \(a tab is '\\t'\)"),
                                              ({"encoding": "nope"}, "unknown encoding 'nope'"),
                                              ({"encoding": None}, "unknown encoding None"),
                                              ({"encoding": "rot13"}, "is not a text encoding")])
def test_record_writer_checks_its_separator_and_encoding(tmp_path, options, message):
    with pytest.raises(DataError, match=message):
        RecordWriter(tmp_path / "out.csv", LABELS, **options)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_separator_and_encoding_are_for_csv_output_only(tmp_path, name):
    with pytest.raises(DataError, match="CSV output only"):
        RecordWriter(tmp_path / name, LABELS, encoding="cp1252")
    assert list(tmp_path.iterdir()) == []


def test_csv_new_column_after_first_batch_is_an_error(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(DataError, match="late"):
        with RecordWriter(target, LABELS) as writer:
            writer.write([record(0)])
            writer.write([record(1, late="x")])
    assert not target.exists() and leftovers(tmp_path) == []


# --------------------------------------------------------------------------- Parquet


def test_parquet_round_trip_one_row_group_per_write(tmp_path):
    target = tmp_path / "out.parquet"
    with RecordWriter(target, LABELS) as writer:
        writer.write([record(i, _line=i + 1) for i in range(3)])
        writer.write([])
        writer.write([record(i, _line=i + 1) for i in range(3, 5)])
    meta = pq.ParquetFile(target).metadata
    assert meta.num_row_groups == 2 and meta.num_rows == 5
    frame = read_back(target)
    assert frame["labels"].tolist() == ["", "alpha;gamma", "", "alpha;gamma", ""]
    assert frame["score_alpha"].tolist() == [0.0, 0.25, 0.5, 0.75, 0.0]
    assert frame["text"][4] == record(4)["text"]
    assert frame["_line"].tolist() == [1, 2, 3, 4, 5]


def test_parquet_schema_is_stable_across_batches_with_nulls(tmp_path):
    target = tmp_path / "out.parquet"
    with RecordWriter(target, LABELS) as writer:
        # first batch: "note" all null, "year" int, "scores" missing for one record
        writer.write([record(0, note=None, year=2001), {"id": "r1", "text": "t", "year": 2002}])
        # later: "note" gets text, "year" has a null, "labels" all null
        writer.write([{"id": "r2", "text": "u", "note": "now text", "year": None,
                       "labels": None}])
        # later still: "note" gets a number, mixed with text
        writer.write([{"id": "r3", "text": "v", "note": 5, "year": 2004},
                      {"id": "r4", "text": "w", "note": "x", "year": 2005}])
    table = pq.read_table(target)
    assert table.schema.field("note").type == pa.large_string()
    assert table.schema.field("score_alpha").type == pa.float64()
    assert table.schema.field("year").type == pa.int64()
    assert table.column("note").to_pylist() == [None, None, "now text", "5", "x"]
    assert table.column("year").to_pylist() == [2001, 2002, None, 2004, 2005]
    assert table.column("score_beta").to_pylist() == [0.5, None, None, None, None]


def test_parquet_integers_with_nulls_read_back_into_pandas_as_integers(tmp_path):
    target = tmp_path / "out.parquet"
    big = 12345678901234567  # beyond float64's whole numbers
    with RecordWriter(target, LABELS) as writer:
        writer.write([{**record(0, num=big, flag=True), "passage": 0, "start": 0, "end": 4},
                      {**record(1, num=None, flag=None), "passage": None, "start": None, "end": None}])
    frame = pd.read_parquet(target)  # pandas' defaults, as a user reads it
    assert {c: str(frame[c].dtype) for c in ("passage", "start", "end", "num", "flag")} == {
        "passage": "Int64", "start": "Int64", "end": "Int64", "num": "Int64", "flag": "boolean"}
    assert frame["num"].tolist()[0] == big and frame["num"].isna().tolist() == [False, True]
    text = "abcdefgh"
    assert text[frame["start"][0]:frame["end"][0]] == "abcd"  # the offsets index a text as the README says
    assert pq.read_table(target).schema.field("num").type == pa.int64()


def test_parquet_incompatible_later_batch_names_the_column(tmp_path):
    target = tmp_path / "out.parquet"
    with pytest.raises(DataError, match="'year'"):
        with RecordWriter(target, LABELS) as writer:
            writer.write([{"id": "a", "text": "t", "year": 2001}])
            writer.write([{"id": "b", "text": "t", "year": "last spring"}])
    assert not target.exists() and leftovers(tmp_path) == []


@pytest.mark.parametrize("name", ["out.jsonl", "out.csv", "out.parquet"])
def test_nothing_written_still_gives_a_valid_file(tmp_path, name):
    target = tmp_path / name
    with RecordWriter(target, LABELS):
        pass
    assert target.exists()
    if name.endswith(".parquet"):
        assert pq.read_table(target).num_rows == 0
    else:
        assert target.read_bytes() == b""


@pytest.mark.parametrize("name", ["out.csv", "out.parquet"])
def test_whole_numbers_beside_a_missing_value_stay_exact(tmp_path, name):
    # 9007199254740993 is not a float64: a null beside it must not turn the column into floats
    # (CSV "9007199254740992.0", Parquet double), whether the values come as ints or numpy ints.
    target = tmp_path / name
    with RecordWriter(target, LABELS) as writer:
        writer.write([{"id": "a", "n": 9007199254740993, "m": np.int64(7), "flag": True},
                      {"id": "b", "n": None, "m": pd.NA, "flag": None}])
    if name.endswith(".csv"):
        lines = target.read_text(encoding="utf-8").splitlines()
        assert lines == ["id,n,m,flag", "a,9007199254740993,7,True", "b,,,"]
    else:
        table = pq.read_table(target)
        assert table.schema.field("n").type == pa.int64()
        assert table.column("n").to_pylist() == [9007199254740993, None]
        assert table.column("m").to_pylist() == [7, None]
        assert table.column("flag").to_pylist() == [True, None]


@pytest.mark.parametrize("name", ["out.csv", "out.parquet"])
def test_integers_beyond_int64_beside_a_missing_value_stay_exact(tmp_path, name):
    # no int64 holds 2**64 - 1: with a null beside it, it used to come out as 1.8446744073709552e+19
    target = tmp_path / name
    records = [{"id": "a", "n": 2**64 - 1}, {"id": "b", "n": None}]
    with RecordWriter(target, LABELS, column_kinds=value_kinds(records, skip=("id",))) as writer:
        writer.write(records)
    if name.endswith(".csv"):
        assert target.read_text(encoding="utf-8").splitlines() == ["id,n", f"a,{2**64 - 1}", "b,"]
    else:
        assert pq.read_table(target).column("n").to_pylist() == [str(2**64 - 1), None]


def test_csv_quotes_a_header_holding_a_carriage_return(tmp_path):
    target = tmp_path / "out.csv"
    with RecordWriter(target, LABELS) as writer:
        writer.write([{"id": "a", "note\rx": "y"}])
    frame = pd.read_csv(target)
    assert list(frame.columns) == ["id", "note\rx"] and frame["note\rx"].tolist() == ["y"]


@pytest.mark.parametrize("name", ["out.csv", "out.csv.gz"])
def test_csv_quotes_a_bare_carriage_return(tmp_path, name):
    # "\r" is a line end to CSV readers; unquoted, it would split the row in two
    target = tmp_path / name
    with RecordWriter(target, LABELS) as writer:
        writer.write([{"id": "a", "text": "line one\rline two", "n": 1.5, "note": None}, {"id": "b", "text": "plain"}])
        writer.write([{"id": "c", "text": "no return", "n": 2.0, "note": "x\r"}])
    frame = pd.read_csv(target)
    assert frame["id"].tolist() == ["a", "b", "c"]
    assert frame["text"].tolist() == ["line one\rline two", "plain", "no return"]
    assert frame["note"].isna().tolist() == [True, True, False] and frame["note"][2] == "x\r"
    assert frame["n"].tolist()[::2] == [1.5, 2.0]
    back = read_records(target)
    rows = list(zip(back["id"], back["text"]))
    assert rows == [("a", "line one\rline two"), ("b", "plain"), ("c", "no return")]


@pytest.mark.parametrize("name", ["out.jsonl", "out.csv", "out.parquet"])
def test_decimals_are_written_as_their_exact_text(tmp_path, name):
    import decimal

    target = tmp_path / name
    with RecordWriter(target, LABELS) as writer:
        writer.write([{"id": "a", "price": decimal.Decimal("12345678901234567.89")},
                      {"id": "b", "price": decimal.Decimal("1.50")}])
    if name.endswith(".jsonl"):
        values = [json.loads(line)["price"] for line in target.read_text().splitlines()]
    elif name.endswith(".csv"):
        values = pd.read_csv(target, dtype=str)["price"].tolist()
    else:
        values = [str(v) for v in pq.read_table(target).column("price").to_pylist()]  # Arrow decimal or text
    assert values == ["12345678901234567.89", "1.50"]


def test_parquet_integers_beyond_int64_become_text(tmp_path):
    target = tmp_path / "out.parquet"
    with RecordWriter(target, LABELS) as writer:
        writer.write([{"id": "a", "ref": 2**70}, {"id": "b", "ref": 5}])
    assert pq.read_table(target).column("ref").to_pylist() == [str(2**70), "5"]


@pytest.mark.parametrize("split", [1, 2, 3])
def test_parquet_types_come_from_every_batch_not_the_first(tmp_path, split):
    # the first batch may hold only nulls for a column: its type must not depend on where batches start
    records = [{"id": "a", "year": None, "share": None, "flag": None, "big": None},
               {"id": "b", "year": None, "share": None, "flag": None, "big": 1},
               {"id": "c", "year": 2020, "share": 0.5, "flag": True, "big": 2**64},
               {"id": "d", "year": 2021, "share": 1.0, "flag": False, "big": None}]
    target = tmp_path / "out.parquet"
    with RecordWriter(target, LABELS, column_kinds=value_kinds(records, skip=("id",))) as writer:
        writer.write(records[:split])
        writer.write(records[split:])
    table = pq.read_table(target)
    assert [str(table.schema.field(c).type) for c in ("year", "share", "flag", "big")] == [
        "int64", "double", "bool", "large_string"]
    assert table.column("year").to_pylist() == [None, None, 2020, 2021]
    assert table.column("flag").to_pylist() == [None, None, True, False]
    assert table.column("big").to_pylist() == [None, "1", str(2**64), None]


def test_stale_temporary_files_of_a_target_are_removed(tmp_path):
    from threatclf.writers import remove_stale_temps

    target = tmp_path / "out.jsonl"
    stale = [tmp_path / ".out.jsonl.0a1b2c3d.partial", tmp_path / ".out.jsonl.ffffffff.partial"]
    others = [tmp_path / ".out.jsonl.gz.0a1b2c3d.partial", tmp_path / ".other.jsonl.0a1b2c3d.partial",
              tmp_path / ".out.jsonl.notmine.partial", tmp_path / "out.jsonl.partial"]
    for path in stale + others:
        path.write_text("x")
    assert sorted(remove_stale_temps(target)) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in others)


def test_the_output_is_moved_into_place_by_one_rename(tmp_path, monkeypatch):
    import threatclf.writers as writers_module

    target = tmp_path / "out.jsonl"
    target.write_text("an older output\n")
    renames = []
    real = os.replace
    monkeypatch.setattr(writers_module.os, "replace", lambda src, dst: (renames.append((src, dst)), real(src, dst)))
    before = os.stat(target).st_ino
    with RecordWriter(target, LABELS) as writer:
        writer.write([record(0)])
    assert [os.fspath(dst) for _, dst in renames] == [os.fspath(target)]
    assert os.stat(target).st_ino != before  # a new file, not the old one written over


def test_infinite_numbers_are_written_as_null_in_jsonl(tmp_path):
    path = tmp_path / "out.jsonl"
    with RecordWriter(path, LABELS) as writer:
        writer.write([record(0, ratio=float("inf")), record(1, ratio=float("-inf"))])
    assert [json.loads(line)["ratio"] for line in path.read_text().splitlines()] == [None, None]


def test_gzip_output_is_the_same_bytes_each_time(tmp_path, monkeypatch):
    import time

    outputs = []
    for k, name in enumerate(("a", "b")):
        monkeypatch.setattr(time, "time", lambda: 1_700_000_000.0 + 86_400 * k)  # written on two days
        path = tmp_path / name / "out.jsonl.gz"
        path.parent.mkdir()
        with RecordWriter(path, LABELS) as writer:
            writer.write([record(i) for i in range(3)])
        outputs.append(path.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("escape", [False, True])
def test_csv_cells_a_spreadsheet_would_run_are_escaped_when_asked(tmp_path, escape):
    target = tmp_path / "out.csv"
    risky = ["=HYPERLINK(\"http://x.example\",\"more\")", "+1 555", "-dash", "@SUM(A1)", "\tTab", "\rCR"]
    rows = [record(i, id=value, text=value, **{"=cmd": value}) for i, value in enumerate(risky)]
    rows.append(record(9, id="-8", text="x-y", **{"=cmd": -3}))  # numbers, as text or not, and "-" inside: left
    with RecordWriter(target, LABELS, escape_formulas=escape) as writer:
        writer.write(rows[:3])
        writer.write(rows[3:])  # every batch, not only the first
    frame = pd.read_csv(target, keep_default_na=False, dtype=str)
    quote = "'" if escape else ""
    assert list(frame.columns)[-1] == quote + "=cmd"
    assert frame["id"].tolist() == [quote + v for v in risky] + ["-8"]
    assert frame["text"].tolist() == [quote + v for v in risky] + ["x-y"]
    assert frame[quote + "=cmd"].tolist()[-1] == "-3"
    assert frame["score_alpha"].tolist()[:2] == ["0.0", "0.25"]  # scores stay numbers


def test_an_empty_csv_gets_its_header_escaped_too(tmp_path):
    schema = {"id": "", "=cmd": "", "labels": [], "scores": {name: 0.0 for name in LABELS}, "evidence": []}
    with RecordWriter(tmp_path / "e.csv", LABELS, empty_schema=schema, escape_formulas=True) as writer:
        writer.write([])
    assert (tmp_path / "e.csv").read_text().startswith("id,'=cmd,labels,")


def test_two_columns_that_escape_alike_are_refused(tmp_path):
    with pytest.raises(DataError, match=r"columns \['=a', \"'=a\"\] would both be written as \"'=a\""):
        with RecordWriter(tmp_path / "out.csv", LABELS, escape_formulas=True) as writer:
            writer.write([record(0, **{"=a": 1, "'=a": 2})])
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet"])
def test_formulas_are_escaped_in_csv_output_only(tmp_path, name):
    with pytest.raises(DataError, match="formulas are escaped in CSV output only"):
        RecordWriter(tmp_path / name, LABELS, escape_formulas=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("cell, escaped", [("-0.4", False), ("+3", False), ("-2e5", False), ("-.5", False),
                                           ("-inf", True), ("-nan", True), ("+1_000", True), ("-Infinity", True),
                                           ("=1+1", True)])
def test_only_plain_numbers_escape_formula_escaping(cell, escaped):
    from threatclf.writers import escape_formula

    assert escape_formula(cell) == ("'" + cell if escaped else cell)

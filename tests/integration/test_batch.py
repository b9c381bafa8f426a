"""Batch labelling of DataFrames and files: formats, passages, evidence, rejects, resume."""
import contextlib
import copy
import dataclasses
import datetime
import errno
import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import threatclf
from threatclf import DataError
from threatclf import batch as batch_module
from threatclf import evidence as evidence_module
from threatclf import resume as resume_module

ARTICLES = [
    ("a1", "Customs officers seized two tonnes of cocaine hidden in a shipment of fruit at the port.\n\n"
           "The weather will stay sunny and warm through the weekend, forecasters said on Friday."),
    ("a2", "The football club won the cup after a late goal in extra time."),
    ("a3", "Militants claimed the bomb attack on the checkpoint that killed five soldiers near the town.\n"
           "The mayor was charged with taking bribes from a construction company for the road contracts."),
    ("a4", ""),
    ("a5", "Police dismantled a criminal network that smuggled migrants across the border."),
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def corpus(tmp_path):
    rows = [{"id": i, "text": t, "source": "test", "n": k} for k, (i, t) in enumerate(ARTICLES)] * 7
    rows = [dict(r, id=f"{r['id']}-{k}") for k, r in enumerate(rows)]
    return write_jsonl(tmp_path / "corpus.jsonl", rows), rows


def read_output(path):
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif path.suffix == ".csv":
        frame = pd.read_csv(path, keep_default_na=False)
    else:
        return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}
    frame["labels"] = frame["labels"].map(lambda s: s.split(";") if s else [])
    return {r["id"]: r for r in frame.to_dict("records")}


def test_dataframe_article_level_with_evidence(small_model):
    df = pd.DataFrame(ARTICLES, columns=["id", "text"])
    out = threatclf.label_dataframe(df, small_model, id_col="id")
    assert list(out["id"]) == [a for a, _ in ARTICLES]
    assert out.loc[0, "labels"] == ["drug_trafficking"]
    assert set(out.loc[2, "labels"]) == {"terrorism", "corruption"}
    assert out.loc[3, "labels"] == [] and out.loc[3, "evidence"] == []
    assert {f"score_{label}" for label in small_model.labels_} <= set(out.columns)
    for _, row in out.iterrows():
        for item in row["evidence"]:
            span = row["text"][item["start"]:item["end"]]
            assert span and span == span.strip()
            assert item["label"] in row["labels"]
            assert row[f"score_{item['label']}"] == pytest.approx(item["score"])
    bribes = next(e for e in out.loc[2, "evidence"] if e["label"] == "corruption")
    assert "bribes" in ARTICLES[2][1][bribes["start"]:bribes["end"]]
    assert any("brib" in term for term in bribes["terms"])


def test_dataframe_passage_level_and_thresholds(small_model):
    df = pd.DataFrame(ARTICLES, columns=["id", "text"])
    out = threatclf.label_dataframe(df, small_model, id_col="id", passages=True)
    assert list(out.columns[:6]) == ["id", "passage", "start", "end", "text", "labels"]
    with_text = out.dropna(subset=["passage"])
    assert (with_text.groupby("id")["passage"].max() + 1).to_dict() == {"a1": 2, "a2": 1, "a3": 2, "a5": 1}
    empty = out[out["id"] == "a4"]
    assert len(empty) == 1 and pd.isna(empty["passage"].iloc[0]) and empty["labels"].iloc[0] == []
    for _, row in with_text.iterrows():
        source = dict(ARTICLES)[row["id"]]
        assert source[row["start"]:row["end"]] == row["text"]
    strict = threatclf.label_dataframe(df, small_model, threshold=1.0)
    assert strict["labels"].map(len).sum() == 0
    with pytest.raises(DataError, match="unknown labels"):
        threatclf.label_dataframe(df, small_model, threshold={"sports": 0.5})


def test_dataframe_errors_name_the_problem(small_model):
    with pytest.raises(DataError, match="column 'body' not found"):
        threatclf.label_dataframe(pd.DataFrame({"text": ["x"]}), small_model, text_col="body")
    with pytest.raises(DataError, match="row 1: 'text' is missing"):
        threatclf.label_dataframe(pd.DataFrame({"text": ["x", None]}), small_model)
    with pytest.raises(DataError, match="row 0: 'text' is int, expected str"):
        threatclf.label_dataframe(pd.DataFrame({"text": [3, "x"]}, dtype=object), small_model)
    numbered = pd.DataFrame({"id": [1, 2], "text": ["x", None]}, index=np.array([10, 20], dtype=np.int64))
    with pytest.raises(DataError, match=r"^row 20 \(id 2\): 'text' is missing"):  # as written, not np.int64(2)
        threatclf.label_dataframe(numbered, small_model, id_col="id")


def test_labelling_files_leaves_tqdm_auto_unimported(saved_small_model, tmp_path):
    # tqdm.auto warns in a notebook kernel without ipywidgets, though the bar is text on stderr
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "Customs seized heroin."}\n')
    script = ("import sys, threatclf; threatclf.label_files(sys.argv[1], sys.argv[2], sys.argv[3], progress=True); "
              "print(sorted(m for m in sys.modules if m.startswith('tqdm.auto') or m.startswith('ipywidgets')))")
    ran = subprocess.run([sys.executable, "-c", script, str(source), str(tmp_path / "out.jsonl"),
                          str(saved_small_model)], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]" and (tmp_path / "out.jsonl").exists()


def test_dataframe_settings_are_checked_before_work(small_model):
    frame = pd.DataFrame({"text": ["A bomb exploded."]})
    for bad in ({"chunk_size": 0}, {"top_terms": -1}, {"max_words": 0}, {"threshold": 2.0}):
        with pytest.raises(DataError, match=next(iter(bad)) if "threshold" not in bad else "between 0 and 1"):
            threatclf.label_dataframe(frame, small_model, **bad)


def test_dataframe_column_an_output_column_would_overwrite_is_an_error(small_model):
    for column in ("labels", "evidence", f"score_{small_model.labels_[0]}"):
        frame = pd.DataFrame({"text": ["A bomb exploded."], column: ["mine"]})
        with pytest.raises(DataError, match=f"column '{column}' would be overwritten"):
            threatclf.label_dataframe(frame, small_model)
    # passage rows carry the input columns too, and hold their passage's text in "text"
    for column in ("labels", "passage", "start", f"score_{small_model.labels_[0]}"):
        frame = pd.DataFrame({"id": ["a"], "body": ["A bomb exploded."], column: ["mine"]})
        with pytest.raises(DataError, match=f"column '{column}' would be overwritten"):
            threatclf.label_dataframe(frame, small_model, text_col="body", id_col="id", passages=True)
    frame = pd.DataFrame({"body": ["A bomb exploded."], "text": ["mine"]})
    with pytest.raises(DataError, match="column 'text' would be overwritten"):
        threatclf.label_dataframe(frame, small_model, text_col="body", passages=True)
    frame = pd.DataFrame({"id": ["a"], "text": ["A bomb exploded."]})  # keyed by the index, "id" is taken
    with pytest.raises(DataError, match=r"column 'id' would be overwritten .* pass id_col='id'"):
        threatclf.label_dataframe(frame, small_model, passages=True)


def test_passage_texts_of_a_categorical_text_column_are_the_passages(small_model):
    texts = ["Militants bombed the market in the capital, killing twelve people on Friday morning.\n"
             "The cartel smuggled cocaine through the port for years, police said in a statement.", "Rain."]
    frame = pd.DataFrame({"text": pd.Series(texts * 2, dtype="category")})
    out = threatclf.label_dataframe(frame, small_model, passages=True)
    assert out["text"].notna().all() and len(out) == 6
    for _, row in out.iterrows():
        assert row["text"] == texts[row["id"] % 2][row["start"]:row["end"]]
    empty = threatclf.label_dataframe(frame.iloc[:0], small_model, passages=True)
    assert empty["text"].dtype == out["text"].dtype  # as a Dask partition's meta must be


def test_label_dataframe_names_a_text_that_is_not_valid_unicode(small_model):
    broken = json.loads('"Police seized cocaine \\ud83d at the port."')  # a lone surrogate, from a broken escape
    frame = pd.DataFrame({"id": ["a", "b"], "text": pd.Series(["Rain.", broken], dtype=object)})
    for passages in (False, True):
        with pytest.raises(DataError, match=r"row 1 \(id 'b'\): 'text' is not valid Unicode: a lone surrogate "
                                            r"'\\ud83d' at character 22"):
            threatclf.label_dataframe(frame, small_model, id_col="id", passages=passages)
    frame = pd.DataFrame({"id": pd.Series(["a", json.loads('"b\\udc00"')], dtype=object), "text": ["Rain.", "Sun."]})
    with pytest.raises(DataError, match=r"row 1: the id 'b\\udc00' is not valid Unicode"):
        threatclf.label_dataframe(frame, small_model, id_col="id", passages=True)


def test_label_dataframe_threshold_star_sets_the_labels_not_named(small_model):
    frame = pd.DataFrame({"text": ["Militants bombed the market.", "The mayor took bribes from the cartel."]})
    out = threatclf.label_dataframe(frame, small_model, threshold={"*": 1.0, "corruption": 0.0})
    assert out["labels"].tolist() == [["corruption"], ["corruption"]]
    with pytest.raises(DataError, match="unknown labels"):
        threatclf.label_dataframe(frame, small_model, threshold={"**": 0.5})
    every = {label: 0.5 for label in small_model.labels_}  # "*" then stands for no label, and is still checked
    with pytest.raises(DataError, match="threshold must be a number or a dict of label -> number"):
        threatclf.label_dataframe(frame, small_model, threshold={**every, "*": "x"})


def test_a_threshold_for_a_label_the_model_did_not_learn_is_warned_of(small_model, tmp_path):
    from threatclf.thresholds import NEVER

    model = copy.deepcopy(small_model)
    model.thresholds_ = np.where(np.array(model.labels_) == "corruption", NEVER, model.thresholds_)
    frame = pd.DataFrame({"id": ["a"], "text": ["The mayor took bribes from the cartel."]})
    with pytest.warns(UserWarning, match=r"threshold gives labels the model did not learn: corruption \(its"):
        out = threatclf.label_dataframe(frame, model, threshold={"corruption": 0.01})
    assert "corruption" in out["labels"][0]  # given, as asked
    source = tmp_path / "in.jsonl"
    frame.to_json(source, orient="records", lines=True)
    with pytest.warns(UserWarning, match="did not learn: corruption"):
        threatclf.label_files(source, tmp_path / "out.jsonl", model, threshold=0.5, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threatclf.label_dataframe(frame, model)  # the model's own: never
        threatclf.label_dataframe(frame, model, threshold={"terrorism": 0.3})


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_an_output_through_a_symbolic_link_is_written_where_it_points(small_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Cartel smuggled cocaine into the port."}) + "\n")
    link = tmp_path / "out.jsonl"
    link.symlink_to(tmp_path / "disk" / "out.jsonl")  # into a folder not made yet, as -o disk/out.jsonl would be
    summary = threatclf.label_files(source, link, small_model, progress=False)
    assert link.is_symlink() and summary.labelled == 1
    assert json.loads(link.read_text())["id"] == "a"
    assert sorted(p.name for p in (tmp_path / "disk").iterdir()) == ["out.jsonl"]  # no OUTPUT.partial/ left
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    with pytest.raises(DataError, match="output .*loop.jsonl is a symbolic link that leads back to itself"):
        threatclf.label_files(source, loop, small_model, progress=False)


def test_passage_rows_carry_their_articles_input_columns(small_model):
    df = pd.DataFrame({"id": [a for a, _ in ARTICLES], "text": [t for _, t in ARTICLES],
                       "desk": pd.array(["world", "home", None, "home", "world"], dtype="string"),
                       "words": pd.array([len(t.split()) for _, t in ARTICLES], dtype="Int64"),
                       "when": pd.to_datetime(["2024-01-0%d" % i for i in range(1, 6)])}, index=[5, 4, 3, 2, 1])
    out = threatclf.label_dataframe(df, small_model, id_col="id", passages=True)
    assert list(out.columns[:7]) == ["id", "desk", "words", "when", "passage", "start", "end"]
    assert out.index.tolist() == list(range(len(out)))
    article = df.set_index("id")
    for _, row in out.iterrows():  # every passage row holds its own article's values, in the input's dtypes
        for column in ("desk", "words", "when"):
            assert row[column] is article.loc[row["id"], column] or row[column] == article.loc[row["id"], column]
    for column in ("desk", "words", "when"):
        assert out[column].dtype == df[column].dtype
    assert out.groupby("id").size().to_dict() == {"a1": 2, "a2": 1, "a3": 2, "a4": 1, "a5": 1}
    empty = threatclf.label_dataframe(df.iloc[:0], small_model, id_col="id", passages=True)
    assert list(empty.columns) == list(out.columns) and (empty.dtypes == out.dtypes).all()


def test_dataframe_columns_come_in_one_order_empty_or_not(small_model):
    full = threatclf.label_dataframe(pd.DataFrame({"text": ["A bomb exploded."], "n": [1]}), small_model)
    empty = threatclf.label_dataframe(pd.DataFrame({"text": pd.Series([], dtype=str), "n": []}), small_model)
    assert list(empty.columns) == list(full.columns)


@pytest.mark.parametrize("field", ["labels", "evidence", "scores", "score_terrorism"])
def test_input_column_an_output_column_would_overwrite_is_an_error_before_work(small_model, tmp_path, field):
    # a CSV header says it up front (a JSONL row that has such a field is rejected: see below)
    path = tmp_path / "in.csv"
    pd.DataFrame({"id": ["a", "b"], "text": ["A bomb exploded.", "A bomb."], field: ["", "gold"]}).to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"in.csv: column '{field}' would be overwritten by the output's '{field}'"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)
    # nothing was written, and no OUTPUT.partial/ is left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_a_csv_quoting_error_in_the_first_chunk_leaves_no_partial_folder(small_model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('id,text\n1,A bomb exploded.\n2,"ok"x\n')
    with pytest.raises(DataError, match="in.csv: line 3: cannot parse CSV"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


def test_passage_output_refuses_input_start_and_end_columns(small_model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,text,start\na,A bomb exploded.,2020\n")
    threatclf.label_files(path, tmp_path / "articles.jsonl", small_model, progress=False)  # no clash here
    with pytest.raises(DataError, match=r"in.csv: column 'start' would be overwritten by the output's 'start'"):
        threatclf.label_files(path, tmp_path / "passages.jsonl", small_model, passages=True, progress=False)


def test_duration_and_big_integer_columns_are_carried_through(small_model, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["A bomb exploded.", "Rain."],
                             "wait": pa.array([datetime.timedelta(seconds=90), None], pa.duration("s")),
                             "big": pa.array([9007199254740993, None], pa.int64())}), path)
    threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(r["wait"], r["big"]) for r in rows] == [("P0DT0H1M30S", 9007199254740993), (None, None)]


def test_a_column_that_changes_kind_between_chunks_gets_one_parquet_type(small_model, tmp_path):
    import pyarrow.parquet as pq

    rows = [{"id": f"r{i}", "text": "A bomb exploded.", "year": 2020, "size": 3} for i in range(3)]
    rows += [{"id": "late", "text": "Rain.", "year": "unknown", "size": 2.5}]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    threatclf.label_files(path, tmp_path / "out.parquet", small_model, chunk_size=2, progress=False)
    table = pq.read_table(tmp_path / "out.parquet")
    assert str(table.schema.field("year").type) == "large_string" and str(table.schema.field("size").type) == "double"
    assert table.column("year").to_pylist() == ["2020"] * 3 + ["unknown"]
    assert table.column("size").to_pylist() == [3.0, 3.0, 3.0, 2.5]


@pytest.mark.parametrize("passages", [False, True])
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_field_first_seen_in_a_later_chunk_is_written_with_the_input_columns_at_any_chunk_size(
        small_model, tmp_path, suffix, passages):
    import pyarrow.parquet as pq

    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "A bomb exploded."},
                                                {"id": "2", "text": "The mayor took bribes.", "title": "T"}])
    layouts = set()
    for chunk_size in (1, 10):
        out = tmp_path / f"out{chunk_size}{suffix}"
        threatclf.label_files(path, out, small_model, chunk_size=chunk_size, passages=passages, keep_text=True,
                              progress=False)
        if suffix == ".csv":
            columns = out.read_text().splitlines()[0].split(",")
        elif suffix == ".parquet":
            columns = pq.read_schema(out).names
        else:
            columns = list(json.loads(out.read_text().splitlines()[-1]))
        layouts.add(tuple(columns))
    assert len(layouts) == 1
    columns = list(layouts.pop())
    assert columns[:2] == ["id", "title"] and columns.index("text") < columns.index("labels")


def test_csv_output_writes_carried_numbers_as_written_at_any_chunk_size(small_model, tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "1", "text": "Rain.", "n": 1.5}, {"id": "2", "text": "Sun.", "n": 7},
                                                {"id": "3", "text": "Fog.", "n": 12345678901234567},
                                                {"id": "4", "text": "Snow.", "n": None}])
    for chunk_size in (1, 2, 3, 10):
        out = tmp_path / f"out{chunk_size}.csv"
        threatclf.label_files(path, out, small_model, chunk_size=chunk_size, progress=False)
        cells = [line.split(",")[1] for line in out.read_text().splitlines()]
        assert cells == ["n", "1.5", "7", "12345678901234567", ""], chunk_size


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".csv", ".csv.gz", ".parquet"])
def test_every_output_format_gives_the_same_labels(small_model, corpus, tmp_path, suffix):
    path, rows = corpus
    reference = threatclf.label_files(path, tmp_path / "ref.jsonl", small_model, chunk_size=4, progress=False)
    assert reference.rows_read == reference.labelled == len(rows)
    out = tmp_path / f"out{suffix}"
    summary = threatclf.label_files(path, out, small_model, chunk_size=4, progress=False)
    assert summary.labelled == len(rows) and summary.rejected == 0
    if suffix.endswith(".gz"):
        import gzip
        import shutil

        plain = tmp_path / ("plain" + suffix[:-3])
        with gzip.open(out, "rb") as src, open(plain, "wb") as dst:
            shutil.copyfileobj(src, dst)
        out = plain
    got, expected = read_output(out), read_output(tmp_path / "ref.jsonl")
    assert set(got) == {r["id"] for r in rows}
    assert {k: v["labels"] for k, v in got.items()} == {k: v["labels"] for k, v in expected.items()}
    assert all(got[r["id"]]["source"] == "test" for r in rows)  # other columns carried through
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".*"))


def test_inputs_in_every_format_give_the_same_labels(small_model, corpus, tmp_path):
    path, rows = corpus
    frame = pd.DataFrame(rows)
    frame.to_csv(tmp_path / "in.csv", index=False)
    frame.to_parquet(tmp_path / "in.parquet")
    txt = tmp_path / "txt"
    txt.mkdir()
    for r in rows:
        (txt / f"{r['id']}.txt").write_text(r["text"])
    outputs = {}
    for name, source in [("jsonl", path), ("csv", tmp_path / "in.csv"), ("parquet", tmp_path / "in.parquet")]:
        threatclf.label_files(source, tmp_path / f"from-{name}.jsonl", small_model, progress=False)
        outputs[name] = {k: v["labels"] for k, v in read_output(tmp_path / f"from-{name}.jsonl").items()}
    threatclf.label_files(txt, tmp_path / "from-txt.jsonl", small_model, progress=False)
    from_txt = {k.removesuffix(".txt"): v["labels"] for k, v in read_output(tmp_path / "from-txt.jsonl").items()}
    assert outputs["jsonl"] == outputs["csv"] == outputs["parquet"] == from_txt


def test_broken_rows_are_rejected_with_reasons_and_none_is_lost(small_model, tmp_path):
    lines = [
        json.dumps({"id": "ok1", "text": "Militants claimed the bomb attack."}).encode(),
        b'{"id": "broken", "text": "unterminated',
        json.dumps({"id": "notext"}).encode(),
        json.dumps({"id": "number", "text": 42}).encode(),
        json.dumps({"id": "big", "text": "x" * 500}).encode(),
        b'{"id": "bytes", "text": "caf\xe9 \xff"}',
        json.dumps([1, 2]).encode(),
        json.dumps({"id": "empty", "text": ""}).encode(),
        json.dumps({"id": "ok2", "text": "The mayor took bribes."}).encode(),
    ]
    source = tmp_path / "messy.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, max_text_chars=100, chunk_size=3,
                                    progress=False)
    assert summary.rows_read == len(lines)
    assert summary.labelled + summary.rejected == len(lines)
    assert summary.labelled == 3
    rejects = [json.loads(line) for line in (tmp_path / "out.jsonl.rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3, 4, 5, 6, 7]
    assert all(r["reason"] and r["source"] == str(source) for r in rejects)
    reasons = " | ".join(r["reason"] for r in rejects)
    for needle in ("JSON", "missing", "int", "too large", "UTF-8", "not a JSON object"):
        assert needle.lower() in reasons.lower(), needle
    out = read_output(tmp_path / "out.jsonl")
    assert set(out) == {"ok1", "empty", "ok2"} and out["empty"]["labels"] == []


@pytest.mark.parametrize("passages", [False, True])
def test_the_summary_says_why_rows_were_rejected_and_counts_rows_without_text(small_model, tmp_path, passages):
    """A Windows-1252 export read as UTF-8 has every row with an accent rejected: the reason is
    said where it is seen (summary, and a warning where no summary is shown), not only in the
    rejects file. Rows without text are labelled, and counted apart."""
    rows = ["id;text", "1;Militants claimed the bomb attack.", "2;The café was bombed by militants.", "3;",
            "4;Police seized cocaine at the port café.", "5;   ", "6;Naïve officials took bribes.", "7;Rain fell."]
    source = tmp_path / "export.csv"
    source.write_bytes("\r\n".join(rows).encode("cp1252") + b"\r\n")
    with pytest.warns(UserWarning, match=r"^3 of the 7 input rows were rejected; why \(every rejected row\): "
                                         r"undecodable bytes .* --encoding cp1252 .*; each is in .*rejects.jsonl") as seen:
        summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, csv_sep=";", chunk_size=2,
                                        passages=passages, progress=False)
    assert len([w for w in seen if "rejected" in str(w.message)]) == 1
    assert (summary.labelled, summary.rejected, summary.without_text) == (4, 3, 2)
    ((reason, rows_with_it),) = summary.reject_reasons.items()  # summed over the chunks
    assert rows_with_it == 3 and reason.startswith("undecodable bytes")
    text = summary.to_text()
    assert "labelled 4 (2 without text) | rejected 3 |" in text
    assert text.splitlines()[-1] == f"why (every rejected row): {reason}"
    assert summary.to_dict()["without_text"] == 2


def test_the_summary_names_the_most_common_reject_reason_and_its_share():
    from threatclf.batch import LabelSummary

    summary = LabelSummary(rows_read=9, labelled=4, rejected=5, passages=4, elapsed_s=1.0,
                           reject_reasons={"invalid JSON": 3, "missing text": 2})
    assert summary.to_text().splitlines()[-1] == "why (3 of the 5 rejected rows): invalid JSON"
    assert "without text" not in summary.to_text()
    one = LabelSummary(rows_read=2, labelled=1, rejected=1, reject_reasons={"missing text": 1}).to_text()
    assert one.splitlines()[-1] == "why: missing text"


def test_inputs_without_rows_are_warned_of(small_model, tmp_path):
    """A 0-byte JSONL file is valid and a header-only CSV too, but an empty output is rarely what
    was meant (a failed export): said, not only counted."""
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "header.csv").write_text("id,text\n")
    for name in ("empty.jsonl", "header.csv"):
        with pytest.warns(UserWarning, match=rf"^no input rows: .*{name} holds none, so the output holds none$"):
            summary = threatclf.label_files(tmp_path / name, tmp_path / f"{name}.out.jsonl", small_model,
                                            progress=False)
        assert summary.rows_read == 0 and (tmp_path / f"{name}.out.jsonl").read_text() == ""
    (tmp_path / "one.jsonl").write_text(json.dumps({"id": "a", "text": "Rain fell."}) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one empty input beside one with rows: nothing to warn of
        threatclf.label_files([tmp_path / "empty.jsonl", tmp_path / "one.jsonl"], tmp_path / "both.jsonl",
                              small_model, progress=False)


def _reference_run(model, path, out):
    threatclf.label_files(path, out, model, chunk_size=3, progress=False)
    return out.read_bytes()


def test_resume_after_a_crash_gives_the_uninterrupted_output(small_model, corpus, tmp_path, monkeypatch):
    path, _ = corpus
    expected = _reference_run(small_model, path, tmp_path / "ref.jsonl")
    out = tmp_path / "out.jsonl"
    _label_interrupted(3, monkeypatch, path, out, small_model, chunk_size=3, progress=False)
    assert not out.exists()  # nothing that looks complete
    assert len(list((tmp_path / "out.jsonl.partial").glob("*.done.json"))) == 3
    summary = threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    assert summary.resumed_chunks == 3 and summary.resumed_rows == 9
    assert "resumed: 3 chunks (9 rows) were taken from the interrupted run" in summary.to_text()
    one = dataclasses.replace(summary, resumed_chunks=1, resumed_rows=1)
    assert "resumed: 1 chunk (1 row) was taken from the interrupted run" in one.to_text()
    assert out.read_bytes() == expected
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_resuming_a_run_whose_chunks_hold_no_reject_reasons(small_model, tmp_path, monkeypatch):
    """Chunks finished by 0.13 record no reject reasons and no count of rows without text: a
    resume sums what there is and still says each rejected row is in the rejects file."""
    source = tmp_path / "in.jsonl"
    source.write_text("not json\n" + "".join(json.dumps({"id": f"k{i}", "text": "Rain fell." if i else ""}) + "\n"
                                              for i in range(5)))
    _label_interrupted(1, monkeypatch, source, tmp_path / "out.jsonl", small_model, chunk_size=3, progress=False)
    (done,) = (tmp_path / "out.jsonl.partial").glob("*.done.json")
    stats = json.loads(done.read_text())
    assert stats.pop("reject_reasons") and stats.pop("without_text") == 1
    done.write_text(json.dumps(stats))  # as 0.13 wrote it
    with pytest.warns(UserWarning, match=r"^1 of the 6 input rows was rejected; each is in .*out.jsonl.rejects.jsonl"):
        summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, chunk_size=3, progress=False,
                                        resume=True)
    assert (summary.rejected, summary.reject_reasons, summary.without_text) == (1, {}, 0)
    assert "why" not in summary.to_text()


def test_resume_refuses_other_settings(small_model, corpus, tmp_path, monkeypatch):
    path, _ = corpus
    monkeypatch.setattr(batch_module, "_process_chunk", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, chunk_size=3, progress=False)
    monkeypatch.undo()
    with pytest.raises(DataError, match=r"cannot resume: .* was made from other options: threshold \(--threshold\): not given \(now 0.9\)"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, chunk_size=3, progress=False, resume=True,
                              threshold=0.9)


def test_processes_give_the_same_output_as_one(small_model, corpus, tmp_path):
    path, _ = corpus
    expected = _reference_run(small_model, path, tmp_path / "ref.jsonl")
    threatclf.label_files(path, tmp_path / "par.jsonl", small_model, chunk_size=3, n_jobs=2, progress=False)
    assert (tmp_path / "par.jsonl").read_bytes() == expected


def test_passage_output_for_files(small_model, corpus, tmp_path):
    path, rows = corpus
    summary = threatclf.label_files(path, tmp_path / "p.csv", small_model, passages=True, progress=False)
    frame = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert list(frame.columns[:7]) == ["id", "source", "n", "passage", "start", "end", "labels"]
    empty_articles = sum(1 for r in rows if not r["text"])
    assert summary.passages + empty_articles == len(frame)  # an article without text gets one empty row
    assert set(frame["id"]) == {r["id"] for r in rows}
    assert summary.labelled == len(rows)
    # every passage row carries its own article's input columns
    by_id = {r["id"]: r for r in rows}
    assert all(by_id[i]["n"] == n and by_id[i]["source"] == s for i, n, s in zip(frame["id"], frame["n"], frame["source"]))
    assert frame.groupby("id")["id"].count().max() > 1  # several passages for some article


def test_passage_rows_carry_the_evidence_terms_of_their_labels(small_model, corpus, tmp_path):
    df = pd.DataFrame(ARTICLES, columns=["id", "text"])
    out = threatclf.label_dataframe(df, small_model, id_col="id", passages=True, top_terms=3)
    assert out.columns[-1] == "evidence"
    labelled = out[out["labels"].map(len) > 0]
    assert len(labelled) and (out[out["labels"].map(len) == 0]["evidence"].map(len) == 0).all()
    for _, row in labelled.iterrows():
        assert [item["label"] for item in row["evidence"]] == row["labels"]
        for item in row["evidence"]:
            assert item["score"] == row[f"score_{item['label']}"] and 0 < len(item["terms"]) <= 3
            # the terms are the passage's own words
            assert all(term.split()[0].lower() in row["text"].lower() for term in item["terms"])
    bribes = next(item for _, row in labelled.iterrows() for item in row["evidence"] if item["label"] == "corruption")
    assert any("brib" in term for term in bribes["terms"])
    bare = threatclf.label_dataframe(df, small_model, id_col="id", passages=True, top_terms=0)
    assert all(item["terms"] == [] for items in bare["evidence"] for item in items)  # the key is always there
    # the files carry them too, and the command's --top-terms reaches them
    path, _ = corpus
    threatclf.label_files(path, tmp_path / "p.jsonl", small_model, passages=True, top_terms=2, progress=False)
    written = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert any(item.get("terms") for row in written for item in row["evidence"])
    assert all(len(item["terms"]) <= 2 for row in written for item in row["evidence"])


def test_a_run_interrupted_by_an_older_version_is_not_resumed(small_model, corpus, tmp_path, monkeypatch):
    path, _ = corpus
    out = tmp_path / "out.jsonl"
    real = _interrupt_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, passages=True)
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    manifest = out.with_name(out.name + ".partial") / "manifest.json"
    old = json.loads(manifest.read_text())
    del old["output_format"], old["model_described"]  # as threatclf 0.5 wrote it
    manifest.write_text(json.dumps(old))
    with pytest.raises(DataError, match="was made from an earlier version of threatclf, whose output rows are laid "
                                        "out differently; run again with --restart"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, passages=True, resume=True)


def test_passage_rows_refuse_an_id_column_named_like_an_output_column(small_model):
    df = pd.DataFrame({"evidence": ["a1"], "text": ["A bomb exploded at the market."]})
    with pytest.raises(DataError, match="id column 'evidence' has the name of an output column of passage rows"):
        threatclf.label_dataframe(df, small_model, id_col="evidence", passages=True)


def test_passage_offsets_stay_integers_next_to_an_article_without_text(small_model, tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "A bomb exploded at the market."},
                                               {"id": "b", "text": ""}])
    threatclf.label_files(path, tmp_path / "p.parquet", small_model, passages=True, progress=False)
    threatclf.label_files(path, tmp_path / "p.csv", small_model, passages=True, progress=False)
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "p.parquet")
    assert [str(table.schema.field(c).type) for c in ("passage", "start", "end")] == ["int64"] * 3
    assert table.column("end").to_pylist() == [len("A bomb exploded at the market."), None]
    assert (tmp_path / "p.csv").read_text().splitlines()[1].startswith("a,0,0,30,")


def test_unknown_output_extension_fails_before_work(small_model, corpus, tmp_path):
    path, _ = corpus
    with pytest.raises(DataError):
        threatclf.label_files(path, tmp_path / "out.xlsx", small_model, progress=False)
    assert not list(tmp_path.glob("out*"))


def test_typed_parquet_columns_are_carried_through(small_model, tmp_path):
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "id": ["p1", "p2"],
        "text": ["Militants claimed the bomb attack on the checkpoint.", ""],
        "published": pa.array([datetime.date(2024, 5, 1), None], type=pa.date32()),
        "price": pa.array([decimal.Decimal("12345678901234567.89"), decimal.Decimal("2")], type=pa.decimal128(38, 2)),
        "blob": pa.array([b"\x00\x01", b""], type=pa.binary()),
    })
    pq.write_table(table, tmp_path / "typed.parquet")
    for suffix in (".jsonl", ".csv", ".parquet"):
        summary = threatclf.label_files(tmp_path / "typed.parquet", tmp_path / f"out{suffix}", small_model, progress=False)
        assert summary.labelled == 2
    rows = read_output(tmp_path / "out.jsonl")
    assert rows["p1"]["published"] == "2024-05-01" and rows["p2"]["published"] is None
    assert rows["p1"]["blob"] == "AAE="
    # decimals keep every digit (a float would give 12345678901234568)
    assert [rows[i]["price"] for i in ("p1", "p2")] == ["12345678901234567.89", "2.00"]
    assert pd.read_csv(tmp_path / "out.csv", dtype=str)["price"].tolist() == ["12345678901234567.89", "2.00"]
    back = pq.read_table(tmp_path / "out.parquet")
    assert [str(v) for v in back.column("price").to_pylist()] == ["12345678901234567.89", "2.00"]
    assert back.column("published").to_pylist() == ["2024-05-01", None]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_output_without_rows_still_has_its_columns(small_model, tmp_path, suffix):
    source = tmp_path / "all-broken.jsonl"
    source.write_text('{"id": 1, "text": null}\n{broken\n')
    summary = threatclf.label_files(source, tmp_path / f"out{suffix}", small_model, progress=False)
    assert summary.rows_read == summary.rejected == 2 and summary.labelled == 0
    frame = pd.read_parquet(tmp_path / "out.parquet") if suffix == ".parquet" else pd.read_csv(tmp_path / "out.csv")
    assert len(frame) == 0
    assert list(frame.columns) == ["id", "labels"] + [f"score_{l}" for l in small_model.labels_] + ["evidence"]


def test_duplicate_ids_are_counted_across_chunks_and_reported(small_model, corpus, tmp_path):
    _, rows = corpus
    unique = threatclf.label_files(corpus[0], tmp_path / "unique.jsonl", small_model, chunk_size=4, progress=False)
    assert unique.duplicate_ids == 0 and "WARNING" not in unique.to_text()
    repeated = rows + [dict(rows[0], text="another text"), dict(rows[-1]), dict(rows[-1])]
    path = write_jsonl(tmp_path / "dups.jsonl", repeated)
    with pytest.warns(UserWarning, match="3 rows repeat an id of an earlier row: the output is not unique by id"):
        summary = threatclf.label_files(path, tmp_path / "dups.csv", small_model, chunk_size=4, progress=False)
    assert summary.duplicate_ids == 3 and summary.labelled == len(repeated)  # counted, and still labelled
    # the warning comes once the output is written: made an error, it loses nothing
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="3 rows repeat an id"):
            threatclf.label_files(path, tmp_path / "strict.csv", small_model, chunk_size=4, progress=False)
    assert len(pd.read_csv(tmp_path / "strict.csv")) == len(repeated)
    assert not (tmp_path / "strict.csv.partial").exists()
    assert "3 rows repeat an id of an earlier row" in summary.to_text()
    assert summary.to_dict()["duplicate_ids"] == 3


def _interrupt_after(n_chunks, monkeypatch):
    """Make label_files stop (as if killed) after ``n_chunks`` finished chunks."""
    real = batch_module._process_chunk
    calls = {"n": 0}

    def stop(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > n_chunks:
            raise KeyboardInterrupt("simulated kill")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "_process_chunk", stop)
    return real


def _label_interrupted(n_chunks, monkeypatch, *args, **kwargs) -> None:
    """Run ``label_files(*args, **kwargs)`` killed after ``n_chunks`` chunks, as a resume finds it."""
    real = _interrupt_after(n_chunks, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(*args, **kwargs)
    monkeypatch.setattr(batch_module, "_process_chunk", real)


def test_a_chunk_marked_done_without_its_records_is_labelled_again_and_leftovers_go(small_model, corpus, tmp_path,
                                                                                    monkeypatch):
    path, rows = corpus
    reference = tmp_path / "reference.jsonl"
    threatclf.label_files(path, reference, small_model, chunk_size=3, progress=False)
    out = tmp_path / "out.jsonl"
    _label_interrupted(3, monkeypatch, path, out, small_model, chunk_size=3, progress=False)
    partial = tmp_path / "out.jsonl.partial"
    (partial / "chunk-0000001.jsonl").unlink()  # as a kill while the folder was being removed could leave it
    left = tmp_path / ".out.jsonl.partial.0123abcd.removing"  # what a kill during a removal leaves now
    (left / "sub").mkdir(parents=True)
    (left / "sub" / "chunk.jsonl").write_text("{}\n")
    summary = threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    assert summary.resumed_chunks == 2  # chunks 0 and 2; chunk 1 labelled again
    assert out.read_bytes() == reference.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "out.jsonl", "reference.jsonl"]


def test_a_run_killed_while_removing_its_partial_folder_leaves_nothing_to_resume(small_model, corpus, tmp_path,
                                                                                  monkeypatch):
    import shutil

    path, rows = corpus
    out = tmp_path / "out.jsonl"
    real_rmtree = shutil.rmtree

    def killed_half_way(folder, *args, **kwargs):  # a few files go, then the kill
        for file in sorted(Path(folder).iterdir())[:3]:
            file.unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(shutil, "rmtree", killed_half_way)
    # Ctrl-C while tidying up: the output is complete, so the run ends as one that finished (exit 0),
    # not as "interrupted: --resume continues", which a resume would then refuse
    with pytest.warns(UserWarning, match=r"interrupted while tidying up: .*out.jsonl is complete; what is left of "
                                         r"out.jsonl.partial \(a hidden .removing folder beside it\) is removed by "
                                         r"the next run"):
        summary = threatclf.label_files(path, out, small_model, chunk_size=3, progress=False)
    monkeypatch.setattr(shutil, "rmtree", real_rmtree)
    assert summary.labelled == len(rows) and summary.output == str(out)
    assert len(read_output(out)) == len(rows)  # written before the removal began
    assert [p.name.endswith(".removing") for p in tmp_path.iterdir() if p.name.startswith(".")] == [True]
    assert not (tmp_path / "out.jsonl.partial").exists()  # renamed away first: nothing half-removed to resume
    with pytest.raises(DataError, match=r"already exists: .*there is no interrupted run to resume \(.*out.jsonl.partial "
                                        r"is gone: the run that wrote it finished\)"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    threatclf.label_files(path, tmp_path / "other.jsonl", small_model, chunk_size=3, progress=False)
    assert any(p.name.endswith(".removing") for p in tmp_path.iterdir())  # another output's run leaves it be
    _label_interrupted(1, monkeypatch, path, out, small_model, chunk_size=3, progress=False, overwrite=True)
    # a run to the same output removes it as it starts, even one that is then interrupted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "other.jsonl", "out.jsonl",
                                                          "out.jsonl.partial"]


def test_resume_refuses_the_inputs_named_otherwise_whose_names_the_rows_record(small_model, corpus, tmp_path,
                                                                                monkeypatch):
    path, rows = corpus
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out.jsonl"
    _label_interrupted(2, monkeypatch, [str(path)], out, small_model, chunk_size=3, progress=False)
    with pytest.raises(DataError, match=rf"cannot resume: .* was made from the same inputs named otherwise "
                                        rf"\({re.escape(str(path))}; this run names corpus.jsonl\): name them as then"):
        threatclf.label_files(["corpus.jsonl"], out, small_model, chunk_size=3, progress=False, resume=True)
    manifest = tmp_path / "out.jsonl.partial" / "manifest.json"  # a run interrupted by 0.10 did not record names
    recorded = json.loads(manifest.read_text())
    del recorded["named"]
    manifest.write_text(json.dumps(recorded))
    summary = threatclf.label_files([str(path)], out, small_model, chunk_size=3, progress=False, resume=True)
    assert summary.resumed_chunks == 2 and summary.labelled == len(rows)


def test_resume_refuses_another_model_or_a_changed_input(small_model, corpus, tmp_path, monkeypatch):
    from builders import tiny_corpus

    path, rows = corpus
    out = tmp_path / "out.jsonl"
    real = _interrupt_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False)
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    texts, labels = tiny_corpus()
    other = threatclf.ThreatClassifier(min_df=1, cv=3, features="word").fit(texts, labels)
    with pytest.raises(DataError, match="cannot resume: .* was made from another model"):
        threatclf.label_files(path, out, other, chunk_size=3, progress=False, resume=True)
    # a folder's model is named, so that the user can pass it again
    folder = small_model.save(tmp_path / "first-model")
    out2 = tmp_path / "out2.jsonl"
    _interrupt_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, out2, threatclf.load_model(folder), chunk_size=3, progress=False)
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    with pytest.raises(DataError, match=rf"another model \(the model folder {re.escape(str(folder))}; this run has "
                                        r"a model fitted in memory \(labels .*\)\): to continue it, pass that model"):
        threatclf.label_files(path, out2, other, chunk_size=3, progress=False, resume=True)
    threatclf.label_files(path, out2, threatclf.load_model(folder), chunk_size=3, progress=False, resume=True)
    with open(path, "a") as handle:
        handle.write(json.dumps({"id": "late", "text": "A bomb exploded."}) + "\n")
    with pytest.raises(DataError, match=rf"cannot resume: .* was made from other input files .*: "
                                        rf"{re.escape(str(path.resolve()))} changed \(size \d+ -> \d+, mtime_ns"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    a, b = {"path": "/a", "size": 1, "mtime_ns": 5}, {"path": "/b", "size": 2, "mtime_ns": 6}
    assert resume_module._inputs_differ([a], [a, b]) == "/b was not an input then"
    assert resume_module._inputs_differ([a, b], [a]) == "/b was an input then"
    assert resume_module._inputs_differ([a, b], [b, a]) == "the inputs are in another order"
    assert resume_module._inputs_differ([a], [{**a, "mtime_ns": 7}]) == "/a changed (mtime_ns 5 -> 7)"
    # only the cut-offs changed: the output would mix two sets of them
    out3 = tmp_path / "out3.jsonl"
    _label_interrupted(2, monkeypatch, path, out3, small_model, chunk_size=3, progress=False)
    stricter = copy.deepcopy(small_model)
    stricter.thresholds_ = np.minimum(stricter.thresholds_ + 0.1, 1.0)
    with pytest.raises(DataError, match="cannot resume: .* was made from another model"):
        threatclf.label_files(path, out3, stricter, chunk_size=3, progress=False, resume=True)


def test_a_chunk_cut_off_between_its_files_is_labelled_again_on_resume(small_model, corpus, tmp_path, monkeypatch):
    path, rows = corpus
    out = tmp_path / "out.jsonl"
    expected = tmp_path / "expected.jsonl"
    threatclf.label_files(path, expected, small_model, chunk_size=3, progress=False)
    real, written = resume_module._atomic_write_text, []

    def killed_after_the_second_chunks_records(target, text):
        if "chunk-0000001" in target.name and target.name.endswith(".rejects.jsonl"):
            raise KeyboardInterrupt("killed between the chunk's files")
        written.append(target.name)
        return real(target, text)

    monkeypatch.setattr(resume_module, "_atomic_write_text", killed_after_the_second_chunks_records)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False)
    monkeypatch.setattr(resume_module, "_atomic_write_text", real)
    assert "chunk-0000001.jsonl" in written and "chunk-0000001.done.json" not in written
    summary = threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    assert out.read_bytes() == expected.read_bytes()
    assert summary.rows_read == len(rows)


def test_a_fresh_run_after_an_interrupted_one_starts_over(small_model, corpus, tmp_path, monkeypatch):
    # Chunks of an interrupted run with other settings must not leak into a run without resume.
    path, _ = corpus
    expected = _reference_run(small_model, path, tmp_path / "ref.jsonl")
    out = tmp_path / "out.jsonl"
    real = _interrupt_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, threshold=1.0)
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    # A forgotten --resume must not throw finished work away: it takes --restart.
    with pytest.raises(DataError, match=r"holds 2 finished chunks of an earlier run: add --resume"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False)
    assert len(list((tmp_path / "out.jsonl.partial").glob("*.done.json"))) == 2
    threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, restart=True)
    assert out.read_bytes() == expected


def test_output_that_is_also_an_input_is_refused_and_the_input_kept(small_model, corpus):
    path, _ = corpus
    before = path.read_bytes()
    with pytest.raises(DataError, match="is also an input"):
        threatclf.label_files(path, path, small_model, progress=False)
    assert path.read_bytes() == before


def test_per_label_thresholds_apply_to_their_label_only(small_model):
    df = pd.DataFrame(ARTICLES, columns=["id", "text"])
    default = threatclf.label_dataframe(df, small_model, id_col="id")
    lowered = threatclf.label_dataframe(df, small_model, id_col="id", threshold={"terrorism": 0.0})
    for (_, a), (_, b), text in zip(default.iterrows(), lowered.iterrows(), df["text"]):
        expected = set(a["labels"]) | ({"terrorism"} if text else set())
        assert set(b["labels"]) == expected


def test_keep_text_carries_the_article_text(small_model, corpus, tmp_path):
    path, rows = corpus
    threatclf.label_files(path, tmp_path / "out.jsonl", small_model, keep_text=True, progress=False)
    out = read_output(tmp_path / "out.jsonl")
    assert {r["id"]: r["text"] for r in out.values()} == {r["id"]: r["text"] for r in rows}
    threatclf.label_files(path, tmp_path / "plain.jsonl", small_model, progress=False)
    assert all("text" not in r for r in read_output(tmp_path / "plain.jsonl").values())


def test_a_clean_rerun_replaces_an_old_rejects_file(small_model, tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "A bomb exploded."}])
    with open(path, "a") as handle:
        handle.write("{broken json\n")
    first = threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)
    assert first.rejected == 1
    rejects = tmp_path / "out.jsonl.rejects.jsonl"
    assert len(rejects.read_text().splitlines()) == 1
    write_jsonl(path, [{"id": "a", "text": "A bomb exploded."}])
    second = threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False, overwrite=True)
    assert second.rejected == 0 and (not rejects.exists() or rejects.read_text() == "")


def test_an_existing_output_is_kept_unless_overwrite_is_asked(small_model, corpus, tmp_path):
    path, _ = corpus
    out = tmp_path / "out.jsonl"
    out.write_text("an earlier run's labels\n")
    with pytest.raises(DataError, match=r"out.jsonl already exists: pass --overwrite"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False)
    assert out.read_text() == "an earlier run's labels\n"
    assert not (tmp_path / "out.jsonl.partial").exists()  # refused before any work
    summary = threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, overwrite=True)
    assert summary.labelled == len(read_output(out)) > 0


def test_resuming_an_overwriting_run_needs_no_second_overwrite(small_model, corpus, tmp_path, monkeypatch):
    # The run killed half-way was already replacing OUTPUT: --resume finishes the job.
    path, _ = corpus
    expected = _reference_run(small_model, path, tmp_path / "ref.jsonl")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    real = _interrupt_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, overwrite=True)
    assert out.read_text() == "old\n"  # the old output stays whole until the new one is complete
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    with pytest.raises(DataError, match=r"already exists: .*out.jsonl.partial holds an interrupted run: --resume"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False)
    summary = threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    assert summary.resumed_chunks == 2
    assert out.read_bytes() == expected


def test_an_output_or_rejects_path_that_is_a_folder_or_an_existing_file_fails_before_work(small_model, corpus,
                                                                                          tmp_path):
    path, _ = corpus
    (tmp_path / "out.jsonl").mkdir()
    with pytest.raises(DataError, match=r"output .*out.jsonl is a folder"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False, overwrite=True)
    notes = tmp_path / "notes.jsonl"
    notes.write_text("my notes\n")
    with pytest.raises(DataError, match=r"rejects file .*notes.jsonl already exists: pass --overwrite"):
        threatclf.label_files(path, tmp_path / "b.jsonl", small_model, progress=False, rejects=notes)
    assert notes.read_text() == "my notes\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "notes.jsonl", "out.jsonl"]
    threatclf.label_files(path, tmp_path / "b.jsonl", small_model, progress=False, rejects=notes, overwrite=True)
    assert (tmp_path / "b.jsonl").exists()


def test_evidence_leaves_out_terms_made_only_of_stop_words():
    import numpy as np
    import scipy.sparse as sp

    terms = np.array(["of the", "bomb", "the attack", "in"])
    X = sp.csr_matrix(np.array([[5.0, 1.0, 2.0, 4.0]]))
    weights = np.array([3.0, 1.0, 1.0, 2.0])
    assert evidence_module.terms_behind(X, 0, weights, terms, np.ones(4, bool), top=3) == ["the attack", "bomb"]


def test_evidence_keeps_stop_words_written_as_acronyms_unless_the_text_shouts():
    import numpy as np
    import scipy.sparse as sp

    # "IS" (the Islamic State) and "US" are "is" and "us" to the model, which reads lower case
    terms = np.array(["of is", "us is", "fighters", "it is"])
    X = sp.csr_matrix(np.array([[1.0, 1.0, 1.0, 1.0]]))
    weights = np.array([6.0, 3.0, 2.0, 5.0])
    text = "Fighters of IS said it is over; the US is sending help."
    assert evidence_module.terms_behind(X, 0, weights, terms, np.ones(4, bool), top=5, text=text) == [
        "of IS", "US is", "fighters"]
    shouted = "FIGHTERS OF IS SAID IT IS OVER; THE US IS SENDING HELP."
    assert evidence_module.terms_behind(X, 0, weights, terms, np.ones(4, bool), top=5, text=shouted) == ["fighters"]


def test_decomposed_accents_are_read_as_the_composed_words_the_model_knows(small_model):
    import unicodedata

    texts = ["Golpe al narcotráfico: el cártel movía cocaína.", "Militants bombed the café in Bogotá."]
    decomposed = [unicodedata.normalize("NFD", t) for t in texts]
    assert decomposed != texts
    np.testing.assert_array_equal(small_model.decision_function(decomposed), small_model.decision_function(texts))
    assert (small_model.transform(decomposed) != small_model.transform(texts)).nnz == 0
    frame = pd.DataFrame({"id": ["a", "b"], "text": decomposed})
    out = threatclf.label_dataframe(frame, small_model, id_col="id", passages=True)
    assert [(s, e) for s, e in zip(out["start"], out["end"])] == [(0, len(t)) for t in decomposed]  # offsets: as given
    # a model trained on decomposed text learns the composed words
    from builders import tiny_corpus

    train, labels = tiny_corpus()
    train = [t + " Le narcotráfico." if k % 2 else t for k, t in enumerate(train)]
    nfc = threatclf.ThreatClassifier(min_df=1, cv=3).fit(train, labels)
    nfd = threatclf.ThreatClassifier(min_df=1, cv=3).fit([unicodedata.normalize("NFD", t) for t in train], labels)
    np.testing.assert_array_equal(nfc.coef_, nfd.coef_)
    assert "word:narcotráfico" in set(nfd.get_feature_names_out())
    # evidence named from character n-grams (read in composed form): the words as the text writes
    # them, so that a search for them in the text finds them
    import scipy.sparse as sp

    terms, is_word = np.array(["por", " narc", "narco", "ocaín"]), np.array([True, False, False, False])
    X, weights = sp.csr_matrix(np.ones((1, 4))), np.array([0.5, 3.0, 2.0, 1.5])
    text = unicodedata.normalize("NFD", "Golpe al narcotráfico: cocaína por el puerto.")
    shown = evidence_module.terms_behind(X, 0, weights, terms, is_word, top=3, text=text)
    assert shown == [unicodedata.normalize("NFD", word) for word in ["narcotráfico", "cocaína", "por"]]
    assert all(word in text for word in shown)


def test_soft_hyphens_and_word_joiners_are_read_as_the_words_they_sit_in(small_model):
    plain = ["Customs officers seized two tonnes of cocaine in a shipment.",
             "The mayor was charged with taking bribes from a company."]
    hyphenated = ["Customs officers seized two tonnes of co\u00adcaine in a ship\u00adment.",
                  "The mayor was charged with tak\u2060ing bri\u00adbes from a com\u00adpa\u00adny."]
    np.testing.assert_array_equal(small_model.decision_function(hyphenated), small_model.decision_function(plain))
    assert (small_model.transform(hyphenated) != small_model.transform(plain)).nnz == 0
    frame = pd.DataFrame({"id": ["a", "b"], "text": hyphenated})
    out = threatclf.label_dataframe(frame, small_model, id_col="id", passages=True)
    assert [(s, e) for s, e in zip(out["start"], out["end"])] == [(0, len(t)) for t in hyphenated]  # offsets: as given
    expected = threatclf.label_dataframe(pd.DataFrame({"id": ["a", "b"], "text": plain}), small_model, id_col="id",
                                         passages=True)
    assert out["labels"].tolist() == expected["labels"].tolist()
    assert out["evidence"].tolist() == expected["evidence"].tolist()  # "cocaine", "bribes": the words, whole
    assert "cocaine" in str(out["evidence"].tolist())
    # a model trained on such text learns the whole words
    from builders import tiny_corpus

    train, labels = tiny_corpus()
    joined = threatclf.ThreatClassifier(min_df=1, cv=3).fit(train, labels)
    hyphened = threatclf.ThreatClassifier(min_df=1, cv=3).fit([t.replace("ine", "i\u00adne") for t in train], labels)
    np.testing.assert_array_equal(joined.coef_, hyphened.coef_)
    assert "word:cocaine" in set(hyphened.get_feature_names_out())


def test_word_terms_take_the_unicode_form_the_text_writes_them_in():
    import unicodedata

    import scipy.sparse as sp

    # the model reads composed text: its term "état" is not in a text that writes "e\u0301tat"
    # a two-word term, whose words the text parts with a dropped token ("d'"), too: it was left composed
    terms, is_word = np.array(["état", "coup", "gülen", "coup état"]), np.ones(4, bool)
    X, weights = sp.csr_matrix(np.ones((1, 4))), np.array([3.0, 2.0, 1.0, 0.5])
    written = "Le coup d'état de Gülen."
    for text in (written, unicodedata.normalize("NFD", written)):
        shown = evidence_module.terms_behind(X, 0, weights, terms, is_word, top=4, text=text)
        assert shown == [unicodedata.normalize("NFC" if text == written else "NFD", t) for t in terms]
        assert all(word in text.lower() for term in shown for word in term.split())


def test_a_model_of_character_n_grams_alone_names_the_words_holding_them():
    import scipy.sparse as sp

    terms = np.array([" coc", "in", "cocai", "ze"])
    X, weights = sp.csr_matrix(np.ones((1, 4))), np.array([3.0, 2.0, 2.5, 0.5])
    text = "Police seized cocaine in the port."
    assert evidence_module.terms_behind(X, 0, weights, terms, np.zeros(4, bool), top=3, text=text) == ["cocaine"]
    from builders import tiny_corpus

    model = threatclf.ThreatClassifier(features="char", min_df=1, cv=3).fit(*tiny_corpus())
    out = threatclf.label_dataframe(pd.DataFrame({"id": ["a"], "text": ["Customs seized heroin at the port."]}),
                                    model, id_col="id")
    terms_shown = [t for found in out["evidence"].iloc[0] for t in found["terms"]]
    assert terms_shown and all(t in "Customs seized heroin at the port." and " " not in t for t in terms_shown)


def test_evidence_names_the_words_holding_the_character_n_grams_when_they_carry_the_score():
    import numpy as np
    import scipy.sparse as sp

    # words ("por", "el") raise the score a little, the character n-grams of "narcotráfico" most
    terms = np.array(["por", "por el", " narc", "narco", "ocaín", "xyz"])
    is_word = np.array([True, True, False, False, False, False])
    X = sp.csr_matrix(np.array([[1.0, 1.0, 1.0, 1.0, 1.0, 0.0]]))
    weights = np.array([0.5, 0.4, 3.0, 2.0, 1.5, 9.0])
    text = "Golpe al narcotráfico: cocaína por el puerto."
    assert evidence_module.terms_behind(X, 0, weights, terms, is_word, top=3, text=text) == [
        "narcotráfico", "cocaína", "por"]
    # where the words carry a quarter or more, they stay the evidence
    weights[:2] = [3.0, 2.0]
    assert evidence_module.terms_behind(X, 0, weights, terms, is_word, top=3, text=text) == ["por", "por el"]


def test_scoring_and_evidence_a_block_at_a_time_give_the_same_rows(small_model, monkeypatch):
    from builders import tiny_corpus

    texts, _ = tiny_corpus(repeats=2)
    long = " ".join(texts)  # an article of many passages beside short ones
    ids, corpus = [f"a{k}" for k in range(len(texts) + 1)], texts + [long]
    whole = {p: batch_module.label_records(small_model, ids, corpus, batch_module.LabelOptions(passages=p))
             for p in (False, True)}
    calls = []
    real = threatclf.ThreatClassifier.transform  # patched on the class: the shared model keeps no attribute of it
    monkeypatch.setattr(batch_module, "BLOCK_CHARS", 200)
    monkeypatch.setattr(batch_module, "BLOCK_PASSAGES", 3)
    monkeypatch.setattr(threatclf.ThreatClassifier, "transform", lambda self, X: calls.append(len(X)) or real(self, X))
    for passages in (False, True):
        calls.clear()
        assert batch_module.label_records(small_model, ids, corpus,
                                       batch_module.LabelOptions(passages=passages)) == whole[passages]
        assert len(calls) > 1 and max(calls) <= 3  # evidence featurised a few passages at a time
    assert [(b.start, b.stop) for b in batch_module._blocks(["x" * 150, "y" * 100, "z" * 500, "w", "v", "u", "t"])] == [
        (0, 1), (1, 2), (2, 3), (3, 6), (6, 7)]  # 200 characters or 3 texts a block; a longer text alone


def test_a_word_of_text_without_spaces_is_shown_by_its_start_not_whole(small_model):
    run = "smuggledcocaineheroinseized" * 40  # 1,080 letters, no space: one "word"
    labelled = threatclf.label_dataframe(pd.DataFrame({"id": ["a"], "text": [f"Customs: {run}"]}), small_model)
    (item,) = labelled["evidence"][0]
    assert item["label"] == "drug_trafficking" and item["terms"][0] == run[:evidence_module.MAX_SHOWN_WORD]


def test_a_character_n_gram_at_a_word_edge_names_a_word_with_it_at_that_edge():
    import numpy as np
    import scipy.sparse as sp

    # char_wb pads each word with a space: "ist " ends "Maoist", not "existing"; " ter" starts
    # "terrorists", not "Minister" or "Internet"
    terms = np.array(["ist ", " ter", "xyz", "said"])  # "said": a word feature that carries little
    is_word = np.array([False, False, False, True])
    X = sp.csr_matrix(np.array([[1.0, 1.0, 0.0, 1.0]]))
    weights = np.array([3.0, 2.0, 9.0, 0.1])
    text = "Existing Internet rules, the Minister said, let Maoist terrorists act."
    assert evidence_module.terms_behind(X, 0, weights, terms, is_word, top=3, text=text) == ["Maoist", "terrorists", "said"]
    # words are what white space separates, as char_wb reads them: "Maoist-led" ends in "led ", and
    # "terrorist," in "st, "; the holder is shown without the punctuation at its edges
    text = "Maoist-led rebels (terrorist, said police) backed a terrorist attack."
    assert evidence_module.terms_behind(X, 0, weights, terms, is_word, top=3, text=text) == ["terrorist", "said"]
    assert evidence_module.terms_behind(X, 0, np.array([0.0, 2.0, 9.0, 0.1]), terms, is_word, top=3,
                                        text=text) == ["terrorist", "said"]  # " ter": not "(terrorist,"


def test_a_character_n_gram_of_under_three_letters_names_no_word():
    import numpy as np
    import scipy.sparse as sp

    # "ia " ends "Lydia" as well as "Russia": two letters say too little to name the word that holds
    # them, so the word named is the one holding the longer "ssi"
    terms = np.array(["ia ", "ssi", "said"])
    is_word = np.array([False, False, True])
    X = sp.csr_matrix(np.array([[1.0, 1.0, 1.0]]))
    weights = np.array([5.0, 2.0, 0.1])
    text = "Lydia said that Russia had spies."
    assert evidence_module.terms_behind(X, 0, weights, terms, is_word, top=3, text=text) == ["Russia", "said"]


def test_words_named_for_character_n_grams_are_no_stop_words_and_appear_once():
    import numpy as np
    import scipy.sparse as sp

    # "tha" sits first in "that" (a stop word) and in "thaw"; "russ" in "Russia" and "russia"
    terms = np.array(["russia", "tha", "russ", "xyz"])
    is_word = np.array([True, False, False, False])
    X = sp.csr_matrix(np.array([[1.0, 1.0, 1.0, 0.0]]))
    weights = np.array([0.1, 3.0, 2.0, 9.0])
    text = "Nothing that Russia said, russia said; the thaw came."
    assert evidence_module.terms_behind(X, 0, weights, terms, is_word, top=3, text=text) == ["thaw", "Russia"]


def test_evidence_counts_a_term_of_two_blocks_once_with_both_contributions():
    import numpy as np
    import scipy.sparse as sp

    # "bomb" is both a TF-IDF word feature and a presence feature; "attack" is in one block only
    terms = np.array(["bomb", "attack", "bomb"])
    X = sp.csr_matrix(np.array([[1.0, 1.0, 1.0]]))
    weights = np.array([1.0, 1.5, 1.0])
    assert evidence_module.terms_behind(X, 0, weights, terms, np.ones(3, bool), top=3) == ["bomb", "attack"]


def test_a_term_whose_features_lower_the_label_on_balance_is_not_evidence_for_it():
    import numpy as np
    import scipy.sparse as sp

    # "ukrainian": its TF-IDF feature raises the score a little, its presence feature lowers it
    # more; the terms are ranked by their net rise, not by their rising parts
    terms = np.array(["ukrainian", "plot", "terrorist", "ukrainian", "plot", "foiled"])
    X = sp.csr_matrix(np.ones((1, 6)))
    weights = np.array([0.3, 0.5, 1.0, -0.5, 0.6, 0.05])
    assert evidence_module.terms_behind(X, 0, weights, terms, np.ones(6, bool), top=5) == [
        "plot", "terrorist", "foiled"]


def test_a_character_n_gram_shared_by_words_is_credited_to_each_in_turn_not_the_first():
    import numpy as np
    import scipy.sparse as sp

    # "sch" is in "Erzbischof" and in "Dschihadisten" (twice over the two words); "Erzbischof"
    # comes first in the text, but its own word feature lowers the score more than its share of
    # "sch" raises it, and "Dschihadisten" holds the other n-grams too
    terms = np.array(["erzbischof", " dsch", "sch", "hadist", "warnte"])
    is_word = np.array([True, False, False, False, True])
    X = sp.csr_matrix(np.ones((1, 5)))
    weights = np.array([-0.6, 2.0, 1.0, 3.0, 0.01])
    text = "Der Erzbischof warnte vor Dschihadisten."
    assert evidence_module.terms_behind(X, 0, weights, terms, is_word, top=3, text=text) == [
        "Dschihadisten", "warnte"]
    # with no word feature of its own, its share of "sch" (a half) makes it evidence, after the word
    # holding the rest
    assert evidence_module.terms_behind(X, 0, np.array([0.0, 2.0, 1.0, 3.0, 0.01]), terms, is_word, top=3,
                                        text=text) == ["Dschihadisten", "Erzbischof", "warnte"]


def test_every_evidence_term_of_the_default_model_raises_its_label():
    import numpy as np

    model = threatclf.load_model()
    terms, is_word = model._evidence_terms()
    # English, where the word n-grams carry the scores (the words named for character n-grams are
    # tested above)
    texts = ["The Ukrainian security service said it foiled a terrorist plot in Kyiv.",
             "Prosecutors charged the mayor with taking bribes from a cocaine cartel.",
             "Russian state media spread false claims about the election, officials said.",
             "Police said the gang smuggled heroin through the port and paid off customs officers."]
    X = model.transform(texts)
    assigned = model.predict_indicator(texts)
    assert assigned.sum() >= 4
    checked = 0
    for row, text in enumerate(texts):
        start, end = X.indptr[row], X.indptr[row + 1]
        columns, values = X.indices[start:end], X.data[start:end]
        for j in np.flatnonzero(assigned[row]):
            label = model.labels_[j]
            shown = evidence_module.terms_behind(X, row, model.coef_[j], terms, is_word, top=8, text=text)
            contrib = values * model.coef_[j, columns]
            net = {}
            for term, part in zip(terms[columns[is_word[columns]]], contrib[is_word[columns]]):
                net[term] = net.get(term, 0.0) + part
            assert all(t in net and net[t] > 0 for t in shown), (label, text, [(t, net.get(t)) for t in shown])
            assert [net[t] for t in shown] == sorted((net[t] for t in shown), reverse=True)
            checked += len(shown)
    assert checked > 20


def test_written_scores_and_labels_agree_at_the_threshold(small_model):
    # scores are rounded to 6 decimals for output; rounding must not cross the label's threshold
    text = "Militants bombed the market."
    p = float(small_model.predict_proba([text])["terrorism"][0])
    shown = round(p, 6)
    threshold = (p + shown) / 2 if shown != p else p  # between the value and its rounding
    df = pd.DataFrame({"id": ["a"], "text": [text]})
    for passages in (False, True):
        out = threatclf.label_dataframe(df, small_model, id_col="id", threshold={"terrorism": threshold},
                                        passages=passages)
        assert (out["score_terrorism"][0] >= threshold) == ("terrorism" in out["labels"][0]) == (p >= threshold)


def test_an_article_without_text_gets_no_scores_rather_than_zeros(small_model, tmp_path):
    # 0.0 would read as "certainly not"; an empty or blank text was never scored.
    df = pd.DataFrame({"id": ["a", "b", "c"], "text": ["Militants bombed the market.", "", "   "]})
    out = threatclf.label_dataframe(df, small_model, id_col="id")
    scores = out[[f"score_{label}" for label in small_model.labels_]]
    assert scores.iloc[0].notna().all() and scores.iloc[1:].isna().all().all()
    assert out.loc[1, "labels"] == [] and out.loc[1, "evidence"] == []
    path = write_jsonl(tmp_path / "in.jsonl", df.to_dict("records"))
    threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)
    rows = read_output(tmp_path / "out.jsonl")
    assert set(rows["b"]["scores"].values()) == {None} and rows["b"]["labels"] == []
    threatclf.label_files(path, tmp_path / "p.jsonl", small_model, passages=True, progress=False)
    rows = read_output(tmp_path / "p.jsonl")
    assert rows["c"]["passage"] is None and set(rows["c"]["scores"].values()) == {None}


@pytest.mark.parametrize("passages", [False, True])
def test_score_columns_stay_floats_when_no_text_has_a_passage(small_model, passages):
    df = pd.DataFrame({"id": ["a", "b"], "text": ["", "  "]})
    out = threatclf.label_dataframe(df, small_model, id_col="id", passages=passages)
    scores = out[[f"score_{label}" for label in small_model.labels_]]
    assert (scores.dtypes == "float64").all() and scores.isna().all().all()
    empty = threatclf.label_dataframe(df.iloc[:0], small_model, id_col="id", passages=passages)
    assert (empty[[f"score_{label}" for label in small_model.labels_]].dtypes == "float64").all()


def test_rejects_files_are_not_replaced_without_overwrite_even_on_resume(small_model, corpus, tmp_path, monkeypatch):
    path, _ = corpus
    stale = tmp_path / "out.jsonl.rejects.jsonl"  # the default rejects path, left without its output
    stale.write_text("kept\n")
    with pytest.raises(DataError, match=r"rejects file .*out.jsonl.rejects.jsonl already exists: pass --overwrite"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)
    assert stale.read_text() == "kept\n"
    notes = tmp_path / "notes.jsonl"
    notes.write_text("my notes\n")
    real = _interrupt_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, tmp_path / "b.jsonl", small_model, chunk_size=3, progress=False)
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    # The interrupted run never named notes.jsonl: resuming with it is no licence to replace it.
    with pytest.raises(DataError, match=r"rejects file .*notes.jsonl already exists: pass --overwrite"):
        threatclf.label_files(path, tmp_path / "b.jsonl", small_model, chunk_size=3, progress=False, resume=True,
                              rejects=notes)
    assert notes.read_text() == "my notes\n"
    # A run that named it, killed just after writing it (rejects go first), resumes with no second flag
    mine = tmp_path / "mine.jsonl"
    _label_interrupted(2, monkeypatch, path, tmp_path / "c.jsonl", small_model, chunk_size=3, progress=False,
                       rejects=mine)
    mine.write_text("{}\n")
    threatclf.label_files(path, tmp_path / "c.jsonl", small_model, chunk_size=3, progress=False, resume=True,
                          rejects=mine)
    assert (tmp_path / "c.jsonl").exists() and mine.read_text() == ""  # replaced: no row was rejected
    # nor does leaving --rejects out license the default path when the interrupted run named another
    _label_interrupted(2, monkeypatch, path, tmp_path / "d.jsonl", small_model, chunk_size=3, progress=False,
                       rejects=tmp_path / "theirs.jsonl")
    beside = tmp_path / "d.jsonl.rejects.jsonl"
    beside.write_text("an earlier run's rejects\n")
    with pytest.raises(DataError, match=r"rejects file .*d.jsonl.rejects.jsonl already exists: pass --overwrite"):
        threatclf.label_files(path, tmp_path / "d.jsonl", small_model, chunk_size=3, progress=False, resume=True)
    assert beside.read_text() == "an earlier run's rejects\n"


def test_restart_over_an_existing_output_asks_for_overwrite_only(small_model, corpus, tmp_path, monkeypatch):
    path, _ = corpus
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    real = _interrupt_after(2, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, overwrite=True)
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    with pytest.raises(DataError) as error:
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, restart=True)
    assert "pass --overwrite" in str(error.value) and "--resume" not in str(error.value)


def test_a_kill_after_the_rejects_are_written_leaves_no_old_output_beside_them(small_model, tmp_path, monkeypatch):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": f"a{i}", "text": "A bomb exploded."} for i in range(4)])
    with open(path, "a") as handle:
        handle.write("{broken json\n")
    out = tmp_path / "out.jsonl"
    out.write_text("an older run's labels\n")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt("killed while writing the output")

    monkeypatch.setattr(batch_module, "RecordWriter", killed)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(path, out, small_model, chunk_size=2, progress=False, overwrite=True)
    assert (tmp_path / "out.jsonl.rejects.jsonl").exists() and not out.exists()
    monkeypatch.undo()
    summary = threatclf.label_files(path, out, small_model, chunk_size=2, progress=False, resume=True)
    assert summary.labelled == 4 and summary.rejected == 1 and len(read_output(out)) == 4


def test_ids_made_from_files_of_one_name_in_two_folders_differ(small_model, tmp_path):
    for folder in ("day1", "day2"):
        (tmp_path / folder).mkdir()
        write_jsonl(tmp_path / folder / "news.jsonl", [{"text": "Militants bombed the market."}])
    other = write_jsonl(tmp_path / "other.jsonl", [{"text": "A sunny day."}])
    out = tmp_path / "out.jsonl"
    summary = threatclf.label_files([tmp_path / "day1" / "news.jsonl", tmp_path / "day2" / "news.jsonl", other], out,
                                    small_model, progress=False)
    ids = list(read_output(out))
    assert summary.duplicate_ids == 0 and len(set(ids)) == 3
    assert ids[:2] == [f"{tmp_path / d / 'news.jsonl'}:1" for d in ("day1", "day2")] and ids[2] == "other.jsonl:1"


def test_truncated_jsonl_line_is_named_as_such(small_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "Militants bombed the market."}\n{"id": "b", "text": "cut off her\n'
                      '{"id": "c" "text": "missing comma"}\n')
    summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, progress=False)
    rejects = [json.loads(line) for line in open(summary.rejects)]
    assert [r["reason"] for r in rejects] == ["invalid JSON: the line ends before its JSON does (a truncated line?)",
                                              "invalid JSON: Expecting ',' delimiter (col 12)"]


def test_a_finished_run_removes_temporary_files_left_by_a_killed_one(small_model, corpus, tmp_path):
    path, _ = corpus
    out = tmp_path / "out.jsonl"
    left = tmp_path / ".out.jsonl.0123abcd.partial"  # as a kill during the final write leaves it
    left.write_text("half an output")
    threatclf.label_files(path, out, small_model, progress=False)
    assert out.exists() and not left.exists()


def test_resume_refuses_an_input_edited_to_the_same_size_and_time_stamp(small_model, corpus, tmp_path, monkeypatch):
    # cp -p, rsync -t and tar x restore a file's time: size and time alone would let two inputs mix
    path, rows = corpus
    out = tmp_path / "out.jsonl"
    _label_interrupted(2, monkeypatch, path, out, small_model, chunk_size=3, progress=False)
    before = path.stat()
    data = path.read_bytes()
    edited = data.replace(b"o", b"0", 1)
    assert edited != data and len(edited) == len(data)
    path.write_bytes(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(DataError, match=rf"{re.escape(str(path.resolve()))} changed \(its content, though its size and "
                                        r"time stamp are the same"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)


def test_resume_with_nothing_to_resume_names_an_interrupted_run_of_the_same_inputs(small_model, corpus, tmp_path,
                                                                                    monkeypatch):
    path, rows = corpus
    _label_interrupted(2, monkeypatch, path, tmp_path / "out.jsonl", small_model, chunk_size=3, progress=False)
    with pytest.warns(UserWarning, match=r"nothing to resume for out.csv, so it is labelled from the start; "
                                         r".*out.jsonl.partial holds an interrupted run of the same inputs: to "
                                         r"continue that one, resume it with its own output \(out.jsonl\)"):
        threatclf.label_files(path, tmp_path / "out.csv", small_model, chunk_size=3, progress=False, resume=True)
    with warnings.catch_warnings():  # a first run with resume=True, the README's idempotent form: nothing to say
        warnings.simplefilter("error")
        threatclf.label_files(path, tmp_path / "sub" / "again.jsonl", small_model, progress=False, resume=True)


def test_resume_refuses_a_txt_folder_whose_files_changed_inside(small_model, tmp_path, monkeypatch):
    # the folder's own size and time do not change when a file in a subfolder is added or edited
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    for i in range(6):
        (docs / "sub" / f"{i:02d}.txt").write_text(f"Police seized cocaine at port number {i}.")
    out = tmp_path / "out.jsonl"
    real = _interrupt_after(1, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files(docs, out, small_model, chunk_size=2, progress=False)
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    (docs / "sub" / "00a.txt").write_text("Militants bombed a checkpoint.")
    with pytest.raises(DataError, match=r"docs changed \(a \.txt file in it was added, removed or edited\)"):
        threatclf.label_files(docs, out, small_model, chunk_size=2, progress=False, resume=True)
    (docs / "sub" / "00a.txt").unlink()
    threatclf.label_files(docs, out, small_model, chunk_size=2, progress=False, resume=True)
    assert [r["id"] for r in map(json.loads, out.read_text().splitlines())] == [f"sub/{i:02d}.txt" for i in range(6)]


@pytest.mark.parametrize("chunk_size", [2, 3])
def test_an_integer_column_some_inputs_lack_stays_whole_at_any_chunk_size(small_model, tmp_path, chunk_size):
    # a chunk joining a file with the column and one without it must not make its ints floats
    pytest.importorskip("pyarrow")
    pd.DataFrame({"id": ["a", "b"], "text": ["Cartel smuggled cocaine.", "Rain."],
                  "n": [12345678901234567, 7]}).to_parquet(tmp_path / "day1.parquet")
    write_jsonl(tmp_path / "day2.jsonl", [{"id": "c", "text": "A quiet day."}])
    for suffix in (".jsonl", ".csv", ".parquet"):
        out = tmp_path / f"out{chunk_size}{suffix}"
        threatclf.label_files([tmp_path / "day1.parquet", tmp_path / "day2.jsonl"], out, small_model,
                              chunk_size=chunk_size, progress=False)
        if suffix == ".csv":
            n = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("id")["n"]
            assert n.to_dict() == {"a": "12345678901234567", "b": "7", "c": ""}, n
        elif suffix == ".parquet":  # pandas would read an int64 column with a null as floats
            import pyarrow.parquet as pq

            table = pq.read_table(out)
            assert str(table.schema.field("n").type) == "int64"
            assert dict(zip(table.column("id").to_pylist(), table.column("n").to_pylist())) == {
                "a": 12345678901234567, "b": 7, "c": None}
        else:
            rows = read_output(out)
            assert [rows[i].get("n") for i in ("a", "b", "c")] == [12345678901234567, 7, None]


def test_a_named_parquet_index_is_carried_as_a_column(small_model, tmp_path):
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"doc": ["d1", "d2"], "id": ["a", "b"], "text": ["Cartel smuggled cocaine.", "Rain."]})
    frame.set_index("doc").to_parquet(tmp_path / "in.parquet")
    frame.iloc[[1]].to_parquet(tmp_path / "filtered.parquet")  # an unnamed, non-default index: not data
    threatclf.label_files([tmp_path / "in.parquet", tmp_path / "filtered.parquet"], tmp_path / "out.jsonl",
                          small_model, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["doc"] for r in rows] == ["d1", "d2", "d2"]
    assert not any(k.startswith("__index_level") for r in rows for k in r)


def test_a_named_parquet_range_index_is_carried_and_can_be_the_id(small_model, tmp_path):
    # ids 100, 101, ... set as the index are a RangeIndex (pandas 3 makes one of set_index on them), which
    # pyarrow stores in the file's metadata, not as a column: they were lost without a word
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"text": ["Cartel smuggled cocaine.", "Rain.", "A bomb exploded."]},
                         index=pd.RangeIndex(100, 106, 2, name="doc"))
    frame.to_parquet(tmp_path / "in.parquet")
    threatclf.label_files(tmp_path / "in.parquet", tmp_path / "out.jsonl", small_model, progress=False, chunk_size=2)
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["doc"] for r in rows] == [100, 102, 104] and rows[0]["id"] == "in.parquet:1"
    threatclf.label_files(tmp_path / "in.parquet", tmp_path / "by_doc.csv", small_model, progress=False, chunk_size=2,
                          id_col="doc")
    assert pd.read_csv(tmp_path / "by_doc.csv")["id"].tolist() == [100, 102, 104]
    # restored only where it is the file's data: not beside a column of its name (set_index(drop=False)),
    # not under an output column's name, nor when its length is not the file's (pd.read_parquet ignores it)
    import pyarrow as pa
    import pyarrow.parquet as pq

    kept = frame.assign(doc=[7, 8, 9]).set_axis(pd.RangeIndex(3, name="doc"))
    pa_table = pa.Table.from_pandas(kept)
    assert "doc" in pa_table.column_names and pa_table.schema.pandas_metadata["index_columns"][0]["kind"] == "range"
    pq.write_table(pa_table, tmp_path / "both.parquet")
    frame.set_axis(pd.RangeIndex(3, name="labels")).to_parquet(tmp_path / "named_labels.parquet")
    short = pa.Table.from_pandas(frame.iloc[:2].set_axis(pd.RangeIndex(2, name="doc")))
    pq.write_table(pa.concat_tables([short, short.replace_schema_metadata(short.schema.metadata)]),
                   tmp_path / "short.parquet")  # 4 rows, a range of 2
    for name, expected in (("both", [7, 8, 9]), ("named_labels", None), ("short", None)):
        threatclf.label_files(tmp_path / f"{name}.parquet", tmp_path / f"{name}.jsonl", small_model, progress=False)
        rows = [json.loads(line) for line in (tmp_path / f"{name}.jsonl").read_text().splitlines()]
        assert [r.get("doc") for r in rows] == (expected or [None] * len(rows)), name


@pytest.mark.parametrize("kind", ["category", "string_view", "all null"])
def test_parquet_text_columns_of_other_string_types_are_read(small_model, tmp_path, kind):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    if kind == "string_view" and not hasattr(pa, "string_view"):  # pyarrow < 16 has no such type to meet
        pytest.skip("this pyarrow has no string_view type")
    texts = ["Cartel smuggled cocaine.", "Rain fell."] if kind != "all null" else [None, None]
    column = {"category": lambda: pa.array(texts).dictionary_encode(), "string_view": lambda: pa.array(texts, pa.string_view()),
              "all null": lambda: pa.nulls(2)}[kind]()
    pq.write_table(pa.table({"id": ["a", "b"], "text": column}), tmp_path / "in.parquet")
    summary = threatclf.label_files(tmp_path / "in.parquet", tmp_path / "out.jsonl", small_model, progress=False)
    if kind == "all null":  # missing text: rejects, as in any other format, not a failed run
        assert (summary.labelled, summary.rejected) == (0, 2)
    else:
        rows = read_output(tmp_path / "out.jsonl")
        expected = threatclf.label_dataframe(pd.DataFrame({"id": ["a", "b"], "text": texts}), small_model, id_col="id")
        assert summary.labelled == 2 and [rows[i]["labels"] for i in "ab"] == expected["labels"].tolist()


def test_parquet_passage_offsets_are_integers_when_the_first_chunk_has_no_text(small_model, tmp_path):
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    write_jsonl(tmp_path / "in.jsonl", [{"id": "e", "text": ""}, {"id": "a", "text": "Cartel smuggled cocaine."}])
    out = tmp_path / "out.parquet"
    threatclf.label_files(tmp_path / "in.jsonl", out, small_model, passages=True, chunk_size=1, progress=False)
    schema = pq.read_schema(out)
    assert {name: str(schema.field(name).type) for name in ("passage", "start", "end")} == dict.fromkeys(
        ("passage", "start", "end"), "int64")


def test_a_txt_file_name_that_is_not_utf8_becomes_an_id(small_model, tmp_path):
    import os

    docs = tmp_path / "docs"
    docs.mkdir()
    try:
        with open(os.path.join(os.fsencode(docs), b"caf\xe9.txt"), "w") as handle:
            handle.write("Cartel smuggled cocaine.")
    except OSError:
        pytest.skip("this file system refuses names that are not UTF-8")
    (docs / "b.txt").write_text("Rain fell.")
    summary = threatclf.label_files(docs, tmp_path / "out.jsonl", small_model, progress=False)
    assert summary.labelled == 2 and set(read_output(tmp_path / "out.jsonl")) == {"b.txt", "caf\\xe9.txt"}


def test_jsonl_rows_nested_too_deeply_or_using_internal_names_are_rejected(small_model, tmp_path):
    deep = {"id": "deep", "text": "Rain."}
    node = deep
    for _ in range(150):
        node["x"] = {}
        node = node["x"]
    path = tmp_path / "in.jsonl"
    path.write_text("\ufeff\n" + json.dumps(deep) + "\n" + json.dumps({"id": "s", "text": "Rain.", "_line": 3}) + "\n"
                    + json.dumps({"id": "ok", "text": "Cartel smuggled cocaine."}) + "\n")
    summary = threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)
    assert (summary.rows_read, summary.labelled, summary.rejected) == (3, 1, 2)  # the BOM-only line is blank
    reasons = {r["id"] or r["line"]: r["reason"] for r in map(json.loads, (tmp_path / "out.jsonl.rejects.jsonl").read_text()
                                                               .splitlines())}
    assert "nested more than 100 levels deep" in reasons[2]
    assert reasons["s"].startswith("field '_line' has a name threatclf uses for its own bookkeeping")
    (tmp_path / "in.csv").write_text("id,text,_source\na,Rain.,x\n")
    with pytest.raises(DataError, match=r"in.csv: column '_source' has a name threatclf uses"):
        threatclf.label_files(tmp_path / "in.csv", tmp_path / "out2.jsonl", small_model, progress=False)
    # a JSONL file whose first rows all have such a field is refused up front, as a CSV header is
    (tmp_path / "all.jsonl").write_text("".join(json.dumps({"id": f"r{i}", "text": "Rain.", "_source": "wire"}) + "\n"
                                                for i in range(3)))
    with pytest.raises(DataError, match=r"all.jsonl: field '_source' has a name threatclf uses for its own"):
        threatclf.label_files(tmp_path / "all.jsonl", tmp_path / "out3.jsonl", small_model, progress=False)
    assert not (tmp_path / "out3.jsonl").exists() and not (tmp_path / "out3.jsonl.partial").exists()


def test_a_misspelt_jsonl_id_field_is_refused_up_front(small_model, tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"story_id": "s1", "text": "Rain."}])
    with pytest.raises(DataError, match=r"in.jsonl: no id field 'storyid' in its first rows; their fields are "
                                        r"\['story_id', 'text'\]"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, id_col="storyid", progress=False)
    threatclf.label_files(path, tmp_path / "out.jsonl", small_model, id_col="story_id", progress=False)
    assert list(read_output(tmp_path / "out.jsonl")) == ["s1"]


def test_numpy_thresholds_are_accepted_by_label_files(small_model, corpus, tmp_path):
    import numpy as np

    path, rows = corpus
    threatclf.label_files(path, tmp_path / "a.jsonl", small_model, threshold=np.float32(0.5), progress=False)
    per_label = {label: np.float64(0.5) for label in small_model.labels_}
    threatclf.label_files(path, tmp_path / "b.jsonl", small_model, threshold=per_label, progress=False)
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()


def test_label_dataframe_refuses_one_column_for_text_and_id(small_model):
    frame = pd.DataFrame({"text": ["A bomb exploded at the market."]})
    for passages in (False, True):
        with pytest.raises(DataError, match="text and id columns must differ"):
            threatclf.label_dataframe(frame, small_model, id_col="text", passages=passages)


def test_label_dataframe_refuses_repeated_or_clashing_columns(small_model):
    frame = pd.DataFrame([["a", "Rain.", "x"]], columns=["id", "text", "text"])
    with pytest.raises(DataError, match=r"column 'text' appears 2 times"):
        threatclf.label_dataframe(frame, small_model, id_col="id")
    frame = pd.DataFrame({"text": ["a"], "body": ["Cartel smuggled cocaine."]})
    with pytest.raises(DataError, match="id column 'text' has the name of an output column of passage rows"):
        threatclf.label_dataframe(frame, small_model, id_col="text", text_col="body", passages=True)


def test_a_late_jsonl_row_with_an_output_field_is_rejected_not_fatal(small_model, tmp_path):
    # found at line 35,561 after every chunk was labelled, it used to stop the run with nothing written
    rows = [{"id": f"r{i}", "text": "Police seized cocaine."} for i in range(7)]
    rows.append({"id": "late", "text": "Rain.", "labels": ["mine"]})
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    summary = threatclf.label_files(path, tmp_path / "out.jsonl", small_model, chunk_size=3, progress=False)
    assert (summary.rows_read, summary.labelled, summary.rejected) == (8, 7, 1)
    assert list(read_output(tmp_path / "out.jsonl")) == [f"r{i}" for i in range(7)]
    reject = json.loads((tmp_path / "out.jsonl.rejects.jsonl").read_text())
    assert (reject["line"], reject["id"]) == (8, "late")
    assert reject["reason"] == "field 'labels' would be overwritten by the output's 'labels' column; rename it"


def test_the_rejects_file_is_in_input_order_whatever_the_chunk_size(small_model, tmp_path):
    first = [{"id": "a", "text": "Rain.", "labels": ["mine"]}, {"id": "b", "text": None},
             {"id": "c", "text": "Police seized cocaine."}, {"id": "d", "text": "Snow.", "scores": {}}]
    inputs = [write_jsonl(tmp_path / "one.jsonl", first),
              write_jsonl(tmp_path / "two.jsonl", [{"id": "e", "text": 5}, {"id": "f", "text": "Hail.", "labels": []}])]
    for chunk_size in (2000, 3, 1):
        out = tmp_path / f"out{chunk_size}.jsonl"
        threatclf.label_files(inputs, out, small_model, chunk_size=chunk_size, progress=False)
        rejects = [json.loads(line) for line in (tmp_path / f"{out.name}.rejects.jsonl").read_text().splitlines()]
        assert [(Path(r["source"]).name, r["line"]) for r in rejects] == [
            ("one.jsonl", 1), ("one.jsonl", 2), ("one.jsonl", 4), ("two.jsonl", 1), ("two.jsonl", 2)], chunk_size


@pytest.mark.parametrize("rows, options, message", [
    ([{"id": "a", "body": "Rain."}], {}, r"no text field 'text' in its first rows; their fields are \['body', 'id'\]"),
    ([{"id": "a", "story": "s", "text": "Rain."}], {"id_col": "story"},
     r"field 'id' would be overwritten by the output's 'id' column"),
    ([{"id": "a", "text": "Rain.", "scores": 1}], {}, r"field 'scores' would be overwritten"),
])
def test_jsonl_fields_every_first_row_gets_wrong_are_refused_up_front(small_model, tmp_path, rows, options, message):
    # as a CSV header or Parquet schema would be: not a rejects file holding every row
    path = write_jsonl(tmp_path / "in.jsonl", rows * 3)
    with pytest.raises(DataError, match=message):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False, **options)
    assert not (tmp_path / "out.jsonl").exists()


def test_txt_files_with_an_upper_case_extension_are_read(small_model, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Rain fell.")
    (docs / "B.TXT").write_text("Cartel smuggled cocaine.")
    (docs / "notes.md").write_text("not an article")
    summary = threatclf.label_files(docs, tmp_path / "out.jsonl", small_model, progress=False)
    assert summary.labelled == 2 and set(read_output(tmp_path / "out.jsonl")) == {"a.txt", "B.TXT"}


def test_a_csv_row_with_the_wrong_number_of_fields_keeps_its_id_in_the_rejects(small_model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,text,source\na,Rain.,x\nb,Rain, again.,y\n")
    threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)
    reject = json.loads((tmp_path / "out.jsonl.rejects.jsonl").read_text())
    assert (reject["id"], reject["line"], reject["reason"]) == ("b", 3, "CSV row has 4 fields, header has 3")


def test_csv_separator_and_encoding_of_a_windows_export(small_model, tmp_path):
    # semicolons, CRLF and Windows-1252 bytes (curly quotes, accents), as Excel saves a "CSV"
    path = tmp_path / "export.csv"
    path.write_bytes("id;text;note\r\na;Cartel smuggled cocaine \u201cat night\u201d;caf\u00e9\r\nb;Rain.;x\r\n"
                     .encode("cp1252"))
    with pytest.raises(DataError, match=r"pass --csv-sep ';'"):
        threatclf.label_files(path, tmp_path / "o1.jsonl", small_model, progress=False)
    summary = threatclf.label_files(path, tmp_path / "o2.jsonl", small_model, csv_sep=";", progress=False)
    assert (summary.labelled, summary.rejected) == (1, 1)
    assert "pass --encoding cp1252" in (tmp_path / "o2.jsonl.rejects.jsonl").read_text()
    threatclf.label_files(path, tmp_path / "o3.jsonl", small_model, csv_sep=";", encoding="cp1252", keep_text=True,
                          progress=False)
    rows = read_output(tmp_path / "o3.jsonl")
    assert rows["a"]["text"] == "Cartel smuggled cocaine \u201cat night\u201d" and rows["a"]["note"] == "caf\u00e9"
    expected = threatclf.label_dataframe(pd.DataFrame({"text": [rows["a"]["text"]]}), small_model)
    assert rows["a"]["labels"] == expected.loc[0, "labels"]
    for bad, message in (({"csv_sep": ";;"}, "csv_sep must be one character"), ({"encoding": "klingon"},
                                                                                  "unknown encoding 'klingon'")):
        with pytest.raises(DataError, match=message):
            threatclf.label_files(path, tmp_path / "o4.jsonl", small_model, progress=False, **bad)


def test_txt_files_in_another_encoding(small_model, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_bytes("Polic\u00eda: coca\u00efne seized \u2013 cartel".encode("cp1252"))
    summary = threatclf.label_files(docs, tmp_path / "o1.jsonl", small_model, progress=False)
    assert summary.rejected == 1
    threatclf.label_files(docs, tmp_path / "o2.jsonl", small_model, encoding="cp1252", keep_text=True, progress=False)
    assert read_output(tmp_path / "o2.jsonl")["a.txt"]["text"] == "Polic\u00eda: coca\u00efne seized \u2013 cartel"


def test_a_truncated_gzip_input_is_a_data_error_naming_it(small_model, tmp_path):
    import gzip

    data = gzip.compress("".join(json.dumps({"id": f"r{i}", "text": f"Rain fell {i}."}) + "\n"
                                 for i in range(200)).encode())
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"in.jsonl.gz: compressed stream is truncated or corrupt after line \d+"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, progress=False)


def test_a_named_pipe_input_is_read_once(small_model, tmp_path):
    # the up-front look at a JSONL file's first rows must not consume a pipe its writer fills once
    import os
    import threading

    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    pipe = tmp_path / "in.jsonl"
    os.mkfifo(pipe)
    rows = "".join(json.dumps({"id": f"r{i}", "text": "Rain fell."}) + "\n" for i in range(50))

    def write():
        with open(pipe, "w") as handle:
            handle.write(rows)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    summary = threatclf.label_files(pipe, tmp_path / "out.jsonl", small_model, progress=False)
    writer.join(5)
    assert summary.labelled == 50


@pytest.mark.parametrize("name", ["in.csv", "in.jsonl.gz", "in.parquet"])
def test_a_pipe_of_an_input_read_twice_is_refused_before_it_is_opened(small_model, tmp_path, name):
    # the checks before labelling would read it and the labelling find it empty (or wait for ever)
    import os

    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes on this system")
    import signal

    pipe = tmp_path / name
    os.mkfifo(pipe)  # nothing writes to it: opening it would block, so an alarm fails the test instead

    def hung(*_):
        raise AssertionError(f"label_files opened the pipe {name} and waited for a writer")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        with pytest.raises(DataError, match=rf"{name} is not a regular file \(a pipe\?\): .* must be a file"):
            threatclf.label_files(pipe, tmp_path / "out.jsonl", small_model, progress=False)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_an_input_that_changes_during_the_run_stops_it_before_the_output(small_model, corpus, tmp_path, monkeypatch):
    path, rows = corpus
    real = batch_module._process_chunk
    calls = {"n": 0}

    def append_after_first(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:  # another program appends to the file while it is read
            with open(path, "a") as handle:
                handle.write(json.dumps({"id": "late", "text": "Rain."}) + "\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "_process_chunk", append_after_first)
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError, match=r"corpus.jsonl changed while it was being labelled .* --restart"):
        threatclf.label_files(path, out, small_model, chunk_size=5, progress=False)
    assert not out.exists()
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    summary = threatclf.label_files(path, out, small_model, chunk_size=5, progress=False, restart=True)
    assert summary.labelled == len(rows) + 1


def test_a_rejects_file_that_cannot_be_written_is_found_before_labelling(small_model, corpus, tmp_path,
                                                                         monkeypatch):
    import tempfile

    path, _ = corpus
    (tmp_path / "ro").mkdir()
    real = tempfile.NamedTemporaryFile

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).name == "ro":
            raise OSError(30, "Read-only file system")
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)
    calls = []
    monkeypatch.setattr(batch_module, "_process_chunk", lambda *a, **k: calls.append(1))
    with pytest.raises(DataError, match=r"rejects file .*r.jsonl cannot be written: Read-only file system"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model, rejects=tmp_path / "ro" / "r.jsonl",
                              progress=False)
    assert calls == []  # nothing was labelled
    with pytest.raises(DataError, match="would be inside .*out.jsonl.partial, which a finished run deletes"):
        threatclf.label_files(path, tmp_path / "out.jsonl", small_model,
                              rejects=tmp_path / "out.jsonl.partial" / "r.jsonl", progress=False)


def test_encodings_that_are_not_text_or_break_mid_file_are_named(small_model, tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,text\na,Rain.\n")
    with pytest.raises(DataError, match="'rot13' is not a text encoding"):
        threatclf.label_files(path, tmp_path / "o1.jsonl", small_model, encoding="rot13", progress=False)
    rows = "id,text\n" + "".join(f"r{i},Rain fell {i}.\n" for i in range(2000))
    data = rows.encode("utf-16")
    broken = data[:-1000] + b"\x00\xdc" + data[-998:]  # a lone low surrogate near the end: UTF-16 cannot set it aside
    path.write_bytes(broken)
    with pytest.raises(DataError, match=r"in.csv: bytes that are not utf-16 after line \d+"):
        threatclf.label_files(path, tmp_path / "o2.jsonl", small_model, encoding="utf-16", progress=False)


def test_a_utf16_export_with_its_byte_order_mark_keeps_its_id_column(small_model, tmp_path):
    import codecs

    path = tmp_path / "unicode.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "id\ttext\r\nk1\tCartel smuggled cocaine.\r\n".encode("utf-16-le"))
    with pytest.raises(DataError, match=r"begins with a UTF-16 byte-order mark, so it is UTF-16, not utf-8: pass --encoding utf-16"):
        threatclf.label_files(path, tmp_path / "o1.jsonl", small_model, csv_sep="\t", progress=False)
    for encoding in ("utf-16", "utf-16-le"):  # the second keeps the mark as a character: dropped like a BOM
        out = tmp_path / f"{encoding}.jsonl"
        threatclf.label_files(path, out, small_model, csv_sep="\t", encoding=encoding, id_col="id", progress=False)
        assert list(read_output(out)) == ["k1"]


def test_a_folder_inside_another_input_folder_is_refused(small_model, tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / "sub" / "a.txt").write_text("Rain fell.")
    with pytest.raises(DataError, match=r"docs/sub is inside the input folder .*docs: its files would be labelled twice"):
        threatclf.label_files([tmp_path / "docs", tmp_path / "docs" / "sub"], tmp_path / "o.jsonl", small_model,
                              progress=False)


def test_an_encoding_given_for_jsonl_is_said_not_to_apply(small_model, corpus, tmp_path):
    path, rows = corpus
    with pytest.warns(UserWarning, match="is read as UTF-8 .*encoding='cp1252' applies to CSV and .txt files only"):
        threatclf.label_files(path, tmp_path / "o.jsonl", small_model, encoding="cp1252", progress=False)


def test_parquet_passage_offsets_read_back_as_integers_with_rows_or_without(small_model, tmp_path):
    pytest.importorskip("pyarrow")
    for name, rows in (("some", [{"id": "a", "text": "Police seized cocaine."}, {"id": "b", "text": ""}]),
                       ("none", [{"id": "a", "text": None}])):  # every row rejected: an empty file
        out = tmp_path / f"{name}.parquet"
        threatclf.label_files(write_jsonl(tmp_path / f"{name}.jsonl", rows), out, small_model, passages=True,
                              progress=False)
        frame = pd.read_parquet(out)
        assert [str(frame[c].dtype) for c in ("passage", "start", "end")] == ["Int64"] * 3, name
        assert len(frame) == (2 if name == "some" else 0)


def test_a_run_loading_its_model_warns_of_each_input_once(saved_small_model, tmp_path, monkeypatch):
    # the files are checked before the model loads and again after, with its output columns
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text("id,text\nk1,Le caf\u00e9 a \u00e9t\u00e9 attaqu\u00e9.\n", encoding="utf-8")
    jsonl = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Rain."}])
    from threatclf import readers

    read_end, write_end = os.pipe()
    os.write(write_end, b'{"id": "s", "text": "Snow."}\n')
    os.close(write_end)
    monkeypatch.setattr(readers, "_stdin_descriptor", lambda: read_end)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        threatclf.label_files([utf8, jsonl, "-"], tmp_path / "o.jsonl", str(saved_small_model), encoding="cp1252",
                              progress=False)
    said = sorted(str(w.message).split(" ")[0] for w in seen if "UTF-8" in str(w.message))
    assert said == ["-", str(jsonl), str(utf8)]


def test_a_utf8_file_read_in_a_one_byte_encoding_is_warned_of(small_model, tmp_path):
    import warnings

    text = "id,text\nk1,Le caf\u00e9 a \u00e9t\u00e9 attaqu\u00e9.\n"
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text(text, encoding="utf-8")
    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "a.txt").write_text("Rain.", encoding="utf-8")  # ASCII: says nothing; the next file does
    (folder / "b.txt").write_text("Le caf\u00e9.", encoding="utf-8")
    for given in (utf8, folder):
        with pytest.warns(UserWarning, match=rf"{given.name} looks like UTF-8 .* read as cp1252, which garbles them "
                                             r"\(caf\u00e9\.? -> caf\u00c3\u00a9"):
            threatclf.label_files(given, tmp_path / "o.jsonl", small_model, encoding="cp1252", progress=False,
                                  overwrite=True)
    cp1252 = tmp_path / "cp1252.csv"  # really cp1252, or UTF-8 read as UTF-8: no warning
    cp1252.write_bytes(text.encode("cp1252"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threatclf.label_files(cp1252, tmp_path / "o1.jsonl", small_model, encoding="cp1252", progress=False)
        threatclf.label_files(utf8, tmp_path / "o2.jsonl", small_model, progress=False)
    # an encoding that cannot read it rejects its rows, which is said: no warning of garbling
    with pytest.warns(UserWarning) as seen:
        threatclf.label_files(utf8, tmp_path / "o3.jsonl", small_model, progress=False, encoding="ascii")
    assert [str(w.message).split(";")[0] for w in seen] == ["1 of the 1 input rows was rejected"]
    assert list(read_output(tmp_path / "o1.jsonl")) == list(read_output(tmp_path / "o2.jsonl")) == ["k1"]


def test_byte_order_marks_of_another_encoding_and_quoted_headers(small_model, tmp_path):
    import codecs

    quoted = tmp_path / "quoted.csv"  # a mark before a quoted first name, kept by utf-16-le
    quoted.write_bytes(codecs.BOM_UTF16_LE + '"id","text"\r\n"k1","Cartel smuggled cocaine."\r\n'.encode("utf-16-le"))
    threatclf.label_files(quoted, tmp_path / "o1.jsonl", small_model, encoding="utf-16-le", progress=False)
    assert list(read_output(tmp_path / "o1.jsonl")) == ["k1"]
    excel_utf8 = tmp_path / "excel.csv"  # Excel's "CSV UTF-8", read as cp1252 by mistake: refused, not garbled
    excel_utf8.write_bytes(codecs.BOM_UTF8 + "id,text\nk1,caf\u00e9\n".encode("utf-8"))
    with pytest.raises(DataError, match=r"begins with a UTF-8 byte-order mark, so it is UTF-8, not cp1252"):
        threatclf.label_files(excel_utf8, tmp_path / "o2.jsonl", small_model, encoding="cp1252", progress=False)
    for order in ("le", "be"):  # UTF-16 without a mark reads as UTF-8 with NULs, and plain utf-16 needs the mark
        no_mark = tmp_path / f"nomark-{order}.csv"
        no_mark.write_bytes("id,text\nk1,Rain.\n".encode(f"utf-16-{order}"))
        for encoding in ("utf-8", "utf-16", f"utf-16-{'be' if order == 'le' else 'le'}"):
            with pytest.raises(DataError, match=rf"^{re.escape(str(no_mark))}: .*it looks like UTF-16 without a "
                                                rf"byte-order mark: pass --encoding utf-16-{order};"):
                threatclf.label_files(no_mark, tmp_path / "o3.jsonl", small_model, encoding=encoding, progress=False)
        threatclf.label_files(no_mark, tmp_path / f"o3-{order}.jsonl", small_model, encoding=f"utf-16-{order}",
                              progress=False)
        assert list(read_output(tmp_path / f"o3-{order}.jsonl")) == ["k1"]
    chinese = tmp_path / "zh.csv"  # mostly not ASCII: the order is read beside the line ends and separators
    chinese.write_bytes(("id,text\n" + "".join(f"k{i},警方在港口查获大量可卡因。\n" for i in range(30))).encode("utf-16-le"))
    for encoding in ("utf-8", "utf-16", "utf-16-be"):
        with pytest.raises(DataError, match=r"pass --encoding utf-16-le;"):
            threatclf.label_files(chinese, tmp_path / "zh.jsonl", small_model, encoding=encoding, progress=False)
    with pytest.raises(DataError) as wrong_column:  # read right: the columns named, no advice on encodings
        threatclf.label_files(chinese, tmp_path / "zh.jsonl", small_model, encoding="utf-16-le", text_col="body",
                              progress=False)
    assert str(wrong_column.value).endswith("no text column 'body'; columns are ['id', 'text']")


def test_a_workbook_is_told_to_be_saved_as_csv(small_model, tmp_path):
    import zipfile

    for name in ("book.xlsx", "renamed.csv"):
        with zipfile.ZipFile(tmp_path / name, "w") as workbook:
            workbook.writestr("xl/workbook.xml", "<workbook/>")
        with pytest.raises(DataError, match=rf"{name}.*save (the|its) sheet as CSV \(UTF-8\)"):
            threatclf.label_files(tmp_path / name, tmp_path / "o.jsonl", small_model, progress=False)


@pytest.mark.parametrize("name, told", [
    ("export.tsv", r"name the file \.csv \(or \.csv\.gz\) and pass --csv-sep tab"),
    ("export.json", r"cat export\.json \| jq -c '\.\[\]' > export\.jsonl"),
    ("export.json.gz", r"zcat export\.json\.gz \| jq -c '\.\[\]' > export\.jsonl"),
])
def test_near_formats_are_told_how_to_be_read(small_model, tmp_path, name, told):
    (tmp_path / name).write_bytes(b"id\ttext\n1\tA bomb exploded.\n")
    with pytest.raises(DataError, match=rf"unknown input format for .*{re.escape(name)}: .*{told}"):
        threatclf.label_files(tmp_path / name, tmp_path / "o.jsonl", small_model, progress=False)


def test_a_txt_file_linked_from_two_input_folders_is_refused(small_model, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "story.txt").write_text("Rain fell.")
    (tmp_path / "a" / "link.txt").symlink_to(tmp_path / "b" / "story.txt")
    with pytest.raises(DataError, match=r"is the same file as .*: it would be labelled twice"):
        threatclf.label_files([tmp_path / "a", tmp_path / "b"], tmp_path / "o.jsonl", small_model, progress=False)


def test_the_jsonl_encoding_warning_comes_once_a_run(small_model, corpus, tmp_path):
    path, rows = corpus
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threatclf.label_files(path, tmp_path / "o.jsonl", small_model, encoding="cp1252", progress=False)
        threatclf.label_files(path, tmp_path / "o2.jsonl", small_model, encoding="utf-8-sig", progress=False)
    assert sum("applies to CSV and .txt files only" in str(w.message) for w in caught) == 1


def test_run_summary_speeds_keep_their_figures_for_a_handful_of_rows():
    from threatclf.batch import LabelSummary

    small = LabelSummary(rows_read=8, labelled=8, passages=8, elapsed_s=29.9).to_text()
    assert "0.268 rows/s | 0.268 passages/s" in small
    big = LabelSummary(rows_read=35_560, labelled=35_560, passages=282_000, elapsed_s=12.8).to_text()
    assert "2,778 rows/s | 22,031 passages/s" in big


def test_a_run_naming_the_rejects_file_another_run_writes_is_refused(small_model, corpus, tmp_path):
    from threatclf.resume import exclusive_run

    path, rows = corpus
    shared_rejects = tmp_path / "logs" / "rejects.jsonl"
    with exclusive_run(shared_rejects):  # as a run writing another output, with the same --rejects, holds it
        with pytest.raises(DataError, match="another threatclf run is writing .*rejects.jsonl"):
            threatclf.label_files(path, tmp_path / "mine.jsonl", small_model, rejects=shared_rejects, progress=False)
        assert not (tmp_path / "mine.jsonl").exists()
    summary = threatclf.label_files(path, tmp_path / "mine.jsonl", small_model, rejects=shared_rejects,
                                    progress=False)
    assert summary.rows_read == len(rows) and not list(tmp_path.rglob("*.lock"))
    # a rejects file named as the output itself is refused as before, not taken for another run's
    with pytest.raises(DataError, match="would overwrite an input or the output"):
        threatclf.label_files(path, tmp_path / "same.jsonl", small_model, rejects=tmp_path / "same.jsonl",
                              progress=False)


def test_a_second_run_on_the_same_output_is_refused_while_the_first_runs(small_model, corpus, tmp_path):
    import subprocess
    import sys
    import textwrap

    from threatclf.resume import exclusive_run

    path, rows = corpus
    out = tmp_path / "out.jsonl"
    with exclusive_run(out):  # as a run in progress holds it
        with pytest.raises(DataError, match="another threatclf run is writing .*out.jsonl"):
            threatclf.label_files(path, tmp_path / "." / "out.jsonl", small_model, progress=False)
        assert not out.exists() and not (tmp_path / "out.jsonl.partial").exists()
        # another output in the same folder is not held up
        threatclf.label_files(path, tmp_path / "other.jsonl", small_model, progress=False)
    # a run killed while holding it leaves nothing behind that stops the next one; the lock is
    # beside the output, so a run with another temporary folder (cron, another user) sees it too
    other_tmp = tmp_path / "other-tmp"
    other_tmp.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from threatclf.resume import exclusive_run
        with exclusive_run(Path({str(out)!r})):
            print("held", flush=True)
            time.sleep(60)
        """)], stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(other_tmp)})
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(DataError, match="another threatclf run"):
            threatclf.label_files(path, out, small_model, progress=False)
    finally:
        holder.kill()
        holder.wait()
    summary = threatclf.label_files(path, out, small_model, progress=False)
    assert summary.labelled == len(rows)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no lock file left
    # a folder made for an output is not left behind by a run refused before any work
    with pytest.raises(DataError, match=r"chunk_size \(--chunk-size\) must be an integer >= 1, got 0"):
        threatclf.label_files(path, tmp_path / "new" / "deeper" / "out.jsonl", small_model, chunk_size=0,
                              progress=False)
    summary = threatclf.label_files(path, tmp_path / "np.jsonl", small_model, progress=False,  # len(df) // 4
                                    **{name: np.int64(5000) for name in ("chunk_size", "max_text_chars", "max_words")},
                                    top_terms=np.int64(2))
    assert summary.labelled == len(rows)
    for name in ("top_terms", "chunk_size", "max_words", "max_text_chars"):  # True is not a number of anything
        with pytest.raises(DataError, match=rf"{name} \(--{name.replace('_', '-')}\) must be an integer >= \d, got True"):
            threatclf.label_files(path, tmp_path / "new" / "deeper" / "out.jsonl", small_model, progress=False,
                                  **{name: True})
    assert not (tmp_path / "new").exists()  # every level it made
    with pytest.raises(DataError, match="is the run's lock file"):
        threatclf.label_files(path, tmp_path / "p.jsonl", small_model, rejects=tmp_path / ".p.jsonl.lock",
                              progress=False)


def test_a_txt_folder_labelled_into_itself_and_resumed(small_model, tmp_path, monkeypatch):
    # the output, its OUTPUT.partial/ and its lock move the folder's own time stamp: only its .txt
    # files say whether the input changed
    folder = tmp_path / "texts"
    folder.mkdir()
    for i in range(7):
        (folder / f"a{i}.txt").write_text(f"Police seized cocaine in raid number {i}.")
    out = folder / "labelled.jsonl"
    _label_interrupted(2, monkeypatch, folder, out, small_model, chunk_size=2, progress=False)
    summary = threatclf.label_files(folder, out, small_model, chunk_size=2, progress=False, resume=True)
    assert summary.labelled == 7 and summary.resumed_chunks == 2
    # an edited .txt file is still found, on resume
    _label_interrupted(1, monkeypatch, folder, folder / "again.jsonl", small_model, chunk_size=2, progress=False)
    (folder / "a0.txt").write_text("Edited.")
    with pytest.raises(DataError, match="a .txt file in it was added, removed or edited"):
        threatclf.label_files(folder, folder / "again.jsonl", small_model, chunk_size=2, progress=False, resume=True)


def test_an_output_folder_that_cannot_be_written_is_named(tmp_path, monkeypatch):
    # as a user without write access sees it (the tests may run as root, who has it everywhere)
    import errno

    def no_write(path, mode="r", *args, **kwargs):
        if mode == "a+b":
            raise PermissionError(errno.EACCES, "Permission denied")
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(resume_module, "open", no_write, raising=False)
    with pytest.raises(DataError, match=r"output folder .* cannot be written: Permission denied"):
        with resume_module.exclusive_run(tmp_path / "out.jsonl"):
            pass


def test_the_progress_bar_follows_the_writing_of_the_output_too(small_model, corpus, tmp_path, capsys):
    path, rows = corpus
    threatclf.label_files(path, tmp_path / "out.parquet", small_model, chunk_size=4, progress=True)
    err = capsys.readouterr().err
    assert "labelling" in err and "writing out.parquet: 100%" in err and f"{len(rows)}/{len(rows)}" in err
    threatclf.label_files(path, tmp_path / "quiet.jsonl", small_model, progress=False)
    assert "writing" not in capsys.readouterr().err


def test_a_refused_resume_names_an_option_the_earlier_run_did_not_record():
    previous = {"output_format": 3, "inputs": [], "model": "m", "reader": {"text_col": "text"}, "options": {"a": 1}}
    current = dict(previous, options={"a": 1, "b": 2})
    assert resume_module._what_differs(previous, current) == "other options: b: not given (now 2)"


def _as_standard_input(monkeypatch, path):
    """Make ``-`` read ``path``, as if it were piped in."""
    from threatclf import readers

    monkeypatch.setattr(readers, "_stdin_descriptor", lambda: os.open(path, os.O_RDONLY))


def test_standard_input_gives_what_the_file_gives_and_keeps_nothing_when_interrupted(small_model, corpus, tmp_path,
                                                                                    monkeypatch):
    path, _ = corpus
    threatclf.label_files(path, tmp_path / "file.jsonl", small_model, chunk_size=3, progress=False)
    _as_standard_input(monkeypatch, path)
    threatclf.label_files("-", tmp_path / "stdin.jsonl", small_model, chunk_size=3, progress=False)
    assert read_output(tmp_path / "stdin.jsonl") == read_output(tmp_path / "file.jsonl")
    real, calls = batch_module._process_chunk, []

    def interrupted_on_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "_process_chunk", interrupted_on_third)
    with pytest.raises(KeyboardInterrupt):
        threatclf.label_files("-", tmp_path / "cut.jsonl", small_model, chunk_size=3, progress=False)
    # a run from standard input cannot be resumed: its finished chunks are not kept to ask for it
    assert not (tmp_path / "cut.jsonl.partial").exists() and not (tmp_path / "cut.jsonl").exists()


def test_standard_input_that_is_missing_is_a_clear_error(small_model, tmp_path, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"text": "x"}\n'))  # as in IDLE: no file descriptor
    with pytest.raises(DataError, match="input - is standard input, which this process does not have"):
        threatclf.label_files("-", tmp_path / "o.jsonl", small_model, progress=False)
    monkeypatch.setattr(sys, "stdin", None)  # closed (<&-), or pythonw
    with pytest.raises(DataError, match="which this process does not have"):
        threatclf.label_files("-", tmp_path / "o.jsonl", small_model, progress=False)


def test_a_folder_named_dash_is_given_as_dot_slash_dash(small_model, tmp_path, monkeypatch):
    (tmp_path / "-").mkdir()
    (tmp_path / "-" / "a.txt").write_text("Militants claimed the bomb attack on the checkpoint.")
    monkeypatch.chdir(tmp_path)
    summary = threatclf.label_files("./-", tmp_path / "o.jsonl", small_model, progress=False)
    assert summary.labelled == 1 and read_output(tmp_path / "o.jsonl")["a.txt"]["labels"] == ["terrorism"]


def test_a_resumed_run_counts_the_rows_its_earlier_chunks_read_rejects_included(small_model, tmp_path, monkeypatch):
    rows = [{"id": f"a{k}", "text": "A bomb exploded." if k != 1 else None} for k in range(6)]
    path = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    _label_interrupted(1, monkeypatch, path, out, small_model, chunk_size=3, progress=False)
    summary = threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    assert (summary.resumed_chunks, summary.resumed_rows) == (1, 3)
    assert (summary.rows_read, summary.labelled, summary.rejected) == (6, 5, 1)


# --- found by mutation testing of batch.py (0.12) --------------------------------------------------


def test_a_threshold_given_as_text_is_refused(small_model):
    frame = pd.DataFrame({"text": ["A bomb exploded."]})
    with pytest.raises(DataError, match="threshold must be a number .* form is the command line's"):
        threatclf.label_dataframe(frame, small_model, threshold="0.5")


def test_a_threshold_of_one_for_a_label_the_model_did_not_learn_is_warned_of(small_model):
    from threatclf.thresholds import NEVER

    model = copy.deepcopy(small_model)
    model.thresholds_ = np.where(np.array(model.labels_) == "corruption", NEVER, model.thresholds_)
    frame = pd.DataFrame({"text": ["The mayor took bribes."]})
    with pytest.warns(UserWarning, match="did not learn: corruption"):
        threatclf.label_dataframe(frame, model, threshold={"corruption": 1.0})


def test_a_score_exactly_at_the_threshold_gives_the_label_as_predict_does(small_model):
    text = "Militants bombed the market."
    p = float(small_model.predict_proba([text])["terrorism"][0])
    df = pd.DataFrame({"id": ["a"], "text": [text]})
    for passages in (False, True):
        out = threatclf.label_dataframe(df, small_model, id_col="id", threshold={"terrorism": p}, passages=passages)
        assert "terrorism" in out["labels"][0]


def test_article_evidence_names_the_passage_its_offsets_are_of(small_model):
    df = pd.DataFrame(ARTICLES, columns=["id", "text"])
    articles = threatclf.label_dataframe(df, small_model, id_col="id")
    passages = threatclf.label_dataframe(df, small_model, id_col="id", passages=True)
    rows = {(r["id"], r["passage"]): (r["start"], r["end"]) for r in passages.dropna(subset=["passage"]).to_dict("records")}
    checked = 0
    for article_id, evidence in zip(articles["id"], articles["evidence"]):
        for item in evidence:
            assert rows[(article_id, item["passage"])] == (item["start"], item["end"])
            checked += 1
    assert checked >= 3


def test_scores_next_to_the_threshold_are_still_rounded_to_six_decimals(small_model):
    text = "Militants bombed the market."
    p = float(small_model.predict_proba([text])["terrorism"][0])
    shown = round(p, 6)
    assert shown != p
    threshold = (p + shown) / 2  # rounding would cross it
    out = threatclf.label_dataframe(pd.DataFrame({"text": [text]}), small_model, threshold={"terrorism": threshold})
    score = out["score_terrorism"][0]
    assert round(score, 6) == score and abs(score - p) < 1e-6
    assert (score >= threshold) == (p >= threshold)


def test_passage_rows_give_as_many_evidence_terms_as_article_rows(small_model):
    df = pd.DataFrame({"id": ["a"], "text": ["The mayor was charged with taking bribes from a construction company."]})
    article = threatclf.label_dataframe(df, small_model, id_col="id", top_terms=3)
    passage = threatclf.label_dataframe(df, small_model, id_col="id", top_terms=3, passages=True)
    assert len(passage) == 1 and article["evidence"][0]
    by_label = {item["label"]: item["terms"] for item in article["evidence"][0]}
    assert {item["label"]: item["terms"] for item in passage["evidence"][0]} == by_label
    assert all(len(terms) == 3 for terms in by_label.values())


def test_label_dataframe_gives_the_same_rows_at_any_chunk_size(small_model):
    df = pd.DataFrame(ARTICLES, columns=["id", "text"])
    for passages in (False, True):
        whole = threatclf.label_dataframe(df, small_model, id_col="id", passages=passages)
        pd.testing.assert_frame_equal(
            threatclf.label_dataframe(df, small_model, id_col="id", passages=passages, chunk_size=2), whole)


def test_label_dataframe_on_multiindex_columns_adds_full_length_column_keys(small_model):
    # a shorter key is deprecated by pandas 3.1 (a warning from inside threatclf), and passage rows
    # mixed tuples with strings in a plain Index
    df = pd.DataFrame(ARTICLES + [("a9", "")], columns=["id", "text"])
    df.columns = pd.MultiIndex.from_tuples([("meta", "id"), ("text", "")])
    flat = pd.DataFrame(ARTICLES + [("a9", "")], columns=["id", "text"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = threatclf.label_dataframe(df, small_model, id_col=("meta", "id"))
        rows = threatclf.label_dataframe(df, small_model, id_col=("meta", "id"), passages=True)
        empty = threatclf.label_dataframe(df.iloc[:0], small_model, id_col=("meta", "id"), passages=True)
    added = ["labels", *[f"score_{label}" for label in small_model.labels_], "evidence"]
    assert out.columns.tolist() == [("meta", "id"), ("text", "")] + [(name, "") for name in added]
    assert out[("labels", "")].tolist() == threatclf.label_dataframe(flat, small_model)["labels"].tolist()
    assert isinstance(rows.columns, pd.MultiIndex) and isinstance(empty.columns, pd.MultiIndex)
    expected = threatclf.label_dataframe(flat, small_model, id_col="id", passages=True)
    assert [name for name, _ in rows.columns] == ["meta", *expected.columns[1:]]
    assert rows.columns.tolist() == empty.columns.tolist()
    assert rows[("labels", "")].tolist() == expected["labels"].tolist()


def test_label_dataframe_keeps_labels_on_a_frame_with_its_own_index(small_model):
    df = pd.DataFrame(ARTICLES, columns=["id", "text"])
    plain = threatclf.label_dataframe(df, small_model)
    indexed = threatclf.label_dataframe(df.set_index("id"), small_model)
    assert list(indexed.index) == [a for a, _ in ARTICLES]
    assert indexed["labels"].tolist() == plain["labels"].tolist()
    assert indexed["score_terrorism"].reset_index(drop=True).equals(plain["score_terrorism"])


@pytest.mark.parametrize("time_stamp_kept", [False, True])  # kept: as rsync -t, cp -p or tar leave it
def test_resume_refuses_a_txt_folder_whose_file_was_edited_to_the_same_size(small_model, tmp_path, monkeypatch,
                                                                           time_stamp_kept):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(4):
        (docs / f"{i:02d}.txt").write_text(f"Police seized cocaine at port number {i}.")
    out = tmp_path / "out.jsonl"
    _label_interrupted(1, monkeypatch, docs, out, small_model, chunk_size=2, progress=False)
    edited = docs / "03.txt"
    before = edited.stat()
    edited.write_text("Militants bombed a checkpoint at 3.".ljust(before.st_size)[:before.st_size])
    os.utime(edited, ns=(before.st_atime_ns, before.st_mtime_ns + (0 if time_stamp_kept else 10**9)))
    assert edited.stat().st_size == before.st_size
    assert (edited.stat().st_mtime_ns == before.st_mtime_ns) == time_stamp_kept
    with pytest.raises(DataError, match=r"a \.txt file in it was added, removed or edited"):
        threatclf.label_files(docs, out, small_model, chunk_size=2, progress=False, resume=True)


def test_a_fresh_run_refuses_to_discard_even_one_finished_chunk(small_model, tmp_path, monkeypatch):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "text": "Cartel smuggled cocaine."} for i in range(4)])
    out = tmp_path / "out.jsonl"
    _label_interrupted(1, monkeypatch, source, out, small_model, chunk_size=2, progress=False)
    with pytest.raises(DataError, match="holds 1 finished chunk of an earlier run"):
        threatclf.label_files(source, out, small_model, chunk_size=2, progress=False)
    assert (tmp_path / "out.jsonl.partial" / "chunk-0000000.done.json").exists()


def test_a_chunk_marked_done_without_its_rejects_is_labelled_again(small_model, tmp_path, monkeypatch):
    lines = [json.dumps({"id": "a", "text": "Cartel smuggled cocaine."}), json.dumps({"id": "b", "text": "Rain."}),
             json.dumps({"id": "c", "text": "The mayor took bribes."}), '{"id": "broken", "text": "unterminated',
             json.dumps({"id": "e", "text": "A bomb exploded."})]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    reference = tmp_path / "ref.jsonl"
    threatclf.label_files(source, reference, small_model, chunk_size=2, progress=False)
    out = tmp_path / "out.jsonl"
    _label_interrupted(2, monkeypatch, source, out, small_model, chunk_size=2, progress=False)
    (tmp_path / "out.jsonl.partial" / "chunk-0000001.rejects.jsonl").unlink()
    summary = threatclf.label_files(source, out, small_model, chunk_size=2, progress=False, resume=True)
    assert summary.resumed_chunks == 1 and summary.rejected == 1
    assert out.read_bytes() == reference.read_bytes()
    assert (tmp_path / "out.jsonl.rejects.jsonl").read_bytes() == (tmp_path / "ref.jsonl.rejects.jsonl").read_bytes()


def test_a_rejects_file_named_as_the_output_is_refused(small_model, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Cartel smuggled cocaine."}, {"id": "b"}])
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError, match="would overwrite an input or the output"):
        threatclf.label_files(source, out, small_model, rejects=out, progress=False)
    assert not out.exists()


def test_resume_and_restart_together_are_refused(small_model, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Cartel smuggled cocaine."}])
    with pytest.raises(DataError, match="resume and restart exclude each other"):
        threatclf.label_files(source, tmp_path / "out.jsonl", small_model, resume=True, restart=True, progress=False)


def test_n_jobs_minus_one_uses_every_core(small_model, tmp_path, monkeypatch):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "text": "Cartel smuggled cocaine."} for i in range(4)])
    monkeypatch.setattr(batch_module.os, "cpu_count", lambda: 2)
    real, asked = batch_module._worker_pool, []
    monkeypatch.setattr(batch_module, "_worker_pool", lambda model, n: asked.append(n) or real(model, n))
    threatclf.label_files(source, tmp_path / "out.jsonl", small_model, chunk_size=2, n_jobs=-1, progress=False)
    assert asked == [2]


@pytest.mark.skipif(os.name == "nt", reason="symbolic links")
def test_a_rejects_file_through_a_symbolic_link_is_written_where_it_points(small_model, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Cartel smuggled cocaine."}, {"id": "b"}])
    link = tmp_path / "rejects.jsonl"
    link.symlink_to(tmp_path / "kept" / "rejects.jsonl")
    summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, rejects=link, progress=False)
    assert summary.rejected == 1 and link.is_symlink()
    assert json.loads((tmp_path / "kept" / "rejects.jsonl").read_text())["id"] == "b"


def test_an_error_after_finished_chunks_keeps_them_for_resume(small_model, tmp_path, monkeypatch):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "text": "Cartel smuggled cocaine."} for i in range(6)])
    reference = tmp_path / "ref.jsonl"
    threatclf.label_files(source, reference, small_model, chunk_size=2, progress=False)
    real, calls = batch_module._process_chunk, {"n": 0}

    def disk_full_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "_process_chunk", disk_full_on_third)
    out = tmp_path / "out.jsonl"
    with pytest.raises(OSError):
        threatclf.label_files(source, out, small_model, chunk_size=2, progress=False)
    monkeypatch.setattr(batch_module, "_process_chunk", real)
    assert len(list((tmp_path / "out.jsonl.partial").glob("*.done.json"))) == 2
    summary = threatclf.label_files(source, out, small_model, chunk_size=2, progress=False, resume=True)
    assert summary.resumed_chunks == 2 and out.read_bytes() == reference.read_bytes()


def test_the_summary_counts_every_label_of_the_model_none_given_included(small_model, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "The weather will stay sunny."}])
    summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, progress=False)
    assert summary.label_counts == {label: 0 for label in small_model.labels_}
    assert summary.to_dict()["label_counts"] == {label: 0 for label in small_model.labels_}
    assert summary.rejects is None and "rejects" not in summary.to_text()


def test_a_field_first_seen_in_a_later_chunk_is_written(small_model, tmp_path):
    rows = [{"id": "a", "text": "Cartel smuggled cocaine."}, {"id": "b", "text": "Rain."},
            {"id": "c", "text": "The mayor took bribes.", "desk": "politics"}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    for suffix in (".jsonl", ".csv"):
        out = tmp_path / f"out{suffix}"
        threatclf.label_files(source, out, small_model, chunk_size=2, progress=False)
        if suffix == ".csv":
            frame = pd.read_csv(out, keep_default_na=False).set_index("id")
            assert frame["desk"].to_dict() == {"a": "", "b": "", "c": "politics"}
        else:
            written = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
            assert written["c"]["desk"] == "politics"


def test_a_field_first_seen_in_a_later_chunk_is_null_in_the_jsonl_rows_before_it(small_model, tmp_path):
    rows = [{"id": "a", "text": "Cartel smuggled cocaine."}, {"id": "b", "text": "Rain."},
            {"id": "c", "text": "The mayor took bribes.", "desk": "politics"}]
    out = tmp_path / "out.jsonl"
    threatclf.label_files(write_jsonl(tmp_path / "in.jsonl", rows), out, small_model, chunk_size=2, progress=False)
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [list(r) for r in written] == [list(written[2])] * 3  # one set of columns, in one order
    assert [r["desk"] for r in written] == [None, None, "politics"]


@pytest.mark.parametrize("options", [{}, {"passages": True, "keep_text": True}, {"top_terms": 0}])
def test_jsonl_chunks_whose_rows_have_the_runs_columns_are_copied_as_written_alike(small_model, tmp_path,
                                                                                    monkeypatch, options):
    # a finished chunk's lines are the output's as they are: copied, not parsed and written anew,
    # and the output is byte for byte what parsing and writing them gives
    from threatclf.writers import RecordWriter

    rows = [{"id": f"r{k}", "text": f"{text} \u00e9t\u00e9 \U0001f600", "desk": {"n": k, "w": [0.1 * k, -0.0]},
             "n": 2 ** 62 + k} for k, (_, text) in enumerate(ARTICLES * 2)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    copied = []
    original = RecordWriter.write_json_lines
    monkeypatch.setattr(RecordWriter, "write_json_lines", lambda self, lines: copied.append(1) or original(self, lines))
    threatclf.label_files(source, tmp_path / "copied.jsonl", small_model, chunk_size=3, progress=False, **options)
    assert len(copied) == -(-len(rows) // 3)  # every chunk copied

    def parsed_and_written(self, lines):
        self.write([json.loads(line) for line in lines.splitlines()])

    monkeypatch.setattr(RecordWriter, "write_json_lines", parsed_and_written)
    threatclf.label_files(source, tmp_path / "written.jsonl", small_model, chunk_size=3, progress=False, **options)
    assert (tmp_path / "copied.jsonl").read_bytes() == (tmp_path / "written.jsonl").read_bytes()


def test_passage_rows_with_keep_text_hold_the_passage_after_its_offsets(small_model, tmp_path):
    text = ARTICLES[0][1]
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": text, "desk": "port"}])
    out = tmp_path / "out.jsonl"
    threatclf.label_files(source, out, small_model, passages=True, keep_text=True, progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2
    for row in rows:
        assert list(row)[:7] == ["id", "desk", "passage", "start", "end", "text", "labels"]
        assert row["text"] == text[row["start"]:row["end"]]


def test_the_why_line_gives_the_share_when_the_most_common_reason_has_one_row_of_several():
    from threatclf.batch import LabelSummary

    # two rejected rows, two reasons: "why: invalid JSON" would say it is the reason of both (mutant B3)
    summary = LabelSummary(rows_read=3, labelled=1, rejected=2, reject_reasons={"invalid JSON": 1, "missing text": 1})
    assert summary.to_text().splitlines()[-1] == "why (1 of the 2 rejected rows): invalid JSON"


def test_reject_reasons_are_summed_over_chunks_and_ordered_by_rows(small_model, tmp_path):
    # chunk 1: missing text 2, invalid JSON 1; chunk 2: invalid JSON 2. In all: invalid JSON 3, missing text 2,
    # so the most common is not the first reason met (mutant B9), nor the most common of each chunk alone (B10)
    lines = ["not json", json.dumps({"id": "a"}), json.dumps({"id": "b"}),
             "not json", "not json", json.dumps({"id": "ok", "text": "Rain fell."})]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"^5 of the 6 input rows were rejected; why \(3 of the 5 rejected rows\): "
                                         r"invalid JSON"):
        summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, chunk_size=3, progress=False)
    assert list(summary.reject_reasons.values()) == [3, 2]
    first, second = summary.reject_reasons
    assert first.startswith("invalid JSON") and second.startswith("missing text field")
    assert summary.to_text().splitlines()[-1] == f"why (3 of the 5 rejected rows): {first}"


def test_rows_without_text_are_counted_beside_articles_of_several_passages(small_model, tmp_path):
    # an article of three passages and one without text: one row without text (mutant B5 counted passages)
    paragraph = " ".join(["Militants claimed the bomb attack on the checkpoint near the port."] * 12)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "long", "text": "\n".join([paragraph] * 3)}) + "\n"
                      + json.dumps({"id": "empty", "text": ""}) + "\n")
    summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, progress=False)
    assert summary.passages > 2
    assert (summary.labelled, summary.without_text) == (2, 1)
    assert "labelled 2 (1 without text) |" in summary.to_text()


def test_an_input_of_rejected_rows_only_is_not_said_to_hold_no_rows(small_model, tmp_path):
    # every row rejected: the rejects are said, not "no input rows" (mutant B13 tested labelled rows)
    source = tmp_path / "broken.jsonl"
    source.write_text(json.dumps({"id": "a", "text": 5}) + "\n" + json.dumps({"id": "b", "text": ["x"]}) + "\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        summary = threatclf.label_files(source, tmp_path / "out.jsonl", small_model, progress=False)
    assert (summary.rows_read, summary.labelled) == (2, 0)
    said = [str(w.message) for w in seen]
    assert not [m for m in said if m.startswith("no input rows")], said
    assert [m for m in said if m.startswith("2 of the 2 input rows were rejected")]


def test_a_one_column_utf16_file_without_a_mark_is_told_its_byte_order(small_model, tmp_path):
    # no separator in the file: the byte order is read beside the line ends alone (mutant R5 left them out)
    for order in ("le", "be"):
        path = tmp_path / f"one-{order}.csv"
        path.write_bytes("text\r\nRain fell.\r\nBombs hit the port.\r\n".encode(f"utf-16-{order}"))
        with pytest.raises(threatclf.DataError, match=rf"pass --encoding utf-16-{order};"):
            threatclf.label_files(path, tmp_path / "o.jsonl", small_model, progress=False)


def test_a_utf16_file_read_right_gets_no_advice_on_encodings(small_model, tmp_path):
    import codecs

    for mark, order in ((codecs.BOM_UTF16_LE, "le"), (codecs.BOM_UTF16_BE, "be")):
        marked = tmp_path / f"marked-{order}.csv"  # read as utf-16: the columns named, no advice (mutants R6, R15)
        marked.write_bytes(mark + "id,body\r\nk1,Rain.\r\n".encode(f"utf-16-{order}"))
        with pytest.raises(threatclf.DataError) as wrong_column:
            threatclf.label_files(marked, tmp_path / "o.jsonl", small_model, encoding="utf-16", progress=False)
        assert str(wrong_column.value).endswith("no text column 'text'; columns are ['id', 'body']")
    no_mark = tmp_path / "nomark.csv"  # utf-16-le however spelt reads it: no advice (mutant R7 compared names)
    no_mark.write_bytes("id,body\r\nk1,Rain.\r\n".encode("utf-16-le"))
    for spelling in ("UTF-16LE", "utf_16_le"):
        with pytest.raises(threatclf.DataError) as wrong_column:
            threatclf.label_files(no_mark, tmp_path / "o.jsonl", small_model, encoding=spelling, progress=False)
        assert str(wrong_column.value).endswith("no text column 'text'; columns are ['id', 'body']")
    broken = tmp_path / "broken.csv"  # a lone surrogate in the header of a file read as utf-16: no cp1252 advice (R8)
    broken.write_bytes(codecs.BOM_UTF16_LE + "id,te".encode("utf-16-le") + b"\x00\xdc"
                       + "xt\r\nk1,Rain.\r\n".encode("utf-16-le"))
    with pytest.raises(threatclf.DataError, match="cannot read the CSV header") as bad:
        threatclf.label_files(broken, tmp_path / "o.jsonl", small_model, encoding="utf-16", progress=False)
    assert "cp1252" not in str(bad.value) and "--encoding" not in str(bad.value)


def test_a_header_read_as_one_long_name_is_shortened_in_the_message(small_model, tmp_path):
    # a file separated by ";" read with ",": its whole header is one name; the message is not a screenful (R13)
    path = tmp_path / "wide.csv"
    path.write_text(";".join(f"column_number_{i}" for i in range(200)) + "\n" + ";".join(["x"] * 200) + "\n")
    with pytest.raises(threatclf.DataError, match=r"no text column 'text'; columns are \['column_number_0;") as err:
        threatclf.label_files(path, tmp_path / "o.jsonl", small_model, csv_sep=",", progress=False)
    assert " ...]" in str(err.value) and len(str(err.value)) < 600


def test_a_run_naming_the_output_through_a_link_waits_for_the_run_writing_it(small_model, corpus, tmp_path):
    # the lock was taken beside the name given: a second run through a link removed the first's
    # OUTPUT.partial/, wrote its chunks under the same names, and the first exited 0 with 40 % of
    # its rows from the other's input
    from threatclf.resume import exclusive_run

    path, rows = corpus
    out = tmp_path / "real.jsonl"
    alias = tmp_path / "alias.jsonl"
    alias.symlink_to(out)
    with exclusive_run(out):  # as a run writing real.jsonl holds it
        with pytest.raises(DataError, match="another threatclf run is writing .*real.jsonl"):
            threatclf.label_files(path, alias, small_model, progress=False)
    assert not (tmp_path / "real.jsonl.partial").exists() and not out.exists()
    summary = threatclf.label_files(path, alias, small_model, progress=False)
    assert summary.labelled == len(rows) and alias.is_symlink() and out.is_file()


def test_a_run_interrupted_under_other_threatclf_code_is_not_resumed(small_model, corpus, tmp_path, monkeypatch):
    # evidence terms change between releases: rows of two versions in one output match neither
    path, _ = corpus
    out = tmp_path / "out.jsonl"
    _label_interrupted(2, monkeypatch, path, out, small_model, chunk_size=3, progress=False)
    manifest = out.with_name(out.name + ".partial") / "manifest.json"
    made = json.loads(manifest.read_text())
    assert made["code"]["version"] == threatclf.__version__
    manifest.write_text(json.dumps({**made, "code": {**made["code"], "version": "0.0.1"}}))
    with pytest.raises(DataError, match=rf"was made from threatclf 0.0.1 \(this is {re.escape(threatclf.__version__)}\), "
                                        r"whose rows may differ from this version's: finish it with that version, or "
                                        r"start over with this one; run again with --restart"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    manifest.write_text(json.dumps({**made, "code": {**made["code"], "sha256": "0" * 64}}))  # an edited install
    with pytest.raises(DataError, match=r"was made from other threatclf code of the same version"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    del made["code"]  # as 0.6-0.17 wrote it
    manifest.write_text(json.dumps(made))
    with pytest.raises(DataError, match=r"was made from an earlier threatclf \(this is "):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, resume=True)
    # the stamp follows the modules' code
    stamp = resume_module.code_stamp()
    monkeypatch.setattr(resume_module, "_ROW_MODULES", resume_module._ROW_MODULES[:-1])
    assert resume_module.code_stamp()["sha256"] != stamp["sha256"]


def test_a_model_folder_saved_again_since_the_run_began_is_named_as_changed(small_model, corpus, tmp_path,
                                                                          monkeypatch):
    from builders import tiny_corpus

    path, _ = corpus
    folder = small_model.save(tmp_path / "m")
    out = tmp_path / "out.jsonl"
    _label_interrupted(2, monkeypatch, path, out, threatclf.load_model(folder), chunk_size=3, progress=False)
    texts, labels = tiny_corpus()
    other = threatclf.ThreatClassifier(min_df=1, cv=3, features="word").fit(texts, labels)
    # another folder of the same relative name (the resume run from another folder): not "saved again"
    (tmp_path / "elsewhere").mkdir()
    other.save(tmp_path / "elsewhere" / "m")
    monkeypatch.chdir(tmp_path / "elsewhere")
    with pytest.raises(DataError, match=r"another model \(the model folder .*; this run has the model folder m\): to "
                                        r"continue it, pass that model"):
        threatclf.label_files(path, out, threatclf.load_model("m"), chunk_size=3, progress=False, resume=True)
    other.save(folder, overwrite=True, name="renamed")  # the run's own folder, saved again
    with pytest.raises(DataError, match=rf"another model: the model folder {re.escape(os.path.realpath(folder))} "
                                        r"holds another model now than when the run began \(saved again since\)"):
        threatclf.label_files(path, out, threatclf.load_model(folder), chunk_size=3, progress=False, resume=True)


def test_what_a_killed_run_reading_standard_input_left_can_only_be_restarted(small_model, corpus, tmp_path, monkeypatch):
    path, _ = corpus
    out = tmp_path / "out.jsonl"
    _as_standard_input(monkeypatch, path)
    removed = resume_module.ChunkStore.remove
    monkeypatch.setattr(resume_module.ChunkStore, "remove", lambda store: None)  # as a SIGKILL leaves it
    _label_interrupted(2, monkeypatch, "-", out, small_model, chunk_size=3, progress=False)
    monkeypatch.setattr(resume_module.ChunkStore, "remove", removed)
    assert (tmp_path / "out.jsonl.partial").is_dir()
    with pytest.raises(DataError, match=r"holds 2 finished chunks of an earlier run reading standard input \(-\), "
                                        r"which cannot be resumed: run again with --restart"):
        threatclf.label_files(path, out, small_model, chunk_size=3, progress=False)  # whatever this run reads
    # chunks of a run that read a file can be resumed, whatever this run reads
    threatclf.label_files(path, out, small_model, chunk_size=3, progress=False, restart=True)
    out.unlink()
    _label_interrupted(2, monkeypatch, path, out, small_model, chunk_size=3, progress=False)
    with pytest.raises(DataError, match=r"holds 2 finished chunks of an earlier run: add --resume"):
        threatclf.label_files("-", out, small_model, chunk_size=3, progress=False)


def test_a_utf16_jsonl_file_is_named_as_such(small_model, tmp_path):
    # what Windows PowerShell 5's > writes; it was called "a CSV?"
    source = tmp_path / "utf16.jsonl"
    source.write_text("".join(json.dumps({"id": k, "text": f"Row {k}."}) + "\n" for k in range(8)), encoding="utf-16")
    with pytest.raises(DataError, match=r"utf16.jsonl is UTF-16 text \(what Windows PowerShell 5's > writes\), but "
                                        r"JSONL is read as UTF-8: convert it"):
        threatclf.label_files(source, tmp_path / "out.jsonl", small_model, progress=False)


def test_the_summary_writes_every_count_with_thousands_separators():
    from threatclf.batch import LabelSummary

    text = LabelSummary(rows_read=45_000, labelled=45_000, passages=120_000,
                        label_counts={"terrorism": 40_000, "corruption": 7}).to_text()
    assert "rows in 45,000 | labelled 45,000" in text and "passages 120,000" in text
    assert "labels (output rows carrying each): terrorism 40,000, corruption 7" in text


def test_no_worker_processes_is_refused_in_the_names_of_both_the_function_and_the_command(small_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "text": "A bomb exploded."}) + "\n")
    with pytest.raises(DataError, match=r"n_jobs \(--n-jobs\) must be a positive number .* got 0"):
        threatclf.label_files([source], tmp_path / "out.jsonl", small_model, n_jobs=0)
    assert not (tmp_path / "out.jsonl").exists()


def test_a_rejects_file_is_jsonl_gzipped_where_its_name_says_so_and_another_name_is_refused(
        saved_small_model, tmp_path):
    import gzip

    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "A bomb exploded."}, {"id": "b", "text": None}])
    for name in ("r.parquet", "r.csv", "r.json", "r.jsonl.bz2"):
        with pytest.raises(DataError, match=rf"rejects file .*{re.escape(name)}: rejected rows are written as JSONL, "
                                            r"one a line; name it .jsonl \(or .jsonl.gz to compress it\)"):
            threatclf.label_files(source, tmp_path / "out.jsonl", saved_small_model, rejects=tmp_path / name,
                                  progress=False)
        assert not (tmp_path / name).exists() and not (tmp_path / "out.jsonl").exists()
    summary = threatclf.label_files(source, tmp_path / "out.jsonl", saved_small_model, rejects=tmp_path / "r.JSONL.gz",
                                    progress=False)
    assert summary.rejected == 1
    with gzip.open(tmp_path / "r.JSONL.gz", "rt", encoding="utf-8") as handle:
        assert [json.loads(line)["id"] for line in handle] == ["b"]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_infinities_written_as_null_are_counted_by_field_and_said(saved_small_model, tmp_path, suffix):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "A bomb exploded.", "v": 1e400, "w": -Infinity, "x": NaN, "m": {"y": [Infinity]}}\n'
                      '{"id": "b", "text": "Rain.", "v": 2.5, "w": -Infinity, "x": 1.0, "m": {"y": [1]}}\n'
                      '{"id": "c", "text": "Sun.", "v": 3.5, "w": 1.5, "x": 2.0, "m": null}\n')
    out = tmp_path / f"out{suffix}"
    with pytest.warns(UserWarning, match=r"Infinity or -Infinity, which JSON has no number for, was written as null: "
                                         r"'v' in 1 row, 'w' in 2 rows, 'm' in 1 row \(the rows are labelled and kept\)"):
        summary = threatclf.label_files(source, out, saved_small_model, progress=False, chunk_size=2)
    assert summary.labelled == 3 and summary.infinite_values == {"v": 1, "w": 2, "m": 1}  # NaN: missing, not counted
    assert "WARNING: Infinity or -Infinity" in summary.to_text()
    rows = read_output(out)
    assert all(rows[i]["w"] is None or rows[i]["w"] == "" or pd.isna(rows[i]["w"]) for i in "ab")  # CSV: empty
    assert float(rows["c"]["w"]) == 1.5
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # finite values only: nothing said
        quiet = threatclf.label_files(write_jsonl(tmp_path / "fine-in.jsonl", [{"id": "a", "text": "t", "v": 1.5}]),
                                      tmp_path / f"fine{suffix}", saved_small_model, progress=False)
    assert quiet.infinite_values == {}


@pytest.mark.parametrize("passages", [False, True])
def test_an_output_without_rows_has_the_columns_one_with_rows_has(saved_small_model, tmp_path, passages):
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")

    with_rows, header_only = tmp_path / "day1.csv", tmp_path / "day2.csv"
    with_rows.write_text("id,title,text,n\n1,Port,Customs seized cocaine.,3\n")
    header_only.write_text("id,title,text,n\n")
    typed = tmp_path / "day3.parquet"
    pq.write_table(pa.table({"id": pa.array([], pa.string()), "text": pa.array([], pa.string()),
                             "n": pa.array([], pa.int64()), "share": pa.array([], pa.float64()),
                             "front_page": pa.array([], pa.bool_())}), typed)
    options = dict(passages=passages, keep_text=True, progress=False)
    for suffix in (".csv", ".parquet"):
        full, empty = tmp_path / f"full{suffix}", tmp_path / f"empty{suffix}"
        threatclf.label_files(with_rows, full, saved_small_model, **options)
        with pytest.warns(UserWarning, match="no input rows"):
            threatclf.label_files(header_only, empty, saved_small_model, **options)
        read = pd.read_csv if suffix == ".csv" else pd.read_parquet
        assert list(read(empty).columns) == list(read(full).columns)
        assert "title" in read(empty).columns and "text" in read(empty).columns
    with pytest.warns(UserWarning, match="no input rows"):
        threatclf.label_files(typed, tmp_path / "typed.parquet", saved_small_model, progress=False)
    schema = pq.read_schema(tmp_path / "typed.parquet")
    assert [(name, str(schema.field(name).type)) for name in ("n", "share", "front_page")] == [
        ("n", "int64"), ("share", "double"), ("front_page", "bool")]


def test_a_run_stopped_by_a_csv_field_over_the_limit_resumes_with_the_limit_raised(small_model, tmp_path):
    import csv as csv_module

    long_text = "Cartel smuggled cocaine. " * 6000  # 150,000 characters: over the CSV field limit a limit of 100 allows
    rows = [(f"r{i}", "Police arrested the gang." if i % 2 else "Rain.") for i in range(6)] + [("long", long_text)]
    source = tmp_path / "in.csv"
    with open(source, "w", newline="") as handle:
        csv_module.writer(handle).writerows([("id", "text"), *rows])
    reference = tmp_path / "ref.jsonl"
    threatclf.label_files(source, reference, small_model, chunk_size=2, max_text_chars=200_000, progress=False)
    out = tmp_path / "out.jsonl"
    with pytest.raises(DataError, match=r"line 8: cannot parse CSV .*--resume with it raised keeps the chunks"):
        threatclf.label_files(source, out, small_model, chunk_size=2, max_text_chars=100, progress=False)
    assert len(list((tmp_path / "out.jsonl.partial").glob("*.done.json"))) == 3
    summary = threatclf.label_files(source, out, small_model, chunk_size=2, max_text_chars=200_000, progress=False,
                                    resume=True)
    assert summary.resumed_chunks == 3 and summary.labelled == 7
    assert out.read_bytes() == reference.read_bytes()


@contextlib.contextmanager
def interrupted_at_chunk(monkeypatch, n: int):
    """Within the block, a run is interrupted (Ctrl-C) as its ``n``-th chunk starts; the chunks
    before it are finished, for a resume to take over."""
    real, calls = batch_module._process_chunk, {"n": 0}

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_module, "_process_chunk", interrupted)
    try:
        yield
    finally:
        monkeypatch.setattr(batch_module, "_process_chunk", real)


def test_a_raised_text_limit_does_not_resume_a_run_that_rejected_a_text_for_its_length(small_model, tmp_path,
                                                                                          monkeypatch):
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "Cartel smuggled cocaine " * 10},
                                                 {"id": "b", "text": "Rain."}, {"id": "c", "text": "Sun."}])
    out = tmp_path / "out.jsonl"
    with interrupted_at_chunk(monkeypatch, 2), pytest.raises(KeyboardInterrupt):
        threatclf.label_files(source, out, small_model, chunk_size=2, max_text_chars=100, progress=False)
    with pytest.raises(DataError, match=r"cannot resume: .* max_text_chars \(--max-text-chars\): 100 \(now 1000\) — "
                                        r"a higher limit continues a run only when its finished chunks rejected no"):
        threatclf.label_files(source, out, small_model, chunk_size=2, max_text_chars=1000, progress=False, resume=True)
    with pytest.warns(UserWarning, match="1 of the 3 input rows was rejected"):  # the limit it began with: resumed
        summary = threatclf.label_files(source, out, small_model, chunk_size=2, max_text_chars=100, progress=False,
                                        resume=True)
    assert summary.resumed_chunks == 1 and summary.rejected == 1


def test_the_progress_bar_of_a_resumed_run_starts_at_the_rows_done_rather_than_reading_them_again(
        small_model, tmp_path, monkeypatch):
    import tqdm as tqdm_module

    source = write_jsonl(tmp_path / "in.jsonl", [{"id": f"r{i}", "text": "Cartel smuggled cocaine."} for i in range(7)])
    out = tmp_path / "out.jsonl"
    with interrupted_at_chunk(monkeypatch, 3), pytest.raises(KeyboardInterrupt):
        threatclf.label_files(source, out, small_model, chunk_size=2, progress=False)
    bars = []

    class Recorded(tqdm_module.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.updates = []
            bars.append((kwargs, self))

        def update(self, n=1):
            self.updates.append(n)
            return super().update(n)

    monkeypatch.setattr(tqdm_module, "tqdm", Recorded)
    summary = threatclf.label_files(source, out, small_model, chunk_size=2, progress=False, resume=True)
    assert summary.resumed_rows == 4
    kwargs, bar = next((k, b) for k, b in bars if k.get("desc") == "labelling")
    assert kwargs["initial"] == 4 and sum(bar.updates) == 3  # the 3 rows read by this run, not all 7


@pytest.mark.parametrize("name", ["in.jsonl", "in.jsonl.gz", "in.csv"])
def test_the_progress_bar_estimates_the_rows_of_jsonl_and_csv_from_the_bytes_read(small_model, tmp_path, monkeypatch,
                                                                                   name):
    import gzip

    import tqdm as tqdm_module

    rows = [{"id": f"r{i}", "text": "Cartel smuggled cocaine." if i % 3 else "Rain."} for i in range(40)]
    source = tmp_path / name
    if name.endswith(".csv"):
        pd.DataFrame(rows).to_csv(source, index=False)
    else:
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        source.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    totals = []

    class Recorded(tqdm_module.tqdm):
        def refresh(self, *args, **kwargs):
            if self.desc == "labelling":
                totals.append(self.total)
            return super().refresh(*args, **kwargs)

    monkeypatch.setattr(tqdm_module, "tqdm", Recorded)
    threatclf.label_files(source, tmp_path / "out.jsonl", small_model, chunk_size=8, progress=True)
    estimates = [t for t in totals if t is not None]
    assert len(estimates) >= 4  # a total from the first chunk on, not only at the end
    assert estimates[-1] == 40  # and the right one once every byte is read
    assert all(8 <= t <= 400 for t in estimates)


def test_the_stopping_handler_takes_over_python_handlers_only_and_gives_them_back():
    import signal
    from concurrent.futures import ProcessPoolExecutor

    from threatclf.batch import _stopped_by_another_interrupt

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's own: Ctrl-C ends the workers too
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a script's: SIGTERM still ends the process
        with ProcessPoolExecutor(1) as pool, _stopped_by_another_interrupt(pool):
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nohup's: stays ignored
        with ProcessPoolExecutor(1) as pool, _stopped_by_another_interrupt(pool):
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)

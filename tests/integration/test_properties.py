"""Property-based tests (hypothesis): passages, batch round trips, resume, fastvec, labelled data.

Tiny literal corpora and the tiny model of builders.py only; no shared data. Each property
has a small example budget (the whole file runs in well under a minute once numba's cache is
warm). Integration tests: most properties run whole labelling runs.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import tempfile
import unicodedata
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import threatclf
from threatclf import DataError, split_passages
from threatclf import batch as batch_module
from threatclf.cli import main
from threatclf.data import load_labelled

# the generated inputs are rejected, or hold no row, often by design: said by the summaries checked
pytestmark = pytest.mark.filterwarnings("ignore:.* input rows w(as|ere) rejected:UserWarning",
                                        "ignore:no input rows:UserWarning",
                                        "ignore:.* an id of an earlier row:UserWarning")

# THREATCLF_PROPS_SCALE=10 runs ten times the examples, new ones each run (a longer hunt than CI's
# budget allows); without it, the same examples every run, so that a test run is repeatable
SCALE = float(os.environ.get("THREATCLF_PROPS_SCALE", "1"))
SETTINGS = dict(deadline=None, derandomize="THREATCLF_PROPS_SCALE" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

# --------------------------------------------------------------------------- text

# every line end str.splitlines knows, white space that is not a line end, invisible format
# characters, end marks and closing quotes, astral and combining characters, NUL
_FRAGMENTS = [
    " ", "  ", "\t", "\n", "\n\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1d",
    "\x1e", "\x1f", "\u00a0", "\u3000", "\u2003", "\x00", ".", "!", "?", "...", "?!", ".\"", ".\u201d", ".)", "'",
    "\u200b", "\u200d", "\ufeff", "\u200e", "\u034f", "\u2800", "\u3164", "\ufe0f", "e\u0301", "\u0301",
    "\U0001F600", "\U0001D518", "word", "Word.", "a", "bb", "x" * 300,
]
text_fragments = st.one_of(st.sampled_from(_FRAGMENTS), st.text(min_size=1, max_size=6))
texts = st.lists(text_fragments, max_size=60).map("".join)


def _visible(char: str) -> bool:
    """Mirrors the documented notion of text: not white space, not an invisible character."""
    invisible = set("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0") | {
        chr(c) for c in range(0xFE00, 0xFE10)}
    return not char.isspace() and unicodedata.category(char) not in ("Cf", "Cc") and char not in invisible


def _line_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each line's content, as str.splitlines cuts them."""
    spans, at = [], 0
    for line in text.splitlines(keepends=True):
        content = line.splitlines()[0] if line.splitlines() else ""
        spans.append((at, at + len(content)))
        at += len(line)
    return spans


@settings(max_examples=int(400 * SCALE), **SETTINGS)
@given(text=texts, max_words=st.integers(1, 40), min_words=st.integers(0, 20))
@example(text="a\r\nb", max_words=1, min_words=0)
@example(text="\u200b\u200d \n real words", max_words=5, min_words=0)
def test_passages_are_exact_ordered_disjoint_spans_covering_all_text(text, max_words, min_words):
    parts = split_passages(text, max_words=max_words, min_words=min_words)
    covered = np.zeros(len(text), dtype=bool)
    previous_end = 0
    for start, end in parts:
        assert 0 <= previous_end <= start < end <= len(text)  # in order, not overlapping, not empty
        span = text[start:end]
        assert span == span.strip()  # no leading or trailing white space
        assert start == 0 or text[start - 1].isspace()  # cut between words, never inside one
        assert end == len(text) or text[end].isspace()
        # words of the lines with text (a merged passage spans a line of invisible characters it skipped)
        assert sum(len(text[max(a, start):min(b, end)].split()) for a, b in _line_spans(text)
                   if a < end and b > start and any(_visible(c) for c in text[a:b])) <= max_words
        covered[start:end] = True
        previous_end = end
    # nothing lost: every non-space character of a line with visible text is in a passage
    for start, end in _line_spans(text):
        has_text = any(_visible(c) for c in text[start:end])
        for i in range(start, end):
            if has_text and not text[i].isspace():  # (a line without text may be inside a merged passage)
                assert covered[i], (i, text[i])
    if not any(_visible(c) for c in text):
        assert parts == []


@settings(max_examples=int(100 * SCALE), **SETTINGS)
@given(text=texts, max_words=st.integers(1, 40), min_words=st.integers(0, 20))
def test_passages_do_not_depend_on_text_around_the_article(text, max_words, min_words):
    # white space (and a blank paragraph) before the text only shifts the offsets
    base = split_passages(text, max_words=max_words, min_words=min_words)
    shifted = split_passages(" \n \n" + text, max_words=max_words, min_words=min_words)
    assert [(s + 4, e + 4) for s, e in base] == list(shifted)


# --------------------------------------------------------------------------- batch labelling

_SENTENCES = [
    "Customs officers seized two tonnes of cocaine hidden in a shipment of fruit.",
    "The mayor was charged with taking bribes from a construction company.",
    "A suicide bomber attacked a checkpoint and the militant group claimed the bombing.",
    "The football club won the cup after a late goal in extra time.",
    "Officials said foreign agents ran a disinformation campaign to sway the election.",
    "Police dismantled a criminal network that smuggled migrants across the border.",
]
_ODD_TEXTS = ["", " ", "\n", "\t \u00a0", '"quoted"', 'say "hi", then; go', "a,b;c", "\u200b\u200d", "NA", "null",
              "=1+2", "line\r\nbreak", "\ufeffBOM inside", "cocaine " * 200]
article_texts = st.one_of(
    st.sampled_from(_ODD_TEXTS),
    st.lists(st.one_of(st.sampled_from(_SENTENCES), st.sampled_from(["\n", "\n\n", "\r\n", " ", ", ", "; ", '"'])),
             min_size=1, max_size=8).map("".join),
    st.text(max_size=40),
)
_ODD_IDS = ["007", "0", "00", "1", "1.0", "1e3", "-0", "+1", "0x1F", "nan", "NaN", "NA", "N/A", "null", "None", "True",
            " 7", "7 ", " ", "a,b", 'q"uote', "semi;colon", "new\nline", "cr\rid", "crlf\r\nid", "tab\tid", "Ünï",
            "\U0001F600", "=SUM(A1)", "#", "[1]", '{"a": 1}']
article_ids = st.one_of(st.sampled_from(_ODD_IDS), st.text(min_size=1, max_size=8))
corpora = st.lists(st.tuples(article_ids, article_texts), min_size=1, max_size=12,
                   unique_by=lambda row: row[0])


def write_input(folder: Path, rows, fmt: str) -> tuple[Path, dict]:
    """The rows as an input file, and the label_files options that read it.

    fmt: jsonl, csv or parquet, then variants: raw (JSON without escapes), bom (a UTF-8 byte-order
    mark first), lf (CSV lines ended by \\n rather than csv's \\r\\n), semi / tab (CSV separators),
    cp1252 (CSV in that encoding), gz (gzipped)."""
    fmt, *variants = fmt.split("-")
    path = folder / (f"in.{fmt}.gz" if "gz" in variants else f"in.{fmt}")
    options = {}
    encoding = "utf-8-sig" if "bom" in variants else "cp1252" if "cp1252" in variants else "utf-8"
    if encoding == "cp1252":
        options["encoding"] = "cp1252"
    if fmt == "jsonl":
        data = "".join(json.dumps({"id": i, "text": t}, ensure_ascii="raw" not in variants) + "\n" for i, t in rows)
    elif fmt == "csv":
        handle = io.StringIO(newline="")
        sep = ";" if "semi" in variants else "\t" if "tab" in variants else ","
        if sep != ",":
            options["csv_sep"] = sep  # (the command line's --csv-sep takes "tab"; csv_sep= does not)
        # (csv.writer quotes a field holding a lone \r only when \r is in its line terminator)
        writer = csv.writer(handle, delimiter=sep, lineterminator="\n" if "lf" in variants else "\r\n",
                            quoting=csv.QUOTE_ALL if "lf" in variants else csv.QUOTE_MINIMAL)
        writer.writerow(["id", "text"])
        writer.writerows(rows)
        data = handle.getvalue()
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"id": pa.array([i for i, _ in rows], pa.string()),
                                 "text": pa.array([t for _, t in rows], pa.string())}), path)
        return path, options
    raw = data.encode(encoding)
    path.write_bytes(gzip.compress(raw) if "gz" in variants else raw)
    return path, options


_INPUT_FORMATS = ["jsonl", "jsonl-raw", "jsonl-bom", "jsonl-gz", "csv", "csv-lf", "csv-bom", "csv-semi", "csv-tab",
                  "csv-gz", "csv-cp1252-semi", "parquet"]


def read_jsonl(path: Path) -> list[dict]:
    # "\n" ends a JSONL line; str.splitlines would also cut at a raw U+0085 or U+2028 inside a string
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line]


def read_any(path: Path) -> list[dict]:
    """Output rows as dicts with id (str), labels (list) and scores ({label: float or None})."""
    if path.suffix == ".jsonl":
        return read_jsonl(path)
    if path.suffix == ".csv":
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    else:
        rows = pd.read_parquet(path).to_dict("records")
    out = []
    for row in rows:
        scores = {k[len("score_"):]: (None if v in ("", None) or (isinstance(v, float) and math.isnan(v)) else float(v))
                  for k, v in row.items() if k.startswith("score_")}
        out.append({"id": row["id"], "labels": row["labels"].split(";") if row["labels"] else [],
                    "scores": scores, "evidence": json.loads(row["evidence"]), "text": row.get("text")})
    return out


def run(model, inputs, out: Path, **options) -> tuple[list[dict], list[dict]]:
    options.setdefault("progress", False)
    threatclf.label_files(inputs, out, model, overwrite=True, **options)
    rejects = Path(f"{out}.rejects.jsonl")
    return read_any(out), (read_jsonl(rejects) if rejects.exists() else [])


@settings(max_examples=int(30 * SCALE), **SETTINGS)
@given(rows=corpora, fmt=st.sampled_from(_INPUT_FORMATS),
       out_fmt=st.sampled_from(["jsonl", "csv", "parquet"]), chunk_size=st.integers(1, 5),
       max_text_chars=st.integers(1, 2000))
def test_every_row_comes_out_once_with_its_id_unchanged(small_model, rows, fmt, out_fmt, chunk_size,
                                                         max_text_chars):
    if "cp1252" in fmt:
        assume(all(i.encode("cp1252", "ignore").decode("cp1252") == i and t.encode("cp1252", "ignore").decode("cp1252") == t
                   for i, t in rows))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path, options = write_input(folder, rows, fmt)
        out, rejects = run(small_model, path, folder / f"out.{out_fmt}", chunk_size=chunk_size, keep_text=True,
                           max_text_chars=max_text_chars, **options)
    fmt = fmt.split("-")[0]
    ids = [r["id"] for r in out] + [r["id"] for r in rejects]
    assert sorted(ids) == sorted(i for i, _ in rows)  # each row once, labelled or rejected, id as given
    assert [r["id"] for r in out] == [i for i, _ in rows if i in {r["id"] for r in out}]  # input order
    for row in rejects:
        text = dict(rows)[row["id"]]
        # only an empty CSV field (no text) or a text over the limit may be a reject
        assert (fmt == "csv" and text == "") or len(text) > max_text_chars, row
    for row in out:
        text = dict(rows)[row["id"]]
        assert len(text) <= max_text_chars
        assert row["text"] == text  # --keep-text copies the text as read
        if not any(_visible(c) for c in text):
            assert row["labels"] == [] and set(row["scores"].values()) == {None}
        for item in row["evidence"]:
            span = text[item["start"]:item["end"]]
            assert span and span == span.strip() and item["label"] in row["labels"]


@settings(max_examples=int(15 * SCALE), **SETTINGS)
@given(rows=corpora, chunk_sizes=st.tuples(st.integers(1, 4), st.integers(5, 2000)),
       formats=st.lists(st.sampled_from(_INPUT_FORMATS[1:]), min_size=2, max_size=3, unique=True))
def test_same_output_whatever_the_input_format_and_chunk_size(small_model, rows, chunk_sizes, formats):
    rows = [(i, t) for i, t in rows if t != ""]  # an empty CSV field is no text: a reject, not a row
    assume(rows)
    if any("cp1252" in f for f in formats):
        assume(all(f"{i}{t}".encode("cp1252", "ignore").decode("cp1252") == f"{i}{t}" for i, t in rows))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        outputs = []
        for k, fmt in enumerate(["jsonl"] + formats):
            chunk_size = chunk_sizes[k % 2]
            path, options = write_input(folder, rows, fmt)
            out = folder / f"out-{fmt}-{chunk_size}.jsonl"
            labelled, rejects = run(small_model, path, out, chunk_size=chunk_size, **options)
            assert rejects == []
            outputs.append(out.read_bytes())
    assert all(o == outputs[0] for o in outputs[1:])


@settings(max_examples=int(4 * SCALE), **SETTINGS)
@given(rows=corpora)
def test_worker_processes_give_the_same_output(small_model, rows):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path, _ = write_input(folder, rows, "jsonl")
        run(small_model, path, folder / "one.jsonl", chunk_size=2)
        run(small_model, path, folder / "two.jsonl", chunk_size=2, n_jobs=2)
        assert (folder / "one.jsonl").read_bytes() == (folder / "two.jsonl").read_bytes()


@settings(max_examples=int(25 * SCALE), **SETTINGS)
@given(rows=corpora, max_words=st.integers(3, 130))
def test_article_labels_are_their_best_passages(small_model, rows, max_words):
    # README: an article's score for a label is its best passage's; its evidence is that passage
    df = pd.DataFrame(rows, columns=["doc", "text"])
    articles = threatclf.label_dataframe(df, small_model, id_col="doc", max_words=max_words)
    passages = threatclf.label_dataframe(df, small_model, id_col="doc", max_words=max_words, passages=True)
    assert list(articles["doc"]) == list(df["doc"])
    labels = list(small_model.labels_)
    for (_, article), (doc, text) in zip(articles.iterrows(), rows):
        mine = passages[passages["doc"] == doc]
        spans = [tuple(p) for p in split_passages(text, max_words=max_words)]
        if not spans:
            assert len(mine) == 1 and pd.isna(mine["passage"].iloc[0]) and article["labels"] == []
            assert all(pd.isna(article[f"score_{lab}"]) for lab in labels)
            continue
        assert [(int(s), int(e)) for s, e in zip(mine["start"], mine["end"])] == spans
        assert list(mine["text"]) == [text[s:e] for s, e in spans]
        union = {lab for passage_labels in mine["labels"] for lab in passage_labels}
        assert article["labels"] == [lab for lab in labels if lab in union]
        for lab in labels:
            assert article[f"score_{lab}"] == pytest.approx(mine[f"score_{lab}"].max(), abs=1e-6)
        for item in article["evidence"]:
            best = mine[mine["passage"] == item["passage"]].iloc[0]
            assert (item["start"], item["end"]) == (best["start"], best["end"])
            assert item["label"] in best["labels"] and item["score"] == best[f"score_{item['label']}"]


json_ids = st.one_of(st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=False),
                    st.sampled_from([0, -0.0, 7.0, 1e16, 1e17, 2.5e-7, 123456789012345678, 2**53 + 1]))


def _as_text(value):
    """README: ids are written as text, 2 becomes "2" (and a whole float its integer); NaN is no id."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


@settings(max_examples=int(25 * SCALE), **SETTINGS)
@given(ids=st.lists(json_ids, min_size=1, max_size=8), fmt=st.sampled_from(["jsonl", "parquet"]),
       passages=st.booleans(), out_fmt=st.sampled_from(["jsonl", "csv", "parquet"]))
def test_numeric_ids_are_written_as_their_text(small_model, ids, fmt, passages, out_fmt):
    texts = [_SENTENCES[k % len(_SENTENCES)] if k % 3 else "" for k in range(len(ids))]
    # a whole float of 2**53 or more may stand for several ids and is rejected (test_readers says how)
    assume(not any(isinstance(i, float) and i.is_integer() and abs(i) >= 2**53 for i in ids))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path = folder / f"in.{fmt}"
        if fmt == "jsonl":
            path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in zip(ids, texts)))
        else:
            if any(isinstance(i, float) for i in ids):
                ids = [float(i) for i in ids]  # one column, one type: float64
                assume(all(abs(i) < 2**53 for i in ids))  # as above, once made floats
            assume(all(isinstance(i, float) or -2**63 <= i < 2**63 for i in ids))  # or int64
            pd.DataFrame({"id": ids, "text": texts}).to_parquet(path)
        out = folder / f"out.{out_fmt}"
        threatclf.label_files(path, out, small_model, passages=passages, progress=False)
        if out_fmt == "jsonl":
            written = [r["id"] for r in read_jsonl(out)]
        elif out_fmt == "csv":
            written = [r["id"] for r in csv.DictReader(open(out, encoding="utf-8", newline=""))]
        else:
            written = pd.read_parquet(out)["id"].tolist()
        assert not Path(f"{out}.rejects.jsonl").exists()
    name = "in.jsonl" if fmt == "jsonl" else "in.parquet"
    expected = [_as_text(i) or f"{name}:{k + 1}" for k, i in enumerate(ids)]
    per_article = [len(split_passages(t)) or 1 for t in texts] if passages else [1] * len(texts)
    assert written == [e for e, n in zip(expected, per_article) for _ in range(n)]


@settings(max_examples=int(25 * SCALE), **SETTINGS)
@given(rows=corpora, nudges=st.lists(st.sampled_from([0.0, 1e-12, -1e-12, 4e-7, -4e-7, 5e-7, -5e-7, 1e-6, -1e-6]),
                                     min_size=5, max_size=5),
       picks=st.lists(st.integers(0, 10**6), min_size=5, max_size=5), passages=st.booleans(),
       out_fmt=st.sampled_from(["jsonl", "csv", "parquet"]))
def test_thresholds_applied_to_written_scores_give_written_labels(small_model, rows, nudges, picks, passages, out_fmt):
    # README: scores are rounded to six decimals without crossing a threshold
    labels = list(small_model.labels_)
    proba = small_model.predict_proba([t for _, t in rows] + _SENTENCES).to_numpy()
    # thresholds a hair's breadth from a score that occurs
    threshold = {lab: float(min(1.0, max(0.0, proba[pick % len(proba), j] + nudge)))
                 for j, (lab, nudge, pick) in enumerate(zip(labels, nudges, picks))}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path, _ = write_input(folder, [(i, t) for i, t in rows if t], "jsonl")
        assume(path.read_text())
        out = folder / f"out.{out_fmt}"
        written, _ = run(small_model, path, out, threshold=threshold, passages=passages, chunk_size=3)
    for row in written:
        if all(v is None for v in row["scores"].values()):
            assert row["labels"] == []
            continue
        assert row["labels"] == [lab for lab in labels if row["scores"][lab] >= threshold[lab]], (row, threshold)
        for item in row["evidence"]:
            assert item["score"] == row["scores"][item["label"]]


@settings(max_examples=int(25 * SCALE), **SETTINGS)
@given(rows=corpora, index=st.lists(st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b"])), min_size=12,
                                    max_size=12), chunk_size=st.integers(1, 4), passages=st.booleans())
def test_label_dataframe_keeps_the_frame_and_does_not_depend_on_chunk_size(small_model, rows, index, chunk_size,
                                                                           passages):
    # the input's columns come back unchanged, in its order and index; chunk_size only bounds memory
    df = pd.DataFrame({"doc": [i for i, _ in rows], "text": [t for _, t in rows],
                       "n": range(len(rows))}, index=index[:len(rows)])
    before = df.copy()
    small = threatclf.label_dataframe(df, small_model, id_col="doc", chunk_size=chunk_size, passages=passages)
    whole = threatclf.label_dataframe(df, small_model, id_col="doc", passages=passages)
    pd.testing.assert_frame_equal(df, before)  # the input is not changed
    pd.testing.assert_frame_equal(small, whole)
    if not passages:
        pd.testing.assert_frame_equal(small[list(df.columns)], df)
    else:
        per_article = [len(split_passages(t)) or 1 for _, t in rows]
        assert list(small["doc"]) == [i for (i, _), n in zip(rows, per_article) for _ in range(n)]
        assert list(small["n"]) == [k for k, n in enumerate(per_article) for _ in range(n)]


@pytest.fixture(scope="module")
def saved_model(small_model, tmp_path_factory):
    return small_model.save(tmp_path_factory.mktemp("props") / "model")


@settings(max_examples=int(10 * SCALE), **SETTINGS)
@given(rows=corpora, fmt=st.sampled_from(["jsonl", "csv", "parquet"]), chunk_size=st.integers(1, 5))
def test_label_command_writes_what_label_files_writes(small_model, saved_model, rows, fmt, chunk_size):
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path, _ = write_input(folder, rows, fmt)
        expected, expected_rejects = run(small_model, path, folder / "api.jsonl", chunk_size=7)
        code = main(["label", str(path), "-o", str(folder / "cli.jsonl"), "--model", str(saved_model),
                     "--chunk-size", str(chunk_size), "-q", "--overwrite"])
        assert code == (3 if expected_rejects else 0)
        assert (folder / "cli.jsonl").read_bytes() == (folder / "api.jsonl").read_bytes()
        cli_rejects = read_jsonl(folder / "cli.jsonl.rejects.jsonl") if expected_rejects else []
        assert [r["id"] for r in cli_rejects] == [r["id"] for r in expected_rejects]


@settings(max_examples=int(12 * SCALE), **SETTINGS)
@given(rows=st.lists(st.tuples(article_ids, article_texts), min_size=2, max_size=12, unique_by=lambda r: r[0]),
       chunk_size=st.integers(1, 4), crash_at=st.integers(1, 12), passages=st.booleans(),
       out_fmt=st.sampled_from(["jsonl", "csv", "parquet"]))
def test_resume_after_an_interruption_gives_the_uninterrupted_output(small_model, rows, chunk_size, crash_at,
                                                                      passages, out_fmt):
    n_chunks = -(-len(rows) // chunk_size)
    assume(crash_at <= n_chunks)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path, _ = write_input(folder, rows, "csv")
        options = dict(chunk_size=chunk_size, passages=passages, progress=False)
        threatclf.label_files(path, folder / f"ref.{out_fmt}", small_model, **options)
        real, calls = batch_module._process_chunk, {"n": 0}

        def crash(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == crash_at:
                raise KeyboardInterrupt("simulated kill")
            return real(*args, **kwargs)

        out = folder / f"out.{out_fmt}"
        with mock.patch.object(batch_module, "_process_chunk", crash), pytest.raises(KeyboardInterrupt):
            threatclf.label_files(path, out, small_model, **options)
        assert not out.exists()
        summary = threatclf.label_files(path, out, small_model, resume=True, **options)
        assert summary.resumed_chunks == crash_at - 1
        if out_fmt != "parquet":
            assert out.read_bytes() == (folder / f"ref.{out_fmt}").read_bytes()
        else:
            assert pd.read_parquet(out).equals(pd.read_parquet(folder / f"ref.{out_fmt}"))
        ref_rejects, rejects = Path(f"{folder}/ref.{out_fmt}.rejects.jsonl"), Path(f"{out}.rejects.jsonl")
        assert ref_rejects.exists() == rejects.exists()
        if rejects.exists():
            assert read_jsonl(rejects) == read_jsonl(ref_rejects)


# --------------------------------------------------------------------------- fastvec

_VECTORIZERS = [
    dict(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
    dict(ngram_range=(1, 3), lowercase=False, stop_words=["the", "a", "İ"]),
    dict(analyzer="char_wb", ngram_range=(2, 5), min_df=1, sublinear_tf=True),
    dict(analyzer="char", ngram_range=(1, 4), lowercase=False),
    dict(analyzer="char_wb", ngram_range=(1, 3), norm="l1", binary=True),
    dict(analyzer="char", ngram_range=(2, 3), norm=None, use_idf=False),
]
# (and counts past 255, where sublinear tf leaves its table of logarithms)
vector_texts = st.lists(st.one_of(st.sampled_from(_FRAGMENTS + ["İstanbul", "ΣΑΣ", "Straße", "ﬁ", "ǅ", "東京", "ı"]),
                                  st.builds(lambda word, sep, n: (word + sep) * n, st.sampled_from(["the", "ab", "x"]),
                                            st.sampled_from([" ", ""]), st.integers(250, 300)),
                                  st.text(max_size=6),
                                  st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=3)),
                         max_size=20).map("".join)


@settings(max_examples=int(60 * SCALE), **SETTINGS)
@given(fit_on=st.lists(vector_texts, min_size=1, max_size=8), docs=st.lists(vector_texts, max_size=6),
       config=st.sampled_from(range(len(_VECTORIZERS))), seed=st.integers(0, 2**32 - 1))
def test_compiled_scorer_matches_scikit_learn(fit_on, docs, config, seed):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from threatclf.fastvec import CompiledLinearScorer, CompiledTfidf

    vectorizer = TfidfVectorizer(**_VECTORIZERS[config])
    try:
        vectorizer.fit(fit_on)
    except ValueError:  # "empty vocabulary": nothing to compare
        assume(False)
    compiled = CompiledTfidf.from_vectorizer(vectorizer)
    docs = docs + fit_on[:2]
    expected = vectorizer.transform(docs)
    got = compiled.transform(docs, n_threads=2)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got.toarray(), expected.toarray(), rtol=1e-9, atol=1e-12)
    rng = np.random.default_rng(seed)
    coef, intercept = rng.normal(size=(3, expected.shape[1])), rng.normal(size=3)
    scorer = CompiledLinearScorer([compiled], coef, intercept)
    np.testing.assert_allclose(scorer.decision_function(docs), expected @ coef.T + intercept, rtol=1e-9, atol=1e-9)


accented_texts = st.lists(st.one_of(
    st.sampled_from(_SENTENCES + ["narcotráfico", "Dschihadisten", "corrupción", "Ελλάδα", "İstanbul", "ﬁnance",
                                  "cocaïne", "Straße", "\u00c5ngström", "e\u0301", "\u212b", "\u1e9b\u0323", " ", "\n"]),
    st.text(max_size=5)), min_size=1, max_size=10).map("".join)


@settings(max_examples=int(40 * SCALE), **SETTINGS)
@given(docs=st.lists(accented_texts, min_size=1, max_size=5))
def test_model_scores_are_the_reference_scores_and_ignore_the_unicode_form(small_model, docs):
    # the compiled path equals scikit-learn's; decomposed (NFD) text reads as its composed form (README)
    composed = [unicodedata.normalize("NFC", d) for d in docs]
    reference = small_model._reference_features(composed) @ small_model.coef_.T + small_model.intercept_
    np.testing.assert_allclose(small_model.decision_function(docs), reference, rtol=1e-9, atol=1e-9)
    decomposed = [unicodedata.normalize("NFD", d) for d in docs]
    np.testing.assert_allclose(small_model.decision_function(decomposed), reference, rtol=1e-9, atol=1e-9)


@settings(max_examples=int(20 * SCALE), **SETTINGS)
@given(docs=st.lists(accented_texts, min_size=1, max_size=5), passages=st.booleans())
def test_decomposed_articles_get_the_labels_of_their_composed_form(small_model, docs, passages):
    # README: "an accent written as a separate mark (NFD) reads as the word it belongs to; offsets
    # still index your text as given"
    nfc = pd.DataFrame({"doc": [str(k) for k in range(len(docs))], "text": [unicodedata.normalize("NFC", d) for d in docs]})
    nfd = nfc.assign(text=[unicodedata.normalize("NFD", d) for d in docs])
    a = threatclf.label_dataframe(nfc, small_model, id_col="doc", passages=passages)
    b = threatclf.label_dataframe(nfd, small_model, id_col="doc", passages=passages)
    assert list(a["labels"]) == list(b["labels"])
    scores = [c for c in a.columns if c.startswith("score_")]
    pd.testing.assert_frame_equal(a[scores], b[scores])
    for (_, row), (_, nfd_row) in zip(a.iterrows(), b.iterrows()):
        text = nfd.set_index("doc").loc[nfd_row["doc"], "text"]
        for item in nfd_row["evidence"]:
            if "start" in item:
                span = text[item["start"]:item["end"]]
                assert span and span == span.strip()
        assert [e["terms"] for e in row["evidence"]] == [
            [unicodedata.normalize("NFC", t) for t in e["terms"]] for e in nfd_row["evidence"]]


# --------------------------------------------------------------------------- labelled data

label_names = st.text(min_size=1, max_size=10).filter(
    lambda s: s == s.strip() and not any(c in s for c in ",;|"))
label_lists = st.lists(label_names, max_size=4)


def write_labelled(folder: Path, labels: list[list[str]], fmt: str, csv_style: str = "json") -> Path:
    texts = [f"passage {k}" for k in range(len(labels))]
    path = folder / f"data.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"text": t, "labels": l}) + "\n" for t, l in zip(texts, labels)),
                        encoding="utf-8")
    elif fmt == "csv":
        cells = [json.dumps(l) if csv_style == "json" else ";".join(l) for l in labels]
        # quoted: pandas' to_csv ends lines with \n and leaves a field holding a lone \r unquoted
        pd.DataFrame({"text": texts, "labels": cells}).to_csv(path, index=False, quoting=csv.QUOTE_ALL)
    else:
        pd.DataFrame({"text": texts, "labels": labels}).to_parquet(path)
    return path


@settings(max_examples=int(60 * SCALE), **SETTINGS)
@given(labels=st.lists(label_lists, min_size=1, max_size=6), fmt=st.sampled_from(["jsonl", "csv", "parquet"]),
       csv_style=st.sampled_from(["json", "semicolons"]))
def test_label_lists_read_back_as_written(labels, fmt, csv_style):
    if fmt == "csv" and csv_style == "semicolons":
        # "a;b" is the CSV shorthand; a cell starting with "[" is read as JSON (docs: a;b or ["a","b"])
        assume(not any(";".join(l).lstrip().startswith("[") for l in labels))
    with tempfile.TemporaryDirectory() as folder:
        path = write_labelled(Path(folder), labels, fmt, csv_style)
        texts, read = load_labelled(path)
    assert texts == [f"passage {k}" for k in range(len(labels))]
    assert read == [list(dict.fromkeys(l)) for l in labels]  # a name given twice is one label


bad_labels = st.sampled_from([None, 5, "a,b", "a|b", ["a,b"], [" a"], [""], [1], {"a": 1}, "['a']", "[broken"])


@settings(max_examples=int(40 * SCALE), **SETTINGS)
@given(labels=st.lists(label_lists, min_size=1, max_size=6), bad=bad_labels, at=st.integers(0, 5),
       fmt=st.sampled_from(["jsonl", "csv", "parquet"]), multiline=st.booleans())
def test_a_bad_label_cell_is_named_by_file_and_row(labels, bad, at, fmt, multiline):
    at = min(at, len(labels))
    if fmt == "parquet" and not isinstance(bad, (list, type(None))):
        assume(False)  # one Arrow type per column: a list column holds lists or nulls
    if fmt == "csv":
        assume(bad is not None)  # CSV has no null; an empty cell is "no label"
        bad = bad if isinstance(bad, str) else json.dumps(bad)
        assume(not bad.startswith("{") and bad != "5")  # '{"a": 1}' and "5" are label names in the a;b form
    rows = [json.dumps(l) if fmt == "csv" else l for l in labels]
    rows.insert(at, bad)
    texts = [("first line\nsecond line " if multiline else "passage ") + str(k) for k in range(len(rows))]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data.{fmt}"
        if fmt == "jsonl":
            path.write_text("".join(json.dumps({"text": t, "labels": l}) + "\n" for t, l in zip(texts, rows)))
            where = f"line {at + 1}"
        elif fmt == "csv":
            pd.DataFrame({"text": texts, "labels": rows}).to_csv(path, index=False)
            where = f"line {2 + at * (2 if multiline else 1)}"  # the line the record starts on; header is line 1
        else:
            try:
                pd.DataFrame({"text": texts, "labels": rows}).to_parquet(path)
            except Exception:  # mixed types pyarrow cannot store
                assume(False)
            where = f"row {at + 1}"
        with pytest.raises(DataError) as error:
            load_labelled(path)
    assert f"{path}: {where}:" in str(error.value)

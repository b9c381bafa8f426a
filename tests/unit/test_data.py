"""Labelled data files: label lists in CSV, JSONL and Parquet; mistakes named with file and row."""
import json

import pandas as pd
import pytest

from threatclf import DataError
from threatclf.data import load_labelled, load_labelled_groups


def _csv(tmp_path, labels):
    path = tmp_path / "data.csv"
    pd.DataFrame({"text": [f"passage {i}" for i in range(len(labels))], "labels": labels}).to_csv(path, index=False)
    return path


def test_csv_labels_are_separated_by_semicolons_or_given_as_json(tmp_path):
    texts, labels = load_labelled(_csv(tmp_path, ["violence;graft", '["graft"]', "", " violence "]))
    assert labels == [["violence", "graft"], ["graft"], [], ["violence"]]
    assert texts[0] == "passage 0"


@pytest.mark.parametrize("value, message", [
    ("violence,graft", r"line 3: label 'violence,graft' holds a comma: separate labels with ';'"),
    ("violence|graft", r"line 3: label 'violence\|graft' holds a \|: separate labels with ';'"),
    ("graft; violence|graft", r"line 3: label 'violence\|graft' holds a \|"),
    ('["violence|graft"]', r"line 3: label 'violence\|graft' is not a label name \(no ',', ';' or '\|' inside"),
    ("['violence']", r"line 3: labels .* look like JSON but do not parse \(a Python list, as pandas writes one"),
    ('["violence", " graft"]', r"line 3: label ' graft' is not a label name"),
    ('["violence,graft"]', r"line 3: label 'violence,graft' is not a label name"),
])
def test_label_mistakes_name_the_file_row_and_the_fix(tmp_path, value, message):
    path = _csv(tmp_path, ["graft", value])
    with pytest.raises(DataError, match=f"{path}: {message}"):
        load_labelled(path)


def test_labels_outside_the_known_ones_are_named_with_file_and_row(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"t{i}", "labels": names, "doc": "d"})
                              for i, names in enumerate([["graft"], ["fraud"]])) + "\n")
    with pytest.raises(DataError, match=rf"{path}: line 2: unknown label 'fraud'; known labels: \['graft'\]"):
        load_labelled(path, known_labels=["graft"])
    with pytest.raises(DataError, match=rf"{path}: line 2: unknown label 'fraud'"):
        load_labelled_groups(path, group_col="doc", known_labels=["graft"])
    capitalised = tmp_path / "caps.jsonl"
    capitalised.write_text(json.dumps({"text": "t", "labels": ["Graft"]}) + "\n")
    with pytest.raises(DataError, match=rf"{capitalised}: line 1: unknown label 'Graft' \(did you mean 'graft'\? "
                                        r"label names are compared exactly, case too\); known labels: \['graft'\]$"):
        load_labelled(capitalised, known_labels=["graft"])


def test_a_parquet_record_is_named_by_its_row(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"text": ["a", "b"], "labels": [["graft"], ["violence,graft"]]}).to_parquet(path)
    with pytest.raises(DataError, match=rf"{path}: row 2: label 'violence,graft' is not a label name"):
        load_labelled(path)


def test_a_folder_is_not_labelled_data(tmp_path):
    (tmp_path / "a.txt").write_text("Militants bombed the market.")
    with pytest.raises(DataError, match=r"is a folder: labelled data is a JSONL, CSV or Parquet file with a 'labels' "
                                        r"column \(a folder of .txt files holds no labels\)"):
        load_labelled(tmp_path)


def test_reading_labelled_data_takes_names_as_given(tmp_path):
    # evaluating a model with a label "none" of its own, or "graft violence", reads them; training judges them
    path = _csv(tmp_path, ["graft", "none", "graft violence", "graft;NA"])
    assert load_labelled(path)[1] == [["graft"], ["none"], ["graft violence"], ["graft", "NA"]]


def test_a_group_is_one_value_of_any_kind_but_not_a_list(tmp_path):
    import datetime
    import decimal

    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"t{i}", "labels": [], "doc": doc})
                              for i, doc in enumerate(["d1", ["d2"]])) + "\n")
    with pytest.raises(DataError, match=rf"{path}: line 2: group column 'doc' holds a list"):
        load_labelled_groups(path, group_col="doc")
    parquet = tmp_path / "data.parquet"
    pd.DataFrame({"text": ["a", "b"], "labels": [[], []],
                  "day": [datetime.date(2025, 1, 1), datetime.date(2025, 1, 2)],
                  "amount": [decimal.Decimal("1.0"), decimal.Decimal("2.5")]}).to_parquet(parquet)
    assert load_labelled_groups(parquet, group_col="day")[2] == ["2025-01-01", "2025-01-02"]
    assert load_labelled_groups(parquet, group_col="amount")[2] == ["1.0", "2.5"]
    pd.DataFrame({"text": ["a", "b"], "labels": [[], []],
                  "when": [pd.Timestamp("2025-01-01"), pd.NaT]}).to_parquet(parquet)
    with pytest.raises(DataError, match=rf"{parquet}: row 2: no value in group column 'when'"):
        load_labelled_groups(parquet, group_col="when")
    pd.DataFrame({"text": ["a", "b"], "labels": [[], []], "doc": [["x"], ["y"]]}).to_parquet(parquet)
    with pytest.raises(DataError, match=rf"{parquet}: row 1: group column 'doc' holds a"):
        load_labelled_groups(parquet, group_col="doc")


@pytest.mark.parametrize("name, content, expected", [
    ("blank.csv", 'text,labels\nt," [""terrorism""]"\n', [["terrorism"]]),  # JSON after a blank
    ("trailing.csv", "text,labels\nt,terrorism;\n", [["terrorism"]]),
    ("spaced.csv", "text,labels\nt,terrorism; corruption\n", [["terrorism", "corruption"]]),
    ("twice.csv", "text,labels\nt,corruption;terrorism;corruption\n", [["corruption", "terrorism"]]),
    ("twice-json.csv", 'text,labels\nt,"[""terrorism"", ""terrorism""]"\n', [["terrorism"]]),
    ("twice.jsonl", '{"text": "t", "labels": ["fraud", "graft", "fraud"]}\n', [["fraud", "graft"]]),
])
def test_csv_label_cells_are_read_as_a_person_wrote_them(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert load_labelled(path)[1] == expected


@pytest.mark.parametrize("name, content, options, message", [
    ("nan.jsonl", '{"text": "t", "labels": NaN}\n', {}, r"line 1: no labels \(write \[\] for a passage without"),
    ("open.csv", 'text,labels\nt,"[""terrorism"""\n', {}, r"line 2: labels '\[\"terrorism\"' look like JSON but do not"),
    ("number.jsonl", '{"text": "t", "labels": [1, "terrorism"]}\n', {}, r"line 1: labels must be a list of label names"),
    ("joined.jsonl", '{"text": "t", "labels": ["terrorism;corruption"]}\n', {},
     r"line 1: label 'terrorism;corruption' is not a label name"),
    ("null.jsonl", '{"text": null, "labels": []}\n', {}, r"line 1: text is null"),  # not "no rows"
    ("second.jsonl", '{"text": "t", "labels": ["terrorism", "bogus"]}\n', {"known_labels": ["terrorism"]},
     r"line 1: unknown label 'bogus'"),
    ("none.jsonl", '{"text": "t", "labels": ["terrorism"]}\n', {"known_labels": []},
     r"line 1: unknown label 'terrorism'; known labels: \[\]"),
])
def test_bad_label_data_is_refused_naming_the_line(tmp_path, name, content, options, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_labelled(path, **options)


@pytest.mark.parametrize("content, message", [
    ('text,labels,doc\nt,terrorism,"   "\n', r"line 2: no value in group column 'doc'"),
    (None, r"line 1: group column 'doc' holds a dict \{'id': 7\}; a group is one value"),
])
def test_a_group_must_be_one_value(tmp_path, content, message):
    path = tmp_path / ("g.csv" if content else "g.jsonl")
    path.write_text(content or '{"text": "t", "labels": [], "doc": {"id": 7}}\n', encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_labelled_groups(path, group_col="doc")

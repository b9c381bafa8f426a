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
    ("['violence']", r"line 3: labels .* look like JSON but do not parse \(a Python list, as pandas writes one"),
    ('["violence", " graft"]', r"line 3: label ' graft' is not a label name"),
    ('["violence,graft"]', r"line 3: label 'violence,graft' is not a label name"),
])
def test_label_mistakes_name_the_file_row_and_the_fix(tmp_path, value, message):
    path = _csv(tmp_path, ["graft", value])
    with pytest.raises(DataError, match=f"{path}, {message}"):
        load_labelled(path)


def test_labels_outside_the_known_ones_are_named_with_file_and_row(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"t{i}", "labels": names, "doc": "d"})
                              for i, names in enumerate([["graft"], ["fraud"]])) + "\n")
    with pytest.raises(DataError, match=rf"{path}, line 2: unknown label 'fraud'; known labels: \['graft'\]"):
        load_labelled(path, known_labels=["graft"])
    with pytest.raises(DataError, match=rf"{path}, line 2: unknown label 'fraud'"):
        load_labelled_groups(path, group_col="doc", known_labels=["graft"])


def test_a_parquet_record_is_named_by_its_row(tmp_path):
    path = tmp_path / "data.parquet"
    pd.DataFrame({"text": ["a", "b"], "labels": [["graft"], ["violence,graft"]]}).to_parquet(path)
    with pytest.raises(DataError, match=rf"{path}, row 2: label 'violence,graft' is not a label name"):
        load_labelled(path)


def test_a_folder_is_not_labelled_data(tmp_path):
    (tmp_path / "a.txt").write_text("Militants bombed the market.")
    with pytest.raises(DataError, match=r"is a folder: labelled data is a JSONL, CSV or Parquet file with a 'labels' "
                                        r"column \(a folder of .txt files holds no labels\)"):
        load_labelled(tmp_path)


@pytest.mark.parametrize("value", ["NA", "nan", "None", '["N/A"]', "graft;null"])
def test_a_missing_value_written_as_a_label_is_refused_with_its_row(tmp_path, value):
    path = _csv(tmp_path, ["graft", value])
    with pytest.raises(DataError, match=rf"{path}, line 3: label name '[^']+' is how spreadsheets, R and pandas "
                                        "write a missing value"):
        load_labelled(path)


def test_labels_joined_by_a_space_are_refused_with_their_row(tmp_path):
    path = _csv(tmp_path, ["graft", "violence", "graft violence", "graft;violence"])
    with pytest.raises(DataError, match=rf"{path}, line 4: label name 'graft violence' is the labels 'graft', "
                                        "'violence' joined by white space"):
        load_labelled(path)
    # a name with a space is fine when its words are not all labels
    assert load_labelled(_csv(tmp_path, ["graft", "armed violence"]))[1] == [["graft"], ["armed violence"]]


def test_a_group_that_is_not_one_value_is_refused(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"t{i}", "labels": [], "doc": doc})
                              for i, doc in enumerate(["d1", ["d2"]])) + "\n")
    with pytest.raises(DataError, match=rf"{path}: line 2: group column 'doc' holds list"):
        load_labelled_groups(path, group_col="doc")

import numpy as np
import pandas as pd
import pytest

from threatclf import DEFAULT_LABELS, LABEL_DEFINITIONS, DataError
from threatclf.labels import (check_label_list, from_indicator, indicator_from_frame, infer_labels, label_name_problem, misspelt_label,
                             lookalike_labels, to_indicator)


def test_taxonomy_has_five_labels_with_definitions():
    assert DEFAULT_LABELS == ("terrorism", "organized_crime", "drug_trafficking", "corruption", "foreign_influence")
    assert set(LABEL_DEFINITIONS) == set(DEFAULT_LABELS)
    assert all(len(d) > 40 for d in LABEL_DEFINITIONS.values())


def test_infer_labels_puts_taxonomy_first_then_user_labels_sorted():
    assert infer_labels([["zeta", "corruption"], [], ["terrorism", "alpha"]]) == ["terrorism", "corruption", "alpha", "zeta"]


def test_indicator_round_trip_with_user_label_set():
    labels = ["cyber", "fraud"]
    lists = [["fraud"], [], ["cyber", "fraud"]]
    matrix = to_indicator(lists, labels)
    np.testing.assert_array_equal(matrix, [[0, 1], [0, 0], [1, 1]])
    assert from_indicator(matrix, labels) == lists


def test_a_nested_label_list_is_shown_as_a_list_not_in_numpy_notation():
    nested = np.array([np.array(["fraud", "cyber"], dtype=object)], dtype=object)  # Parquet list<list<string>>
    with pytest.raises(DataError, match=r"^row 3: label names must be non-empty strings, got \['fraud', 'cyber'\]$"):
        check_label_list(nested, 3)


def test_unknown_label_is_an_error_naming_the_row():
    with pytest.raises(DataError, match=r"row 1: unknown label 'sports'"):
        to_indicator([["terrorism"], ["sports"]], DEFAULT_LABELS)
    with pytest.raises(DataError, match=r"row 0: unknown label 'Corruption' \(did you mean 'corruption'\?"):
        to_indicator([["Corruption"]], DEFAULT_LABELS)
    with pytest.raises(DataError, match=r"row 0: unknown label 'sports'; known"):  # nothing alike: no guess
        to_indicator([["sports"]], DEFAULT_LABELS)


@pytest.mark.parametrize("bad", ["terrorism", 3, [""], [None], {"terrorism": 0, "corruption": 1}])
def test_label_lists_must_be_lists_of_names(bad):
    with pytest.raises(DataError, match="row 0"):
        infer_labels([bad])


def test_from_indicator_checks_shape():
    with pytest.raises(ValueError, match="2 columns"):
        from_indicator(np.zeros((2, 3)), ["a", "b"])


@pytest.mark.parametrize("matrix", [[[np.nan, 0]], [[2, 0]], [[-1, 1]]])
def test_from_indicator_takes_only_yes_or_no(matrix):
    with pytest.raises(ValueError, match="only 0/1"):
        from_indicator(np.array(matrix), ["a", "b"])


def test_a_bad_indicator_cell_is_named_by_row_and_column():
    frame = pd.DataFrame({"a": [0, 1, 2], "b": [0, None, 1]}, index=["x", "y", "z"])
    with pytest.raises(DataError, match=r"row 'y', column 'b' holds nan \(2 such cells\)"):
        indicator_from_frame(frame, ["a", "b"])


@pytest.mark.parametrize("name", ["サイバー犯罪", "人々", "DDoS攻击", "AI诈骗", "IT보안", "мʼясо", "oʻgʻirlik", "nº",
                                  "COVID дезинформация", "терроризм", "Ελληνικά", "corrupción", "corrupcio\u0301n",
                                  "الإرهاب", "आतंकवाद", "khủng bố", "Fraud 2"])
def test_label_names_of_every_language_are_accepted(name):
    # a Latin acronym in a Chinese word, kana with kanji, modifier letters: ordinary writing
    assert label_name_problem(name) is None


@pytest.mark.parametrize("name, problem", [("terr\u043erism", "'\u043e' is CYRILLIC SMALL LETTER O"),
                                           ("terr\u034f\u043e\u034frism", "within the word 'terr\u043erism'"),
                                           ("\u03bfrganized", "GREEK SMALL LETTER OMICRON"),
                                           ("=SUM(A1)", "may not"), ("+x", "may not start"), ("@x", "may not start")])
def test_formula_and_mixed_alphabet_label_names_are_refused(name, problem):
    assert problem in label_name_problem(name)


def test_labels_that_print_alike_are_named_together():
    from threatclf.labels import lookalike_problem

    assert lookalike_problem(["terrorism", "corruption"]) is None
    assert lookalike_problem(["Terrorism", "terrorism"]) is None  # told apart on screen; fit refuses them apart
    said = lookalike_problem(["terrorism", "\u0441orruption", "corruption"])
    assert said.startswith("label names '\u0441orruption' and 'corruption' print alike ('\u0441' is CYRILLIC SMALL")


@pytest.mark.parametrize("other", ["terr\u0585rism", "terror\u1160ism", "terror\u200dism"])
def test_armenian_look_alikes_and_blank_letters_are_seen_through(other):
    from threatclf.labels import lookalike_problem

    assert "print alike" in lookalike_problem(["terrorism", other])


@pytest.mark.parametrize("name", ["-2+3", "a|b", "=SUM(A1)", "@cmd", "+x"])
def test_names_a_csv_or_card_would_misread_are_refused(name):
    assert label_name_problem(name)


def test_a_full_width_look_alike_is_caught():
    assert lookalike_labels(["terrorism", "\uff54errorism"]) is not None


def test_an_indicator_frame_without_a_label_column_names_it():
    with pytest.raises(DataError, match=r"\['b'\]"):
        indicator_from_frame(pd.DataFrame({"a": [1, 0]}), ["a", "b"])


def test_bytes_are_not_a_label_list():
    with pytest.raises(DataError, match="labels must be a list of label names, got bytes"):
        check_label_list(b"terrorism", 0)


@pytest.mark.parametrize("positives, expected", [
    ({"violence": 500, "violance": 10}, ("violance", "violence")),
    ({"terrorism": 15, "terorism": 5}, ("terorism", "terrorism")),
    ({"terrorism": 14, "terorism": 5}, None),  # under three times: both may be meant
    ({"crime": 40, "graft": 2, "fraud": 3}, None),  # unlike names
    ({"Violence": 500, "violence": 10}, ("violence", "Violence")),  # case alone, whatever the counts
    ({"Fraud": 10, "fraud": 10}, ("fraud", "Fraud")),
    ({"Fraud": 0, "fraud": 10}, None),  # a label named with no example: fit says so
    ({"arms": 90, "army": 3}, None),  # short names differ by a letter and mean different things
    ({"terrorism": 15, "terorism": 0}, None),  # a label named with no example: fit says so
])
def test_a_label_spelt_almost_as_a_more_common_one_is_found(positives, expected):
    assert misspelt_label(positives) == expected


def test_an_unknown_label_spelt_almost_as_a_known_one_is_named():
    from threatclf.labels import to_indicator

    # a typo, not only another case, gets the known label it is probably meant for (mutant L1)
    with pytest.raises(DataError, match=r"row 0: unknown label 'terorism' \(did you mean 'terrorism'\?"):
        to_indicator([["terorism"]], ["terrorism", "corruption"])


@pytest.mark.parametrize("form, other", [("NFC", "NFD"), ("NFD", "NFC")])
def test_an_unknown_label_that_is_a_known_one_in_another_unicode_form_says_so(form, other):
    import unicodedata

    from threatclf.labels import to_indicator

    known = unicodedata.normalize(form, "corrupción")
    given = unicodedata.normalize(other, "corrupción")
    with pytest.raises(DataError) as error:
        to_indicator([[given]], [known, "fraud"])
    message = str(error.value)
    # not "unknown label 'corrupción' (did you mean 'corrupción'?)": the two print alike
    assert "another Unicode form" in message and f"unicodedata.normalize({form!r}, name)" in message
    assert ascii(given) in message and ascii(known) in message and "did you mean" not in message

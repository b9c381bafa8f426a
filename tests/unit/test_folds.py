"""Cross-validation folds: copies of a text, and groups, in one fold."""
import numpy as np
import pandas as pd
import pytest

from builders import tiny_corpus
from threatclf import DataError
from threatclf.folds import check_groups, cv_folds, group_folds, text_hashes


def test_texts_of_symbols_alone_or_differing_in_vowel_signs_keep_apart():
    keys = text_hashes(["!!!", "???", "\U0001F600\U0001F600", "\U0001F525", "", "\u0915\u093f\u0924\u093e\u092c",
                        "\u0915\u0924\u093e\u092c", "\u0642\u064e\u062a\u064e\u0644\u064e",
                        "\u0642\u064f\u062a\u0650\u0644\u064e"])
    assert len(set(keys.tolist())) == len(keys)
    assert len(set(text_hashes(["Bomb, kills 3.", "BOMB kills 3", "bomb \u2014 kills 3!"]).tolist())) == 1
    # characters scraped text carries unseen part words as a space does, for the model's words too
    invisible = ["bomb kills 3", "bomb\u200bkills 3", "bomb\u00adkills 3", "bomb\u2060kills\x003",
                 "bomb\u00a0kills\u20023"]
    assert len(set(text_hashes(invisible).tolist())) == 1


def test_groups_sharing_a_text_are_merged_into_one_fold():
    texts, labels = tiny_corpus()
    n = len(texts)
    groups = [f"a{i}" for i in range(n)] + [f"b{i}" for i in range(n)]  # the same texts under other groups
    for test in (test for _, test in cv_folds(texts + texts, 3, 0, groups=groups)):
        assert all((i in test) == (i + n in test) for i in range(n))


def test_group_folds_follow_the_seed_and_keep_groups_whole():
    groups = np.array([f"g{i % 17}" for i in range(100)], dtype=object)
    folds = group_folds(groups, 5, 0)
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(100))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert 15 <= len(test) <= 25
    again = group_folds(groups, 5, 0)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again))
    other = group_folds(groups, 5, 1)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other))


def test_missing_pandas_values_in_groups_are_refused():
    with pytest.raises(DataError, match="no value for 2 rows"):
        check_groups(pd.Series(["a", pd.NA, "b", pd.NA], dtype="string"), 4, 2)


def test_groups_are_dealt_largest_first_so_folds_come_out_even():
    groups = np.array(sum([[f"g{k}"] * n for k, n in enumerate([6, 4, 3, 2, 1])], []))
    assert sorted(len(test) for _, test in group_folds(groups, 2, 0)) == [8, 8]

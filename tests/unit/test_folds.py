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


def _folds_holding(folds, rows) -> set:
    return {k for k, (_, test) in enumerate(folds) if set(rows) & set(test.tolist())}


@pytest.mark.parametrize("grouped", [False, True])
def test_a_rare_labels_examples_are_spread_over_two_folds_or_more(grouped):
    # 3 examples in 3 folds all land in one fold for 1 seed in 9: that fold's training part then
    # has none, and no threshold can be learned there
    texts = [f"passage number {i}" for i in range(30)]
    groups = [f"doc{i // 2}" for i in range(30)] if grouped else None
    rare = [0, 10, 20] if not grouped else [0, 1, 10, 20]  # rows 0 and 1: one document
    caught = 0
    for seed in range(40):
        plain = cv_folds(texts, 3, seed, groups=groups)
        column = np.zeros((30, 1), dtype=bool)
        column[rare] = True
        spread = cv_folds(texts, 3, seed, groups=groups, spread=np.hstack([column, ~column]))
        assert sorted(np.concatenate([test for _, test in spread]).tolist()) == list(range(30))
        assert len(_folds_holding(spread, rare)) >= 2
        if grouped:  # a document stays whole
            assert len(_folds_holding(spread, [0, 1])) == 1
        if len(_folds_holding(plain, rare)) == 1:
            caught += 1
            moved = [r for r in range(30) if _folds_holding(plain, [r]) != _folds_holding(spread, [r])]
            assert len(moved) == (2 if grouped else 1)  # one unit moved, no more
        else:  # nothing to mend: the folds are the same as without
            assert all(np.array_equal(a[1], b[1]) for a, b in zip(plain, spread))
    assert caught  # some seeds did put the three together


def test_a_label_held_by_one_text_cannot_be_spread_and_is_left():
    texts = ["same text"] * 3 + [f"other {i}" for i in range(9)]  # copies share a fold
    column = np.zeros((12, 1), dtype=bool)
    column[:3] = True
    folds = cv_folds(texts, 3, 0, spread=column)
    assert len(_folds_holding(folds, [0, 1, 2])) == 1
    assert [t.tolist() for _, t in folds] == [t.tolist() for _, t in cv_folds(texts, 3, 0)]

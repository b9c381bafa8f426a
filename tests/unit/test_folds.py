"""Cross-validation folds: copies of a text, and groups, in one fold."""
import numpy as np
import pandas as pd
import pytest

from builders import tiny_corpus
from threatclf import DataError
from threatclf.folds import check_groups, cv_folds, group_folds, spread_folds, text_hashes


def test_texts_of_symbols_alone_or_differing_in_vowel_signs_keep_apart():
    keys = text_hashes(["!!!", "???", "\U0001F600\U0001F600", "\U0001F525", "", "\u0915\u093f\u0924\u093e\u092c",
                        "\u0915\u0924\u093e\u092c", "\u0642\u064e\u062a\u064e\u0644\u064e",
                        "\u0642\u064f\u062a\u0650\u0644\u064e"])
    assert len(set(keys.tolist())) == len(keys)
    assert len(set(text_hashes(["Bomb, kills 3.", "BOMB kills 3", "bomb \u2014 kills 3!"]).tolist())) == 1
    # characters scraped text carries unseen part words as a space does, for the model's words too
    invisible = ["bomb kills 3", "bomb\u200bkills 3", "bomb\ufeffkills\x003", "bomb\u00a0kills\u20023"]
    assert len(set(text_hashes(invisible).tolist())) == 1
    # a soft hyphen or word joiner joins its word's parts, as the model reads them
    joined = ["terrorism", "ter\u00adrorism", "terror\u2060ism", "Ter\u00adror\u00adism!"]
    assert len(set(text_hashes(joined).tolist())) == 1 and text_hashes(["ter rorism"])[0] != text_hashes(joined)[0]


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


def _fold_of(folds) -> dict:
    return {int(i): k for k, (_, test) in enumerate(folds) for i in test}


def _pairs(fold_of_row, cv):
    everything = np.arange(len(fold_of_row))
    fold_of_row = np.asarray(fold_of_row)
    return [(everything[fold_of_row != k], everything[fold_of_row == k]) for k in range(cv)]


def test_copies_in_full_width_letters_or_ligatures_share_a_digest():
    # kills f01: NFKC folds compatibility characters, as the model's words do
    assert len(set(text_hashes(["\uff22\uff4f\uff4d\uff42 kills \uff13", "Bomb kills 3"]).tolist())) == 1
    assert len(set(text_hashes(["\ufb01ghters attacked", "fighters attacked"]).tolist())) == 1


def test_symbols_part_words_as_punctuation_does():
    # kills f02: symbols (S*: "|", "+", "\u00a9", "\u20ac") are taken for white space, as the docstring says
    copies = ["Attack on the market | Reuters", "Attack on the market Reuters", "attack on the market \u00a9 Reuters",
              "Attack on the market + Reuters"]
    assert len(set(text_hashes(copies).tolist())) == 1
    assert len(set(text_hashes(["Ransom of \u20ac5 paid", "ransom of 5 paid"]).tolist())) == 1


def test_groups_of_more_than_one_column_are_refused():
    # kills f07: a (n, 1) array is not one group per row
    with pytest.raises(DataError, match=r"groups has shape \(3, 1\), expected \(3,\)"):
        check_groups(np.array([["a"], ["b"], ["c"]]), 3, None)


def test_group_ids_of_mixed_types_are_taken_as_text():
    # kills f09: article ids read as numbers for some rows and text for others (1 and "1" are one article)
    groups = [i // 2 if i % 2 else str(i // 2) for i in range(12)]
    assert check_groups(groups, 12, 3).tolist() == [str(i // 2) for i in range(12)]
    texts = [f"passage number {i}" for i in range(12)]
    for _, test in cv_folds(texts, 3, 0, groups=check_groups(groups, 12, 3)):
        assert all((2 * (i // 2) in test) == (2 * (i // 2) + 1 in test) for i in test.tolist())


@pytest.mark.parametrize("texts, groups", [
    # g2 shares a text with g0, then another with g1
    (["a shared text", "other 1", "a second shared text", "other 2", "a shared text", "a second shared text"],
     ["g0", "g1", "g2", "g1", "g2", "g1"]),
    # g1 shares a text with g2, then g0 one with g1: g2 reaches g0 through g1 only
    (["a shared text", "a shared text", "a second shared text", "a second shared text", "other 1", "other 2"],
     ["g1", "g2", "g0", "g1", "g1", "g2"]),
])
def test_groups_joined_through_a_chain_of_shared_texts_share_one_fold(texts, groups):
    # kills f12 (first case) and f13 (second case): g0, g1 and g2 are one group, in one fold
    texts = texts + [f"filler text {i}" for i in range(9)]
    groups = groups + [f"f{i}" for i in range(9)]
    for seed in range(10):
        fold = _fold_of(cv_folds(texts, 3, seed, groups=groups))
        assert len({fold[i] for i in range(6)}) == 1, seed


def test_fewer_merged_groups_than_folds_is_a_clear_error():
    # kills f14: two groups sharing a text leave 2 groups for 3 folds
    with pytest.raises(DataError, match="merge into 2 groups, fewer than cv=3 folds"):
        cv_folds(["same", "same", "other"], 3, 0, groups=["a", "b", "c"])


def test_spreading_a_label_moves_merged_groups_whole():
    # kills f15: the unit spread_folds moves is the merged group, not one of the groups in it
    texts = [f"passage number {i}" for i in range(30)]
    groups = [f"doc{i}" for i in range(30)]
    texts[1] = texts[0]  # doc0 and doc1 share a text: one group
    rare = [0, 1, 10]
    column = np.zeros((30, 1), dtype=bool)
    column[rare] = True
    moved = 0
    for seed in range(30):
        plain = _fold_of(cv_folds(texts, 3, seed, groups=groups))
        fold = _fold_of(cv_folds(texts, 3, seed, groups=groups, spread=np.hstack([column, ~column])))
        assert fold[0] == fold[1], seed
        assert len({fold[i] for i in rare}) == 2, seed
        moved += plain != fold
    assert moved  # some seeds did put the three together


def test_spread_moves_the_smallest_unit_to_the_fold_with_fewest_rows():
    # kills f20 (the largest unit moved) and f22 (moved to the next fold, not the smallest)
    units = np.array([0, 0, 0, 1] + list(range(2, 14)))  # unit 0: rows 0-2; unit 1: row 3
    fold_of_row = np.array([0, 0, 0, 0] + [1] * 8 + [2] * 4)
    column = np.zeros((16, 1), dtype=bool)
    column[[0, 1, 2, 3]] = True  # the label's rows: units 0 and 1, all in fold 0
    after = _fold_of(spread_folds(_pairs(fold_of_row, 3), units, column))
    assert [after[i] for i in range(16)] == [0, 0, 0, 2] + [1] * 8 + [2] * 4


def test_a_label_gathered_by_a_move_made_for_another_is_spread_again():
    # kills f23: moving row 1 for label A puts both of label B's rows in fold 1; a second pass mends B
    units = np.array([3, 1, 2, 2, 0, 4, 5, 6, 7, 8, 9, 10])  # rows 2 and 3: one unit
    fold_of_row = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    spread = np.zeros((12, 2), dtype=bool)
    spread[[1, 4], 0] = True  # B: folds 0 and 1
    spread[[1, 2, 3], 1] = True  # A: fold 0 only; its smallest unit is row 1
    after = _fold_of(spread_folds(_pairs(fold_of_row, 3), units, spread))
    for column in spread.T:
        assert len({after[i] for i in np.flatnonzero(column)}) >= 2
    assert after[2] == after[3]  # a unit stays whole


def test_fewer_distinct_texts_than_folds_is_a_clear_error():
    # kills f11: scikit-learn's KFold would raise its own ValueError, not threatclf's DataError
    with pytest.raises(DataError, match="only 2 distinct training texts, fewer than cv=3 folds"):
        cv_folds(["Bomb kills 3.", "bomb kills 3", "Rain tomorrow"], 3, 0)


def test_a_label_held_by_one_unit_is_left_where_it_is():
    # kills f19: the one unit holding the label (rows 0-2) is not moved about: it cannot be spread
    units = np.array([0, 0, 0] + list(range(1, 12)))
    fold_of_row = np.array([0] * 8 + [1] * 2 + [2] * 4)
    column = np.zeros((14, 1), dtype=bool)
    column[[0, 1, 2]] = True
    folds = _pairs(fold_of_row, 3)
    after = spread_folds(folds, units, column)
    assert [t.tolist() for _, t in after] == [t.tolist() for _, t in folds]


def test_the_digests_saved_with_models_keep_their_values():
    # kills f05: training_text_hashes_ of saved models are compared with the digests of new texts
    # ("seen in training"): a change of byte order or width would silently match nothing
    assert text_hashes(["bomb", "Bomb kills 3."]).tolist() == [9113551593781811674, text_hashes(["bomb kills 3"])[0]]
    assert text_hashes(["bomb"]).dtype == np.uint64


def test_as_many_groups_as_folds_is_enough():
    # kills f08: three articles for cv=3 give each fold one article, not an error
    groups = check_groups(["a", "a", "b", "b", "c", "c"], 6, 3)
    folds = cv_folds([f"passage number {i}" for i in range(6)], 3, 0, groups=groups)
    assert sorted(t.tolist() for _, t in folds) == [[0, 1], [2, 3], [4, 5]]

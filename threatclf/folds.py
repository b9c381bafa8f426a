"""Cross-validation folds that keep copies of a text, and groups (articles), in one fold.

Out-of-fold scores teach the thresholds and the calibration: a text whose copy sat in the
training part of its fold would score as if held out while it was not, and thresholds learned
from such scores are wrong. ``text_hashes`` names texts the model reads alike, so their copies
share a fold; the same digests record, without the texts, what a model was trained on.
"""
from __future__ import annotations

import functools
import hashlib
import sys
import unicodedata
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state

from .exceptions import DataError
from .features import WORD_INTERNAL

__all__ = ["TEXT_HASHES", "text_hashes", "check_groups", "cv_folds", "given_folds", "group_folds", "spread_folds"]


#: How ``training_text_hashes_`` were computed, recorded in ``training_fingerprint_``: absent
#: (threatclf < 0.8) means white space collapsed only, "words" means :func:`text_hashes`.
TEXT_HASHES = "words"


def text_hashes(texts: Sequence[str]) -> np.ndarray:
    """64-bit BLAKE2b digests of texts as the model mostly reads them — Unicode-normalised (NFKC),
    case folded, punctuation and symbols taken for white space — so that copies differing in
    case, punctuation or white space share one: a compact record of which texts a model saw,
    from which no text can be read back, and the key that keeps copies of a text in one
    cross-validation fold. A text of punctuation or symbols alone ("!!!", emoji) keeps them.
    Soft hyphens and word joiners join what they stand between, as the model reads them
    ("ter\u00adrorism" is "terrorism")."""
    table = _punctuation_to_space()
    keys = []
    for text in texts:
        words = unicodedata.normalize("NFKC", text).casefold().translate(table).split()
        keys.append(" ".join(words) if words else " ".join(text.split()))
    return _digests(keys)


@functools.lru_cache(maxsize=1)
def _punctuation_to_space() -> dict:
    """``str.translate`` table: every Unicode punctuation (P*), symbol (S*), separator (Z*),
    control (Cc) and format (Cf: zero-width space) character to a space, as the model's word
    tokens part at them, but for the soft hyphen and word joiner, which it drops (built on first
    use, not at import)."""
    table = {code: " " for code in range(sys.maxunicode + 1)
             if unicodedata.category(chr(code))[0] in "PSZ" or unicodedata.category(chr(code)) in ("Cc", "Cf")}
    return {**table, **WORD_INTERNAL}


def _white_space_hashes(texts: Sequence[str]) -> np.ndarray:
    """The digests models saved before threatclf 0.8 recorded: white space collapsed only."""
    return _digests(" ".join(t.split()) for t in texts)


def _digests(keys: Iterable[str]) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                                    "little") for key in keys], dtype=np.uint64)


def check_groups(groups, n_rows: int, cv: int | None) -> np.ndarray:
    """``groups`` as an array of strings, one per row, at least ``cv`` distinct; else DataError."""
    groups = np.asarray(groups, dtype=object)
    if groups.shape != (n_rows,):
        raise DataError(f"groups has shape {groups.shape}, expected ({n_rows},)")
    missing = [i for i, g in enumerate(groups.tolist()) if pd.api.types.is_scalar(g) and pd.isna(g)]
    if missing:
        raise DataError(f"groups has no value for {len(missing)} rows (first: row {missing[0]}); "
                        "give every row its group, e.g. its article id")
    groups = np.array([str(g) for g in groups.tolist()], dtype=object)
    distinct = len(set(groups.tolist()))
    if cv is not None and distinct < cv:
        raise DataError(f"groups has {distinct} distinct values, fewer than cv={cv} folds")
    return groups


def cv_folds(texts: Sequence[str], cv: int, random_state, *, groups=None, digests=None, spread=None) -> list:
    """(train, test) index pairs for out-of-fold scores, with every copy of a text in one fold.

    A text repeated in the training data (case, punctuation and white space ignored: the model
    reads such copies alike) would otherwise sit in the
    training part while its copy is scored: out-of-fold figures near perfect, thresholds learned
    from them wrong. Without ``groups`` this is shuffled K-fold over the distinct texts (plain
    K-fold when there are no repeats); with ``groups``, groups that share a text are merged.
    ``spread`` (a boolean matrix, a row per text, e.g. each label's positives and negatives):
    a column whose rows all fell in one fold, which would leave no example of it in that fold's
    training part, has rows moved to another fold (see :func:`spread_folds`).
    """
    if digests is None:
        digests = text_hashes(texts)
    folds, units = _folds(digests, cv, random_state, groups)
    return folds if spread is None else spread_folds(folds, units, spread)


def given_folds(cv, Y: np.ndarray, *, groups=None, digests=None) -> list:
    """The (train, test) index pairs of a caller's own folds, checked: ``cv`` is a scikit-learn
    splitter (``GroupKFold()``, ``PredefinedSplit(...)``, ...; given a placeholder X, the label
    matrix ``Y`` and ``groups``) or an iterable of (train, test) pairs of row indices or masks.

    The caller chose these folds, so they are kept as given; but a scored text with a copy in
    its fold's training part, or a group on both sides, is warned of: those figures are the
    optimistic ones :func:`cv_folds` exists to avoid.
    """
    n_rows = len(Y)
    name = type(cv).__name__
    if hasattr(cv, "split") and not isinstance(cv, (str, bytes)):
        try:
            pairs = list(cv.split(np.zeros((n_rows, 1)), Y, groups))
        except ValueError as exc:  # e.g. StratifiedKFold, which takes one label per row, not a label matrix
            raise DataError(f"cv={name} cannot split these rows: {exc}") from exc
    elif isinstance(cv, Iterable) and not isinstance(cv, (str, bytes)):
        pairs = list(cv)
    else:
        raise TypeError(f"cv must be a number of folds, a scikit-learn splitter or an iterable of (train, test) "
                        f"index pairs, got {name}")
    if not pairs:
        raise DataError(f"cv={name} gave no folds")
    checked = []
    for k, pair in enumerate(pairs):
        if not (isinstance(pair, Sequence) or isinstance(pair, np.ndarray)) or len(pair) != 2:
            raise DataError(f"cv's fold {k} is not a (train, test) pair of row indices")
        train, test = (_row_indices(part, n_rows, f"cv's fold {k} ({side})") for part, side in zip(pair, ("train", "test")))
        if not len(train) or not len(test):
            raise DataError(f"cv's fold {k} has an empty {'training' if not len(train) else 'test'} part")
        if np.intersect1d(train, test).size:
            raise DataError(f"cv's fold {k} has row {int(np.intersect1d(train, test)[0])} in both its training and test "
                            "parts")
        checked.append((train, test))
    copies = 0 if digests is None else sum(int(np.isin(digests[test], digests[train]).sum()) for train, test in checked)
    shared = 0 if groups is None else sum(int(np.isin(groups[test], groups[train]).sum()) for train, test in checked)
    if copies or shared:
        said = " and ".join(part for part in (
            copies and f"{copies:,} scored text{'s' if copies != 1 else ''} with a copy in {'their' if copies != 1 else 'its'} "
                       "fold's training part (case, punctuation and white space ignored)",
            shared and f"{shared:,} scored row{'s' if shared != 1 else ''} whose group is in {'their' if shared != 1 else 'its'} "
                       "fold's training part") if part)
        warnings.warn(f"cv's folds score {said}: those figures are optimistic; a number of folds (cv=5) keeps "
                      "copies and groups in one fold", UserWarning, stacklevel=3)
    return checked


def _row_indices(part, n_rows: int, where: str) -> np.ndarray:
    """One side of a fold as sorted unique row indices: from indices or a boolean mask of the rows."""
    part = np.asarray(part)
    if part.dtype == bool:
        if part.shape != (n_rows,):
            raise DataError(f"{where}: a mask must have one value per row ({n_rows}), got shape {part.shape}")
        return np.flatnonzero(part)
    if part.ndim != 1 or (part.size and not np.issubdtype(part.dtype, np.integer)):
        raise DataError(f"{where}: expected a 1-D array of row indices, got {part.dtype} of shape {part.shape}")
    part = part.astype(np.int64, copy=False)
    if part.size and (part.min() < 0 or part.max() >= n_rows):
        raise DataError(f"{where}: row index {int(part.min() if part.min() < 0 else part.max())} is outside "
                        f"0..{n_rows - 1}")
    unique = np.unique(part)
    if len(unique) != len(part):
        raise DataError(f"{where}: a row is listed twice")
    return unique


def _folds(digests, cv: int, random_state, groups) -> tuple[list, np.ndarray]:
    """The folds of :func:`cv_folds`, and the units they keep whole (a code per row)."""
    _, first, codes = np.unique(digests, return_index=True, return_inverse=True)
    if groups is None:
        kfold = KFold(n_splits=cv, shuffle=True, random_state=random_state)
        if len(first) == len(digests):
            return list(kfold.split(np.arange(len(digests)))), np.arange(len(digests))
        if len(first) < cv:
            raise DataError(f"only {len(first)} distinct training texts, fewer than cv={cv} folds")
        # K-fold over the distinct texts in order of first appearance; each copy joins its first
        order = np.argsort(first)
        fold_of_text = np.empty(len(first), dtype=np.int64)
        for k, (_, test) in enumerate(kfold.split(order)):
            fold_of_text[order[test]] = k
        return _pairs(fold_of_text[codes], cv), codes
    names, group_codes = np.unique(groups, return_inverse=True)
    # union-find over groups: two groups holding one text become one
    parent = np.arange(len(names))

    def root(g):
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    first_group = np.full(len(first), -1, dtype=np.int64)
    for text, group in zip(codes.tolist(), group_codes.tolist()):
        if first_group[text] < 0:
            first_group[text] = group
        else:
            a, b = root(first_group[text]), root(group)
            if a != b:
                parent[max(a, b)] = min(a, b)
    merged = np.array([root(g) for g in range(len(names))])
    if (merged == np.arange(len(names))).all():
        return group_folds(groups, cv, random_state), group_codes
    if len(np.unique(merged)) < cv:
        raise DataError(f"groups that share a text merge into {len(np.unique(merged))} groups, "
                        f"fewer than cv={cv} folds")
    return group_folds(names[merged][group_codes], cv, random_state), merged[group_codes]


def spread_folds(folds: list, units: np.ndarray, spread) -> list:
    """``folds`` with each column of ``spread`` reaching at least two folds where it can.

    A label whose few examples all fell in one fold has none in that fold's training part, and
    no threshold can be learned there (3 examples in 3 folds land together 1 time in 9). Such a
    column's smallest unit (a text with its copies, or a group) moves to the fold with the
    fewest rows; folds where every column already spans two are returned unchanged, so the
    folds of ordinary data do not depend on ``spread``. A column held by one unit cannot be
    spread and is left as it is.
    """
    spread = np.asarray(spread, dtype=bool)
    cv = len(folds)
    fold_of_row = np.empty(len(units), dtype=np.int64)
    for k, (_, test) in enumerate(folds):
        fold_of_row[test] = k
    unit_sizes = np.bincount(units)
    moved = False
    for _ in range(2):  # a move made for one column can, rarely, gather another
        changed = False
        for column in spread.T:
            if len(np.unique(fold_of_row[column])) != 1:
                continue
            held = np.unique(units[column])
            if len(held) < 2:
                continue
            unit = held[np.lexsort((held, unit_sizes[held]))[0]]  # the smallest; ties: the lowest code
            sizes = np.bincount(fold_of_row, minlength=cv)
            sizes[fold_of_row[column][0]] = np.iinfo(np.int64).max
            fold_of_row[units == unit] = int(np.argmin(sizes))
            changed = moved = True
        if not changed:
            break
    return _pairs(fold_of_row, cv) if moved else folds


def _pairs(fold_of_row: np.ndarray, cv: int) -> list:
    everything = np.arange(len(fold_of_row))
    return [(everything[fold_of_row != k], everything[fold_of_row == k]) for k in range(cv)]


def group_folds(groups: np.ndarray, cv: int, random_state):
    """(train, test) index pairs with each group in one test fold, folds of about equal size.

    Groups are taken largest first, ties in a seeded random order, each into the fold with the
    fewest rows so far — GroupKFold's rule, written out so that the folds depend only on the
    seed, not on the scikit-learn version's sort.
    """
    names, codes = np.unique(groups, return_inverse=True)
    sizes = np.bincount(codes)
    rank = check_random_state(random_state).permutation(len(names))
    fold_of_group = np.empty(len(names), dtype=np.int64)
    fold_sizes = np.zeros(cv, dtype=np.int64)
    for g in np.lexsort((rank, -sizes)):
        fold = int(np.argmin(fold_sizes))
        fold_of_group[g] = fold
        fold_sizes[fold] += sizes[g]
    return _pairs(fold_of_group[codes], cv)

"""fastvec agrees exactly with sklearn on the real passages (train -> dev)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from threatclf.fastvec import CompiledLinearScorer, CompiledTfidf

pytestmark = [pytest.mark.shared, pytest.mark.slow]


def _texts(path):
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


@pytest.fixture(scope="module")
def fitted(shared_data):
    folder = shared_data / "threat-passages"
    train = _texts(folder / "train.jsonl")
    dev = _texts(folder / "dev.jsonl")
    word = TfidfVectorizer(lowercase=True, ngram_range=(1, 2), min_df=2,
                           sublinear_tf=True).fit(train)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                           sublinear_tf=True).fit(train)
    return word, char, dev


def _assert_same(X, Y):
    assert isinstance(X, sp.csr_matrix) and X.shape == Y.shape and X.dtype == Y.dtype
    Y = sp.csr_matrix(Y)
    np.testing.assert_array_equal(X.indptr, Y.indptr)
    np.testing.assert_array_equal(X.indices, Y.indices)
    np.testing.assert_allclose(X.data, Y.data, rtol=0, atol=1e-9)


def test_word_and_char_wb_match_sklearn_on_dev(fitted):
    word, char, dev = fitted
    assert len(dev) > 500
    for vec in (word, char):
        compiled = CompiledTfidf.from_vectorizer(vec)
        expected = vec.transform(dev)
        assert expected.nnz > 0
        _assert_same(compiled.transform(dev), expected)
        _assert_same(compiled.transform(dev, n_threads=2), expected)


def test_scorer_matches_hstack_on_dev(fitted):
    word, char, dev = fitted
    tfidfs = [CompiledTfidf.from_vectorizer(word), CompiledTfidf.from_vectorizer(char)]
    X_expected = sp.hstack([word.transform(dev), char.transform(dev)]).tocsr()
    rng = np.random.default_rng(0)
    coef = rng.normal(scale=5.0, size=(5, X_expected.shape[1]))
    intercept = rng.normal(size=5)
    scorer = CompiledLinearScorer(tfidfs, coef, intercept)
    expected = X_expected @ coef.T + intercept
    for n_threads in (1, 2):
        X, scores = scorer.transform_and_score(dev, n_threads=n_threads)
        _assert_same(X, X_expected)
        np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-9)
        np.testing.assert_allclose(scorer.decision_function(dev, n_threads=n_threads),
                                   expected, rtol=0, atol=1e-9)

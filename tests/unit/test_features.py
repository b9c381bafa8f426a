"""The vectorizers' stored form: what a model file holds of them, and what is refused on load."""
import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from threatclf import ModelFormatError
from threatclf.features import pack_vectorizer, unpack_vectorizer

DOCS = ["a cat sat", "the dog ran", "cat and dog"]


def packed():
    vectorizer = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, dtype=np.float64).fit(DOCS)
    return vectorizer, pack_vectorizer(vectorizer)


def test_a_packed_vectorizer_transforms_as_the_fitted_one():
    vectorizer, stored = packed()
    restored = unpack_vectorizer(stored)
    assert restored.vocabulary_ == vectorizer.vocabulary_
    np.testing.assert_array_equal(restored.transform(DOCS).toarray(), vectorizer.transform(DOCS).toarray())


def _with(params=None, **fields):
    _, stored = packed()
    stored["params"].update(params or {})
    stored.update(fields)
    return stored


@pytest.mark.parametrize("stored", [
    _with({"strip_accents": "unicode"}),  # would change the features the weights were learned on
    _with({"norm": "max"}),
    _with({"ngram_range": [3, 1]}),
    _with({"ngram_range": [1, 150]}),  # a crafted file forcing huge n-gram work on every text labelled
    _with({"min_df": True}),
    _with({"max_features": 2.5}),
    _with(dtype="int64"),
], ids=["strip_accents", "norm_max", "ngram_reversed", "ngram_150", "min_df_bool", "max_features_float", "dtype_int"])
def test_a_stored_vectorizer_threatclf_never_writes_is_refused(stored):
    with pytest.raises(ModelFormatError):
        unpack_vectorizer(stored)


def test_an_empty_term_is_refused_as_a_damaged_file_not_a_crash():
    _, stored = packed()
    stored["terms_offsets"] = np.concatenate([[0], stored["terms_offsets"]])  # an empty term before the first
    stored["idf"] = np.concatenate([[1.0], stored["idf"]])  # and its idf: consistent but for the empty term
    with pytest.raises(ModelFormatError, match="term offsets must rise"):
        unpack_vectorizer(stored)

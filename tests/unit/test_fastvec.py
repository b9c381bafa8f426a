"""threatclf.fastvec must reproduce sklearn's TfidfVectorizer.transform exactly."""
from __future__ import annotations

import io
import pickle
import re
import sys
import threading

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from threatclf import fastvec
from threatclf.fastvec import CompiledLinearScorer, CompiledTfidf, is_supported

# Sentences written for these tests (not taken from any data set).
CORPUS = [
    "The harbour police seized 40 kg of powder at Dock_7 on Tuesday night.",
    "Officials said the minister's aide took bribes; the aide denies it.",
    "A parcel bomb was defused near the embassy, police said.",
    "Le café du coin a fermé après l'enquête sur le blanchiment d'argent.",
    "İstanbul'da GÖZALTI: 12 şüpheli, İİ and ıı mixed case.",
    "ΟΔΟΣ ΣΟΦΙΑΣ closed; Straße gesperrt, STRASSE offen.",
    "東京で爆発があり、警察が捜査している。 上海 北京",
    "Emoji test 🚀🔥 rocket\U0001F680launch and 🙂smiles 🙂",
    "combining: cafe\u0301 nai\u0308ve re\u0301sume\u0301 and a\u0300 la",
    "nbsp\u00a0separated\u00a0words and\u2003em\u2009thin\u3000ideographic spaces",
    "control\x1cchars\x1dhere\x1eand\x1fthere\tand\ttabs\nnew\nlines\r\nwindows",
    "digits 2024 1999 ²³ ١٢٣ ① Ⅻ and under_scores __init__ _x x_ a_b",
    "   leading and trailing whitespace   ",
    "ﬁnancial ﬂows ǅungla ǈ Ǉ and ligatures",
    "zero\u200bwidth\u200djoiner\u2028line\u2029para sep\x85nel",
    "a b c d e i o u y single letters a a a",
    "the the the the the the repeated repeated word word",
    "Mixed-CASE Words, hyphen-ated and e-mail@example.org urls http://x.y/z?q=1",
]

OTHER = [
    "",
    " ",
    "\t\n \u00a0 \x1c",
    "!!! ??? ...",
    "x",
    "a b",
    "Police seized powder at the dock; the minister denies it.",
    "Unseen vocabulary: zyxwv qwerty 🚀 东京",
    "🙂",
    "\U0001F600\U0001F601 ok",
    "lone surrogate \ud800 here \udfff",
    "İ",
    "ΣΑΣ σας",
    "tab\tonly",
    "double  space   and\t\ttabs",
    "trailing space ",
    " leading",
    "x" * 300,
    "the " * 50,
    "aaaaaaa aaaa aa a",
]

ALL = CORPUS + OTHER


def assert_same(X, Y, *, rtol=1e-12, atol=1e-12):
    """X (fastvec) has the same CSR structure and values as Y (sklearn)."""
    assert isinstance(X, sp.csr_matrix)
    assert X.shape == Y.shape
    assert X.dtype == Y.dtype
    Y = sp.csr_matrix(Y)
    X, Y = X.copy(), Y.copy()
    X.sort_indices()  # the order within a row is no part of the result (scikit-learn < 1.5 leaves it unsorted)
    Y.sort_indices()
    np.testing.assert_array_equal(X.indptr, Y.indptr)
    np.testing.assert_array_equal(X.indices, Y.indices)
    np.testing.assert_allclose(X.data, Y.data, rtol=rtol, atol=atol)


def fit(**params):
    return TfidfVectorizer(**params).fit(CORPUS)


CONFIGS = [
    dict(lowercase=True, ngram_range=(1, 2), min_df=1, sublinear_tf=True),
    dict(analyzer="char_wb", ngram_range=(2, 5), min_df=1, sublinear_tf=True),
    dict(analyzer="char_wb", ngram_range=(1, 3)),
    dict(analyzer="char_wb", ngram_range=(4, 7), lowercase=False),
    dict(analyzer="char_wb", ngram_range=(5, 6), norm="l1", binary=True),
    dict(analyzer="char", ngram_range=(1, 4)),
    dict(analyzer="char", ngram_range=(2, 6), lowercase=False, sublinear_tf=True),
    dict(analyzer="char", ngram_range=(3, 3), norm=None, use_idf=False),
    dict(ngram_range=(1, 1)),
    dict(ngram_range=(2, 3), lowercase=False),
    dict(ngram_range=(1, 3), norm="l1", smooth_idf=False),
    dict(ngram_range=(1, 2), norm=None, binary=True),
    dict(ngram_range=(1, 2), use_idf=False, sublinear_tf=True),
    dict(ngram_range=(1, 2), stop_words=["the", "and", "said", "police"]),
    dict(ngram_range=(1, 3), stop_words="english"),
    dict(ngram_range=(1, 2), stop_words=["a", "Aide", "it", "İ"], lowercase=False),
    dict(ngram_range=(1, 2), dtype=np.float32),
    dict(analyzer="char_wb", ngram_range=(2, 4), dtype=np.float32, sublinear_tf=True),
]


@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: repr(p))
def test_matches_sklearn(params):
    vec = fit(**params)
    compiled = CompiledTfidf.from_vectorizer(vec)
    assert compiled.n_features == len(vec.vocabulary_)
    tol = dict(rtol=2e-6, atol=1e-7) if params.get("dtype") == np.float32 else {}
    assert_same(compiled.transform(ALL), vec.transform(ALL), **tol)
    # one at a time too (batch-local caches must not change anything)
    for doc in OTHER[:8]:
        assert_same(compiled.transform([doc]), vec.transform([doc]), **tol)


def test_frozenset_stop_words_set_after_fit():
    # sklearn only accepts a list when fitting, but transform honours any collection
    vec = fit(ngram_range=(1, 3))
    vec.stop_words = frozenset({"the", "aide", "police", "şüpheli"})
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(ALL), vec.transform(ALL))


def test_vocab_with_unusual_characters():
    # A vocabulary fitted on the edge-case strings must contain the edge-case n-grams,
    # so this checks they are found, not merely that both sides produce nothing.
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)).fit(ALL)
    vocab = vec.vocabulary_
    for gram in ("🚀", " 🙂 ", "\ud800", "i̇", "東京", "e\u0301"):
        assert any(gram in term for term in vocab), gram
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(ALL), vec.transform(ALL))
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(ALL)
    assert "\t" in vec.vocabulary_ and "\x1c" in vec.vocabulary_
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(ALL), vec.transform(ALL))
    vec = TfidfVectorizer(ngram_range=(1, 2)).fit(ALL)
    for token in ("²³", "١٢٣", "東京で爆発があり", "dock_7", "__init__", "stanbul"):
        assert token in vec.vocabulary_, token
    # U+0307 (combining dot of lowercased "İ") is not \w, so it splits the token
    assert "i̇stanbul" not in vec.vocabulary_
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(ALL), vec.transform(ALL))


def test_empty_and_tokenless_documents_give_empty_rows():
    vec = fit(ngram_range=(1, 2))
    docs = ["", "   ", "!!", "a", "\u00a0"]
    X = CompiledTfidf.from_vectorizer(vec).transform(docs)
    assert X.shape == (5, len(vec.vocabulary_)) and X.nnz == 0
    assert_same(X, vec.transform(docs))
    assert CompiledTfidf.from_vectorizer(vec).transform([]).shape == (0, X.shape[1])


def test_bytes_documents_are_decoded_like_sklearn():
    vec = fit(analyzer="char_wb", ngram_range=(2, 4))
    docs = [d.encode("utf-8") for d in CORPUS[:6]] + ["Straße".encode("utf-8")]
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(docs), vec.transform(docs))


def test_invalid_documents_raise():
    compiled = CompiledTfidf.from_vectorizer(fit())
    with pytest.raises(ValueError):
        compiled.transform("a single string")
    with pytest.raises(ValueError):
        compiled.transform(["ok", np.nan])


def test_word_char_classes_match_python():
    flags = fastvec._char_flags()
    n = sys.maxunicode + 1
    assert flags.shape == (n,)
    chars = [chr(i) for i in range(n)]
    word = np.fromiter((c.isalnum() or c == "_" for c in chars), bool, n)
    space = np.fromiter((c.isspace() for c in chars), bool, n)
    np.testing.assert_array_equal((flags & 1) != 0, word)
    np.testing.assert_array_equal((flags & 2) != 0, space)
    # str.split() splits on exactly the \s code points used by sklearn's re.sub
    every = "".join(chars)
    assert "".join(every.split()) == re.sub(r"\s+", "", every)


@pytest.mark.filterwarnings("ignore:.*(token_pattern|dtype).*:UserWarning")
def test_unsupported_settings_raise_value_error():
    cases = [
        dict(analyzer=lambda s: s.split()),
        dict(tokenizer=str.split),
        dict(preprocessor=str.upper),
        dict(token_pattern=r"\b\w+\b"),
        dict(strip_accents="unicode"),
        dict(strip_accents="ascii", analyzer="char"),
        dict(dtype=np.int64),
    ]
    for params in cases:
        vec = fit(**params)
        assert not is_supported(vec), params
        with pytest.raises(ValueError):
            CompiledTfidf.from_vectorizer(vec)
    with pytest.raises(ValueError, match="strip_accents"):
        CompiledTfidf.from_vectorizer(fit(strip_accents="unicode"))
    with pytest.raises(ValueError, match="token_pattern"):
        CompiledTfidf.from_vectorizer(fit(token_pattern=r"\w+"))
    with pytest.raises(ValueError, match="input"):
        CompiledTfidf.from_vectorizer(TfidfVectorizer(input="file").fit(
            [io.StringIO(d) for d in CORPUS]))
    with pytest.raises(ValueError, match="not fitted"):
        CompiledTfidf.from_vectorizer(TfidfVectorizer())
    with pytest.raises(ValueError, match="TfidfVectorizer"):
        CompiledTfidf.from_vectorizer(CountVectorizer().fit(CORPUS))
    assert is_supported(fit())


def test_building_does_not_mutate_the_vectorizer():
    vec = fit(ngram_range=(1, 2), stop_words=["the"])
    before = pickle.dumps(vec)
    CompiledTfidf.from_vectorizer(vec)
    assert pickle.dumps(vec) == before


def test_pickle_round_trip():
    word = CompiledTfidf.from_vectorizer(fit(ngram_range=(1, 2), sublinear_tf=True))
    char = CompiledTfidf.from_vectorizer(fit(analyzer="char_wb", ngram_range=(2, 5)))
    rng = np.random.default_rng(0)
    coef = rng.normal(size=(3, word.n_features + char.n_features))
    scorer = CompiledLinearScorer([word, char], coef, rng.normal(size=3))
    clone = pickle.loads(pickle.dumps(scorer))
    assert_same(clone.transform(ALL), scorer.transform(ALL))
    np.testing.assert_array_equal(clone.decision_function(ALL), scorer.decision_function(ALL))
    clone_word = pickle.loads(pickle.dumps(word))
    assert_same(clone_word.transform(ALL), word.transform(ALL))


def test_threads_give_identical_results(monkeypatch):
    monkeypatch.setattr(fastvec, "_MIN_CHARS_PER_THREAD", 1)
    docs = ALL * 3
    assert len(fastvec._blocks(np.cumsum([0] + [len(d) for d in docs]), 2)) == 2
    word = CompiledTfidf.from_vectorizer(fit(ngram_range=(1, 2)))
    char = CompiledTfidf.from_vectorizer(fit(analyzer="char_wb", ngram_range=(2, 5)))
    coef = np.random.default_rng(1).normal(size=(4, word.n_features + char.n_features))
    scorer = CompiledLinearScorer([word, char], coef, np.arange(4.0))
    X1, S1 = scorer.transform_and_score(docs, n_threads=1)
    X2, S2 = scorer.transform_and_score(docs, n_threads=2)
    assert_same(X2, X1, rtol=0, atol=0)
    np.testing.assert_array_equal(S1, S2)
    np.testing.assert_array_equal(scorer.decision_function(docs, n_threads=2),
                                  scorer.decision_function(docs, n_threads=1))
    assert_same(char.transform(docs, n_threads=2), char.transform(docs, n_threads=1),
                rtol=0, atol=0)


def test_linear_scorer_matches_sparse_algebra():
    vecs = [fit(ngram_range=(1, 2), sublinear_tf=True),
            fit(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
            fit(analyzer="char", ngram_range=(1, 3), norm="l1", dtype=np.float32)]
    tfidfs = [CompiledTfidf.from_vectorizer(v) for v in vecs]
    rng = np.random.default_rng(2)
    coef = rng.normal(size=(5, sum(t.n_features for t in tfidfs)))
    intercept = rng.normal(size=5)
    scorer = CompiledLinearScorer(tfidfs, coef, intercept)
    expected_X = sp.hstack([v.transform(ALL) for v in vecs]).tocsr()
    expected = expected_X @ coef.T + intercept
    X = scorer.transform(ALL)
    assert_same(X, expected_X, rtol=2e-6, atol=1e-7)
    S = scorer.decision_function(ALL)
    assert S.shape == (len(ALL), 5) and S.dtype == np.float64
    np.testing.assert_allclose(S, X @ coef.T + intercept, rtol=0, atol=1e-9)
    np.testing.assert_allclose(S, expected, rtol=0, atol=1e-5)  # float32 block
    X2, S2 = scorer.transform_and_score(ALL)
    assert_same(X2, X, rtol=0, atol=0)
    # summation order differs (sorted columns vs first occurrence): last-bit differences
    np.testing.assert_allclose(S2, S, rtol=0, atol=1e-12)
    with pytest.raises(ValueError):
        CompiledLinearScorer(tfidfs, coef[:, 1:], intercept)


def test_scorer_float64_scores_within_1e9():
    vecs = [fit(ngram_range=(1, 2), sublinear_tf=True),
            fit(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True)]
    tfidfs = [CompiledTfidf.from_vectorizer(v) for v in vecs]
    rng = np.random.default_rng(3)
    coef = rng.normal(scale=10, size=(2, sum(t.n_features for t in tfidfs)))
    X = sp.hstack([v.transform(ALL) for v in vecs]).tocsr()
    scorer = CompiledLinearScorer(tfidfs, coef, np.array([0.5, -2.0]))
    np.testing.assert_allclose(scorer.decision_function(ALL),
                               X @ coef.T + np.array([0.5, -2.0]), rtol=0, atol=1e-9)


def _random_docs(rng, n):
    special = list(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u3000"
                   "_-.,;'\"!?()0123456789²①Ⅻ") + [
        "\u0301", "\u0308", "\u200b", "\u200d", "İ", "ı", "ß", "Σ", "ς", "ǅ", "ﬁ", "🚀",
        "🙂", "\U0001F600", "\ud800", "\udfff", "東", "京", "ا", "ש"]
    letters = list("abcdeABCDE")
    docs = []
    for _ in range(n):
        length = int(rng.integers(0, 40))
        out = []
        for _ in range(length):
            r = rng.random()
            if r < 0.5:
                out.append(letters[rng.integers(len(letters))])
            elif r < 0.9:
                out.append(special[rng.integers(len(special))])
            else:
                out.append(chr(int(rng.integers(0, sys.maxunicode + 1))))
        docs.append("".join(out))
    return docs


@pytest.mark.parametrize("params", [
    dict(ngram_range=(1, 3)),
    dict(ngram_range=(1, 2), lowercase=False),
    dict(analyzer="char_wb", ngram_range=(1, 5)),
    dict(analyzer="char_wb", ngram_range=(3, 6), lowercase=False),
    dict(analyzer="char", ngram_range=(1, 4)),
])
def test_random_unicode_strings(params):
    rng = np.random.default_rng(42)
    train = _random_docs(rng, 300)
    test = _random_docs(rng, 300) + train[:50]
    vec = TfidfVectorizer(**params).fit(train)
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(test), vec.transform(test))


@pytest.mark.slow
def test_a_char_vocabulary_beyond_the_packed_id_bits_gives_the_reference_columns():
    # Packed character tables keep a feature's id in 22 bits: from 2**22 - 1 features on, ids
    # would wrap round onto other columns. 163**3 three-character n-grams (4.3 million) pass it.
    import itertools

    alphabet = [chr(0x4E00 + i) for i in range(163)]
    terms = ["".join(chars) for chars in itertools.product(alphabet, repeat=3)]
    assert len(terms) > fastvec.PACKED_MAX_FEATURES
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(3, 3))
    vectorizer.vocabulary_ = {term: i for i, term in enumerate(terms)}
    vectorizer.fixed_vocabulary_ = False
    vectorizer.idf_ = np.linspace(1, 2, len(terms))  # the rarest n-grams get the highest internal ids
    docs = [terms[-1], terms[fastvec.PACKED_MAX_FEATURES], terms[0] + terms[-2]]
    compiled = fastvec.CompiledTfidf.from_vectorizer(vectorizer)
    assert not compiled.packed
    expected = vectorizer.transform(docs)
    got = compiled.transform(docs)
    assert (expected != got).nnz == 0 and got.nnz == expected.nnz


def test_kernels_compile_without_a_cache_where_none_can_be_written(monkeypatch):
    # a read-only install with no writable home: numba refuses cache=True at decoration
    import numba

    from threatclf import fastvec

    real = numba.njit

    def no_cache_folder(*function, **options):  # numba's own modules call njit(function) too
        if function:
            return real(*function, **options)
        if options.get("cache"):
            def refuse(function):
                raise RuntimeError(f"cannot cache function {function.__name__!r}: no locator available for file")
            return refuse
        return real(**options)

    monkeypatch.setattr(numba, "njit", no_cache_folder)
    monkeypatch.setattr(fastvec, "_NO_CACHE_SAID", [])
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR") as said:
        add = fastvec.njit(cache=True, nogil=True)(lambda a, b: a + b)
        fastvec.njit(cache=True)(lambda a: a)
    assert len(said) == 1 and add(2, 3) == 5
    with pytest.raises(RuntimeError, match="something else"):  # other numba errors are not swallowed
        monkeypatch.setattr(numba, "njit", lambda **o: (_ for _ in ()).throw(RuntimeError("something else")))
        fastvec.njit(cache=True)(lambda a: a)


# More sentences written for these tests: short, so that a vocabulary is small and checked whole.
SHORT_DOCS = [
    "The harbour police seized powder at the dock on Tuesday.",
    "Officials said the aide took bribes; the aide denies it.",
    "Police said a parcel bomb was defused near the embassy.",
]


def test_a_fixed_vocabulary_with_unigrams_and_ngram_range_from_2_counts_no_unigrams():
    """A fixed vocabulary's unigrams are not counted when ngram_range starts at 2."""
    vocabulary = ["police", "aide", "the aide", "police seized", "aide took bribes", "said the"]
    vec = TfidfVectorizer(ngram_range=(2, 3), vocabulary=vocabulary).fit(SHORT_DOCS)
    expected = vec.transform(SHORT_DOCS)
    assert expected.nnz > 0
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(SHORT_DOCS), expected)


@pytest.mark.parametrize("repeats", [254, 255, 256, 257])
def test_sublinear_tf_at_the_end_of_the_log_table(repeats):
    """Sublinear tf at counts around 256, where a table of log(c) + 1 ends (a long article's "the")."""
    vec = TfidfVectorizer(sublinear_tf=True, norm=None).fit(["ab cd", "ab"])
    docs = ["ab " * repeats + "cd", "cd " * repeats]
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(docs), vec.transform(docs))


def test_nul_characters_are_distinct_from_nothing():
    """NUL is a character of its own in character n-grams ("\\x00b" is not "b")."""
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit(["a\x00b", "ab", "b\x00\x00"])
    assert "\x00" in vec.vocabulary_ and "\x00b" in vec.vocabulary_
    docs = ["a\x00b", "\x00b", "b", "\x00", "ab\x00\x00a"]
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(docs), vec.transform(docs))


def test_u_ffff_next_to_astral_characters():
    """U+FFFF is one character beside characters above U+FFFF, which take two UTF-16 units."""
    train = ["a\uffff\uffffb \U0001F680x", "\uffffz ab"]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 2)).fit(train)
    docs = ["\uffff\uffffab\U0001F680", "\uffff\U0001F680a", "xb \uffffz", "\U0001F680 ab\uffff"]
    expected = vec.transform(docs)
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(docs), expected)


@pytest.mark.parametrize("params", [dict(encoding="latin-1"), dict(decode_error="ignore"),
                                    dict(decode_error="replace"), dict(encoding="cp1252", decode_error="replace")])
def test_bytes_documents_use_the_vectorizers_encoding_and_decode_error(params):
    """Bytes documents are decoded with the vectorizer's encoding and decode_error."""
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), **params).fit(
        ["café olé naïve", "caf ol na\ufffdve", "le café"])
    docs = [b"caf\xe9 ol\xe9", b"na\xefve caf\xe9", "café".encode("utf-8"), b"plain"]
    assert_same(CompiledTfidf.from_vectorizer(vec).transform(docs), vec.transform(docs))


def test_scorer_over_vectorizers_that_lowercase_differently():
    """Each vectorizer of a scorer reads the texts with its own lowercase setting."""
    vecs = [TfidfVectorizer(ngram_range=(1, 2)).fit(SHORT_DOCS),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), lowercase=False).fit(SHORT_DOCS)]
    tfidfs = [CompiledTfidf.from_vectorizer(v) for v in vecs]
    coef = np.random.default_rng(0).normal(size=(2, sum(t.n_features for t in tfidfs)))
    scorer = CompiledLinearScorer(tfidfs, coef, [0.5, -1.0])
    docs = ["POLICE Said The Aide", "police said the aide", "The dock"]
    expected = sp.hstack([v.transform(docs) for v in vecs]).tocsr()
    X, S = scorer.transform_and_score(docs)
    assert_same(X, expected)
    np.testing.assert_allclose(S, expected @ coef.T + [0.5, -1.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(scorer.decision_function(docs), S, rtol=0, atol=1e-12)


def test_scorer_accepts_one_dimensional_and_sparse_coef():
    """A one-label scorer takes a 1-d coef, and a sparse coef works as a dense one."""
    vec = TfidfVectorizer(ngram_range=(1, 2)).fit(SHORT_DOCS)
    tfidf = CompiledTfidf.from_vectorizer(vec)
    coef = np.random.default_rng(1).normal(size=tfidf.n_features)
    X = vec.transform(SHORT_DOCS)
    expected = (X @ coef + 0.25)[:, None]
    one_d = CompiledLinearScorer([tfidf], coef, 0.25)
    assert one_d.n_labels == 1
    np.testing.assert_allclose(one_d.decision_function(SHORT_DOCS), expected, rtol=0, atol=1e-12)
    sparse = CompiledLinearScorer([tfidf], sp.csr_matrix(coef[None, :]), [0.25])
    np.testing.assert_allclose(sparse.decision_function(SHORT_DOCS), expected, rtol=0, atol=1e-12)


def test_ngram_range_from_zero_is_refused_or_exact():
    """ngram_range (0, n), where scikit-learn counts '' as a 0-gram, is exact or refused."""
    vec = TfidfVectorizer(ngram_range=(0, 2)).fit(SHORT_DOCS)  # scikit-learn counts '' as a 0-gram
    if is_supported(vec):
        assert_same(CompiledTfidf.from_vectorizer(vec).transform(SHORT_DOCS), vec.transform(SHORT_DOCS))
    else:
        with pytest.raises(ValueError):
            CompiledTfidf.from_vectorizer(vec)


def test_is_supported_is_false_when_idf_does_not_match_the_vocabulary():
    """is_supported is False for a vectorizer from_vectorizer refuses (idf_ of the wrong length)."""
    vec = TfidfVectorizer().fit(SHORT_DOCS)
    vec._tfidf.idf_ = vec._tfidf.idf_[:-1]
    assert not is_supported(vec)
    with pytest.raises(ValueError):
        CompiledTfidf.from_vectorizer(vec)


class _ShoutingTfidf(TfidfVectorizer):
    def transform(self, raw_documents):
        return super().transform([d.upper() for d in raw_documents])


def test_a_subclass_that_overrides_transform_is_refused():
    """A subclass whose transform differs is not replaced by the compiled one."""
    vec = _ShoutingTfidf(lowercase=False).fit([d.upper() for d in SHORT_DOCS])
    assert not is_supported(vec)
    with pytest.raises(ValueError, match="transform"):
        CompiledTfidf.from_vectorizer(vec)


def _within(seconds, fn):
    """fn() run in a daemon thread; its result, or a test failure if it has not returned in time
    (a lookup in a full hash table never returns, and the compiled kernels release the GIL)."""
    result = []
    worker = threading.Thread(target=lambda: result.append(fn()), daemon=True)
    worker.start()
    worker.join(timeout=seconds)
    assert result, f"did not finish in {seconds} s"
    return result[0]


@pytest.mark.parametrize("n_tokens", [16, 32, 64])
def test_lookups_of_unknown_tokens_end_for_vocabularies_of_power_of_two_sizes(n_tokens):
    """Lookups end for vocabularies of 2**k tokens (a full hash table would loop for ever)."""
    vocabulary = [f"tok{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(n_tokens)]
    vec = TfidfVectorizer(vocabulary=vocabulary).fit(vocabulary)
    docs = ["unknown words " + vocabulary[3], "zzz yyy"]
    compiled = CompiledTfidf.from_vectorizer(vec)
    assert_same(_within(120, lambda: compiled.transform(docs)), vec.transform(docs))


@pytest.mark.parametrize("params", [dict(analyzer="char", ngram_range=(5, 5)),
                                    dict(analyzer="char_wb", ngram_range=(5, 5)),
                                    dict(analyzer="char_wb", ngram_range=(3, 5))])
def test_a_vocabulary_of_five_character_ngrams(params):
    """Vocabularies made mostly of 5-character n-grams build and score."""
    vec = TfidfVectorizer(**params).fit(SHORT_DOCS)
    assert sum(len(term) == 5 for term in vec.vocabulary_) > 16
    compiled = _within(120, lambda: CompiledTfidf.from_vectorizer(vec))
    assert_same(_within(120, lambda: compiled.transform(SHORT_DOCS)), vec.transform(SHORT_DOCS))


def _many_distinct_words(n_docs=400, per_doc=60):
    # 24,000 distinct made-up four-letter words: more than the first word cache (2,048 words),
    # its code point pool (65,536) and feature id lists (262,144), and more output entries
    # than the first output buffers hold, so every buffer of a call grows at least once
    import itertools

    words = ["".join(w) for w in itertools.islice(itertools.product("abcdefghijklmnopqrst", repeat=4), 0, None, 6)]
    words = words[: n_docs * per_doc]
    return [" ".join(words[i * per_doc:(i + 1) * per_doc]) for i in range(n_docs)]


@pytest.mark.parametrize("params", [dict(analyzer="char_wb", ngram_range=(2, 4)),
                                    dict(analyzer="char", ngram_range=(3, 4)),
                                    dict(ngram_range=(1, 2))])
def test_batches_that_outgrow_every_buffer(params):
    """Batches that outgrow the word cache, its pools and the output buffers: what grows keeps
    what it held (each word's features; the whole of a buffer)."""
    docs = _many_distinct_words()
    vec = TfidfVectorizer(**params).fit(docs)
    compiled = CompiledTfidf.from_vectorizer(vec)
    test = docs + docs  # words met again after the cache has grown; output past the first buffer
    assert_same(compiled.transform(test), vec.transform(test))

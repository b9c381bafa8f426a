"""The text features: which TF-IDF vectorizers a model uses, and their compact stored form.

A fitted ``TfidfVectorizer`` keeps its vocabulary as a dict of up to a few hundred thousand
strings, which skops stores node by node (tens of MB, seconds to load). Models therefore
store each vectorizer as its settings plus three arrays, and rebuild the very same
scikit-learn object on load.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

#: Invisible characters that never part a word, dropped before it is read: the soft hyphen
#: (U+00AD, a break allowed where a site's typesetting put one: "ter\u00adrorism") and the
#: word joiner (U+2060). The word tokens' \w matches neither, so each would cut its word in two.
#: A ``str.translate`` table.
WORD_INTERNAL = {0x00AD: None, 0x2060: None}

__all__ = ["FEATURE_SETS", "build_vectorizers", "is_presence", "pack_vectorizer", "unpack_vectorizer",
           "feature_names"]

FEATURE_SETS = ("word", "char", "word+char")

# Settings kept in a stored vectorizer: everything that changes what ``transform`` returns.
_STORED_PARAMS = (
    "analyzer", "lowercase", "token_pattern", "ngram_range", "min_df", "max_df", "max_features",
    "norm", "use_idf", "smooth_idf", "sublinear_tf", "binary", "strip_accents",
)


def build_vectorizers(
    features: str,
    *,
    word_ngram_range: tuple[int, int],
    char_ngram_range: tuple[int, int],
    min_df: int | float,
    max_df: float,
    max_features: int | None,
    sublinear_tf: bool,
    presence_ngram_range: tuple[int, int] | None = None,
) -> list[TfidfVectorizer]:
    """Unfitted vectorizers for a feature set name (``word``, ``char`` or ``word+char``), and
    last, with ``presence_ngram_range``, the presence block: word n-grams as 1 (present) or 0,
    neither weighted by IDF nor normalised by length (see :func:`is_presence`)."""
    if features not in FEATURE_SETS:
        raise ValueError(f"features must be one of {FEATURE_SETS}, got {features!r}")
    common = dict(min_df=min_df, max_df=max_df, max_features=max_features, sublinear_tf=sublinear_tf,
                  dtype=np.float64)
    vectorizers = []
    if "word" in features:
        vectorizers.append(TfidfVectorizer(analyzer="word", ngram_range=tuple(word_ngram_range), **common))
    if "char" in features:
        vectorizers.append(TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(char_ngram_range), **common))
    if presence_ngram_range is not None:
        vectorizers.append(TfidfVectorizer(
            analyzer="word", ngram_range=tuple(presence_ngram_range), binary=True, use_idf=False, norm=None,
            min_df=min_df, max_df=max_df, max_features=max_features, dtype=np.float64))
    return vectorizers


def is_presence(vectorizer: TfidfVectorizer) -> bool:
    """Whether a vectorizer is a presence block (binary word n-grams, no IDF, no norm)."""
    return (vectorizer.analyzer == "word" and vectorizer.binary and not vectorizer.use_idf
            and vectorizer.norm is None)


def pack_vectorizer(vectorizer: TfidfVectorizer) -> dict:
    """A fitted vectorizer as plain settings and numpy arrays (no pickle, no dict of terms)."""
    params = vectorizer.get_params()
    # plain Python numbers: settings built with numpy (np.int64(2), from a parameter grid) would
    # need numpy scalar types trusted to load, and are refused by the stored-settings check
    stored = {name: plain(params[name]) for name in _STORED_PARAMS}
    stored["ngram_range"] = list(stored["ngram_range"])
    terms = np.empty(len(vectorizer.vocabulary_), dtype=object)
    for term, column in vectorizer.vocabulary_.items():
        terms[column] = term
    joined = "".join(terms.tolist())
    lengths = np.fromiter((len(t) for t in terms), dtype=np.int64, count=len(terms))
    return {
        "params": stored,
        "dtype": np.dtype(vectorizer.dtype).name,
        # UTF-32 code points keep any character, including separators, exactly.
        # surrogatepass: a lone surrogate in a training text (Python strings may hold one) is kept too
        "terms_codepoints": np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy(),
        "terms_offsets": np.concatenate([[0], np.cumsum(lengths)]),
        "idf": np.asarray(vectorizer.idf_, dtype=np.float64) if vectorizer.use_idf else None,
    }


def plain(value):
    """``value`` with numpy scalars made Python numbers, inside lists, tuples and dicts too, and
    arrays (or a pandas Index, e.g. ``label_names=df.columns``) made lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) or (type(value).__module__.startswith("pandas") and hasattr(value, "tolist")):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    return value


_DEFAULT_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def _check_stored_params(params: dict) -> dict:
    """Accept only the settings threatclf itself writes: a model file must not be able to
    make a vectorizer read files (``input="filename"``), call code or run a crafted regex."""
    from .exceptions import ModelFormatError

    def bad(name):
        raise ModelFormatError(f"stored vectorizer setting {name}={params.get(name)!r} is not one threatclf writes")

    if not isinstance(params, dict) or set(params) != set(_STORED_PARAMS):
        raise ModelFormatError(f"stored vectorizer settings must be exactly {sorted(_STORED_PARAMS)}")
    if params["analyzer"] not in ("word", "char", "char_wb"):
        bad("analyzer")
    if params["token_pattern"] != _DEFAULT_TOKEN_PATTERN:
        bad("token_pattern")
    if params["strip_accents"] is not None:
        bad("strip_accents")
    if params["norm"] not in ("l1", "l2", None):
        bad("norm")
    for name in ("lowercase", "use_idf", "smooth_idf", "sublinear_tf", "binary"):
        if not isinstance(params[name], bool):
            bad(name)
    ngram = params["ngram_range"]
    if not (isinstance(ngram, (list, tuple)) and len(ngram) == 2 and all(type(n) is int for n in ngram)
            and 1 <= ngram[0] <= ngram[1] <= 20):
        bad("ngram_range")
    for name in ("min_df", "max_df"):
        if isinstance(params[name], bool) or not isinstance(params[name], (int, float)):
            bad(name)
    if params["max_features"] is not None and type(params["max_features"]) is not int:
        bad("max_features")
    return {**params, "ngram_range": tuple(ngram)}


def unpack_vectorizer(packed: dict) -> TfidfVectorizer:
    """Rebuild the fitted ``TfidfVectorizer`` that :func:`pack_vectorizer` stored."""
    from .exceptions import ModelFormatError

    if not isinstance(packed, dict) or packed.get("dtype") not in ("float64", "float32"):
        raise ModelFormatError("a stored vectorizer must be a dict with dtype float64 or float32")
    params = _check_stored_params(packed["params"])
    vectorizer = TfidfVectorizer(dtype=np.dtype(packed["dtype"]).type, **params)
    idf = packed["idf"]
    if idf is not None and np.shape(idf) != (len(packed["terms_offsets"]) - 1,):  # before the terms are built
        raise ModelFormatError("a stored vectorizer's IDF weights are not one per term")
    joined = np.asarray(packed["terms_codepoints"], dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    offsets = np.asarray(packed["terms_offsets"], dtype=np.int64)
    # checked before slicing: offsets that go back and forth would copy the run of terms again
    # and again (a 200 KB file asking for 100 GB)
    if (offsets.ndim != 1 or not len(offsets) or offsets[0] != 0 or offsets[-1] != len(joined)
            or (np.diff(offsets) <= 0).any()):
        raise ModelFormatError("a stored vectorizer's term offsets must rise from 0 to the length of its terms")
    terms = [joined[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    vectorizer.vocabulary_ = dict(zip(terms, range(len(terms))))
    if len(vectorizer.vocabulary_) != len(terms):  # a repeated term would leave a column no term maps to
        raise ModelFormatError("a stored vectorizer's terms must be distinct")
    vectorizer.fixed_vocabulary_ = False
    if (idf is None) == params["use_idf"]:
        raise ModelFormatError("a stored vectorizer has IDF weights exactly when it uses them")
    if idf is not None:
        vectorizer.idf_ = np.asarray(idf, dtype=np.float64)
    else:  # setting idf_ is what builds the fitted transformer; without IDF, fit one on an empty row
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import TfidfTransformer

        vectorizer._tfidf = TfidfTransformer(norm=params["norm"], use_idf=False, smooth_idf=params["smooth_idf"],
                                             sublinear_tf=params["sublinear_tf"]).fit(sp.csr_matrix((1, len(terms))))
    return vectorizer


def feature_names(vectorizers: Sequence[TfidfVectorizer]) -> np.ndarray:
    """Names of the stacked feature columns, prefixed by block (``word:`` / ``char:`` /
    ``present:``)."""
    parts = []
    for vectorizer in vectorizers:
        prefix = "present:" if is_presence(vectorizer) else "word:" if vectorizer.analyzer == "word" else "char:"
        names = vectorizer.get_feature_names_out()
        parts.append(np.char.add(prefix, names.astype(str)).astype(object))
    return np.concatenate(parts) if parts else np.empty(0, dtype=object)

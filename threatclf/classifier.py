"""``ThreatClassifier``: TF-IDF features, one linear model per label, calibrated thresholds.

How a text becomes labels::

    text ──TF-IDF (word and/or char n-grams)──▶ x ──x·wₗ + bₗ──▶ score
         ──sigmoid(aₗ·score + cₗ)──▶ probability ──≥ thresholdₗ──▶ label l

Every model option (logistic regression, NB-weighted logistic regression, linear SVM, SGD)
ends as one weight vector per label, so prediction is one sparse matrix product whatever was
trained. Calibration (a, c) and thresholds are learned on out-of-fold scores of the training
data, never on the data they are later judged on.
"""
from __future__ import annotations

import hashlib
import json
import logging
import unicodedata
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator
from sklearn.feature_selection import chi2
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from .exceptions import DataError
from .features import (FEATURE_SETS, WORD_INTERNAL, build_vectorizers, feature_names, pack_vectorizer, plain,
                       unpack_vectorizer)
from .folds import TEXT_HASHES, _white_space_hashes, check_groups, cv_folds, text_hashes
from .labels import (indicator_from_frame, indistinct_labels, infer_labels, label_name_problem, misspelt_label,
                     misspelt_label_warning, name_numbered_columns, to_indicator, unnamed_label_problem)
from .thresholds import NEVER, beats_chance, f1_optimal_threshold, half_best_f1_threshold, threshold_rule

__all__ = ["ThreatClassifier", "MODELS"]

logger = logging.getLogger("threatclf")

MODELS = ("logreg", "nblogreg", "logreg+nblogreg", "svm", "sgd")
#: Largest sample or class weight: far larger ones leave liblinear's solver running for ever.
MAX_WEIGHT = 1e6
#: What fit learns and a stored model holds, beside the settings (``get_params``): a stored
#: state with any other attribute is refused on load — it could replace a method.
FITTED_ATTRIBUTES = frozenset({"labels_", "thresholds_", "calibration_", "vectorizers_", "coef_", "intercept_",
                               "training_fingerprint_", "training_text_hashes_",
                               "_fitted_params"})  # the settings at fit time, as JSON text
#: Settings that only say how to compute (processes, the scoring path), not what the model is:
#: changing them after fitting changes no result.
COMPUTE_SETTINGS = ("n_jobs", "engine")


def comparable_settings(params: dict) -> dict:
    """Settings as JSON values, a copy: ``(1, 2)`` and ``[1, 2]``, ``10`` and ``10.0`` compare
    equal, and a setting changed in place later (``m.threshold["x"] = 0.9``) does not change it."""
    # an object (a RandomState) by its type: its repr holds a memory address, which a copy changes
    return json.loads(json.dumps(plain(params), default=lambda value: f"<{type(value).__name__}>"))


#: Below this many positive examples a label's learned threshold and figures are noise (fit warns).
TOO_FEW_POSITIVES = 10
#: How ``threshold="..."`` learns a cut-off from out-of-fold probabilities.
_THRESHOLD_RULES = {"f1": f1_optimal_threshold, "half-best-f1": half_best_f1_threshold}


def check_texts(texts: object, what: str = "texts") -> list[str]:
    if isinstance(texts, str):
        raise DataError(f"{what} must be a sequence of strings, not a single string")
    if isinstance(texts, (bytes, bytearray, memoryview)):  # iterating bytes gives ints
        raise DataError(f"{what} must be a sequence of strings, not a single {type(texts).__name__} object; "
                        "decode it first (data.decode('utf-8')) and pass a list")
    if texts is None:
        raise DataError(f"{what} must be a sequence of strings, got None")
    if isinstance(texts, np.ndarray) and texts.ndim != 1:  # what ColumnTransformer passes for ["text"]
        raise DataError(f"{what} must be one-dimensional (one string per text), got an array of shape {texts.shape}"
                        + ("; pass X.ravel()" if texts.ndim == 2 and texts.shape[1] == 1 else ""))
    if isinstance(texts, pd.DataFrame):
        raise DataError(f"{what} must be a sequence of strings, not a DataFrame; pass df['text']")
    if isinstance(texts, (Mapping, set, frozenset)):  # a dict would give its keys; a set, no order
        kind = "mapping" if isinstance(texts, Mapping) else "set"
        raise DataError(f"{what} must be a sequence of strings, not a {kind} ({type(texts).__name__})"
                        + ("; pass list(d.values())" if isinstance(texts, Mapping) else ""))
    values = list(texts) if not isinstance(texts, list) else texts
    for row, value in enumerate(values):
        if not isinstance(value, str):
            missing = value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))
            # a Series is named by its index label, which is how its user finds the row
            label = texts.index[row] if isinstance(texts, pd.Series) else row
            label = label.item() if isinstance(label, np.generic) else label
            where = f"{what}.loc[{label!r}]" if isinstance(texts, pd.Series) else f"{what}[{row}]"
            raise DataError(f"{where} is " + ("missing (None/NaN); drop such rows first" if missing
                                              else f"{type(value).__name__}, expected str"))
    return values


def check_paired(texts: object, **paired: object) -> None:
    """Refuse pandas objects that would pair with ``texts`` otherwise than by position.

    threatclf pairs a text with its labels (weights, groups) by position, as scikit-learn
    does; pandas users expect the index to pair them. A Series of texts sorted or filtered
    apart from its labels would train or score on the wrong labels, silently.
    """
    if not isinstance(texts, pd.Series):
        return
    for name, other in paired.items():
        if isinstance(other, (pd.Series, pd.DataFrame)) and not texts.index.equals(other.index):
            raise DataError(f"the texts and {name} are pandas objects with different indexes, and threatclf pairs "
                            "them by position, not by index. Take both from one DataFrame after sorting or "
                            f"filtering it; if {name} were made in the texts' order (a list, MultiLabelBinarizer), "
                            "pass texts.reset_index(drop=True)")


def composed(texts: list[str]) -> list[str]:
    """``texts`` in the form the model's words were learned in: composed Unicode (NFC), without
    the invisible characters that never part a word (soft hyphen, word joiner).

    Decomposed text (NFD: an accent as a separate combining mark, as macOS and some sites
    write it) would otherwise part its words at every accent: the word tokens' ``\\w`` does not
    match a combining mark, so "narcotráfico" would be read as "narcotra" and "fico"; so
    would a soft hyphen, "terrorism" read as "ter" and "rorism". White space is kept, so the
    words of a text and of its composed form pair up one to one (unless one is soft hyphens alone)."""
    if all(unicodedata.is_normalized("NFC", text) and "\u00ad" not in text and "\u2060" not in text
           for text in texts):
        return texts
    return [unicodedata.normalize("NFC", text.translate(WORD_INTERNAL)) for text in texts]


def _per_label(value, labels: Sequence[str], name: str) -> list:
    """Expand a scalar or a {label: value} mapping into one value per label."""
    if isinstance(value, Mapping):
        unknown = set(value) - set(labels) - {"*"}
        if unknown:
            raise ValueError(f"{name} names unknown labels: {sorted(unknown)}")
        missing = [lab for lab in labels if lab not in value and "*" not in value]
        if missing:
            raise ValueError(f"{name} has no value for labels {missing} (add them or a '*' default)")
        return [value[lab] if lab in value else value["*"] for lab in labels]
    return [value] * len(labels)


def _is_per_label(value) -> bool:
    """A class_weight given per label ({label: weight}) rather than per class ({0: w, 1: w})."""
    return isinstance(value, Mapping) and bool(value) and all(isinstance(k, str) for k in value)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # stable for large |z|


class ThreatClassifier(BaseEstimator):
    """Multi-label text classifier: TF-IDF features and one linear model per label.

    Parameters
    ----------
    features : {"word+char", "word", "char"}
        Word n-grams, character n-grams within word boundaries, or both side by side.
    word_ngram_range, char_ngram_range : tuple of int
        N-gram sizes of the word and character vectorizers.
    min_df, max_df, max_features, sublinear_tf
        Passed to each ``TfidfVectorizer``.
    features_per_label : int, optional
        Feature selection: each label's model is fitted on the ``k`` features with the highest
        chi-squared score for that label (computed on the training rows of each fit, so
        out-of-fold scores stay honest); the other weights are zero. ``None`` uses them all.
        (The presence model, below, uses all of its features.)
    presence_ngram_range : tuple of int, optional
        Add a presence block: word n-grams of these sizes counted as present or absent,
        without IDF or length normalisation, with a model of its own per label (NB-LR, as in
        Wang & Manning's NBSVM) whose scores are added to those of the TF-IDF model, times
        ``presence_weight``. Where TF-IDF's length normalisation dilutes one telling phrase in
        a long passage, presence counts it whole; the sum is still one linear model.
    presence_C : float
        Inverse regularisation strength of the presence model.
    presence_weight : float
        Weight of the presence model's scores in the sum.
    model : {"logreg", "nblogreg", "logreg+nblogreg", "svm", "sgd"}
        Logistic regression; logistic regression on naive-Bayes-weighted features (NB-LR);
        the average of both (still one linear model); linear SVM; or SGD with the modified
        Huber loss.
    C : float or dict
        Inverse regularisation strength, one for all labels or ``{label: C}`` (``"*"`` sets a
        default).
    class_weight : "balanced", None or dict
        Class weights of each binary model: ``"balanced"``, ``None`` or ``{0: w0, 1: w1}``; or
        ``{label: one of those}`` per label (``"*"`` sets a default).
    cv : int
        Folds used for out-of-fold scores, from which calibration and thresholds are learned.
    threshold : "auto", "f1", "half-best-f1", float or dict
        ``"f1"`` learns the F1-optimal threshold per label on out-of-fold probabilities;
        ``"half-best-f1"`` sets it at half the best out-of-fold F1, which is F1-optimal for
        calibrated probabilities and much steadier (needs ``calibrate=True``; the default
        model's recipe uses it); ``"auto"`` (the default since 0.16) is ``"half-best-f1"`` when
        calibrating and ``"f1"`` otherwise; a number (or ``{label: number}``, ``"*"`` setting a
        default) fixes it.
    calibrate : bool
        Fit a sigmoid on out-of-fold scores so that probabilities mean what they say.
    label_names : list of str, optional
        Label names and their order; by default the names found in label lists ``y`` (taxonomy
        first, then sorted) or the columns of an indicator DataFrame ``y`` (in their order).
        After fitting, ``labels_`` (and the read-only ``labels``) hold the names used.
    engine : {"auto", "reference"}
        ``"auto"`` scores with the compiled fast path when it supports the vectorizers
        (identical results); ``"reference"`` always uses scikit-learn's ``transform``.
    n_jobs : int, optional
        Threads for training (labels in parallel; ``model="svm"`` fits them one at a time, as
        liblinear's random generator is shared by the whole process) and for the fast scoring path.
    random_state : int, RandomState or None
        Seed of the cross-validation split and of stochastic models; ``None`` draws a new split
        each fit (the model still saves, but a refit will not reproduce it). A ``RandomState``
        instance fits too, but a model folder stores settings as JSON: such a model cannot be saved.

    After fitting, ``coef_`` and ``intercept_`` are read-only arrays: assign new ones
    (``clf.coef_ = edited``, which makes ``edited`` read-only too) to change the model, so that
    the compiled scoring path, built from them on first use, is rebuilt — an edit in place would
    leave it scoring with the old weights.
    """

    def __init__(
        self,
        *,
        features: str = "word+char",
        word_ngram_range: tuple[int, int] = (1, 2),
        char_ngram_range: tuple[int, int] = (2, 5),
        min_df: int | float = 2,
        max_df: float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = True,
        features_per_label: int | None = None,
        presence_ngram_range: tuple[int, int] | None = None,
        presence_C: float = 1.0,
        presence_weight: float = 1.0,
        model: str = "logreg",
        C: float | Mapping[str, float] = 10.0,
        class_weight: str | None | Mapping = "balanced",
        cv: int = 5,
        threshold: str | float | Mapping[str, float] = "auto",
        calibrate: bool = True,
        label_names: Sequence[str] | None = None,
        engine: str = "auto",
        n_jobs: int | None = None,
        random_state: int | None = 0,
    ):
        self.features = features
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.features_per_label = features_per_label
        self.presence_ngram_range = presence_ngram_range
        self.presence_C = presence_C
        self.presence_weight = presence_weight
        self.model = model
        self.C = C
        self.class_weight = class_weight
        self.cv = cv
        self.threshold = threshold
        self.calibrate = calibrate
        self.label_names = label_names
        self.engine = engine
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def check_params(self) -> None:
        """Raise ValueError for a setting ``fit`` would refuse, without reading any data.

        (Not ``_validate_params``: that name is scikit-learn's own ``BaseEstimator`` method.)"""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.engine not in ("auto", "reference"):
            raise ValueError(f"engine must be 'auto' or 'reference', got {self.engine!r}")
        k = self.features_per_label
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise ValueError(f"features_per_label must be a positive int or None, got {k!r}")
        for value in (self.C.values() if isinstance(self.C, Mapping) else [self.C]):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 < value <= 1e9:
                raise ValueError(f"C must be a number above 0 and at most 1e9, got {value!r}")
        presence = self.presence_ngram_range
        if presence is not None and not (
                isinstance(presence, (tuple, list)) and len(presence) == 2
                and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in presence)
                and 1 <= presence[0] <= presence[1] <= 20):
            raise ValueError(f"presence_ngram_range must be None or (min_n, max_n) with 1 <= min_n <= max_n <= 20, "
                             f"got {presence!r}")
        for name, least in (("presence_C", 0.0), ("presence_weight", 0.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not least <= value <= 1e9 \
                    or (name == "presence_C" and value == 0):
                raise ValueError(f"{name} must be a number {'above' if name == 'presence_C' else 'at least'} 0 "
                                 f"and at most 1e9, got {value!r}")
        if not isinstance(self.calibrate, (bool, np.bool_)):  # "false" is a true value
            raise ValueError(f"calibrate must be True or False, got {self.calibrate!r}")
        for name in ("word_ngram_range", "char_ngram_range"):
            value = getattr(self, name)
            if not (isinstance(value, (tuple, list)) and len(value) == 2
                    and all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in value)
                    and 1 <= value[0] <= value[1] <= 20):
                raise ValueError(f"{name} must be (min_n, max_n) with 1 <= min_n <= max_n <= 20, got {value!r}")
        if self.features not in FEATURE_SETS:
            raise ValueError(f"features must be one of {FEATURE_SETS}, got {self.features!r}")
        if isinstance(self.min_df, bool) or not isinstance(self.min_df, (int, np.integer, float)) or not (
                self.min_df >= 1 if isinstance(self.min_df, (int, np.integer)) else 0 <= self.min_df <= 1):
            raise ValueError(f"min_df must be a count >= 1 or a share between 0 and 1, got {self.min_df!r}")
        if self.n_jobs is not None and (isinstance(self.n_jobs, bool) or not isinstance(self.n_jobs, (int, np.integer))
                                        or self.n_jobs == 0):
            raise ValueError(f"n_jobs must be None, -1 (all cores) or a number of threads >= 1, got {self.n_jobs!r}")
        if self.label_names is not None:
            if isinstance(self.label_names, str) or not all(isinstance(n, str) for n in self.label_names):
                raise ValueError(f"label_names must be a list of strings, got {self.label_names!r}")
            repeated = sorted(n for n, count in Counter(self.label_names).items() if count > 1)
            if repeated:
                raise ValueError(f"label_names names {repeated} more than once")
        per_label = self.class_weight if _is_per_label(self.class_weight) else {"*": self.class_weight}
        for value in per_label.values():
            per_class = value.values() if isinstance(value, Mapping) else ()
            if not (value is None or (isinstance(value, str) and value == "balanced") or (
                    isinstance(value, Mapping) and set(value) <= {0, 1} and all(
                        isinstance(w, (int, float, np.number)) and not isinstance(w, bool) and 0 <= w <= MAX_WEIGHT
                        for w in per_class))):
                raise ValueError("class_weight values must be 'balanced', None, or {0: w0, 1: w1} with weights "
                                 f"between 0 and {MAX_WEIGHT:g} (one for all labels, or per label: "
                                 f"{{label: ..., '*': ...}}), got {value!r}")
        if isinstance(self.max_df, bool) or not isinstance(self.max_df, (int, np.integer, float)) or not (
                self.max_df >= 1 if isinstance(self.max_df, (int, np.integer)) else 0 < self.max_df <= 1):
            raise ValueError(f"max_df must be a count >= 1 or a share above 0 and at most 1, got {self.max_df!r}")
        if type(self.min_df) is type(self.max_df) and self.min_df > self.max_df:  # both counts, or both shares
            raise ValueError(f"min_df ({self.min_df!r}) is above max_df ({self.max_df!r}): no term could be kept")
        m = self.max_features
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 1):
            raise ValueError(f"max_features must be a positive int or None, got {m!r}")
        if not isinstance(self.sublinear_tf, (bool, np.bool_)):
            raise ValueError(f"sublinear_tf must be True or False, got {self.sublinear_tf!r}")
        seed = self.random_state
        if seed is not None and not isinstance(seed, np.random.RandomState) and (
                isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**32):
            raise ValueError(f"random_state must be None or an int from 0 to 2**32 - 1, got {seed!r}")
        needs_cv = self.calibrate or (isinstance(self.threshold, str))
        if isinstance(self.threshold, str) and self.threshold not in {"auto", *_THRESHOLD_RULES}:
            raise ValueError(f"threshold must be 'auto', 'f1', 'half-best-f1', a number or a dict, "
                             f"got {self.threshold!r}")
        if not isinstance(self.threshold, str):
            fixed = self.threshold.items() if isinstance(self.threshold, Mapping) else [("", self.threshold)]
            for label, value in fixed:  # True would be taken for 1 (nothing labelled), "0.5" fails mid-fit
                if not isinstance(label, str) or isinstance(value, bool) or not isinstance(
                        value, (int, float, np.number)) or not 0 <= value <= 1:
                    raise ValueError("threshold must be 'auto', 'f1', 'half-best-f1', a number between 0 and 1, or "
                                     f"{{label: number, '*': number}}, got {self.threshold!r}")
        if isinstance(self.threshold, str) and self.threshold == "half-best-f1" and not self.calibrate:
            raise ValueError("threshold='half-best-f1' reads the cut-off off calibrated probabilities: "
                             "it needs calibrate=True")
        if needs_cv and (isinstance(self.cv, bool) or not isinstance(self.cv, (int, np.integer)) or self.cv < 2):
            raise ValueError(f"cv must be an int >= 2 to calibrate or learn thresholds, got {self.cv!r}")

    def _resolve_targets(self, y) -> tuple[list[str], np.ndarray]:
        """Label names and a 0/1 matrix from label lists or an indicator DataFrame."""
        if isinstance(y, pd.DataFrame):
            labels = [str(n) for n in self.label_names] if self.label_names is not None else [str(c) for c in y.columns]
            y = name_numbered_columns(y, labels, self.label_names is not None,
                                      "pass label_names=[...] with one name per column, in the columns' order")
            return labels, indicator_from_frame(y, labels)
        if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype.kind in "US" and np.isin(y, ["0", "1"]).all():
            raise DataError("y is a 0/1 matrix written as text ('0', '1'): make it numbers, y.astype(int)")
        if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype.kind in "US":  # np.array([["terrorism"], ...])
            raise DataError(f"y is a 2-D array of strings ({str(y.flat[0])!r}, ...): a matrix y holds 0/1, one column per "
                            "label; label names go in one list per text, [['terrorism'], []] (a list of lists, "
                            "or an array of dtype object, without empty strings)")
        if isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object:
            if self.label_names is None:
                raise DataError("a 0/1 matrix y needs label_names=[...] to name its columns")
            if y.shape[1] != len(self.label_names):
                raise DataError(f"y has {y.shape[1]} columns but label_names names {len(self.label_names)}: a 0/1 "
                                "matrix y needs one column per label name")
            bad = np.argwhere(~np.isin(y, (0, 1)))
            if len(bad):
                raise DataError(f"y must hold only 0/1: row {bad[0][0]}, column {bad[0][1]} "
                                f"({self.label_names[bad[0][1]]!r}) holds {y[tuple(bad[0])].item()!r}"
                                f"{f' ({len(bad)} such cells)' if len(bad) > 1 else ''}")
            return [str(n) for n in self.label_names], y.astype(np.int8)
        if sp.issparse(y):
            raise DataError("y must be label lists or a dense 0/1 matrix (or DataFrame), not a sparse matrix: "
                            "use y.toarray()")
        if y is None:
            raise DataError("fit needs y: a list of label names for each text (an empty list for none), "
                            "or a 0/1 indicator DataFrame")
        y = list(y)
        refuse_number_rows(y)
        labels = [str(n) for n in self.label_names] if self.label_names is not None else infer_labels(y)
        return labels, to_indicator(y, labels)

    def fit(self, X: Iterable[str], y, sample_weight=None, groups=None, tuning_rows=None) -> "ThreatClassifier":
        """Learn features, one linear model per label, calibration and thresholds.

        ``y`` holds, for each text, a list of label names (an empty list for none), or is a
        0/1 indicator DataFrame with one column per label, or a 0/1 matrix whose columns
        ``label_names`` names. ``groups`` (optional, one value per
        text, e.g. the id of the article a passage was cut from) keeps each group within one
        cross-validation fold: passages of one article would otherwise help score each other,
        and the thresholds and calibration learned from those scores would be optimistic.
        ``tuning_rows`` (optional, one bool per text) names the rows whose out-of-fold scores
        calibration and thresholds are learned from; every row still trains the weights. Use it
        when some rows do not look like the text the model will label — passages picked
        because a model was unsure of them crowd the decision boundary, and an F1-optimal
        threshold depends on how common each label is — so that the cut-offs are set on
        rows sampled like that text. ``sample_weight`` (optional, one non-negative number per
        text) weighs each row in the linear models, the naive-Bayes ratios, the chi-squared
        feature selection, calibration and thresholds; a row of weight 0 is left out of all of
        them (the default model weighs its human-labelled rows 2).
        """
        self.check_params()
        check_paired(X, y=y, sample_weight=sample_weight, groups=groups, tuning_rows=tuning_rows)
        texts = composed(check_texts(X))
        labels, Y = self._resolve_targets(y)
        if len(texts) == 0:
            raise DataError("cannot train on an empty training set")
        if len(texts) != len(Y):
            raise DataError(f"got {len(texts)} texts but {len(Y)} label rows")
        if not labels:
            raise DataError("no label names found in the training labels")

        _check_label_names(labels, Y, named=self.label_names is not None)
        digests = text_hashes(texts)
        warn_about_suspect_rows(texts, Y, digests)
        counts = Y.sum(axis=0)
        for name, positives in zip(labels, counts):
            if positives == 0:
                raise DataError(f"label {name!r} has no positive example in the training set")
            if positives == len(Y):
                raise DataError(f"label {name!r} is on every training example; nothing to learn")
        given = None if sample_weight is None else check_sample_weight(sample_weight, len(texts))
        counted = counts if given is None else (
            Y * (given > 0)[:, None]).sum(axis=0)  # a row of weight 0 is not there
        few = {name: int(n) for name, n in zip(labels, counted) if n < TOO_FEW_POSITIVES}
        if few:
            warnings.warn(f"labels with fewer than {TOO_FEW_POSITIVES} positive examples: {few}; their thresholds and "
                          "figures are unreliable — label more", UserWarning, stacklevel=2)
        if self.cv and (self.calibrate or isinstance(self.threshold, str)):
            too_few = [name for name, positives in zip(labels, counts) if positives < self.cv]
            if too_few:
                raise DataError(f"labels {too_few} have fewer positive examples than cv={self.cv} folds "
                                "(the model's own out-of-fold scores, from which its thresholds are learned)")
        if groups is not None:
            groups = check_groups(groups, len(texts),
                                  self.cv if self.cv and (self.calibrate or isinstance(self.threshold, str)) else None)
        weights = None
        if sample_weight is not None:
            weights = check_sample_weight(sample_weight, len(texts))
            for name, j in zip(labels, range(Y.shape[1])):
                if not weights[Y[:, j] == 1].any():
                    raise DataError(f"label {name!r} has no positive example of weight above 0")
        tune = self._check_tuning_rows(tuning_rows, Y, labels, weights)
        # Per-label settings are checked against the labels before any work is done.
        Cs = _per_label(self.C, labels, "C")
        class_weights = (_per_label(self.class_weight, labels, "class_weight")
                         if _is_per_label(self.class_weight) else [self.class_weight] * len(labels))
        fixed = None if isinstance(self.threshold, str) else np.asarray(
            _per_label(self.threshold, labels, "threshold"), dtype=np.float64)
        if fixed is not None and not ((fixed >= 0) & (fixed <= 1)).all():
            raise ValueError(f"thresholds must lie between 0 and 1, got {fixed.tolist()}")
        settings = (labels, Cs, class_weights)

        calibration = np.tile([1.0, 0.0], (len(labels), 1))
        oof_proba, unlinked, learned = None, [], fixed is None
        tune_weights = None if weights is None else weights[tune]
        if self.calibrate or fixed is None:
            oof_scores = self._out_of_fold_scores(texts, Y, weights, settings, groups, digests)
            # The sigmoid is fitted either way: its slope says whether the scores rise with the label.
            sigmoids = np.array([_fit_sigmoid(oof_scores[tune, j], Y[tune, j], tune_weights)
                                 for j in range(len(labels))])
            unlinked = [name for name, (slope, _) in zip(labels, sigmoids) if not slope > 0]
            if self.calibrate:
                calibration = sigmoids.copy()
                # A slope <= 0 would turn the scores around: more evidence, lower probability.
                calibration[[labels.index(name) for name in unlinked]] = [1.0, 0.0]
            oof_proba = _sigmoid(oof_scores * calibration[:, 0] + calibration[:, 1])
            # Scores that rise only by chance pick out the label no better: its best cut-off sits near 0.
            weak = [name for j, name in enumerate(labels) if name not in unlinked
                    and not beats_chance(Y[tune, j], oof_proba[tune, j], sample_weight=tune_weights,
                                         random_state=self.random_state)]
            if (unlinked or weak) and (self.calibrate or learned):
                warnings.warn(f"labels {unlinked + weak}: the out-of-fold scores do not pick them out (they "
                              "fall with the label, or find it no better than shuffled labels would), so the model "
                              "has not learned them"
                              + ("; their probabilities are left uncalibrated" if self.calibrate and unlinked else "")
                              + ("; they are never assigned (threshold above 1): add examples, or try a larger C "
                                 "(less regularisation)" + (" or min_df=1 with few examples" if self.min_df != 1
                                                            else "") if learned else ""),
                              UserWarning, stacklevel=2)
            unlinked = unlinked + weak
        if fixed is None:
            rule = _THRESHOLD_RULES[threshold_rule(self.threshold, self.calibrate)]
            fixed = np.array([NEVER if name in unlinked else rule(Y[tune, j], oof_proba[tune, j],
                                                                  sample_weight=tune_weights)
                              for j, name in enumerate(labels)])
        vectorizers, coef, intercept = self._fit_features_and_weights(texts, Y, weights, settings)
        fixed = self._above_blank_text(fixed, intercept, calibration, Y, labels, learned)
        fingerprint, hashes = {**_fingerprint(texts, Y, labels, weights), "text_hashes": TEXT_HASHES}, np.unique(digests)
        if tuning_rows is not None:  # saved with the model: its card and `info` say what set the cut-offs
            fingerprint["tuning_rows"] = int(tune.sum())
        # Everything learned is assigned together, after the last step that can fail: a failed
        # refit leaves the old model whole. What came with a loaded model's folder goes.
        for stale in ("metadata_", "path_", "_loaded_decision"):
            self.__dict__.pop(stale, None)
        self._compiled = None
        self._evidence_cache = None
        self.labels_ = labels
        self.thresholds_ = fixed
        self.calibration_ = calibration
        self.vectorizers_, self.coef_, self.intercept_ = vectorizers, coef, intercept  # made read-only (__setattr__)
        self.oof_probabilities_ = oof_proba  # kept for evaluation of the training run; not saved
        self.training_fingerprint_ = fingerprint
        self.training_text_hashes_ = hashes
        self._fitted_params = comparable_settings(self.get_params(deep=False))  # what made this model
        # what the out-of-fold figures need (not saved): the targets, which rows tuned, grouped or not
        counted = tune if weights is None else tune & (weights > 0)  # a row of weight 0 is not there
        self._oof_record = None if oof_proba is None else {
            "Y": Y, "rows": counted, "tuned": tuning_rows is not None, "grouped": groups is not None,
            "cv": self.cv, "learned": isinstance(self.threshold, str), "calibrate": bool(self.calibrate),
            "thresholds": self.thresholds_.copy(), "decision": self._decision_digest()}
        return self

    @staticmethod
    def _above_blank_text(thresholds, intercept, calibration, Y, labels, learned: bool) -> np.ndarray:
        """Thresholds that do not give a label of the minority to a text with none of the model's
        words (emoji, numbers, another topic), whose score is the intercept alone.

        With few or too easily separated examples, the out-of-fold models each see fewer of them
        than the final model, and the cut-off learned on their scores can fall below the final
        model's probability for a text with no evidence: every unrelated text would get the label.
        A learned threshold is raised to just above that probability, so that a text needs some
        evidence; a fixed one is the caller's, and is only warned about."""
        blank = _sigmoid(intercept * calibration[:, 0] + calibration[:, 1])
        bad = [j for j in range(len(labels))
               if thresholds[j] <= 1 and blank[j] >= thresholds[j] and Y[:, j].mean() < 0.5]
        if not bad:
            return thresholds
        warnings.warn(f"labels {[labels[j] for j in bad]}: a text with none of the model's words would get them "
                      f"(probability {', '.join(f'{blank[j]:.3f}' for j in bad)}, at or above the "
                      + ("learned threshold, so the thresholds are raised to just above it: a text needs some "
                         "evidence for them). The out-of-fold models the cut-off is learned from each saw fewer "
                         "examples than the final model: add examples, more varied" if learned else
                         "threshold): add examples, or raise their thresholds"), UserWarning, stacklevel=3)
        if not learned:
            return thresholds
        thresholds = thresholds.copy()
        thresholds[bad] = np.minimum(blank[bad] + 1e-6, 1.0)
        return thresholds

    def out_of_fold_figures(self, *, scored: str | None = None, grouped: str | None = None,
                            held_out: str = "a held-out set") -> dict | None:
        """The fit's out-of-fold figures (per-label precision, recall, F1, PR-AUC at the learned
        thresholds, on the rows that tuned them), as :func:`threatclf.evaluate`'s ``to_dict()``
        with a ``description`` saying how they were made; None for a loaded model or one fitted
        without out-of-fold scores. ``save`` records them as the "cross-validated" figures.
        ``scored``, ``grouped`` and ``held_out`` word the description in a caller's terms (the
        command line names its files and flags)."""
        record = getattr(self, "_oof_record", None)
        if record is None or getattr(self, "oof_probabilities_", None) is None:
            return None
        decision = record.get("decision")  # absent from a fit pickled by 0.26 or earlier
        if decision is not None and decision != self._decision_digest(record["thresholds"]):
            warnings.warn("the weights or calibration were changed after fitting (coef_, intercept_, calibration_): "
                          "the fit's out-of-fold figures are not this model's, and are left out", UserWarning,
                          stacklevel=2)
            return None
        from .evaluate import score_predictions

        rows = record["rows"]
        proba = self.oof_probabilities_[rows]
        figures = score_predictions(record["Y"][rows], proba >= self.thresholds_, proba, self.labels_).to_dict()
        if scored is None:
            scored = (f"the {len(proba):,} training rows named to tune calibration and thresholds" if record["tuned"]
                      else f"the {len(proba):,} training rows")
        if grouped is None:
            grouped = ("rows of one group in one fold" if record["grouped"] else
                       "rows not grouped: passages of one document may have helped score each other")
        fitted = record.get("thresholds")
        if fitted is not None and not np.array_equal(fitted, self.thresholds_):  # thresholds_ set after fitting
            thresholds = ("at thresholds set by hand after fitting (thresholds_), not the ones the fit "
                          + ("learned" if record["learned"] else "was given"))
        elif record["learned"]:
            thresholds = "at thresholds chosen on these same predictions: optimistic"
        else:
            thresholds = "at the thresholds set in the settings"
        if not record["learned"] or thresholds.startswith("at thresholds set by hand"):
            thresholds += " (calibration learned on these same predictions)" if record["calibrate"] else ""
        figures["description"] = (f"{record['cv']}-fold out-of-fold predictions on {scored} ({grouped}; copies of a "
                                  f"text in one fold), {thresholds}; {held_out} is the honest figure.")
        return figures

    def _check_tuning_rows(self, tuning_rows, Y: np.ndarray, labels: Sequence[str], weights=None) -> np.ndarray:
        """All rows, or the checked boolean mask of the rows that tune calibration and thresholds
        (a row of weight 0 does not count)."""
        if tuning_rows is None:
            mask = np.ones(len(Y), dtype=bool)
            if weights is None:
                return mask
        else:
            mask = check_tuning_rows(tuning_rows, len(Y))
            if not (self.calibrate or isinstance(self.threshold, str)):
                raise DataError("tuning_rows is only used to learn calibration or thresholds, "
                                "and this model learns neither (calibrate=False and a fixed threshold)")
        counted = mask if weights is None else mask & (weights > 0)
        short = [name for name, pos, neg in zip(labels, Y[counted].sum(axis=0), (1 - Y[counted]).sum(axis=0))
                 if pos == 0 or neg == 0]
        if short and (self.calibrate or isinstance(self.threshold, str)):
            which = "tuning rows" if tuning_rows is not None else "rows"
            weighted = "" if weights is None else " of weight above 0"
            raise DataError(f"labels {short} have no positive (or no negative) example{weighted} among the "
                            f"{int(counted.sum())} {which}: "
                            + ("thresholds" if not self.calibrate else "calibration" if not isinstance(
                                self.threshold, str) else "calibration and thresholds")
                            + " cannot be learned from them")
        return mask

    def seen_in_training(self, X: Iterable[str]) -> np.ndarray | None:
        """For each text, whether the model was trained on it (case, punctuation and white space
        ignored; white space only for models saved before threatclf 0.8).

        Figures measured on such texts are not held-out figures. ``None`` for models saved
        before threatclf 0.2, which do not record their training texts.
        """
        check_is_fitted(self, "coef_")
        hashes = getattr(self, "training_text_hashes_", None)
        if hashes is None:
            return None
        texts = check_texts(X)
        rule = (getattr(self, "training_fingerprint_", None) or {}).get("text_hashes")
        return np.isin(text_hashes(texts) if rule == TEXT_HASHES else _white_space_hashes(texts), hashes)

    @property
    def labels(self) -> list[str]:
        """The label names of a fitted model, in the order of its scores."""
        check_is_fitted(self, "coef_")
        return list(self.labels_)

    @property
    def classes_(self) -> np.ndarray:
        """The label names in the order of the columns of ``predict_proba``, ``predict_indicator``
        and ``decision_function``, as scikit-learn names them: build a 0/1 matrix of true labels
        in this order, ``MultiLabelBinarizer(classes=model.classes_)``."""
        check_is_fitted(self, "coef_")
        return np.asarray(self.labels_, dtype=object)

    def _out_of_fold_scores(self, texts, Y, weights, settings, groups=None, digests=None) -> np.ndarray:
        counted = np.ones(len(Y), dtype=bool) if weights is None else weights > 0  # weight 0: not there
        present = (Y != 0) & counted[:, None]
        # each label's examples, and its non-examples, in the training part of every fold
        splits = cv_folds(texts, self.cv, self.random_state, groups=groups, digests=digests,
                          spread=np.hstack([present, (Y == 0) & counted[:, None]]))
        scores = np.zeros(Y.shape, dtype=np.float64)
        for fold, (train_idx, test_idx) in enumerate(splits):
            part = Y[train_idx[counted[train_idx]]]
            short = [name for name, pos, neg in zip(settings[0], part.sum(axis=0), (1 - part).sum(axis=0))
                     if pos == 0 or neg == 0]
            if short:
                where = (f"in the training part of fold {fold} of fit's own {self.cv}-fold cross-validation (the one "
                         "that learns thresholds and calibration)")
                hashes = text_hashes(texts) if digests is None else digests
                rows_of = {name: np.flatnonzero(present[:, settings[0].index(name)]) for name in short}
                copies = [name for name in short if len(rows_of[name]) > 1 and len({hashes[i] for i in rows_of[name]}) < 2]
                if copies:
                    raise DataError(f"labels {copies} have every positive example in copies of one text (case, "
                                    "punctuation and white space ignored), and copies stay in one fold, so no "
                                    f"example is left {where}: no cv can learn their thresholds; add examples of "
                                    "other texts, or fit with fixed thresholds and no calibration "
                                    "(threshold=0.5, calibrate=False)")
                if groups is not None:
                    lone = [name for name in short if len({groups[i] for i in
                                                           np.flatnonzero(present[:, settings[0].index(name)])}) < 2]
                    if lone:
                        raise DataError(f"labels {lone} have every positive example in one group, and a group stays "
                                        f"in one fold, so no example is left {where}; spread the label over more "
                                        "groups, or fit without groups")
                raise DataError(f"labels {short} have no positive (or no negative) example {where}; add examples or "
                                f"lower cv={self.cv}"
                                + ("" if groups is None else " (or spread the label's examples over more groups)"))
            fold_texts = [texts[i] for i in train_idx]
            vectorizers, coef, intercept = self._fit_features_and_weights(
                fold_texts, Y[train_idx], None if weights is None else weights[train_idx], settings
            )
            X_test = sp.hstack([v.transform([texts[i] for i in test_idx]) for v in vectorizers]).tocsr()
            scores[test_idx] = X_test @ coef.T + intercept
        return scores

    def _fit_features_and_weights(self, texts, Y, weights, settings):
        labels, Cs, class_weights = settings
        vectorizers = build_vectorizers(
            self.features,
            word_ngram_range=self.word_ngram_range,
            char_ngram_range=self.char_ngram_range,
            min_df=self.min_df,
            max_df=self.max_df,
            max_features=self.max_features,
            sublinear_tf=self.sublinear_tf,
            presence_ngram_range=self.presence_ngram_range,
        )
        try:
            blocks = [v.fit_transform(texts) for v in vectorizers]
        except ValueError as exc:  # scikit-learn's words for it name neither the setting's value nor the rows
            if "min_df" not in str(exc) and "After pruning" not in str(exc):
                raise
            raise DataError(
                f"min_df={self.min_df!r} and max_df={self.max_df!r} keep no term when fitting on {len(texts):,} texts"
                + (f" (cross-validation fits each fold on about {self.cv - 1}/{self.cv} of the rows)"
                   if isinstance(self.cv, (int, np.integer)) and not isinstance(self.cv, bool) else "")
                + ": lower min_df, or give it as a share of the texts (min_df=0.01)") from None
        presence = blocks.pop() if self.presence_ngram_range is not None else None
        X = _canonical(sp.hstack(blocks).tocsr())
        jobs = [delayed(_fit_selected)(self.model, X, Y[:, j], Cs[j], class_weights[j], weights, self.random_state,
                                       self.features_per_label) for j in range(len(labels))]
        if presence is not None:
            P = _canonical(presence.tocsr())
            # every presence feature: NB-LR's ratios and a small C already keep it to the telling ones
            jobs += [delayed(_fit_selected)("nblogreg", P, Y[:, j], self.presence_C, class_weights[j], weights,
                                            self.random_state, None) for j in range(len(labels))]
        # liblinear's SVM draws from one process-wide random generator: threads fitting labels at
        # once would interleave its draws, and the same seed would give other weights each run
        fitted = Parallel(n_jobs=1 if self.model == "svm" else self.n_jobs, prefer="threads")(jobs)
        coef = np.vstack([c for c, _ in fitted[:len(labels)]])
        intercept = np.array([b for _, b in fitted[:len(labels)]], dtype=np.float64)
        if presence is not None:  # the two models' scores added: still one linear model over all blocks
            coef = np.hstack([coef, self.presence_weight * np.vstack([c for c, _ in fitted[len(labels):]])])
            intercept = intercept + self.presence_weight * np.array([b for _, b in fitted[len(labels):]])
        return vectorizers, coef, intercept

    # --------------------------------------------------------------- predicting
    def _fast_scorer(self):
        """The compiled scorer, or None when the reference path must be used."""
        if self.engine == "reference":
            return None
        built_from = (self.vectorizers_, self.coef_, self.intercept_,
                      *(getattr(v, name, None) for v in self.vectorizers_ for name in ("vocabulary_", "idf_")))
        cached = getattr(self, "_compiled", None)
        if cached is None or len(cached[0]) != len(built_from) or any(
                a is not b for a, b in zip(cached[0], built_from)):  # weights or vocabularies assigned anew
            from . import fastvec  # deferred: numba compiles on first use, not at import

            scorer = False
            if all(fastvec.is_supported(v) for v in self.vectorizers_):
                tfidfs = [fastvec.CompiledTfidf.from_vectorizer(v) for v in self.vectorizers_]
                scorer = fastvec.CompiledLinearScorer(tfidfs, self.coef_, self.intercept_)
            cached = self._compiled = (built_from, scorer)
        return cached[1] or None

    def transform(self, X: Iterable[str]) -> sp.csr_matrix:
        """Feature matrix of ``X``: TF-IDF values, and 1 for each present n-gram of a presence block
        (columns named by :meth:`get_feature_names_out`, the latter ``present:...``)."""
        check_is_fitted(self, "coef_")
        texts = composed(check_texts(X))
        scorer = self._fast_scorer()
        if scorer is not None:
            return scorer.transform(texts, n_threads=self._threads())
        return self._reference_features(texts)

    def _reference_features(self, texts: list[str]) -> sp.csr_matrix:
        if not texts:  # scikit-learn refuses zero samples; the compiled path gives (0, n_features)
            return sp.csr_matrix((0, self.coef_.shape[1]), dtype=np.float64)
        return sp.hstack([v.transform(texts) for v in self.vectorizers_], format="csr")

    def _threads(self) -> int:
        if self.n_jobs is None:
            return 1
        if self.n_jobs < 0:
            import os

            return max(1, (os.cpu_count() or 1) + 1 + self.n_jobs)
        return int(self.n_jobs)

    def _features_and_scores(self, texts: list[str]) -> tuple[sp.csr_matrix, np.ndarray]:
        scorer = self._fast_scorer()
        if scorer is not None:
            return scorer.transform_and_score(texts, n_threads=self._threads())
        X = self._reference_features(texts)
        return X, X @ self.coef_.T + self.intercept_

    def decision_function(self, X: Iterable[str]) -> np.ndarray:
        """Raw linear scores, shape (n_texts, n_labels)."""
        check_is_fitted(self, "coef_")
        texts = composed(check_texts(X))
        scorer = self._fast_scorer()
        if scorer is not None:  # scores without building the feature matrix
            return scorer.decision_function(texts, n_threads=self._threads())
        return self._features_and_scores(texts)[1]

    def _proba_from_scores(self, scores: np.ndarray) -> np.ndarray:
        return _sigmoid(scores * self.calibration_[:, 0] + self.calibration_[:, 1])

    def predict_proba(self, X: Iterable[str]) -> pd.DataFrame:
        """Probability of each label, one column per label: calibrated, or with ``calibrate=False``
        the logistic function of the raw score. A pandas Series' index is kept, so that the
        result joins back onto the rows it came from."""
        proba = self._proba_from_scores(self.decision_function(X))
        return pd.DataFrame(proba, columns=list(self.labels_), index=X.index if isinstance(X, pd.Series) else None)

    def predict_indicator(self, X: Iterable[str]) -> np.ndarray:
        """0/1 matrix (n_texts, n_labels): probability at or above each label's threshold."""
        proba = self._proba_from_scores(self.decision_function(X))
        return (proba >= self.thresholds_).astype(np.int8)

    def predict(self, X: Iterable[str]) -> list[list[str]]:
        """For each text, the list of labels it carries (possibly empty)."""
        check_is_fitted(self, "coef_")
        names = np.asarray(self.labels_, dtype=object)
        return [list(names[row.astype(bool)]) for row in self.predict_indicator(X)]

    def score(self, X: Iterable[str], y, sample_weight=None) -> float:
        """Macro F1 of ``predict`` on labelled texts (label lists or a 0/1 DataFrame), over the
        labels present or predicted — what :func:`threatclf.evaluate` reports. A label the model
        never saw (a rare one absent from a cross-validation fold's training part) counts as
        missed, F1 0; texts with no label present or predicted, all rightly, score 1.
        scikit-learn's model selection uses it when no ``scoring`` is given
        (``GridSearchCV(clf, {"C": [1, 10]})``); its threshold scorers (``"f1_macro"``) cannot
        read ``predict``'s label lists. ``sample_weight`` counts each text that many times."""
        from .evaluate import evaluate_quietly, true_label_matrix, weighted_f1

        check_is_fitted(self, "coef_")
        check_paired(X, y=y, sample_weight=sample_weight)
        texts = check_texts(X)
        weights = None if sample_weight is None else check_sample_weight(sample_weight, len(texts))
        unseen: set = set()
        if isinstance(y, pd.DataFrame):  # a column for a label the model never saw counts as lists' names do
            from .evaluate import label_order_declared

            y = name_numbered_columns(y, list(self.labels_), label_order_declared(self),
                                      "fit the model with label_names=[...] so that its columns' order is known")
            y = y.rename(columns=str)
            extra = [name for name in y.columns if name not in set(self.labels_)]
            counted = np.ones(len(y), bool) if weights is None else weights > 0
            unseen = {name for name in extra if (pd.to_numeric(y[name], errors="coerce").fillna(0).to_numpy()[counted]
                                                 != 0).any()}
            y = y.drop(columns=extra)
        elif not isinstance(y, pd.DataFrame) and not (isinstance(y, np.ndarray) and y.ndim == 2 and y.dtype != object):
            y = list(y)
            refuse_number_rows(y)
            if all(isinstance(names, (list, tuple, set, frozenset, np.ndarray, pd.Series)) for names in y):
                known = set(self.labels_)
                counted = [True] * len(y) if weights is None else weights > 0  # a row of weight 0 is not there
                unseen = {name for names, c in zip(y, counted) if c for name in names if name not in known}
                y = [[name for name in names if name in known] for names in y]
        if weights is None:
            f1 = evaluate_quietly(self, texts, y).per_label["f1"].dropna().tolist()
        else:
            Y_true = true_label_matrix(self, y)
            if len(Y_true) != len(texts):
                raise DataError(f"got {len(texts)} texts but {len(Y_true)} label rows")
            f1 = weighted_f1(Y_true, self.predict_indicator(texts), weights)
        f1 += [0.0] * len(unseen)
        return float(np.mean(f1)) if f1 else 1.0

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The names of ``coef_``'s columns: ``word:…``, ``char:…`` and ``present:…`` features."""
        check_is_fitted(self, "coef_")
        return feature_names(self.vectorizers_)

    def _decision_digest(self, thresholds=None) -> str:
        """A SHA-256 of what decides this fit's labels (labels, weights, calibration, thresholds —
        ``thresholds`` in place of ``thresholds_`` if given): figures from :func:`~threatclf.evaluate`
        record it, so a model folder can tell whether they were measured on the model it holds or
        on another fit, and a model can tell whether its weights were changed since fit or load."""
        check_is_fitted(self, "coef_")
        digest = hashlib.sha256(json.dumps(list(self.labels_)).encode())
        for part in (self.coef_, self.intercept_, self.calibration_,
                     self.thresholds_ if thresholds is None else thresholds):
            digest.update(np.ascontiguousarray(part, dtype=np.float64).tobytes())
        return digest.hexdigest()

    def _evidence_terms(self) -> tuple[np.ndarray, np.ndarray]:
        """Feature names without prefix, and whether each is a word n-gram (cached, not saved)."""
        cache = getattr(self, "_evidence_cache", None)
        built_from = (self.vectorizers_, *(v.vocabulary_ for v in self.vectorizers_))
        if cache is None or len(cache[0]) != len(built_from) or any(a is not b for a, b in zip(cache[0], built_from)):
            terms, is_word = [], []
            for vectorizer in self.vectorizers_:
                names = np.empty(len(vectorizer.vocabulary_), dtype=object)
                names[list(vectorizer.vocabulary_.values())] = list(vectorizer.vocabulary_.keys())
                terms.append(names)
                is_word.append(np.full(len(names), vectorizer.analyzer == "word"))
            cache = self._evidence_cache = (built_from, np.concatenate(terms), np.concatenate(is_word))
        return cache[1], cache[2]

    def explain(self, text: str, top: int = 10) -> dict[str, list[tuple[str, float]]]:
        """The terms of ``text`` that pushed each label's score up, with their contributions.

        A contribution is the term's feature value (TF-IDF, or 1 for a ``present:`` n-gram of a
        presence block) times its weight for the label; the list holds the ``top`` largest
        positive ones, largest first.
        """
        check_is_fitted(self, "coef_")
        if not isinstance(text, str):
            raise DataError(f"explain() takes one string, got {type(text).__name__}")
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
            raise ValueError(f"top must be a whole number >= 1, got {top!r}")
        X = self.transform([text])
        return explain_row(X, 0, self.coef_, self.get_feature_names_out(), self.labels_, top)

    # -------------------------------------------------------------- persistence
    def save(self, path, *, format: str = "skops", **metadata) -> Path:
        """Write a model folder (see :func:`threatclf.save_model`)."""
        from .persistence import save_model

        return save_model(self, path, format=format, **metadata)

    def without_training_run(self) -> "ThreatClassifier":
        """A shallow copy without what only the training run had (its out-of-fold scores): what a
        model folder stores."""
        copied = object.__new__(type(self))  # not copy.copy: that would pack and unpack the vectorizers
        copied.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("oof_probabilities_", "_oof_record")})
        return copied

    def __setattr__(self, name, value):
        # learned numbers assigned by hand (clf.thresholds_ = [0.4, ...]) are stored as the arrays
        # fit makes, which a saved folder must hold to load; weights assigned (clf.coef_ = edited)
        # are frozen as fit's are: the compiled path, rebuilt when they are new objects, would
        # otherwise miss a later edit of the same array in place
        if name in ("coef_", "intercept_", "calibration_", "thresholds_"):
            value = _as_float_array(_series_in_label_order(value, getattr(self, "labels_", None), name))
        super().__setattr__(name, _read_only(value) if name in ("coef_", "intercept_") else value)

    def __getstate__(self):
        state = dict(super().__getstate__())  # object.__getstate__ may return __dict__ itself
        state.pop("_compiled", None)
        state.pop("_evidence_cache", None)
        if state.get("_fitted_params") is not None:  # what made the model travels with it (copies, saves)
            state["_fitted_params"] = json.dumps(state["_fitted_params"], sort_keys=True)
        # The fit's out-of-fold scores travel with a pickle (saved later, its card still has its
        # cross-validated figures); a model folder stores the model alone (see without_training_run)
        if "vectorizers_" in state:
            state["vectorizers_"] = [pack_vectorizer(v) for v in state["vectorizers_"]]
        for name in self.get_params(deep=False):  # numpy scalars in settings are stored as plain numbers
            state[name] = plain(state[name])
        for loaded in ("metadata_", "path_", "_loaded_decision"):  # what came with a loaded folder is not
            state.pop(loaded, None)  # part of the model
        return state

    def __setstate__(self, state):
        state = dict(state)
        if "labels" in state and "label_names" not in state:  # threatclf 0.1 (model format 1) named it labels
            state["label_names"] = state.pop("labels")
        state.setdefault("features_per_label", None)  # added in 0.2; older models used every feature
        for name, default in (("presence_ngram_range", None), ("presence_C", 1.0), ("presence_weight", 1.0)):
            state.setdefault(name, default)  # added in 0.5
        if "vectorizers_" in state:
            # Stored models hold packed dicts only; unpack_vectorizer checks every setting.
            state["vectorizers_"] = [unpack_vectorizer(v) for v in state["vectorizers_"]]
        super().__setstate__(state)
        for name in ("coef_", "intercept_"):
            if name in self.__dict__:
                _read_only(self.__dict__[name])
        self._compiled = None
        self._evidence_cache = None
        fitted = self.__dict__.pop("_fitted_params", None)
        try:
            self._fitted_params = (json.loads(fitted) if isinstance(fitted, str) else
                                   comparable_settings(self.get_params(deep=False)) if "labels_" in state else None)
        except (AttributeError, ValueError):  # a setting missing from the stored state: the loader says so
            self._fitted_params = None

    def settings_changed_since_fit(self) -> list[str]:
        """The settings changed (``set_params``, or in place) since the model was fitted: the
        fitted parts still follow the old values, so saving such a model would misdescribe it.
        ``n_jobs`` and ``engine`` only say how to compute (:data:`COMPUTE_SETTINGS`)."""
        fitted = getattr(self, "_fitted_params", None)
        if not isinstance(fitted, dict):
            return []
        now = comparable_settings(self.get_params(deep=False))
        return sorted(name for name, value in now.items()
                      if name not in COMPUTE_SETTINGS and value != fitted.get(name, value))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags


def _check_label_names(labels: Sequence[str], Y: np.ndarray, *, named: bool) -> None:
    """Refuse label names no one could use or tell apart, naming the first row of each; ``named``:
    the user listed the labels (``label_names``), so "NA" or "fraud cyber" is one of theirs."""

    def first_row(name: str) -> str:
        rows = np.flatnonzero(Y[:, labels.index(name)])
        return f" (first in row {rows[0]} of the labels, counting from 0)" if rows.size else ""

    for name in labels:
        problem = label_name_problem(name)
        if problem:
            raise DataError(problem + first_row(name))
    unnamed = None if named else unnamed_label_problem(labels)
    if unnamed:  # "NA", or "fraud cyber": a mistake, unless the user named it as a label
        raise DataError(unnamed[1] + first_row(unnamed[0]))
    indistinct = indistinct_labels(labels)
    if indistinct:
        pair, problem = indistinct
        where = [f"{ascii(name)} first in row {rows[0]}" for name in pair
                 if (rows := np.flatnonzero(Y[:, labels.index(name)])).size]
        raise DataError(problem + (f" ({'; '.join(where)} of the labels, counting from 0)" if where else ""))
    warn_about_misspelt_label(labels, Y, stacklevel=3)  # and of one differing from another only in case


def warn_about_misspelt_label(labels: Sequence[str], Y: np.ndarray, stacklevel: int = 2) -> None:
    """Warn of a label spelt almost as a more common one (:func:`threatclf.labels.misspelt_label`)."""
    positives = dict(zip(labels, (int(n) for n in np.asarray(Y).sum(axis=0))))
    misspelt = misspelt_label(positives)
    if misspelt:
        first = int(np.flatnonzero(np.asarray(Y)[:, list(labels).index(misspelt[0])])[0])
        warnings.warn(misspelt_label_warning(*misspelt, positives) + f" (first in row {first} of the labels, "
                      "counting from 0)", UserWarning, stacklevel=stacklevel + 1)


def warn_about_suspect_rows(texts: Sequence[str], Y: np.ndarray, hashes: np.ndarray,
                            places: Sequence[str] | None = None) -> None:
    """Say when training rows look like mistakes: empty texts, or one text given different labels
    (``hashes``: the texts' :func:`text_hashes`). ``places`` names each row (e.g. ``"train.csv,
    line 5"``, as the command line does); by default rows are named by their 0-based position."""
    def name(i: int) -> str:
        return f"row {i}" if places is None else places[i]

    empty = [i for i, text in enumerate(texts) if not text.strip()]
    if empty:
        shown = "; ".join(name(i) for i in empty[:5]) + ("; ..." if len(empty) > 5 else "")
        warnings.warn(f"{len(empty)} training texts are empty ({shown}): "
                      "they can only teach that nothing carries a label", UserWarning, stacklevel=3)
    order = np.argsort(hashes, kind="stable")
    same = hashes[order][1:] == hashes[order][:-1]
    differ = same & (Y[order][1:] != Y[order][:-1]).any(axis=1)
    if differ.any():
        pairs = [(int(order[k]), int(order[k + 1])) for k in np.flatnonzero(differ)]
        shown = "; ".join(f"{name(a)} and {name(b)}" for a, b in pairs[:3]) + ("; ..." if len(pairs) > 3 else "")
        warnings.warn(f"{len(pairs)} training texts repeat an earlier one with other labels ({shown}; case, "
                      "punctuation and white space ignored): the model learns the two contradict each other — "
                      "check the labels", UserWarning, stacklevel=3)


#: The start of each warning of :func:`warn_about_suspect_rows`, for callers that say it themselves.
SUSPECT_ROW_WARNINGS = (r"\d+ training texts are empty", r"\d+ training texts repeat an earlier one")


def _fingerprint(texts: list[str], Y: np.ndarray, labels: Sequence[str], weights=None) -> dict:
    """Row count, positives per label and a SHA-256 of texts and labels: which data made a model.
    Rows weighted other than 1 add ``weights``: their SHA-256, the rows of weight 0 (which teach
    nothing) and the positives per label among the rows that count."""
    digest = hashlib.sha256()
    digest.update(json.dumps(list(labels)).encode())
    for text, row in zip(texts, Y):
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00" + row.astype(np.int8).tobytes() + b"\x00")
    positives = {label: int(n) for label, n in zip(labels, Y.sum(axis=0))}
    fingerprint = {"rows": len(texts), "positives": positives, "sha256": digest.hexdigest()}
    if weights is not None and np.any(weights != 1):
        counted = weights > 0
        fingerprint["weights"] = {
            "sha256": hashlib.sha256(np.ascontiguousarray(weights, dtype="<f8").tobytes()).hexdigest(),
            "rows_of_weight_0": int((~counted).sum()),
            "positives_counted": {label: int(n) for label, n in zip(labels, Y[counted].sum(axis=0))},
        }
    return fingerprint


def explain_row(X: sp.csr_matrix, row: int, coef: np.ndarray, names: np.ndarray, labels, top: int):
    """Top positive term contributions of one feature row, per label."""
    start, end = X.indptr[row], X.indptr[row + 1]
    columns, values = X.indices[start:end], X.data[start:end]
    result = {}
    for j, label in enumerate(labels):
        contrib = values * coef[j, columns]
        order = np.argsort(-contrib, kind="stable")[:top]
        result[label] = [(str(names[columns[k]]), float(contrib[k])) for k in order if contrib[k] > 0]
    return result


def _fit_sigmoid(scores: np.ndarray, y: np.ndarray, sample_weight=None) -> tuple[float, float]:
    """Platt scaling: a, c such that sigmoid(a·score + c) fits the out-of-fold outcomes."""
    lr = LogisticRegression(C=1e4, solver="lbfgs", max_iter=1000)
    lr.fit(scores.reshape(-1, 1), y, sample_weight=sample_weight)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def _class_sums(X: sp.csr_matrix, y: np.ndarray, sample_weight=None) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's (weighted) sum over the rows without and with the label."""
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    positive = np.asarray(X.T @ (w * (y == 1))).ravel()
    negative = np.asarray(X.T @ (w * (y == 0))).ravel()
    return negative, positive


def _nb_ratio(X: sp.csr_matrix, y: np.ndarray, alpha: float = 1.0, sample_weight=None) -> np.ndarray:
    """Naive-Bayes log-count ratio of each feature (Wang & Manning, 2012); a row of weight w
    counts w times."""
    negative, positive = _class_sums(X, y, sample_weight)
    positive, negative = positive + alpha, negative + alpha
    return np.log((positive / positive.sum()) / (negative / negative.sum()))


def _chi2(X: sp.csr_matrix, y: np.ndarray, sample_weight=None) -> np.ndarray:
    """Chi-squared score of each feature against the label, as scikit-learn's ``chi2``, with a
    row of weight w counted w times."""
    if sample_weight is None:
        return np.nan_to_num(chi2(X, y)[0], nan=0.0)
    w = np.asarray(sample_weight, dtype=np.float64)
    observed = np.vstack(_class_sums(X, y, w))
    class_share = np.array([w[y == 0].sum(), w[y == 1].sum()]) / w.sum()
    expected = np.outer(class_share, observed.sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(((observed - expected) ** 2 / expected).sum(axis=0), nan=0.0)


def refuse_number_rows(rows: list) -> None:
    """0/1 rows given as lists (``Y.tolist()``, ``list(Y)``) would be read as label names 0 and 1."""
    def numbers(row) -> bool:
        return isinstance(row, (list, tuple, np.ndarray, pd.Series)) and len(row) > 0 and all(
            isinstance(v, (int, float, np.number, np.bool_)) for v in row)  # bool is an int

    if rows and all(isinstance(v, (int, float, np.number, np.bool_)) for v in rows):
        raise DataError(f"y is one number per text ({printable_row(rows)}), not label lists: for one label, pass "
                        "label lists ([['my label'] if v else [] for v in y]), or a one-column 0/1 matrix "
                        "(np.asarray(y).reshape(-1, 1)) with label_names=['my label']")
    first = next((i for i, row in enumerate(rows) if numbers(row)), None)
    if first is None:
        return
    if len({len(row) for row in rows if isinstance(row, (list, tuple, np.ndarray, pd.Series))}) == 1 and all(
            v in (0, 1) for row in rows if numbers(row) for v in row):
        raise DataError("y holds rows of numbers: pass 0/1 labels as a 2-D matrix, np.asarray(y, dtype=int), "
                        "whose columns label_names names (a model that has them takes its own order); rows of "
                        "lists are read as label names")
    raise DataError(f"y row {first} holds numbers ({printable_row(rows[first])}), not label names; rows of "
                    "different lengths, or numbers other than 0/1, are not a 0/1 matrix: if they are label codes, "
                    "give each its name as text (e.g. [[names[code] for code in row] for row in y])")


def printable_row(row) -> str:
    """A row of y as a message shows it: at most its first five values."""
    values = [v.item() if isinstance(v, np.generic) else v for v in list(row)[:5]]
    return repr(values)[:-1] + (", ...]" if len(row) > 5 else "]")


def check_sample_weight(sample_weight, n_rows: int) -> np.ndarray:
    """One finite, non-negative weight per row, at most MAX_WEIGHT."""
    try:
        weights = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        shown = (printable_row(list(sample_weight)) if isinstance(sample_weight, (list, tuple, np.ndarray, pd.Series))
                 else type(sample_weight).__name__)
        raise DataError(f"sample_weight must be numbers, one per row; got {shown}") from None
    if weights.shape != (n_rows,):
        raise DataError(f"sample_weight has shape {weights.shape}, expected ({n_rows},)")
    bad = np.flatnonzero(~(np.isfinite(weights) & (weights >= 0) & (weights <= MAX_WEIGHT)))
    if bad.size:
        raise DataError(f"sample_weight must lie between 0 and {MAX_WEIGHT:g}; row {bad[0]} has "
                        f"{float(weights[bad[0]])!r} ({bad.size} such rows)")
    return weights


def check_tuning_rows(tuning_rows, n_rows: int, what: str = "training text") -> np.ndarray:
    """``tuning_rows`` as a boolean array, one per row; else DataError."""
    mask = np.asarray(tuning_rows)
    if mask.shape != (n_rows,) or mask.dtype != bool:
        raise DataError(f"tuning_rows must be one bool per {what} ({n_rows}), "
                        f"got dtype {mask.dtype} and shape {mask.shape}")
    return mask


def _canonical(X: sp.csr_matrix) -> sp.csr_matrix:
    """Duplicates summed and indices sorted now: estimators would otherwise fix the matrix in
    place, from several threads."""
    X.sum_duplicates()
    X.sort_indices()
    return X


def _as_float_array(value):
    """A list, tuple or Series of numbers as a float64 array; anything else (an array, or what no
    number array can hold: text, None) as it is, for the checks that say what is wrong with it."""
    if isinstance(value, (list, tuple, pd.Series)):
        try:
            converted = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return value
        return value if np.isnan(converted).any() else converted  # None read as NaN: no label, said by none
    return value


def _series_in_label_order(value, labels, name: str):
    """A Series indexed by label names (``pd.Series({"terrorism": 0.6, ...})``) in the order of
    ``labels``; one indexed by other names is refused rather than applied by position."""
    if not isinstance(value, pd.Series) or isinstance(value.index, pd.RangeIndex) or labels is None:
        return value
    index = [str(key) for key in value.index]
    if sorted(index) != sorted(labels) or len(set(index)) != len(index):
        raise ValueError(f"{name} is a Series indexed by {index[:6]}, not by the model's labels {list(labels)[:6]}: "
                         "index it by every label once, or pass the values in the order of labels_")
    return value.set_axis(index).loc[list(labels)]


def _read_only(weights):
    """``weights`` made read-only in place (an array; anything else is left for the loader to refuse)."""
    if isinstance(weights, np.ndarray):
        weights.setflags(write=False)
    return weights


def _fit_selected(model, X, y, C, class_weight, sample_weight, random_state, k):
    """Fit one label's model on its ``k`` best features by chi-squared; zero weight elsewhere.
    Rows of sample weight 0 are left out (some solvers' stopping rules would still count them)."""
    if sample_weight is not None and not (sample_weight > 0).all():
        keep = np.flatnonzero(sample_weight > 0)
        X, y, sample_weight = X[keep], y[keep], sample_weight[keep]
    if k is None or k >= X.shape[1]:
        return _fit_binary(model, X, y, C, class_weight, sample_weight, random_state)
    scores = _chi2(X, y, sample_weight)
    keep = np.sort(np.argsort(-scores, kind="stable")[:k])  # ties broken by column order: deterministic
    coef, intercept = _fit_binary(model, X[:, keep], y, C, class_weight, sample_weight, random_state)
    full = np.zeros(X.shape[1], dtype=np.float64)
    full[keep] = coef
    return full, intercept


def _fit_binary(model, X, y, C, class_weight, sample_weight, random_state):
    """Fit one label's linear model; return its weights over X's columns and its intercept."""
    if model == "logreg+nblogreg":  # averaging two linear models' logits is a linear model
        (w1, b1), (w2, b2) = (_fit_binary(m, X, y, C, class_weight, sample_weight, random_state)
                              for m in ("logreg", "nblogreg"))
        return (w1 + w2) / 2, (b1 + b2) / 2
    if model == "logreg":
        est = LogisticRegression(C=C, class_weight=class_weight, solver="liblinear", max_iter=1000)
        est.fit(X, y, sample_weight=sample_weight)
        return est.coef_[0].astype(np.float64), float(est.intercept_[0])
    if model == "nblogreg":
        ratio = _nb_ratio(X, y, sample_weight=sample_weight)
        est = LogisticRegression(C=C, class_weight=class_weight, solver="liblinear", max_iter=1000)
        est.fit(X @ sp.diags(ratio), y, sample_weight=sample_weight)
        return (est.coef_[0] * ratio).astype(np.float64), float(est.intercept_[0])
    if model == "svm":
        est = LinearSVC(C=C, class_weight=class_weight, max_iter=5000, random_state=random_state)
        est.fit(X, y, sample_weight=sample_weight)
        return est.coef_[0].astype(np.float64), float(est.intercept_[0])
    est = SGDClassifier(
        loss="modified_huber", alpha=1.0 / (C * X.shape[0]), class_weight=class_weight,
        # 50 passes always: scikit-learn 1.8 changed when tol stops SGD (the full objective, not the
        # loss), so a tolerance gave other models, 7-11 passes against 10-50, on other releases
        max_iter=50, tol=None, random_state=random_state,
    )
    est.fit(X, y, sample_weight=sample_weight)
    return est.coef_[0].astype(np.float64), float(est.intercept_[0])

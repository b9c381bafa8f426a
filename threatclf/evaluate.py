"""Honest figures for a model: per-label precision, recall, F1 and PR-AUC, and k-fold CV."""
from __future__ import annotations

import json
import numbers
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.metrics import average_precision_score

from .exceptions import DataError
from .labels import check_label_list, indicator_from_frame, name_numbered_columns, to_indicator

#: Under about this many examples a label's threshold and figures are unreliable: said when
#: training and in the model card.
FEW_POSITIVES = 30

__all__ = ["Evaluation", "evaluate", "score_predictions", "reliability", "cross_validate"]


@dataclass
class Evaluation:
    """Metrics of one model on one labelled set.

    ``per_label`` has one row per label: ``precision`` (NaN where nothing was predicted),
    ``recall`` (NaN where nothing is there to find), ``f1`` (NaN only for a label neither
    present nor predicted, which has nothing to score; a present label never predicted, or one
    predicted where absent, scores 0), ``support`` (texts carrying the label), ``pr_auc``
    (average precision, threshold-free) and, from :func:`evaluate`, ``threshold``.
    ``macro_f1`` is the mean of the F1s that are not NaN, ``micro_f1`` pools every (text,
    label) decision, ``n_samples`` counts the texts, ``calibration_error`` is the expected
    calibration error of the probabilities (None without them) and ``extra`` holds notes such as
    ``seen_in_training``.
    """

    per_label: pd.DataFrame
    micro_f1: float
    macro_f1: float
    n_samples: int
    extra: dict = field(default_factory=dict)
    #: Expected calibration error over all (text, label) probabilities, 10 equal-width bins:
    #: the mean gap between predicted probability and observed frequency. None without probabilities.
    calibration_error: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready figures: top-level ``macro_f1``/``micro_f1`` and a ``labels`` mapping."""
        per_label = {
            label: {k: (None if pd.isna(v) else (int(v) if k == "support" else float(v))) for k, v in row.items()}
            for label, row in self.per_label.iterrows()
        }
        return {"n_samples": self.n_samples, "macro_f1": _number(self.macro_f1), "micro_f1": _number(self.micro_f1),
                "calibration_error": self.calibration_error, "labels": per_label, **self.extra}

    def to_json(self) -> str:
        """:meth:`to_dict` as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2)

    def to_table(self) -> str:
        """A plain-text table for terminals and model cards."""
        lines = [f"{'label':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'pr_auc':>7} {'support':>8}"]
        for label, row in self.per_label.iterrows():
            lines.append(
                f"{label:<20} {format_figure(row['precision']):>9} {format_figure(row['recall']):>7} {format_figure(row['f1']):>6} "
                f"{format_figure(row['pr_auc']):>7} {int(row['support']):>8}"
            )
        lines.append(f"{'macro F1':<20} {format_figure(self.macro_f1):>34}")
        lines.append(f"{'micro F1':<20} {format_figure(self.micro_f1):>34}   (n = {self.n_samples})")
        if self.calibration_error is not None:
            lines.append(f"{'calibration error':<20} {self.calibration_error:>34.3f}   (0 = probabilities mean what they say)")
        if self.seen_in_training_warning():
            lines.append(f"WARNING: {self.seen_in_training_warning()}")
        longer = self.extra.get("longer_than_a_passage")
        if longer:
            lines.append(f"note: {longer:,} of {self.n_samples:,} texts are longer than one passage "
                         f"({self.extra.get('passage_words')} words) and were scored whole; labelling them as articles "
                         "(threatclf label) cuts them into passages and gives each label its best passage: "
                         "evaluate(articles=True), threatclf evaluate --articles, scores them that way")
        return "\n".join(lines)

    def seen_in_training_warning(self) -> str | None:
        """Why these figures are not held-out ones, when some texts were in the training data."""
        return seen_in_training_note({"seen_in_training": self.extra.get("seen_in_training"), "n_samples": self.n_samples})


#: What the columns of :meth:`Evaluation.to_table` mean, for readers who do not score models daily.
FIGURES_EXPLAINED = """\
precision  of the texts given the label, the share that carry it (1 - precision: false alarms)
recall     of the texts that carry the label, the share given it (1 - recall: missed)
f1         precision and recall in one figure (their harmonic mean); 1 is perfect
pr_auc     precision averaged over every cut-off: how well the scores rank, whatever the threshold
support    how many texts carry the label; figures over few texts are rough
macro F1   the labels' F1 averaged, each label counting alike; micro F1: every decision pooled"""


def seen_in_training_note(figures: dict) -> str | None:
    """Why a split's figures (:meth:`Evaluation.to_dict`, as a model folder stores them) are not
    held-out ones, when some of its texts were trained on; shown by the model card and ``info`` too."""
    seen, n = figures.get("seen_in_training"), figures.get("n_samples")
    if not isinstance(seen, int) or isinstance(seen, bool) or seen <= 0:
        return None
    of = f"{n:,}" if isinstance(n, int) else "?"
    return f"{seen:,} of {of} texts were in the model's training data; these are not held-out figures"


def _number(value: float) -> float | None:
    return None if value is None or np.isnan(value) else float(value)


def format_figure(value) -> str:
    """A figure with three decimals; an undefined one (NaN, None) as n/a."""
    return "n/a" if value is None or pd.isna(value) else f"{value:.3f}"


def score_predictions(Y_true: np.ndarray, Y_pred: np.ndarray, proba: np.ndarray | None,
                      labels: Sequence[str]) -> Evaluation:
    """Metrics from 0/1 truth and prediction matrices (and probabilities for PR-AUC).

    For predictions made outside :func:`evaluate` (``cross_val_predict``, a ``Pipeline``):
    ``Y_true`` and ``Y_pred`` are 0/1 matrices of shape (texts, labels), ``proba`` the
    probabilities of the same shape or None (then no PR-AUC and no calibration error), and
    ``labels`` names their columns in order.
    """
    labels = [str(label) for label in labels]
    Y_true, Y_pred, proba = (_in_label_order(name, given, labels)
                             for name, given in (("Y_true", Y_true), ("Y_pred", Y_pred), ("proba", proba)))
    shape = (len(Y_true), len(labels))
    for name, given in (("Y_true", Y_true), ("Y_pred", Y_pred), ("proba", proba)):
        given_shape = None if given is None else np.shape(given)
        if given is not None and given_shape != shape:  # numpy would broadcast, or say "operands could not..."
            raise DataError(f"{name} has shape {given_shape}: score_predictions needs one row per text and one "
                            f"column per label, {shape} for {shape[0]} rows of Y_true and {len(labels)} labels")
        if name != "proba" and given is not None and not np.isin(np.asarray(given), (0, 1)).all():
            raise DataError(f"{name} must hold 0 and 1 only (probabilities go in proba)")
    Y_true = np.asarray(Y_true, dtype=np.int8)
    Y_pred = np.asarray(Y_pred, dtype=np.int8)
    # Counted per column here: scikit-learn's metrics take a one-column 0/1 matrix (a one-label
    # model) for a binary target and would score its negative class.
    truth, predicted = Y_true.astype(bool), Y_pred.astype(bool)
    tp = (truth & predicted).sum(axis=0)
    fp = (~truth & predicted).sum(axis=0)
    fn = (truth & ~predicted).sum(axis=0)
    support = truth.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        # Precision is undefined (NaN, "n/a") when nothing was predicted, recall when nothing is
        # there to find: 0 would claim a measured failure.
        precision = np.where(tp + fp > 0, tp / (tp + fp), np.nan)
        recall = np.where(support > 0, tp / support, np.nan)
        # A label neither present nor predicted has nothing to score: its F1 is undefined too, and
        # macro F1 averages the labels that have something to score.
        unscored = tp + fp + fn == 0
        f1 = np.where(unscored, np.nan, 2 * tp / (2 * tp + fp + fn))
    pr_auc = []
    for j in range(len(labels)):
        has_both = 0 < Y_true[:, j].sum() < len(Y_true)
        pr_auc.append(average_precision_score(Y_true[:, j], proba[:, j]) if proba is not None and has_both else np.nan)
    table = pd.DataFrame(
        {"precision": precision, "recall": recall, "f1": f1, "support": support, "pr_auc": pr_auc},
        index=pd.Index(list(labels), name="label"),
    )
    errors = fp.sum() + fn.sum()
    micro = 2 * tp.sum() / (2 * tp.sum() + errors) if tp.sum() + errors else float("nan")
    ece = None
    if proba is not None:
        bins = reliability(Y_true, proba)
        ece = float((bins["count"] * (bins["mean_predicted"] - bins["observed"]).abs()).sum() / bins["count"].sum())
    macro = float(np.mean(f1[~unscored])) if (~unscored).any() else float("nan")
    return Evaluation(per_label=table, micro_f1=float(micro), macro_f1=macro, n_samples=len(Y_true),
                      calibration_error=ece)


def _in_label_order(name: str, given, labels: list[str]):
    """A DataFrame (``predict_proba``'s, ``to_indicator``'s) as an array with its columns in the
    order of ``labels``; columns named other than the labels are refused, not paired by position."""
    if not isinstance(given, pd.DataFrame):
        return given
    columns = [str(c) for c in given.columns]
    if columns != labels and set(columns) == set(labels) and len(columns) == len(labels):
        return given.rename(columns=str)[labels].to_numpy()
    if columns != labels and not isinstance(given.columns, pd.RangeIndex):
        raise DataError(f"{name}'s columns {columns[:8]} are not the labels {labels[:8]}: name them as the labels "
                        "(they are matched by name), or pass an array, whose columns are taken in the labels' order")
    return given.to_numpy()


def reliability(Y_true: np.ndarray, proba: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted probability against observed frequency, pooled over labels, in equal-width bins.

    A calibrated model has ``observed`` close to ``mean_predicted`` in every bin: of the
    passages given 0.8, about 80 % carry the label. ``Y_true`` is a 0/1 matrix shaped like
    ``proba``, or label lists when ``proba`` is ``predict_proba``'s DataFrame (its columns name
    the labels). ``bins`` equal-width bins split 0-1, and empty ones are left out: one row per
    bin, named by its range, with ``mean_predicted``, ``observed`` and ``count``.
    """
    if hasattr(Y_true, "predict_proba"):  # reliability(model, texts, labels), as evaluate is called
        raise TypeError("reliability takes the true labels and the probabilities, not a model: "
                        "reliability(labels, model.predict_proba(texts))")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or not 1 <= bins <= 1000:
        raise DataError(f"bins must be a whole number from 1 to 1000, got {bins!r:.60}")
    if isinstance(proba, pd.DataFrame) and isinstance(Y_true, pd.DataFrame):
        Y_true = (Y_true.to_numpy() if isinstance(proba.columns, pd.RangeIndex)  # unnamed: by position
                  else _in_label_order("the truth", Y_true, [str(c) for c in proba.columns]))  # by name, or refused
    elif isinstance(proba, pd.DataFrame) and not isinstance(Y_true, np.ndarray) and not _is_matrix(Y_true):
        Y_true = _indicator(list(Y_true), [str(c) for c in proba.columns])
    elif isinstance(Y_true, pd.DataFrame):
        Y_true = Y_true.to_numpy()
    try:
        y = np.asarray(Y_true, dtype=np.float64)
        p = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("reliability takes a 0/1 matrix (or label lists with predict_proba's DataFrame) and a "
                        "matrix of probabilities") from None
    if y.shape != p.shape:
        raise DataError(f"truth has shape {y.shape} but the probabilities {p.shape}: one row per text, one column "
                        "per label in each")
    if not np.isin(y, (0, 1)).all():
        raise DataError("truth must hold only 0 and 1")
    if np.isnan(p).any():
        raise DataError("probabilities are missing (NaN) for some texts")
    if not ((p >= -1e-4) & (p <= 1 + 1e-4)).all():  # rounding aside (fastText's reach 1.00001)
        raise DataError("probabilities must lie between 0 and 1 (scores from decision_function are not)")
    y, p = y.ravel(), np.clip(p, 0.0, 1.0).ravel()
    which = np.minimum((p * bins).astype(int), bins - 1)
    frame = pd.DataFrame({"bin": which, "p": p, "y": y}).groupby("bin").agg(
        mean_predicted=("p", "mean"), observed=("y", "mean"), count=("y", "size"))
    # as few decimals as keep the bin edges apart: 0.9-1.0 with 10 bins, 0.05-0.10 with 20
    decimals = next(d for d in range(1, 10) if len({f"{b / bins:.{d}f}" for b in range(bins + 1)}) == bins + 1)
    frame.index = [f"{b / bins:.{decimals}f}-{(b + 1) / bins:.{decimals}f}" for b in frame.index]
    return frame


def _is_matrix(values) -> bool:
    """Whether ``values`` (not an array) is a nested list of numbers rather than label lists."""
    try:
        return np.asarray(values).dtype.kind in "biuf"
    except (TypeError, ValueError):
        return False


def _indicator(labels_data, label_names: Sequence[str], known: Sequence[str] | None = None,
               matrix_order_known: bool = True) -> np.ndarray:
    if isinstance(labels_data, pd.DataFrame):
        labels_data = name_numbered_columns(
            labels_data, list(known or label_names), matrix_order_known,
            "fit the model with label_names=[...] so that its columns' order is known")
        unknown = [name for name in map(str, labels_data.columns) if name not in (known or label_names)]
        if unknown:
            raise DataError(f"indicator DataFrame has columns for labels the model does not know: {unknown}")
        missing = [name for name in label_names if name not in set(map(str, labels_data.columns))]
        if missing:
            raise DataError(f"indicator DataFrame has no column for labels {missing}: add them, or score only the "
                            "labels it has (evaluate(..., score_labels=[...]); --labels on the command line)")
        return indicator_from_frame(labels_data, label_names)
    if isinstance(labels_data, np.ndarray) and labels_data.ndim == 2 and labels_data.dtype.kind in "biuf":
        # a 0/1 matrix, as fit(texts, Y) takes with label_names: its columns are the model's labels
        if not matrix_order_known:  # MultiLabelBinarizer sorts; a model fitted on lists puts its taxonomy first
            raise DataError(
                f"a bare 0/1 label matrix does not say which column is which label, and this model was not "
                f"fitted with label_names to fix that order; pass label lists, or a DataFrame with the label "
                f"names as columns: pd.DataFrame(Y, columns=...) (the model's order is {list(label_names)}, "
                f"model.classes_)")
        if labels_data.shape[1] != len(label_names) or not np.isin(labels_data, (0, 1)).all():
            raise DataError(f"a label matrix must hold 0/1 with one column per model label, in the order "
                            f"{list(label_names)}; got shape {labels_data.shape}")
        return labels_data.astype(np.int8)
    if sp.issparse(labels_data):
        raise DataError("labels must be label lists or a dense 0/1 matrix (or DataFrame), not a sparse matrix: "
                        "use .toarray()")
    return to_indicator(labels_data, label_names)


def label_order_declared(model) -> bool:
    """Whether a bare 0/1 matrix can be read in the model's label order: only when the user fixed
    that order with ``label_names`` (a model fitted on label lists puts its taxonomy first)."""
    declared = getattr(model, "label_names", None)
    return declared is not None and not isinstance(declared, str) and [str(n) for n in declared] == list(model.labels_)


def true_label_matrix(model, labels) -> np.ndarray:
    """The 0/1 matrix of ``labels`` (label lists, a DataFrame named by label, or a bare matrix
    in a declared order) in the columns of ``model.labels_``, checked as :func:`evaluate` does."""
    return _indicator(labels, list(model.labels_), matrix_order_known=label_order_declared(model))


def weighted_f1(Y_true: np.ndarray, Y_pred: np.ndarray, sample_weight: np.ndarray) -> list[float]:
    """F1 of each label with something to score, each row counted ``sample_weight`` times (a
    label present or predicted only in rows of weight 0 has nothing to score)."""
    w = np.asarray(sample_weight, dtype=np.float64).reshape(-1, 1)
    truth, predicted = Y_true.astype(bool), Y_pred.astype(bool)
    tp, fp, fn = ((w * (truth & predicted)).sum(axis=0), (w * (~truth & predicted)).sum(axis=0),
                  (w * (truth & ~predicted)).sum(axis=0))
    scored = tp + fp + fn > 0
    return (2 * tp[scored] / (2 * tp[scored] + fp[scored] + fn[scored])).tolist()


def mapped_labels(labels, label_map: Mapping[str, str | None], model_labels: Sequence[str]):
    """``labels`` (label lists, or a 0/1 DataFrame) in the model's names: each name in
    ``label_map`` becomes the model label it maps to (``None``: dropped); several names mapping
    to one label give it when any of them is given. Names not in the map stay as they are.
    The data are checked as :func:`evaluate` checks them, in your names, before they are mapped."""
    if not isinstance(label_map, Mapping):
        raise DataError(f"label_map must map your label names to the model's, got {type(label_map).__name__}")
    label_map = {str(name): target for name, target in label_map.items()}  # a DataFrame's columns are read as text
    wrong = {k: v for k, v in label_map.items() if v is not None and v not in model_labels}
    if wrong:
        raise DataError(f"label_map maps to labels the model does not have: {wrong}; its labels are "
                        f"{list(model_labels)}")
    if isinstance(labels, np.ndarray) or sp.issparse(labels):
        raise DataError("label_map renames label names: give label lists or a DataFrame with a column per name")
    if isinstance(labels, pd.DataFrame):
        frame = labels.rename(columns=str)
        names = list(frame.columns)
        values = indicator_from_frame(frame, names)  # each cell 0/1, each name once, in your names
        merged: dict[str, np.ndarray] = {}
        for name, column in zip(names, values.T):
            target = label_map.get(name, name)
            if target is not None:
                merged[target] = merged.get(target, 0) | column
        return pd.DataFrame(merged, index=frame.index, columns=list(merged) or None, dtype=np.int8)
    rows = [check_label_list(row, i) for i, row in enumerate(labels)]
    return [list(dict.fromkeys(label_map.get(name, name) for name in row if label_map.get(name, name) is not None))
            for row in rows]


def evaluate(model, texts: Iterable[str], labels, *, score_labels: Sequence[str] | None = None,
             label_map: Mapping[str, str | None] | None = None, articles: bool = False,
             max_words: int | None = None) -> Evaluation:
    """Score a fitted model on labelled texts.

    Each text is scored whole, as ``predict`` scores it. ``articles=True`` scores each as
    ``label_dataframe`` / ``threatclf label`` label an article: cut into passages of at most
    ``max_words`` words (default 120), each label given the best passage's probability — the
    figures of what labelling a corpus of such texts gives. Scored whole, the texts longer than
    one passage are counted (``extra["longer_than_a_passage"]``) and the table says so.

    ``labels`` is a list of label-name lists, or a 0/1 DataFrame with label names as columns (a
    bare 0/1 matrix only for a model fitted with ``label_names``, whose order its columns then
    follow: which column is which label is otherwise unknown). A label the model does not
    know is an error; a model label absent from the data gets support 0, and if the model
    predicts it nowhere either, undefined (NaN) figures left out of macro F1 — if it does predict
    it, F1 0, with a warning: data that does not annotate some of the model's labels should be
    scored on the others only, ``score_labels=[...]``. Texts the model was trained on are counted
    (``extra["seen_in_training"]``) and warned about: figures on them are not held-out figures.

    ``label_map`` scores a model on data labelled with other names, ``{"terror": "terrorism",
    "gangs": "organized_crime", "misc": None}``: several names may map to one label, ``None``
    leaves a name out, names not in the map stay as they are; unless
    ``score_labels`` says otherwise, only the labels it maps to are scored, the ones the data
    annotates.
    """
    if label_map is not None:
        labels = mapped_labels(labels, label_map, list(model.labels_))
        if score_labels is None:
            score_labels = list(dict.fromkeys(v for v in label_map.values() if v is not None))
            if not score_labels:
                raise DataError("label_map (--label-map) maps no label to one of the model's, so there is nothing to "
                                "score; to score labels your data gives under the model's own names, name them in "
                                "score_labels (--labels) or map them to themselves (sports=sports)")
    try:
        result = _evaluate(model, texts, labels, score_labels, articles=articles, max_words=max_words)
    except DataError as exc:
        if label_map is None and "unknown label" in str(exc):
            raise DataError(f"{exc}; to score data labelled with other names, map them: "
                            'label_map={"yours": "the model\'s label", "other": None}') from None
        raise
    if result.seen_in_training_warning():
        warnings.warn(result.seen_in_training_warning(), UserWarning, stacklevel=2)
    table = result.per_label
    absent = [label for label in table.index if table.loc[label, "support"] == 0 and table.loc[label, "f1"] == 0]
    if absent:
        warnings.warn(f"labels {absent} have no example in these data but were predicted, so their F1 is 0 and "
                      "lowers macro F1; if the data does not annotate them, score the others only "
                      "(score_labels=[...]; threatclf evaluate --labels, threatclf train --dev-labels)", UserWarning, stacklevel=2)
    return result


def evaluate_quietly(model, texts: Iterable[str], labels) -> Evaluation:
    """:func:`evaluate` without its warnings (texts seen in training are still counted in
    ``extra["seen_in_training"]``): for model selection, which scores many folds."""
    return _evaluate(model, texts, labels, count_long=False)


def _evaluate(model, texts: Iterable[str], labels, score_labels: Sequence[str] | None = None, *,
              articles: bool = False, max_words: int | None = None, count_long: bool = True) -> Evaluation:
    from sklearn.utils.validation import check_is_fitted

    from .classifier import ThreatClassifier, check_paired, check_texts

    if isinstance(model, ThreatClassifier):
        check_is_fitted(model, "coef_")
    elif not hasattr(model, "labels_") or not hasattr(model, "thresholds_"):
        raise TypeError(f"evaluate needs a fitted ThreatClassifier, got {type(model).__name__}"
                        + (" (a Pipeline: pass its ThreatClassifier step, or score its probabilities, cut at your thresholds, "
                           "with threatclf.score_predictions)" if hasattr(model, "steps") else ""))
    check_paired(texts, labels=labels)
    texts = check_texts(texts)
    names = list(model.labels_)
    matrix_order_known = label_order_declared(model)
    if score_labels is not None:
        wanted = [score_labels] if isinstance(score_labels, str) else [str(name) for name in score_labels]
        unknown = [name for name in wanted if name not in names]
        if unknown or not wanted or len(set(wanted)) < len(wanted):
            raise DataError(f"the labels to score (score_labels=, --labels) must name some of the model's labels, "
                            f"each once: {names}; got {wanted}")
    if score_labels is not None and isinstance(labels, pd.DataFrame):  # columns for the scored labels suffice
        Y_true = _indicator(labels, wanted, known=names, matrix_order_known=matrix_order_known)
    else:
        Y_true = _indicator(labels, names, matrix_order_known=matrix_order_known)
        if score_labels is not None:
            Y_true = Y_true[:, [names.index(name) for name in wanted]]
    if len(texts) != len(Y_true):
        raise DataError(f"got {len(texts)} texts but {len(Y_true)} label rows")
    if not texts:
        raise DataError("cannot evaluate on an empty data set")
    from .text import DEFAULT_MAX_WORDS, split_passages

    max_words = DEFAULT_MAX_WORDS if max_words is None else max_words
    # as batch labelling cuts them; counted for the table's note unless for model selection
    passages = [split_passages(text, max_words=max_words) for text in texts] if articles or count_long else None
    if articles:  # each label's best passage, as an article's label is given; a text without one
        # (blank: white space, invisible characters) is labelled with nothing, and scores 0 here
        pieces, owner = [], []
        for i, (text, spans) in enumerate(zip(texts, passages)):
            for start, end in spans:
                pieces.append(text[start:end])
                owner.append(i)
        proba = np.zeros((len(texts), len(names)))
        if pieces:
            np.maximum.at(proba, np.asarray(owner), model.predict_proba(pieces).to_numpy())
    else:
        proba = model.predict_proba(texts).to_numpy()
    thresholds = np.asarray(model.thresholds_)
    if score_labels is not None:
        keep = [names.index(name) for name in wanted]
        proba, thresholds, names = proba[:, keep], thresholds[keep], wanted
    Y_pred = (proba >= thresholds).astype(np.int8)
    result = score_predictions(Y_true, Y_pred, proba, names)
    result.per_label["threshold"] = thresholds
    seen = model.seen_in_training(texts) if hasattr(model, "seen_in_training") else None
    result.extra["seen_in_training"] = None if seen is None else int(seen.sum())
    result.extra["scored_as"] = f"articles: each label's best passage of at most {max_words} words" if articles \
        else "whole texts"
    if passages is not None and not articles:
        result.extra["longer_than_a_passage"] = sum(len(spans) > 1 for spans in passages)
        result.extra["passage_words"] = max_words
    if hasattr(model, "_decision_digest"):  # which fit these figures are of (a model folder checks it)
        result.extra["model_sha256"] = model._decision_digest()
    return result


def cross_validate(estimator, texts: Sequence[str], labels, *, cv=5, random_state: int = 0,
                   groups=None, tuning_rows=None, sample_weight=None) -> pd.DataFrame:
    """K-fold cross-validation: one row per fold (macro/micro F1, F1 per label) and a mean row.

    Each fold clones and fits ``estimator`` on the other folds, so thresholds and calibration
    are learned without seeing the fold they are scored on. ``groups`` (e.g. article ids) keeps
    each group in one fold, and is passed on to the estimator's own ``fit``; copies of one text
    (case, punctuation and white space ignored) always share a fold. ``tuning_rows``
    (one bool per text) is passed on to ``fit`` for each training part, and only those rows of
    each fold are scored: the rows picked rather than sampled would not measure ordinary text.
    ``sample_weight`` (one non-negative number per text) weights the rows in each fold's
    ``fit``, as it would in the final model's; the held-out rows are scored unweighted.
    ``cv`` is the number of folds, which ``random_state`` seeds the dealing of texts (or groups)
    to; or your own folds: a scikit-learn splitter (``GroupKFold()``, ``PredefinedSplit(...)``
    for a fixed split by date or source) or an iterable of (train, test) index pairs, kept as
    given — a scored text with a copy in its fold's training part, or a group on both sides,
    is warned of. ``labels`` are label lists, a 0/1 DataFrame, or the 0/1 matrix ``fit`` takes with
    ``label_names``. For precision, recall and PR-AUC too, gather out-of-fold probabilities with
    ``sklearn.model_selection.cross_val_predict(..., method="predict_proba")`` and score them
    with :func:`score_predictions`.
    """
    from .classifier import (SUSPECT_ROW_WARNINGS, ThreatClassifier, check_paired, check_sample_weight, check_texts,
                             check_tuning_rows, warn_about_misspelt_label, warn_about_suspect_rows)
    from .folds import check_groups, cv_folds, given_folds, text_hashes
    from .labels import MISSPELT_LABEL_WARNING

    if not isinstance(estimator, ThreatClassifier):  # found before a fold is trained, not after
        raise TypeError(f"cross_validate needs a ThreatClassifier (each fold trains a clone of it), got {type(estimator).__name__}"
                        + (" (a Pipeline: use sklearn.model_selection.cross_val_predict(..., method='predict_proba') and "
                           "score its probabilities, cut at your thresholds, with threatclf.score_predictions)" if hasattr(estimator, "steps") else ""))
    check_paired(texts, labels=labels, groups=groups, tuning_rows=tuning_rows, sample_weight=sample_weight)
    texts = check_texts(texts)  # checked whole, so that a bad row is named by its place in the data, not a fold's
    own_folds = not isinstance(cv, numbers.Integral) or isinstance(cv, bool)
    if not own_folds and (cv < 2 or cv > len(texts)):
        raise DataError(f"cv must be between 2 and the number of texts ({len(texts)}), got {cv}")
    if not isinstance(labels, (pd.DataFrame, np.ndarray)):
        labels = list(labels)
    names, Y = estimator._resolve_targets(labels)
    if len(Y) != len(texts):
        raise DataError(f"got {len(texts)} texts but {len(Y)} label rows")
    if tuning_rows is not None:
        tuning_rows = check_tuning_rows(tuning_rows, len(texts), "text")
    if groups is not None:
        groups = check_groups(groups, len(texts), None if own_folds else cv)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, len(texts))
    digests = text_hashes(texts)
    if own_folds:
        splits = given_folds(cv, Y, groups=groups, digests=digests)
    else:
        splits = cv_folds(texts, cv, random_state, groups=groups, digests=digests)  # every copy of a text in one fold
    if estimator.label_names is None:
        # every fold learns the data's whole label set, in one order: a label whose examples all
        # fall in one fold is then said to be missing from that fold's training part
        estimator = clone(estimator).set_params(label_names=names)
    warn_about_suspect_rows(texts, Y, digests)  # once, by rows of the data; the folds' fits keep quiet
    warn_about_misspelt_label(names, Y)  # once too
    rows = []
    for fold, (train_idx, test_idx) in enumerate(splits):
        subset = ((lambda idx: labels.iloc[idx]) if isinstance(labels, pd.DataFrame) else
                  (lambda idx: labels[idx]) if isinstance(labels, np.ndarray) else
                  (lambda idx: [labels[i] for i in idx]))
        fit_params = {} if groups is None else {"groups": groups[train_idx]}
        held_out = len(test_idx)
        if sample_weight is not None:
            fit_params["sample_weight"] = sample_weight[train_idx]
        if tuning_rows is not None:
            fit_params["tuning_rows"] = tuning_rows[train_idx]
            test_idx = test_idx[tuning_rows[test_idx]]
            if not len(test_idx):
                raise DataError(f"cross-validation fold {fold} holds no tuning row to score; use fewer folds")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for message in (*SUSPECT_ROW_WARNINGS, MISSPELT_LABEL_WARNING):
                    warnings.filterwarnings("ignore", message=message)
                model = clone(estimator).fit([texts[i] for i in train_idx], subset(train_idx), **fit_params)
        except DataError as exc:
            hint = ("; use fewer folds, or label more" if "no positive example" in str(exc) else
                    f" — that cv is the estimator's own, which each fold's fit splits its part by (cross_validate's "
                    f"is {f'cv={cv}' if not own_folds else f'{len(splits)} folds of its own'}): lower it, label more, or leave the label out" if "fewer positive examples than cv"
                    in str(exc) else "")
            raise DataError(f"cross_validate's fold {fold} (trained without its {held_out:,} texts): {exc}{hint}") from None
        for said in caught:  # said where the caller called cross_validate, with the fold it is about after it
            # (a filter on the start of the message still matches)
            warnings.warn(f"{said.message} (cross_validate's fold {fold})", said.category, stacklevel=2)
        result = _evaluate(model, [texts[i] for i in test_idx], subset(test_idx))  # repeated texts: the user's data
        rows.append({"fold": fold, "macro_f1": result.macro_f1, "micro_f1": result.micro_f1,
                     **{f"f1_{k}": v for k, v in result.per_label["f1"].items()}})
    frame = pd.DataFrame(rows).set_index("fold")
    frame.loc["mean"] = frame.mean()
    return frame

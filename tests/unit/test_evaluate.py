import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

import threatclf
from builders import small_model as build_small_model, tiny_corpus
from threatclf import DataError
from threatclf.evaluate import evaluate_quietly, score_predictions
from threatclf.labels import to_indicator


@pytest.mark.parametrize("truth, predicted, proba, message", [
    (np.zeros((3, 3)), np.zeros((3, 2)), None, r"Y_true has shape \(3, 3\): .* \(3, 2\) for 3 rows of Y_true and 2"),
    (np.zeros((3, 2)), np.zeros((2, 2)), None, r"Y_pred has shape \(2, 2\)"),
    (np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 5)), r"proba has shape \(3, 5\)"),
    (np.zeros((3, 2)), np.full((3, 2), 0.7), None, "Y_pred must hold 0 and 1 only"),
    (np.zeros(3), np.zeros(3), None, r"Y_true has shape \(3,\)")])
def test_score_predictions_refuses_matrices_that_do_not_fit_the_labels(truth, predicted, proba, message):
    # numpy would broadcast them, or fail in its own words; probabilities cast to 0/1 would score quietly
    with pytest.raises(DataError, match=message):
        score_predictions(truth, predicted, proba, ["a", "b"])


def test_score_predictions_per_label_and_averages():
    truth = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    predicted = np.array([[1, 0], [0, 0], [0, 1], [1, 0]])
    proba = np.array([[0.9, 0.1], [0.4, 0.2], [0.2, 0.8], [0.6, 0.3]])
    result = score_predictions(truth, predicted, proba, ["a", "b"])
    assert result.per_label.loc["a", "precision"] == 0.5
    assert result.per_label.loc["a", "recall"] == 0.5
    assert result.per_label.loc["b", "f1"] == 1.0
    assert result.per_label.loc["b", "pr_auc"] == 1.0
    assert result.per_label.loc["a", "support"] == 2
    assert result.macro_f1 == pytest.approx((0.5 + 1.0) / 2)
    assert result.micro_f1 == pytest.approx(f1_score(truth, predicted, average="micro"))


def test_pr_auc_is_undefined_without_positives():
    result = score_predictions(np.zeros((3, 1)), np.zeros((3, 1)), np.full((3, 1), 0.2), ["a"])
    assert np.isnan(result.per_label.loc["a", "pr_auc"])
    assert json.loads(json.dumps(result.to_dict()))["labels"]["a"]["pr_auc"] is None


def test_one_label_model_is_scored_on_its_positives():
    # a one-column 0/1 matrix is a one-label model's truth, not a binary target whose class 0 gets scored
    result = score_predictions(np.array([[1], [0], [1]]), np.array([[1], [1], [0]]), None, ["flood"])
    assert result.per_label.loc["flood", ["precision", "recall", "f1", "support"]].tolist() == [0.5, 0.5, 0.5, 2]
    assert result.macro_f1 == result.micro_f1 == 0.5


def test_label_absent_and_never_predicted_is_undefined_not_zero():
    # "b" has no positive and no prediction: nothing to score, so it must not pull macro F1 to 0.5
    truth = np.array([[1, 0, 0], [0, 0, 0], [1, 0, 0]])
    predicted = np.array([[1, 0, 0], [0, 0, 1], [1, 0, 0]])
    result = score_predictions(truth, predicted, None, ["a", "b", "c"])
    assert result.per_label.loc["b", ["precision", "recall", "f1"]].isna().all()
    assert result.per_label.loc["c", "f1"] == 0.0  # predicted where absent: a real error
    assert result.macro_f1 == pytest.approx((1.0 + 0.0) / 2)
    figures = json.loads(json.dumps(result.to_dict()))
    assert figures["labels"]["b"]["f1"] is None and figures["macro_f1"] == pytest.approx(0.5)
    table = result.to_table().splitlines()
    assert [line.split()[1:4] for line in table if line.startswith("b ")] == [["n/a", "n/a", "n/a"]]
    nothing = score_predictions(np.zeros((2, 1)), np.zeros((2, 1)), None, ["a"])
    assert np.isnan(nothing.macro_f1) and nothing.to_dict()["macro_f1"] is None and "n/a" in nothing.to_table()


def test_precision_without_predictions_and_recall_without_positives_are_undefined():
    # "a" is present but never predicted (precision has nothing to measure); "b" is predicted
    # but absent (recall has nothing to find): n/a, not a measured 0; F1 is 0 for both
    truth = np.array([[1, 0], [1, 0], [0, 0]])
    predicted = np.array([[0, 0], [0, 1], [0, 0]])
    result = score_predictions(truth, predicted, None, ["a", "b"])
    assert np.isnan(result.per_label.loc["a", "precision"]) and result.per_label.loc["a", "recall"] == 0.0
    assert result.per_label.loc["b", "precision"] == 0.0 and np.isnan(result.per_label.loc["b", "recall"])
    assert result.per_label["f1"].tolist() == [0.0, 0.0] and result.macro_f1 == 0.0
    rows = {line.split()[0]: line.split()[1:4] for line in result.to_table().splitlines()[1:3]}
    assert rows == {"a": ["n/a", "0.000", "0.000"], "b": ["0.000", "n/a", "0.000"]}
    assert result.to_dict()["labels"]["b"]["recall"] is None


def test_model_card_and_info_show_undefined_figures_as_n_a(small_model, tmp_path, capsys):
    from threatclf.cli import main

    texts = ["Militants bombed the market.", "A sunny day at the beach."]
    dev = threatclf.evaluate(small_model, texts, [["terrorism"], []])
    folder = small_model.save(tmp_path / "m", metrics={"dev": dev.to_dict()})
    undefined = [lab for lab in small_model.labels_ if np.isnan(dev.per_label.loc[lab, "f1"])]
    assert undefined  # labels neither in these two texts nor predicted for them
    card = (folder / "README.md").read_text()
    assert all(f"| {lab} | n/a | n/a | n/a | n/a | 0 |" in card for lab in undefined)
    assert main(["info", "--model", str(folder)]) == 0
    assert f"{undefined[0]} n/a" in capsys.readouterr().out


def test_evaluate_matches_predict(small_model):
    texts, labels = tiny_corpus(repeats=1)
    with pytest.warns(UserWarning, match="training data"):
        result = threatclf.evaluate(small_model, texts, labels)
    predicted = small_model.predict_indicator(texts)
    truth = threatclf.labels.to_indicator(labels, small_model.labels_)
    assert result.macro_f1 == pytest.approx(f1_score(truth, predicted, average="macro", zero_division=0))
    assert list(result.per_label.index) == small_model.labels_
    assert "threshold" in result.per_label
    table = result.to_table()
    assert "macro F1" in table and "foreign_influence" in table
    assert json.loads(result.to_json())["macro_f1"] == pytest.approx(result.macro_f1)


def test_evaluate_warns_when_the_texts_were_in_the_training_data(small_model):
    texts, labels = tiny_corpus()
    with pytest.warns(UserWarning, match="6 of 6 texts were in the model's training data"):
        on_training = threatclf.evaluate(small_model, texts[:6], labels[:6])
    assert on_training.extra["seen_in_training"] == 6
    assert "6 of 6 texts were in the model's training data" in on_training.to_table()
    fresh = threatclf.evaluate(small_model, ["The minister took bribes from a builder.", "It rained all week."],
                               [["corruption"], []])
    assert fresh.extra["seen_in_training"] == 0 and "WARNING" not in fresh.to_table()
    assert json.loads(fresh.to_json())["seen_in_training"] == 0


@pytest.mark.filterwarnings("ignore:.*training data:UserWarning")
def test_evaluate_accepts_an_indicator_frame(small_model):
    texts, labels = tiny_corpus(repeats=1)
    frame = pd.DataFrame(threatclf.labels.to_indicator(labels, small_model.labels_), columns=small_model.labels_)
    assert threatclf.evaluate(small_model, texts, frame).macro_f1 == threatclf.evaluate(small_model, texts, labels).macro_f1


def test_evaluate_checks_an_indicator_frame(small_model):
    texts, labels = tiny_corpus(repeats=1)
    frame = pd.DataFrame(threatclf.labels.to_indicator(labels, small_model.labels_), columns=small_model.labels_)
    with pytest.raises(DataError, match="labels the model does not know: \\['x'\\]"):
        threatclf.evaluate(small_model, texts, frame.assign(x=0))
    holey = frame.astype(float)
    holey.iloc[0, 0] = np.nan
    with pytest.raises(DataError, match="only 0/1"):
        threatclf.evaluate(small_model, texts, holey)


@pytest.mark.parametrize("texts, labels, message", [
    ([], [], "empty"),
    (["a"], [[], []], "1 texts but 2 label rows"),
    (["a"], [["sports"]], r"unknown label 'sports'.*; to score data labelled with other names, map them: label_map="),
])
def test_evaluate_errors(small_model, texts, labels, message):
    with pytest.raises(DataError, match=message):
        threatclf.evaluate(small_model, texts, labels)


def test_cross_validate_reports_each_fold_and_the_mean():
    texts, labels = tiny_corpus(repeats=3)
    estimator = threatclf.ThreatClassifier(min_df=1, cv=2, features="word")
    frame = threatclf.cross_validate(estimator, texts, labels, cv=3)
    assert list(frame.index) == [0, 1, 2, "mean"]
    assert frame.loc["mean", "macro_f1"] == pytest.approx(frame.loc[[0, 1, 2], "macro_f1"].mean())
    assert {"micro_f1", "f1_terrorism", "f1_foreign_influence"} <= set(frame.columns)
    assert frame.loc["mean", "macro_f1"] > 0.5
    assert not hasattr(estimator, "coef_")  # the estimator itself is left unfitted (clones are fitted)


def test_a_label_matrix_scores_as_the_label_lists_it_stands_for():
    # fit takes a 0/1 matrix with label_names; evaluating and selecting models take it too, in
    # the order label_names declared (a bare matrix for a model fitted without is refused: test_classifier)
    small_model = build_small_model(label_names=list(threatclf.DEFAULT_LABELS))
    texts, labels = tiny_corpus()
    matrix = to_indicator(labels, small_model.labels_)
    assert threatclf.evaluate(small_model, texts, matrix).to_dict() == threatclf.evaluate(
        small_model, texts, labels).to_dict()
    assert small_model.score(texts, matrix) == small_model.score(texts, labels)
    texts, labels = tiny_corpus(repeats=3)
    matrix = to_indicator(labels, small_model.labels_)
    estimator = threatclf.ThreatClassifier(min_df=1, cv=2, features="word", label_names=list(small_model.labels_))
    pd.testing.assert_frame_equal(threatclf.cross_validate(estimator, texts, matrix, cv=3),
                                  threatclf.cross_validate(estimator, texts, labels, cv=3))
    with pytest.raises(DataError, match=r"one column per model label, in the order \['terrorism'"):
        threatclf.evaluate(small_model, texts, matrix[:, :2])
    with pytest.raises(DataError, match="must hold 0/1"):
        threatclf.evaluate(small_model, texts, matrix * 2)
    # a 2-D array of label names is label lists of equal length, not a matrix
    names = np.array([["terrorism"], ["corruption"], ["terrorism"]])
    assert threatclf.evaluate(small_model, texts[:3], names).to_dict() == threatclf.evaluate(
        small_model, texts[:3], [["terrorism"], ["corruption"], ["terrorism"]]).to_dict()


def test_cross_validate_names_what_it_needs_before_training_a_fold():
    from sklearn.pipeline import make_pipeline
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, labels = tiny_corpus(repeats=3)
    with pytest.raises(TypeError, match=r"needs a ThreatClassifier \(each fold trains a clone of it\), got Pipeline .*cross_val_predict"):
        threatclf.cross_validate(make_pipeline(TfidfVectorizer(), LogisticRegression()), texts, labels, cv=3)


def test_the_pipeline_advice_names_a_function_that_scores_its_predictions(small_model):
    from sklearn.pipeline import Pipeline

    for call in (lambda: threatclf.evaluate(Pipeline([("clf", small_model)]), ["Rain."], [[]]),
                 lambda: threatclf.cross_validate(Pipeline([("clf", small_model)]), ["Rain."] * 4, [[]] * 4, cv=2)):
        with pytest.raises(TypeError, match=r"threatclf\.score_predictions\)") as error:
            call()
        advised = getattr(threatclf, re.search(r"threatclf\.(\w+)\)", str(error.value)).group(1))  # the advice
        texts, labels = tiny_corpus()
        truth = to_indicator(labels, small_model.labels_)
        result = advised(truth, small_model.predict_indicator(texts), small_model.predict_proba(texts).to_numpy(),
                         small_model.labels_)
        with pytest.warns(UserWarning, match="in the model's training data"):
            expected = threatclf.evaluate(small_model, texts, labels)
        assert result.macro_f1 == pytest.approx(expected.macro_f1)
    # the README's way: out-of-fold probabilities of a Pipeline, cut and scored
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    texts, labels = tiny_corpus(repeats=2)
    names = list(small_model.labels_)
    Y = to_indicator(labels, names)
    pipe = make_pipeline(FunctionTransformer(list), threatclf.ThreatClassifier(min_df=1, cv=3, label_names=names))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few examples per fold
        P = cross_val_predict(pipe, np.array(texts, dtype=object), Y, cv=3, method="predict_proba")
    scored = threatclf.score_predictions(Y, P >= 0.5, P, names)
    assert scored.per_label.shape[0] == len(names) and 0 < scored.macro_f1 <= 1


def test_cross_validate_checks_folds():
    with pytest.raises(DataError, match="cv must be between 2"):
        threatclf.cross_validate(threatclf.ThreatClassifier(), ["a", "b"], [[], []], cv=5)


def test_cross_validate_with_groups_keeps_each_group_in_one_fold():
    texts, labels = tiny_corpus()
    n = len(texts)
    # Each text and a near copy, as two passages of one article: ungrouped folds score a passage
    # with its twin in training.
    twins, twin_labels = texts + [f"{text} More." for text in texts], labels + labels
    groups = [f"a{i}" for i in range(n)] * 2
    estimator = threatclf.ThreatClassifier(min_df=1, cv=2, features="word")
    leaky = threatclf.cross_validate(estimator, twins, twin_labels, cv=3)
    grouped = threatclf.cross_validate(estimator, twins, twin_labels, cv=3, groups=groups)
    assert grouped.loc["mean", "macro_f1"] < leaky.loc["mean", "macro_f1"]
    with pytest.raises(DataError, match="fewer than cv=3"):
        threatclf.cross_validate(estimator, twins, twin_labels, cv=3, groups=["a", "b"] * n)


def test_cross_validate_takes_folds_of_your_own_and_scores_them_as_given():
    from sklearn.model_selection import GroupKFold, PredefinedSplit

    texts, labels = tiny_corpus(repeats=3)
    n = len(texts)
    estimator = threatclf.ThreatClassifier(min_df=1, cv=2, features="word")
    # a fixed split (e.g. by date): fold 0 trains on the first two thirds and scores the rest
    test = np.arange(2 * n // 3, n)
    frame = threatclf.cross_validate(estimator, texts, labels, cv=[(np.arange(2 * n // 3), test)])
    assert list(frame.index) == [0, "mean"]
    by_hand = threatclf.evaluate(threatclf.ThreatClassifier(min_df=1, cv=2, features="word").fit(
        texts[:2 * n // 3], labels[:2 * n // 3]), texts[2 * n // 3:], labels[2 * n // 3:])
    assert frame.loc[0, "macro_f1"] == pytest.approx(by_hand.macro_f1)
    # a boolean mask is a side too; PredefinedSplit's rows marked -1 are never scored
    mask = np.zeros(n, dtype=bool)
    mask[test] = True
    assert threatclf.cross_validate(estimator, texts, labels, cv=[(~mask, mask)]).loc[0, "macro_f1"] == pytest.approx(
        by_hand.macro_f1)
    assert threatclf.cross_validate(estimator, texts, labels, cv=PredefinedSplit(np.where(mask, 0, -1))).loc[
        0, "macro_f1"] == pytest.approx(by_hand.macro_f1)
    # a splitter is given the groups: GroupKFold keeps each in one fold, as cv=3 with groups does
    groups = [f"g{i % 7}" for i in range(n)]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="cv's folds")  # no group on both sides, nothing to warn of
        grouped = threatclf.cross_validate(estimator, texts, labels, cv=GroupKFold(n_splits=3), groups=groups)
    assert list(grouped.index) == [0, 1, 2, "mean"]


def test_cross_validate_warns_when_your_folds_score_a_text_they_trained_on():
    from sklearn.model_selection import KFold

    texts, labels = tiny_corpus(repeats=2)
    estimator = threatclf.ThreatClassifier(min_df=1, cv=2, features="word")
    with pytest.warns(UserWarning, match=r"cv's folds score \d+ scored texts with a copy in their fold's training part"):
        threatclf.cross_validate(estimator, texts + [t.upper() for t in texts], labels * 2,
                                 cv=KFold(3, shuffle=True, random_state=0))
    groups = [f"g{i % 5}" for i in range(len(texts))]
    with pytest.warns(UserWarning, match=r"cv's folds score \d+ scored rows whose group is in their fold's training part"):
        threatclf.cross_validate(estimator, texts, labels, cv=KFold(3), groups=groups)  # KFold ignores groups


@pytest.mark.parametrize("cv, error, message", [
    ("StratifiedKFold", DataError, r"cv=StratifiedKFold cannot split these rows: .*multilabel"),
    ([([0, 1, 2], [2, 3])], DataError, r"cv's fold 0 has row 2 in both its training and test parts"),
    ([([0, 1], [99])], DataError, r"cv's fold 0 \(test\): row index 99 is outside 0\.\.\d+"),
    ([([0, 1], [])], DataError, r"cv's fold 0 has an empty test part"),
    ([([0, 1], [2, 2])], DataError, r"cv's fold 0 \(test\): a row is listed twice"),
    ([([0.5], [2])], DataError, r"cv's fold 0 \(train\): expected a 1-D array of row indices, got float64"),
    ([[0, 1, 2]], DataError, r"cv's fold 0 is not a \(train, test\) pair"),
    ([], DataError, "gave no folds"),
    (2.5, TypeError, "cv must be a number of folds, a scikit-learn splitter or an iterable"),
    ("5", TypeError, "cv must be a number of folds, .* got str"),
    (True, TypeError, "got bool")])
def test_cross_validate_refuses_folds_it_cannot_use(cv, error, message):
    from sklearn.model_selection import StratifiedKFold

    texts, labels = tiny_corpus(repeats=2)
    cv = StratifiedKFold(3) if cv == "StratifiedKFold" else cv
    with pytest.raises(error, match=message):
        threatclf.cross_validate(threatclf.ThreatClassifier(min_df=1, cv=2, features="word"), texts, labels, cv=cv)


def test_cross_validate_keeps_copies_of_a_text_in_one_fold():
    texts, labels = tiny_corpus(repeats=3)
    estimator = threatclf.ThreatClassifier(min_df=1, cv=2, features="word")
    once = threatclf.cross_validate(estimator, texts, labels, cv=3)
    thrice = threatclf.cross_validate(estimator, texts * 3, labels * 3, cv=3)
    # each fold scores texts none of whose copies were trained on: about the figure of the single
    # texts, not the near-perfect one of scoring texts seen in training
    assert thrice.loc["mean", "macro_f1"] < once.loc["mean", "macro_f1"] + 0.1
    assert thrice.loc["mean", "macro_f1"] < 0.95


def test_cross_validate_passes_tuning_rows_on_and_scores_only_them(monkeypatch):
    import sys

    evaluate_module = sys.modules["threatclf.evaluate"]  # the package's name `evaluate` is the function
    texts, labels = tiny_corpus(repeats=3)
    picked = [f"Picked passage number {i} about a bomb and a gang." for i in range(9)]
    texts, labels = texts + picked, labels + [["terrorism"]] * 9
    tune = np.arange(len(texts)) < len(texts) - len(picked)
    scored, fitted = [], []
    real_evaluate, real_fit = evaluate_module._evaluate, threatclf.ThreatClassifier.fit
    monkeypatch.setattr(evaluate_module, "_evaluate", lambda model, t, y: scored.extend(t) or real_evaluate(model, t, y))
    monkeypatch.setattr(threatclf.ThreatClassifier, "fit",
                        lambda self, X, y, **kw: fitted.append(kw["tuning_rows"]) or real_fit(self, X, y, **kw))
    estimator = threatclf.ThreatClassifier(min_df=1, cv=2, features="word")
    frame = threatclf.cross_validate(estimator, texts, labels, cv=3, tuning_rows=tune)
    assert sorted(scored) == sorted(texts[:len(texts) - len(picked)])  # every tuning row once, no picked row
    assert [len(mask) for mask in fitted] == [len(texts) - len(texts) // 3] * 3
    assert sum(int((~mask).sum()) for mask in fitted) == 2 * len(picked)  # each picked row trains in two folds
    assert list(frame.index) == [0, 1, 2, "mean"]
    with pytest.raises(DataError, match="tuning_rows must be one bool per text"):
        threatclf.cross_validate(estimator, texts, labels, cv=3, tuning_rows=[1] * len(texts))


def test_cross_validate_weights_each_folds_fit_and_scores_unweighted(monkeypatch):
    import sys

    evaluate_module = sys.modules["threatclf.evaluate"]
    texts, labels = tiny_corpus(repeats=3)
    weights = np.linspace(0.5, 2.0, len(texts))
    fitted, scored = [], []
    real_evaluate, real_fit = evaluate_module._evaluate, threatclf.ThreatClassifier.fit
    monkeypatch.setattr(evaluate_module, "_evaluate", lambda model, t, y: scored.extend(t) or real_evaluate(model, t, y))
    monkeypatch.setattr(threatclf.ThreatClassifier, "fit",
                        lambda self, X, y, **kw: fitted.append((list(X), kw["sample_weight"])) or real_fit(self, X, y, **kw))
    estimator = threatclf.ThreatClassifier(min_df=1, cv=2, features="word")
    frame = threatclf.cross_validate(estimator, texts, labels, cv=3, sample_weight=weights)
    assert len(fitted) == 3 and list(frame.index) == [0, 1, 2, "mean"]
    weight_of = {}
    for text, weight in zip(texts, weights):
        weight_of.setdefault(text, set()).add(weight)
    for fold_texts, fold_weights in fitted:  # each fold's rows with their own weights
        assert all(w in weight_of[t] for t, w in zip(fold_texts, fold_weights))
    assert sorted(scored) == sorted(texts)  # every row scored once, whatever its weight
    # rows of weight zero train nothing, but are still scored: the model never learns their label
    noisy_texts = texts + [f"The cartel smuggled cocaine and bribed the police in town {i}." for i in range(12)]
    noisy_labels = labels + [["foreign_influence"]] * 12
    zero = np.r_[np.ones(len(texts)), np.zeros(12)]
    monkeypatch.setattr(threatclf.ThreatClassifier, "fit", real_fit)
    plain = threatclf.cross_validate(estimator, noisy_texts, noisy_labels, cv=3)
    weighted = threatclf.cross_validate(estimator, noisy_texts, noisy_labels, cv=3, sample_weight=zero)
    assert weighted.loc["mean", "f1_foreign_influence"] < plain.loc["mean", "f1_foreign_influence"]
    with pytest.raises(DataError, match=r"sample_weight has shape \(3,\)"):
        threatclf.cross_validate(estimator, texts, labels, cv=3, sample_weight=[1, 1, 1])


def test_cross_validate_warns_of_a_misspelt_label_once_with_the_datas_figures():
    texts, labels = tiny_corpus(repeats=3)
    for k in [k for k, names in enumerate(labels) if names == ["terrorism"]][:3]:
        labels[k] = ["terorism"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threatclf.cross_validate(threatclf.ThreatClassifier(min_df=1, cv=2, features="word"), texts, labels, cv=3)
    said = [str(w.message) for w in caught if "spelt almost as" in str(w.message)]
    assert len(said) == 1 and said[0].startswith("label 'terorism' (3 examples) is spelt almost as 'terrorism' (9)")
    assert caught[[str(w.message) for w in caught].index(said[0])].filename == __file__


def test_cross_validate_says_each_folds_fit_warnings_at_the_callers_line_with_the_fold():
    texts, labels = tiny_corpus(repeats=3)  # 12 or fewer positives a label: each fold's fit has under 10
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threatclf.cross_validate(threatclf.ThreatClassifier(min_df=1, cv=2, features="word"), texts, labels, cv=3)
    few = [w for w in caught if "fewer than 10 positive examples" in str(w.message)]
    assert [str(w.message).startswith("labels with fewer than 10") for w in few] == [True] * 3  # filters match
    assert [str(w.message)[-len("(cross_validate's fold 0)"):] for w in few] == [
        f"(cross_validate's fold {k})" for k in range(3)]
    assert {w.filename for w in few} == {__file__}


def test_calibration_error_and_reliability_figures():
    # Two passages at 0.9 (one positive) and two at 0.1 (one positive): observed 0.5 in both
    # bins, so each is off by 0.4 and the calibration error is exactly 0.4.
    result = score_predictions(np.array([[1], [0], [1], [0]]), np.array([[1], [1], [0], [0]]),
                               np.array([[0.9], [0.9], [0.1], [0.1]]), ["a"])
    assert result.calibration_error == pytest.approx(0.4)
    table = threatclf.reliability(np.array([[1], [0], [0], [0]]), np.array([[0.95]] * 4))
    assert table.loc["0.9-1.0", "observed"] == pytest.approx(0.25)
    assert table.loc["0.9-1.0", "mean_predicted"] == pytest.approx(0.95)
    assert table.loc["0.9-1.0", "count"] == 4
    # A probability of exactly 1.0 falls in the last bin, not an eleventh one.
    assert list(threatclf.reliability(np.array([[1]]), np.array([[1.0]])).index) == ["0.9-1.0"]


def test_reliability_called_as_evaluate_is_says_what_it_takes(small_model):
    texts, labels = tiny_corpus()
    with pytest.raises(TypeError, match=r"not a model: reliability\(labels, model.predict_proba\(texts\)\)"):
        threatclf.reliability(small_model, texts, labels)
    with pytest.raises(DataError, match=r"^bins must be a whole number from 1 to 1000, got \[\[.{58}$"):
        threatclf.reliability(labels, small_model.predict_proba(texts), labels)  # not 400 label lists


def test_reliability_bins_have_distinct_names_at_any_count():
    proba = np.linspace(0, 0.999, 200)[:, None]
    truth = (proba > 0.5).astype(int)
    table = threatclf.reliability(truth, proba, bins=20)
    assert table.index.is_unique and len(table) == 20
    assert table.index[1] == "0.05-0.10" and table.loc["0.05-0.10", "count"] == 10


def test_cross_validate_names_the_fold_a_rare_label_is_missing_from():
    # a label whose examples all sit in one group (one article) is absent from that fold's training part
    texts, labels = tiny_corpus()
    texts = texts + ["A clerk forged invoices at the depot.", "The clerk's forged invoices were found."]
    labels = labels + [["fraud"], ["fraud"]]
    groups = [f"g{i}" for i in range(len(texts) - 2)] + ["article-9", "article-9"]
    with pytest.raises(DataError, match=r"cross_validate's fold \d \(trained without its \d+ texts\): label 'fraud' "
                                        r"has no positive example in the training set; use fewer folds"):
        threatclf.cross_validate(threatclf.ThreatClassifier(min_df=1, cv=3, calibrate=False, threshold=0.5),
                                 texts, labels, cv=3, groups=groups)


def test_score_is_macro_f1_and_model_selection_can_use_it(small_model):
    from sklearn.model_selection import GridSearchCV

    texts, labels = tiny_corpus()
    assert small_model.score(texts, labels) == pytest.approx(
        evaluate_quietly(small_model, texts, labels).macro_f1)
    search = GridSearchCV(threatclf.ThreatClassifier(min_df=1, cv=3, calibrate=False, threshold=0.5),
                          {"C": [0.01, 10.0]}, cv=3).fit(texts, labels)
    assert not np.isnan(search.cv_results_["mean_test_score"]).any()
    assert search.best_params_ == {"C": search.cv_results_["params"][int(np.argmax(
        search.cv_results_["mean_test_score"]))]["C"]}


def test_scoring_only_the_labels_the_data_annotates(small_model):
    import copy

    texts = ["Militants bombed the market.", "The mayor took bribes.", "Rain fell on the city."]
    labels = [["terrorism"], ["corruption"], []]
    model = copy.deepcopy(small_model)
    model.thresholds_[model.labels_.index("drug_trafficking")] = 0.0  # given to every text, annotated on none
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        everything = threatclf.evaluate(model, texts, labels)
    assert everything.per_label.loc["drug_trafficking", "f1"] == 0  # counted in macro F1, and said:
    assert any("'drug_trafficking'] have no example in these data but were predicted" in str(w.message)
               for w in caught)
    only = threatclf.evaluate(model, texts, labels, score_labels=["terrorism", "corruption"])
    assert list(only.per_label.index) == ["terrorism", "corruption"]
    assert only.macro_f1 == pytest.approx(everything.per_label.loc[["terrorism", "corruption"], "f1"].mean())
    with pytest.raises(DataError, match=r"the labels to score \(score_labels=, --labels\) must name some of the model's"):
        threatclf.evaluate(model, texts, labels, score_labels=["fraud"])


def test_evaluate_says_what_it_needs_when_given_a_pipeline(small_model):
    from sklearn.pipeline import Pipeline

    with pytest.raises(TypeError, match="needs a fitted ThreatClassifier, got Pipeline .*pass its ThreatClassifier"):
        threatclf.evaluate(Pipeline([("clf", small_model)]), ["Rain."], [[]])


@pytest.mark.parametrize("truth, proba, bins, message", [
    ([[1, 0]], [[0.5, 1.2]], 10, "between 0 and 1"),
    ([[1, 0]], [[0.5, 0.2]], 0, "bins must be a whole number"),
    ([[1, 0]], [[0.5, 0.2], [0.1, 0.1]], 10, "shape"),
    ([[2, 0]], [[0.5, 0.2]], 10, "only 0 and 1"),
])
def test_reliability_checks_its_input(truth, proba, bins, message):
    with pytest.raises(DataError, match=message):
        threatclf.reliability(np.array(truth), np.array(proba), bins=bins)


def test_reliability_allows_rounding_past_one_as_other_libraries_give():
    # fastText's probabilities reach 1.00001: figures, not an error (score_predictions calls reliability)
    table = threatclf.reliability(np.array([[1], [0]]), np.array([[1.00001], [0.0]]))
    assert table.loc["0.9-1.0", "mean_predicted"] == 1.0
    result = score_predictions(np.array([[1], [0]]), np.array([[1], [0]]), np.array([[1.00001], [0.0]]), ["a"])
    assert result.calibration_error == 0.0


def test_reliability_takes_label_lists_with_predict_probas_frame(small_model):
    texts, labels = tiny_corpus()
    proba = small_model.predict_proba(texts)
    expected = threatclf.reliability(to_indicator(labels, small_model.labels_), proba.to_numpy())
    pd.testing.assert_frame_equal(threatclf.reliability(labels, proba), expected)


def test_score_counts_a_label_the_model_never_saw_as_missed_and_empty_agreement_as_perfect(small_model):
    texts, labels = tiny_corpus()
    known = small_model.score(texts, labels)
    with_unseen = small_model.score(texts, [labels[0] + ["piracy"]] + labels[1:])
    scored = evaluate_quietly(small_model, texts, labels).per_label["f1"].dropna()
    assert known == pytest.approx(scored.mean()) and known > 0
    assert with_unseen == pytest.approx(scored.sum() / (len(scored) + 1)) and with_unseen < known
    import copy

    silent = copy.deepcopy(small_model)
    silent.thresholds_[:] = 1.0 + 1e-9  # predicts nothing
    assert silent.score(["Rain fell."], [[]]) == 1.0


def test_score_labels_with_a_frame_holding_only_those_columns(small_model):
    texts = ["Militants bombed the market.", "Rain fell."]
    frame = pd.DataFrame({"terrorism": [1, 0]})
    from_frame = threatclf.evaluate(small_model, texts, frame, score_labels=["terrorism"])
    from_lists = threatclf.evaluate(small_model, texts, [["terrorism"], []], score_labels=["terrorism"])
    assert from_frame.macro_f1 == from_lists.macro_f1 and list(from_frame.per_label.index) == ["terrorism"]


def test_reliability_lines_up_frame_columns_and_takes_nested_lists(small_model):
    texts, labels = tiny_corpus()
    proba = small_model.predict_proba(texts)
    truth = pd.DataFrame(to_indicator(labels, small_model.labels_), columns=small_model.labels_)
    expected = threatclf.reliability(truth.to_numpy(), proba.to_numpy())
    pd.testing.assert_frame_equal(threatclf.reliability(truth[truth.columns[::-1]], proba), expected)
    pd.testing.assert_frame_equal(threatclf.reliability(truth.to_numpy().tolist(), proba), expected)


def test_reliability_refuses_frames_whose_columns_name_other_labels(small_model):
    texts, labels = tiny_corpus()
    proba = small_model.predict_proba(texts)
    truth = pd.DataFrame(to_indicator(labels, small_model.labels_), columns=[f"my_{c}" for c in small_model.labels_])
    with pytest.raises(DataError, match=r"the truth's columns \['my_terrorism', .* are not the labels \['terrorism'"):
        threatclf.reliability(truth, proba)  # paired by position, each column would meet another label's


def test_score_predictions_takes_frames_as_predict_proba_gives_them_matching_columns_by_name(small_model):
    texts, labels = tiny_corpus()
    names = list(small_model.labels_)
    truth = to_indicator(labels, names)
    proba = small_model.predict_proba(texts)  # a DataFrame, columns named by label
    predicted = small_model.predict_indicator(texts)
    expected = score_predictions(truth, predicted, proba.to_numpy(), names)
    result = score_predictions(pd.DataFrame(truth, columns=names), predicted, proba[names[::-1]], names)
    pd.testing.assert_frame_equal(result.per_label, expected.per_label)
    assert result.macro_f1 == expected.macro_f1
    with pytest.raises(DataError, match=r"proba's columns \['p0', 'p1'.* are not the labels"):
        score_predictions(truth, predicted, proba.set_axis([f"p{k}" for k in range(len(names))], axis=1), names)


def test_a_label_map_scores_data_labelled_with_other_names(small_model):
    texts, labels = tiny_corpus(repeats=1)
    theirs = {"terrorism": "terror", "drug_trafficking": "narcotics", "corruption": "graft"}
    renamed = [[theirs.get(name, "other") for name in row] for row in labels]
    label_map = {"terror": "terrorism", "narcotics": "drug_trafficking", "graft": "corruption", "other": None}
    mapped = threatclf.evaluate(small_model, texts, renamed, label_map=label_map)
    direct = threatclf.evaluate(small_model, texts, labels, score_labels=["terrorism", "drug_trafficking", "corruption"])
    assert list(mapped.per_label.index) == ["terrorism", "drug_trafficking", "corruption"]
    assert mapped.macro_f1 == pytest.approx(direct.macro_f1)
    pd.testing.assert_frame_equal(mapped.per_label, direct.per_label)
    # two names of theirs for one label: the label is given when either is; a DataFrame works alike
    split = pd.DataFrame({"bombs": [int(r == ["terror"] and i % 2 == 0) for i, r in enumerate(renamed)],
                          "attacks": [int(r == ["terror"] and i % 2 == 1) for i, r in enumerate(renamed)]})
    joined = threatclf.evaluate(small_model, texts, split, label_map={"bombs": "terrorism", "attacks": "terrorism"})
    only_terror = threatclf.evaluate(small_model, texts, labels, score_labels=["terrorism"])
    pd.testing.assert_frame_equal(joined.per_label, only_terror.per_label)


def test_a_label_map_to_a_label_the_model_lacks_is_an_error(small_model):
    with pytest.raises(DataError, match=r"maps to labels the model does not have: \{'terror': 'terrorsm'\}"):
        threatclf.evaluate(small_model, ["a"], [["terror"]], label_map={"terror": "terrorsm"})
    with pytest.raises(DataError, match=r"nothing to score; to score labels your data gives under the model's own "
                                        r"names, name them in score_labels \(--labels\)"):
        threatclf.evaluate(small_model, ["a"], [["misc"]], label_map={"misc": None})
    with pytest.raises(DataError, match="unknown label"):  # a name the map leaves out is still checked
        threatclf.evaluate(small_model, ["a"], [["gangs"]], label_map={"terror": "terrorism"})


def test_a_label_map_checks_the_data_in_your_names_first(small_model):
    texts = ["a", "b"]
    frame = pd.DataFrame({"bombs": [1.0, float("nan")], "attacks": [0, 1]})  # merged, the NaN would vanish
    with pytest.raises(DataError, match=r"row 1, column 'bombs' holds nan"):
        threatclf.evaluate(small_model, texts, frame, label_map={"bombs": "terrorism", "attacks": "terrorism"})
    with pytest.raises(DataError, match=r"row 1, column 'attacks' holds -1"):
        threatclf.evaluate(small_model, texts, frame.fillna(0).assign(attacks=[0, -1]),
                           label_map={"bombs": "terrorism", "attacks": "terrorism"})
    with pytest.raises(DataError, match="row 1: labels must be a list of label names, got NoneType"):
        threatclf.evaluate(small_model, texts, [["terror"], None], label_map={"terror": "terrorism"})
    with pytest.raises(DataError, match="row 0: labels must be a list of label names, got str"):
        threatclf.evaluate(small_model, texts, ["terror", []], label_map={"terror": "terrorism"})
    numbered = pd.DataFrame({0: [1, 0], 1: [0, 1]})  # columns read as text, keys too
    result = threatclf.evaluate(small_model, texts, numbered, label_map={0: "terrorism", 1: None})
    assert list(result.per_label.index) == ["terrorism"]


def test_cross_validate_says_whose_cv_a_rare_label_falls_short_of():
    texts, labels = tiny_corpus(repeats=3)
    rare = [names + ["lottery"] if k in (0, 30, 60) else names for k, names in enumerate(labels)]
    with pytest.raises(DataError, match=r"fewer positive examples than cv=3 folds.*that cv is the estimator's own.*"
                                        r"cross_validate's is cv=5"):
        threatclf.cross_validate(threatclf.ThreatClassifier(min_df=1, cv=3), texts, rare, cv=5)


def test_scoring_some_labels_uses_and_reports_their_own_thresholds(small_model):
    texts, labels = tiny_corpus()
    j = small_model.labels_.index("corruption")
    assert j > 0 and small_model.thresholds_[j] != small_model.thresholds_[0]
    result = threatclf.evaluate(small_model, texts, labels, score_labels=["corruption"])
    assert result.per_label.loc["corruption", "threshold"] == small_model.thresholds_[j]
    full = threatclf.evaluate(small_model, texts, labels)
    assert result.per_label.loc["corruption", "f1"] == full.per_label.loc["corruption", "f1"]


def test_undefined_figures_stay_undefined():
    every_row = score_predictions(np.ones((3, 1)), np.ones((3, 1)), np.array([[0.2], [0.5], [0.9]]), ["a"])
    assert np.isnan(every_row.per_label.loc["a", "pr_auc"])
    nothing = score_predictions(np.zeros((3, 1)), np.zeros((3, 1)), np.full((3, 1), 0.1), ["a"])
    assert np.isnan(nothing.micro_f1) and np.isnan(nothing.macro_f1)


def test_score_labels_named_twice_are_refused(small_model):
    with pytest.raises(DataError, match="each once"):
        threatclf.evaluate(small_model, ["a"], [[]], score_labels=["terrorism", "terrorism"])


def test_articles_are_scored_as_labelling_them_labels_them(small_model):
    # evaluate scored each text whole; threatclf label cuts an article into passages and gives
    # each label its best passage: on articles of three dev passages the two gave macro F1 0.537
    # and 0.750 (README). articles=True gives the figures of what labelling gives.
    texts, labels = tiny_corpus(repeats=3)
    articles = ["\n\n".join(texts[k:k + 3]) for k in range(0, len(texts) - 2, 3)]
    truth = [sorted({name for names in labels[k:k + 3] for name in names}) for k in range(0, len(texts) - 2, 3)]
    labelled = threatclf.label_dataframe(pd.DataFrame({"text": articles}), small_model, max_words=10)
    names = list(small_model.labels_)
    Y_true, Y_label = to_indicator(truth, names), to_indicator(list(labelled["labels"]), names)
    result = threatclf.evaluate(small_model, articles, truth, articles=True, max_words=10)
    assert result.micro_f1 == pytest.approx(f1_score(Y_true, Y_label, average="micro"))
    f1 = [f1_score(Y_true[:, j], Y_label[:, j]) for j in range(len(names)) if Y_true[:, j].any() or Y_label[:, j].any()]
    assert result.macro_f1 == pytest.approx(np.mean(f1))
    assert result.extra["scored_as"] == "articles: each label's best passage of at most 10 words"
    assert "longer_than_a_passage" not in result.extra
    whole = threatclf.evaluate(small_model, articles, truth, max_words=10)
    assert (whole.micro_f1, whole.macro_f1) != (result.micro_f1, result.macro_f1)  # these articles differ
    assert whole.extra["longer_than_a_passage"] == len(articles) and whole.extra["scored_as"] == "whole texts"
    assert f"note: {len(articles)} of {len(articles)} texts are longer than one passage (10 words) and were scored " \
           "whole" in whole.to_table()
    short = threatclf.evaluate(small_model, texts, labels)  # passages: one each, no note
    assert short.extra["longer_than_a_passage"] == 0 and "note:" not in short.to_table()


def test_articles_without_text_are_scored_as_labelling_labels_them_with_nothing():
    # a label on most training texts: a text with none of the model's words scores above its threshold
    texts = [f"The minister took bribes from contractor {i}." for i in range(14)] + \
            [f"Sunny weather at the football match {i}." for i in range(8)]
    labels = [["corruption"]] * 14 + [[]] * 8
    model = threatclf.ThreatClassifier(min_df=1, cv=3, features="word", label_names=["corruption"]).fit(texts, labels)
    articles = ["", " \u200b\n", "The minister took bribes.", "Sunny weather today."]
    truth = [[], [], ["corruption"], []]
    labelled = threatclf.label_dataframe(pd.DataFrame({"text": articles}), model)
    assert labelled["labels"].tolist()[:2] == [[], []]  # labelling gives an article without text nothing
    Y_label = to_indicator(list(labelled["labels"]), ["corruption"])
    result = threatclf.evaluate(model, articles, truth, articles=True)
    assert result.micro_f1 == pytest.approx(f1_score(to_indicator(truth, ["corruption"]), Y_label, average="micro"))
    assert result.per_label.loc["corruption", "precision"] == pytest.approx(1.0)


def test_evaluate_articles_on_the_command_line(small_model, tmp_path, capsys):
    from threatclf.cli import main

    texts, labels = tiny_corpus(repeats=3)
    rows = [{"text": "\n\n".join(texts[k:k + 3]), "labels": sorted({n for names in labels[k:k + 3] for n in names})}
            for k in range(0, len(texts) - 2, 3)]
    data = tmp_path / "articles.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    folder = small_model.save(tmp_path / "m")
    assert main(["evaluate", str(data), "-m", str(folder), "--articles", "--max-words", "10", "--format", "json"]) == 0
    said = json.loads(capsys.readouterr().out)
    expected = threatclf.evaluate(small_model, [r["text"] for r in rows], [r["labels"] for r in rows], articles=True,
                                  max_words=10)
    assert said["macro_f1"] == pytest.approx(expected.macro_f1) and said["scored_as"] == expected.extra["scored_as"]
    assert main(["evaluate", str(data), "-m", str(folder), "--articles", "--max-words", "0"]) == 2
    assert "--max-words must be an integer >= 1, got 0" in capsys.readouterr().err

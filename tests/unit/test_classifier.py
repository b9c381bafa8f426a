import copy
import re
import unicodedata
import warnings

import numpy as np
import scipy.sparse as sp
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from builders import _TEMPLATES, small_model as build_small_model, tiny_corpus
import threatclf
from threatclf import DataError, ThreatClassifier
from threatclf.folds import cv_folds
from threatclf.labels import to_indicator


def test_predict_returns_label_lists_and_proba_a_frame(small_model):
    texts = ["Militants claimed the bomb attack on the checkpoint.", "The orchestra played baroque music."]
    predicted = small_model.predict(texts)
    assert predicted[0] == ["terrorism"]
    assert predicted[1] == []
    proba = small_model.predict_proba(texts)
    assert isinstance(proba, pd.DataFrame)
    assert list(proba.columns) == small_model.labels_
    assert ((proba >= 0) & (proba <= 1)).all().all()
    assert proba.loc[0, "terrorism"] > proba.loc[1, "terrorism"]


def test_probabilities_and_labels_agree_with_thresholds(small_model):
    texts, _ = tiny_corpus()
    proba = small_model.predict_proba(texts).to_numpy()
    np.testing.assert_array_equal(small_model.predict_indicator(texts), proba >= small_model.thresholds_)


def test_decision_function_is_the_linear_model_over_features(small_model):
    texts = ["Customs seized heroin at the port.", ""]
    X = small_model.transform(texts)
    np.testing.assert_allclose(small_model.decision_function(texts), X @ small_model.coef_.T + small_model.intercept_)


def test_fast_and_reference_engines_agree(small_model):
    texts, _ = tiny_corpus(repeats=1)
    reference = clone(small_model).set_params(engine="reference")
    reference.__dict__.update({k: v for k, v in small_model.__dict__.items() if k.endswith("_")})
    reference._compiled = None
    assert small_model._fast_scorer() is not None and reference._fast_scorer() is None  # two paths compared
    np.testing.assert_allclose(small_model.decision_function(texts), reference.decision_function(texts), atol=1e-9)


def test_weights_assigned_anew_are_scored_and_edits_in_place_refused():
    model = build_small_model()
    texts, _ = tiny_corpus(repeats=1)
    before = model.decision_function(texts)  # builds the compiled path from the fitted weights
    with pytest.raises(ValueError, match="read-only"):  # an edit the compiled path would not see
        model.coef_[:] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        model.intercept_ += 1.0
    np.testing.assert_array_equal(model.decision_function(texts), before)
    model.coef_ = np.zeros_like(model.coef_)
    model.intercept_ = np.full_like(model.intercept_, -5.0)
    np.testing.assert_array_equal(model.decision_function(texts), np.full_like(before, -5.0))
    assert model.predict(texts) == [[] for _ in texts]
    reference = copy.deepcopy(model).set_params(engine="reference")
    np.testing.assert_array_equal(reference.decision_function(texts), model.decision_function(texts))
    edited = build_small_model().coef_.copy()
    model.coef_ = edited  # assigned arrays are frozen too: a later edit in place would go unseen
    with pytest.raises(ValueError, match="read-only"):
        edited[:] = 0.0
    vectorizer = model.vectorizers_[0]  # a vocabulary's weights assigned anew are seen as well
    scores = model.decision_function(texts)
    vectorizer.idf_ = np.where(np.arange(len(vectorizer.idf_)) % 2 == 0, vectorizer.idf_ * 3.0, vectorizer.idf_)
    reference.coef_, reference.vectorizers_ = model.coef_, model.vectorizers_
    assert not np.allclose(model.decision_function(texts), scores)
    np.testing.assert_allclose(model.decision_function(texts), reference.decision_function(texts), atol=1e-9)
    model._evidence_terms()  # the evidence's term names follow a vocabulary assigned anew too
    vectorizer.vocabulary_ = {f"{term}!": column for term, column in vectorizer.vocabulary_.items()}
    assert model._evidence_terms()[0][:len(vectorizer.vocabulary_)].tolist() == sorted(
        vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    loaded = copy.deepcopy(build_small_model())  # a copy (a pickle, a loaded folder) is read-only too
    assert not loaded.coef_.flags.writeable and not loaded.intercept_.flags.writeable


def test_scikit_learns_own_parameter_validation_is_not_overridden():
    from sklearn.base import BaseEstimator

    # threatclf's checks are check_params(); scikit-learn's _validate_params reads _parameter_constraints
    assert getattr(ThreatClassifier, "_validate_params", None) is getattr(BaseEstimator, "_validate_params", None)


def test_labels_property_after_fit(small_model):
    assert small_model.labels == small_model.labels_
    with pytest.raises(NotFittedError):
        ThreatClassifier().labels


def test_failed_refit_keeps_the_previous_model_whole():
    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    before = model.predict(texts)
    model.set_params(threshold={"bogus": 0.5})
    with pytest.raises(ValueError, match="unknown labels"):
        model.fit(texts, [[n for n in names if n != "corruption"] for names in labels])
    model.set_params(threshold="f1")
    assert model.predict(texts) == before


@pytest.mark.parametrize("name", ["a;b", " padded", "floods, storms", "a=b", "fl\nood", "tab\there"])
def test_label_names_that_cannot_round_trip_through_csv_are_refused(name):
    texts, labels = tiny_corpus()
    with pytest.raises(DataError, match="may not contain"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, [[name] if names else [] for names in labels])


def test_rare_label_missing_from_a_fold_is_a_clear_error():
    texts, labels = tiny_corpus()
    labels = [[n for n in names if n != "corruption"] for names in labels]
    labels[0] = labels[0] + ["corruption"]
    labels[1] = labels[1] + ["corruption"]
    # two examples in two documents are dealt to two folds (see test_folds); in one, they cannot be
    groups = ["one"] * 2 + [f"g{i}" for i in range(len(texts) - 2)]
    with pytest.raises(DataError, match=r"labels \['corruption'\] have every positive example in one group, and a "
                                        r"group stays in one fold, so no example is left in the training part of "
                                        r"fold \d of fit's own 2-fold cross-validation .*; spread the label over more "
                                        r"groups, or fit without groups$"):
        ThreatClassifier(min_df=1, cv=2, random_state=3).fit(texts, labels, groups=groups)
    ThreatClassifier(min_df=1, cv=2, random_state=3).fit(texts, labels)


def test_a_label_whose_examples_are_all_copies_of_one_text_says_no_cv_can_help():
    texts, labels = tiny_corpus()
    labels = [[n for n in names if n != "corruption"] for names in labels]
    copies = ["The mayor took bribes!", "the mayor took bribes", "THE MAYOR TOOK BRIBES."]
    texts, labels = texts + copies, labels + [["corruption"]] * len(copies)
    with pytest.raises(DataError, match=r"labels \['corruption'\] have every positive example in copies of one text "
                                        r".*no cv can learn their thresholds; .*threshold=0.5, calibrate=False"):
        ThreatClassifier(min_df=1, cv=2).fit(texts, labels)
    model = ThreatClassifier(min_df=1, cv=2, threshold=0.5, calibrate=False).fit(texts, labels)
    assert "corruption" in model.labels_


def test_learned_attributes_end_in_underscore_and_thresholds_in_range(small_model):
    assert small_model.labels_ == ["terrorism", "organized_crime", "drug_trafficking", "corruption", "foreign_influence"]
    assert small_model.coef_.shape == (5, small_model.get_feature_names_out().shape[0])
    assert ((small_model.thresholds_ > 0) & (small_model.thresholds_ < 1)).all()
    assert small_model.training_fingerprint_["rows"] == len(tiny_corpus()[0])


def test_clone_keeps_params_and_drops_fit(small_model):
    copy = clone(small_model)
    assert copy.get_params() == small_model.get_params()
    with pytest.raises(NotFittedError):
        copy.predict(["x"])


def test_init_only_stores_parameters():
    model = ThreatClassifier(C={"terrorism": 1.0, "*": 5.0}, features="word", model="svm")
    assert model.get_params()["C"] == {"terrorism": 1.0, "*": 5.0}
    assert not [k for k in vars(model) if k.endswith("_")]


@pytest.mark.parametrize("params", [dict(features="word"), dict(features="char"), dict(model="nblogreg"),
                                    dict(model="svm", C=1.0), dict(model="sgd"), dict(calibrate=False)])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_every_feature_set_and_model_learns_the_tiny_corpus(params):
    texts, labels = tiny_corpus()
    # the F1 arg-max cut-offs, which recover the training texts; "auto" (half the best F1) trusts a
    # calibration that 54 texts cannot give NB-LR, whose training texts it then recovers 44 of 54
    # (benchmarks/learning_curve.py measures the rules on held-out passages, from 300 training rows)
    model = ThreatClassifier(min_df=1, cv=3, threshold="f1", **params).fit(texts, labels)
    predicted = model.predict(texts)
    correct = sum(p == sorted(l, key=model.labels_.index) for p, l in zip(predicted, labels))
    assert correct / len(texts) > 0.9


def test_indicator_frame_and_custom_label_set():
    texts, labels = tiny_corpus()
    kept = [[name for name in names if name in ("corruption", "terrorism")] for names in labels]
    indicator = to_indicator(kept, ["corruption", "terrorism"])
    frame = pd.DataFrame(indicator, columns=["bribery", "violence"])
    model = ThreatClassifier(min_df=1, cv=3).fit(texts, frame)
    assert model.labels_ == ["bribery", "violence"]
    assert model.predict(["The mayor was charged with taking bribes."]) == [["bribery"]]


def test_fixed_thresholds_and_per_label_C():
    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3, threshold={"*": 0.4, "terrorism": 0.7},
                             C={"*": 10.0, "corruption": 1.0}).fit(texts, labels)
    assert model.thresholds_[0] == 0.7 and model.thresholds_[1] == 0.4


@pytest.mark.filterwarnings("ignore:labels .* do not rise with the label")  # word features alone miss a toy label
def test_features_per_label_keeps_only_the_k_most_associated_features():
    texts, labels = tiny_corpus()
    k = 25
    model = ThreatClassifier(min_df=1, cv=3, features="word", features_per_label=k).fit(texts, labels)
    nonzero = (model.coef_ != 0).sum(axis=1)
    assert model.coef_.shape[1] > 5 * k and (nonzero <= k).all() and (nonzero > 0).all()
    names = model.get_feature_names_out()
    kept = {names[i] for i in np.flatnonzero(model.coef_[model.labels_.index("corruption")])}
    assert "word:bribes" in kept and not {"word:weather", "word:football"} & kept
    assert "corruption" in model.predict(["The mayor was charged with taking bribes."])[0]
    # k larger than the vocabulary is the same as no selection
    full = ThreatClassifier(min_df=1, cv=3, features="word").fit(texts, labels)
    wide = ThreatClassifier(min_df=1, cv=3, features="word", features_per_label=10**6).fit(texts, labels)
    np.testing.assert_allclose(wide.coef_, full.coef_)


def test_explain_names_the_terms_that_raised_each_label(small_model):
    explanation = small_model.explain("Customs officers seized cocaine at the harbour", top=3)
    terms = [term for term, _ in explanation["drug_trafficking"]]
    assert len(terms) == 3
    assert any("cocaine" in term or "seized" in term for term in terms)
    weights = [w for _, w in explanation["drug_trafficking"]]
    assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)


@pytest.mark.parametrize("X, y, message", [
    ([], [], "empty training set"),
    (["a b", "c d"], [["x"]], "2 texts but 1 label rows"),
    ("one string", [["x"]], "not a single string"),
    ([1, 2], [["x"], []], r"texts\[0\] is int"),
    (["a", "b", "c"], [["x"], ["x"], ["x"]], "on every training example"),
    (["a", "b", "c"], ["x", [], []], "row 0: labels must be a list"),
    (b"police seized", [["x"]], "not a single bytes object; decode it"),
    (None, [["x"]], "got None"),
    (np.array([["a b"], ["c d"]]), [["x"], []], r"array of shape \(2, 1\); pass X.ravel\(\)"),
    (["a b", "c d"], pd.DataFrame([[1, 0], [0, 1]]), r"2 columns are numbered \(0, 1\), not named"),
])
def test_fit_rejects_bad_input_with_clear_errors(X, y, message):
    with pytest.raises(DataError, match=message):
        ThreatClassifier(min_df=1, cv=2).fit(X, y)


def test_label_without_positive_example_is_an_error():
    texts, labels = tiny_corpus()
    only_terrorism = [[name for name in names if name == "terrorism"] for names in labels]
    with pytest.raises(DataError, match="'sports' has no positive example"):
        ThreatClassifier(min_df=1, cv=3, label_names=["terrorism", "sports"]).fit(texts, only_terrorism)


def test_label_with_fewer_positives_than_folds_is_an_error():
    texts, labels = tiny_corpus(repeats=1)
    labels = [l if l != ["corruption"] else [] for l in labels]
    labels[0] = ["corruption"]
    with pytest.raises(DataError, match="fewer positive examples than cv=3"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels)


@pytest.mark.parametrize("params, message", [(dict(model="forest"), "model must be"),
                                             (dict(engine="gpu"), "engine must be"),
                                             (dict(cv=1), "cv must be"),
                                             (dict(features="bytes"), "features must be"),
                                             (dict(features_per_label=0), "features_per_label must be"),
                                             (dict(features_per_label=2.5), "features_per_label must be"),
                                             (dict(calibrate="false"), "calibrate must be True or False"),
                                             (dict(word_ngram_range=(1, 21)), "word_ngram_range must be"),
                                             (dict(char_ngram_range=(0, 3)), "char_ngram_range must be"),
                                             (dict(min_df=0), "min_df must be"),
                                             (dict(n_jobs=0), "n_jobs must be"),
                                             (dict(label_names=["terrorism", "corruption", "terrorism"]),
                                              r"label_names names \['terrorism'\] more than once"),
                                             (dict(class_weight={0: 1, 1: 1e200}), "class_weight values must be"),
                                             (dict(class_weight={"terrorism": 5.0, "*": None}),
                                              "class_weight values must be"),
                                             (dict(class_weight="heavy"), "class_weight values must be"),
                                             # True would be taken for 1 (nothing labelled), False for 0
                                             (dict(threshold=True), "threshold must be"),
                                             (dict(threshold={"*": False}), "threshold must be"),
                                             (dict(threshold=1.5), "threshold must be"),
                                             (dict(threshold=float("nan")), "threshold must be"),
                                             (dict(threshold=[0.5]), "threshold must be"),
                                             (dict(threshold={"*": "f1"}), "threshold must be"),
                                             (dict(max_df="0.9"), "max_df must be"),
                                             (dict(max_df=0.0), "max_df must be"),
                                             (dict(min_df=0.5, max_df=0.2), r"min_df \(0.5\) is above max_df"),
                                             (dict(min_df=5, max_df=3), r"min_df \(5\) is above max_df"),
                                             (dict(max_features=0), "max_features must be"),
                                             (dict(max_features=True), "max_features must be"),
                                             (dict(sublinear_tf="yes"), "sublinear_tf must be True or False"),
                                             (dict(random_state=2**40), "random_state must be"),
                                             (dict(random_state=-1), "random_state must be"),
                                             (dict(random_state="0"), "random_state must be")])
def test_invalid_settings(params, message):
    # each refused before any work: a setting that would only fail later, or at load, or silently
    # mean something else ("false" is true), or leave the solver running for ever
    texts, labels = tiny_corpus()
    with pytest.raises(ValueError, match=message):
        ThreatClassifier(**{"min_df": 1, **params}).check_params()
    with pytest.raises(ValueError, match=message):
        ThreatClassifier(**{"min_df": 1, **params}).fit(texts, labels)


def test_numpy_settings_and_a_none_default_class_weight_are_accepted():
    texts, labels = tiny_corpus(repeats=3)
    model = ThreatClassifier(min_df=1, cv=np.int64(3), class_weight={"terrorism": "balanced", "*": None}).fit(
        texts, labels)
    assert model.thresholds_.shape == (5,)


@pytest.mark.parametrize("weight, message", [(-5.0, "row 0 has -5.0"), (1e150, "row 0 has 1e\\+150"),
                                             (np.nan, "row 0 has nan")])
def test_sample_weights_outside_their_range_are_refused(weight, message):
    texts, labels = tiny_corpus()
    weights = np.ones(len(texts))
    weights[0] = weight
    with pytest.raises(DataError, match=f"sample_weight must lie between 0 and 1e\\+06; {message}"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels, sample_weight=weights)


def test_rows_of_weight_zero_teach_nothing_to_calibration_thresholds_or_naive_bayes():
    texts, labels = tiny_corpus(repeats=3)
    # the same texts with their labels turned round, given weight 0: as if left out
    poison_texts = [f"{t} Again." for t, l in zip(texts, labels) if l in (["terrorism"], [])]
    poison_labels = [[] if l == ["terrorism"] else ["terrorism"] for l in labels if l in (["terrorism"], [])]
    weights = np.r_[np.ones(len(texts)), np.zeros(len(poison_texts))]
    for model in ("logreg", "nblogreg"):
        clean = ThreatClassifier(min_df=1, cv=3, model=model).fit(texts, labels)
        zero = ThreatClassifier(min_df=1, cv=3, model=model).fit(texts + poison_texts, labels + poison_labels,
                                                                 sample_weight=weights)
        assert zero.predict(texts) == clean.predict(texts)
        # terrorism, the label the rows would turn round (the folds differ, so not exactly equal)
        assert zero.thresholds_[0] == pytest.approx(clean.thresholds_[0], abs=0.06)
        assert np.corrcoef(zero.decision_function(texts)[:, 0], clean.decision_function(texts)[:, 0])[0, 1] > 0.95


def test_integer_weights_count_as_repeated_rows_in_naive_bayes_and_feature_selection():
    from sklearn.feature_selection import chi2

    from threatclf.classifier import _chi2, _nb_ratio

    rng = np.random.default_rng(0)
    X = sp.random(60, 40, density=0.2, random_state=0, format="csr")
    y = (rng.random(60) < 0.3).astype(int)
    w = rng.integers(0, 4, 60).astype(float)
    repeated = np.repeat(np.arange(60), w.astype(int))
    np.testing.assert_allclose(_chi2(X, y, w), np.nan_to_num(chi2(X[repeated], y[repeated])[0]))
    np.testing.assert_allclose(_nb_ratio(X, y, sample_weight=w), _nb_ratio(X[repeated], y[repeated]))
    np.testing.assert_allclose(_chi2(X, y, np.ones(60)), chi2(X, y)[0])


def test_predict_proba_keeps_the_index_of_a_series(small_model):
    frame = pd.DataFrame({"text": ["Police seized cocaine from the cartel.", "A concert in the park.",
                                   "A suicide bomber attacked a checkpoint."], "date": [3, 1, 2]}).sort_values("date")
    joined = frame.join(small_model.predict_proba(frame["text"]))
    for _, row in joined.iterrows():
        assert row["terrorism"] == pytest.approx(small_model.predict_proba([row["text"]])["terrorism"][0])
    assert small_model.predict_proba(list(frame["text"])).index.tolist() == [0, 1, 2]


def test_a_label_with_as_many_examples_as_folds_is_learned_whatever_the_seed():
    # before 0.12 the three examples could share a fold (1 seed in 9), and fit failed
    texts, labels = tiny_corpus(repeats=2)
    fraud = ["The clerk forged invoices to skim the fund.", "A forged invoice scheme skimmed the fund.",
             "Invoices were forged and the pension fund skimmed."]
    texts, labels = texts + fraud, labels + [["fraud"]] * 3
    rare = set(range(len(texts) - 3, len(texts)))
    seeds = [seed for seed in range(30)
             if len({k for k, (_, test) in enumerate(cv_folds(texts, 3, seed)) if rare & set(test)}) == 1]
    assert seeds  # the plain folds do gather them for some seeds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # few examples
        model = ThreatClassifier(min_df=1, cv=3, features="word", random_state=seeds[0]).fit(texts, labels)
    assert "fraud" in model.labels_ and 0 < model.thresholds_[model.labels_.index("fraud")] <= 1


def test_texts_and_labels_with_different_pandas_indexes_are_refused(small_model):
    # threatclf pairs by position; a Series sorted apart from its labels would train on the wrong ones
    texts, labels = tiny_corpus(repeats=3)
    frame = pd.DataFrame({"text": texts, "labels": labels})
    Y = pd.DataFrame(to_indicator(labels, small_model.labels_), columns=small_model.labels_)
    shuffled = frame.sample(frac=1.0, random_state=0)
    model = ThreatClassifier(min_df=1, cv=3, features="word")
    for call in (lambda: model.fit(shuffled["text"], frame["labels"]),
                 lambda: model.fit(shuffled["text"], Y),
                 lambda: small_model.score(shuffled["text"], frame["labels"]),
                 lambda: threatclf.evaluate(small_model, shuffled["text"], Y),
                 lambda: threatclf.cross_validate(model, shuffled["text"], frame["labels"], cv=3)):
        with pytest.raises(DataError, match="different indexes, and threatclf pairs them by position"):
            call()
    with pytest.raises(DataError, match="the texts and sample_weight are pandas objects"):
        model.fit(shuffled["text"], list(shuffled["labels"]), sample_weight=pd.Series(1.0, index=frame.index))
    # the same index, or labels that are no pandas object, pair by position as before
    expected = threatclf.evaluate(small_model, list(shuffled["text"]), list(shuffled["labels"])).macro_f1
    assert threatclf.evaluate(small_model, shuffled["text"], shuffled["labels"]).macro_f1 == expected
    assert threatclf.evaluate(small_model, shuffled["text"], list(shuffled["labels"])).macro_f1 == expected
    model.fit(shuffled["text"], shuffled["labels"])


@pytest.mark.parametrize("label_names", [np.array(["terrorism", "fraud"]), pd.Index(["terrorism", "fraud"])])
def test_label_names_given_as_an_array_or_index_save_and_load(label_names, tmp_path):
    texts, labels = tiny_corpus(repeats=3)
    labels = [["fraud"] if l == ["corruption"] else [n for n in l if n == "terrorism"] for l in labels]
    model = ThreatClassifier(min_df=1, cv=3, label_names=label_names).fit(texts, labels)
    loaded = threatclf.load_model(model.save(tmp_path / "m"))
    assert loaded.labels_ == ["terrorism", "fraud"] and loaded.label_names == ["terrorism", "fraud"]
    assert loaded.predict(texts[:3]) == model.predict(texts[:3])


def test_label_names_held_as_numpy_strings_become_plain_strings(tmp_path):
    texts, labels = tiny_corpus(repeats=3)
    labels = [np.array(["fraud"]) if l == ["corruption"] else np.array([], dtype=str) for l in labels]
    model = ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    assert model.labels_ == ["fraud"] and type(model.labels_[0]) is str
    assert threatclf.load_model(model.save(tmp_path / "m")).labels_ == ["fraud"]


def test_label_matrices_with_problems_are_named():
    texts, labels = tiny_corpus()
    frame = pd.DataFrame(to_indicator(labels, threatclf.DEFAULT_LABELS), columns=threatclf.DEFAULT_LABELS)
    doubled = pd.concat([frame, frame[["terrorism"]]], axis=1)
    with pytest.raises(DataError, match=r"several columns named \['terrorism'\]"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, doubled)
    with_na = frame.astype("boolean")
    with_na.iloc[2, 0] = pd.NA
    with pytest.raises(DataError, match="no missing values"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, with_na)
    with pytest.raises(DataError, match="not a sparse matrix: use y.toarray"):
        ThreatClassifier(min_df=1, cv=3, label_names=threatclf.DEFAULT_LABELS).fit(texts, sp.csr_matrix(frame.to_numpy()))


def test_fit_warns_about_labels_with_few_examples():
    texts, labels = tiny_corpus(repeats=2)  # 8-10 positives per label
    with pytest.warns(UserWarning, match=r"fewer than 10 positive examples: \{'terrorism': 8, 'corruption': 8, "
                                         r"'foreign_influence': 8\}; their thresholds and figures are unreliable"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # 12-15 positives: no warning
        ThreatClassifier(min_df=1, cv=3).fit(*tiny_corpus(repeats=3))


def test_label_names_differing_only_in_case_are_warned_about():
    # the rarer spelling's rows count as texts without the other: the warning says so, and where
    texts, labels = tiny_corpus(repeats=3)
    labels = [["Fraud"] if i % 3 == 1 else ["fraud"] for i in range(len(labels))]
    first = next(i for i, names in enumerate(labels) if names == ["Fraud"])
    n = sum(names == ["Fraud"] for names in labels)
    with pytest.warns(UserWarning, match=rf"label 'Fraud' \({n} examples\) differs only in case from 'fraud' "
                                         rf"\({len(labels) - n}\): they are two labels; if it is a typo, correct it: its "
                                         rf"rows count as texts without 'fraud' \(first in row {first} of the labels"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels)


@pytest.mark.parametrize("values", [("0", "1"), ("False", "True"), ("no", "yes")])
def test_the_values_of_a_yes_no_column_are_refused_as_label_names(values):
    # a CSV "labels" column of 0/1 read as label names: every text not about the topic got label "0"
    texts, _ = tiny_corpus(repeats=3)
    labels = [[values[k % 3 == 0]] for k in range(len(texts))]
    with pytest.raises(DataError, match=rf"label names '{values[0]}' and '{values[1]}' are the values of a yes/no "
                                        r"column, not label names: .* leave the others without a label"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    # named by the user, they are the user's labels
    ThreatClassifier(min_df=1, cv=3, label_names=list(values)).fit(texts, labels)


def test_predict_rejects_non_string_items(small_model):
    with pytest.raises(DataError, match=r"texts\[1\] is missing \(None/NaN\)"):
        small_model.predict(["fine", None])


def test_sklearn_estimator_checks_that_apply_to_text():
    # The generic checks feed numeric arrays; those do not apply to a text classifier. These do:
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    )

    est = ThreatClassifier()
    check_no_attributes_set_in_init("ThreatClassifier", est)
    check_parameters_default_constructible("ThreatClassifier", est)
    check_get_params_invariance("ThreatClassifier", est)
    check_set_params("ThreatClassifier", est)
    assert est.__sklearn_tags__().input_tags.string


def test_fit_is_deterministic():
    texts, labels = tiny_corpus()
    a = ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    b = ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.thresholds_, b.thresholds_)


def test_groups_keep_passages_of_one_article_in_one_fold():
    texts, labels = tiny_corpus()
    n = len(texts)
    # Each text and a near copy, as two passages of one article: in one fold, never scored by a
    # model that saw the other.
    near = [f"{text} More." for text in texts]
    groups = [f"a{i}" for i in range(n)] * 2
    twins = ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(texts + near, labels + labels, groups=groups)
    folds = [fold for _, test in cv_folds(texts + near, 3, 0, groups=groups) for fold in [test]]
    assert all(((i in test) == (i + n in test)) for test in folds for i in range(n))
    leaky = ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(texts + near, labels + labels)
    assert not np.allclose(leaky.oof_probabilities_, twins.oof_probabilities_)
    # The final model is trained on every row either way.
    np.testing.assert_array_equal(twins.coef_, leaky.coef_)


def test_copies_of_a_text_share_a_fold_without_groups():
    # A text given three times (white space aside) is scored by a model that saw none of its copies:
    # otherwise out-of-fold figures are near perfect and the thresholds learned from them wrong.
    texts, labels = tiny_corpus()
    n = len(texts)
    copies = texts + [f"  {t}" for t in texts] + [t.replace(" ", "\n") for t in texts]
    for test in (test for _, test in cv_folds(copies, 3, 0)):
        assert all((i in test) == (i + n in test) == (i + 2 * n in test) for i in range(n))
    model = ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(copies, labels * 3)
    np.testing.assert_allclose(model.oof_probabilities_[:n], model.oof_probabilities_[n:2 * n])
    single = ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(texts, labels)
    # the copies' folds are the single texts' folds: the same out-of-fold scores up to the weights
    # learned from three times the rows
    assert np.corrcoef(single.oof_probabilities_.ravel(), model.oof_probabilities_[:n].ravel())[0, 1] > 0.9
    # without repeats the folds are plain shuffled K-fold, as before
    from sklearn.model_selection import KFold

    for (a_train, a_test), (b_train, b_test) in zip(cv_folds(texts, 3, 0),
                                                    KFold(3, shuffle=True, random_state=0).split(texts)):
        np.testing.assert_array_equal(a_test, b_test)


def test_copies_differing_in_case_or_punctuation_share_a_fold_and_are_known_as_seen():
    # the model reads "BOMB, kills 3." and "bomb kills 3" alike: in two folds, one would score the other
    texts, labels = tiny_corpus()
    n = len(texts)
    variants = [t.upper() for t in texts] + [t.replace(",", "").replace(".", " .").replace("'", "\u2019")
                                             for t in texts] + [unicodedata.normalize("NFD", t) for t in texts]
    hyphenated = [re.sub(r"(\w\w\w)(\w\w)", "\\1\u00ad\\2", t) for t in texts]  # as web pages break words
    variants += hyphenated
    for test in (test for _, test in cv_folds(texts + variants, 3, 0)):
        assert all(len({(i + k * n) in test for k in range(5)}) == 1 for i in range(n))
    model = ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(texts, labels)
    assert model.training_fingerprint_["text_hashes"] == "words"
    assert model.seen_in_training([texts[0].upper(), texts[1] + "!!", "never seen at all"]).tolist() == [
        True, True, False]
    assert hyphenated != texts and model.seen_in_training(hyphenated).all()
    assert ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(hyphenated, labels).seen_in_training(texts).all()
    with pytest.warns(UserWarning, match=r"1 training texts repeat an earlier one with other labels \(row 0 and row "
                                         rf"{n}; case, punctuation and white space ignored\)"):
        ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(texts + [texts[0].upper() + "!"],
                                                              labels + [["corruption"]])


def test_models_saved_before_0_8_recognise_their_training_texts_by_white_space_alone():
    from threatclf.folds import _white_space_hashes

    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(texts, labels)
    old = copy.deepcopy(model)  # as 0.7 stored it: no rule named, white-space digests
    del old.training_fingerprint_["text_hashes"]
    old.training_text_hashes_ = np.unique(_white_space_hashes(texts))
    assert old.seen_in_training([texts[0], " " + texts[1] + "\n", texts[2].upper()]).tolist() == [True, True, False]


def test_label_names_written_in_two_unicode_forms_or_named_star_are_refused():
    texts, labels = tiny_corpus()
    composed = "ingérence"
    decomposed = unicodedata.normalize("NFD", composed)
    renamed = [[composed if name == "terrorism" else decomposed if name == "corruption" else name for name in row]
               for row in labels]
    rows = [next(k for k, row in enumerate(renamed) if name in row) for name in (composed, decomposed)]
    with pytest.raises(DataError, match="one name written in two Unicode forms") as refused:
        ThreatClassifier(min_df=1, cv=3).fit(texts, renamed)
    said = str(refused.value)  # both named, with the row of each
    assert f"'ing\\xe9rence' first in row {rows[0]}" in said and f"'inge\\u0301rence' first in row {rows[1]}" in said
    starred = [["*" if name == "terrorism" else name for name in row] for row in labels]
    with pytest.raises(DataError, match="label name '\\*' is taken"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, starred)


@pytest.mark.parametrize("groups, message", [
    (["a", "b"], r"groups has shape \(2,\)"),
    (["a", "b"] * 100, "fewer than cv=3"),
    ([f"a{i}" for i in range(3)] + [None] + [f"a{i}" for i in range(200)], r"no value for 1 rows \(first: row 3\)"),
    ([f"a{i}" for i in range(5)] + [float("nan")] * 2 + [f"a{i}" for i in range(200)], r"no value for 2 rows \(first: row 5\)"),
])
def test_bad_groups_are_clear_errors(groups, message):
    texts, labels = tiny_corpus()
    groups = groups[:len(texts)] if len(groups) > 2 else groups
    with pytest.raises(DataError, match=message):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels, groups=groups)


def test_lone_surrogate_texts_train_and_are_recognised_later():
    texts, labels = tiny_corpus()
    odd = texts[0] + " \udc80"
    model = ThreatClassifier(min_df=1, cv=3).fit(texts + [odd], labels + [labels[0]])
    assert model.seen_in_training([odd, "never seen at all"]).tolist() == [True, False]


@pytest.mark.parametrize("C", [0, -1.0, 1e300, float("nan"), "10", True, {"terrorism": 0}])
def test_C_out_of_range_is_refused_before_training(C):
    texts, labels = tiny_corpus()
    with pytest.raises((ValueError, DataError), match="C must"):
        ThreatClassifier(min_df=1, cv=3, C=C).fit(texts, labels)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_model_setting_chooses_the_linear_model():
    # Each `model` fits what it names on the same features: logreg is scikit-learn's logistic
    # regression on transform(texts), logreg+nblogreg the mean of logreg's and nblogreg's weights,
    # and the five settings give five different weight vectors.
    from sklearn.linear_model import LogisticRegression

    texts, labels = tiny_corpus()
    fits = {name: ThreatClassifier(min_df=1, model=name, calibrate=False, threshold=0.5, C=1.0).fit(texts, labels)
            for name in ("logreg", "nblogreg", "logreg+nblogreg", "svm", "sgd")}
    X = fits["logreg"].transform(texts)
    y = to_indicator(labels, fits["logreg"].labels_)[:, 0]
    reference = LogisticRegression(C=1.0, class_weight="balanced", solver="liblinear", max_iter=1000).fit(X, y)
    np.testing.assert_allclose(_dense(fits["logreg"].coef_)[0], reference.coef_[0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(_dense(fits["logreg+nblogreg"].coef_),
                               (_dense(fits["logreg"].coef_) + _dense(fits["nblogreg"].coef_)) / 2, atol=1e-9)
    weights = [_dense(m.coef_).ravel() for m in fits.values()]
    assert all(not np.allclose(a, b) for i, a in enumerate(weights) for b in weights[i + 1:])


def _dense(coef):
    return coef.toarray() if hasattr(coef, "toarray") else np.asarray(coef)


def test_calibrate_false_gives_the_plain_sigmoid_of_the_decision_function():
    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(texts, labels)
    assert model.calibration_.tolist() == [[1.0, 0.0]] * len(model.labels_)
    probe = ["A bomb exploded at the market.", "The mayor took bribes."]
    np.testing.assert_allclose(model.predict_proba(probe).to_numpy(),
                               1 / (1 + np.exp(-model.decision_function(probe))), rtol=1e-6)


def test_sample_weight_acts_like_a_larger_C_and_its_shape_is_checked():
    # For liblinear's logistic regression, weighting every row by 2 is the same objective as
    # doubling C; a weight vector of the wrong length is refused.
    texts, labels = tiny_corpus()
    settings = dict(min_df=1, model="logreg", calibrate=False, threshold=0.5)
    weighted = ThreatClassifier(C=5.0, **settings).fit(texts, labels, sample_weight=np.full(len(texts), 2.0))
    doubled = ThreatClassifier(C=10.0, **settings).fit(texts, labels)
    plain = ThreatClassifier(C=5.0, **settings).fit(texts, labels)
    np.testing.assert_allclose(_dense(weighted.coef_), _dense(doubled.coef_), rtol=1e-3, atol=1e-4)
    assert not np.allclose(_dense(weighted.coef_), _dense(plain.coef_), rtol=1e-3, atol=1e-4)
    with pytest.raises(DataError, match="sample_weight has shape"):
        ThreatClassifier(**settings).fit(texts, labels, sample_weight=np.ones(3))


def test_class_weight_is_used_per_label_and_as_one_setting():
    texts, labels = tiny_corpus()
    settings = dict(min_df=1, model="logreg", calibrate=False, threshold=0.5)
    balanced = ThreatClassifier(**settings).fit(texts, labels)
    unweighted = ThreatClassifier(class_weight=None, **settings).fit(texts, labels)
    per_label = ThreatClassifier(class_weight={"*": "balanced", "terrorism": None}, **settings).fit(texts, labels)
    assert not np.allclose(_dense(balanced.coef_), _dense(unweighted.coef_))
    j = per_label.labels_.index("terrorism")
    np.testing.assert_allclose(_dense(per_label.coef_)[j], _dense(unweighted.coef_)[j], atol=1e-9)
    others = [k for k in range(len(per_label.labels_)) if k != j]
    np.testing.assert_allclose(_dense(per_label.coef_)[others], _dense(balanced.coef_)[others], atol=1e-9)


@pytest.mark.parametrize("features, prefixes", [("word", {"word"}), ("char", {"char"}), ("word+char", {"word", "char"})])
def test_the_features_setting_chooses_the_feature_blocks(features, prefixes):
    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3, features=features).fit(texts, labels)
    assert {name.split(":", 1)[0] for name in model.get_feature_names_out()} == prefixes


def test_tuning_rows_set_calibration_and_thresholds_while_every_row_trains_the_weights(monkeypatch):
    import threatclf.classifier as classifier_module
    from threatclf.thresholds import f1_optimal_threshold

    texts, labels = tiny_corpus(repeats=3)
    # Rows picked near the boundary (as by active learning): attack reports without terrorism.
    hard = [f"{_TEMPLATES['terrorism'][i % 4]} while {_TEMPLATES[None][i % 6].lower()} ({i})." for i in range(9)]
    texts, labels = texts + hard, labels + [[]] * len(hard)
    tune = np.arange(len(texts)) < len(texts) - len(hard)
    plain = ThreatClassifier(min_df=1, cv=3, threshold="f1").fit(texts, labels)
    Y = to_indicator(labels, plain.labels_)
    calibrated_on = []
    real_fit_sigmoid = classifier_module._fit_sigmoid
    monkeypatch.setattr(classifier_module, "_fit_sigmoid",
                        lambda scores, y, w=None: calibrated_on.append(y.copy()) or real_fit_sigmoid(scores, y, w))
    tuned = ThreatClassifier(min_df=1, cv=3, threshold="f1").fit(texts, labels, tuning_rows=tune)
    np.testing.assert_array_equal(tuned.coef_, plain.coef_)
    assert len(calibrated_on) == Y.shape[1]
    for j, y in enumerate(calibrated_on):
        np.testing.assert_array_equal(y, Y[tune, j])
    expected = np.array([f1_optimal_threshold(Y[tune, j], tuned.oof_probabilities_[tune, j])
                         for j in range(Y.shape[1])])
    blank = tuned.predict_proba([""]).to_numpy()[0]  # a cut-off at or below it is raised just above it
    np.testing.assert_array_equal(tuned.thresholds_, np.where(expected > blank, expected, blank + 1e-6))
    # Without the hard rows the cut-off for terrorism can sit lower.
    assert tuned.thresholds_[0] < f1_optimal_threshold(Y[:, 0], tuned.oof_probabilities_[:, 0])


def test_half_best_f1_thresholds_are_half_the_best_out_of_fold_f1_of_the_tuning_rows():
    from sklearn.metrics import precision_recall_curve

    texts, labels = tiny_corpus(repeats=3)
    tune = np.arange(len(texts)) % 4 != 0
    model = ThreatClassifier(min_df=1, cv=3, threshold="half-best-f1").fit(texts, labels, tuning_rows=tune)
    Y = to_indicator(labels, model.labels_)
    for j in range(Y.shape[1]):
        precision, recall, _ = precision_recall_curve(Y[tune, j], model.oof_probabilities_[tune, j])
        best = np.max(2 * precision * recall / np.maximum(precision + recall, 1e-300))
        assert model.thresholds_[j] == pytest.approx(best / 2)
    # the weights do not depend on how the cut-offs are chosen
    np.testing.assert_array_equal(model.coef_, ThreatClassifier(min_df=1, cv=3).fit(texts, labels).coef_)


@pytest.mark.parametrize("calibrate, rule", [(True, "half-best-f1"), (False, "f1")])
def test_the_default_threshold_rule_is_half_the_best_f1_when_calibrated_and_the_f1_arg_max_otherwise(calibrate, rule):
    texts, labels = tiny_corpus(repeats=3)
    default = ThreatClassifier(min_df=1, cv=3, calibrate=calibrate)
    assert default.get_params()["threshold"] == "auto"
    default.fit(texts, labels)
    named = ThreatClassifier(min_df=1, cv=3, calibrate=calibrate, threshold=rule).fit(texts, labels)
    np.testing.assert_array_equal(default.thresholds_, named.thresholds_)
    if calibrate:  # and not the rule it was before 0.16
        arg_max = ThreatClassifier(min_df=1, cv=3, threshold="f1").fit(texts, labels)
        assert not np.array_equal(default.thresholds_, arg_max.thresholds_)


@pytest.mark.parametrize("params, message", [
    ({"threshold": "half-best-f1", "calibrate": False}, "needs calibrate=True"),
    ({"threshold": "best"}, "threshold must be 'auto', 'f1', 'half-best-f1', a number or a dict"),
])
def test_threshold_rule_problems_are_refused_before_fitting(params, message):
    texts, labels = tiny_corpus()
    with pytest.raises(ValueError, match=message):
        ThreatClassifier(min_df=1, cv=3, **params).fit(texts, labels)


@pytest.mark.parametrize("make_mask, params, message", [
    (lambda n: np.ones(n - 1, dtype=bool), {}, "one bool per training text"),
    (lambda n: np.ones(n, dtype=int), {}, "got dtype int64"),
    (lambda n: np.arange(n) >= n - 5, {}, "no positive \\(or no negative\\) example among the 5 tuning rows: "
                                          "calibration and thresholds cannot be learned from them"),
    # what the message says cannot be learned is what the model would learn from them
    (lambda n: np.arange(n) >= n - 5, {"threshold": 0.5}, "tuning rows: calibration cannot be learned from them"),
    (lambda n: np.arange(n) >= n - 5, {"calibrate": False}, "tuning rows: thresholds cannot be learned from them"),
    (lambda n: np.ones(n, dtype=bool), {"calibrate": False, "threshold": 0.5}, "learns neither"),
])
def test_bad_tuning_rows_are_clear_errors(make_mask, params, message):
    texts, labels = tiny_corpus()
    with pytest.raises(DataError, match=message):
        ThreatClassifier(min_df=1, cv=3, **params).fit(texts, labels, tuning_rows=make_mask(len(texts)))


def test_suspect_training_rows_are_warned_about():
    texts, labels = tiny_corpus()
    texts = texts + [texts[0].replace(" ", "  "), "   "]
    labels = labels + [[] if labels[0] else ["terrorism"], []]
    with pytest.warns(UserWarning) as caught:
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    messages = [str(w.message) for w in caught]
    assert any(f"1 training texts are empty (row {len(texts) - 1}):" in m for m in messages)
    assert any(f"1 training texts repeat an earlier one with other labels (row 0 and row {len(texts) - 2}; " in m
               for m in messages)


def test_a_lone_surrogate_in_training_text_survives_pickle_and_save(tmp_path):
    import pickle

    texts, labels = tiny_corpus()
    texts = [texts[0] + " \ud83d"] + texts[1:]  # a Python str may hold one (e.g. from surrogateescape)
    model = ThreatClassifier(min_df=1, cv=3, features="char").fit(texts, labels)
    again = pickle.loads(pickle.dumps(model))
    loaded = threatclf.load_model(model.save(tmp_path / "m"))
    for other in (again, loaded):
        np.testing.assert_array_equal(other.predict_proba(texts).to_numpy(), model.predict_proba(texts).to_numpy())


def test_settings_given_as_numpy_numbers_save_and_load_without_extra_trust(tmp_path):
    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=np.int64(1), cv=3, max_features=np.int64(400),
                             word_ngram_range=(np.int64(1), np.int64(2))).fit(texts, labels)
    loaded = threatclf.load_model(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(loaded.predict_proba(texts).to_numpy(), model.predict_proba(texts).to_numpy())


def test_a_label_the_scores_do_not_rise_with_is_left_uncalibrated(monkeypatch):
    from threatclf import classifier

    real = classifier._fit_sigmoid
    calls = []

    def reversed_for_the_second_label(scores, y, w=None):
        calls.append(1)
        a, c = real(scores, y, w)
        return (-abs(a), c) if len(calls) % 5 == 2 else (a, c)

    monkeypatch.setattr(classifier, "_fit_sigmoid", reversed_for_the_second_label)
    texts, labels = tiny_corpus(repeats=3)
    with pytest.warns(UserWarning, match=r"do not pick them out .* never assigned \(threshold above 1\)"):
        model = ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    assert model.calibration_[1].tolist() == [1.0, 0.0] and model.calibration_[0, 0] > 0
    # a label not learned is not put on every text by a cut-off near 0: it is never assigned,
    # not even where its probability rounds to 1.0
    assert model.thresholds_[1] > 1.0 and 0 < model.thresholds_[0] < 1
    assert not model.predict_indicator(texts)[:, 1].any()
    model.intercept_ = np.where(np.arange(len(model.intercept_)) == 1, 100.0, model.intercept_)  # every p 1.0
    assert (model.predict_proba(texts)["organized_crime"] == 1.0).all()
    assert not model.predict_indicator(texts)[:, 1].any()
    # a threshold the user fixed is kept
    with pytest.warns(UserWarning, match="left uncalibrated$"):
        fixed = ThreatClassifier(min_df=1, cv=3, threshold=0.5).fit(texts, labels)
    assert fixed.thresholds_.tolist() == [0.5] * 5


def test_an_unlearned_label_is_never_assigned_without_calibration_too():
    texts, labels = tiny_corpus(repeats=3)
    # "noise" on three texts that have nothing in common with each other
    noisy = [names + ["noise"] if i in (0, 17, 40) else names for i, names in enumerate(labels)]
    with pytest.warns(UserWarning, match=r"\['noise'\]: the out-of-fold scores do not pick them out .* never "):
        model = ThreatClassifier(min_df=1, cv=3, calibrate=False).fit(texts, noisy)
    j = model.labels_.index("noise")
    assert model.thresholds_[j] > 1.0 and model.calibration_[j].tolist() == [1.0, 0.0]
    assert not model.predict_indicator(["The weather was fine today.", "A cat sat on the mat."])[:, j].any()


@pytest.mark.parametrize("repeats, rows", [(3, (0, 30, 61)), (8, (37, 156, 162, 182))])
def test_a_label_whose_scores_rise_only_by_chance_is_never_assigned(repeats, rows):
    # "noise" on a few unrelated texts where the out-of-fold scores happen to rise with it: one
    # lucky hit gives a best F1 of 0.12-0.25 and a cut-off near 0 that labels many texts
    from threatclf.thresholds import NEVER, beats_chance

    texts, labels = tiny_corpus(repeats=repeats)
    noisy = [names + ["noise"] if i in rows else names for i, names in enumerate(labels)]
    with pytest.warns(UserWarning, match=r"\['noise'\]: the out-of-fold scores do not pick them out .* no better "
                                         "than shuffled labels"):
        model = ThreatClassifier(min_df=1, cv=3).fit(texts, noisy)
    j = model.labels_.index("noise")
    assert model.calibration_[j, 0] > 0  # the scores do rise with it
    assert not beats_chance(to_indicator(noisy, model.labels_)[:, j], model.oof_probabilities_[:, j])
    assert model.thresholds_[j] == NEVER
    assert not model.predict_indicator(texts)[:, j].any()
    # every real label of the corpus beats chance
    Y = to_indicator(noisy, model.labels_)
    assert all(beats_chance(Y[:, k], model.oof_probabilities_[:, k]) for k in range(len(model.labels_)) if k != j)


def test_rows_of_weight_zero_do_not_reach_any_model_family():
    texts, labels = tiny_corpus(repeats=3)
    extra = [f"{t} Again." for t in texts]
    flipped = [[] if names else ["terrorism"] for names in labels]
    weights = np.r_[np.ones(len(texts)), np.zeros(len(extra))]
    for model in ("sgd", "svm"):
        a = ThreatClassifier(min_df=1, cv=3, model=model).fit(texts + extra, labels + labels, sample_weight=weights)
        b = ThreatClassifier(min_df=1, cv=3, model=model).fit(texts + extra, labels + flipped, sample_weight=weights)
        np.testing.assert_allclose(a.coef_, b.coef_)
        np.testing.assert_allclose(a.thresholds_, b.thresholds_)


def test_the_few_examples_warning_counts_rows_of_weight_above_zero():
    texts, labels = tiny_corpus(repeats=5)  # 20-25 positives per label
    Y = to_indicator(labels, threatclf.DEFAULT_LABELS)
    weights = np.ones(len(texts))
    weights[np.flatnonzero(Y[:, 3])[4:]] = 0.0  # 4 corruption examples of weight above 0
    with pytest.warns(UserWarning, match=r"fewer than 10 positive examples: \{'corruption': 4\}"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels, sample_weight=weights)


def test_a_fold_whose_positives_all_weigh_zero_is_refused():
    texts, labels = tiny_corpus(repeats=3)
    Y = to_indicator(labels, threatclf.DEFAULT_LABELS)
    weights = np.ones(len(texts))
    corruption = np.flatnonzero(Y[:, 3])
    weights[corruption[1:]] = 0.0  # one corruption example of weight above 0: some fold trains without it
    with pytest.raises(DataError, match=r"labels \['corruption'\] have no positive \(or no negative\) example "
                                        r"in the training part of fold \d of fit's own 3-fold cross-validation \(the "
                                        r"one that learns thresholds and calibration\); add examples or lower cv=3$"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels, sample_weight=weights)
    tune = np.ones(len(texts), dtype=bool)
    weights = np.ones(len(texts))
    weights[corruption] = 0.0
    weights[corruption[0]] = 1.0
    tune[corruption[0]] = False  # the tuning rows' corruption examples all weigh 0
    with pytest.raises(DataError, match=r"\['corruption'\] have no positive \(or no negative\) example of weight "
                                        r"above 0 among the \d+ tuning rows"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels, sample_weight=weights, tuning_rows=tune)


@pytest.mark.parametrize("engine", ["auto", "reference"])
def test_no_texts_give_empty_results_on_both_engines(small_model, engine):
    model = copy.deepcopy(small_model).set_params(engine=engine)
    assert model.predict_proba([]).shape == (0, len(model.labels_))
    assert model.predict([]) == [] and model.transform([]).shape == (0, model.coef_.shape[1])


def test_presence_block_adds_a_second_model_and_stays_one_linear_model(tmp_path):
    texts, labels = tiny_corpus()
    plain = ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    off = ThreatClassifier(min_df=1, cv=3, presence_ngram_range=(1, 2), presence_weight=0.0).fit(texts, labels)
    on = ThreatClassifier(min_df=1, cv=3, presence_ngram_range=(1, 2)).fit(texts, labels)
    twice = ThreatClassifier(min_df=1, cv=3, presence_ngram_range=(1, 2), presence_weight=2.0).fit(texts, labels)
    n_main = plain.coef_.shape[1]
    names = on.get_feature_names_out()
    assert names[:n_main].tolist() == plain.get_feature_names_out().tolist()
    assert all(name.startswith("present:") for name in names[n_main:]) and "present:bomb attack" in names
    # weight 0: the TF-IDF model alone, to the last bit; weight 2: the presence weights doubled
    np.testing.assert_array_equal(off.predict_proba(texts).to_numpy(), plain.predict_proba(texts).to_numpy())
    assert not off.coef_[:, n_main:].any() and on.coef_[:, n_main:].any()
    np.testing.assert_allclose(twice.coef_[:, n_main:], 2 * on.coef_[:, n_main:], rtol=1e-12)
    np.testing.assert_array_equal(on.coef_[:, :n_main], plain.coef_)
    # present/absent, not counted: a repeated word scores as one occurrence in the presence block
    X = on.transform(["bomb bomb bomb", "bomb"])[:, n_main:].toarray()
    np.testing.assert_array_equal(X[0], X[1])
    assert set(np.unique(X)) == {0.0, 1.0}
    # the compiled and reference scorers agree, and the block survives a save
    reference = copy.deepcopy(on).set_params(engine="reference")
    np.testing.assert_allclose(reference.predict_proba(texts).to_numpy(), on.predict_proba(texts).to_numpy(), atol=1e-12)
    loaded = threatclf.load_model(on.save(tmp_path / "m"))
    assert tuple(loaded.presence_ngram_range) == (1, 2)
    np.testing.assert_array_equal(loaded.predict_proba(texts).to_numpy(), on.predict_proba(texts).to_numpy())


@pytest.mark.parametrize("settings, message", [
    ({"presence_ngram_range": (2, 1)}, "presence_ngram_range"),
    ({"presence_ngram_range": 2}, "presence_ngram_range"),
    ({"presence_ngram_range": (1, 2), "presence_C": 0}, "presence_C"),
    ({"presence_ngram_range": (1, 2), "presence_weight": -1.0}, "presence_weight"),
])
def test_presence_settings_are_checked(settings, message):
    texts, labels = tiny_corpus()
    with pytest.raises(ValueError, match=message):
        ThreatClassifier(min_df=1, cv=3, **settings).fit(texts, labels)


@pytest.mark.parametrize("texts, message", [
    ({"a": "A bomb exploded."}, r"not a mapping \(dict\); pass list\(d.values\(\)\)"),
    ({"A bomb exploded."}, r"not a set \(set\)"),
    (pd.Series(["A bomb exploded.", pd.NaT], dtype=object), r"texts\.loc\[1\] is missing"),
    (["A bomb exploded.", np.float32("nan")], r"texts\[1\] is missing"),
    (pd.Series(["A bomb exploded.", None]), r"texts\.loc\[1\] is missing \(None/NaN\)"),
    (pd.Series(["A bomb exploded.", "Calm.", None], index=[100, 101, 7]), r"texts\.loc\[7\] is missing"),
    (pd.Series(["A bomb exploded.", 3], index=["a", "b"]), r"texts\.loc\['b'\] is int, expected str"),
    (["A bomb exploded.", float("nan")], r"texts\[1\] is missing"),
    (["A bomb exploded.", 3], r"texts\[1\] is int, expected str"),
])
def test_texts_that_are_not_a_sequence_of_strings_are_named(small_model, texts, message):
    with pytest.raises(DataError, match=message):
        small_model.predict(texts)


def test_classes_name_the_columns_of_the_score_matrices(small_model):
    assert list(small_model.classes_) == small_model.labels_
    texts, labels = tiny_corpus(repeats=1)
    indicator = small_model.predict_indicator(texts)
    assert [list(small_model.classes_[row.astype(bool)]) for row in indicator] == small_model.predict(texts)
    with pytest.raises(NotFittedError):
        ThreatClassifier().classes_


def test_a_bare_label_matrix_is_refused_where_its_column_order_is_unknown(small_model):
    from sklearn.preprocessing import MultiLabelBinarizer

    texts, labels = tiny_corpus(repeats=1)
    sorted_matrix = MultiLabelBinarizer(classes=sorted(small_model.labels_)).fit_transform(labels)
    assert sorted(small_model.labels_) != small_model.labels_  # else the test shows nothing
    for scorer in (small_model.score, lambda t, y: threatclf.evaluate(small_model, t, y)):
        with pytest.raises(DataError, match="does not say which column is which label"):
            scorer(texts, sorted_matrix)
    # in the model's order, named: the figures of the label lists
    named = pd.DataFrame(MultiLabelBinarizer(classes=small_model.classes_).fit_transform(labels),
                         columns=small_model.classes_)
    assert small_model.score(texts, named) == small_model.score(texts, labels)


def test_a_bare_label_matrix_follows_the_label_names_the_model_was_fitted_with():
    texts, labels = tiny_corpus()
    names = sorted(threatclf.DEFAULT_LABELS)
    Y = to_indicator(labels, names)
    model = ThreatClassifier(min_df=1, cv=3, label_names=names).fit(texts, Y)
    assert model.labels_ == names
    assert model.score(texts, Y) == model.score(texts, labels)
    evaluation = threatclf.evaluate(model, texts, Y)
    np.testing.assert_array_equal(evaluation.per_label["support"].to_numpy(), Y.sum(axis=0))


@pytest.mark.parametrize("as_rows", [lambda names: set(names), frozenset, tuple,
                                     lambda names: np.array(names, dtype=object)])
def test_score_counts_a_label_the_model_never_saw_as_missed_whatever_the_row_type(small_model, as_rows):
    texts, labels = tiny_corpus(repeats=1)
    with_unseen = [names + ["spam"] if k == 0 else names for k, names in enumerate(labels)]
    expected = small_model.score(texts, with_unseen)
    assert expected < small_model.score(texts, labels)
    assert small_model.score(texts, [as_rows(names) for names in with_unseen]) == expected


def test_fit_without_y_and_with_number_rows_says_what_to_pass():
    texts, labels = tiny_corpus()
    with pytest.raises(DataError, match="fit needs y"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, None)
    rows = to_indicator(labels, threatclf.DEFAULT_LABELS).tolist()
    with pytest.raises(DataError, match=r"np\.asarray\(y, dtype=int\)"):
        ThreatClassifier(min_df=1, cv=3, label_names=threatclf.DEFAULT_LABELS).fit(texts, rows)


@pytest.mark.parametrize("top", [0, -1, 2.5, True, "3"])
def test_explain_refuses_a_top_that_is_not_a_count(small_model, top):
    with pytest.raises(ValueError, match="top must be a whole number >= 1"):
        small_model.explain("A bomb exploded.", top=top)


def test_svm_with_threads_gives_the_weights_of_a_serial_fit():
    texts, labels = tiny_corpus(repeats=4)
    serial = ThreatClassifier(min_df=1, cv=3, model="svm", random_state=3).fit(texts, labels)
    for _ in range(3):
        threaded = ThreatClassifier(min_df=1, cv=3, model="svm", random_state=3, n_jobs=2).fit(texts, labels)
        np.testing.assert_array_equal(threaded.coef_, serial.coef_)
        np.testing.assert_array_equal(threaded.thresholds_, serial.thresholds_)


def test_score_with_whole_weights_equals_the_score_of_repeated_rows(small_model):
    texts, labels = tiny_corpus(repeats=1)
    texts = texts + ["A bomb exploded at the market.", "Police seized cocaine at the port."]
    labels = labels + [["corruption"], []]  # two mistakes, so weights change the figure
    weights = np.arange(len(texts)) % 3
    repeated = [(t, names) for t, names, w in zip(texts, labels, weights) for _ in range(w)]
    expected = small_model.score([t for t, _ in repeated], [names for _, names in repeated])
    assert small_model.score(texts, labels, sample_weight=weights) == pytest.approx(expected)
    assert small_model.score(texts, labels, sample_weight=np.ones(len(texts))) == small_model.score(texts, labels)
    assert small_model.score(texts, labels, sample_weight=weights) != small_model.score(texts, labels)
    with pytest.raises(DataError, match="sample_weight has shape"):
        small_model.score(texts, labels, sample_weight=weights[:-1])


def test_grid_search_passes_sample_weight_to_score_without_a_warning():
    from sklearn.model_selection import GridSearchCV, KFold

    texts, labels = tiny_corpus(repeats=3)
    search = GridSearchCV(ThreatClassifier(min_df=1, cv=3), {"C": [1.0, 10.0]}, cv=KFold(2, shuffle=True, random_state=0))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*does not support sample_weight.*")
        search.fit(texts, labels, sample_weight=np.ones(len(texts)))
    assert search.best_score_ > 0.5


def test_the_readme_macro_f1_scorer_scores_each_candidate_of_a_search():
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GridSearchCV, KFold
    from sklearn.preprocessing import MultiLabelBinarizer

    texts, labels = tiny_corpus(repeats=3)
    binarizer = MultiLabelBinarizer()
    Y = binarizer.fit_transform(labels)
    estimator = ThreatClassifier(min_df=1, cv=3, label_names=list(binarizer.classes_))
    folds = KFold(2, shuffle=True, random_state=0)
    scorer = lambda clf, X, y: f1_score(y, clf.predict_indicator(X), average="macro")  # noqa: E731 (the README's)
    search = GridSearchCV(estimator, {"C": [0.01, 10.0]}, cv=folds, scoring=scorer).fit(texts, Y)
    scores = search.cv_results_["mean_test_score"]
    by_hand = [f1_score(Y[test], clone(estimator).set_params(C=10.0).fit([texts[i] for i in train], Y[train])
                        .predict_indicator([texts[i] for i in test]), average="macro")
               for train, test in folds.split(texts)]
    assert np.isfinite(scores).all() and scores[1] == pytest.approx(np.mean(by_hand))
    with pytest.warns(UserWarning):  # what the README warns of: "f1_macro" cannot read label lists
        named = GridSearchCV(estimator, {"C": [0.01, 10.0]}, cv=folds, scoring="f1_macro").fit(texts, Y)
    assert np.isnan(named.cv_results_["mean_test_score"]).all()


def test_grid_search_gives_groups_to_fit_with_metadata_routing_as_the_readme_says(monkeypatch):
    import sklearn
    from sklearn.model_selection import GridSearchCV, GroupKFold

    texts, labels = tiny_corpus(repeats=3)
    groups = [f"doc{i // 3}" for i in range(len(texts))]
    given = []
    real_fit = ThreatClassifier.fit

    def fit(self, X, y=None, **kwargs):
        given.append(kwargs.get("groups"))
        return real_fit(self, X, y, **kwargs)

    monkeypatch.setattr(ThreatClassifier, "fit", fit)
    GridSearchCV(ThreatClassifier(min_df=1, cv=3), {"C": [10.0]}, cv=GroupKFold(2)).fit(texts, labels, groups=groups)
    assert given and all(g is None for g in given)  # routing off: the splitter alone gets them
    given.clear()
    with sklearn.config_context(enable_metadata_routing=True):
        estimator = ThreatClassifier(min_df=1, cv=3).set_fit_request(groups=True)
        GridSearchCV(estimator, {"C": [10.0]}, cv=GroupKFold(2)).fit(texts, labels, groups=groups)
    assert given and all(g is not None and set(g) <= set(groups) for g in given)


def test_cross_val_predict_gives_out_of_fold_probabilities_for_a_label_matrix():
    from sklearn.model_selection import KFold, cross_val_predict

    texts, labels = tiny_corpus(repeats=3)
    Y = to_indicator(labels, threatclf.DEFAULT_LABELS)
    estimator = ThreatClassifier(min_df=1, cv=3, label_names=list(threatclf.DEFAULT_LABELS))
    folds = KFold(2, shuffle=True, random_state=0)
    proba = cross_val_predict(estimator, texts, Y, cv=folds, method="predict_proba")
    assert proba.shape == Y.shape
    train, test = next(iter(folds.split(texts)))
    fold_model = clone(estimator).fit([texts[i] for i in train], Y[train])
    np.testing.assert_allclose(proba[test], fold_model.predict_proba([texts[i] for i in test]).to_numpy())


def test_fit_refuses_missing_values_and_joined_labels_unless_the_labels_are_named():
    texts, labels = tiny_corpus(repeats=3)
    rows = [k for k, names in enumerate(labels) if not names][:6]
    for bad, message in (("NA", r"how spreadsheets, R and pandas write a missing value.*\(first in row \d+ of the labels"),
                         ("terrorism corruption", r"joined by white space.*\(first in row \d+ of the labels")):
        changed = [[bad] if k in rows else names for k, names in enumerate(labels)]
        with pytest.raises(DataError, match=message):
            ThreatClassifier(min_df=1, cv=3).fit(texts, changed)
        named = list(threatclf.DEFAULT_LABELS) + [bad]
        model = ThreatClassifier(min_df=1, cv=3, label_names=named).fit(texts, changed)
        assert model.labels_ == named


def test_score_refuses_0_1_rows_given_as_lists():
    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3, label_names=list(threatclf.DEFAULT_LABELS))
    Y = to_indicator(labels, threatclf.DEFAULT_LABELS)
    model.fit(texts, Y)
    assert model.score(texts, Y) == model.score(texts, labels)
    frame = pd.DataFrame(Y, columns=threatclf.DEFAULT_LABELS)
    for rows in (Y.tolist(), list(Y), Y.astype(object), list(Y.astype(bool)), [r for _, r in frame.iterrows()]):
        with pytest.raises(DataError, match="y holds rows of numbers: pass 0/1 labels as a 2-D matrix"):
            model.score(texts, rows)
        with pytest.raises(DataError, match="y holds rows of numbers"):
            clone(model).fit(texts, rows)


@pytest.mark.parametrize("codes", [[[1], [2, 3], []], [[1, 2], [3, 4], [5, 6]], [[np.int64(7)], [], []]])
def test_label_codes_are_refused_as_codes_not_taken_for_a_0_1_matrix(codes):
    # a ragged list, or numbers other than 0/1, is no indicator matrix: np.asarray(y, dtype=int) would not help
    with pytest.raises(DataError, match=r"y row 0 holds numbers \(\[\d+(, \d+)?\]\), not label names; .*label codes"):
        ThreatClassifier().fit(["a bomb", "a bribe", "a cake"], codes)


def test_a_label_the_model_never_saw_in_rows_of_weight_zero_is_not_counted(small_model):
    texts, labels = tiny_corpus(repeats=1)
    weights = np.ones(len(texts))
    weights[0] = 0.0
    with_unseen = [names + ["spam"] if k == 0 else names for k, names in enumerate(labels)]
    assert small_model.score(texts, with_unseen, sample_weight=weights) == small_model.score(
        texts[1:], labels[1:])


def test_cross_validate_names_bad_rows_by_their_place_in_the_data():
    texts, labels = tiny_corpus(repeats=3)
    with pytest.raises(DataError, match=r"texts\[50\] is missing"):
        threatclf.cross_validate(ThreatClassifier(min_df=1, cv=3), texts[:50] + [None] + texts[51:], labels, cv=3)
    with pytest.raises(DataError, match=rf"got {len(texts)} texts but {len(texts) - 1} label rows"):
        threatclf.cross_validate(ThreatClassifier(min_df=1, cv=3), texts, labels[:-1], cv=3)
    empty = texts[:40] + [""] + texts[41:]
    with pytest.warns(UserWarning, match=r"1 training texts are empty.*row 40") as caught:
        threatclf.cross_validate(ThreatClassifier(min_df=1, cv=3), empty, labels, cv=3)
    assert sum("are empty" in str(w.message) for w in caught) == 1
    with pytest.raises(DataError, match="not a single string"):
        threatclf.evaluate(build_small_model(), "A bomb exploded.", [["terrorism"]])


def test_a_probability_exactly_at_its_threshold_is_labelled_everywhere(small_model, tmp_path):
    model = copy.deepcopy(small_model)
    text = "Customs seized heroin at the port."
    proba = model.predict_proba([text]).to_numpy()[0]
    j = model.labels_.index("drug_trafficking")
    model.thresholds_ = model.thresholds_.copy()
    model.thresholds_[j] = proba[j]
    assert model.predict_indicator([text])[0, j] == 1 and "drug_trafficking" in model.predict([text])[0]
    assert threatclf.evaluate(model, [text], [["drug_trafficking"]]).per_label.loc["drug_trafficking", "recall"] == 1
    rows = threatclf.label_dataframe(pd.DataFrame({"id": ["a"], "text": [text]}), model=model, id_col="id",
                                     passages=True)
    assert "drug_trafficking" in rows["labels"].iloc[0]


def test_a_fixed_threshold_outside_0_1_is_refused_at_fit():
    texts, labels = tiny_corpus()
    for bad in (1.5, -0.1, {"terrorism": 2.0, "*": 0.5}):
        with pytest.raises(ValueError, match="between 0 and 1"):
            ThreatClassifier(min_df=1, threshold=bad, calibrate=False).fit(texts, labels)


def test_a_label_whose_positives_all_weigh_zero_is_refused_without_cross_validation():
    texts, labels = tiny_corpus()
    weights = np.array([0.0 if "corruption" in names else 1.0 for names in labels])
    with pytest.raises(DataError, match="label 'corruption' has no positive example of weight above 0"):
        ThreatClassifier(min_df=1, threshold=0.5, calibrate=False).fit(texts, labels, sample_weight=weights)


def test_out_of_fold_figures_count_only_rows_of_weight_above_zero():
    texts, labels = tiny_corpus(repeats=3)
    weights = np.r_[np.ones(len(texts)), np.zeros(len(texts))]
    flipped = [[] if names else ["terrorism"] for names in labels]
    model = ThreatClassifier(min_df=1, cv=3).fit(texts + [f"{t} Again." for t in texts], labels + flipped,
                                                 sample_weight=weights)
    assert model.out_of_fold_figures()["n_samples"] == len(texts)


def test_a_label_name_refused_in_fit_names_its_first_row():
    texts, labels = tiny_corpus()
    changed = [[" corruption"] if k == 5 else names for k, names in enumerate(labels)]
    with pytest.raises(DataError, match=r"label name ' corruption' may not .*\(first in row 5 of the labels, counting from 0"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, changed)



def _separable_corpus():
    """Fixed sentences, so that every label's out-of-fold scores separate perfectly and its
    learned cut-off can sit anywhere in the gap: here "fraud"'s falls below the probability of a
    text with no evidence at all (one label has 8 examples, as a user's rare label might)."""
    subjects = ["The ministry", "A regional bank", "Local police", "The hospital", "A logistics firm",
                "City officials", "The university", "An energy company"]
    cyber = ["said hackers encrypted its servers with ransomware", "reported a malware intrusion on its network",
             "confirmed a data breach through an unpatched VPN", "was hit by a denial of service attack"]
    fraud = ["warned customers about fake invoices asking for transfers", "said scammers impersonated its staff",
             "uncovered an online investment scam", "reported identity theft used to open loans"]
    neutral = ["opened a new office downtown", "published its annual report", "held a public meeting on buses",
               "announced a charity run for spring", "renovated the library", "celebrated its anniversary"]
    texts, labels = [], []
    for k in range(72):
        texts.append(f"{subjects[k % 8]} {cyber[k % 4]}.")
        labels.append(["cyber attack"])
        texts.append(f"{subjects[(k + 3) % 8]} {fraud[k % 4]}.")
        labels.append(["fraud"])
    for k in range(8):
        texts.append(f"{subjects[k]} seized ivory tusks and pangolin scales in a container.")
        labels.append(["wildlife smuggling"])
    for k in range(120):
        texts.append(f"{subjects[k % 8]} {neutral[k % 6]}.")
        labels.append([])
    return texts, labels


UNRELATED = ["", "🙂🙂🙂", "12 34", "Calm day at the library today."]


@pytest.mark.parametrize("threshold", ["f1", "auto"])
def test_no_label_is_learned_to_be_given_to_text_with_none_of_the_models_words(threshold):
    texts, labels = _separable_corpus()
    with pytest.warns(UserWarning, match=r"labels \['fraud'\]: a text with none of the model's words would get "
                                         r"them \(probability 0\.\d{3}, at or above the learned threshold, so the "
                                         r"thresholds are raised to just above it"):
        model = ThreatClassifier(min_df=1, cv=3, threshold=threshold).fit(texts, labels)
    assert (model.predict_proba(UNRELATED).to_numpy() < model.thresholds_).all()
    assert model.predict(UNRELATED) == [[], [], [], []]
    # what has evidence for a label still gets it
    assert model.predict(["A logistics firm said scammers impersonated its staff.",
                          "Local police seized ivory tusks and pangolin scales in a container."]) == [
        ["fraud"], ["wildlife smuggling"]]


def test_a_fixed_threshold_a_text_without_evidence_passes_is_warned_about_and_kept():
    texts, labels = _separable_corpus()
    with pytest.warns(UserWarning, match=r"\['fraud'\]: a text with none.*threshold\): add examples, or raise their "
                                         "thresholds"):
        model = ThreatClassifier(min_df=1, cv=3, threshold=0.3).fit(texts, labels)
    assert (model.thresholds_ == 0.3).all()  # the caller's


def test_numbered_indicator_columns_are_named_by_label_names_in_order():
    # pd.DataFrame(Y) numbers its columns: the error told users to pass label_names, which then failed.
    texts, labels = tiny_corpus()
    names = ["terrorism", "organized_crime", "drug_trafficking", "corruption", "foreign_influence"]
    Y = to_indicator(labels, names)
    by_name = ThreatClassifier(min_df=1, cv=3, label_names=names).fit(texts, pd.DataFrame(Y, columns=names))
    by_position = ThreatClassifier(min_df=1, cv=3, label_names=names).fit(texts, pd.DataFrame(Y))
    np.testing.assert_array_equal(by_position.coef_, by_name.coef_)
    assert by_position.score(texts, pd.DataFrame(Y)) == by_name.score(texts, pd.DataFrame(Y, columns=names))
    for columns in (range(1, 6), [3, 1, 2, 5, 4]):  # numbers, wherever they start: refused alike, named as they are
        shown = ", ".join(map(str, columns))
        with pytest.raises(DataError, match=rf"5 columns are numbered \({shown}\), not named"):
            ThreatClassifier(min_df=1, cv=3).fit(texts, pd.DataFrame(Y, columns=columns))
    with pytest.raises(DataError, match=r"numbered .* \(2 labels\)"):
        ThreatClassifier(min_df=1, cv=3, label_names=names[:2]).fit(texts, pd.DataFrame(Y))
    # labels whose names are numbers, named so, are read by name
    numbered = ThreatClassifier(min_df=1, cv=3, label_names=["5", "1"]).fit(
        texts, pd.DataFrame(Y[:, [4, 0]], columns=[1, 5])[[5, 1]].rename(columns={5: 1, 1: 5}))
    assert numbered.labels_ == ["5", "1"]


def test_score_counts_a_dataframe_column_of_an_unseen_label_as_lists_do(small_model):
    texts, labels = tiny_corpus()
    frame = pd.DataFrame(to_indicator(labels, small_model.labels_), columns=small_model.labels_)
    with_unseen = [names + ["lottery"] if k == 0 else names for k, names in enumerate(labels)]
    as_lists = small_model.score(texts, with_unseen)
    assert as_lists < small_model.score(texts, labels)
    assert small_model.score(texts, frame.assign(lottery=[1] + [0] * (len(texts) - 1))) == as_lists
    assert small_model.score(texts, frame.assign(lottery=0)) == small_model.score(texts, labels)  # no positive: absent
    with pytest.raises(DataError, match=r"no column for labels \['corruption'\].*score_labels"):
        small_model.score(texts, frame.drop(columns="corruption"))


def test_min_df_above_what_a_fold_holds_says_so():
    texts, labels = tiny_corpus()
    with pytest.raises(DataError, match=r"min_df=500 and max_df=1.0 keep no term when fitting on [\d,]+ texts "
                                        r"\(cross-validation fits each fold on about 2/3 of the rows\): lower min_df"):
        ThreatClassifier(min_df=500, cv=3).fit(texts, labels)


@pytest.mark.parametrize("y, message", [
    (lambda Y: Y[:, 0], r"y is one number per text \(\[1, 1, 1, .*\]\), not label lists: for one label"),
    (lambda Y: Y[:, 0].tolist(), r"y is one number per text"),
    (lambda Y: np.where(np.arange(Y.size).reshape(Y.shape) == 7, 2, Y), r"y must hold only 0/1: row 1, column 2 "
                                                                        r"\('drug_trafficking'\) holds 2$"),
    (lambda Y: Y[:, :3], "y has 3 columns but label_names names 5"),
    (lambda Y: np.where(Y[:, :1] == 1, "terrorism", ""), r"y is a 2-D array of strings \('terrorism', \.\.\.\): a matrix y holds "
                                                        r"0/1, one column per label; label names go in one list per text"),
    (lambda Y: Y.astype(str), r"y is a 0/1 matrix written as text \('0', '1'\): make it numbers, y.astype\(int\)"),
])
def test_a_y_of_numbers_that_is_no_label_matrix_gets_a_message_saying_what_to_pass(y, message):
    texts, labels = tiny_corpus()
    names = ["terrorism", "organized_crime", "drug_trafficking", "corruption", "foreign_influence"]
    with pytest.raises(DataError, match=message):
        ThreatClassifier(min_df=1, cv=3, label_names=names).fit(texts, y(to_indicator(labels, names)))


def test_sample_weight_that_is_not_numbers_is_a_clear_error():
    texts, labels = tiny_corpus()
    with pytest.raises(DataError, match=r"sample_weight must be numbers, one per row; got \['a', 'a', "):
        ThreatClassifier(min_df=1, cv=3).fit(texts, labels, sample_weight=["a"] * len(texts))


def test_labels_differing_only_in_spacing_are_warned_of():
    texts, labels = tiny_corpus(repeats=3)
    spaced = [["organized  crime" if name == "organized_crime" and k % 4 == 0 else name.replace("_", " ")
               for name in names] for k, names in enumerate(labels)]
    with pytest.warns(UserWarning, match=r"'organized  crime' .* differs only in spacing or case from 'organized crime'"):
        ThreatClassifier(min_df=1, cv=3).fit(texts, spaced)


def test_figures_at_thresholds_set_after_fitting_say_so(small_model):
    model = copy.deepcopy(small_model)
    assert "at thresholds chosen on these same predictions" in model.out_of_fold_figures()["description"]
    model.thresholds_ = np.full(len(model.labels_), 0.9)
    figures = model.out_of_fold_figures()
    assert "at thresholds set by hand after fitting (thresholds_), not the ones the fit learned" in figures["description"]
    assert "chosen on these same predictions" not in figures["description"]

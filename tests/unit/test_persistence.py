import copy
import json
import os
import pickle
import re
import subprocess
import sys
import warnings
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import threatclf
from builders import tiny_corpus
from threatclf import (IncompatibleModelError, ModelFormatError, ModelVersionWarning, ThreatClassifier,
                       UntrustedModelError)
from threatclf.evaluate import score_predictions
from threatclf.labels import to_indicator
from threatclf.persistence import FORMAT_VERSION, _sha256

PROBE = ["Militants bombed the market.", "The mayor took bribes.", "A sunny day at the beach.", ""]
V1_FOLDER = Path(__file__).resolve().parents[1] / "data" / "model-v1"


def _copy(folder: Path, tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def _rewrite_digests(folder: Path, **changes) -> None:
    """What an attacker who edits a model folder does: make metadata.json match the files again."""
    meta = json.loads((folder / "metadata.json").read_text())
    meta.update(changes)
    meta["files"] = {p.name: _sha256(p) for p in sorted(folder.iterdir()) if p.name != "metadata.json"}
    (folder / "metadata.json").write_text(json.dumps(meta))


def test_folder_layout_metadata_and_model_card(saved_small_model, small_model):
    names = sorted(p.name for p in saved_small_model.iterdir())
    assert names == ["README.md", "metadata.json", "model.skops"]
    meta = json.loads((saved_small_model / "metadata.json").read_text())
    assert meta["format_version"] == FORMAT_VERSION
    assert meta["labels"] == small_model.labels_
    assert meta["thresholds"]["terrorism"] == pytest.approx(small_model.thresholds_[0])
    assert meta["training_data"]["rows"] == small_model.training_fingerprint_["rows"]
    assert len(meta["training_data"]["sha256"]) == 64
    assert meta["files"]["model.skops"] == _sha256(saved_small_model / "model.skops")
    assert {"threatclf_version", "sklearn_version", "numpy_version", "created", "settings"} <= set(meta)
    card = (saved_small_model / "README.md").read_text()
    for needle in ["## Intended use", "`foreign_influence`", "Abuse of entrusted", "## Training data", "## Limits",
                   "load_model("]:
        assert needle in card


def test_round_trip_gives_identical_probabilities(saved_small_model, small_model):
    loaded = threatclf.load_model(saved_small_model)
    np.testing.assert_array_equal(loaded.predict_proba(PROBE).to_numpy(), small_model.predict_proba(PROBE).to_numpy())
    assert loaded.labels == small_model.labels_
    assert loaded.get_params() == small_model.get_params()


def test_round_trip_in_a_new_process(saved_small_model, small_model, tmp_path):
    out = tmp_path / "proba.npy"
    code = (
        "import sys, numpy as np, threatclf;"
        f"m = threatclf.load_model({str(saved_small_model)!r});"
        f"np.save({str(out)!r}, m.predict_proba({PROBE!r}).to_numpy())"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    np.testing.assert_array_equal(np.load(out), small_model.predict_proba(PROBE).to_numpy())


def test_metrics_are_recorded_in_metadata_and_card(small_model, tmp_path):
    texts = ["The mayor took bribes from a builder.", "A concert in the park."]
    result = threatclf.evaluate(small_model, texts, [["corruption"], []])
    folder = small_model.save(tmp_path / "m", metrics={"holdout": result})
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["metrics"]["holdout"]["macro_f1"] == pytest.approx(result.macro_f1)
    assert "### holdout" in (folder / "README.md").read_text()


def test_figures_measured_on_another_fit_do_not_describe_the_saved_model(tmp_path):
    # evaluate on dev, refit on train + dev (the README's recipe for a final model), save with the
    # dev figures: the card said "none of them in the training data", of a model trained on all of them
    texts, labels = tiny_corpus(repeats=3)
    dev_texts, dev_labels = texts[::4], labels[::4]
    train = [k for k in range(len(texts)) if k % 4]
    model = ThreatClassifier(min_df=1, cv=3).fit([texts[k] for k in train], [labels[k] for k in train])
    dev = threatclf.evaluate(model, dev_texts, dev_labels)
    assert dev.extra["seen_in_training"] == 0
    folder = model.save(tmp_path / "same", metrics={"dev": dev})
    assert "none of them in the training data" in (folder / "README.md").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(texts, labels)  # the same object, refitted
    folder = model.save(tmp_path / "refit", metrics={"dev": dev})
    card = (folder / "README.md").read_text()
    assert "none of them in the training data" not in card
    assert "on another fit than the model saved here (other training data, settings or thresholds): these " \
           "figures are not this model's" in card
    # figures of labels the model does not have are another model's
    other = ThreatClassifier(min_df=1, cv=3, label_names=["terrorism", "corruption"]).fit(
        texts, [[n for n in names if n in ("terrorism", "corruption")] for names in labels])
    with pytest.raises(ValueError, match=r"metrics\['dev'\] scores labels the model does not have: "
                                         r"\['drug_trafficking', 'foreign_influence', 'organized_crime'\]"):
        other.save(tmp_path / "other", metrics={"dev": dev})


def test_save_refuses_to_overwrite_unless_asked(small_model, saved_small_model):
    with pytest.raises(FileExistsError):
        small_model.save(saved_small_model)


def test_overwrite_replaces_only_a_model_folder(small_model, tmp_path):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.txt").write_text("years of work")
    with pytest.raises(FileExistsError, match="not a threatclf model folder"):
        small_model.save(folder, overwrite=True)
    assert (folder / "chapter1.txt").read_text() == "years of work"
    model_folder = small_model.save(tmp_path / "model")
    small_model.save(model_folder, overwrite=True, name="again")
    assert json.loads((model_folder / "metadata.json").read_text())["name"] == "again"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "thesis"]  # no staging folders left


def test_save_refuses_what_is_not_a_threatclassifier_by_name(small_model, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    texts, labels = tiny_corpus()
    pipe = Pipeline([("strip", FunctionTransformer(lambda x: [t.strip() for t in x])),
                     ("clf", ThreatClassifier(min_df=1, cv=3))]).fit(texts, labels)
    # a fitted Pipeline was "not fitted yet", a LogisticRegression had "no attribute thresholds_"
    with pytest.raises(TypeError, match=r"save_model saves a ThreatClassifier, got Pipeline; .*pipe\[-1\]"):
        threatclf.save_model(pipe, tmp_path / "p")
    with pytest.raises(TypeError, match="save_model saves a ThreatClassifier, got LogisticRegression$"):
        threatclf.save_model(LogisticRegression().fit([[0], [1]], [0, 1]), tmp_path / "l")
    assert not list(tmp_path.iterdir())
    assert threatclf.load_model(threatclf.save_model(pipe[-1], tmp_path / "last")).labels_ == pipe[-1].labels_


def test_save_refuses_label_names_changed_after_fitting(small_model, tmp_path):
    import copy

    changed = copy.deepcopy(small_model).set_params(label_names=["terrorism", "corruption"])
    with pytest.raises(ValueError, match="label_names .* is not the fitted labels .* changed after fitting"):
        changed.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_model_with_a_label_not_learned_saves_loads_and_says_so(tmp_path, capsys):
    from threatclf.cli import main
    from threatclf.thresholds import NEVER

    texts, labels = tiny_corpus(repeats=3)
    labels = [names + ["noise"] if i in (0, 17, 40) else names for i, names in enumerate(labels)]
    with pytest.warns(UserWarning, match="never assigned"):
        model = threatclf.ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    folder = model.save(tmp_path / "m")
    loaded = threatclf.load_model(folder)
    assert loaded.thresholds_[-1] == NEVER > 1.0
    assert "| `noise` | never (not learned) |" in (folder / "README.md").read_text()
    assert main(["info", "--model", str(folder)]) == 0
    assert "noise                never (not learned)" in capsys.readouterr().out


def test_an_empty_folder_made_for_the_model_is_filled(small_model, tmp_path):
    (tmp_path / "m").mkdir()
    folder = small_model.save(tmp_path / "m")
    assert threatclf.load_model(folder).labels_ == small_model.labels_


def test_saving_over_a_link_to_a_model_folder_is_refused(small_model, tmp_path):
    real = small_model.save(tmp_path / "real")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with pytest.raises(FileExistsError, match=f"{link} is a symbolic link: save to the folder it points to"):
        small_model.save(link, overwrite=True)
    assert link.is_symlink() and threatclf.load_model(link).labels_ == small_model.labels_


def test_overwrite_refuses_a_model_folder_holding_a_file_of_the_users(small_model, tmp_path):
    model_folder = small_model.save(tmp_path / "model")
    (model_folder / "labelled.jsonl").write_text('{"text": "kept"}\n')
    with pytest.raises(FileExistsError, match=r"holds files that are not part of its model \(labelled.jsonl\)"):
        small_model.save(model_folder, overwrite=True)
    assert (model_folder / "labelled.jsonl").read_text() == '{"text": "kept"}\n'
    threatclf.load_model(model_folder)  # untouched
    # what a file browser leaves in a folder it showed is no one's work: it does not stop a save
    (model_folder / "labelled.jsonl").unlink()
    (model_folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    small_model.save(model_folder, overwrite=True)
    assert not (model_folder / ".DS_Store").exists() and threatclf.verify_model(model_folder).ok


@pytest.mark.parametrize("metrics, message", [
    ({"cv": {"macro_f1": 0.7}}, r"metrics\['cv'\] must be an Evaluation .* got dict without 'micro_f1', 'labels'$"),
    ({"cv": {"macro_f1": 0.7, "micro_f1": 0.7, "labels": {"a": {"f1": 1.0}}}},
     r"got dict without a 'support' for each entry of 'labels'$"),
    ({"cv": 0.7}, r"metrics\['cv'\] must be an Evaluation .* got float"),
    ({"cv": pd.DataFrame({"macro_f1": [0.7]})}, r"a cross_validate\(\) table is not one"),
    ([0.7], "metrics must map a split name to an Evaluation, got list"),
])
def test_save_names_what_is_wrong_with_metrics_before_writing(small_model, tmp_path, metrics, message):
    with pytest.raises(TypeError, match=message):
        small_model.save(tmp_path / "m", metrics=metrics)
    assert not list(tmp_path.iterdir())


def test_save_refuses_figures_that_are_not_finite_numbers(small_model, tmp_path):
    figures = threatclf.evaluate(small_model, ["A bomb exploded."], [["terrorism"]]).to_dict()
    figures["labels"]["terrorism"]["pr_auc"] = float("nan")  # metadata.json would hold NaN, which JSON has not
    with pytest.raises(ValueError, match=r"metrics\['dev'\] holds figures that are not finite numbers: "
                                         r"\['labels.terrorism.pr_auc=nan'\]"):
        small_model.save(tmp_path / "m", metrics={"dev": figures})
    assert not list(tmp_path.iterdir())


def test_figures_edited_by_hand_into_a_folder_are_left_out_when_it_is_saved_again(small_model, tmp_path):
    folder = small_model.save(tmp_path / "model", metrics={
        "dev": threatclf.evaluate(small_model, ["A bomb exploded."], [["terrorism"]])})
    meta = json.loads((folder / "metadata.json").read_text())
    meta["metrics"]["hand"] = {"macro_f1": 0.8, "micro_f1": 0.8, "labels": {"terrorism": {"f1": 0.8}}}  # no support
    (folder / "metadata.json").write_text(json.dumps(meta))
    model = threatclf.load_model(folder)  # metadata.json is a record, not checked on loading
    with pytest.warns(UserWarning, match=r"the figures recorded for \['hand'\] are left out of the new folder"):
        again = model.save(tmp_path / "again")
    kept = json.loads((again / "metadata.json").read_text())["metrics"]
    assert "hand" not in kept and kept["dev"] == meta["metrics"]["dev"]


def test_malicious_pickle_in_place_of_weights_never_runs(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    sentinel = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    (folder / "model.skops").write_bytes(pickle.dumps(Exploit()))
    _rewrite_digests(folder)
    with pytest.raises(ModelFormatError, match="not a skops file"):
        threatclf.load_model(folder)
    # The same pickle declared as a joblib model is refused without trust=True.
    (folder / "model.skops").rename(folder / "model.joblib")
    _rewrite_digests(folder, weights_format="joblib", weights_file="model.joblib")
    with pytest.raises(UntrustedModelError, match="trust=True"):
        threatclf.load_model(folder)
    assert not sentinel.exists()


def test_skops_file_with_an_untrusted_type_is_refused(small_model, tmp_path):
    import copy

    import skops.io as sio

    # a type hidden inside a dict the model does have: only the type check can stop it
    tainted = copy.copy(small_model.without_training_run())  # as a model folder stores it
    tainted.training_fingerprint_ = {**small_model.training_fingerprint_, "smuggled": Fraction(1, 3)}
    folder = threatclf.save_model(small_model, tmp_path / "tainted")
    sio.dump(tainted, folder / "model.skops")
    _rewrite_digests(folder)
    check = threatclf.verify_model(folder)
    assert check.untrusted == ["fractions.Fraction"]
    with pytest.raises(UntrustedModelError, match="fractions.Fraction"):
        threatclf.load_model(folder)
    loaded = threatclf.load_model(folder, trust=["fractions.Fraction"])
    assert loaded.training_fingerprint_["smuggled"] == Fraction(1, 3)


@pytest.mark.parametrize("name, value", [("predict_proba", "a string of trusted type"),
                                         ("smuggled_", Fraction(1, 3))])
def test_a_stored_attribute_a_classifier_does_not_have_is_refused(small_model, tmp_path, name, value):
    # an instance attribute named like a method would replace it: predict_proba returning a string
    import copy

    tainted = copy.copy(small_model.without_training_run())  # as a model folder stores it
    setattr(tainted, name, value)
    with pytest.warns(UserWarning, match="will load only with load_model"):
        folder = threatclf.save_model(tainted, tmp_path / "tainted")
    check = threatclf.verify_model(folder)
    assert f"threatclf.classifier.ThreatClassifier (stored attribute '{name}' is not one of a ThreatClassifier's)" \
        in check.untrusted
    with pytest.raises(UntrustedModelError, match=f"stored attribute '{name}'"):
        threatclf.load_model(folder)
    with pytest.raises(UntrustedModelError):  # naming the value's type is not enough
        threatclf.load_model(folder, trust=["fractions.Fraction"])
    with pytest.raises(ModelFormatError, match=f"attributes a ThreatClassifier does not.*{name}"):
        threatclf.load_model(folder, trust=True)  # trusting the file does not make it a ThreatClassifier


def test_truncated_weights_are_refused(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    data = (folder / "model.skops").read_bytes()
    (folder / "model.skops").write_bytes(data[: len(data) // 2])
    _rewrite_digests(folder)
    with pytest.raises(ModelFormatError):
        threatclf.load_model(folder)


def test_changed_weights_fail_the_digest_check(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    with zipfile.ZipFile(folder / "model.skops", "a") as archive:
        archive.writestr("extra.txt", "x")
    with pytest.raises(ModelFormatError, match="SHA-256"):
        threatclf.load_model(folder)


@pytest.mark.parametrize("version, error, message", [
    (FORMAT_VERSION + 1, IncompatibleModelError, "upgrade threatclf"),
    ("1", ModelFormatError, "no valid format_version"),
    (None, ModelFormatError, "no valid format_version"),
    (0, IncompatibleModelError, "not supported"),
])
def test_format_version_is_checked(saved_small_model, tmp_path, version, error, message):
    folder = _copy(saved_small_model, tmp_path)
    _rewrite_digests(folder, format_version=version)
    with pytest.raises(error, match=message):
        threatclf.load_model(folder)


def test_settings_in_metadata_must_be_the_models(saved_small_model, tmp_path):
    # what `threatclf info` and the model card show must be what the loaded model does
    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    _rewrite_digests(folder, settings={**meta["settings"], "features": "banana"})
    with pytest.raises(ModelFormatError, match=r"settings in metadata.json do not match the stored model: \['features'\]"):
        threatclf.load_model(folder)


def test_settings_left_out_of_metadata_are_refused_unless_added_after_the_folders_release(saved_small_model,
                                                                                          tmp_path, capsys):
    # a deleted "calibrate" was shown, and copied by --settings-from, as the default (True)
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    _rewrite_digests(folder, settings={k: v for k, v in meta["settings"].items() if k not in ("C", "calibrate")})
    for check in (threatclf.load_model, threatclf.verify_model, threatclf.settings_of_model):
        with pytest.raises(ModelFormatError, match=r"does not state the settings \['C', 'calibrate'\]"):
            check(folder)
    assert main(["info", str(folder)]) == 2 and "NOT LOADABLE" in capsys.readouterr().err
    # a folder saved before the presence block existed did not state its settings: they are its defaults
    early = {k: v for k, v in meta["settings"].items() if not k.startswith("presence_")}
    _rewrite_digests(folder, settings=early, threatclf_version="0.5.0")
    assert threatclf.load_model(folder).presence_ngram_range is None
    _rewrite_digests(folder, settings=early, threatclf_version="0.6.0")
    with pytest.raises(ModelFormatError, match=r"does not state the settings \['presence_C', 'presence_ngram_range', "):
        threatclf.load_model(folder)


def test_format_1_as_threatclf_0_2_to_0_4_wrote_it_still_loads(saved_small_model, small_model, tmp_path):
    """Releases 0.2-0.4 wrote their layout under format 1; the format-1 loader reads both it
    and 0.1's (the fixture below)."""
    folder = _copy(saved_small_model, tmp_path)
    assert json.loads((folder / "metadata.json").read_text())["format_version"] == FORMAT_VERSION == 2
    _rewrite_digests(folder, format_version=1)
    loaded = threatclf.load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(PROBE).to_numpy(), small_model.predict_proba(PROBE).to_numpy())
    assert loaded.get_params() == small_model.get_params()


@pytest.mark.parametrize("missing", ["model.skops", "metadata.json"])
def test_missing_file_is_a_clear_error(saved_small_model, tmp_path, missing):
    folder = _copy(saved_small_model, tmp_path)
    (folder / missing).unlink()
    with pytest.raises(ModelFormatError, match="missing"):
        threatclf.load_model(folder)


def test_a_folder_in_place_of_the_weights_is_named_as_such(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    (folder / "model.skops").unlink()
    (folder / "model.skops").mkdir()
    with pytest.raises(ModelFormatError, match=r"model.skops listed in metadata.json is missing \(a folder or device "
                                               r"is in its place\)"):
        threatclf.load_model(folder)


def test_not_a_folder(tmp_path):
    with pytest.raises(ModelFormatError, match="does not exist"):
        threatclf.load_model(tmp_path / "nope")


def test_other_library_version_warns(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["sklearn_version"] = "0.0.1"
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.warns(ModelVersionWarning, match="sklearn 0.0.1"):
        threatclf.load_model(folder)


def test_a_minor_release_apart_warns_only_for_a_pickled_model(small_model, tmp_path):
    # a skops folder holds arrays and settings, read alike by minor releases; a pickle holds their objects
    import sklearn

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    for fmt, warns in (("skops", False), ("joblib", True)):
        folder = small_model.save(tmp_path / fmt, format=fmt)
        meta = json.loads((folder / "metadata.json").read_text())
        meta["sklearn_version"] = f"{major}.{minor + 1}.0"
        meta["numpy_version"] = "1.25.0" if np.__version__.startswith("2") else "2.4.6"  # numpy 1 and 2 alike
        (folder / "metadata.json").write_text(json.dumps(meta))
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            threatclf.load_model(folder, trust=fmt == "joblib")
        assert any(issubclass(w.category, ModelVersionWarning) for w in said) == warns, fmt


def test_joblib_format_loads_only_with_trust(small_model, tmp_path):
    folder = small_model.save(tmp_path / "pickled", format="joblib")
    assert threatclf.verify_model(folder).untrusted
    with pytest.raises(UntrustedModelError, match="pickle"):
        threatclf.load_model(folder)
    loaded = threatclf.load_model(folder, trust=True)
    np.testing.assert_array_equal(loaded.predict_proba(PROBE).to_numpy(), small_model.predict_proba(PROBE).to_numpy())


def test_format_1_folder_kept_in_tests_still_loads():
    """A model saved by threatclf 0.1 (format 1): future format changes must keep loading it."""
    expected = json.loads((V1_FOLDER.parent / "model-v1-expected.json").read_text())
    model = threatclf.load_model(V1_FOLDER)
    assert json.loads((V1_FOLDER / "metadata.json").read_text())["format_version"] == 1
    proba = model.predict_proba(expected["texts"]).to_numpy()
    np.testing.assert_allclose(proba, np.array(expected["proba"]), atol=1e-9)
    assert model.predict(expected["texts"]) == expected["labels"]
    # format 1 named the label-order parameter "labels"; the loader maps it to label_names
    assert model.get_params()["label_names"] is None and model.labels == model.labels_
    # settings added later take their old behaviour; what format 1 did not record is unknown, not guessed
    assert model.features_per_label is None
    assert model.seen_in_training(expected["texts"]) is None


def test_saved_model_still_knows_which_texts_it_was_trained_on(saved_small_model):
    texts, _ = tiny_corpus()
    loaded = threatclf.load_model(saved_small_model)
    seen = loaded.seen_in_training([texts[0], "  " + texts[1].replace(" ", "\n") + " ", "A sentence never seen."])
    assert seen.tolist() == [True, True, False]


def test_scikit_learn_types_are_not_trusted_by_default(small_model, tmp_path):
    """skops trusts every scikit-learn estimator; threatclf trusts only what its models hold."""
    import copy

    from sklearn.preprocessing import FunctionTransformer

    tainted = copy.copy(small_model.without_training_run())  # as a model folder stores it
    tainted.hook_ = FunctionTransformer(func=np.exp)
    with pytest.warns(UserWarning, match="FunctionTransformer"):
        folder = threatclf.save_model(tainted, tmp_path / "tainted")
    untrusted = threatclf.verify_model(folder).untrusted
    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" in untrusted
    assert any(name.startswith("numpy") and name.endswith(".exp") for name in untrusted)  # numpy 1: numpy.core...
    with pytest.raises(UntrustedModelError, match="FunctionTransformer"):
        threatclf.load_model(folder)


@pytest.mark.parametrize("change", [{"input": "filename"}, {"token_pattern": "(a+)+$"}, {"analyzer": "chars"},
                                    {"lowercase": "yes"}])
def test_crafted_vectorizer_settings_are_refused(small_model, tmp_path, monkeypatch, change):
    """A model file must not make the vectorizer read files or run a crafted regex."""
    from threatclf import classifier, features

    def crafted(vectorizer):
        packed = features.pack_vectorizer(vectorizer)
        packed["params"].update(change)
        return packed

    monkeypatch.setattr(classifier, "pack_vectorizer", crafted)
    folder = threatclf.save_model(small_model, tmp_path / "crafted")
    monkeypatch.undo()
    with pytest.raises(ModelFormatError, match="stored vectorizer setting"):
        threatclf.load_model(folder)


@pytest.mark.parametrize("params", [{"class_weight": {0: 1, 1: 3}}, {"features_per_label": np.int64(50)},
                                    {"C": np.float64(3.0)}])
def test_models_with_numpy_or_per_class_settings_load_back(params, tmp_path):
    texts, labels = tiny_corpus()
    model = threatclf.ThreatClassifier(min_df=1, cv=3, **params).fit(texts, labels)
    folder = model.save(tmp_path / "m")
    assert threatclf.verify_model(folder).untrusted == []
    loaded = threatclf.load_model(folder)
    np.testing.assert_array_equal(loaded.predict_proba(PROBE).to_numpy(), model.predict_proba(PROBE).to_numpy())


def test_weights_that_do_not_fit_the_labels_are_refused(saved_small_model, tmp_path):
    import copy

    folder = _copy(saved_small_model, tmp_path)
    model = threatclf.load_model(folder)
    broken = copy.copy(model)
    broken.coef_, broken.intercept_ = model.coef_[:1], model.intercept_[:1]  # one row for several labels
    import skops.io as sio

    sio.dump(broken, folder / "model.skops")
    _rewrite_digests(folder)
    with pytest.raises(ModelFormatError, match="do not fit its"):
        threatclf.load_model(folder)


def test_thresholds_edited_in_metadata_are_refused(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["thresholds"] = {label: 0.99 for label in meta["thresholds"]}
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="thresholds in metadata.json do not match"):
        threatclf.load_model(folder)


def test_verify_and_info_report_an_edited_model_card_which_still_loads(saved_small_model, tmp_path, capsys):
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    assert main(["verify", str(folder)]) == 0
    assert "changed since saving" not in capsys.readouterr().err
    with open(folder / "README.md", "a") as handle:
        handle.write("\nextra line\n")
    assert threatclf.verify_model(folder).changed == ["README.md"]
    # the card is documentation: the commands say it changed, and agree with load_model that the model is whole
    for argv in (["verify", str(folder)], ["info", "--model", str(folder)]):
        assert main(argv) == 0
        out, err = capsys.readouterr()
        assert "README.md, the model card, changed since saving (digest differs); the weights are intact" in err
        assert "weights digest OK (model card edited)" in out and "digests OK," not in out
    with pytest.warns(UserWarning, match="README.md does not match"):
        threatclf.load_model(folder)
    # a deleted card is noted in the same way: the weights are checked apart
    (folder / "README.md").unlink()
    assert threatclf.verify_model(folder).changed == ["README.md"] and threatclf.verify_model(folder).ok
    for argv in (["verify", str(folder)], ["info", "--model", str(folder)]):
        assert main(argv) == 0
        out, err = capsys.readouterr()
        assert "README.md, the model card, is missing; the weights are intact" in err
        assert "weights digest OK (model card missing)" in out
    with pytest.warns(UserWarning, match="README.md is missing"):
        assert threatclf.load_model(folder).labels == json.loads((folder / "metadata.json").read_text())["labels"]
    (folder / "model.skops").unlink()  # the weights are another matter
    with pytest.raises(ModelFormatError, match="model.skops listed in metadata.json is missing"):
        threatclf.verify_model(folder)


def test_info_on_malformed_metadata_is_a_one_line_error(saved_small_model, tmp_path, capsys):
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["metrics"] = {"dev": {"labels": {}}}
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert main(["info", "--model", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "metadata.json is malformed" in err and "Traceback" not in err


def test_refitting_a_loaded_model_drops_what_came_with_its_folder(saved_small_model, tmp_path):
    model = threatclf.load_model(saved_small_model)
    assert model.path_ == str(saved_small_model)
    texts, labels = tiny_corpus()
    model.fit(texts[:-3], labels[:-3])
    assert not hasattr(model, "path_") and not hasattr(model, "metadata_")
    meta = json.loads((model.save(tmp_path / "again") / "metadata.json").read_text())
    assert meta["training_data"]["rows"] == len(texts) - 3


def _edit_schema(folder: Path, edit) -> None:
    """Rewrite model.skops's schema.json with ``edit(schema)`` (members kept), then the digests."""
    weights = folder / "model.skops"
    with zipfile.ZipFile(weights) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    edit(schema)
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(weights, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    _rewrite_digests(folder)


def _attribute_nodes(schema) -> dict:
    return schema["content"]["content"]


@pytest.mark.parametrize("loader", ["SparseMatrixNode", "ConstructorFromReduceNode", "MaskedArrayNode"])
def test_a_trusted_type_name_built_by_another_loader_is_refused(saved_small_model, tmp_path, loader):
    # A node may name "numpy.ndarray" and ask skops to build something else with it (a sparse
    # matrix whose indices are never checked, numpy.ndarray(*args) over raw pointers): the name
    # alone must not pass. Nothing is built: refused before loading.
    folder = _copy(saved_small_model, tmp_path)

    def disguise(schema):
        node = _attribute_nodes(schema)["coef_"]
        assert node["__class__"] == "ndarray" and node["__loader__"] == "NdArrayNode"
        node["__loader__"] = loader

    _edit_schema(folder, disguise)
    check = threatclf.verify_model(folder)
    assert check.untrusted == [f"numpy.ndarray (built by {loader})"]
    with pytest.raises(UntrustedModelError, match=rf"numpy.ndarray \(built by {loader}\)"):
        threatclf.load_model(folder)


def test_loading_reads_the_metadata_once(saved_small_model, monkeypatch):
    # metadata.json read twice (once for the weights' name, once to check digests) let a file
    # swapped in between name weights that were never checked.
    from threatclf import persistence

    calls = []
    real = persistence.read_metadata
    monkeypatch.setattr(persistence, "read_metadata", lambda path: calls.append(path) or real(path))
    threatclf.load_model(saved_small_model)
    assert len(calls) == 1


def test_the_weights_loaded_are_the_bytes_whose_digest_was_checked(saved_small_model, tmp_path, monkeypatch):
    # The weights file is read once: another model's file swapped in after the digest and type
    # checks changes nothing that is loaded.
    from threatclf import persistence

    folder = _copy(saved_small_model, tmp_path)
    texts, labels = tiny_corpus()
    other = threatclf.ThreatClassifier(min_df=1, cv=3, features="word").fit(texts, labels).save(tmp_path / "other")
    real = persistence._skops_types

    def check_then_swap(*args, **kwargs):
        found = real(*args, **kwargs)
        (folder / "model.skops").write_bytes((other / "model.skops").read_bytes())
        return found

    monkeypatch.setattr(persistence, "_skops_types", check_then_swap)
    model = threatclf.load_model(folder)
    np.testing.assert_array_equal(model.predict_proba(PROBE).to_numpy(),
                                  threatclf.load_model(saved_small_model).predict_proba(PROBE).to_numpy())


def test_files_listed_outside_the_folder_are_refused(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["files"]["../README.md"] = meta["files"].pop("README.md")
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="lists a file outside the folder: '../README.md'"):
        threatclf.load_model(folder)


def test_weights_linked_from_outside_the_folder_are_refused(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    outside = tmp_path / "elsewhere.skops"
    os.replace(folder / "model.skops", outside)
    os.symlink(outside, folder / "model.skops")
    with pytest.raises(ModelFormatError, match="link to a file outside the model folder"):
        threatclf.load_model(folder)


def test_a_loaded_model_must_hold_plain_numeric_arrays(small_model, tmp_path):
    # Even a file the caller trusts entirely (a joblib pickle) cannot hand the scorer a list or a
    # sparse matrix where it expects an array.
    import copy

    import scipy.sparse as sp

    tainted = copy.copy(small_model.without_training_run())  # as a model folder stores it
    tainted.coef_ = sp.csr_matrix(small_model.coef_)
    folder = threatclf.save_model(tainted, tmp_path / "sparse", format="joblib")
    with pytest.raises(ModelFormatError, match="coef_ is not a numeric array"):
        threatclf.load_model(folder, trust=True)


def test_info_and_verify_show_control_characters_escaped(saved_small_model, tmp_path, capsys):
    # A crafted metadata.json or schema must not drive the terminal or fake a line of output.
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["numpy_version"] = "2.0\nNOTE: verified safe\x1b[8m"
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert main(["info", "--model", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[8m" in out
    assert not any(line.startswith("NOTE") for line in out.splitlines())

    def rename(schema):
        schema["__class__"] = "ThreatClassifier\nall types trusted\x1b[8m"

    _edit_schema(folder, rename)
    assert main(["verify", str(folder)]) == 2
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err
    assert "all types trusted" not in [line.strip() for line in captured.out.splitlines()]


def test_absurdly_nested_metadata_is_a_one_line_error(saved_small_model, tmp_path, capsys):
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    (folder / "metadata.json").write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ModelFormatError, match="nested too deeply"):
        threatclf.load_model(folder)
    assert main(["info", "--model", str(folder)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_the_card_of_a_model_with_its_own_labels_does_not_claim_threat_topics(tmp_path):
    texts, labels = tiny_corpus()
    own = [["cyber" if "agents" in t else "fraud"] if names else [] for t, names in zip(texts, labels)]
    folder = threatclf.ThreatClassifier(min_df=1, cv=3).fit(texts, own).save(tmp_path / "own")
    card = (folder / "README.md").read_text()
    assert "categories its trainer defined (cyber, fraud)" in card and "threat topics" not in card
    assert "Trained on English news" not in card
    assert "threats" not in card.lower().replace("threatclf", "") and "cocaine" not in card


@pytest.mark.parametrize("params, says, not_said", [
    ({"threshold": "f1"}, "Thresholds were tuned for F1 on the same out-of-fold predictions", "plain sigmoid"),
    ({}, "half the best F1 reached on the same out-of-fold predictions", "plain sigmoid"),
    ({"calibrate": False}, "Thresholds were tuned for F1 on the same out-of-fold predictions",
     "sigmoid fitted on out-of-fold"),
    ({"calibrate": False, "threshold": 0.5}, "set by whoever trained the model", "sigmoid fitted on out-of-fold"),
])
def test_the_card_says_how_the_probabilities_and_thresholds_were_made(tmp_path, params, says, not_said):
    texts, labels = tiny_corpus(repeats=3)
    card = (threatclf.ThreatClassifier(min_df=1, cv=3, **params).fit(texts, labels).save(tmp_path / "m")
            / "README.md").read_text()
    assert says in " ".join(card.split()) and not_said not in card
    if params.get("calibrate") is False:
        assert "plain sigmoid of the scores (`calibrate=False`)" in card


@pytest.mark.parametrize("member", ["npz", "object"])
def test_an_array_member_that_is_not_a_numeric_npy_array_is_refused(saved_small_model, tmp_path, member):
    # np.load, which skops uses for array nodes, also opens a zip of arrays (an NpzFile, not an
    # ndarray): the member itself must be a .npy array of numbers.
    import io as _io

    folder = _copy(saved_small_model, tmp_path)
    weights = folder / "model.skops"
    with zipfile.ZipFile(weights) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(members["schema.json"])
    target = _attribute_nodes(schema)["coef_"]["file"]
    buffer = _io.BytesIO()
    if member == "npz":
        np.savez(buffer, a=np.zeros(3))
    else:
        np.save(buffer, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    members[target] = buffer.getvalue()
    with zipfile.ZipFile(weights, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    _rewrite_digests(folder)
    assert any("is not a numeric .npy array" in t for t in threatclf.verify_model(folder).untrusted)
    with pytest.raises(UntrustedModelError, match="is not a numeric .npy array"):
        threatclf.load_model(folder)


def test_folder_text_in_warnings_and_verify_output_is_escaped(saved_small_model, tmp_path, capsys):
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["sklearn_version"] = "0.1\x1b[2K\rdone: model verified"
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.warns(ModelVersionWarning) as caught:
        threatclf.load_model(folder)
    assert "\x1b" not in str(caught[0].message) and "\\x1b[2K\\r" in str(caught[0].message)
    odd = "NOTES\r\x1b[2K"
    (folder / odd).write_text("x")
    meta["files"][odd] = "0" * 64
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert main(["verify", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\r" not in err and "NOTES\\r\\x1b[2K" in err


def test_a_stored_model_missing_a_setting_is_a_format_error(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    _edit_schema(folder, lambda schema: _attribute_nodes(schema).pop("model"))
    with pytest.raises(ModelFormatError, match="stored settings are invalid"):
        threatclf.load_model(folder)


def test_resaving_a_loaded_model_keeps_its_record_only_while_unchanged(small_model, tmp_path):
    texts, labels = tiny_corpus()
    with pytest.warns(UserWarning, match="training data"):
        dev = threatclf.evaluate(small_model, texts[:6], labels[:6])
    first = small_model.save(tmp_path / "first", name="crime tagger", metrics={"dev": dev},
                             training_description="tiny test corpus")
    copy = threatclf.load_model(first).save(tmp_path / "copy", format="joblib")
    kept = json.loads((copy / "metadata.json").read_text())
    original = json.loads((first / "metadata.json").read_text())
    assert kept["name"] == "crime tagger" and kept["metrics"] == original["metrics"]
    assert kept["training_data"]["description"] == "tiny test corpus"
    assert "crime tagger" in (copy / "README.md").read_text()
    # figures of another model must not be carried over: a refit on other data
    refit = threatclf.load_model(first).set_params(C=1.0).fit(texts[:-2], labels[:-2]).save(tmp_path / "refit")
    meta = json.loads((refit / "metadata.json").read_text())
    assert meta["name"] == refit.name and "description" not in meta["training_data"]
    assert list(meta["metrics"]) == ["cross-validated"]  # the new fit's own figures, not the old "dev"
    assert meta["metrics"]["cross-validated"]["description"].startswith("3-fold out-of-fold predictions on the ")
    assert meta["settings"]["C"] == 1.0


@pytest.mark.parametrize("edit", ["coef_", "intercept_", "calibration_", "thresholds_"])
def test_a_loaded_model_whose_weights_were_edited_is_saved_without_the_folders_record(small_model, tmp_path, edit):
    # only the thresholds were compared: zeroed weights were saved with the figures of the model they replaced
    texts, labels = tiny_corpus()
    with pytest.warns(UserWarning, match="training data"):
        dev = threatclf.evaluate(small_model, texts[:6], labels[:6])
    first = small_model.save(tmp_path / "first", name="crime tagger", metrics={"dev": dev})
    model = threatclf.load_model(first)
    setattr(model, edit, getattr(model, edit) * 0.5)
    meta = json.loads((model.save(tmp_path / "edited") / "metadata.json").read_text())
    assert meta["name"] == "edited" and meta["metrics"] == {}
    unchanged = threatclf.load_model(first)
    unchanged.n_jobs = 2  # how to compute is no change of the model
    carried = json.loads((unchanged.save(tmp_path / "copy") / "metadata.json").read_text())["metrics"]
    assert carried == json.loads((first / "metadata.json").read_text())["metrics"] and "dev" in carried


def test_a_fit_whose_weights_were_edited_is_saved_without_its_out_of_fold_figures(small_model, tmp_path):
    model = copy.deepcopy(small_model)
    assert model.out_of_fold_figures() is not None
    model.coef_ = np.zeros_like(model.coef_)
    with pytest.warns(UserWarning, match=r"weights or calibration were changed after fitting .* left out"):
        folder = model.save(tmp_path / "edited")
    assert json.loads((folder / "metadata.json").read_text())["metrics"] == {}
    assert "cross-validated" not in (folder / "README.md").read_text()


def test_a_fit_pickled_by_an_earlier_release_saves_with_its_out_of_fold_figures(small_model, tmp_path):
    # records of 0.7-0.21 hold no "thresholds", of 0.22-0.26 no "decision": the new check must not need them
    for dropped in (("decision",), ("decision", "thresholds")):
        model = copy.deepcopy(small_model)
        model._oof_record = {k: v for k, v in model._oof_record.items() if k not in dropped}
        model = pickle.loads(pickle.dumps(model))
        meta = json.loads((model.save(tmp_path / "-".join(dropped)) / "metadata.json").read_text())
        assert "cross-validated" in meta["metrics"]


@pytest.mark.parametrize("changes", [{"C": 1.0}, {"features": "char", "calibrate": False, "threshold": 0.9}])
def test_save_refuses_settings_changed_after_fitting_or_loading(small_model, tmp_path, changes):
    # the folder would describe (settings, card) a model that those settings did not make
    import copy

    loaded = threatclf.load_model(small_model.save(tmp_path / "first"))
    for model in (copy.deepcopy(small_model), loaded):
        model.set_params(**changes)
        with pytest.raises(ValueError, match=re.escape(f"settings {sorted(changes)} were changed after fitting")):
            model.save(tmp_path / "changed")
        assert not (tmp_path / "changed").exists()
        for copied in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):  # the snapshot travels along
            assert copied.settings_changed_since_fit() == sorted(changes)
        model.set_params(**{name: small_model.get_params()[name] for name in changes})  # set back: saves
        model.set_params(n_jobs=2, engine="reference")  # how to compute is not a change of the model
        assert model.settings_changed_since_fit() == []
    again = threatclf.load_model(loaded.save(tmp_path / "again"))
    assert again.n_jobs == 2 and again.settings_changed_since_fit() == []


def test_save_refuses_a_setting_changed_in_place_after_fitting(small_model, tmp_path):
    import copy

    model = copy.deepcopy(small_model).set_params(word_ngram_range=[1, 2])
    model = model.fit(*tiny_corpus())
    model.word_ngram_range[1] = 3  # the vectorizer still counts 1-2-grams
    with pytest.raises(ValueError, match=re.escape("settings ['word_ngram_range'] were changed after fitting")):
        model.save(tmp_path / "m")


def test_resaving_with_other_compute_settings_keeps_the_folder_record(small_model, tmp_path):
    folder = small_model.save(tmp_path / "first", name="crime tagger", training_description="tiny corpus")
    again = threatclf.load_model(folder).set_params(n_jobs=2).save(tmp_path / "again")
    meta = json.loads((again / "metadata.json").read_text())
    assert meta["name"] == "crime tagger" and meta["training_data"]["description"] == "tiny corpus"


def test_a_stored_vectorizer_with_a_repeated_term_is_refused():
    # two columns for one term would leave a column that no term maps to: refused at load, not at first use
    from sklearn.feature_extraction.text import TfidfVectorizer

    from threatclf.features import pack_vectorizer, unpack_vectorizer

    packed = pack_vectorizer(TfidfVectorizer().fit(["bomb blast", "gang deal"]))
    terms_offsets = packed["terms_offsets"]
    codepoints = packed["terms_codepoints"].copy()
    lengths = np.diff(terms_offsets)  # two terms of one length: one can be overwritten with the other
    i, j = next((i, j) for i in range(len(lengths)) for j in range(i + 1, len(lengths)) if lengths[i] == lengths[j])
    codepoints[terms_offsets[j]:terms_offsets[j + 1]] = codepoints[terms_offsets[i]:terms_offsets[i + 1]]
    with pytest.raises(ModelFormatError, match="terms must be distinct"):
        unpack_vectorizer({**packed, "terms_codepoints": codepoints})


def test_a_model_file_that_inflates_past_the_limit_is_refused_before_reading(saved_small_model, tmp_path, monkeypatch):
    # a small zip whose members inflate to gigabytes: refused from the sizes the archive states
    import threatclf.persistence as persistence

    with zipfile.ZipFile(saved_small_model / "model.skops") as archive:
        inflated = sum(info.file_size for info in archive.infolist())
    monkeypatch.setattr(persistence, "MAX_INFLATED_BYTES", inflated - 1)
    with pytest.raises(ModelFormatError, match=f"inflates to {inflated:,} bytes, more than"):
        threatclf.verify_model(saved_small_model)
    with pytest.raises(ModelFormatError, match="MAX_INFLATED_BYTES"):
        threatclf.load_model(saved_small_model)
    monkeypatch.setattr(persistence, "MAX_INFLATED_BYTES", inflated)
    assert threatclf.verify_model(saved_small_model).untrusted == []


def test_an_array_member_named_by_several_nodes_is_reported_not_read_again(saved_small_model, tmp_path):
    # skops writes each array once; a member named by many nodes would be inflated once per node
    folder = _copy(saved_small_model, tmp_path)

    def share(schema):
        coef = _attribute_nodes(schema)["coef_"]
        _attribute_nodes(schema)["intercept_"] = dict(coef, __id__=coef["__id__"] + 100_000)

    _edit_schema(folder, share)
    check = threatclf.verify_model(folder)
    assert any("is named by 2 nodes" in name for name in check.untrusted)
    with pytest.raises(UntrustedModelError, match="named by 2 nodes"):
        threatclf.load_model(folder)


@pytest.mark.parametrize("name", ["README.md", "metadata.json"])
def test_a_folder_file_linking_outside_the_folder_is_refused(saved_small_model, tmp_path, name):
    # its digest would vouch for (and info print) a file the folder does not hold
    folder = _copy(saved_small_model, tmp_path)
    outside = tmp_path / f"outside-{name}"
    (folder / name).rename(outside)
    (folder / name).symlink_to(outside)
    with pytest.raises(ModelFormatError, match=f"{name} is a link to a file outside the model folder"):
        threatclf.load_model(folder)
    with pytest.raises(ModelFormatError, match="link to a file outside"):
        threatclf.verify_model(folder)


@pytest.mark.parametrize("name, loads", [("terrorism\r\x1b[2Kall good", False), ("arms;drugs", False),
                                         (" padded", False), ("arms, drugs | guns", True)])
def test_a_stored_label_name_with_control_characters_is_refused(saved_small_model, tmp_path, name, loads):
    # fit refuses such names; a hand-made folder must not bring one to a terminal through evaluate.
    # Names older releases allowed (',' and '|' until 0.5) still load.
    folder = _copy(saved_small_model, tmp_path)

    def rename(schema):
        labels = _attribute_nodes(schema)["labels_"]["content"]
        labels[0]["content"] = json.dumps(name)  # skops stores a str as its JSON

    _edit_schema(folder, rename)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["labels"][0] = name
    meta["thresholds"] = {name if k == "terrorism" else k: v for k, v in meta["thresholds"].items()}
    (folder / "metadata.json").write_text(json.dumps(meta))
    _rewrite_digests(folder)
    if loads:
        assert threatclf.load_model(folder).labels_[0] == name
        return
    with pytest.raises(ModelFormatError, match=r"label name .* is not one threatclf writes") as caught:
        threatclf.load_model(folder)
    assert "\x1b" not in str(caught.value)


def test_verify_and_info_fail_on_a_folder_that_would_not_load(saved_small_model, tmp_path, capsys):
    # a threshold edited in metadata.json (which has no digest of its own): load_model refuses it, so must they
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    first = next(iter(meta["thresholds"]))
    meta["thresholds"][first] = 0.99
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="thresholds in metadata.json do not match"):
        threatclf.verify_model(folder)
    assert main(["verify", str(folder)]) == 2
    assert main(["info", "--model", str(folder)]) == 2
    assert "NOT LOADABLE: " in capsys.readouterr().err
    meta["settings"]["presence_ngram_range"] = "x"  # made info crash with a traceback
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert main(["info", "--model", str(folder)]) == 2
    assert "metadata.json is malformed (IndexError" in capsys.readouterr().err
    meta = json.loads((saved_small_model / "metadata.json").read_text())  # as saved, but for its labels
    meta["labels"] = None
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="labels in metadata.json do not match"):
        threatclf.load_model(folder)


def test_saving_over_a_model_leaves_other_folders_beside_it_alone(small_model, tmp_path):
    # the old folder is moved aside under a name no one else uses, not a fixed ".NAME.old"
    folder = small_model.save(tmp_path / "my-model")
    notes = tmp_path / ".my-model.old"
    notes.mkdir()
    (notes / "my-notes.txt").write_text("keep me")
    small_model.save(folder, overwrite=True)
    assert (notes / "my-notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".my-model.old", "my-model"]


def test_resaving_a_format_1_folder_unchanged_keeps_its_name(tmp_path):
    original = json.loads((V1_FOLDER / "metadata.json").read_text())
    model = threatclf.load_model(V1_FOLDER)
    again = json.loads((model.save(tmp_path / "again") / "metadata.json").read_text())
    assert again["name"] == original["name"] and again["format_version"] == FORMAT_VERSION


def test_model_card_says_what_a_model_sees_and_how_to_load_a_pickle(tmp_path):
    texts, labels = tiny_corpus()
    word_only = ThreatClassifier(features="word", min_df=1, cv=3).fit(texts, labels)
    card = (word_only.save(tmp_path / "word", format="joblib") / "README.md").read_text()
    assert "the model sees words, not meaning" in card and "character sequences" not in card
    assert 'load_model("path/to/this/folder", trust=True)' in card


def test_model_card_and_info_warn_when_figures_include_training_texts(small_model, tmp_path, capsys):
    from threatclf.cli import main

    texts, labels = tiny_corpus()
    with pytest.warns(UserWarning, match="training data"):
        seen = threatclf.evaluate(small_model, texts, labels)
    folder = small_model.save(tmp_path / "m", metrics={"dev": seen})
    note = f"{len(texts):,} of {len(texts):,} texts were in the model's training data; these are not held-out figures"
    assert f"**Warning:** {note}." in (folder / "README.md").read_text()
    assert main(["info", "--model", str(folder)]) == 0
    assert f"WARNING: {note}" in capsys.readouterr().out


def test_a_users_own_label_definitions_go_into_the_card(small_model, tmp_path):
    mine = {"terrorism": "Attacks on our client's sites by any armed group."}
    folder = small_model.save(tmp_path / "m", label_definitions=mine)
    card = (folder / "README.md").read_text()
    assert "| `terrorism` |" in card and mine["terrorism"] in card
    assert "categories its trainer defined" in card  # not the codebook's "threat topics"
    assert json.loads((folder / "metadata.json").read_text())["label_definitions"]["terrorism"] == mine["terrorism"]
    with pytest.raises(ValueError, match=r"label_definitions names labels the model does not have: \['fraud'\]"):
        small_model.save(tmp_path / "m2", label_definitions={"fraud": "x"})


def test_a_fresh_fit_saved_from_python_records_its_out_of_fold_figures(tmp_path):
    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3).fit(texts, labels, groups=[f"g{i // 2}" for i in range(len(texts))])
    figures = json.loads((model.save(tmp_path / "m") / "metadata.json").read_text())["metrics"]["cross-validated"]
    assert figures["description"].startswith(f"3-fold out-of-fold predictions on the {len(texts)} training rows "
                                             "(rows of one group in one fold")
    expected = score_predictions(to_indicator(labels, model.labels_), model.oof_probabilities_ >= model.thresholds_,
                                 model.oof_probabilities_, model.labels_)
    assert figures["macro_f1"] == pytest.approx(expected.macro_f1)
    fixed = ThreatClassifier(min_df=1, cv=3, threshold=0.5).fit(texts, labels).out_of_fold_figures()
    assert "at the thresholds set in the settings (calibration learned on these same predictions)" in \
        fixed["description"] and "optimistic" not in fixed["description"]
    assert threatclf.load_model(tmp_path / "m").out_of_fold_figures() is None  # a loaded model has none


def test_a_pickled_fit_keeps_its_out_of_fold_figures_for_a_later_save(tmp_path):
    """fit, joblib.dump, and save in another session: the card still gets the cross-validated
    figures; the model folder itself stores the model without the fit's out-of-fold scores."""
    import pickle

    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    again = pickle.loads(pickle.dumps(model))
    assert again.out_of_fold_figures() == model.out_of_fold_figures() is not None
    folder = again.save(tmp_path / "m")
    recorded = json.loads((folder / "metadata.json").read_text())["metrics"]["cross-validated"]
    assert recorded["macro_f1"] == pytest.approx(model.out_of_fold_figures()["macro_f1"])
    assert again.out_of_fold_figures() is not None  # saving left the object as it was
    loaded = threatclf.load_model(folder)
    assert loaded.out_of_fold_figures() is None and not hasattr(loaded, "oof_probabilities_")


def test_a_verification_is_false_for_a_folder_that_would_not_load_as_saved(saved_small_model, tmp_path):
    assert threatclf.verify_model(saved_small_model)
    folder = _copy(saved_small_model, tmp_path)
    (folder / "README.md").write_text("edited")
    assert threatclf.verify_model(folder)  # an edited card is noted, not fatal
    tainted = copy.copy(threatclf.load_model(saved_small_model))
    tainted.training_fingerprint_ = {**tainted.training_fingerprint_, "smuggled": Fraction(1, 3)}
    import skops.io as sio

    sio.dump(tainted, folder / "model.skops")
    _rewrite_digests(folder)
    check = threatclf.verify_model(folder)
    assert check.untrusted == ["fractions.Fraction"] and not check and not check.ok


def test_label_definitions_are_kept_on_resave_and_fit_the_cards_table(small_model, tmp_path):
    mine = {"corruption": "Bribery. | Also:\nembezzlement"}
    first = small_model.save(tmp_path / "first", label_definitions=mine)
    row = next(line for line in (first / "README.md").read_text().splitlines() if line.startswith("| `corruption`"))
    assert row.endswith("| Bribery. \\| Also: embezzlement |") and len(re.split(r"(?<!\\)\|", row)) == 5
    again = threatclf.load_model(first).save(tmp_path / "again")
    assert json.loads((again / "metadata.json").read_text())["label_definitions"]["corruption"] == mine["corruption"]
    with pytest.raises(TypeError, match="non-empty strings"):
        small_model.save(tmp_path / "empty", label_definitions={"corruption": " "})


def test_out_of_fold_figures_describe_the_fit_not_later_settings(tmp_path):
    texts, labels = tiny_corpus()
    weights = np.r_[np.zeros(4), np.ones(len(texts) - 4)]
    model = ThreatClassifier(min_df=1, cv=3, threshold=0.5).fit(texts, labels, sample_weight=weights)
    model.set_params(cv=5, threshold="f1")
    figures = model.out_of_fold_figures()
    assert figures["description"].startswith(f"3-fold out-of-fold predictions on the {len(texts) - 4} training rows")
    assert "at the thresholds set in the settings" in figures["description"] and figures["n_samples"] == len(texts) - 4


def test_the_card_and_metadata_record_sample_weights_and_count_no_row_of_weight_zero(tmp_path):
    texts, labels = tiny_corpus()
    weights = np.ones(len(texts))
    dropped = [i for i, names in enumerate(labels) if "corruption" in names][:2]
    weights[dropped] = 0
    weights[-1] = 2.5
    model = ThreatClassifier(min_df=1, cv=3, threshold=0.5).fit(texts, labels, sample_weight=weights)
    meta = json.loads((model.save(tmp_path / "weighted") / "metadata.json").read_text())
    recorded = meta["training_data"]["weights"]
    everywhere = sum("corruption" in names for names in labels)
    assert meta["training_data"]["positives"]["corruption"] == everywhere
    assert recorded["rows_of_weight_0"] == 2 and recorded["positives_counted"]["corruption"] == everywhere - 2
    card = (tmp_path / "weighted" / "README.md").read_text()
    assert f"rows weighted (`sample_weight`, SHA-256 `{recorded['sha256']}`): 2 of weight 0" in card
    assert f"`corruption` ({everywhere - 2})" in card  # the "few examples" note counts what taught the model
    # other weights, the same texts and labels: the weights' digest tells the two fits apart
    weights[-1] = 3
    other = ThreatClassifier(min_df=1, cv=3, threshold=0.5).fit(texts, labels, sample_weight=weights)
    assert other.training_fingerprint_["sha256"] == model.training_fingerprint_["sha256"]
    assert other.training_fingerprint_["weights"]["sha256"] != recorded["sha256"]
    # unweighted (or all weights 1) fits record no weights
    for unweighted in (None, np.ones(len(texts))):
        plain = ThreatClassifier(min_df=1, cv=3, threshold=0.5).fit(texts, labels, sample_weight=unweighted)
        assert "weights" not in plain.training_fingerprint_
    assert threatclf.load_model(tmp_path / "weighted").training_fingerprint_["weights"] == recorded


def test_a_model_with_a_random_state_object_says_why_it_cannot_be_saved(tmp_path):
    texts, labels = tiny_corpus()
    model = ThreatClassifier(min_df=1, cv=3, random_state=np.random.RandomState(0)).fit(texts, labels)
    assert copy.deepcopy(model).settings_changed_since_fit() == []  # its repr differs in a copy: not a change
    with pytest.raises(ValueError, match="random_state=RandomState cannot be stored in a model folder"):
        model.save(tmp_path / "m")


def test_the_card_says_what_python_saved_figures_are_and_whose_definitions_stand_beside_a_users(tmp_path):
    texts, labels = tiny_corpus()
    labels = [names + (["fraud"] if i % 3 == 0 else []) for i, names in enumerate(labels)]
    model = ThreatClassifier(min_df=1, cv=3).fit(texts, labels)
    with pytest.warns(UserWarning):
        dev = threatclf.evaluate(model, texts[:6], labels[:6])
    card = (model.save(tmp_path / "m", metrics={"dev": dev}) / "README.md").read_text()
    assert "6 texts scored with threatclf.evaluate; 6 of them were in the training data, so these figures are " \
           "optimistic." in card
    assert "(threatclf's codebook definition)" in card and "| `fraud` | " in card


def test_figures_of_unknown_provenance_do_not_claim_to_be_held_out(small_model, tmp_path):
    texts, labels = tiny_corpus()
    truth = to_indicator(labels, small_model.labels_)
    figures = score_predictions(truth, small_model.predict_indicator(texts), None, small_model.labels_)
    meta = json.loads((small_model.save(tmp_path / "m", metrics={"dev": figures}) / "metadata.json").read_text())
    assert meta["metrics"]["dev"]["description"] == (f"{len(texts)} texts scored; whether the model was trained on "
                                                      "them was not checked.")


def test_a_redefined_codebook_label_marks_the_other_codebook_definitions(small_model, tmp_path):
    card = (small_model.save(tmp_path / "m", label_definitions={"terrorism": "Political violence."}) / "README.md")
    rows = [line for line in card.read_text().splitlines() if line.startswith("| `")]
    assert sum("(threatclf's codebook definition)" in row for row in rows) == len(rows) - 1


@pytest.mark.parametrize("offsets", [lambda n, size: np.tile([0, size], n)[:n],  # back and forth: copies the run again
                                     lambda n, size: np.r_[1, np.arange(1, n)],
                                     lambda n, size: np.r_[np.arange(n - 1), size + 5]])
def test_stored_term_offsets_that_do_not_rise_to_the_end_are_refused_before_slicing(offsets):
    # offsets going back and forth over a long run of terms made a 200 KB file ask for 100 GB
    from sklearn.feature_extraction.text import TfidfVectorizer

    from threatclf.features import pack_vectorizer, unpack_vectorizer

    packed = pack_vectorizer(TfidfVectorizer().fit(["bomb blast", "gang deal"]))
    n, size = len(packed["terms_offsets"]), len(packed["terms_codepoints"])
    with pytest.raises(ModelFormatError, match="term offsets must rise from 0 to the length of its terms"):
        unpack_vectorizer({**packed, "terms_offsets": offsets(n, size)})


def test_a_weights_file_larger_than_the_limit_is_refused_before_it_is_read(saved_small_model, tmp_path, monkeypatch):
    import threatclf.persistence as persistence

    folder = _copy(saved_small_model, tmp_path)
    with open(folder / "model.skops", "r+b") as handle:  # sparse: large on paper, nothing on disk
        handle.truncate(persistence.MAX_INFLATED_BYTES + 1)
    _rewrite_digests(folder)
    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: read.append(self.name) or real(self))
    with pytest.raises(ModelFormatError, match=r"model.skops holds 1,073,741,825 bytes, more than the 1,073,741,824"):
        threatclf.load_model(folder)
    assert "model.skops" not in read


@pytest.mark.parametrize("name", ["README.md", "model.skops", "metadata.json"])
def test_a_file_that_is_a_link_to_itself_is_a_format_error(saved_small_model, tmp_path, name):
    folder = _copy(saved_small_model, tmp_path)
    (folder / name).unlink()
    os.symlink(name, folder / name)
    with pytest.raises(ModelFormatError, match=f"{name} is a link that leads nowhere"):
        threatclf.load_model(folder)


@pytest.mark.parametrize("label, problem", [("+HYPERLINK(A1)", "may not start with '=', '\\+', '-' or '@'"),
                                            ("=HYPERLINK(A1)", "may not start with|may not contain"),
                                            ("@SUM(A1)", "may not start with"),
                                            ("terr\u043erism", "mixes Latin, Cyrillic, Greek or Armenian letters within the "
                                                               "word 'terr\u043erism' \\('\u043e' is CYRILLIC"),
                                            ("terr\u034f\u043e\u034frism", "mixes Latin, Cyrillic, Greek or Armenian"),
                                            ("terror\u034fism", "print alike \\('\\u034f' is COMBINING GRAPHEME")])
def test_a_folder_whose_label_would_be_a_formula_or_a_look_alike_is_refused(small_model, tmp_path, label, problem):
    # an attacker's folder: the label renamed in the weights and in metadata.json, digests made to match
    folder = threatclf.save_model(small_model, tmp_path / "m")
    old = small_model.labels_[3]

    def rename(node):  # a label is a JSON node holding the name JSON-encoded
        if isinstance(node, dict):
            if node.get("content") == json.dumps(old):
                node["content"] = json.dumps(label)
            for value in node.values():
                rename(value)
        elif isinstance(node, list):
            for value in node:
                rename(value)

    _edit_schema(folder, rename)
    meta = json.loads((folder / "metadata.json").read_text().replace(json.dumps(old), json.dumps(label)))
    (folder / "metadata.json").write_text(json.dumps(meta))
    _rewrite_digests(folder)
    with pytest.raises(ModelFormatError, match=problem):
        threatclf.load_model(folder)
    with pytest.raises(threatclf.DataError, match=problem):  # and fit refuses such names in the first place
        threatclf.ThreatClassifier(min_df=1, cv=2).fit(["a bomb", "a cake", "a bribe", "a pie"],
                                                       [[label], ["terrorism"], [label], ["terrorism"]])


def test_an_error_quoting_a_folder_escapes_its_control_characters(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    _rewrite_digests(folder, format_version=FORMAT_VERSION + 1, threatclf_version="9.9\x1b[2J\x1b]0;owned\x07")
    with pytest.raises(threatclf.IncompatibleModelError) as error:
        threatclf.load_model(folder)
    assert "\x1b" not in str(error.value) and "\\x1b[2J" in str(error.value)


def test_an_interrupt_between_the_two_renames_of_an_overwrite_puts_the_old_model_back(small_model, tmp_path,
                                                                                       monkeypatch):
    import threatclf.persistence as persistence

    path = small_model.save(tmp_path / "model")
    before = sorted(p.name for p in path.iterdir())
    digest = (path / "metadata.json").read_bytes()
    calls = []
    real_replace = os.replace

    def interrupted_second(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(persistence.os, "replace", interrupted_second)
    with pytest.raises(KeyboardInterrupt):
        small_model.save(path, overwrite=True)
    monkeypatch.setattr(persistence.os, "replace", real_replace)
    assert sorted(p.name for p in path.iterdir()) == before
    assert (path / "metadata.json").read_bytes() == digest
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no hidden copy left behind
    threatclf.load_model(path)


@pytest.mark.parametrize("edit, message", [
    (lambda meta: meta["thresholds"].update({k: v + 0.005 for k, v in meta["thresholds"].items()}),
     "thresholds in metadata.json do not match"),
    (lambda meta: meta.update(n_features=meta["n_features"] + 1), "n_features in metadata.json does not match"),
    (lambda meta: meta.update(labels=meta["labels"][::-1]), "labels in metadata.json do not match"),
])
def test_a_small_edit_of_what_metadata_states_is_refused(saved_small_model, tmp_path, edit, message):
    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    edit(meta)
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match=message):
        threatclf.load_model(folder)


def test_thresholds_given_as_a_series_of_labels_go_to_their_labels_and_others_are_refused(small_model):
    import pandas as pd

    model = copy.deepcopy(small_model)
    labels = list(model.labels_)
    by_label = pd.Series({label: 0.999 if label == "terrorism" else 0.5 for label in reversed(labels)})
    model.thresholds_ = by_label  # keyed by label, in another order: each goes to its label
    assert dict(zip(labels, model.thresholds_.tolist())) == by_label.to_dict()
    with pytest.raises(ValueError, match=r"thresholds_ is a Series indexed by \['terorism'"):
        model.thresholds_ = pd.Series({"terorism": 0.5, **{label: 0.5 for label in labels[1:]}})
    model.thresholds_ = [0.5] * (len(labels) - 1) + [None]  # kept as given: predict says what is wrong
    with pytest.raises(TypeError):
        model.predict(["A bomb exploded."])


def test_thresholds_and_weights_assigned_as_lists_save_a_folder_that_loads(small_model, tmp_path):
    import pandas as pd

    model = copy.deepcopy(small_model)
    hand_tuned = [0.4] * len(model.labels_)
    model.thresholds_ = hand_tuned  # a plain list, as one types it
    model.intercept_ = pd.Series(model.intercept_.tolist())
    model.calibration_ = [list(row) for row in model.calibration_]
    loaded = threatclf.load_model(model.save(tmp_path / "tuned"))
    assert loaded.thresholds_.tolist() == hand_tuned
    texts = ["A car bomb exploded outside the police station.", "Farmers sold their crops at the market."]
    assert loaded.predict(texts) == model.predict(texts)
    np.testing.assert_array_equal(loaded.predict_proba(texts).to_numpy(), model.predict_proba(texts).to_numpy())


def test_a_threshold_above_1_is_refused_on_saving_and_on_loading(small_model, tmp_path, monkeypatch):
    import threatclf.persistence as persistence

    model = copy.deepcopy(small_model)
    model.thresholds_ = model.thresholds_.copy()
    model.thresholds_[0] = 1.5
    with pytest.raises(ValueError, match="thresholds_ must hold one value between 0 and 1 per label"):
        model.save(tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    # a folder made without that check (by hand, or an older release) does not load either
    monkeypatch.setattr(persistence, "NEVER", 1.5)  # the save check let through as "not learned"
    folder = model.save(tmp_path / "made")
    monkeypatch.undo()
    with pytest.raises(ModelFormatError, match="stored thresholds must lie between 0 and 1"):
        threatclf.load_model(folder)


def test_a_listed_file_other_than_the_card_changed_is_a_damaged_folder(saved_small_model, tmp_path, capsys):
    # load_model only warned of it while verify failed (and a missing one was an error to both)
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    (folder / "NOTES.md").write_text("how this model was made\n")
    _rewrite_digests(folder)
    assert threatclf.verify_model(folder).ok
    (folder / "NOTES.md").write_text("edited\n")
    for check in (threatclf.verify_model, threatclf.load_model):
        with pytest.raises(ModelFormatError, match=r"NOTES.md does not match the SHA-256"):
            check(folder)
    assert main(["verify", str(folder), "--format", "json"]) == 2
    said = json.loads(capsys.readouterr().out)
    assert said["changed"] == {"NOTES.md": "does not match the SHA-256 recorded in metadata.json (changed since "
                                           "saving)"} and said["loads"] is False


def test_a_save_clears_what_a_killed_save_of_the_same_folder_left(small_model, tmp_path):
    for stale in (".model.x1y2z3w4", ".model.old.a1b2c3d4"):
        (tmp_path / stale).mkdir()
        (tmp_path / stale / "model.skops").write_bytes(b"half written")
    (tmp_path / ".model.notes").write_text("the user's own")  # not a save's name
    (tmp_path / ".other.x1y2z3w4").mkdir()  # another folder's
    (tmp_path / ".model.20250101").mkdir()  # a save's name, but the user's backup: it holds their file
    (tmp_path / ".model.20250101" / "notes.txt").write_text("backup")
    (tmp_path / ".model.old.backup_1").mkdir()
    (tmp_path / ".model.old.backup_1" / "model.skops").mkdir()  # a folder no save writes
    (tmp_path / ".model.old.b1c2d3e4").mkdir()  # a replaced folder that a file browser had shown
    (tmp_path / ".model.old.b1c2d3e4" / "metadata.json").write_text("{}")
    (tmp_path / ".model.old.b1c2d3e4" / ".DS_Store").write_bytes(b"Bud1")
    small_model.save(tmp_path / "model")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.20250101", ".model.notes", ".model.old.backup_1",
                                                         ".other.x1y2z3w4", "model"]
    assert (tmp_path / ".model.20250101" / "notes.txt").read_text() == "backup"


def test_settings_of_model_gives_the_settings_to_train_another_model_the_same_way(saved_small_model, tmp_path):
    from sklearn.base import clone

    settings = threatclf.settings_of_model(saved_small_model)
    model = threatclf.load_model(saved_small_model)
    # what clone(model) would be, without reading (or trusting) the weights; how to compute is the new run's
    expected = {k: v for k, v in clone(model).get_params().items() if k not in ("n_jobs", "engine")}
    assert settings == expected and isinstance(settings["word_ngram_range"], tuple)
    # the weights are never read: a folder whose weights file is gone still gives its settings
    folder = _copy(saved_small_model, tmp_path)
    (folder / "model.skops").unlink()
    assert threatclf.settings_of_model(folder) == settings
    # by default, the bundled model's
    assert threatclf.settings_of_model() == {k: v for k, v in threatclf.load_model().get_params().items()
                                            if k not in ("n_jobs", "engine")}


@pytest.mark.parametrize("class_weight", [{0: 1.0, 1: 5.0}, {"terrorism": {0: 1, 1: 3}, "*": "balanced"}])
def test_settings_of_model_keep_a_per_class_class_weight(class_weight, tmp_path):
    # JSON makes the 0 / 1 keys text; read back as label names, fit would refuse the folder's own settings
    texts, labels = tiny_corpus(repeats=3)
    folder = ThreatClassifier(min_df=1, cv=3, class_weight=class_weight).fit(texts, labels).save(tmp_path / "m")
    settings = threatclf.settings_of_model(folder)
    assert settings["class_weight"] == class_weight
    again = ThreatClassifier(**settings).fit(texts, labels)
    np.testing.assert_allclose(again.predict_proba(texts).to_numpy(),
                               threatclf.load_model(folder).predict_proba(texts).to_numpy())


@pytest.mark.parametrize("setting, value, message", [("C", "strong", "C must be a number"),
                                                     ("threshold", True, "threshold must be"),
                                                     ("max_df", "0.9", "max_df must be"),
                                                     ("random_state", 2**40, "random_state must be")])
def test_settings_of_model_refuse_a_setting_value_fit_would_refuse(saved_small_model, tmp_path, setting, value,
                                                                   message):
    # said when the settings are read, naming the folder: not mid-fit, after the training data is read
    folder = _copy(saved_small_model, tmp_path)
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["settings"][setting] = value
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelFormatError, match=f"{folder}: metadata.json has a setting threatclf refuses: {message}"):
        threatclf.settings_of_model(folder)


def test_settings_of_a_format_1_folder_are_brought_up_to_date():
    settings = threatclf.settings_of_model(V1_FOLDER)
    assert "labels" not in settings and settings["label_names"] is None
    rebuilt = ThreatClassifier(**settings).get_params()
    assert rebuilt == {**threatclf.load_model(V1_FOLDER).get_params(), "n_jobs": None, "engine": "auto"}


def test_settings_of_model_refuses_what_is_not_a_model_or_not_a_setting(saved_small_model, tmp_path):
    with pytest.raises(ModelFormatError, match="metadata.json is missing"):
        threatclf.settings_of_model(tmp_path)
    folder = _copy(saved_small_model, tmp_path)
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["settings"]["kernel"] = "rbf"
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelFormatError, match=r"settings this threatclf does not know: \['kernel'\]"):
        threatclf.settings_of_model(folder)
    del metadata["settings"]
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(ModelFormatError, match="has no settings"):
        threatclf.settings_of_model(folder)
    metadata["format_version"] = FORMAT_VERSION + 1
    (folder / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(IncompatibleModelError, match="upgrade threatclf"):
        threatclf.settings_of_model(folder)


def _replace_members(folder: Path, replace) -> None:
    """Rewrite model.skops with ``replace(schema, members)`` changing array members, then the digests."""
    weights = folder / "model.skops"
    with zipfile.ZipFile(weights) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    replace(json.loads(members["schema.json"]), members)
    with zipfile.ZipFile(weights, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    _rewrite_digests(folder)


def _npy(array: np.ndarray) -> bytes:
    import io

    stream = io.BytesIO()
    np.save(stream, array)
    return stream.getvalue()


def test_stored_terms_the_weights_have_no_columns_for_are_refused_before_anything_is_built(
        saved_small_model, tmp_path, monkeypatch):
    # A few MB of short terms become gigabytes of Python strings once built: a crafted file stored
    # 16 million of them (44 MB) and took 3.3 GB and 33 s to be refused. Their count is read from
    # the array headers and must be the weights' column count first.
    folder = _copy(saved_small_model, tmp_path)
    n = 200_000

    def more_terms(schema, members):
        packed = _attribute_nodes(schema)["vectorizers_"]["content"][0]["content"]
        codepoints = np.repeat(np.arange(0x4E00, 0x4E00 + n, dtype=np.uint32), 1)
        members[packed["terms_codepoints"]["file"]] = _npy(codepoints)
        members[packed["terms_offsets"]["file"]] = _npy(np.arange(n + 1, dtype=np.int64))
        members[packed["idf"]["file"]] = _npy(np.ones(n))

    _replace_members(folder, more_terms)
    import threatclf.features

    built = []
    monkeypatch.setattr(threatclf.features, "unpack_vectorizer", lambda packed: built.append(packed))
    with pytest.raises(ModelFormatError, match=r"model.skops: the stored vectorizers hold [\d,]+ terms but the "
                                               r"weights have shape \(\d+, \d+\); refusing to build it"):
        threatclf.verify_model(folder)
    with pytest.raises(ModelFormatError, match="refusing to build it"):
        threatclf.load_model(folder)
    assert built == []


def test_stored_idf_weights_must_be_one_per_term_before_the_terms_are_built():
    from sklearn.feature_extraction.text import TfidfVectorizer

    from threatclf.features import pack_vectorizer, unpack_vectorizer

    packed = pack_vectorizer(TfidfVectorizer().fit(["bomb blast", "gang deal"]))
    with pytest.raises(ModelFormatError, match="IDF weights are not one per term"):
        unpack_vectorizer({**packed, "idf": packed["idf"][:-1]})


def test_a_listed_file_too_large_to_be_the_card_or_a_note_is_not_hashed(saved_small_model, tmp_path, monkeypatch):
    # Every listed file was hashed whatever its size: a 4 GiB sparse file, a few KB in a tarball,
    # stalled loading for 20 s (a 1 TiB one, for an hour). Above the limit it counts as changed.
    import threatclf.persistence as persistence

    folder = _copy(saved_small_model, tmp_path)
    with open(folder / "notes.txt", "wb") as notes:
        notes.truncate(1 << 16)
    _rewrite_digests(folder)
    assert threatclf.verify_model(folder).ok
    hashed = []
    real_sha256 = persistence._sha256
    monkeypatch.setattr(persistence, "_sha256", lambda p: hashed.append(Path(p).name) or real_sha256(p))
    monkeypatch.setattr(persistence, "MAX_LISTED_BYTES", (1 << 16) - 1)
    for check in (threatclf.verify_model, threatclf.load_model):  # counted as changed, as an edited file is
        with pytest.raises(ModelFormatError, match=r"notes.txt does not match the SHA-256"):
            check(folder)
    assert "notes.txt" not in hashed and "README.md" in hashed


def test_a_number_too_large_for_a_float_in_metadata_is_a_format_error(saved_small_model, tmp_path, capsys):
    # JSON allows 10**400; float() of it raised OverflowError: a traceback, not a ModelFormatError
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["thresholds"][next(iter(meta["thresholds"]))] = 10 ** 400
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="thresholds in metadata.json do not match"):
        threatclf.load_model(folder)
    assert main(["verify", str(folder)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    meta = json.loads((saved_small_model / "metadata.json").read_text())
    meta["metrics"] = {"dev": {"n_samples": 10, "macro_f1": 10 ** 400, "micro_f1": 0.5, "labels": {}}}
    (folder / "metadata.json").write_text(json.dumps(meta))
    assert main(["info", "--model", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "metadata.json is malformed (OverflowError" in err and "Traceback" not in err


@pytest.mark.parametrize("name, value, message", [
    ("intercept_", "nan", "intercept_ holds values that are not finite numbers"),
    ("coef_", "inf", "coef_ holds values that are not finite numbers"),
    ("calibration_", "nan", "calibration_ holds values that are not finite numbers"),
    ("training_fingerprint_", "text", r"training_fingerprint_ is not a mapping \(str\)"),
    ("labels_", "twice", "the stored labels name one twice"),
])
def test_stored_parts_that_would_fail_at_use_are_refused_at_load(small_model, tmp_path, name, value, message):
    # a NaN intercept gave every text null scores and no label, with exit status 0; a fingerprint
    # that is not a mapping failed later, in evaluate or on saving again
    tainted = copy.copy(small_model.without_training_run())
    if value in ("nan", "inf"):
        array = getattr(small_model, name).astype(float)  # a copy
        array.flat[0] = float(value)
        setattr(tainted, name, array)
    elif value == "text":
        tainted.training_fingerprint_ = json.dumps(small_model.training_fingerprint_)
    else:
        tainted.labels_ = [small_model.labels_[0]] * len(small_model.labels_)
    import joblib

    folder = threatclf.save_model(small_model, tmp_path / "tainted", format="joblib")
    joblib.dump(tainted, folder / "model.joblib")  # what save_model would refuse to write
    _rewrite_digests(folder)
    with pytest.raises(ModelFormatError, match=message):
        threatclf.load_model(folder, trust=True)


def test_verify_says_how_to_load_a_folder_with_untrusted_types(saved_small_model, tmp_path, capsys):
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)

    def disguise(schema):
        _attribute_nodes(schema)["coef_"]["__loader__"] = "SparseMatrixNode"

    _edit_schema(folder, disguise)
    assert main(["verify", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "NOT TRUSTED: numpy.ndarray (built by SparseMatrixNode)" in err and "--trust" in err


@pytest.mark.parametrize("stamp, blamed", [("99.0.0", True), ("0.1.0", False), ("not a version", False)])
def test_a_folder_this_release_cannot_read_is_blamed_on_a_later_release_when_one_saved_it(saved_small_model,
                                                                                          tmp_path, stamp, blamed):
    # What 0.16 did to 0.5-0.15: a setting value added later read as a damaged folder. The stamp is checked.
    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["settings"]["a_setting_added_later"] = 1
    (folder / "metadata.json").write_text(json.dumps(meta))
    _rewrite_digests(folder, threatclf_version=stamp)
    for read in (threatclf.load_model, threatclf.verify_model, threatclf.settings_of_model):
        with pytest.raises(ModelFormatError) as error:
            read(folder)
        assert isinstance(error.value, IncompatibleModelError) is blamed
        assert ("saved by threatclf 99.0.0, a later release than this threatclf "
                f"{threatclf.__version__}: upgrade threatclf" in str(error.value)) is blamed


def test_a_folder_a_later_release_saved_loads_with_a_warning_to_upgrade(saved_small_model, tmp_path):
    folder = _copy(saved_small_model, tmp_path)
    _rewrite_digests(folder, threatclf_version="99.0.0")
    with pytest.warns(ModelVersionWarning, match=r"saved by threatclf 99\.0\.0, a later release .* upgrade threatclf"):
        model = threatclf.load_model(folder)
    np.testing.assert_array_equal(model.predict_proba(PROBE), threatclf.load_model(saved_small_model).predict_proba(PROBE))
    _rewrite_digests(folder, threatclf_version=threatclf.__version__ + "rc1")  # the same release: nothing to say
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelVersionWarning)
        threatclf.load_model(folder)


@pytest.mark.parametrize("damage", ["digest", "pickle", "link"])
def test_a_damaged_folder_is_not_blamed_on_a_later_release(saved_small_model, tmp_path, damage):
    # Upgrading mends none of these; "upgrade threatclf" on a disguised pickle would be a lure.
    folder = _copy(saved_small_model, tmp_path / "in")
    _rewrite_digests(folder, threatclf_version="99.0.0")
    if damage == "digest":
        (folder / "model.skops").write_bytes((folder / "model.skops").read_bytes() + b"\0")
    elif damage == "pickle":
        (folder / "model.skops").write_bytes(pickle.dumps({"a": 1}))
        _rewrite_digests(folder)
    else:
        outside = tmp_path / "outside.skops"
        (folder / "model.skops").rename(outside)
        (folder / "model.skops").symlink_to(outside)
    for read in (threatclf.load_model, threatclf.verify_model):
        with pytest.raises(ModelFormatError) as error:
            read(folder)
        assert not isinstance(error.value, IncompatibleModelError), str(error.value)
        assert "upgrade" not in str(error.value)


def test_a_version_stamp_of_thousands_of_digits_is_no_release(saved_small_model, tmp_path):
    # int() of 5,000 digits raises a bare ValueError naming no file; such a stamp is garbage, not a release.
    folder = _copy(saved_small_model, tmp_path)
    _rewrite_digests(folder, threatclf_version="9" * 5000)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ModelVersionWarning)
        model = threatclf.load_model(folder)
    assert threatclf.verify_model(folder).ok and model.labels_
    (folder / "model.skops").write_bytes(b"damaged")
    with pytest.raises(ModelFormatError, match="SHA-256"):
        threatclf.verify_model(folder)


@pytest.mark.parametrize("name", ["model.skops", "README.md"])
def test_a_pickle_under_another_formats_file_name_is_refused_even_trusted(saved_small_model, tmp_path, name):
    folder = _copy(saved_small_model, tmp_path)
    sentinel = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {sentinel}",))

    (folder / name).write_bytes(pickle.dumps(Exploit()))
    if name == "README.md":
        (folder / "model.skops").unlink()
    _rewrite_digests(folder, weights_format="joblib", weights_file=name)
    for read in (lambda: threatclf.load_model(folder, trust=True), lambda: threatclf.verify_model(folder)):
        with pytest.raises(ModelFormatError, match="a joblib model's weights file is model.joblib"):
            read()
    assert not sentinel.exists()


@pytest.mark.parametrize("trust", ["yes", 1, None, "os.system", [1]])
def test_trust_that_is_not_true_false_or_a_list_of_names_is_a_type_error(saved_small_model, trust):
    with pytest.raises(TypeError, match="trust must be True, False or a list of type names"):
        threatclf.load_model(saved_small_model, trust=trust)


@pytest.mark.parametrize("trusted", ["os.system", True, [None]])
def test_verify_wants_a_list_of_type_names(saved_small_model, trusted):
    with pytest.raises(TypeError, match="trusted") as refused:
        threatclf.verify_model(saved_small_model, trusted=trusted)
    assert "True, False" not in str(refused.value)  # which verify_model refuses too: not offered


def test_info_prints_the_metadata_it_verified_read_once(saved_small_model, tmp_path, monkeypatch, capsys):
    # A file swapped between a read for printing and a read for verifying could show forged figures as verified.
    from threatclf import cli, persistence

    reads = []
    real = persistence.read_metadata
    monkeypatch.setattr(persistence, "read_metadata", lambda path: reads.append(path) or real(path))
    assert cli.main(["info", str(saved_small_model)]) == 0
    assert len(reads) == 1
    assert "verified:" in capsys.readouterr().out


def test_info_as_json_refuses_nan_rather_than_print_what_is_not_json(saved_small_model, tmp_path, capsys):
    from threatclf.cli import main

    folder = _copy(saved_small_model, tmp_path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["metrics"] = {"note": float("nan")}
    (folder / "metadata.json").write_text(json.dumps(meta))  # Python writes NaN, which JSON has not
    code = main(["info", str(folder), "--format", "json"])
    captured = capsys.readouterr()
    assert code != 0 and "NaN" not in captured.out
    assert "NaN or Infinity" in captured.err

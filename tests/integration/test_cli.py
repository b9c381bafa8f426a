"""The ``threatclf`` command: called through ``main(argv)`` and through the installed script."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

import threatclf
from threatclf.persistence import FORMAT_VERSION
from builders import tiny_corpus
from threatclf import ThreatClassifier
from threatclf.cli import main
from threatclf.labels import to_indicator


def installed_command() -> str:
    script = Path(sys.executable).parent / "threatclf"
    assert script.exists(), f"console script not installed at {script}"
    return str(script)


@pytest.fixture(scope="module")
def data_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    texts, labels = tiny_corpus()
    rows = [{"text": t, "labels": l} for t, l in zip(texts, labels)]
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    pd.DataFrame({"body": texts, "tags": [";".join(l) for l in labels]}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame(rows).to_parquet(folder / "train.parquet")
    return folder


def run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_installed_entry_point_help():
    result = subprocess.run([installed_command(), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if len(line) > 4 and line[:4] == "    " and line[4] != " "]
    assert listed == ["train", "evaluate", "info", "verify", "label"]
    # Each subcommand is reachable through the installed script, not only listed.
    for command in listed:
        sub = subprocess.run([installed_command(), command, "--help"], capture_output=True, text=True)
        assert sub.returncode == 0 and sub.stdout.startswith(f"usage: threatclf {command}")


def test_python_dash_m_runs_the_command(tmp_path):
    # where the script's folder is not on PATH (a venv not activated, Windows user installs)
    result = subprocess.run([sys.executable, "-m", "threatclf", "label", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("usage: threatclf label"), result.stderr
    result = subprocess.run([sys.executable, "-m", "threatclf", "info", str(tmp_path / "nothing")],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "nothing" in result.stderr


def test_train_writes_a_model_folder_from_jsonl(data_files, capsys):
    out = data_files / "m-jsonl"
    code, out_text, err = run(["train", str(data_files / "train.jsonl"), "-o", str(out), "--min-df", "1", "--cv", "3"],
                              capsys)
    assert code == 0, err
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["labels"][0] == "terrorism" and "cross-validated" in meta["metrics"]
    # the figures the card records are said at once, as info says them, not left for info to find
    said = (out_text + err).splitlines()
    recorded = said.index("figures recorded in the model card:")
    figures = meta["metrics"]["cross-validated"]
    assert said[recorded + 1].startswith(f"  cross-validated: macro F1 {figures['macro_f1']:.3f}, micro F1 ")
    assert said[recorded + 2].strip() == figures["description"]
    assert "dev figures" not in out_text + err
    # and how to use the model: a command that works as printed
    use = said[-1].split("use it with: ", 1)[1].split()
    assert use[:2] == ["threatclf", "label"] and use[-2:] == ["--model", str(out)]
    source = data_files / "use.jsonl"
    source.write_text(json.dumps({"id": "u1", "text": "Gunmen attacked the checkpoint."}) + "\n")
    assert main(["label", str(source), "-o", str(data_files / "use-out.jsonl"), "-q", *use[-2:]]) == 0


def test_train_with_a_presence_block(data_files, capsys):
    out = data_files / "m-presence"
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(out), "--min-df", "1", "--cv", "3",
                        "--presence", "1", "2", "-q"], capsys)
    assert code == 0, err
    assert json.loads((out / "metadata.json").read_text())["settings"]["presence_ngram_range"] == [1, 2]
    model = threatclf.load_model(out)
    assert tuple(model.presence_ngram_range) == (1, 2)
    code, info, _ = run(["info", "--model", str(out)], capsys)
    assert code == 0 and "(word+char + presence 1-2-grams (weight 1.0), model logreg)" in info
    assert any(name.startswith("present:") for name in model.get_feature_names_out())


def test_train_threshold_rule_is_kept_in_the_model(data_files, capsys):
    out = data_files / "m-half-f1"
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(out), "--min-df", "1", "--cv", "3",
                        "--threshold-rule", "half-best-f1", "-q"], capsys)
    assert code == 0, err
    assert json.loads((out / "metadata.json").read_text())["settings"]["threshold"] == "half-best-f1"
    model = threatclf.load_model(out)
    assert model.threshold == "half-best-f1"
    # half an F1, unless raised to just above what a text with none of the model's words gets
    blank = model.predict_proba([""]).to_numpy()[0]
    assert all(0 < t <= 0.5 or t == pytest.approx(b + 1e-6) for t, b in zip(model.thresholds_, blank))
    assert any(t <= 0.5 for t in model.thresholds_)


def test_train_checks_its_output_folder_before_training(data_files, tmp_path, capsys, monkeypatch):
    import threatclf.classifier as classifier_module

    def never(*args, **kwargs):
        raise AssertionError("trained although the output could not be written")

    monkeypatch.setattr(classifier_module.ThreatClassifier, "fit", never)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "metadata.json").write_text("{}")  # a model folder, as far as the check goes
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.txt").write_text("years of work")
    for output, message in ((existing, "already exists (pass --overwrite, or overwrite=True in Python"),
                            (not_a_folder / "model", "file.txt is a file, not a folder"),
                            (not_a_folder, "file.txt exists and is not a threatclf model folder"),
                            (other, "thesis exists and is not a threatclf model folder")):
        for flags in ([], ["--overwrite"]) if output != existing else ([],):
            code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(output), "-q", *flags], capsys)
            assert code == 2 and message in err, err
    # nor the folder one works in, which cannot be replaced by a rename
    empty_here = tmp_path / "here"
    empty_here.mkdir()
    monkeypatch.chdir(empty_here)
    for output in (".", str(empty_here), "sub/.."):
        code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", output, "-q", "--overwrite"], capsys)
        assert code == 2 and "the current folder or one above it" in err, err
    # an empty folder made for the model is no obstacle
    (tmp_path / "empty").mkdir()
    with pytest.raises(AssertionError, match="trained although"):
        main(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "empty"), "-q"])


def test_train_names_the_file_and_line_of_a_label_outside_the_configured_ones(data_files, tmp_path, capsys):
    config = tmp_path / "labels.json"
    config.write_text(json.dumps({"label_names": ["terrorism"]}))
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--config", str(config)],
                       capsys)
    assert code == 2 and f"{data_files / 'train.jsonl'}: line " in err and "unknown label" in err


def test_train_names_suspect_rows_by_their_own_file_and_line(data_files, tmp_path, capsys):
    # two training files joined: an empty text in the second is named by that file and its line
    extra = tmp_path / "extra.csv"
    pd.DataFrame({"text": ["Police met the mayor.", "  ", "Rain fell."], "labels": ["", "", ""]}).to_csv(extra, index=False)
    code, _, err = run(["train", str(data_files / "train.jsonl"), str(extra), "-o", str(tmp_path / "m"),
                        "--min-df", "1", "--cv", "3", "-q"], capsys)
    assert code == 0, err
    assert f"1 training texts are empty ({extra}: line 3):" in err  # the CSV header is line 1
    assert "row " not in err


def test_library_warnings_are_one_line_for_the_command_line_user(data_files, tmp_path, capsys):
    # a text given twice with other labels: fit warns; the command says it without a source line
    rows = [json.loads(line) for line in (data_files / "train.jsonl").read_text().splitlines()]
    rows.append(dict(rows[0], labels=["corruption"]))
    path = tmp_path / "conflict.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["train", str(path), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q"], capsys)
    assert code == 0, err
    line = next(line for line in err.splitlines() if "repeat an earlier one with other labels" in line)
    assert line.startswith("threatclf train: warning: ")
    # the rows are named as in the file (line numbers, 1-based), not by position in the joined data
    assert f"({path}: line 1 and {path}: line {len(rows)}; case, punctuation and white space ignored)" in line
    assert "UserWarning" not in err and ".py:" not in err


def test_train_checks_its_settings_before_reading_the_data(tmp_path, capsys):
    # a large training set is not read only to be told that a setting is wrong
    code, _, err = run(["train", str(tmp_path / "not-read.jsonl"), "-o", str(tmp_path / "m"), "--presence", "2", "1"],
                       capsys)
    assert code == 2 and "presence_ngram_range must be" in err and "not-read" not in err


def test_train_from_csv_with_other_columns_and_parquet(data_files, capsys):
    code, _, err = run(["train", str(data_files / "train.csv"), "-o", str(data_files / "m-csv"), "--text-col", "body",
                        "--labels-col", "tags", "--min-df", "1", "--cv", "3", "--features", "word", "-q"], capsys)
    assert code == 0, err
    code, _, err = run(["train", str(data_files / "train.parquet"), "-o", str(data_files / "m-pq"), "--min-df", "1",
                        "--cv", "3", "--model-type", "logreg+nblogreg", "--features-per-label", "40", "-q"], capsys)
    assert code == 0, err
    loaded = threatclf.load_model(data_files / "m-pq")
    assert loaded.model == "logreg+nblogreg" and loaded.features_per_label == 40
    assert ((loaded.coef_ != 0).sum(axis=1) <= 40).all()


def test_train_takes_its_options_old_names_with_a_warning(data_files, tmp_path, capsys):
    # Before 0.12 train's --model was the kind of model and --format the weights file's: names that mean a
    # model folder and a printed form in the other commands. The old names still work, with a warning.
    argv = ["train", str(data_files / "train.jsonl"), "--min-df", "1", "--cv", "3", "-q"]
    code, _, err = run(argv + ["-o", str(tmp_path / "old"), "--model", "nblogreg", "--format", "joblib"], capsys)
    assert code == 0, err
    assert "--model is now --model-type in train" in err and "--format is now --save-format in train" in err
    old = threatclf.load_model(tmp_path / "old", trust=True)
    assert old.model == "nblogreg" and (tmp_path / "old" / "model.joblib").exists()
    code, _, err = run(argv + ["-o", str(tmp_path / "new"), "--model-type", "nblogreg"], capsys)
    assert code == 0 and "is now" not in err
    assert threatclf.load_model(tmp_path / "new").model == "nblogreg" and (tmp_path / "new" / "model.skops").exists()
    # a model folder given as --model, as in the other commands, says what train wants instead
    code, _, err = run(argv + ["-o", str(tmp_path / "a"), "--model", str(tmp_path / "new")], capsys)
    assert code == 2 and "-o names the model folder to write" in err and "--model-type" in err
    for given in (["--model", "models/mine"], ["--model=models/mine"]):  # without -o: the likelier slip
        code, _, err = run(argv + given, capsys)
        assert code == 2 and "-o names the model folder to write: threatclf train DATA -o models/mine" in err
    with pytest.raises(SystemExit) as stopped:  # asking for help gets it
        main(argv + ["--model", "models/mine", "--help"])
    assert stopped.value.code == 0 and capsys.readouterr().out.startswith("usage: threatclf train")
    with pytest.raises(SystemExit) as stopped:  # a kind of model: argparse says -o is required
        main(argv + ["--model", "svm"])
    assert stopped.value.code == 2 and "the following arguments are required: -o/--output" in capsys.readouterr().err
    code, _, err = run(argv + ["-o", str(tmp_path / "a"), "--format", "json"], capsys)
    assert code == 2 and "--save-format names the weights file's format" in err
    code, _, err = run(argv + ["-o", str(tmp_path / "a"), "--model", "svm", "--model-type", "logreg"], capsys)
    assert code == 2 and "disagree" in err
    code, _, err = run(argv + ["-o", str(tmp_path / "a"), "--format", "skops", "--save-format", "joblib"], capsys)
    assert code == 2 and "disagree" in err
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("typo, how", [("terorism", "is spelt almost as"),
                                       ("Terrorism", "differs only in case from")])  # case alone: whatever the counts
def test_a_label_spelt_almost_as_a_common_one_is_warned_of_once_by_file_and_line(tmp_path, capsys, typo, how):
    texts, labels = tiny_corpus(repeats=3)
    rows = [{"text": t, "labels": l} for t, l in zip(texts, labels)]
    typos = [k for k, row in enumerate(rows) if row["labels"] == ["terrorism"]][:3]
    for k in typos:
        rows[k]["labels"] = [typo]
    data = tmp_path / "typo.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["train", str(data), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q"], capsys)
    assert code == 0, err
    said = [line for line in err.splitlines() if how in line]
    assert said == [f"threatclf train: warning: {data}: line {typos[0] + 1}: label '{typo}' (3 examples) {how} "
                    f"'terrorism' ({sum(l == ['terrorism'] for l in labels) - 3}): they are two labels; if "
                    "it is a typo, correct it: its rows count as texts without 'terrorism'"]
    with pytest.warns(UserWarning, match=rf"'{typo}' \(3 examples\) {how} 'terrorism'"):
        ThreatClassifier(min_df=1, cv=3).fit([r["text"] for r in rows], [r["labels"] for r in rows])


def test_a_file_annotated_part_of_the_way_is_warned_of_and_unlabelled_rows_are_counted(tmp_path, capsys):
    # the last rows of a CSV not annotated yet (empty cells) train as texts about none of the labels
    texts, labels = tiny_corpus(repeats=3)
    extra = [f"Row {k} of the articles still to read." for k in range(30)]
    frame = pd.DataFrame({"text": texts + extra, "labels": [";".join(n) for n in labels] + [""] * 30})
    data = tmp_path / "partial.csv"
    frame.to_csv(data, index=False)
    argv = ["train", str(data), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3"]
    code, _, err = run(argv, capsys)
    assert code == 0, err
    unlabelled = 30 + sum(not n for n in labels)
    assert f"training on {len(frame):,} texts from {data} ({unlabelled} without a label: about none of the labels)" in err
    assert (f"warning: {data}: line {len(texts) + 2} to the end: the last 30 of {len(frame)} rows have no label. If "
            "they are not annotated yet, leave them out") in err
    # unlabelled rows among labelled ones are ordinary negatives: no warning
    frame = frame.sample(frac=1, random_state=0)
    frame.to_csv(data, index=False)
    code, _, err = run(argv + ["--overwrite"], capsys)
    assert code == 0 and "have no label" not in err


def test_a_csv_labels_column_of_0_and_1_is_refused_with_its_line(tmp_path, capsys):
    # read as label names, "0" became a label given to every text without the topic
    texts, labels = tiny_corpus(repeats=3)
    frame = pd.DataFrame({"text": texts, "labels": [int("terrorism" in names) for names in labels]})
    data = tmp_path / "binary.csv"
    frame.to_csv(data, index=False)
    first_no = 2 + int(np.flatnonzero(frame["labels"].to_numpy() == 0)[0])  # the header is line 1
    code, _, err = run(["train", str(data), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q"], capsys)
    assert code == 2 and not (tmp_path / "m").exists()
    assert f"{data}: line {first_no}: label names '0' and '1' are the values of a yes/no column, not label names" in err


def test_options_taken_from_another_command_say_what_this_one_wants(data_files, tmp_path, capsys):
    data = str(data_files / "train.jsonl")
    code, _, err = run(["label", data, "-o", str(tmp_path / "out.jsonl"), "--format", "csv"], capsys)
    assert code == 2 and "label has no --format: -o's extension says the output's format" in err
    assert "--output-format csv is for -o -" in err and not (tmp_path / "out.jsonl").exists()
    code, _, err = run(["evaluate", data, "--model", "logreg"], capsys)  # train's --model before 0.12
    assert code == 2 and "logreg is a kind of model, which train --model-type chooses" in err
    for command in (["evaluate", data], ["info"]):  # label and train take -o; these print their report
        code, out, err = run([*command, "-o", str(tmp_path / "report.txt")], capsys)
        assert code == 2 and out == "" and not (tmp_path / "report.txt").exists()
        assert f"{command[0]} has no -o: it prints its report to standard output" in err
        assert f"threatclf {command[0]} ... > {tmp_path / 'report.txt'}" in err


def test_an_unknown_option_is_said_with_the_commands_usage(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["evaluate", "dev.jsonl", "--chunk-size", "500"])  # --chunk-size belongs to label
    err = capsys.readouterr().err
    assert stopped.value.code == 2
    assert err.startswith("usage: threatclf evaluate")
    assert "threatclf evaluate: error: unrecognized arguments: --chunk-size 500" in err


def test_evaluate_format_text_is_the_table_and_table_still_works(data_files, capsys):
    model = str(_small_model(data_files))
    data = str(data_files / "train.jsonl")
    code, default, _ = run(["evaluate", data, "--model", model], capsys)
    assert code == 0 and "macro F1" in default
    assert run(["evaluate", data, "--model", model, "--format", "text"], capsys)[1] == default
    assert run(["evaluate", data, "--model", model, "--format", "table"], capsys)[1] == default
    # every column and summary figure of the table is said in words below it
    table, legend = default.rstrip("\n").split("\n\n")
    columns = table.splitlines()[0].split()[1:]
    assert columns == ["precision", "recall", "f1", "pr_auc", "support"]
    assert [line.split()[0] for line in legend.splitlines()] == columns + ["macro"]
    assert "micro F1:" in legend


def test_evaluate_json_macro_f1_equals_independent_computation(data_files, capsys):
    model_dir = data_files / "m-eval"
    assert main(["train", str(data_files / "train.jsonl"), "-o", str(model_dir), "--min-df", "1", "--cv", "3", "-q"]) == 0
    code, out, _ = run(["evaluate", str(data_files / "train.csv"), "--model", str(model_dir), "--text-col", "body",
                        "--labels-col", "tags", "--format", "json"], capsys)
    assert code == 0
    report = json.loads(out)
    model = threatclf.load_model(model_dir)
    texts, labels = tiny_corpus()
    truth = to_indicator(labels, model.labels_)
    predicted = to_indicator(model.predict(texts), model.labels_)
    assert report["macro_f1"] == pytest.approx(f1_score(truth, predicted, average="macro", zero_division=0), abs=1e-12)
    assert report["micro_f1"] == pytest.approx(f1_score(truth, predicted, average="micro"), abs=1e-12)
    assert set(report["labels"]) == set(model.labels_)
    code, table, _ = run(["evaluate", str(data_files / "train.jsonl"), "--model", str(model_dir)], capsys)
    assert code == 0 and "macro F1" in table and "foreign_influence" in table


@pytest.mark.parametrize("damage, message", [
    ("truncate", "NOT LOADABLE.*model.skops does not match the SHA-256"),
    ("newer format", "NOT LOADABLE.*upgrade threatclf"),
])
def test_info_says_when_the_folder_is_not_whole(saved_small_model, tmp_path, capsys, damage, message):
    import shutil

    folder = Path(shutil.copytree(saved_small_model, tmp_path / "m"))
    if damage == "truncate":
        weights = folder / "model.skops"
        weights.write_bytes(weights.read_bytes()[:2000])
    else:
        meta = json.loads((folder / "metadata.json").read_text())
        (folder / "metadata.json").write_text(json.dumps({**meta, "format_version": FORMAT_VERSION + 1}))
    for fmt in ("text", "json"):
        code, out, err = run(["info", "--model", str(folder), "--format", fmt], capsys)
        assert code == 2 and re.search(message, err) and out  # the metadata is still shown
    code, out, _ = run(["info", "--model", str(saved_small_model)], capsys)
    assert code == 0 and "verified:   digests OK, all types trusted" in out


def test_output_closed_early_is_not_an_error(saved_small_model, monkeypatch):
    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["info", "--model", str(saved_small_model)]) == 141


def test_info_and_verify(data_files, capsys):
    model_dir = data_files / "m-info"
    assert main(["train", str(data_files / "train.jsonl"), "-o", str(model_dir), "--min-df", "1", "--cv", "3",
                 "--dev", str(data_files / "train.jsonl"), "-q"]) == 0
    code, out, _ = run(["info", "--model", str(model_dir)], capsys)
    assert code == 0
    for needle in ("labels:", "terrorism", "training:", "  dev: macro F1", "scikit-learn"):
        assert needle in out
    # the settings the model was trained with, those not said on another line (C, class weights, n-grams...)
    settings = next(line for line in out.splitlines() if line.startswith("settings:   "))
    stored = json.loads((model_dir / "metadata.json").read_text())["settings"]
    assert f"C={stored['C']}" in settings and f"class_weight={stored['class_weight']}" in settings
    assert "min_df=1" in settings and "cv=3" in settings and "n_jobs" not in settings
    # the calibration error the figures hold is shown, by info and on the card
    meta = json.loads((model_dir / "metadata.json").read_text())
    error = meta["metrics"]["dev"]["calibration_error"]
    assert f"; calibration error {error:.3f}" in out
    assert f"Calibration error {error:.3f}: the mean gap" in (model_dir / "README.md").read_text()
    code, out, _ = run(["info", "--model", str(model_dir), "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["format_version"] == FORMAT_VERSION == 2
    assert json.loads(out)["labels"] == json.loads((model_dir / "metadata.json").read_text())["labels"]
    code, out, _ = run(["verify", str(model_dir)], capsys)
    assert code == 0 and "digests OK" in out and "all types trusted" in out


def test_info_fails_on_a_folder_load_model_would_refuse(saved_small_model, small_model, tmp_path, capsys):
    # a pickled folder loads only when trusted, so what its metadata.json says is not checked
    # against the model: info says so and fails, as verify does
    pickled = small_model.save(tmp_path / "pickled", format="joblib")
    for edited in (False, True):
        if edited:  # a threshold load_model(trust=True) would refuse as not the model's
            meta = json.loads((pickled / "metadata.json").read_text())
            meta["thresholds"]["terrorism"] = 0.9
            (pickled / "metadata.json").write_text(json.dumps(meta))
        code, out, err = run(["info", str(pickled)], capsys)
        assert code == 2 and "NOT TRUSTED" in err and "not checked against the model" in err
        assert "verified" not in out
    code, out, _ = run(["info", str(saved_small_model)], capsys)
    assert code == 0 and "all types trusted" in out
    # told to trust it, both load it, which checks it against metadata.json: the edited threshold is found
    for command in ("info", "verify"):
        code, _, err = run([command, str(pickled), "--trust"], capsys)
        assert code == 2 and "do not match the stored model" in err
    fresh = small_model.save(tmp_path / "pickled2", format="joblib")
    for command in ("info", "verify"):
        code, out, err = run([command, str(fresh), "--trust"], capsys)
        assert code == 0 and "loaded with --trust" in out and "NOT" not in err


def test_verify_advises_what_loads_a_pickle_and_a_broken_pickle_is_an_error_not_a_traceback(small_model, tmp_path,
                                                                                           capsys):
    pickled = small_model.save(tmp_path / "pickled", format="joblib")
    code, _, err = run(["verify", str(pickled)], capsys)
    # a list of trusted types cannot load a pickle: only trust=True does
    assert code == 2 and "trust=True" in err and "trust=[" not in err
    (pickled / "model.joblib").write_bytes(b"not a pickle at all")
    meta = json.loads((pickled / "metadata.json").read_text())
    meta["files"]["model.joblib"] = threatclf.persistence._sha256(pickled / "model.joblib")
    (pickled / "metadata.json").write_text(json.dumps(meta))
    for command in ("verify", "info"):
        code, _, err = run([command, str(pickled), "--trust"], capsys)
        assert code == 2 and "model.joblib could not be unpickled: " in err
    with pytest.raises(threatclf.ModelFormatError, match="could not be unpickled"):
        threatclf.load_model(pickled, trust=True)


def test_train_dev_scores_the_labels_the_dev_file_annotates(data_files, tmp_path, capsys):
    texts, labels = tiny_corpus()
    dev = tmp_path / "dev.jsonl"  # annotates terrorism and corruption only
    dev.write_text("".join(json.dumps({"text": t, "labels": [n for n in y if n in ("terrorism", "corruption")]}) + "\n"
                           for t, y in zip(texts, labels)))
    base = ["train", str(data_files / "train.jsonl"), "--min-df", "1", "--cv", "3", "--dev", str(dev)]
    code, _, err = run(base + ["-o", str(tmp_path / "all")], capsys)
    assert code == 0 and "have no example in these data but were predicted" in err  # said, not hidden
    code, out, err = run(base + ["-o", str(tmp_path / "two"), "--dev-labels", "terrorism,corruption"], capsys)
    assert code == 0, err
    table = (out + err).split(f"dev figures ({dev}, at the learned thresholds):\n", 1)[1].splitlines()
    assert table[0].split()[0] == "label" and [row.split()[0] for row in table[1:3]] == ["terrorism", "corruption"]
    dev_figures = json.loads((tmp_path / "two" / "metadata.json").read_text())["metrics"]["dev"]
    assert set(dev_figures["labels"]) == {"terrorism", "corruption"}
    assert "Scored on the labels it annotates: terrorism, corruption." in dev_figures["description"]
    assert "predicted" not in err
    code, _, err = run(base + ["-o", str(tmp_path / "bad"), "--dev-labels", "fraud"], capsys)
    assert code == 2 and "--dev-labels must name labels of the training data" in err
    assert not (tmp_path / "bad").exists()
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "x"), "--dev-labels", "a"],
                       capsys)
    assert code == 2 and "give --dev too" in err
    # options are not abbreviated: --labels is not taken for --labels-col
    with pytest.raises(SystemExit):
        main(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "y"), "--labels", "terrorism"])


def test_label_command_through_the_installed_script(data_files, tmp_path):
    model_dir = data_files / "m-label"
    assert main(["train", str(data_files / "train.jsonl"), "-o", str(model_dir), "--min-df", "1", "--cv", "3", "-q"]) == 0
    articles = tmp_path / "articles.jsonl"
    articles.write_text(json.dumps({"id": "x1", "text": "Militants claimed the bomb attack on the checkpoint."}) + "\n"
                        + '{"id": "x2", "text": \n')
    result = subprocess.run([installed_command(), "label", str(articles), "-o", str(tmp_path / "out.csv"), "--model",
                             str(model_dir), "--summary-json"], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr  # finished, one row rejected
    summary = json.loads(result.stdout)
    assert summary["rows_read"] == 2 and summary["labelled"] == 1 and summary["rejected"] == 1
    frame = pd.read_csv(tmp_path / "out.csv")
    assert frame.loc[0, "labels"] == "terrorism"
    assert "Traceback" not in result.stderr


def test_label_reads_jsonl_from_standard_input_plain_or_gzipped(saved_small_model, tmp_path):
    import gzip

    lines = (json.dumps({"id": "x1", "text": "Militants claimed the bomb attack on the checkpoint."}) + "\n"
             + "not json\n" + json.dumps({"text": "The football club won the cup."}) + "\n").encode()
    outputs = []
    for name, data in (("plain", lines), ("gzipped", gzip.compress(lines))):
        out = tmp_path / f"{name}.jsonl"
        result = subprocess.run([installed_command(), "label", "-", "-o", str(out), "--model", str(saved_small_model),
                                 "-q"], input=data, capture_output=True)
        assert result.returncode == 3, result.stderr  # one row rejected, named by its line of standard input
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [r["id"] for r in rows] == ["x1", "<stdin>:3"] and rows[0]["labels"] == ["terrorism"]
        (reject,) = map(json.loads, (tmp_path / f"{name}.jsonl.rejects.jsonl").read_text().splitlines())
        assert (reject["source"], reject["line"]) == ("<stdin>", 2)
        outputs.append([r["labels"] for r in rows])
    assert outputs[0] == outputs[1]
    result = subprocess.run([installed_command(), "label", "-", "-o", str(tmp_path / "r.jsonl"), "--model",
                             str(saved_small_model), "--resume"], input=lines, capture_output=True, text=False)
    assert result.returncode == 2 and b"standard input (-) cannot be resumed" in result.stderr
    assert not (tmp_path / "r.jsonl").exists()


def test_label_writes_to_standard_output_once_complete_and_says_each_reject(saved_small_model, tmp_path):
    lines = (json.dumps({"id": "x1", "text": "Militants claimed the bomb attack on the checkpoint."}) + "\n"
             + "not json\n" + json.dumps({"id": "x3", "text": "The football club won the cup."}) + "\n")
    source = tmp_path / "in.jsonl"
    source.write_text(lines)
    threatclf.label_files(source, tmp_path / "file.jsonl", threatclf.load_model(saved_small_model), progress=False)
    threatclf.label_files(source, tmp_path / "file.csv", threatclf.load_model(saved_small_model), progress=False)
    for extra, expected in (([], tmp_path / "file.jsonl"), (["--output-format", "csv"], tmp_path / "file.csv")):
        result = subprocess.run([installed_command(), "label", "-", "-o", "-", "--model", str(saved_small_model), "-q",
                                 *extra], input=lines.encode(), capture_output=True)
        assert result.returncode == 3, result.stderr
        assert result.stdout == expected.read_bytes()  # what the same run writes to a file
        (said,) = result.stderr.decode().splitlines()  # -q: the rejected row is still said
        assert said.startswith("threatclf label: rejected: ")
        assert json.loads(said.split("rejected: ", 1)[1])["line"] == 2
    import os

    result = subprocess.run([installed_command(), "label", str(source), "-o", "-", "--model", str(saved_small_model),
                             "-q", "--rejects", str(tmp_path / "rejects.jsonl")], capture_output=True)
    assert result.returncode == 3 and (tmp_path / "rejects.jsonl").exists()
    assert result.stdout == (tmp_path / "file.jsonl").read_bytes()
    (said,) = result.stderr.decode().splitlines()  # -q: one line that names the rejects file
    assert said.startswith("threatclf label: warning: 1 of the 3 input rows was rejected; why: invalid JSON")
    assert said.endswith(f"each is in {tmp_path / 'rejects.jsonl'} with its line and reason")
    # where warnings are made errors, that note ends the run as an error (exit 2), but only once the
    # run is complete: the rows are still copied out
    strict = subprocess.run([installed_command(), "label", str(source), "-o", "-", "--model", str(saved_small_model),
                             "-q", "--rejects", str(tmp_path / "rejects.jsonl"), "--overwrite"], capture_output=True,
                            env={**os.environ, "PYTHONWARNINGS": "error"})
    assert strict.returncode == 2 and strict.stdout == result.stdout
    assert strict.stderr.decode() == said.replace("warning:", "error:", 1) + "\n"
    for flag in ("--resume", "--summary-json"):
        result = subprocess.run([installed_command(), "label", str(source), "-o", "-", "--model",
                                 str(saved_small_model), flag], capture_output=True, text=True)
        assert result.returncode == 2 and f"cannot be used with {flag}" in result.stderr and result.stdout == ""


def test_label_says_why_rows_were_rejected_once_quiet_or_not(saved_small_model, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "x1", "text": "Militants claimed the bomb attack."}) + "\nnot json\n")
    out = tmp_path / "out.csv"
    code, _, err = run(["label", str(source), "-o", str(out), "--model", str(saved_small_model)], capsys)
    assert code == 3
    assert [line for line in err.splitlines() if "invalid JSON" in line] == [err.splitlines()[-1]]  # once
    assert err.splitlines()[-1].startswith("why: invalid JSON")
    code, _, err = run(["label", str(source), "-o", str(out), "--model", str(saved_small_model), "-q", "--overwrite"],
                       capsys)
    assert code == 3
    (said,) = err.splitlines()
    assert said.startswith("threatclf label: warning: 1 of the 2 input rows was rejected; why: invalid JSON")


def test_label_escapes_formulas_in_csv_output_when_asked(saved_small_model, tmp_path, capsys):
    source = tmp_path / "scraped.jsonl"
    source.write_text(json.dumps({"id": "=2+3", "title": '=HYPERLINK("http://x.example","Read")',
                                  "text": "Militants claimed the bomb attack."}) + "\n")
    model = ["--model", str(saved_small_model), "-q"]
    assert main(["label", str(source), "-o", str(tmp_path / "plain.csv"), *model]) == 0
    assert main(["label", str(source), "-o", str(tmp_path / "safe.csv"), "--escape-formulas", *model]) == 0
    plain, safe = (pd.read_csv(tmp_path / name, dtype=str) for name in ("plain.csv", "safe.csv"))
    assert (plain.loc[0, "id"], plain.loc[0, "title"]) == ("=2+3", '=HYPERLINK("http://x.example","Read")')
    assert (safe.loc[0, "id"], safe.loc[0, "title"]) == ("'=2+3", '\'=HYPERLINK("http://x.example","Read")')
    assert safe.drop(columns=["id", "title"]).equals(plain.drop(columns=["id", "title"]))
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "o.jsonl"), "--escape-formulas", *model], capsys)
    assert code == 2 and "formulas are escaped (--escape-formulas) in CSV output only" in err
    assert not (tmp_path / "o.jsonl").exists()
    for option in (["--escape-formulas"], ["--output-csv-sep", ";"], ["--output-encoding", "utf-8-sig"]):
        code, out, err = run(["label", str(source), "-o", "-", *option, *model], capsys)  # named, not a temporary file
        assert (code, out) == (2, "")
        assert err == (f"threatclf label: error: {option[0]} is for CSV output: with -o - (standard output), "
                       "add --output-format csv\n")
    code, out, _ = run(["label", str(source), "-o", "-", "--output-format", "csv", "--escape-formulas", *model], capsys)
    assert code == 0 and out.splitlines()[1].startswith("'=2+3,")


def test_runs_that_cannot_be_resumed_are_not_told_to_resume(saved_small_model, tmp_path, capsys, monkeypatch):
    import errno

    from threatclf import batch

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "A bomb exploded."}) + "\n")
    monkeypatch.setattr(batch, "label_files", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    for inputs, output in (([str(source)], str(tmp_path / "o.jsonl")), (["-"], str(tmp_path / "o.jsonl")),
                           ([str(source)], "-")):
        code, _, err = run(["label", *inputs, "-o", output, "--model", str(saved_small_model)], capsys)
        assert code == 130
        assert ("--resume" in err) == (inputs != ["-"] and output != "-"), (inputs, output, err)
    full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(batch, "label_files", lambda *a, **k: (_ for _ in ()).throw(full))
    code, _, err = run(["label", str(source), "-o", "-", "--model", str(saved_small_model)], capsys)
    assert code == 2 and "--resume" not in err and "temporary folder first (TMPDIR)" in err


def test_the_summary_of_a_run_to_standard_output_names_no_temporary_file(saved_small_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "A bomb exploded."}) + "\n" + "not json\n")
    result = subprocess.run([installed_command(), "label", str(source), "-o", "-", "--model", str(saved_small_model)],
                            capture_output=True, text=True)
    assert result.returncode == 3
    assert "output: standard output" in result.stderr and "rejects: stderr" in result.stderr
    assert "threatclf-label-" not in result.stderr


def test_a_warning_made_an_error_is_one_line_and_the_output_is_kept(data_files, tmp_path):
    import os

    model_dir = data_files / "m-label"
    if not model_dir.exists():
        assert main(["train", str(data_files / "train.jsonl"), "-o", str(model_dir), "--min-df", "1", "--cv", "3",
                     "-q"]) == 0
    articles = tmp_path / "dups.jsonl"
    articles.write_text("".join(json.dumps({"id": "x1", "text": t}) + "\n" for t in ("A bomb exploded.", "Rain.")))
    result = subprocess.run([installed_command(), "label", str(articles), "-o", str(tmp_path / "out.jsonl"), "--model",
                             str(model_dir), "--quiet"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "error"})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("threatclf label: error: 1 row repeats an id of an earlier row: the output is not "
                                     "unique by id")
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize("argv, message", [
    (["train", "missing.jsonl", "-o", "m"], "missing.jsonl"),
    (["train", "{data}/train.jsonl", "-o", "{tmp}/m", "--text-col", "body"], "body"),
    (["train", "{data}/bad-labels.jsonl", "-o", "{tmp}/m"], "labels must be a list"),
    (["train", "{data}/empty.jsonl", "-o", "{tmp}/m"], "has no rows"),
    (["train", "{data}/no-labels.jsonl", "-o", "{tmp}/m"], "no-labels.jsonl: line 2: no labels"),
    (["train", "{data}/one-label.jsonl", "-o", "{tmp}/m", "--min-df", "1"], "on every training example"),
    (["evaluate", "{data}/train.jsonl", "--model", "{tmp}/nope"], "does not exist"),
    (["label", "{data}/train.jsonl", "-o", "{tmp}/out.jsonl", "--model", "{tmp}/nope"], "does not exist"),
    (["label", "{data}/train.jsonl", "-o", "{tmp}/out.xlsx", "--model", "{tmp}/nope"], "unknown output format"),
    (["verify", "{tmp}"], "metadata.json is missing"),
])
def test_user_errors_are_one_line_without_traceback(argv, message, data_files, tmp_path, capsys):
    (data_files / "bad-labels.jsonl").write_text(json.dumps({"text": "a b", "labels": 3}) + "\n")
    (data_files / "empty.jsonl").write_text("")
    (data_files / "no-labels.jsonl").write_text(json.dumps({"text": "a b", "labels": []}) + "\n"
                                                + json.dumps({"text": "c d", "lables": ["x"]}) + "\n")
    (data_files / "one-label.jsonl").write_text("".join(json.dumps({"text": f"t {i}", "labels": ["x"]}) + "\n"
                                                        for i in range(4)))
    argv = [a.format(data=data_files, tmp=tmp_path) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert message in err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "Traceback" not in err


def test_threshold_option_parses_per_label_values():
    from threatclf.cli import _threshold

    assert _threshold("0.4") == 0.4
    assert _threshold("terrorism=0.6,corruption=0.3") == {"terrorism": 0.6, "corruption": 0.3}
    with pytest.raises(Exception, match="invalid threshold"):
        _threshold("terrorism=high")


@pytest.mark.parametrize("extra, message", [
    (["--chunk-size", "0"], "chunk_size (--chunk-size) must be"),
    (["--max-text-chars", "-1"], "max_text_chars (--max-text-chars) must be"),
    (["--top-terms", "-1"], "top_terms (--top-terms) must be"),
    (["--max-words", "0"], "max_words (--max-words) must be"),
    (["--id-col", "text"], "must differ"),
    (["--threshold", "terrorism=7"], "between 0 and 1"),
    (["--rejects", "{input}"], "would overwrite"),
])
def test_label_argument_errors_leave_nothing_behind(extra, message, data_files, tmp_path, capsys):
    model_dir = data_files / "m-args"
    if not model_dir.exists():
        assert main(["train", str(data_files / "train.jsonl"), "-o", str(model_dir), "--min-df", "1", "--cv", "3",
                     "-q"]) == 0
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "1", "text": "Militants bombed the market."}) + "\n")
    before = source.read_bytes()
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "out.jsonl"), "--model", str(model_dir)]
                       + [a.format(input=source) for a in extra], capsys)
    assert code == 2 and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
    assert source.read_bytes() == before


def _small_model(data_files):
    model_dir = data_files / "m-args"
    if not model_dir.exists():
        assert main(["train", str(data_files / "train.jsonl"), "-o", str(model_dir), "--min-df", "1", "--cv", "3",
                     "-q"]) == 0
    return model_dir


def test_label_max_words_splits_passages_as_label_files_does(data_files, tmp_path, capsys):
    import threatclf

    model = str(_small_model(data_files))
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Militants bombed the market. " * 20}) + "\n")
    counts = []
    for words in ("120", "12"):
        out = tmp_path / f"out{words}.jsonl"
        code, _, _ = run(["label", str(source), "-o", str(out), "--model", model, "--passages", "--max-words", words,
                          "-q"], capsys)
        assert code == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        threatclf.label_files(source, tmp_path / "api.jsonl", model, passages=True, max_words=int(words),
                              progress=False, overwrite=True)
        assert rows == [json.loads(line) for line in (tmp_path / "api.jsonl").read_text().splitlines()]
        assert all(len(source_text[r["start"]:r["end"]].split()) <= int(words)
                   for source_text in [json.loads(source.read_text())["text"]] for r in rows)
        counts.append(len(rows))
    assert counts[0] < counts[1]  # 120 words: one passage; 12: several


def test_label_writes_csv_for_excel_and_resumes_into_another_encoding(data_files, tmp_path, capsys):
    model = str(_small_model(data_files))
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Le cartel a corrompu le maire à Marseille.", "desk": "société"})
                      + "\n" + json.dumps({"id": "b", "text": "Взрыв на рынке, теракт.", "desk": "мир"}) + "\n",
                      encoding="utf-8")
    out = tmp_path / "out.csv"
    code, _, err = run(["label", str(source), "-o", str(out), "--model", model, "--keep-text", "-q",
                        "--output-encoding", "cp1252", "--output-csv-sep", "tab"], capsys)
    assert code == 2 and "the row of id 'b', column 'desk' holds 'м' (U+043C), which cp1252 cannot write" in err
    assert "--resume" in err and not out.exists()
    code, _, err = run(["label", str(source), "-o", str(out), "--model", model, "--keep-text", "-q", "--resume",
                        "--output-encoding", "utf-8-sig", "--output-csv-sep", "tab"], capsys)
    assert code == 0, err
    assert out.read_bytes().startswith(b"\xef\xbb\xbfid\tdesk\t")
    written = pd.read_csv(out, sep="\t", encoding="utf-8-sig")
    assert written["desk"].tolist() == ["société", "мир"] and written["text"][1] == "Взрыв на рынке, теракт."
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "out.jsonl"), "--model", model,
                        "--output-encoding", "cp1252"], capsys)
    assert code == 2 and "CSV output only" in err and not (tmp_path / "out.jsonl").exists()
    # mistakes are named as typed; a named rejects file the interrupted run wrote is its to replace
    for option, value, message in (("--output-encoding", "nope", "unknown --output-encoding 'nope'"),
                                   ("--output-csv-sep", ";;", "--output-csv-sep must be one character"),
                                   ("--encoding", "nope", "unknown --encoding 'nope'")):
        code, _, err = run(["label", str(source), "-o", str(tmp_path / "o.csv"), "--model", model, option, value],
                           capsys)
        assert code == 2 and message in err
    source.write_text(source.read_text(encoding="utf-8") + "not json\n", encoding="utf-8")
    named = ["label", str(source), "-o", str(tmp_path / "named.csv"), "--model", model, "--keep-text", "-q",
             "--rejects", str(tmp_path / "bad.jsonl")]
    code, _, err = run(named + ["--output-encoding", "cp1252"], capsys)
    assert code == 2 and "with another output encoding to write them" in err and "--overwrite" not in err
    assert (tmp_path / "bad.jsonl").exists()  # written first, as ever
    code, _, err = run(named + ["--resume"], capsys)
    assert code == 3 and len((tmp_path / "named.csv").read_text(encoding="utf-8").splitlines()) == 3


def test_label_says_what_to_do_when_the_disk_is_full(data_files, tmp_path, capsys, monkeypatch):
    import errno

    import threatclf.batch

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(threatclf.batch, "label_files", full)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Rain."}) + "\n")
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "out.jsonl"), "--model",
                        str(_small_model(data_files))], capsys)
    assert code == 2 and "No space left on device; free some space and run the same command with --resume" in err


def test_label_notes_starting_over_in_its_own_voice_and_not_with_quiet(data_files, tmp_path, capsys, monkeypatch):
    import logging

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Rain."}) + "\n")
    model = str(_small_model(data_files))
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in the command, with no logging set up (pytest sets some)
    for quiet in (False, True):
        out = tmp_path / f"out{quiet}.jsonl"
        (tmp_path / f"out{quiet}.jsonl.partial").mkdir()  # an earlier run that finished no chunk
        code, _, err = run(["label", str(source), "-o", str(out), "--model", model] + (["-q"] if quiet else []),
                           capsys)
        assert code == 0
        assert ("threatclf label: starting over: removing" in err) is not quiet
    # inside an application with logging of its own the note goes there, once, as the app's logging says
    seen = []
    catcher = logging.Handler()
    catcher.emit = lambda record: seen.append(record.getMessage())
    root.addHandler(catcher)
    try:
        for quiet in (False, True):
            out = tmp_path / f"app{quiet}.jsonl"
            (tmp_path / f"app{quiet}.jsonl.partial").mkdir()
            run(["label", str(source), "-o", str(out), "--model", model] + (["-q"] if quiet else []), capsys)
    finally:
        root.removeHandler(catcher)
    assert len(seen) == 2 and all(message.startswith("starting over: removing") for message in seen)
    assert "threatclf label: starting over" not in capsys.readouterr().err


def test_label_threshold_star_sets_every_label_not_named(data_files, tmp_path, capsys):
    model = str(_small_model(data_files))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "text": text}) + "\n" for i, text in enumerate(
        ["Militants bombed the market.", "The mayor took bribes.", "Rain fell."])))
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "out.jsonl"), "--model", model, "-q",
                        "--threshold", "*=1", "--threshold", "corruption=0"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["labels"] for row in rows] == [["corruption"]] * 3


@pytest.mark.parametrize("name, content, extra, message", [
    ("in.csv", "doc_id,text\n1,Militants bombed the market.\n", ["--id-col", "docid"], "in.csv: no id column 'docid'"),
    ("in.parquet", "not parquet at all", [], "in.parquet: not a readable Parquet file"),
    ("in.jsonl", '{"id": "1", "text": "Militants bombed the market."}\n', ["--rejects", "{tmp}/sub/r.jsonl"], None),
])
def test_input_problems_found_before_anything_is_written(name, content, extra, message, data_files, tmp_path,
                                                         capsys):
    source = tmp_path / name
    source.write_text(content)
    out = tmp_path / "out.jsonl"
    code, _, err = run(["label", str(source), "-o", str(out), "--model", str(_small_model(data_files))]
                       + [a.format(tmp=tmp_path) for a in extra], capsys)
    if message is None:  # a rejects file in a folder that does not exist yet: the folder is made
        assert code == 0 and out.exists() and (tmp_path / "sub").is_dir()
        return
    assert code == 2 and message in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_evaluate_and_dev_name_the_file_and_row_of_an_unknown_label(data_files, tmp_path, capsys):
    model_dir = _small_model(data_files)
    bad = tmp_path / "dev.jsonl"
    bad.write_text(json.dumps({"text": "a bomb", "labels": ["terrorism"]}) + "\n"
                   + json.dumps({"text": "a b", "labels": ["terorism"]}) + "\n")
    code, _, err = run(["evaluate", str(bad), "--model", str(model_dir)], capsys)
    assert code == 2 and "dev.jsonl: line 2: unknown label 'terorism'" in err
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--dev", str(bad),
                        "--min-df", "1", "--cv", "3"], capsys)
    assert code == 2 and "dev.jsonl: line 2: unknown label 'terorism'" in err
    assert "training on" not in err and not (tmp_path / "m").exists()  # found before the fit
    # a label the config names but the training rows never use is a known label of the model
    config = tmp_path / "config.json"
    names = sorted({n for r in map(json.loads, (data_files / "train.jsonl").read_text().splitlines()) for n in r["labels"]})
    config.write_text(json.dumps({"label_names": names + ["terorism"], "min_df": 1, "cv": 3}))
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m2"), "--dev", str(bad),
                        "--config", str(config), "-q"], capsys)
    # the dev file passed its check; the fit then refuses a label without a positive example
    assert code == 2 and "unknown label" not in err and "'terorism' has no positive example" in err


def test_labels_a_model_lacks_are_left_out_with_a_warning_when_the_scored_ones_are_named(data_files, tmp_path,
                                                                                         capsys):
    # a dev file labelled on more labels than the model has: --labels / --dev-labels name the ones to score
    model_dir = str(_small_model(data_files))
    texts, labels = tiny_corpus()
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps({"text": t, "labels": l + (["fraud"] if k % 4 == 0 else [])}) + "\n"
                           for k, (t, l) in enumerate(zip(texts, labels))))
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({"text": t, "labels": l}) + "\n" for t, l in zip(texts, labels)))
    code, _, err = run(["evaluate", str(dev), "--model", model_dir], capsys)
    assert code == 2 and "unknown label 'fraud'" in err and "or --labels to score only the labels named" in err
    scored = ["--format", "json", "--labels", "terrorism,corruption"]
    code, out, err = run(["evaluate", str(dev), "--model", model_dir, *scored], capsys)
    fraud_rows = sum(1 for k in range(len(texts)) if k % 4 == 0)
    assert code == 0 and f"labels left out, not the model's and not scored (--labels names the ones scored): " \
                         f"fraud ({fraud_rows} rows)" in err, err
    assert json.loads(out) == json.loads(run(["evaluate", str(plain), "--model", model_dir, *scored], capsys)[1])
    train = ["train", str(data_files / "train.jsonl"), "--dev", str(dev), "--min-df", "1", "--cv", "3", "-q"]
    code, _, err = run(train + ["-o", str(tmp_path / "m")], capsys)
    assert code == 2 and "unknown label 'fraud'" in err and "--dev-labels names the labels to score" in err
    code, _, err = run(train + ["-o", str(tmp_path / "m"), "--dev-labels", "terrorism"], capsys)
    assert code == 0 and "fraud (" in err and "--dev-labels names the ones scored" in err
    card = json.loads((tmp_path / "m" / "metadata.json").read_text())["metrics"]["dev"]
    assert list(card["labels"]) == ["terrorism"]
    # a typo of a label the model has is not left out: its rows would be scored as without the label
    for typo in ("Terrorism", "terorism"):
        lines = dev.read_text().splitlines()
        lines[2] = json.dumps({"text": texts[2], "labels": [typo]})
        (tmp_path / "typo.jsonl").write_text("\n".join(lines) + "\n")
        code, _, err = run(["evaluate", str(tmp_path / "typo.jsonl"), "--model", model_dir, *scored], capsys)
        assert code == 2 and f"typo.jsonl: line 3: label {typo!r} is not the model's, and is spelt almost as its " \
                             "'terrorism'" in err, err


def test_train_config_errors_are_one_line(data_files, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--config", str(bad)], capsys)
    assert code == 2 and "Traceback" not in err and f"{bad}: not valid JSON" in err
    bad.write_text("[1, 2]")
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--config", str(bad)], capsys)
    assert code == 2 and "expected a JSON object of model settings, got list" in err
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--config",
                        str(tmp_path / "nowhere.json")], capsys)
    assert code == 2 and "cannot read config" in err and "nowhere.json" in err
    bad.write_text(json.dumps({"model": "forest"}))
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--config", str(bad),
                        "-q"], capsys)
    assert code == 2 and "model must be one of" in err


def test_train_group_col_keeps_passages_of_one_article_in_one_fold(tmp_path, capsys):
    texts, labels = tiny_corpus()
    # Every text twice, as two passages of one article: without groups each is scored by a model
    # trained on its twin, which flatters the cross-validated figures the thresholds come from.
    # (The twin is not a copy: copies of a text share a fold, groups or not.)
    rows = [{"text": t, "labels": l, "article": f"a{i}"} for i, (t, l) in enumerate(zip(texts, labels))]
    rows += [{**r, "text": f"{r['text']} The same report, {i} days on."} for i, r in enumerate(rows)]
    data = tmp_path / "passages.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    figures = {}
    for name, extra in (("leaky", []), ("grouped", ["--group-col", "article"])):
        code, _, err = run(["train", str(data), "-o", str(tmp_path / name), "--min-df", "1", "--cv", "3", "-q"] + extra,
                           capsys)
        assert code == 0, err
        meta = json.loads((tmp_path / name / "metadata.json").read_text())["metrics"]["cross-validated"]
        figures[name] = (meta["macro_f1"], np.mean([label["pr_auc"] for label in meta["labels"].values()]))
    assert figures["grouped"][0] < figures["leaky"][0] and figures["grouped"][1] < figures["leaky"][1], figures


def test_train_group_col_missing_value_names_file_and_line(tmp_path, capsys):
    texts, labels = tiny_corpus()
    rows = [{"text": t, "labels": l, "article": f"a{i}"} for i, (t, l) in enumerate(zip(texts, labels))]
    rows[4]["article"] = None
    data = tmp_path / "passages.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["train", str(data), "-o", str(tmp_path / "m"), "--group-col", "article", "-q"], capsys)
    assert code != 0
    assert "passages.jsonl: line 5: no value in group column 'article'" in err


def test_errors_that_need_a_flag_name_the_flag(data_files, tmp_path, capsys):
    # Messages raised by the Python API name its arguments; on the command line they must also
    # name the flag that does the same (--overwrite, --trust).
    model = threatclf.load_model(_small_model(data_files))
    model.save(tmp_path / "taken")
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "taken"), "--min-df", "1",
                        "--cv", "3", "-q"], capsys)
    assert code == 2 and "--overwrite" in err
    model.save(tmp_path / "pickled", format="joblib")
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": "a", "text": "Militants bombed the market."}) + "\n")
    code, _, err = run(["label", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                        "--model", str(tmp_path / "pickled")], capsys)
    assert code == 2 and "--trust" in err and not (tmp_path / "out.jsonl").exists()
    code, _, err = run(["label", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                        "--model", str(tmp_path / "pickled"), "--trust", "-q"], capsys)
    assert code == 0, err
    labelled = (tmp_path / "out.jsonl").read_bytes()
    code, _, err = run(["label", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                        "--model", str(tmp_path / "pickled"), "--trust", "-q"], capsys)
    assert code == 2 and "--overwrite" in err and (tmp_path / "out.jsonl").read_bytes() == labelled
    code, _, err = run(["label", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "out.jsonl"),
                        "--model", str(tmp_path / "pickled"), "--trust", "--overwrite", "-q"], capsys)
    assert code == 0, err


def test_label_options_reach_label_files(data_files, tmp_path, capsys):
    # --passages, --keep-text, --threshold and -j give what the same label_files call gives.
    model_dir = _small_model(data_files)
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"a{i}", "text": "Militants bombed the market.\n\nThe mayor took bribes.",
                                          "year": 2000 + i}) + "\n" for i in range(7)))
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "cli.csv"), "--model", str(model_dir), "--passages",
                        "--keep-text", "--threshold", "terrorism=0.0", "-j", "2", "--chunk-size", "2", "-q"], capsys)
    assert code == 0, err
    threatclf.label_files(source, tmp_path / "api.csv", threatclf.load_model(model_dir), passages=True, keep_text=True,
                          threshold={"terrorism": 0.0}, chunk_size=2, progress=False)
    cli = (tmp_path / "cli.csv").read_bytes()
    assert cli == (tmp_path / "api.csv").read_bytes()
    frame = pd.read_csv(tmp_path / "cli.csv")
    assert list(frame["passage"]) == [0] * 7 and list(frame["year"]) == list(range(2000, 2007))  # passage rows
    assert frame["labels"].str.contains("terrorism").all()
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "articles.csv"), "--model", str(model_dir),
                        "--keep-text", "-q"], capsys)
    assert code == 0, err
    assert pd.read_csv(tmp_path / "articles.csv")["text"].tolist() == ["Militants bombed the market.\n\nThe mayor took bribes."] * 7


def test_evaluate_label_map_scores_data_labelled_with_other_names(data_files, tmp_path, capsys):
    model_dir = _small_model(data_files)
    texts, labels = tiny_corpus()
    theirs = {"terrorism": "terror", "organized_crime": "gangs"}
    rows = [{"text": t, "labels": [theirs.get(name, "misc") for name in row]} for t, row in zip(texts, labels)]
    (tmp_path / "theirs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = run(["evaluate", str(tmp_path / "theirs.jsonl"), "--model", str(model_dir), "--format", "json",
                          "--label-map", "terror=terrorism,gangs=organized_crime", "--label-map", "misc="], capsys)
    assert code == 0, err
    mapped = json.loads(out)
    code, out, _ = run(["evaluate", str(data_files / "train.jsonl"), "--model", str(model_dir), "--format", "json",
                        "--labels", "terrorism,organized_crime"], capsys)
    assert mapped == json.loads(out)
    code, _, err = run(["evaluate", str(tmp_path / "theirs.jsonl"), "--model", str(model_dir)], capsys)
    assert code == 2 and "unknown label 'terror'" in err and "--label-map YOURS=MODELS" in err
    code, _, err = run(["evaluate", str(tmp_path / "theirs.jsonl"), "--model", str(model_dir), "--label-map", "terror"],
                       capsys)
    assert code == 2 and "--label-map takes YOURS=MODELS pairs" in err


def test_train_joblib_format_needs_trust_and_overwrite_replaces(data_files, tmp_path, capsys):
    out = tmp_path / "pickled"
    argv = ["train", str(data_files / "train.jsonl"), "-o", str(out), "--min-df", "1", "--cv", "3", "-q",
            "--save-format", "joblib"]
    assert run(argv, capsys)[0] == 0
    assert (out / "model.joblib").exists() and not (out / "model.skops").exists()
    assert run(["evaluate", str(data_files / "train.jsonl"), "--model", str(out)], capsys)[0] == 2
    assert run(["evaluate", str(data_files / "train.jsonl"), "--model", str(out), "--trust"], capsys)[0] == 0
    assert run(argv, capsys)[0] == 2
    code, _, err = run(argv[:-2] + ["--overwrite"], capsys)
    assert code == 0, err
    assert (out / "model.skops").exists() and not (out / "model.joblib").exists()


def test_version_interrupt_and_debug(data_files, tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.strip() == f"threatclf {threatclf.__version__}"
    from threatclf import batch as batch_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module, "label_files", interrupted)
    argv = ["label", str(data_files / "train.jsonl"), "-o", str(tmp_path / "out.jsonl"), "--model", _small_model(data_files)]
    code, _, err = run([str(a) for a in argv], capsys)
    assert code == 130 and "interrupted; run the same command with --resume" in err
    code, _, err = run([str(a) for a in argv] + ["--restart"], capsys)
    assert code == 130 and "run it again with --resume instead of --restart" in err

    def interrupted_in_compiled_code(*args, **kwargs):  # how numba hands on a Ctrl-C
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("CPUDispatcher(<function _kernel>) returned a result with an exception set")

    monkeypatch.setattr(batch_module, "label_files", interrupted_in_compiled_code)
    code, _, err = run([str(a) for a in argv], capsys)
    assert code == 130 and "Traceback" not in err

    def a_real_system_error(*args, **kwargs):
        raise SystemError("a bug")

    monkeypatch.setattr(batch_module, "label_files", a_real_system_error)
    with pytest.raises(SystemError, match="a bug"):
        main([str(a) for a in argv])
    monkeypatch.undo()
    missing = ["evaluate", str(tmp_path / "missing.jsonl"), "--model", str(_small_model(data_files))]
    assert run(missing, capsys)[0] == 2
    monkeypatch.setenv("THREATCLF_DEBUG", "1")  # the traceback, and still the exit code of a user error
    code, _, err = run(missing, capsys)
    assert code == 2 and "Traceback (most recent call last)" in err and "missing.jsonl" in err


def test_train_warns_about_labels_with_few_examples(data_files, tmp_path, capsys):
    from threatclf.cli import FEW_POSITIVES

    texts, labels = tiny_corpus()
    counts = {name: sum(name in names for names in labels) for name in {n for names in labels for n in names}}
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--min-df", "1",
                        "--cv", "3", "-q"], capsys)
    assert code == 0
    expected = [f"{name} ({n})" for name, n in sorted(counts.items()) if n < FEW_POSITIVES]
    assert expected and f"warning: few examples for {', '.join(expected)}" in err
    few = [line for line in err.splitlines() if line.startswith("threatclf train: warning: few examples for")]
    assert len(few) == 1 and few[0].endswith("(label more)")  # --min-df 1 --cv 3 already given: not suggested again
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m2"), "--min-df", "1",
                        "--cv", "4", "-q"], capsys)
    assert code == 0 and "(for small data try --cv 3, and label more)" in err
    assert "NB-LR" not in err
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m4"), "--min-df", "1",
                        "--cv", "3", "-q", "--settings-from", "default"], capsys)
    assert code == 0 and "(label more; NB-LR and a presence block, as in the default model's settings, scored below " \
                         "the defaults at this size in benchmarks/learning_curve.py)" in err, err
    with warnings.catch_warnings():  # a Python warning, so PYTHONWARNINGS=error stops the run before training
        warnings.simplefilter("error", UserWarning)
        code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m3"), "-q"], capsys)
    assert code == 2 and "threatclf train: error: few examples for" in err and not (tmp_path / "m3").exists()


def test_train_help_states_the_classifier_defaults():
    # The help text quotes defaults; they must be the ThreatClassifier's.
    result = subprocess.run([installed_command(), "train", "--help"], capture_output=True, text=True)
    entries, current = {}, None
    for line in result.stdout.split("options:", 1)[1].splitlines():
        if line.startswith("  -"):
            current = line.split()[0].rstrip(",")
            entries[current] = line
        elif current:
            entries[current] += " " + line.strip()
    defaults = threatclf.ThreatClassifier().get_params()
    for option, name in (("--features", "features"), ("--model-type", "model"), ("--C", "C"), ("--cv", "cv"),
                         ("--min-df", "min_df")):
        value = defaults[name]
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        assert f"(default: {shown}" in " ".join(entries[option].split()), option


def test_train_tune_on_learns_thresholds_from_the_named_files_rows(data_files, tmp_path, capsys):
    from builders import _TEMPLATES

    hard = [{"text": f"{_TEMPLATES['terrorism'][i % 4]} while {_TEMPLATES[None][i % 6].lower()} ({i}).", "labels": []}
            for i in range(9)]
    picked = tmp_path / "picked.jsonl"
    picked.write_text("".join(json.dumps(r) + "\n" for r in hard))
    base = str(data_files / "train.jsonl")
    code, _, err = run(["train", base, str(picked), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q",
                        "--tune-on", base], capsys)
    assert code == 0, err
    texts, labels = tiny_corpus()
    texts, labels = texts + [r["text"] for r in hard], labels + [r["labels"] for r in hard]
    expected = ThreatClassifier(min_df=1, cv=3).fit(texts, labels, tuning_rows=np.arange(len(texts)) < len(texts) - 9)
    saved = threatclf.load_model(tmp_path / "m")
    np.testing.assert_allclose(saved.thresholds_, expected.thresholds_)
    card = saved.metadata_["metrics"]["cross-validated"]
    assert card["description"].startswith(f"3-fold out-of-fold predictions on the rows of {base} (rows not grouped")
    assert "at thresholds chosen on these same predictions: optimistic" in card["description"]
    assert f"calibration and thresholds from the rows of {base}." in (tmp_path / "m" / "README.md").read_text()
    code, _, err = run(["train", base, "-o", str(tmp_path / "m2"), "--min-df", "1", "--cv", "3", "-q",
                        "--tune-on", str(picked)], capsys)
    assert code == 2 and f"--tune-on {picked} is not one of the training files given" in err
    assert not (tmp_path / "m2").exists()


def test_train_warns_when_the_tune_on_rows_hold_few_examples(tmp_path, capsys):
    big, small = tmp_path / "big.jsonl", tmp_path / "small.jsonl"
    for path, repeats in ((big, 8), (small, 1)):
        texts, labels = tiny_corpus(repeats)
        path.write_text("".join(json.dumps({"text": f"{t} [{path.stem}]", "labels": l}) + "\n"
                                for t, l in zip(texts, labels)))
    code, _, err = run(["train", str(big), str(small), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q",
                        "--tune-on", str(small)], capsys)
    assert code == 0, err
    assert "warning: few examples among the --tune-on rows for corruption (4), drug_trafficking (5)" in err
    code, _, err = run(["train", str(big), str(small), "-o", str(tmp_path / "m2"), "--min-df", "1", "--cv", "3", "-q"],
                       capsys)
    assert code == 0 and "warning" not in err


def test_train_tune_on_problems_are_named_before_training(data_files, tmp_path, capsys):
    base = str(data_files / "train.jsonl")
    # Rare overall and among the tuning rows: both warnings.
    code, _, err = run(["train", base, "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q",
                        "--tune-on", base], capsys)
    assert code == 0 and "warning: few examples for" in err and "few examples among the --tune-on rows" in err
    config = tmp_path / "fixed.json"
    config.write_text(json.dumps({"calibrate": False, "threshold": 0.5}))
    code, _, err = run(["train", base, "-o", str(tmp_path / "m2"), "-q", "--tune-on", base, "--config", str(config)],
                       capsys)
    assert code == 2 and "--tune-on has nothing to tune" in err and str(config) in err
    no_fraud = tmp_path / "sample.jsonl"
    no_fraud.write_text("".join(json.dumps({"text": f"Quiet day number {i}.", "labels": []}) + "\n" for i in range(5)))
    code, _, err = run(["train", base, str(no_fraud), "-o", str(tmp_path / "m3"), "-q", "--tune-on", str(no_fraud)],
                       capsys)
    assert code == 2 and f"--tune-on {no_fraud}: no example of corruption, drug_trafficking" in err
    assert not (tmp_path / "m2").exists() and not (tmp_path / "m3").exists()


def test_train_card_says_when_the_dev_file_was_partly_trained_on(data_files, tmp_path, capsys):
    base = str(data_files / "train.jsonl")
    code, _, err = run(["train", base, "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q", "--dev", base],
                       capsys)
    assert code == 0, err
    description = threatclf.load_model(tmp_path / "m").metadata_["metrics"]["dev"]["description"]
    texts, _ = tiny_corpus()
    assert description == (f"File {base}; {len(texts)} of its {len(texts)} texts were also in the training data, "
                           "so these figures are optimistic.")


def _processes_writing(marker: str) -> list[int]:
    """Pids of live processes whose command line names ``marker`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
                state = (entry / "stat").read_text().split()[2]
            except OSError:
                continue
            if marker.encode() in cmdline and state != "Z":
                found.append(int(entry.name))
    return found


def _default_sigint() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


#: Rows of `_start_parallel_run`'s input: 32 chunks of 500, seconds of work left when the first is stored
#: (which the resumed run then labels in a test's own process)
PARALLEL_RUN_ROWS = 16000


def _start_parallel_run(tmp_path, model, chunk_size=500, n_rows=PARALLEL_RUN_ROWS):
    """`threatclf label -j 2` over enough rows to be stopped half-way, once its first chunk is stored."""
    import time

    rows = [{"id": f"r{i}", "text": f"Militants bombed the market in town {i}. " * 40} for i in range(n_rows)]
    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    output = tmp_path / "out-parallel.jsonl"
    model_option = ["-m", str(model)] if model is not None else []
    # Ctrl-C as at a terminal: a test run started in the background by a non-interactive shell
    # (nohup ... &) inherits SIGINT ignored, which the command rightly keeps
    process = subprocess.Popen([installed_command(), "label", str(source), "-o", str(output), *model_option,
                                "-j", "2", "--chunk-size", str(chunk_size), "-q"],
                               stderr=subprocess.PIPE, text=True, start_new_session=True,
                               preexec_fn=_default_sigint)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "out-parallel.jsonl.partial").glob("chunk-*.done.json")) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    return process, output


def _wait_until_gone(marker: str, seconds: float = 30.0) -> list[int]:
    """The processes naming ``marker`` (an output path) left after waiting for them to end, and for
    the output's lock to be free: an exiting process drops its command line before its files."""
    import fcntl
    import time

    from threatclf.resume import lock_path_of

    deadline = time.monotonic() + seconds
    while _processes_writing(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    lock = lock_path_of(Path(marker))
    while lock.exists() and time.monotonic() < deadline:
        try:
            with open(lock, "rb") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
            break
        except FileNotFoundError:
            break
        except BlockingIOError:
            time.sleep(0.1)
    return _processes_writing(marker)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_a_parallel_run_and_its_workers(tmp_path, saved_small_model, presses):
    import os
    import signal
    import time

    # the bundled model and large chunks: running chunks take a while to finish after the first press
    process, output = _start_parallel_run(tmp_path, None if presses > 1 else saved_small_model,
                                          chunk_size=4000 if presses > 1 else 500)
    for _ in range(presses):  # the second lands while the running chunks finish
        os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
        time.sleep(0.3)
    # 130 from threatclf; a second press landing as the interpreter exits ends it by the signal itself
    assert process.wait(timeout=60) in ((130, -signal.SIGINT) if presses > 1 else (130,))
    assert "run the same command with --resume" in process.stderr.read()
    assert _wait_until_gone(str(output)) == [] and not output.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("whole_group", [True, False])
def test_sigterm_stops_a_run_as_ctrl_c_does_and_it_resumes(tmp_path, saved_small_model, whole_group):
    import os
    import signal

    # kill, timeout and docker stop send SIGTERM: to the whole group, or to the command alone
    process, output = _start_parallel_run(tmp_path, saved_small_model)
    if whole_group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 143
    err = process.stderr.read()
    assert "terminated (SIGTERM); run the same command with --resume to continue" in err
    assert "Exception ignored" not in err and "Traceback" not in err  # workers end as ever, not by the handler
    assert _wait_until_gone(str(output)) == [] and not output.exists()
    assert list((tmp_path / "out-parallel.jsonl.partial").glob("chunk-*.done.json"))  # the finished chunks kept
    code = main(["label", str(tmp_path / "big.jsonl"), "-o", str(output), "-m", str(saved_small_model),
                 "--chunk-size", "500", "--resume", "-q"])
    assert code == 0 and sum(1 for _ in output.open()) == PARALLEL_RUN_ROWS


def test_a_worker_leaves_ctrl_c_to_the_parent_and_dies_of_sigterm():
    # a forked worker inherits the command's SIGTERM handler, which would raise inside its chunk
    code = ("import signal; from threatclf.batch import _worker_started; "
            "signal.signal(signal.SIGTERM, lambda *a: None); _worker_started(); "
            "print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, signal.getsignal(signal.SIGINT) is signal.SIG_IGN)")
    said = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert said == ["True", "True"]


@pytest.mark.parametrize("rejected", [False, True])
def test_an_interrupt_once_the_output_is_in_place_ends_the_run_as_finished(tmp_path, saved_small_model, capsys,
                                                                           monkeypatch, rejected):
    # a Ctrl-C while the summary was printed said "interrupted; --resume", which then failed: nothing to resume
    from threatclf import batch as batch_module

    real = batch_module.label_files

    def finished_then_interrupted(*args, **kwargs):  # as label_files raises it in its closing notes
        raise batch_module.InterruptedAfterFinishing(real(*args, **kwargs))

    monkeypatch.setattr(batch_module, "label_files", finished_then_interrupted)
    rows = [{"id": "a", "text": "A bomb exploded."}, {"id": "b", "text": "Cartel smuggled cocaine."}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows) + ("{broken\n" if rejected else ""))
    out = tmp_path / "out.jsonl"
    code, _, err = run(["label", str(source), "-o", str(out), "--model", str(saved_small_model), "-q"], capsys)
    assert code == (3 if rejected else 0), err
    assert f"interrupted after the run finished: {out} is complete" in err and "--resume" not in err
    assert ("rejected rows are in" in err) == rejected and len(out.read_text().splitlines()) == 2
    # with --summary-json, a program waits for the summary: without it, no exit 0
    code, out_text, err = run(["label", str(source), "-o", str(out), "--model", str(saved_small_model), "--overwrite",
                               "--summary-json"], capsys)
    assert code == 130 and out_text == "" and "interrupted before the summary was printed" in err
    # the same interrupt before anything was written, over the output just written: not finished
    monkeypatch.setattr(batch_module, "label_files", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    code, _, err = run(["label", str(source), "-o", str(out), "--model", str(saved_small_model), "--overwrite"], capsys)
    assert code == 130 and "interrupted; run the same command with --resume" in err


def test_a_sigterm_landing_in_a_finaliser_is_sent_again_not_lost():
    # Python prints an exception raised in __del__ and drops it: the run went on to the end, exit 0
    import signal
    import time

    import threatclf.cli as cli

    class Bar:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)  # the handler runs here, inside the finaliser

    previous = signal.signal(signal.SIGTERM, cli._on_sigterm)
    try:
        with pytest.raises(cli._Terminated):
            bar = Bar()
            del bar
            for _ in range(200):  # sent again once the finaliser returned
                time.sleep(0.01)
    finally:
        signal.signal(signal.SIGTERM, previous)
        cli._TERMINATED.clear()


def test_a_sigterm_a_finaliser_took_as_main_returns_is_not_sent_to_the_handler_main_restores(monkeypatch, capsys):
    import signal
    import time

    import threatclf.cli as cli

    class Bar:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)

    def finished_with_a_finaliser(args):
        bar = Bar()
        del bar  # the handler runs in __del__: the signal waits to be sent again
        return 0

    monkeypatch.setattr(cli, "cmd_info", finished_with_a_finaliser)
    received = []
    previous = signal.signal(signal.SIGTERM, lambda *a: received.append(a))  # an embedding program's
    try:
        assert cli.main(["info"]) == 143 and "terminated (SIGTERM)" in capsys.readouterr().err
        time.sleep(0.2)
        assert received == [] and not cli._RESEND  # cancelled, not sent to the program's handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_closing_notes_of_label_files_interrupted_say_the_run_finished(small_model, tmp_path, monkeypatch):
    from threatclf import batch as batch_module

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "A bomb exploded."}) + "\n{broken\n")

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(batch_module, "_say_closing_notes", interrupted)
    with pytest.raises(batch_module.InterruptedAfterFinishing) as stopped:
        threatclf.label_files(source, tmp_path / "out.jsonl", small_model, progress=False)
    assert stopped.value.summary.rejected == 1 and (tmp_path / "out.jsonl").read_text().count("\n") == 1


def test_a_pool_broken_by_a_sigterm_to_the_whole_group_is_said_as_terminated(monkeypatch, capsys):
    # the workers may die of the signal before the command's handler runs: then the pool breaks first
    from concurrent.futures.process import BrokenProcessPool

    import threatclf.cli as cli

    def killed(args):
        cli._TERMINATED.set()
        raise BrokenProcessPool("a child process terminated abruptly")

    args = cli.build_parser().parse_args(["label", "in.jsonl", "-o", "out.jsonl"])
    monkeypatch.setattr(args, "func", killed)
    assert cli._run(args, None) == 143
    assert "terminated (SIGTERM); run the same command with --resume" in capsys.readouterr().err
    cli._TERMINATED.clear()
    monkeypatch.setattr(args, "func", lambda args: (_ for _ in ()).throw(BrokenProcessPool("gone")))
    assert cli._run(args, None) == 2  # the system killed a worker: said as such
    assert "a worker process ended abruptly" in capsys.readouterr().err


def test_sigterm_to_a_run_writing_to_standard_output_leaves_no_temporary_folder(tmp_path, saved_small_model):
    import os
    import signal
    import time

    rows = [{"id": f"r{i}", "text": f"Militants bombed the market in town {i}. " * 40} for i in range(60000)]
    source = tmp_path / "big.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process = subprocess.Popen([installed_command(), "label", str(source), "-o", "-", "-m", str(saved_small_model),
                                "--chunk-size", "500", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "TMPDIR": str(temporary)})
    deadline = time.monotonic() + 120
    while not list(temporary.glob("threatclf-label-*/*.partial/chunk-*.done.json")) and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143 and out == b"" and b"terminated (SIGTERM)" in err
    assert list(temporary.iterdir()) == []  # the labelled chunks went with the run


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_when_the_parent_is_killed(tmp_path, saved_small_model):
    import signal

    import time

    process, output = _start_parallel_run(tmp_path, saved_small_model)
    deadline, workers = time.monotonic() + 60, []
    while len(workers) < 2 and time.monotonic() < deadline:  # a loaded machine starts them late
        workers = [pid for pid in _processes_writing(str(output)) if pid != process.pid]
        time.sleep(0.05)
    assert len(workers) == 2
    process.send_signal(signal.SIGKILL)  # the parent alone, as an out-of-memory killer would
    process.wait(timeout=60)
    assert _wait_until_gone(str(output)) == []
    code = main(["label", str(tmp_path / "big.jsonl"), "-o", str(output), "-m", str(saved_small_model),
                 "--chunk-size", "500", "--resume", "-q"])
    assert code == 0 and sum(1 for _ in output.open()) == PARALLEL_RUN_ROWS


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_worker_is_one_line_and_the_run_resumes(tmp_path, saved_small_model):
    import os
    import signal
    import time

    process, output = _start_parallel_run(tmp_path, saved_small_model)
    deadline, workers = time.monotonic() + 60, []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = [pid for pid in _processes_writing(str(output)) if pid != process.pid]
        time.sleep(0.05)
    assert workers
    os.kill(workers[0], signal.SIGKILL)  # as the out-of-memory killer would
    assert process.wait(timeout=120) == 2
    err = process.stderr.read()
    assert "Traceback" not in err and "a worker process ended abruptly" in err
    assert "run the same command with --resume" in err and not output.exists()
    assert _wait_until_gone(str(output)) == []
    code = main(["label", str(tmp_path / "big.jsonl"), "-o", str(output), "-m", str(saved_small_model),
                 "--chunk-size", "500", "--resume", "-q"])
    assert code == 0 and sum(1 for _ in output.open()) == PARALLEL_RUN_ROWS


def test_repeated_threshold_options_merge_and_a_label_given_twice_is_an_error(data_files, tmp_path, capsys):
    model = str(_small_model(data_files))
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Militants bombed the market and a cartel sold cocaine."}) + "\n")

    def scores(*thresholds):
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}.jsonl"
        try:
            code, _, err = run(["label", str(source), "-o", str(out), "--model", model, "-q",
                                *[arg for t in thresholds for arg in ("--threshold", t)]], capsys)
        except SystemExit as exc:  # argparse's own usage error
            code, err = exc.code, capsys.readouterr().err
        return code, err, (json.loads(out.read_text()) if code == 0 else None)

    code, _, both = scores("terrorism=0.00001", "corruption=0.00001")  # both apply: the second replaced the first
    assert code == 0 and {"terrorism", "corruption"} <= set(both["labels"])
    for given, message in ((("terrorism=0.01,terrorism=0.99",), "a label is named twice"),
                           (("terrorism=0.01", "terrorism=0.99"), "terrorism is given more than once"),
                           (("0.5", "terrorism=0.2"), "give one number for every label, or label=value pairs")):
        code, err, _ = scores(*given)
        assert code == 2 and message in err, (given, err)


def test_info_takes_the_model_folder_as_verify_does(data_files, tmp_path, capsys):
    folder = str(_small_model(data_files))
    assert run(["info", folder], capsys)[1] == run(["info", "--model", folder], capsys)[1]
    code, _, err = run(["info", folder, "--model", str(tmp_path)], capsys)
    assert code == 2 and "two models given" in err


def test_label_input_mistakes_are_named_before_any_work(data_files, tmp_path, capsys):
    model = str(_small_model(data_files))
    semicolons = tmp_path / "excel.csv"
    semicolons.write_text("id;text\n1;Rain fell.\n")
    code, _, err = run(["label", str(semicolons), "-o", str(tmp_path / "o1.jsonl"), "--model", model], capsys)
    assert code == 2 and "the header is one column holding ';'" in err
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "text": "Rain fell."}) + "\n")
    code, _, err = run(["label", str(good), f"{tmp_path}/../{tmp_path.name}/good.jsonl", "-o",
                        str(tmp_path / "o2.jsonl"), "--model", model], capsys)
    assert code == 2 and "good.jsonl is given twice" in err
    assert not (tmp_path / "o1.jsonl").exists() and not (tmp_path / "o2.jsonl").exists()


def test_label_refuses_cheap_mistakes_before_loading_the_model(data_files, tmp_path, capsys, monkeypatch):
    import threatclf.persistence as persistence

    loaded = []
    real_load = persistence.load_model
    monkeypatch.setattr(persistence, "load_model", lambda *a, **k: loaded.append(a) or real_load(*a, **k))
    model = str(_small_model(data_files))
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"id": "a", "text": "Rain fell."}) + "\n")
    (tmp_path / "done.jsonl").write_text("{}\n")
    for argv, said in ((["label", str(tmp_path / "nothere.jsonl"), "-o", str(tmp_path / "o.jsonl")], "input not found"),
                       (["label", str(good), "-o", str(tmp_path / "o.txt")], "unknown output format"),
                       (["label", str(good), "-o", str(tmp_path / "done.jsonl")], "--overwrite")):
        code, _, err = run(argv + ["--model", model], capsys)
        assert code == 2 and said in err and not loaded, (argv, err)
    assert run(["label", str(good), "-o", str(tmp_path / "o.jsonl"), "--model", model], capsys)[0] == 0
    assert len(loaded) == 1  # the run that passed its checks loaded its model once


def test_default_names_the_bundled_model_for_every_command(tmp_path, capsys, monkeypatch):
    from threatclf.persistence import default_model_path

    bundled = str(default_model_path())
    code, out, _ = run(["verify"], capsys)
    assert code == 0 and out.startswith(f"{bundled}: format") and "all types trusted" in out
    assert run(["verify", "default"], capsys)[1] == out
    assert run(["info", "default"], capsys)[1] == run(["info"], capsys)[1]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()  # a folder of that name here: "default" still means the bundled one, said so
    code, out2, err = run(["verify", "default"], capsys)
    assert code == 0 and out2 == out
    assert "the model name 'default' means the bundled default model, not the folder ./default here" in err
    code, _, err = run(["info", "default", "--model", "./default"], capsys)  # two models, though both say default
    assert code == 2 and "two models given: default and --model ./default" in err


def test_label_reads_tab_separated_files_and_other_encodings(data_files, tmp_path, capsys):
    source = tmp_path / "in.tsv.csv"
    source.write_bytes("id\ttext\na\tCartel smuggled coca\u00efne.\n".encode("latin-1"))
    out = tmp_path / "out.jsonl"
    code, _, err = run(["label", str(source), "-o", str(out), "--model", str(_small_model(data_files)), "-q",
                        "--csv-sep", "\\t", "--encoding", "latin-1", "--keep-text"], capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["text"] == "Cartel smuggled coca\u00efne."


def test_evaluate_scores_only_the_labels_asked_and_info_says_how_figures_were_made(data_files, tmp_path, capsys):
    model = str(_small_model(data_files))
    dev = tmp_path / "dev.jsonl"
    dev.write_text("".join(json.dumps({"text": t, "labels": l}) + "\n" for t, l in
                           [("Militants bombed the market.", ["terrorism"]), ("Rain fell.", [])]))
    code, out, _ = run(["evaluate", str(dev), "--model", model, "--labels", "terrorism", "--format", "json"], capsys)
    assert code == 0 and list(json.loads(out)["labels"]) == ["terrorism"]
    code, out, _ = run(["info", model], capsys)
    assert code == 0 and "  3-fold out-of-fold predictions on the training data" in out
    assert "(rows not grouped (--group-col): passages of one document may have helped score each other; copies of " \
           "a text in one fold), at thresholds chosen on these same predictions: optimistic; a held-out --dev file " \
           "is the honest figure." in " ".join(out.split())


def test_train_takes_label_definitions_and_checks_them_first(data_files, tmp_path, capsys):
    definitions = tmp_path / "defs.json"
    definitions.write_text(json.dumps({"corruption": "Bribes paid to our officials."}))
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--min-df", "1",
                        "--cv", "3", "-q", "--label-definitions", str(definitions)], capsys)
    assert code == 0, err
    assert "Bribes paid to our officials." in (tmp_path / "m" / "README.md").read_text()
    definitions.write_text(json.dumps({"fraud": "x"}))
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m2"), "-q",
                        "--label-definitions", str(definitions)], capsys)
    assert code == 2 and "defines labels the training data does not have: ['fraud']" in err


def test_train_and_evaluate_read_windows_exports_too(data_files, tmp_path, capsys):
    rows = [json.loads(line) for line in (data_files / "train.jsonl").read_text().splitlines()]
    export = tmp_path / "train.csv"  # as Excel saves it in a semicolon locale: ';', Windows-1252, CRLF
    frame = pd.DataFrame({"text": [r["text"] + " \u2013 caf\u00e9" for r in rows],
                          "labels": [json.dumps(r["labels"]) for r in rows]})
    frame.to_csv(export, sep=";", index=False, encoding="cp1252", lineterminator="\r\n")
    code, _, err = run(["train", str(export), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q"], capsys)
    assert code == 2 and "pass --csv-sep ';'" in err
    code, _, err = run(["train", str(export), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q",
                        "--csv-sep", ";", "--encoding", "cp1252", "--dev", str(export)], capsys)
    assert code == 0, err
    code, out, err = run(["evaluate", str(export), "--model", str(tmp_path / "m"), "--csv-sep", ";", "--encoding",
                          "cp1252", "--labels", "terrorism", "--labels", "corruption", "--format", "json"], capsys)
    assert code == 0 and list(json.loads(out)["labels"]) == ["terrorism", "corruption"], err
    code, _, err = run(["evaluate", str(export), "--model", str(tmp_path / "m"), "--csv-sep", ";", "--encoding",
                        "cp1252", "--labels", ""], capsys)
    assert code == 2 and "--labels names no label" in err


def test_label_definitions_are_checked_before_training(data_files, tmp_path, capsys):
    definitions = tmp_path / "defs.json"
    definitions.write_text(json.dumps({"corruption": "  "}))
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "-q",
                        "--label-definitions", str(definitions)], capsys)
    assert code == 2 and "non-empty text" in err and not (tmp_path / "m").exists()
    definitions.write_bytes("\ufeff".encode("utf-8") + json.dumps({"corruption": "Bribes."}).encode())  # Notepad
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "-q", "--min-df", "1",
                        "--cv", "3", "--label-definitions", str(definitions)], capsys)
    assert code == 0, err


def test_train_refuses_data_it_would_misread_before_training(data_files, tmp_path, capsys, monkeypatch):
    import threatclf.classifier as classifier_module

    def never(*args, **kwargs):
        raise AssertionError("trained on data it should have refused")

    monkeypatch.setattr(classifier_module.ThreatClassifier, "fit", never)
    train = str(data_files / "train.jsonl")
    out = str(tmp_path / "m")
    code, _, err = run(["train", train, str(Path(train).parent / "." / "train.jsonl"), "-o", out, "-q"], capsys)
    assert code == 2 and "train.jsonl is given more than once as training data" in err, err
    for column, said, extra in (("text", "--text-col", []), ("id", "the id column", []),
                                ("doc", "--group-col", ["--group-col", "doc"])):
        code, _, err = run(["train", train, "-o", out, "-q", "--labels-col", column, *extra], capsys)
        assert code == 2 and f"--labels-col {column} is {said}" in err, err
    texts, labels = tiny_corpus()
    rows = [{"text": t, "labels": l} for t, l in zip(texts, labels)]
    rows[6]["labels"] = ["terorism"]  # a typo: fewer examples than folds
    typo = tmp_path / "typo.jsonl"
    typo.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["train", str(typo), "-o", out, "-q"], capsys)
    assert code == 2 and "label 'terorism' has 1 example(s), fewer than the 5 cross-validation folds" in err, err
    assert "typo.jsonl: line 7" in err and "--cv 1" not in err  # one example: no number of folds will do
    rows[7]["labels"] = ["terorism"]
    typo.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["train", str(typo), "-o", out, "-q"], capsys)
    assert code == 2 and "has 2 example(s)" in err and "or label more, or use --cv 2" in err, err
    # two files, each fine alone: one holds the other's labels joined by a space
    joined = tmp_path / "joined.jsonl"
    joined.write_text(json.dumps({"text": "Militants bribed the port police.", "labels": ["terrorism corruption"]})
                      + "\n")
    code, _, err = run(["train", train, str(joined), "-o", out, "-q"], capsys)
    assert code == 2 and "joined.jsonl: line 1: label name 'terrorism corruption' is the labels" in err, err
    formula = tmp_path / "formula.jsonl"  # a name no model may hold, named by its file and line
    formula.write_text("".join(json.dumps({"text": t, "labels": ["-gangs"] if k == 4 else l}) + "\n"
                               for k, (t, l) in enumerate(zip(texts, labels))))
    code, _, err = run(["train", str(formula), "-o", out, "-q"], capsys)
    assert code == 2 and "formula.jsonl: line 5: label name '-gangs' may not start with" in err, err
    missing = tmp_path / "missing.csv"
    pd.DataFrame({"text": texts, "labels": [";".join(names) or "NA" for names in labels]}).to_csv(missing, index=False)
    code, _, err = run(["train", str(missing), "-o", out, "-q"], capsys)
    first = next(k for k, names in enumerate(labels) if not names) + 2  # the header is line 1
    assert code == 2 and f"missing.csv: line {first}: label name 'NA' is how spreadsheets" in err, err


def test_messages_name_only_flags_that_threatclf_label_has(capsys):
    from threatclf.resume import CLI_FLAGS, option_named

    with pytest.raises(SystemExit):
        main(["label", "--help"])
    help_text = capsys.readouterr().out
    for name in CLI_FLAGS:
        assert f"--{name.replace('_', '-')}" in help_text, name
    assert option_named("progress") == "progress" and "--progress" not in help_text  # -q says it there


def test_train_keeps_such_label_names_when_the_config_names_the_labels(tmp_path, capsys):
    texts, labels = tiny_corpus(repeats=3)
    rows = [{"text": t, "labels": ["none"] if not names else names} for t, names in zip(texts, labels)]
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"label_names": list(threatclf.DEFAULT_LABELS) + ["none"], "min_df": 1, "cv": 3}))
    code, _, err = run(["train", str(data), "-o", str(tmp_path / "m"), "-q"], capsys)
    assert code == 2 and "label name 'none' is how spreadsheets" in err
    code, _, err = run(["train", str(data), "-o", str(tmp_path / "m"), "-q", "--config", str(config)], capsys)
    assert code == 0, err
    assert threatclf.load_model(tmp_path / "m").labels_[-1] == "none"


def test_a_broken_worker_pool_outside_label_names_no_label_flag(monkeypatch, tmp_path, capsys):
    from concurrent.futures.process import BrokenProcessPool

    import threatclf.cli as cli_module

    def broken(args):
        raise BrokenProcessPool("a process in the pool was terminated abruptly")

    monkeypatch.setattr(cli_module, "cmd_info", broken)
    parser = cli_module.build_parser()
    monkeypatch.setattr(cli_module, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["info"].set_defaults(func=broken)
    code, _, err = run(["info"], capsys)
    assert code == 2 and "a worker process ended abruptly" in err
    assert "--chunk-size" not in err and "--resume" not in err


# --- found by mutation testing of cli.py (0.12) ----------------------------------------------------

@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("gaps") / "train.jsonl"
    texts, labels = tiny_corpus()
    path.write_text("".join(json.dumps({"text": t, "labels": l}) + "\n" for t, l in zip(texts, labels)))
    return path


@pytest.fixture
def no_fit(monkeypatch):
    """Training fails the test: what is checked before the fit must be found before it."""
    import threatclf.classifier as classifier_module

    def never(*args, **kwargs):
        raise AssertionError("trained on data it should have refused")

    monkeypatch.setattr(classifier_module.ThreatClassifier, "fit", never)


def _articles(tmp_path, texts, ids=None):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": ids[k] if ids else f"a{k}", "text": t}) + "\n"
                              for k, t in enumerate(texts)))
    return source



# --- label: arguments -------------------------------------------------------------------------

def test_label_threshold_pairs_may_have_spaces_after_the_commas(saved_small_model, tmp_path, capsys):
    source = _articles(tmp_path, ["Militants bombed the market and a cartel sold cocaine."])
    out = tmp_path / "out.jsonl"
    code, _, err = run(["label", str(source), "-o", str(out), "--model", str(saved_small_model), "-q",
                        "--threshold", "terrorism=0.00001, corruption=0.00001"], capsys)
    assert code == 0, err
    assert {"terrorism", "corruption"} <= set(json.loads(out.read_text())["labels"])


def test_label_output_format_is_refused_for_an_output_file(saved_small_model, tmp_path, capsys):
    source = _articles(tmp_path, ["Rain fell."])
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "out.jsonl"), "--model", str(saved_small_model),
                        "--output-format", "csv"], capsys)
    assert code == 2 and "--output-format is for -o - (standard output)" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_label_to_standard_output_refuses_restart(saved_small_model, tmp_path, capsys):
    source = _articles(tmp_path, ["Rain fell."])
    code, out, err = run(["label", str(source), "-o", "-", "--model", str(saved_small_model), "--restart"], capsys)
    assert code == 2 and "cannot be used with --restart: nothing of it is kept to resume" in err and out == ""


def test_label_chunk_size_default_is_the_one_the_help_states(saved_small_model, tmp_path, capsys, monkeypatch):
    import re

    from threatclf import batch

    with pytest.raises(SystemExit):
        main(["label", "--help"])
    stated = re.search(r"--chunk-size CHUNK_SIZE\s+" + r"\s+".join(map(re.escape, (
        "rows per chunk, the unit of resuming and of memory: a chunk's rows are held at once (default:").split()))
        + r"\s+(\d+)\)", capsys.readouterr().out)
    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "label_files", spy)
    source = _articles(tmp_path, ["Rain fell."])
    assert main(["label", str(source), "-o", str(tmp_path / "o.jsonl"), "--model", str(saved_small_model)]) == 130
    assert stated and seen["chunk_size"] == int(stated.group(1)) == 2000


def test_label_summary_json_still_warns_of_repeated_ids(saved_small_model, tmp_path, capsys):
    # the JSON summary on stdout is for programs: the person running it is still told on stderr
    source = _articles(tmp_path, ["A bomb exploded.", "Rain fell."], ids=["x1", "x1"])
    code, out, err = run(["label", str(source), "-o", str(tmp_path / "o.jsonl"), "--model", str(saved_small_model),
                          "--summary-json"], capsys)
    assert code == 0 and json.loads(out)["duplicate_ids"] == 1
    assert "threatclf label: warning: 1 row repeats an id of an earlier row" in err


def test_label_to_standard_output_with_a_rejects_file_names_it_in_the_summary(saved_small_model, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "A bomb exploded."}) + "\n" + "not json\n")
    rejects = tmp_path / "bad.jsonl"
    code, _, err = run(["label", str(source), "-o", "-", "--model", str(saved_small_model), "--rejects",
                        str(rejects)], capsys)
    assert code == 3 and rejects.exists()
    assert "output: standard output" in err and "rejects: stderr" not in err and f"rejects: {rejects}" in err



# --- evaluate -----------------------------------------------------------------------------------

def test_evaluate_label_map_naming_a_name_twice_is_an_error(saved_small_model, tmp_path, capsys):
    data = tmp_path / "theirs.jsonl"
    data.write_text(json.dumps({"text": "Militants bombed the market.", "labels": ["terror"]}) + "\n")
    code, _, err = run(["evaluate", str(data), "--model", str(saved_small_model),
                        "--label-map", "terror=terrorism", "--label-map", "terror=corruption"], capsys)
    assert code == 2 and "--label-map maps 'terror' twice" in err


def test_evaluate_json_still_warns_when_the_data_was_trained_on(saved_small_model, train_file, capsys):
    # the table carries its own WARNING line; JSON, for programs, leaves it to stderr, once
    code, out, err = run(["evaluate", str(train_file), "--model", str(saved_small_model), "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["seen_in_training"] > 0
    assert err.count("texts were in the model's training data") == 1
    assert err.startswith("threatclf evaluate: warning: ")
    code, out, err = run(["evaluate", str(train_file), "--model", str(saved_small_model)], capsys)
    assert code == 0 and "WARNING" in out and "training data" not in err  # said once, in the table



# --- train --------------------------------------------------------------------------------------

def test_train_dev_labels_naming_a_label_twice_is_refused_before_training(train_file, tmp_path, capsys, no_fit):
    code, _, err = run(["train", str(train_file), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q",
                        "--dev", str(train_file), "--dev-labels", "terrorism,terrorism"], capsys)
    assert code == 2 and "--dev-labels must name labels of the training data, each once" in err
    assert not (tmp_path / "m").exists()


def test_train_a_label_one_example_short_of_the_folds_is_named_before_training(tmp_path, capsys, no_fit):
    texts, labels = tiny_corpus()
    rows = [{"text": t, "labels": l} for t, l in zip(texts, labels)]
    rows[6]["labels"] = rows[7]["labels"] = ["terorism"]  # 2 examples, 3 folds
    typo = tmp_path / "typo.jsonl"
    typo.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["train", str(typo), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q"], capsys)
    assert code == 2, err
    assert "label 'terorism' has 2 example(s), fewer than the 3 cross-validation folds" in err
    assert "typo.jsonl: line 7; " in err and "typo.jsonl: line 8" in err


@pytest.mark.parametrize("first, second, problem", [
    ("ingérence", "inge\u0301rence", "are one name written in two Unicode forms"),
    ("cop", "\u0441\u043e\u0440", "print alike ('\u043e' is CYRILLIC SMALL LETTER O)"),
])
def test_train_names_the_lines_of_two_label_names_no_one_could_tell_apart(tmp_path, capsys, no_fit, first, second,
                                                                          problem):
    texts, labels = tiny_corpus()
    rows = [{"text": t, "labels": [first if n == "terrorism" else second if n == "corruption" else n for n in names]}
            for t, names in zip(texts, labels)]
    data = tmp_path / "alike.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["train", str(data), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q"], capsys)
    lines = {name: next(k for k, row in enumerate(rows) if name in row["labels"]) + 1 for name in (first, second)}
    assert code == 2 and problem in err, err
    assert all(f"alike.jsonl: line {line}" in err for line in lines.values()), err


def test_train_warns_of_few_examples_up_to_29_not_at_30(tmp_path, capsys):
    from threatclf.evaluate import FEW_POSITIVES

    assert FEW_POSITIVES == 30
    rows = ([{"text": f"Militants bombed checkpoint number {i} in the north.", "labels": ["terrorism"]}
             for i in range(29)]
            + [{"text": f"The mayor of town {i} took bribes from a builder.", "labels": ["corruption"]}
               for i in range(30)]
            + [{"text": f"The football club number {i} won the cup.", "labels": []} for i in range(30)])
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, _, err = run(["train", str(data), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q"], capsys)
    assert code == 0, err
    assert "warning: few examples for terrorism (29); under ~30" in err and "corruption (30)" not in err


def test_train_n_jobs_is_for_the_run_not_stored_in_the_model(train_file, tmp_path, capsys):
    code, _, err = run(["train", str(train_file), "-o", str(tmp_path / "m"), "--min-df", "1", "--cv", "3", "-q",
                        "--n-jobs", "2"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "m" / "metadata.json").read_text())["settings"]["n_jobs"] is None
    assert threatclf.load_model(tmp_path / "m").n_jobs is None



# --- info ---------------------------------------------------------------------------------------

def test_info_shows_a_threshold_of_exactly_one_as_a_number(tmp_path, capsys):
    folder = ThreatClassifier(min_df=1, cv=3, calibrate=False, threshold=1.0).fit(*tiny_corpus()).save(tmp_path / "m")
    code, out, _ = run(["info", str(folder)], capsys)
    assert code == 0 and "  terrorism            1.000" in out and "never" not in out



# --- errors, signals ----------------------------------------------------------------------------

@pytest.mark.parametrize("errno_name, strerror, name, said", [
    ("EACCES", "Permission denied", "locked.jsonl", "cannot use {path}: Permission denied\n"),
    ("ENOSPC", "No space left on device", "o.jsonl.partial", "No space left on device ({path}); free some space"),
])
def test_an_os_error_naming_a_file_is_said_plainly(saved_small_model, tmp_path, capsys, monkeypatch, errno_name,
                                                   strerror, name, said):
    import errno

    from threatclf import batch

    def failed(*args, **kwargs):
        raise OSError(getattr(errno, errno_name), strerror, str(tmp_path / name))

    monkeypatch.setattr(batch, "label_files", failed)
    source = _articles(tmp_path, ["Rain fell."])
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "o.jsonl"), "--model", str(saved_small_model)],
                       capsys)
    assert code == 2 and err.startswith("threatclf label: error: " + said.format(path=tmp_path / name))


def test_a_file_where_a_folder_is_to_be_made_is_named(saved_small_model, tmp_path, capsys):
    source = _articles(tmp_path, ["Rain fell."])
    (tmp_path / "afile").write_text("x")
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "o.jsonl"), "--model", str(saved_small_model),
                        "-q", "--rejects", str(tmp_path / "afile" / "r.jsonl")], capsys)
    assert code == 2 and "[Errno" not in err
    assert err == (f"threatclf label: error: folder of the rejects file {tmp_path / 'afile'} cannot be made: "
                   f"{tmp_path / 'afile'} is a file, not a folder\n")
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "afile" / "sub" / "o.jsonl"), "--model",
                        str(saved_small_model), "-q"], capsys)
    assert code == 2 and err == (f"threatclf label: error: output folder {tmp_path / 'afile' / 'sub'} cannot be "
                                 f"made: {tmp_path / 'afile'} is a file, not a folder\n")


def test_an_error_message_shows_control_characters_escaped(tmp_path, capsys):
    folder = tmp_path / "evil\x1b[2K\rmodel"
    code, _, err = run(["verify", str(folder)], capsys)
    assert code == 2 and "\x1b" not in err and "\r" not in err and "evil\\x1b[2K\\rmodel" in err


def test_main_restores_the_sigterm_handler_it_replaced(saved_small_model, capsys):
    def mine(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        assert main(["info", str(saved_small_model)]) == 0
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_main_runs_outside_the_main_thread(saved_small_model, capsys):
    # an application may call main() from a worker thread: no SIGTERM handler (Python allows
    # one only in the main thread), and the command still runs
    result = {}

    def call():
        try:
            result["code"] = main(["info", str(saved_small_model)])
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(60)
    assert result == {"code": 0}


def test_a_sigterm_of_an_earlier_run_does_not_colour_the_next_one(saved_small_model, tmp_path, capsys, monkeypatch):
    import threatclf.cli as cli
    from threatclf import batch

    cli._TERMINATED.set()  # as a run ended by SIGTERM left it, in an application calling main() again
    monkeypatch.setattr(batch, "label_files", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    source = _articles(tmp_path, ["Rain fell."])
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "o.jsonl"), "--model", str(saved_small_model)],
                       capsys)
    assert code == 130 and "interrupted; run the same command with --resume" in err and "SIGTERM" not in err


def test_a_broken_pool_reading_standard_input_is_not_told_to_resume(monkeypatch, capsys):
    from concurrent.futures.process import BrokenProcessPool

    import threatclf.cli as cli

    cli._TERMINATED.clear()
    args = cli.build_parser().parse_args(["label", "-", "-o", "out.jsonl"])
    monkeypatch.setattr(args, "func", lambda args: (_ for _ in ()).throw(BrokenProcessPool("gone")))
    assert cli._run(args, None) == 2
    err = capsys.readouterr().err
    assert "a worker process ended abruptly" in err and "--resume" not in err


def test_a_warning_shows_control_characters_escaped(saved_small_model, tmp_path, capsys):
    # a warning naming a file (here: JSONL is always UTF-8) must not drive the terminal either
    source = tmp_path / "in\x1b[2K\r.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Rain fell."}) + "\n")
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "o.jsonl"), "--model", str(saved_small_model),
                        "-q", "--encoding", "cp1252"], capsys)
    assert code == 0, err
    assert "warning: " in err and "is read as UTF-8" in err
    assert "\x1b" not in err and "\r" not in err and "in\\x1b[2K\\r.jsonl" in err


def test_label_says_one_repeated_id_once(saved_small_model, tmp_path, capsys):
    # the summary says it: the warning of one repeated id ("1 row repeats") is not printed too (mutant C2)
    source = tmp_path / "dups.jsonl"
    source.write_text("".join(json.dumps({"id": "x1", "text": t}) + "\n" for t in ("A bomb exploded.", "Rain.")))
    code, _, err = run(["label", str(source), "-o", str(tmp_path / "out.jsonl"), "--model", str(saved_small_model)],
                       capsys)
    assert code == 0
    assert len([line for line in err.splitlines() if "an id of an earlier row" in line]) == 1, err


def test_label_to_standard_output_names_csv_only_options_with_an_explicit_jsonl_format(saved_small_model,
                                                                                       tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Rain fell."}) + "\n")
    model = ["--model", str(saved_small_model), "-q"]
    # --output-format jsonl given: still named as a CSV-only option, not a temporary file's error (mutant C6)
    code, out, err = run(["label", str(source), "-o", "-", "--output-format", "jsonl", "--escape-formulas", *model],
                         capsys)
    assert (code, out) == (2, "")
    assert err == ("threatclf label: error: --escape-formulas is for CSV output: with -o - (standard output), "
                   "add --output-format csv\n")
    # another spelling of UTF-8 is UTF-8: JSONL to standard output takes it (mutant C5)
    code, out, err = run(["label", str(source), "-o", "-", "--output-encoding", "UTF8", *model], capsys)
    assert code == 0, err
    assert json.loads(out)["id"] == "a"


def test_train_prints_a_command_that_works_for_a_model_path_with_a_space(tmp_path, capsys):
    import shlex

    texts, labels = tiny_corpus()
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "labels": l}) + "\n" for t, l in zip(texts, labels)))
    out = tmp_path / "my models" / "threat v1"
    code, out_text, err = run(["train", str(data), "-o", str(out), "--min-df", "1", "--cv", "3"], capsys)
    assert code == 0, err
    said = (out_text + err).splitlines()
    use = shlex.split(said[-1].split("use it with: ", 1)[1])  # as a shell reads it (mutant C8: unquoted)
    assert use[:2] == ["threatclf", "label"] and use[-2:] == ["--model", str(out)]


def test_train_dev_figures_come_with_what_they_mean(tmp_path, capsys):
    from threatclf.evaluate import FIGURES_EXPLAINED

    texts, labels = tiny_corpus()
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "labels": l}) + "\n" for t, l in zip(texts, labels)))
    code, out_text, err = run(["train", str(data), "-o", str(tmp_path / "m"), "--dev", str(data), "--min-df", "1",
                               "--cv", "3"], capsys)
    assert code == 0, err
    said = out_text + err
    # as evaluate prints them: the table, then what its columns mean (mutant C9 dropped it here)
    assert said.index("dev figures (") < said.index(FIGURES_EXPLAINED)


def test_train_settings_from_a_model_folder_then_config_then_options(data_files, tmp_path, capsys):
    import threatclf

    base = ["train", str(data_files / "train.jsonl"), "--min-df", "1", "--cv", "3", "-q"]
    code, _, err = run(base + ["-o", str(tmp_path / "svm"), "--model-type", "svm", "--C", "3"], capsys)
    assert code == 0, err
    settings = lambda name: json.loads((tmp_path / name / "metadata.json").read_text())["settings"]  # noqa: E731
    code, _, err = run(base + ["-o", str(tmp_path / "same"), "--settings-from", str(tmp_path / "svm")], capsys)
    assert code == 0, err
    assert settings("same") == settings("svm")
    # a config file changes what it names, and an option changes the config
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"C": 0.5, "features": "word"}))
    code, _, err = run(base + ["-o", str(tmp_path / "changed"), "--settings-from", str(tmp_path / "svm"),
                               "--config", str(config), "--C", "2"], capsys)
    assert code == 0, err
    assert settings("changed") == {**settings("svm"), "C": 2.0, "features": "word"}
    # 'default': the bundled model's settings, whose n_jobs is left to this run
    code, _, err = run(base + ["-o", str(tmp_path / "like-default"), "--settings-from", "default", "--n-jobs", "2"],
                       capsys)
    assert code == 0, err
    bundled = json.loads((threatclf.persistence.default_model_path() / "metadata.json").read_text())["settings"]
    assert settings("like-default") == {**bundled, "min_df": 1, "cv": 3}  # (a folder records no n_jobs)
    assert bundled["model"] != "logreg" and bundled["presence_ngram_range"] is not None  # not the defaults


def test_train_settings_from_default_says_so_beside_a_folder_named_default(data_files, tmp_path, capsys,
                                                                           monkeypatch):
    import threatclf

    monkeypatch.chdir(tmp_path)
    (tmp_path / "default").mkdir()
    base = ["train", str(data_files / "train.jsonl"), "--min-df", "1", "--cv", "3", "-q"]
    code, _, err = run(base + ["-o", "m", "--settings-from", "default"], capsys)
    assert code == 0, err
    assert ("warning: the model name 'default' means the bundled default model, not the folder ./default here: "
            "name that one ./default") in err
    bundled = threatclf.settings_of_model()
    assert json.loads((tmp_path / "m" / "metadata.json").read_text())["settings"]["model"] == bundled["model"]
    code, _, err = run(base + ["-o", "m2", "--settings-from", "./default"], capsys)  # the folder, which is none
    assert code == 2 and "default is not a threatclf model folder" in err, err


def test_train_settings_from_what_is_not_a_model_is_one_line(data_files, tmp_path, capsys):
    base = ["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "-q"]
    code, _, err = run(base + ["--settings-from", str(tmp_path)], capsys)
    assert code == 2 and "Traceback" not in err and f"{tmp_path} is not a threatclf model folder" in err, err
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "metadata.json").write_text(json.dumps({"format_version": 2, "settings": {"C": "strong"}}))
    code, _, err = run(base + ["--settings-from", str(folder)], capsys)
    assert code == 2 and "C must be a number" in err and "'strong'" in err and not (tmp_path / "m").exists(), err
    assert f"{folder}: metadata.json has a setting threatclf refuses" in err
    # values fit alone would have refused, after reading the data, in scikit-learn's words and with no origin
    for setting, value, message in (("max_df", "0.9", "max_df must be"), ("threshold", True, "threshold must be")):
        (folder / "metadata.json").write_text(json.dumps({"format_version": 2, "settings": {setting: value}}))
        code, _, err = run(base + ["--settings-from", str(folder)], capsys)
        assert code == 2 and message in err and f"{folder}: metadata.json has a setting" in err, err


def test_train_with_labels_from_settings_from_says_where_the_label_list_came_from(data_files, tmp_path, capsys):
    texts, labels = tiny_corpus()
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(json.dumps({"text": t, "labels": l}) + "\n" for t, l in zip(texts, labels)))
    base = ["train", "--min-df", "1", "--cv", "3", "-q"]
    config = tmp_path / "fixed.json"
    config.write_text(json.dumps({"label_names": ["terrorism", "organized_crime", "drug_trafficking", "corruption",
                                                  "foreign_influence"]}))
    assert main(base + [str(mine), "-o", str(tmp_path / "m"), "--config", str(config)]) == 0
    more = tmp_path / "more.jsonl"  # the README's "more data, the same settings", with a label the model lacks
    more.write_text(mine.read_text() + "".join(json.dumps({"text": f"Shop owners paid the gang again {k}.",
                                                           "labels": ["extortion"]}) + "\n" for k in range(6)))
    code, _, err = run(base + [str(more), "-o", str(tmp_path / "m2"), "--settings-from", str(tmp_path / "m")], capsys)
    assert code == 2 and "unknown label 'extortion'" in err, err
    assert f"label_names from --settings-from {tmp_path / 'm'}, the labels of its model" in err
    assert '"label_names": null in a --config file' in err
    free = tmp_path / "free.json"  # and the way out it names works
    free.write_text(json.dumps({"label_names": None}))
    code, _, err = run(base + [str(more), "-o", str(tmp_path / "m2"), "--settings-from", str(tmp_path / "m"),
                               "--config", str(free)], capsys)
    assert code == 0, err
    assert "extortion" in json.loads((tmp_path / "m2" / "metadata.json").read_text())["labels"]
    code, _, err = run(base + [str(more), "-o", str(tmp_path / "m3"), "--config", str(config)], capsys)
    assert code == 2 and f"label_names from --config {config}" in err, err


def test_train_config_takes_per_class_weights_and_settings_from_keeps_them(data_files, tmp_path, capsys):
    # JSON keys are text: {"0": 1, "1": 5} is the per-class weight {0: 1, 1: 5}, in --config and in a folder
    config = tmp_path / "weights.json"
    config.write_text(json.dumps({"class_weight": {"terrorism": {"0": 1, "1": 5}, "*": "balanced"}}))
    base = ["train", str(data_files / "train.jsonl"), "--min-df", "1", "--cv", "3", "-q"]
    code, _, err = run(base + ["-o", str(tmp_path / "m"), "--config", str(config)], capsys)
    assert code == 0, err
    import threatclf

    assert threatclf.load_model(tmp_path / "m").class_weight == {"terrorism": {0: 1, 1: 5}, "*": "balanced"}
    code, _, err = run(base + ["-o", str(tmp_path / "again"), "--settings-from", str(tmp_path / "m")], capsys)
    assert code == 0, err
    assert threatclf.load_model(tmp_path / "again").class_weight == {"terrorism": {0: 1, 1: 5}, "*": "balanced"}


@pytest.mark.parametrize("config, said", [
    ({}, "learned: half the best out-of-fold F1, on calibrated probabilities; threshold 'auto'"),
    ({"threshold": "f1"}, "learned: where out-of-fold F1 peaks, on calibrated probabilities)"),
    ({"calibrate": False}, "learned: where out-of-fold F1 peaks, on uncalibrated scores; threshold 'auto'"),
    ({"threshold": 0.4}, "fixed in the settings")])
def test_info_says_how_the_thresholds_were_set(data_files, tmp_path, capsys, config, said):
    (tmp_path / "config.json").write_text(json.dumps(config))
    code, _, err = run(["train", str(data_files / "train.jsonl"), "-o", str(tmp_path / "m"), "--min-df", "1",
                        "--cv", "3", "-q", "--config", str(tmp_path / "config.json")], capsys)
    assert code == 0, err
    code, out, _ = run(["info", "--model", str(tmp_path / "m")], capsys)
    assert code == 0 and f"\nlabels:     threshold ({said}" in out, out


def test_a_standard_output_that_cannot_write_a_character_is_said_with_the_way_out(tmp_path):
    import os

    ascii_out = {**os.environ, "PYTHONIOENCODING": "ascii"}
    # info's own words are ASCII: the bundled model's are shown whole, not called malformed
    result = subprocess.run([installed_command(), "info"], capture_output=True, text=True, env=ascii_out)
    assert result.returncode == 0 and "sha256" in result.stdout, result.stderr
    texts, labels = tiny_corpus()
    renamed = [["corrupción" if name == "corruption" else name for name in row] for row in labels]
    folder = ThreatClassifier(min_df=1, cv=3).fit(texts, renamed).save(tmp_path / "accented")
    result = subprocess.run([installed_command(), "info", str(folder)], capture_output=True, text=True, env=ascii_out)
    assert result.returncode == 2 and "malformed" not in result.stderr and "Traceback" not in result.stderr
    assert "standard output's encoding (ascii) cannot write U+00F3 LATIN SMALL LETTER O WITH ACUTE" in result.stderr
    assert "PYTHONIOENCODING=utf-8" in result.stderr


def test_label_to_standard_output_says_when_standard_output_cannot_take_it(saved_small_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "text": "A bomb exploded."}) + "\n")
    command = [installed_command(), "label", str(source), "-o", "-", "-q", "--model", str(saved_small_model)]
    closed = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: __import__("os").close(1))
    assert closed.returncode == 2 and "standard output, which is closed" in closed.stderr, closed.stderr
    if Path("/dev/full").exists():  # a full disk behind `> file`: not the temporary folder's fault
        with open("/dev/full", "w") as full:
            result = subprocess.run(command, stdout=full, stderr=subprocess.PIPE, text=True)
        assert result.returncode == 2 and "cannot write the output to standard output" in result.stderr
        assert "TMPDIR" not in result.stderr and "Traceback" not in result.stderr


def test_rejects_dash_is_refused_rather_than_written_to_a_file_named_dash(saved_small_model, tmp_path, capsys,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.jsonl").write_text(json.dumps({"id": 1, "text": "A bomb exploded."}) + "\n")
    for output in ("out.jsonl", "-"):
        code, _, err = run(["label", "in.jsonl", "-o", output, "--rejects", "-", "--model", str(saved_small_model)],
                           capsys)
        assert code == 2 and "--rejects names a file" in err
    assert not (tmp_path / "-").exists() and not (tmp_path / "out.jsonl").exists()


def test_a_leading_tilde_in_a_path_option_is_the_home_folder(saved_small_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "in.jsonl").write_text(json.dumps({"id": 1, "text": "A bomb exploded."}) + "\n")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["label", "~/in.jsonl", "--output=~/out.jsonl", "-q", "--model", str(saved_small_model)],
                       capsys)
    assert code == 0, err
    assert (tmp_path / "home" / "out.jsonl").is_file() and not (tmp_path / "~").exists()


def test_input_files_may_follow_options(saved_small_model, tmp_path, capsys):
    files = []
    for k, text in enumerate(["A bomb exploded.", "The cartel smuggled cocaine.", "Nothing happened."]):
        files.append(tmp_path / f"in{k}.jsonl")
        files[-1].write_text(json.dumps({"id": f"a{k}", "text": text}) + "\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run(["label", str(files[0]), "-o", str(out), str(files[1]), "-q", str(files[2]),
                        "--model", str(saved_small_model)], capsys)
    assert code == 0, err
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a0", "a1", "a2"]
    # an unknown option among them is still refused, with what was left over
    with pytest.raises(SystemExit) as stopped:
        main(["label", str(files[0]), "-o", str(tmp_path / "o2.jsonl"), "--bogus", str(files[1]),
              "--model", str(saved_small_model)])
    assert stopped.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_verify_names_the_model_with_dash_m_and_reports_as_json(saved_small_model, tmp_path, capsys):
    code, out, err = run(["verify", "-m", str(saved_small_model), "--format", "json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == str(saved_small_model) and report["loads"] is True and report["changed"] == {}
    assert "threatclf.classifier.ThreatClassifier" in report["types"] and report["untrusted"] == []
    import shutil

    edited = Path(shutil.copytree(saved_small_model, tmp_path / "edited"))
    (edited / "README.md").write_text("edited card\n")
    code, out, _ = run(["verify", str(edited), "--format", "json"], capsys)
    assert code == 0 and list(json.loads(out)["changed"]) == ["README.md"] and json.loads(out)["loads"] is True
    code, out, err = run(["verify", str(edited), "-m", str(saved_small_model)], capsys)
    assert code == 2 and "two models given" in err


def test_verify_as_json_reports_a_folder_it_cannot_load_as_json_too(saved_small_model, tmp_path, capsys):
    import shutil

    damaged = Path(shutil.copytree(saved_small_model, tmp_path / "damaged"))
    weights = bytearray((damaged / "model.skops").read_bytes())
    weights[len(weights) // 2] ^= 0xFF
    (damaged / "model.skops").write_bytes(bytes(weights))
    gone = Path(shutil.copytree(saved_small_model, tmp_path / "gone"))
    (gone / "model.skops").unlink()
    edited = Path(shutil.copytree(saved_small_model, tmp_path / "edited"))
    meta = json.loads((edited / "metadata.json").read_text())
    meta["thresholds"] = {label: 0.01 for label in meta["thresholds"]}  # not the model's
    (edited / "metadata.json").write_text(json.dumps(meta))
    for folder, changed, said in ((damaged, {"model.skops": "does not match the SHA-256"}, "does not match"),
                                  (gone, {"model.skops": "is missing"}, "is missing"),
                                  (edited, {}, "thresholds in metadata.json do not match the stored model"),
                                  (tmp_path / "nowhere", {}, "does not exist")):
        code, out, err = run(["verify", str(folder), "--format", "json"], capsys)
        report = json.loads(out)  # a program gets its object, not an empty standard output
        assert code == 2 and report["loads"] is False and report["model"] == str(folder)
        assert {name: how[:len(changed[name])] for name, how in report["changed"].items()} == changed
        assert said in report["error"] and said in err

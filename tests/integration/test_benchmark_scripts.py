"""Scripts under benchmarks/, run on invented texts in a temporary shared folder, so that a
script the README cites cannot stop working unnoticed."""
import gzip
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/builders.py
import dask_scaling  # noqa: E402
import learning_curve  # noqa: E402
import resume_stamps  # noqa: E402
import throughput  # noqa: E402
import write_output  # noqa: E402
from _common import shared_folder  # noqa: E402
from builders import tiny_corpus  # noqa: E402

ARTICLES = 60  # of the invented corpus


def _write_jsonl(path: Path, texts, labels, tag: str) -> None:
    path.write_text("".join(json.dumps({"id": f"{tag}{i}", "text": t, "labels": y}) + "\n"
                            for i, (t, y) in enumerate(zip(texts, labels))))


@pytest.fixture
def shared(tmp_path):
    (tmp_path / "threat-passages").mkdir()
    train_texts, train_labels = tiny_corpus(repeats=6)
    dev_texts, dev_labels = tiny_corpus(repeats=2)
    _write_jsonl(tmp_path / "threat-passages" / "train.jsonl", train_texts, train_labels, "t")
    _write_jsonl(tmp_path / "threat-passages" / "dev.jsonl", [f"Dev: {t}" for t in dev_texts], dev_labels, "d")
    (tmp_path / "corpus").mkdir()
    with gzip.open(tmp_path / "corpus" / "articles.jsonl.gz", "wt", encoding="utf-8") as handle:
        for k in range(ARTICLES):  # six sentences, 60-80 words: a passage of the size throughput.py times
            sentences = [train_texts[(k * 7 + j * 11) % len(train_texts)] for j in range(6)]
            handle.write(json.dumps({"id": f"a{k}", "text": " ".join(sentences)}) + "\n")
    return tmp_path


def test_learning_curve_trains_all_three_settings_and_prints_both_tables(shared, tmp_path, capsys):
    runs_file = tmp_path / "runs.json"
    code = learning_curve.main(["--shared", str(shared), "--sizes", "120,all", "--seeds", "2",
                                "--json", str(runs_file)])
    assert code == 0
    runs = json.loads(runs_file.read_text())
    names = ["defaults", "defaults + presence 1-2", "default model's"]
    # two subsets of 120 and the whole file once, each with the three settings
    assert [(r["n"], r["seed"], r["settings"]) for r in runs] == (
        [(120, s, name) for s in (0, 1) for name in names] + [(162, 0, name) for name in names])
    for run in runs:
        assert all(0.0 <= run[key] <= 1.0 for key in ("ap", "f1", "half-best-f1")), run
    assert runs[-1]["ap"] > 0.9  # the invented passages are easy: the scripts scored real models
    out = capsys.readouterr().out
    for name in names:
        assert "| 120 | " in out and f"| {name} |" in out
    assert out.count("\n| 162 | ") == 4  # a row per settings, and the paired differences


@pytest.mark.parametrize("options", [["--sizes", "500"], ["--sizes", "abc"], ["--sizes", "100,,all"],
                                     ["--sizes", "120", "--seeds", "0"], ["--sizes", "120", "--seeds", "-1"],
                                     ["--sizes", "120", "--json", "/nonexistent/folder/r.json"]])
def test_learning_curve_refuses_bad_options_before_training(shared, options, capsys):
    with pytest.raises(SystemExit) as stopped:
        learning_curve.main(["--shared", str(shared), *options])
    assert stopped.value.code == 2
    assert "usage:" in capsys.readouterr().err  # argparse's one-line error, not a traceback


def test_learning_curve_stops_at_a_subset_too_small_to_train_and_keeps_the_runs_so_far(shared, tmp_path):
    runs_file = tmp_path / "runs.json"
    with pytest.raises(SystemExit) as stopped:
        learning_curve.main(["--shared", str(shared), "--sizes", "120,6", "--seeds", "1", "--json", str(runs_file)])
    assert str(stopped.value.code).startswith("6 rows, subset 0, defaults: label ")
    assert str(stopped.value.code).endswith("; try larger --sizes")
    assert [(r["n"], r["settings"]) for r in json.loads(runs_file.read_text())] == [
        (120, "defaults"), (120, "defaults + presence 1-2"), (120, "default model's")]


def test_a_shared_folder_without_the_passages_says_which_folder_is_wanted(tmp_path):
    with pytest.raises(SystemExit) as stopped:
        shared_folder(str(tmp_path))
    message = str(stopped.value.code)
    assert f"{tmp_path} holds no threat-passages/ folder" in message
    assert "the folder that holds threat-passages/ and corpus/" in message


def test_throughput_prints_both_tables_against_the_plain_pipeline(shared, capsys):
    assert throughput.main(["--shared", str(shared), "--passages", "40"]) == 0
    out = capsys.readouterr().out
    assert "\n40 passages, " in out
    assert "| plain sklearn pipeline (baseline) |" in out and "| 1.00x |" in out
    for system in ("reference sklearn transform", "fast path, 1 thread", "fast path, 2 threads"):
        assert f"| threatclf default, {system} |" in out
    for processes in (1, 2):  # `threatclf label` end to end: every article read
        assert f"| whole corpus | {processes} | {ARTICLES} | " in out


def test_dask_scaling_labels_as_label_dataframe_does(shared, capsys):
    pytest.importorskip("distributed")  # the dask extra, which the test extra installs
    code = dask_scaling.main(["--shared", str(shared), "--rows", "30", "--parts", "2", "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("30 articles")
    runs = [line for line in out.splitlines() if line.startswith("| LocalCluster, 1 worker")]
    assert len(runs) == 2 and all(line.endswith("| yes |") for line in runs)


def test_write_output_times_both_ways_of_writing_and_finds_the_outputs_the_same(shared, capsys):
    assert write_output.main(["--shared", str(shared), "--articles", "20", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(("| articles |", "| passages |"))]
    assert len(rows) == 2 and "OUTPUTS DIFFER" not in out
    for row in rows:
        ratio = row.split("|")[4].strip()
        assert ratio.endswith("x") and float(ratio[:-1]) > 0


def test_write_output_says_when_the_two_outputs_differ(shared, capsys, monkeypatch):
    # the check is real: a baseline that drops a row is caught
    def drops_a_row(self, lines):
        self.write([json.loads(line) for line in lines.splitlines()][1:])

    monkeypatch.setattr(write_output, "_parsed_and_written", drops_a_row)
    assert write_output.main(["--shared", str(shared), "--articles", "20", "--repeats", "1"]) == 1
    assert "OUTPUTS DIFFER" in capsys.readouterr().out


def test_resume_stamps_times_both_stamps_and_sees_an_edit_that_keeps_size_and_time(shared, capsys):
    assert resume_stamps.main(["--shared", str(shared), "--articles", "20", "--repeats", "1", "--label"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("20 .txt files") and "an edit keeping size and time stamp: seen" in out
    ratio = float(out.split("ratio ")[1].split()[0])
    assert ratio > 0 and "labelling the folder (default model):" in out


def test_resume_stamps_says_when_the_stamp_misses_an_edit(shared, capsys, monkeypatch):
    monkeypatch.setattr(resume_stamps.resume, "_content_digest", lambda file: None)  # as threatclf 0.25 stamped
    assert resume_stamps.main(["--shared", str(shared), "--articles", "20", "--repeats", "1"]) == 1
    assert "an edit keeping size and time stamp: MISSED" in capsys.readouterr().out

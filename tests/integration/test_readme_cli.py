"""Every command of the README's "Command line" block, run as written, on invented files.

Users copy these lines first; a line that stops working (an option renamed, a format no longer
read, an output that changed shape) must fail CI, not a user. The block is read from README.md
when the test runs, each line is run in README order in one folder (later lines use the models
and outputs of earlier ones), and each has a check of what it wrote below (``CHECKS``): a line
with no check, or a check whose line has gone, fails the test, so no line is silently skipped.
The input files the lines name are written here from short invented sentences.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import threatclf
from builders import tiny_corpus
from threatclf.cli import main
from threatclf.persistence import default_model_path

README = Path(__file__).resolve().parents[2] / "README.md"
DEFAULT_LABELS = ["terrorism", "organized_crime", "drug_trafficking", "corruption", "foreign_influence"]


def readme_command_lines() -> list[str]:
    """The non-empty lines of the first ```bash block under "## Command line"."""
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Command line\n(.*?)^```bash\n(.*?)^```", text, re.S | re.M)
    assert match, f"no ```bash block under '## Command line' in {README}"
    assert "\n## " not in match.group(1), "the ```bash block found is not in the 'Command line' section"
    return [line for line in match.group(2).splitlines() if line.strip()]


# --- invented inputs -------------------------------------------------------------------------

_FRAUD = [
    "Scammers posing as bank staff talked pensioners into transferring their savings",
    "The accountant forged invoices to siphon money from the charity",
    "Investors lost millions in a pyramid scheme that promised impossible returns",
    "A fake charity collected donations after the flood and kept the money",
    "The seller took payments for cars that never existed",
    "Fraudsters staged car crashes to claim insurance compensation",
]
_CYBER = [
    "Hackers encrypted the hospital servers and demanded a ransom in bitcoin",
    "A botnet flooded the ministry website with traffic until it went offline",
    "Attackers exploited a flaw in the router software to spy on the network",
    "Malware hidden in an email attachment stole passwords from office computers",
    "An intrusion into the power company's control systems was traced to a hacking group",
    "A data breach exposed the records of two million customers of the telecom firm",
]
_BOTH = [
    "A phishing gang hacked email accounts and stole money from bank customers",
    "Criminals broke into the online shop's servers and used the stolen cards for fraud",
]
_NEITHER = [
    "The library extended its opening hours for students during exams",
    "The bakery on the corner won a prize for its sourdough bread",
    "Rain is expected in the north on Thursday with sunny spells later",
    "The school choir toured three cities in the spring",
]


def fraud_cyber_rows(repeats: int, tag: str) -> list[dict]:
    """Labelled passages on two labels of one's own (fraud, cyber), as the README's own-model lines use."""
    rows = []
    for r in range(repeats):
        for sentences, labels in ((_FRAUD, ["fraud"]), (_CYBER, ["cyber"]), (_BOTH, ["fraud", "cyber"]),
                                  (_NEITHER, [])):
            for k, sentence in enumerate(sentences):
                rows.append({"text": f"{sentence} ({tag} {r}-{k}).", "labels": labels})
    return rows


def articles() -> list[dict]:
    """Articles for the default model: a few paragraphs of one theme each (from tests/builders.py)."""
    texts, labels = tiny_corpus(repeats=1)
    by_theme: dict[str, list[str]] = {}
    for text, label in zip(texts, labels):
        by_theme.setdefault("+".join(label) or "none", []).append(text)
    titles = {"terrorism": "Bomb attack on a checkpoint", "organized_crime": "Racket dismantled in the port",
              "drug_trafficking": "Cocaine seized at Saint-Étienne quay", "corruption": "Mayor charged with bribery",
              "foreign_influence": "Covert influence campaign exposed", "none": "Café culture and football"}
    rows = []
    for number, (theme, title) in enumerate(titles.items(), 1):
        sentences = by_theme[theme]
        paragraphs = [" ".join(sentences[i:i + 2]) for i in range(0, len(sentences), 2)]
        rows.append({"id": f"art-{number}", "title": title, "text": "\n\n".join(paragraphs)})
    return rows


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def write_csv(path: Path, rows: list[dict], **options) -> None:
    frame = pd.DataFrame([{k: (";".join(v) if k == "labels" else v) for k, v in row.items()} for row in rows])
    frame.to_csv(path, index=False, **options)


@dataclass
class Inputs:
    corpus: list[dict]
    more: list[dict]
    excel: list[dict]
    big: list[dict]
    scraped: list[dict]
    dev: list[dict]
    ours: list[dict]
    meanings: dict
    sizes: dict


def write_inputs(folder: Path) -> Inputs:
    """Every file the README's block reads, invented, in ``folder``."""
    corpus = articles()
    with gzip.open(folder / "corpus.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in corpus)
    more = [{"id": f"more-{k}", "text": row["text"]} for k, row in enumerate(corpus[:2])]
    write_csv(folder / "more.csv", more)
    write_csv(folder / "articles.csv", [{"story_id": f"story-{k}", "title": row["title"], "text": row["text"]}
                                        for k, row in enumerate(corpus)])
    excel = [{"id": row["id"], "title": row["title"] + " à la une; déjà vu", "text": row["text"]} for row in corpus]
    write_csv(folder / "excel-export.csv", excel, sep=";", encoding="cp1252")
    # more rows than --chunk-size 500, so that out.csv is written in more than one chunk
    big = [{"id": f"big-{k}", "text": corpus[k % len(corpus)]["text"].split("\n\n")[0]} for k in range(520)]
    with gzip.open(folder / "big.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in big)
    scraped = [{"id": f"web-{k}", "title": '=HYPERLINK("http://example.invalid/x","click")',
                "text": "=" + row["text"]} for k, row in enumerate(corpus[:3])]
    write_jsonl(folder / "scraped.jsonl", scraped)

    meanings = {"fraud": "deceiving people or firms for money", "cyber": "attacks on computers and networks"}
    (folder / "meanings.json").write_text(json.dumps(meanings), encoding="utf-8")
    sizes = {}
    for name, rows in (("my-labels.csv", fraud_cyber_rows(3, "mine")), ("few.csv", fraud_cyber_rows(1, "few")),
                       ("passages.csv", [dict(row, article_id=f"a{k % 8}")
                                         for k, row in enumerate(fraud_cyber_rows(3, "passages"))])):
        write_csv(folder / name, rows)
        sizes[name] = len(rows)
    for name in ("train.jsonl", "more.jsonl", "mine.jsonl", "sample.jsonl", "picked.jsonl"):
        rows = fraud_cyber_rows(3, name.split(".")[0])
        write_jsonl(folder / name, rows)
        sizes[name] = len(rows)
    dev = fraud_cyber_rows(1, "dev")
    write_jsonl(folder / "dev.jsonl", dev)
    # a dev file annotated for fraud only (the README's --dev-labels fraud)
    write_jsonl(folder / "theirs.jsonl", [{"text": row["text"], "labels": [l for l in row["labels"] if l == "fraud"]}
                                          for row in fraud_cyber_rows(1, "theirs")])
    # annotated with names of one's own: terror, gangs, misc (the README's --label-map)
    texts, labels = tiny_corpus(repeats=1)
    own_name = {"terrorism": "terror", "organized_crime": "gangs"}
    ours = [{"text": text, "labels": [own_name.get(label, "misc") for label in label_list]}
            for text, label_list in zip(texts, labels)]
    write_jsonl(folder / "ours.jsonl", ours)
    return Inputs(corpus, more, excel, big, scraped, dev, ours, meanings, sizes)


# --- running a line --------------------------------------------------------------------------

@dataclass(repr=False)
class Ran:
    line: str
    argv: list[str]      # threatclf's arguments
    code: int
    out: str             # standard output, after the jq filter where the line has one
    err: str
    folder: Path
    inputs: Inputs
    unfiltered: str = ""  # standard output before the jq filter

    def __repr__(self):
        return f"<run of {self.line!r}>"


# jq filters the README uses, applied in Python so that the test does not need jq
JQ_FILTERS = {"select(.labels != [])": lambda row: row["labels"] != []}


def split_pipeline(words: list[str]) -> list[list[str]]:
    stages = [[]]
    for word in words:
        if word == "|":
            stages.append([])
        else:
            stages[-1].append(word)
    return stages


def run_line(line: str, folder: Path, inputs: Inputs, capsys) -> Ran:
    stages = split_pipeline(shlex.split(line, comments=True))
    if len(stages) == 1:
        words = stages[0]
        assert words[0] == "threatclf", f"not a threatclf command: {line}"
        try:
            code = main(words[1:])
        except SystemExit as exit:  # argparse's usage errors (an unknown option) exit 2 from inside main
            code = exit.code if isinstance(exit.code, int) else 2
        captured = capsys.readouterr()
        return Ran(line, words[1:], code, captured.out, captured.err, folder, inputs)
    # zcat FILE | threatclf ... [| jq -c FILTER]: threatclf reads the decompressed bytes from stdin
    zcat, command, *rest = stages
    assert len(zcat) == 2 and zcat[0] == "zcat" and command[0] == "threatclf", f"a pipe this test cannot run: {line}"
    jq = rest[0] if rest else None
    assert len(rest) <= 1 and (jq is None or (jq[:2] == ["jq", "-c"] and len(jq) == 3 and jq[2] in JQ_FILTERS)), (
        f"a pipe this test cannot run (add its jq filter to JQ_FILTERS): {line}")
    env = dict(os.environ)
    source = str(Path(threatclf.__file__).resolve().parents[1])  # the threatclf this test imported
    env["PYTHONPATH"] = os.pathsep.join([source, env["PYTHONPATH"]]) if env.get("PYTHONPATH") else source
    result = subprocess.run([sys.executable, "-m", "threatclf", *command[1:]], cwd=folder, env=env,
                            input=gzip.decompress((folder / zcat[1]).read_bytes()), capture_output=True)
    out, err = result.stdout.decode("utf-8"), result.stderr.decode("utf-8", "replace")
    if jq is None:
        return Ran(line, command[1:], result.returncode, out, err, folder, inputs)
    keep = JQ_FILTERS[jq[2]]
    kept = [json.dumps(row, separators=(",", ":")) for row in map(json.loads, out.splitlines()) if keep(row)]
    return Ran(line, command[1:], result.returncode, "".join(k + "\n" for k in kept), err, folder, inputs, out)


def check_key(argv: list[str]) -> str:
    """Which check a line gets: the command, what it reads and what it writes (-o) or its --model."""
    inputs = []
    for word in argv[1:]:
        if word.startswith("-") and word != "-":  # "-" alone is standard input
            break
        inputs.append(word)
    named = [option for option in ("-o", "--model") if option in argv]
    target = [named[0], argv[argv.index(named[0]) + 1]] if named else []
    return " ".join([argv[0], *inputs, *target])


# --- what each line must have done -----------------------------------------------------------

CHECKS = {}


def check(*keys):
    """Register a check for the line with one of ``keys``."""
    def register(function):
        for key in keys:
            assert key not in CHECKS, key
            CHECKS[key] = function
        return function
    return register


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def model_metadata(folder: Path) -> dict:
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    assert (folder / metadata["weights_file"]).is_file()
    return metadata


def ids(rows) -> list[str]:
    return [row["id"] for row in rows]


@check("label corpus.jsonl.gz more.csv -o labelled-all.parquet")
def two_inputs_into_one_parquet(ran):
    frame = pd.read_parquet(ran.folder / "labelled-all.parquet")
    assert list(frame["id"]) == ids(ran.inputs.corpus) + ids(ran.inputs.more)
    assert {f"score_{label}" for label in DEFAULT_LABELS} <= set(frame.columns)


@check("label articles.csv -o labelled.csv")
def story_id_written_as_id(ran):
    frame = pd.read_csv(ran.folder / "labelled.csv", keep_default_na=False)
    assert list(frame["id"]) == [f"story-{k}" for k in range(len(ran.inputs.corpus))]
    assert list(frame["text"]) == [row["text"] for row in ran.inputs.corpus]  # --keep-text
    assert list(frame["title"]) == [row["title"] for row in ran.inputs.corpus]


@check("label excel-export.csv -o from-excel.jsonl")
def cp1252_semicolon_csv_read(ran):
    rows = read_jsonl(ran.folder / "from-excel.jsonl")
    assert ids(rows) == ids(ran.inputs.excel)
    assert [row["title"] for row in rows] == [row["title"] for row in ran.inputs.excel]  # accents and ';' intact


@check("label corpus.jsonl.gz -o for-excel.csv")
def csv_with_byte_order_mark(ran):
    raw = (ran.folder / "for-excel.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    frame = pd.read_csv(io.StringIO(raw.decode("utf-8-sig")))
    assert list(frame["id"]) == ids(ran.inputs.corpus)
    assert "Cocaine seized at Saint-Étienne quay" in list(frame["title"])


@check("train my-labels.csv -o models/mine")
def model_with_label_definitions(ran):
    metadata = model_metadata(ran.folder / "models/mine")
    assert sorted(metadata["labels"]) == ["cyber", "fraud"]
    assert metadata["label_definitions"] == ran.inputs.meanings
    assert metadata["training_data"]["rows"] == ran.inputs.sizes["my-labels.csv"]


def table_labels(out: str) -> list[str]:
    """The label rows of evaluate's text table."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("label "))
    end = next(i for i, line in enumerate(lines) if line.startswith("macro F1"))
    return [line.split()[0] for line in lines[start + 1:end]]


@check("evaluate dev.jsonl --model models/mine")
def evaluated_on_the_labels_named(ran):
    assert table_labels(ran.out) == ["fraud", "cyber"]
    assert f"(n = {len(ran.inputs.dev)})" in ran.out


@check("evaluate ours.jsonl")
def evaluated_through_a_label_map(ran):
    assert table_labels(ran.out) == ["terrorism", "organized_crime"]  # misc= leaves misc out
    assert f"(n = {len(ran.inputs.ours)})" in ran.out


@check("label corpus.jsonl.gz -o passages.jsonl")
def passage_rows_at_a_threshold_of_ones_own(ran):
    rows = read_jsonl(ran.folder / "passages.jsonl")
    assert sorted(set(ids(rows))) == sorted(ids(ran.inputs.corpus)) and len(rows) > len(ran.inputs.corpus)
    assert all({"passage", "start", "end"} <= set(row) for row in rows)
    for row in rows:  # scores are written rounded to 6 decimals
        score = row["scores"]["terrorism"]
        assert (score >= 0.6 - 1e-6) if "terrorism" in row["labels"] else (score < 0.6 + 1e-6), row
    assert any("terrorism" in row["labels"] for row in rows)  # the bomb-attack article's passages


@check("label - -o from-pipe.jsonl")
def jsonl_from_standard_input(ran):
    assert ids(read_jsonl(ran.folder / "from-pipe.jsonl")) == ids(ran.inputs.corpus)


@check("label - -o -")
def jsonl_to_standard_output_filtered(ran):
    written = [json.loads(line) for line in ran.unfiltered.splitlines()]
    assert ids(written) == ids(ran.inputs.corpus)
    assert ran.err == ""  # -q
    # the rows the filter keeps: the labelled ones, as the previous line's file has them
    labelled = [row["id"] for row in read_jsonl(ran.folder / "from-pipe.jsonl") if row["labels"]]
    kept = [json.loads(line) for line in ran.out.splitlines()]
    assert labelled and ids(kept) == labelled


@check("train train.jsonl -o models/cli-model")
def model_with_dev_figures(ran):
    metadata = model_metadata(ran.folder / "models/cli-model")
    assert metadata["settings"]["features_per_label"] == 40000
    assert metadata["metrics"]["dev"]["n_samples"] == len(ran.inputs.dev)
    assert "dev figures (dev.jsonl" in ran.out + ran.err


@check("train few.csv -o models/small")
def model_with_settings_for_few_examples(ran):
    metadata = model_metadata(ran.folder / "models/small")
    assert (metadata["settings"]["min_df"], metadata["settings"]["cv"]) == (1, 3)
    assert metadata["training_data"]["rows"] == ran.inputs.sizes["few.csv"]


@check("train train.jsonl -o models/like-default")
def model_with_the_default_models_settings(ran):
    settings = model_metadata(ran.folder / "models/like-default")["settings"]
    default = model_metadata(default_model_path())["settings"]
    for name in ("features", "model", "C", "cv", "min_df", "features_per_label", "presence_ngram_range", "threshold"):
        assert settings[name] == default[name], name


@check("train more.jsonl -o models/mine-v2")
def model_with_another_models_settings(ran):
    settings = model_metadata(ran.folder / "models/mine-v2")["settings"]
    mine = model_metadata(ran.folder / "models/mine")["settings"]
    assert settings["C"] == 3
    assert {k: v for k, v in settings.items() if k != "C"} == {k: v for k, v in mine.items() if k != "C"}


@check("label big.jsonl.gz -o out.csv")
def semicolon_csv_in_chunks(ran):
    frame = pd.read_csv(ran.folder / "out.csv", sep=";")
    assert list(frame["id"]) == ids(ran.inputs.big)
    assert {f"score_{label}" for label in DEFAULT_LABELS} <= set(frame.columns)


@check("label scraped.jsonl -o scraped.csv")
def formulas_escaped(ran):
    raw = (ran.folder / "scraped.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == ids(ran.inputs.scraped)
    assert all(row["title"] == "'" + source["title"] for row, source in zip(rows, ran.inputs.scraped))
    assert not [cell for row in rows for cell in row.values() if cell[:1] in ("=", "+", "@")]


@check("train train.jsonl -o models/svm")
def svm_model_in_skops(ran):
    metadata = model_metadata(ran.folder / "models/svm")
    assert metadata["settings"]["model"] == "svm"
    assert metadata["weights_format"] == "skops" and metadata["weights_file"].endswith(".skops")


@check("train mine.jsonl -o models/mine-scored")
def dev_figures_on_one_label(ran):
    metadata = model_metadata(ran.folder / "models/mine-scored")
    assert sorted(metadata["labels"]) == ["cyber", "fraud"]
    assert list(metadata["metrics"]["dev"]["labels"]) == ["fraud"]


@check("train passages.csv -o models/by-article")
def folds_by_article(ran):
    metadata = model_metadata(ran.folder / "models/by-article")
    assert "article_id" in metadata["metrics"]["cross-validated"]["description"]


@check("train sample.jsonl picked.jsonl -o models/mixed")
def thresholds_from_one_file(ran):
    data = model_metadata(ran.folder / "models/mixed")["training_data"]
    assert data["rows"] == ran.inputs.sizes["sample.jsonl"] + ran.inputs.sizes["picked.jsonl"]
    assert data["tuning_rows"] == ran.inputs.sizes["sample.jsonl"]


@check("evaluate dev.jsonl --model models/cli-model")
def evaluation_as_json(ran):
    figures = json.loads(ran.out)
    assert figures["n_samples"] == len(ran.inputs.dev)
    assert sorted(figures["labels"]) == ["cyber", "fraud"]


@check("info models/cli-model")
def model_described(ran):
    assert ran.out.startswith("model:      models/cli-model\n")
    assert "  dev: macro F1" in ran.out and "verified:   digests OK" in ran.out


@check("verify models/cli-model")
def model_verified(ran):
    assert ran.out.startswith("models/cli-model: format ") and "digests OK" in ran.out


# --- the test --------------------------------------------------------------------------------

def test_every_readme_command_line_runs(tmp_path, capsys, monkeypatch):
    """Each line of the README's command-line block, in order, exits 0 and writes what it says."""
    lines = readme_command_lines()
    inputs = write_inputs(tmp_path)
    monkeypatch.chdir(tmp_path)
    used = []
    for number, line in enumerate(lines, 1):
        where = f"README command line {number} of {len(lines)}:\n    {line}\n"
        ran = run_line(line, tmp_path, inputs, capsys)
        assert ran.code == 0, f"{where}exited {ran.code}; stderr:\n{ran.err}"
        key = check_key(ran.argv)
        assert key in CHECKS, (f"{where}ran (exit 0), but this test has no check of what it did: add one to "
                               f"CHECKS in {Path(__file__).name} under the key {key!r}")
        assert CHECKS[key] not in used, f"{where}a second line for the check {CHECKS[key].__name__}: give it its own"
        used.append(CHECKS[key])
        try:
            CHECKS[key](ran)
        except AssertionError as failure:
            raise AssertionError(f"{where}exited 0, but what it wrote is not as expected:\n{failure}") from None
    # every check had its line: a README line removed or rewritten past its key is noticed, not left unchecked
    unused = [function.__name__ for function in dict.fromkeys(CHECKS.values()) if function not in used]
    assert not unused, f"checks whose README line has gone: {unused}"
    assert len(lines) == len(used) == 23  # the block's lines when this test was written: each one run and checked

"""The training-recipe tools under models/ (invented texts in a temporary shared folder)."""
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models" / "annotations"))
from train_default import article_key as K  # noqa: E402
from train_default import document_groups, document_links, source_articles, without_documents_of  # noqa: E402

WRITTEN = sorted((Path(__file__).resolve().parents[2] / "models" / "annotations").glob("written-*.jsonl"))
BOILERPLATE = "For more information contact the press office of the district attorney at the number below."
COMMON = "said the spokesman of the National Liberation Army in a statement on Tuesday"
ARTICLES = [
    {"id": "a1", "text": "The mayor of Northport was arrested on Monday for taking bribes from a builder. "
                         "Prosecutors said the payments ran for three years. " + BOILERPLATE},
    {"id": "a2", "text": "Customs officers seized cocaine hidden in crates of bananas at the harbour. " + BOILERPLATE},
    {"id": "a3", "text": "A bomb exploded near the market and a militant group claimed the attack. " + BOILERPLATE},
    {"id": "a4", "text": "Lawmakers debated the budget for road repairs until late in the night. " + BOILERPLATE},
    # A phrase common to several articles, in the middle of a passage found in one of them only.
    {"id": "b1", "text": "Rebels freed two hostages in the north, " + COMMON + ", after talks with the church mediators."},
    {"id": "b2", "text": "Fighting went on, " + COMMON + "."},
    {"id": "b3", "text": "No ceasefire was agreed, " + COMMON + "."},
    {"id": "b4", "text": "The talks failed, " + COMMON + "."},
    # One wire story carried by two articles.
    {"id": "c1", "text": "Morning briefing. " + "Gunmen attacked a convoy of fuel tankers on the coastal road at dawn."},
    {"id": "c2", "text": "Gunmen attacked a convoy of fuel tankers on the coastal road at dawn. Evening briefing."},
]


@pytest.fixture
def shared(tmp_path):
    (tmp_path / "corpus").mkdir()
    with gzip.open(tmp_path / "corpus" / "articles.jsonl.gz", "wt", encoding="utf-8") as handle:
        for article in ARTICLES:
            handle.write(json.dumps(article) + "\n")
    return tmp_path


def test_rows_from_the_document_of_a_scored_passage_are_linked_to_it(shared):
    scored = [{"text": "The mayor of Northport was arrested on Monday for taking bribes from a builder."},
              {"text": "Lawmakers debated the budget for road repairs until late in the night."}]
    rows = [
        {"text": "Prosecutors said the payments ran for three years.", "article_id": K("a1")},  # same article, by id
        {"text": "Prosecutors  said the payments ran\nfor three years."},  # same article, found by its text
        {"text": "Customs officers seized cocaine hidden in crates of bananas at the harbour."},  # other article
        {"text": "Lawmakers debated the budget for road repairs until late in the night."},  # repeats a scored text
        {"text": BOILERPLATE},  # in every article: boilerplate, names no document
        {"text": "A text found in no article of the corpus at all, written for this test."},
    ]
    assert document_links(rows, scored, shared) == [{0}, {0}, set(), {1}, set(), set()]
    assert without_documents_of(rows, scored, shared) == [rows[2], rows[4], rows[5]]


def test_source_articles_by_id_or_by_text(shared):
    rows = [{"text": "anything", "article_id": K("a3")},
            {"text": "A bomb exploded near the market and a militant group claimed the attack."},
            {"text": "short"}]
    assert source_articles(rows, shared) == [{K("a3")}, {K("a3")}, set()]


def test_a_phrase_common_to_many_articles_does_not_hide_the_passage_document(shared):
    passage = {"text": "Rebels freed two hostages in the north, " + COMMON + ", after talks with the church mediators."}
    assert source_articles([passage], shared) == [{K("b1")}]
    assert document_links([{"text": "x", "article_id": K("b1")}, {"text": "y", "article_id": K("b2")}], [passage], shared) == [{0}, set()]


def test_document_groups_join_rows_that_share_an_article(shared):
    rows = [{"text": "one", "article_id": K("a1")},
            {"text": "The mayor of Northport was arrested on Monday for taking bribes from a builder."},  # found in a1
            {"text": "two", "article_id": K("a2")},
            {"text": "A text found in no article of the corpus at all, written for this test."},
            {"text": "another text found nowhere in the corpus, also written for this test."}]
    groups = document_groups(rows, shared)
    assert groups[0] == groups[1]
    assert len({groups[0], groups[2], groups[3], groups[4]}) == 4


def test_document_groups_do_not_depend_on_the_hash_seed(shared, tmp_path):
    # Rows found in several articles join groups in an order that must not follow set iteration order.
    script = tmp_path / "groups.py"
    script.write_text(
        "import json, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / 'models')!r})\n"
        "from pathlib import Path\n"
        "from train_default import article_key, document_groups\n"
        "rows = [{'text': 'x', 'article_id': article_key('c2')}, {'text': 'y', 'article_id': article_key('c1')}]\n"
        "rows += [{'text': 'Gunmen attacked a convoy of fuel tankers on the coastal road at dawn.'}]\n"
        f"print(json.dumps(document_groups(rows, Path({str(shared)!r}))))\n")
    outputs = {subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3", "4")}
    assert len(outputs) == 1 and len(set(json.loads(outputs.pop()))) == 1  # one article chain, one group


def test_model_miss_draws_keyword_passages_the_model_scores_low(shared, tmp_path):
    # rounds.py --select model-miss: a passage that uses a label's words but that the model scores
    # below the band is drawn for that label; one the model already scores high, or one without
    # the words, is not.
    import argparse
    import random

    from rounds import draw_model_band

    from threatclf import ThreatClassifier

    texts = ["Police seized heroin smuggled in a lorry at the border.",
             "Customs found cocaine hidden in a shipment of fruit.",
             "Traffickers moved cocaine by speedboat to the coast.",
             "Agents arrested a heroin dealer and seized his cash.",
             "The council voted on the school budget on Tuesday.",
             "The football club signed a new striker for the season.",
             "Rain is expected across the north for the weekend.",
             "The museum opened a new wing for modern paintings.",
             "The price of petrol rose at every station in town.",
             "A new pharmacy opened in the town centre on Monday.",
             "Doctors said the allergy season started early this year."]
    labels = [["drug_trafficking"]] * 4 + [[]] * 7
    ThreatClassifier(min_df=1, cv=2, random_state=0).fit(texts * 3, labels * 3).save(tmp_path / "model")
    with gzip.open(shared / "corpus" / "articles.jsonl.gz", "wt", encoding="utf-8") as handle:
        for i, text in enumerate(["Police seized heroin smuggled in a lorry at the harbour last night.",
                                  "The price of a common allergy drug rose at every pharmacy in town.",
                                  "The council voted on the library budget on Monday evening."]):
            handle.write(json.dumps({"id": f"x{i}", "source": "s", "text": text}) + "\n")
    args = argparse.Namespace(band="0.5,0.9", select="model-miss", n=10, per_article=1, model=str(tmp_path / "model"))
    chosen = draw_model_band(args, shared, known=set(), annotated=set(), rng=random.Random(0))
    assert [(c["article_id"], c["selection"]) for c in chosen] == [(K("x1"), "model-miss-drug_trafficking")]
    args.select = "model-band"
    args.band = "0.5,1.0"
    assert [c["article_id"] for c in draw_model_band(args, shared, set(), set(), random.Random(0))] == [K("x0")]


def test_recheck_draws_the_rows_asked_for_and_applies_the_answers(shared, tmp_path):
    # recheck.py: a yes/no question on one label for the rounds' rows that lack it (and whose
    # text matches --words), dev passages hidden among them; collect rewrites only the rows whose
    # answer differs, keeps the other labels, and records every answer.
    from recheck import main as recheck

    rounds = tmp_path / "annotations"
    rounds.mkdir()
    round_rows = [{"article_id": K("a2"), "start": 0, "end": 76, "labels": ["organized_crime", "drug_trafficking"]},
                  {"article_id": K("a2"), "start": 0, "end": 76, "labels": ["organized_crime"]},  # drawn twice; asked
                  {"article_id": K("a1"), "start": 0, "end": 79, "labels": ["corruption"]},  # no drug word: not asked
                  {"article_id": K("a3"), "start": 0, "end": 72, "labels": ["terrorism"]}]  # no drug word: not asked
    (rounds / "corpus-passages-r5.jsonl").write_text("".join(json.dumps(r) + "\n" for r in round_rows))
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"training_data": [{"file": "x"}, {"annotations": str(rounds / "corpus-passages-r5.jsonl")}]}))
    (shared / "threat-passages").mkdir()
    dev = [{"id": "d1", "text": "Two tonnes of cocaine were found on a fishing boat.", "labels": ["drug_trafficking"]},
           {"id": "d2", "text": "The price of a cocaine-based anaesthetic doubled.", "labels": []},
           {"id": "d3", "text": "The council met on Tuesday.", "labels": []}]
    (shared / "threat-passages" / "dev.jsonl").write_text("".join(json.dumps(d) + "\n" for d in dev))
    work = tmp_path / "work"
    common = ["--name", "t1", "--work", str(work), "--shared", str(shared)]
    assert recheck(["draw", *common, "--label", "drug_trafficking", "--rows", "without", "--words", "cocaine",
                    "--batches", "2", "--recipe", str(recipe)]) == 0
    asked = [json.loads(line) for b in (0, 1) for line in (work / f"batch{b}.jsonl").read_text().splitlines()]
    texts = sorted(a["text"] for a in asked)
    assert texts == sorted([ARTICLES[1]["text"][:76], dev[0]["text"], dev[1]["text"]])
    # The annotators: yes to the seizures, no to the anaesthetic.
    for b in (0, 1):
        lines = [json.loads(line) for line in (work / f"batch{b}.jsonl").read_text().splitlines()]
        (work / f"batch{b}.labels.jsonl").write_text("".join(
            json.dumps({"key": a["key"], "drug_trafficking": "anaesthetic" not in a["text"]}) + "\n" for a in lines))
    assert recheck(["collect", *common, "--annotations", str(rounds)]) == 0
    after = [json.loads(line) for line in (rounds / "corpus-passages-r5.jsonl").read_text().splitlines()]
    assert [r["labels"] for r in after] == [["organized_crime", "drug_trafficking"]] * 2 + [["corruption"], ["terrorism"]]
    record = [json.loads(line) for line in (rounds / "recheck-t1.jsonl").read_text().splitlines()]
    assert record == [{"round": 5, "article_id": K("a2"), "start": 0, "end": 76, "label": "drug_trafficking",
                       "before": False, "after": True}]
    # Applying the same answers twice is refused, not silently repeated.
    with pytest.raises(SystemExit, match="applied already"):
        recheck(["collect", *common, "--annotations", str(rounds)])
    # A malformed answer names the batch file and line.
    (work / "batch0.labels.jsonl").write_text((work / "batch0.labels.jsonl").read_text().replace("true", '"yes"').replace("false", '"no"'))
    with pytest.raises(SystemExit, match=r"batch0.labels.jsonl line 1: 'drug_trafficking' must be true or false"):
        recheck(["collect", *common, "--annotations", str(rounds), "--dry-run"])


def test_recipe_parts_marked_tune_are_the_tuning_rows(tmp_path):
    from train_default import load_part, tuning_rows

    (tmp_path / "threat-passages").mkdir()
    for name, n in (("human.jsonl", 3), ("picked.jsonl", 2)):
        rows = [{"id": f"{name}{i}", "text": f"Text {i} of {name}.", "labels": []} for i in range(n)]
        (tmp_path / "threat-passages" / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    human = load_part({"file": "threat-passages/human.jsonl", "weight": 2, "tune": True}, tmp_path)
    picked = load_part({"file": "threat-passages/picked.jsonl"}, tmp_path)
    assert [r["weight"] for r in human] == [2.0] * 3
    assert tuning_rows(picked + human).tolist() == [False, False, True, True, True]
    assert tuning_rows(picked) is None  # no part marked: every row tunes


def test_card_description_names_the_rows_the_cross_validated_figures_were_scored_on():
    import numpy as np
    from train_default import check_recipe, cross_validated_description

    recipe = {"training_data": [{"file": "threat-passages/train.jsonl", "tune": True},
                                {"annotations": "annotations/corpus-passages-r2.jsonl"}],
              "dev_data": {"file": "threat-passages/dev.jsonl", "tune": True},
              "final_includes_dev": True, "cv_groups": "document"}
    tune = np.array([True, True, False, True])
    assert cross_validated_description(recipe, 5, tune) == (
        "5-fold out-of-fold predictions of the shipped model's own training data, scored on its 3 rows that tune "
        "calibration and thresholds (threat-passages/train.jsonl (tunes thresholds), threat-passages/dev.jsonl "
        "(tunes thresholds)); the folds trained on all 4 rows, each source document within one fold.")
    assert "dev.jsonl" not in cross_validated_description(dict(recipe, final_includes_dev=False), 5, tune)
    assert cross_validated_description(dict(recipe, cv_groups=None), 5, np.ones(4, bool)) == (
        "5-fold out-of-fold predictions of the shipped model's own training data (4 rows).")
    check_recipe(recipe)
    with pytest.raises(SystemExit, match="dev_data is marked"):
        check_recipe(dict(recipe, training_data=[{"file": "threat-passages/train.jsonl"}]))


def test_audit_figures_count_each_label_on_its_own_stratum():
    # audit.py: a label's precision is the share of its stratum the annotators gave it; rows of
    # another stratum that carry it do not count; the random stratum gives the agreement.
    from audit import audit_figures, wilson

    labels = ["terrorism", "corruption"]
    rows = ([{"stratum": "positive-terrorism", "predicted": ["terrorism"], "labels": ["terrorism"]}] * 3
            + [{"stratum": "positive-terrorism", "predicted": ["terrorism", "corruption"], "labels": ["corruption"]}]
            + [{"stratum": "positive-corruption", "predicted": ["corruption"], "labels": []}] * 2
            + [{"stratum": "random", "predicted": [], "labels": []},
               {"stratum": "random", "predicted": ["terrorism"], "labels": ["terrorism", "corruption"]}])
    figures = audit_figures(rows, labels)
    assert figures["precision"]["terrorism"]["right"] == 3 and figures["precision"]["terrorism"]["n"] == 4
    assert figures["precision"]["corruption"]["precision"] == 0.0
    assert figures["random"]["same_label_set"] == 1
    assert figures["random"]["labelled_by_annotators"] == {"terrorism": 1, "corruption": 1}
    assert figures["random"]["labelled_by_model"] == {"terrorism": 1, "corruption": 0}
    low, high = wilson(45, 50)  # the textbook value: 0.786-0.957
    assert round(low, 3) == 0.786 and round(high, 3) == 0.957
    with pytest.raises(ValueError, match="positive-corruption"):
        audit_figures(rows + [{"stratum": "positive-corruption", "predicted": [], "labels": []}], labels)


def test_the_stored_audits_hold_no_text_and_match_their_strata():
    # corpus-audit-N.jsonl keep offsets, never the third-party text; each positive stratum row was
    # given its label by the model, as the figures in models/annotations/README.md assume.
    from audit import audit_figures

    labels = ["terrorism", "organized_crime", "drug_trafficking", "corruption", "foreign_influence"]
    drawn = {}
    for path in sorted((Path(__file__).resolve().parents[2] / "models" / "annotations").glob("corpus-audit-*.jsonl")):
        rows = [json.loads(line) for line in path.open()]
        assert rows and all(set(row) == {"article_id", "start", "end", "stratum", "predicted", "proba", "labels",
                                         "batch"} for row in rows), path
        figures = audit_figures(rows, labels)
        drawn[path.name] = [f["n"] for f in figures["precision"].values()] + [figures["random"]["n"]]
    assert drawn == {"corpus-audit-1.jsonl": [50, 50, 50, 50, 50, 150], "corpus-audit-2.jsonl": [50, 9, 0, 8, 50, 150]}


def test_a_draw_from_one_source_takes_its_passages_and_its_dev_passages_as_gold(shared, tmp_path):
    # rounds.py --source: every passage drawn comes from that source, all --n of them even when
    # its keyword half runs short, and the hidden gold passages are that source's dev passages.
    from rounds import main as rounds_main

    articles = [{"id": f"s{i}", "source": "site", "text": f"Officials of town {i} opened a new bridge over the river."}
                for i in range(6)]
    articles += [{"id": f"o{i}", "source": "other", "text": f"A bomb exploded in district {i} and a group claimed it."}
                 for i in range(6)]
    with gzip.open(shared / "corpus" / "articles.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(a) + "\n" for a in articles))
    passages = shared / "threat-passages"
    passages.mkdir()
    rows = {"train.jsonl": [{"id": "t1", "source": "site", "text": "A road was opened.", "labels": []},
                            {"id": "t2", "source": "other", "text": "A bomb went off.", "labels": ["terrorism"]}],
            "dev.jsonl": [{"id": "d1", "source": "site", "text": "A school was opened.", "labels": []},
                          {"id": "d2", "source": "other", "text": "Gunmen attacked a bus.", "labels": ["terrorism"]}],
            "train-active.jsonl": []}
    for name, content in rows.items():
        (passages / name).write_text("".join(json.dumps(r) + "\n" for r in content))
    work = tmp_path / "work"
    assert rounds_main(["draw", "--round", "99", "--work", str(work), "--shared", str(shared), "--n", "4",
                        "--batches", "1", "--gold", "1", "--source", "site"]) == 0
    manifest = json.loads((work / "manifest.json").read_text())
    new = [m for m in manifest if m["kind"] == "new"]
    assert len(new) == 4 and {m["source"] for m in new} == {"site"}  # no keyword hit: all four plain
    assert [m["dev_id"] for m in manifest if m["kind"] == "gold"] == ["d1"]
    with pytest.raises(SystemExit, match="--source works with --select source-matched only"):
        rounds_main(["draw", "--round", "99", "--work", str(work), "--shared", str(shared), "--source", "site",
                     "--select", "model-band"])


def test_stored_rows_name_corpus_articles_by_digest_only():
    # Some corpus ids are addresses that spell out a headline (third-party text): every file under
    # models/annotations/ names articles by article_key() alone, as the recipe tools read them.
    import re

    folder = Path(__file__).resolve().parents[2] / "models" / "annotations"
    files = sorted(set(folder.glob("*.jsonl")) - set(WRITTEN))
    assert len(files) >= 20
    for path in files:
        ids = {json.loads(line)["article_id"] for line in path.open()}
        assert ids and all(re.fullmatch(r"a[0-9a-f]{16}", i) for i in ids), path
    assert re.fullmatch(r"a[0-9a-f]{16}", K("x")) and K("x") != K("y")


def test_an_audit_draws_the_models_positives_per_label_and_random_passages_blind(shared, tmp_path):
    # audit.py draw: per label, passages the model gives it (one per article); then random ones;
    # the batch files hold the texts only, the manifest the strata and the model's labels.
    from audit import main as audit_main

    articles = [{"id": f"s{i}", "source": "site",
                 "text": f"A bomb exploded in the market of town {i} and a militant group claimed the attack.\n\n"
                         f"The council of town {i} met on Tuesday to discuss the budget for its roads."}
                for i in range(12)]
    with gzip.open(shared / "corpus" / "articles.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write("".join(json.dumps(a) + "\n" for a in articles))
    passages = shared / "threat-passages"
    passages.mkdir()
    dev = [{"id": f"d{i}", "source": "site", "text": f"Dev passage {i}.", "labels": []} for i in range(4)]
    for name, rows in (("train.jsonl", dev[:1]), ("dev.jsonl", dev), ("train-active.jsonl", [])):
        (passages / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    work = tmp_path / "work"
    assert audit_main(["draw", "--work", str(work), "--shared", str(shared), "--per-label", "3", "--random", "4",
                       "--gold", "1", "--articles", "all"]) == 0
    manifest = json.loads((work / "manifest.json").read_text())
    strata = [m.get("stratum", m["kind"]) for m in manifest]
    assert strata.count("positive-terrorism") == 3 and strata.count("random") == 4 and strata.count("gold") == 2
    assert all("terrorism" in m["predicted"] for m in manifest if m.get("stratum") == "positive-terrorism")
    drawn = [m["article_id"] for m in manifest if m.get("stratum") == "positive-terrorism"]
    assert len(set(drawn)) == 3 and set(drawn) <= {K(a["id"]) for a in articles}  # one per article, digests
    batch_rows = [json.loads(line) for b in (0, 1) for line in (work / f"batch{b}.jsonl").open()]
    assert all(set(row) == {"key", "text"} for row in batch_rows) and len(batch_rows) == len(manifest)


def test_check_says_whether_the_recipe_reproduces_a_model_folder(tmp_path, capsys):
    from builders import tiny_corpus
    from train_default import check_shipped, fit_recipe

    texts, labels = tiny_corpus()
    rows = [{"text": t, "labels": l} for t, l in zip(texts, labels)]
    recipe = {"name": "tiny", "settings": {"min_df": 1, "cv": 3, "model": "logreg+nblogreg",
                                           "presence_ngram_range": [1, 2], "presence_weight": 0.5}}
    fit_recipe(recipe, rows, tmp_path, n_jobs=1).save(tmp_path / "tiny")
    # two threads where the folder was fitted with one: the same model
    assert check_shipped(recipe, rows, texts, tmp_path, tmp_path / "tiny", n_jobs=2) == 0
    out = capsys.readouterr().out
    assert "the recipe reproduces the shipped model" in out and "texts labelled differently: 0" in out
    assert "largest weight difference: 0" in out and "training data (rows and sha256): True" in out
    # one label taken off one row: another model, and the report says where it differs
    k = next(k for k, r in enumerate(rows) if r["labels"])
    changed = rows[:k] + [{**rows[k], "labels": []}] + rows[k + 1:]
    assert check_shipped(recipe, changed, texts, tmp_path, tmp_path / "tiny", n_jobs=1) == 1
    out = capsys.readouterr().out
    assert "training data (rows and sha256): False" in out and "differs from the shipped one" in out


def test_a_failed_check_is_no_match_even_when_every_difference_is_zero():
    from train_default import is_same_model

    same = {"training data (rows and sha256)": True, "settings": True, "largest weight difference": 0.0,
            "texts labelled differently": 0}
    assert is_same_model(same)
    assert not is_same_model({**same, "settings": False})  # False == 0 in Python: not a zero difference
    assert not is_same_model({**same, "largest weight difference": None})  # not comparable: not the same
    assert not is_same_model({**same, "texts labelled differently": 1})
    assert not is_same_model({**same, "largest weight difference": 1e-6})


def test_a_recipe_part_of_written_passages_holds_its_texts_inline(tmp_path, monkeypatch):
    import screen_recipes
    import train_default
    from train_default import describe, load_part

    (tmp_path / "annotations").mkdir()
    rows = [{"id": "w1", "text": "Rebels of the ELN freed two hostages.", "labels": ["terrorism"], "kind": "pair"},
            {"id": "w2", "text": "Two hostages were freed.", "labels": [], "kind": "pair"}]
    (tmp_path / "annotations" / "written-t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.setattr(train_default, "HERE", tmp_path)
    monkeypatch.setattr(screen_recipes, "HERE", tmp_path)
    part = {"passages": "annotations/written-t.jsonl", "weight": 0.5}
    loaded = load_part(part, tmp_path / "no-shared-folder-needed")
    assert loaded == [{"text": r["text"], "labels": r["labels"], "weight": 0.5} for r in rows]
    assert describe([part]) == "annotations/written-t.jsonl (weight 0.5)"
    recipe = {"training_data": [{"file": "threat-passages/train.jsonl"}, part]}
    assert screen_recipes.recipe_extras(recipe) == ["written-t"]
    assert screen_recipes.extra_rows(["written-t"], tmp_path) == [{"text": r["text"], "labels": r["labels"]} for r in rows]


def test_written_passages_carry_codebook_labels_and_pairs_differ_in_them():
    from threatclf.labels import DEFAULT_LABELS

    assert WRITTEN, "no models/annotations/written-*.jsonl"
    texts, ids = set(), set()
    for path in WRITTEN:
        pairs: dict[str, list[frozenset]] = {}
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            assert set(row["labels"]) <= set(DEFAULT_LABELS) and len(set(row["labels"])) == len(row["labels"]), row
            assert row["text"].strip() and row["id"] not in ids, row["id"]
            key = " ".join(row["text"].lower().split())
            assert key not in texts, row["id"]  # no passage written twice, in one file or two
            texts.add(key)
            ids.add(row["id"])
            if row["kind"] == "pair":
                pairs.setdefault(row["pair"], []).append(frozenset(row["labels"]))
        # a minimal pair is two tellings of one story that the codebook labels differently
        assert pairs and all(len(sets) == 2 and sets[0] != sets[1] for sets in pairs.values()), path


def test_written_passages_copy_no_sentence_of_the_annotated_data(shared_data):
    # They are the project's own text; the shared passages are third-party. Names of groups and
    # stock phrases of incident reports ("an improvised explosive device planted by the ...") may
    # recur, so the test looks for 20 words in a row.
    import re

    def runs(text, n=20):
        words = re.findall(r"\w+", text.lower())
        return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}

    written = set()
    for path in WRITTEN:
        for line in path.open(encoding="utf-8"):
            written |= runs(json.loads(line)["text"])
    assert written
    for name in ("train.jsonl", "dev.jsonl", "train-active.jsonl"):
        for line in (shared_data / "threat-passages" / name).open(encoding="utf-8"):
            shared_runs = runs(json.loads(line)["text"])
            assert not shared_runs & written, (name, sorted(shared_runs & written)[:1])

"""Train the bundled default model from its recipe: ``python models/train_default.py``.

Reads the annotated passages from the shared data folder (``--shared``, or
``THREATCLF_SHARED_DATA``, default ``../shared/data`` beside the repository), never from the
repository. Two fits:

1. on the recipe's training data without the dev set, scored on the dev set: the "dev"
   figures of the model card;
2. the shipped model, on the training data plus the dev set (``final_includes_dev``), with
   thresholds and calibration from its own out-of-fold predictions.

``--check`` makes the second fit only, writes nothing, and compares the model with the shipped
folder (training data digest, settings, vocabularies, weights, thresholds, calibration, and the
probabilities on the dev texts): it exits 0 when the recipe reproduces the shipped model.

Passages annotated for this project (``models/annotations/corpus-passages-*.jsonl``) are stored
as a digest of their article's id (``article_key``) and character offsets into
``corpus/articles.jsonl.gz``: the third-party text stays in the shared folder. A recipe part
``{"passages": "annotations/....jsonl"}`` holds its texts inline instead: passages written for this
project, which are the project's own text.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import threatclf  # noqa: E402
from threatclf.classifier import COMPUTE_SETTINGS  # noqa: E402
from threatclf.evaluate import score_predictions  # noqa: E402
from threatclf.labels import to_indicator  # noqa: E402


def shared_folder(arg: str | None) -> Path:
    path = Path(arg or os.environ.get("THREATCLF_SHARED_DATA") or HERE.parent.parent / "shared" / "data")
    if not (path / "threat-passages").is_dir():
        sys.exit(f"shared data not found: {path} holds no threat-passages/ folder; --shared (or "
                 "THREATCLF_SHARED_DATA) names the folder that holds threat-passages/ and corpus/, such as ../shared/data")
    return path


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def article_key(article_id: str) -> str:
    """The name models/annotations/ gives a corpus article: a digest of its id. Some sources' ids
    are addresses that spell out the headline, which is third-party text the repository must not
    hold; 64 bits keep the 35,560 articles apart."""
    return "a" + hashlib.sha256(article_id.encode("utf-8")).hexdigest()[:16]


def corpus_articles(shared: Path):
    """The article corpus, one dict (``id``, ``source``, ``text``, ...) at a time, its ``id``
    replaced by :func:`article_key` — the only name the recipe tools store or compare."""
    with gzip.open(shared / "corpus" / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            article = json.loads(line)
            article["id"] = article_key(article["id"])
            yield article


_CORPUS: dict[str, dict[str, str]] = {}  # shared folder -> article id -> text, read once per process


def corpus_texts(shared: Path) -> dict[str, str]:
    """Article id -> text of the whole corpus (~70 MB), read on first use only: a recipe has a
    part per annotation round, and each would otherwise read the corpus again."""
    if str(shared) not in _CORPUS:
        _CORPUS[str(shared)] = {a["id"]: a["text"] or "" for a in corpus_articles(shared)}
    return _CORPUS[str(shared)]


def annotated_passages(path: Path, shared: Path) -> list[dict]:
    """Passages of the article corpus labelled for this project, text cut by stored offsets."""
    rows = read_jsonl(path)
    wanted = {row["article_id"] for row in rows}
    corpus = corpus_texts(shared)
    texts = {article_id: corpus[article_id] for article_id in wanted if article_id in corpus}
    missing = wanted - texts.keys()
    if missing:
        sys.exit(f"{len(missing)} annotated articles are not in the corpus, e.g. {sorted(missing)[:3]}")
    return [{"text": texts[r["article_id"]][r["start"]:r["end"]], "labels": r["labels"], "article_id": r["article_id"]}
            for r in rows]


def written_passages(path: Path) -> list[dict]:
    """Passages written for this project (their text inline): text and labels only."""
    return [{"text": r["text"], "labels": r["labels"]} for r in read_jsonl(path)]


def load_part(part: dict, shared: Path) -> list[dict]:
    """The rows of one training set of a recipe; a ``"weight"`` in the part is each row's sample weight."""
    if "annotations" in part:
        rows = annotated_passages(HERE / part["annotations"], shared)
    elif "passages" in part:
        rows = written_passages(HERE / part["passages"])
    else:
        rows = read_jsonl(shared / part["file"])
        if "selection" in part:
            rows = [r for r in rows if r.get("selection") == part["selection"]]
    if "weight" in part:
        rows = [dict(r, weight=float(part["weight"])) for r in rows]
    if part.get("tune"):
        rows = [dict(r, tune=True) for r in rows]
    return rows


MAX_ARTICLES_PER_TEXT = 3
_FOUND: dict[str, dict[str, set[str]]] = {}  # shared folder -> collapsed text -> articles holding it


def _probes(text: str) -> list[str]:
    """The first, middle and last 50 characters of a white-space-collapsed text (the whole text
    when shorter than 150 characters; nothing under 25)."""
    text = " ".join(text.split())
    if len(text) < 25:
        return []
    if len(text) < 150:
        return [text]
    middle = len(text) // 2
    return [text[middle - 25:middle + 25], text[:50], text[-50:]]


def source_articles(rows: list[dict], shared: Path) -> list[set[str]]:
    """For each row, the corpus articles it comes from: its ``article_id`` when it has one,
    otherwise every article whose text holds the row's beginning, middle and end (50 characters
    each, white space collapsed; short rows whole). A row found in more than
    ``MAX_ARTICLES_PER_TEXT`` articles is boilerplate (a press office's contact lines) and
    names no article."""
    cache = _FOUND.setdefault(str(shared), {})
    by_gram: dict[str, list[tuple[list[str], str]]] = {}
    for row in rows:
        text = " ".join(row["text"].split())
        if "article_id" not in row and text not in cache:
            cache[text] = set()
            probes = _probes(text)
            if probes:
                by_gram.setdefault(probes[0][:8], []).append((probes, text))
    if by_gram:  # one pass over the corpus for every text not looked up before
        for article_id, article_text in corpus_texts(shared).items():
            text = " ".join(article_text.split())
            for gram in {text[k:k + 8] for k in range(len(text) - 7)} & by_gram.keys():
                for probes, key in by_gram[gram]:
                    if all(probe in text for probe in probes):
                        cache[key].add(article_id)
    found = []
    for row in rows:
        if "article_id" in row:
            found.append({row["article_id"]})
        else:
            articles = cache[" ".join(row["text"].split())]
            found.append(set(articles) if len(articles) <= MAX_ARTICLES_PER_TEXT else set())
    return found


def document_links(rows: list[dict], scored: list[dict], shared: Path) -> list[set[int]]:
    """For each row, the indices of ``scored`` passages from the same source document.

    Why: most train and dev passages come from documents that are also in the article corpus
    (712 of the 1,073 dev passages are found in 645 corpus articles), and the annotation rounds drew
    other passages of those articles, a few of them overlapping a scored passage. A fit scored
    on ``scored`` must leave such rows out, or its figures are not held-out ones: the sealed
    test documents are not in the corpus at all. Documents are corpus articles (see
    ``source_articles``); a row that repeats a scored text word for word is linked to it too.
    """
    articles = source_articles(list(scored) + list(rows), shared)
    by_article: dict[str, set[int]] = {}
    for i, found in enumerate(articles[:len(scored)]):
        for article_id in found:
            by_article.setdefault(article_id, set()).add(i)
    by_text: dict[str, set[int]] = {}
    for i, row in enumerate(scored):
        by_text.setdefault(" ".join(row["text"].split()), set()).add(i)
    links = []
    for row, found in zip(rows, articles[len(scored):]):
        linked = set(by_text.get(" ".join(row["text"].split()), ()))
        for article_id in found:
            linked |= by_article.get(article_id, set())
        links.append(linked)
    return links


def without_documents_of(rows: list[dict], held_out: list[dict], shared: Path) -> list[dict]:
    """``rows`` less those from a source document of ``held_out`` (see ``document_links``)."""
    return [row for row, linked in zip(rows, document_links(rows, held_out, shared)) if not linked]


def document_groups(rows: list[dict], shared: Path) -> list[str]:
    """A cross-validation group per row: rows that share a source article (see
    ``source_articles``), directly or through a chain of rows, form one group; a row whose
    document is not in the corpus is a group of its own."""
    parent = list(range(len(rows)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_row: dict[str, int] = {}
    for i, articles in enumerate(source_articles(rows, shared)):
        for article_id in sorted(articles):  # a fixed order: set order changes with PYTHONHASHSEED
            j = first_row.setdefault(article_id, i)
            a, b = root(i), root(j)
            parent[max(a, b)] = min(a, b)  # the group's first row is its root
    return [f"group-{root(i)}" for i in range(len(rows))]


CV_GROUPS = (None, "document")


def fit_recipe(recipe: dict, rows: list[dict], shared: Path, n_jobs: int | None = None) -> "threatclf.ThreatClassifier":
    """The recipe's ThreatClassifier fitted on ``rows``; with ``"cv_groups": "document"`` the
    out-of-fold scores behind thresholds and calibration keep each source document in one fold."""
    if recipe.get("cv_groups") not in CV_GROUPS:
        sys.exit(f"recipe: cv_groups must be one of {CV_GROUPS}, got {recipe.get('cv_groups')!r}")
    groups = document_groups(rows, shared) if recipe.get("cv_groups") == "document" else None
    weights = [r.get("weight", 1.0) for r in rows]
    return threatclf.ThreatClassifier(**recipe_settings(recipe, n_jobs)).fit(
        [r["text"] for r in rows], [r["labels"] for r in rows], groups=groups,
        sample_weight=None if set(weights) == {1.0} else weights, tuning_rows=tuning_rows(rows))


def tuning_rows(rows: list[dict]) -> np.ndarray | None:
    """Which rows learn calibration and thresholds: those of the recipe's parts marked
    ``"tune": true`` (the passages sampled like the text to label), or all when none is."""
    mask = np.array([bool(r.get("tune")) for r in rows], dtype=bool)
    return mask if mask.any() else None


def recipe_settings(recipe: dict, n_jobs: int | None = None) -> dict:
    """ThreatClassifier keyword arguments from a recipe (JSON lists back to tuples)."""
    settings = dict(recipe["settings"], n_jobs=n_jobs)
    for key in ("word_ngram_range", "char_ngram_range", "presence_ngram_range"):
        if settings.get(key) is not None:
            settings[key] = tuple(settings[key])
    return settings


def cross_validated_description(recipe: dict, cv: int, tune: np.ndarray) -> str:
    """What the model card's cross-validated figures were computed on."""
    final_parts = recipe["training_data"] + ([recipe["dev_data"]] if recipe.get("final_includes_dev") else [])
    grouped = "each source document within one fold" if recipe.get("cv_groups") == "document" else ""
    if tune.all():
        return (f"{cv}-fold out-of-fold predictions of the shipped model's own training data ({len(tune)} rows"
                + (f"; {grouped}" if grouped else "") + ").")
    return (f"{cv}-fold out-of-fold predictions of the shipped model's own training data, scored on its "
            f"{int(tune.sum())} rows that tune calibration and thresholds ("
            + describe([p for p in final_parts if p.get("tune")])
            + f"); the folds trained on all {len(tune)} rows" + (f", {grouped}" if grouped else "") + ".")


def check_recipe(recipe: dict) -> None:
    """Stop on a recipe whose dev figures would measure another recipe than the shipped one."""
    if recipe.get("dev_data", {}).get("tune") and not any(p.get("tune") for p in recipe["training_data"]):
        sys.exit("recipe: dev_data is marked \"tune\" but no training part is: the dev fit would tune on "
                 "every row and the shipped model on dev alone; mark the training parts sampled like dev too")


def describe(parts: list[dict]) -> str:
    return ", ".join(p.get("file", p.get("annotations", p.get("passages"))) + (f" ({p['selection']})" if "selection" in p else "")
                     + (f" (weight {p['weight']:g})" if "weight" in p else "")
                     + (" (tunes thresholds)" if p.get("tune") else "") for p in parts)


def rerender_card(folder: Path) -> int:
    """Write the model card again from metadata.json and experiments.md; update its digest."""
    from threatclf.modelcard import render_model_card
    from threatclf.persistence import _sha256, read_metadata

    metadata = read_metadata(folder)
    experiments = (HERE / "experiments.md").read_text() if (HERE / "experiments.md").exists() else None
    (folder / "README.md").write_text(render_model_card(metadata, experiments), encoding="utf-8")
    metadata["files"]["README.md"] = _sha256(folder / "README.md")
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    print(f"re-rendered {folder / 'README.md'}", file=sys.stderr)
    return 0


def compare_models(model, shipped, texts: list[str]) -> dict:
    """How a retrained model differs from the shipped one: the data it saw, what it learned, and
    what it says on ``texts``. Exact figures, not a pass mark: the caller decides."""
    params = lambda m: {k: v for k, v in m.get_params().items() if k not in COMPUTE_SETTINGS}  # noqa: E731
    same_shape = model.coef_.shape == shipped.coef_.shape
    proba, shipped_proba = model.predict_proba(texts).to_numpy(), shipped.predict_proba(texts).to_numpy()
    data, shipped_data = model.training_fingerprint_, shipped.training_fingerprint_  # (not its text-digest rule)
    return {
        "training data (rows and sha256)": all(data.get(key) == shipped_data.get(key)
                                               for key in ("rows", "positives", "sha256", "tuning_rows")),
        "settings": params(model) == params(shipped),
        "labels": model.labels_ == shipped.labels_,
        "vocabularies": [v.vocabulary_ for v in model.vectorizers_] == [v.vocabulary_ for v in shipped.vectorizers_],
        "largest weight difference": float(np.abs(model.coef_ - shipped.coef_).max()) if same_shape else None,
        "largest threshold difference": float(np.abs(model.thresholds_ - shipped.thresholds_).max()),
        "largest calibration difference": float(np.abs(model.calibration_ - shipped.calibration_).max()),
        "largest probability difference": float(np.abs(proba - shipped_proba).max()),
        "texts labelled differently": int(((proba >= model.thresholds_) != (shipped_proba >= shipped.thresholds_))
                                         .any(axis=1).sum()),
    }


def is_same_model(found: dict, tolerance: float = 1e-9) -> bool:
    """Whether :func:`compare_models` found the same model: every check true, no text labelled
    differently, every largest difference measured and under ``tolerance``."""
    def same(value) -> bool:
        if isinstance(value, bool):  # before numbers: False == 0 in Python
            return value
        if isinstance(value, int):
            return value == 0
        return value is not None and value < tolerance
    return all(same(value) for value in found.values())


def check_shipped(recipe: dict, rows: list[dict], texts: list[str], shared: Path, folder: Path,
                  n_jobs: int | None, tolerance: float = 1e-9) -> int:
    """Retrain the shipped model from the recipe (its final fit only) and compare it with
    ``folder``: 0 when it is the same model (every difference under ``tolerance``), else 1."""
    shipped = threatclf.load_model(folder)
    started = time.perf_counter()
    model = fit_recipe(recipe, rows, shared, n_jobs)
    print(f"retrained in {time.perf_counter() - started:.0f} s; compared with {folder} on {len(texts)} texts:",
          file=sys.stderr)
    found = compare_models(model, shipped, texts)
    same = is_same_model(found, tolerance)
    for what, value in found.items():
        print(f"  {what}: {value if isinstance(value, (bool, int)) or value is None else f'{value:.3g}'}")
    print("the recipe reproduces the shipped model" if same else "the retrained model differs from the shipped one")
    return 0 if same else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", help="shared data folder (holding threat-passages/ and corpus/)")
    parser.add_argument("--recipe", default=str(HERE / "threat-default.recipe.json"))
    parser.add_argument("--out", help="model folder to write (default: models/<name>)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--card-only", action="store_true",
                        help="only re-render the model card of the existing folder (after editing experiments.md)")
    parser.add_argument("--check", action="store_true",
                        help="retrain the shipped model (its final fit only), write nothing, and compare it with the "
                             "folder (--out, default models/<name>) on the dev texts: exit 1 if they differ")
    args = parser.parse_args(argv)
    if args.card_only:
        return rerender_card(Path(args.out) if args.out else HERE / json.loads(Path(args.recipe).read_text())["name"])
    shared = shared_folder(args.shared)
    recipe = json.loads(Path(args.recipe).read_text())
    check_recipe(recipe)
    train = [row for part in recipe["training_data"] for row in load_part(part, shared)]
    dev = load_part(recipe["dev_data"], shared)
    print(f"training rows {len(train)}, dev rows {len(dev)}", file=sys.stderr)
    final_rows = train + dev if recipe.get("final_includes_dev") else train  # the shipped model's
    out = Path(args.out) if args.out else HERE / recipe["name"]
    if args.check:
        return check_shipped(recipe, final_rows, [r["text"] for r in dev], shared, out, args.n_jobs)

    dev_train = without_documents_of(train, dev, shared)
    if len(dev_train) < len(train):
        print(f"{len(train) - len(dev_train)} training rows come from a source document of a dev passage: "
              "left out of the dev fit", file=sys.stderr)
    started = time.perf_counter()
    dev_model = fit_recipe(recipe, dev_train, shared, args.n_jobs)
    dev_result = threatclf.evaluate(dev_model, [r["text"] for r in dev], [r["labels"] for r in dev])
    print(f"dev (model trained without dev, {time.perf_counter() - started:.0f} s):\n{dev_result.to_table()}", file=sys.stderr)

    started = time.perf_counter()
    model = fit_recipe(recipe, final_rows, shared, args.n_jobs)
    fit_seconds = time.perf_counter() - started
    # Scored on the rows thresholds were learned for: the others were picked where a model was unsure.
    tune = tuning_rows(final_rows)
    tune = np.ones(len(final_rows), dtype=bool) if tune is None else tune
    oof_proba = model.oof_probabilities_[tune]
    oof = score_predictions(to_indicator([r["labels"] for r, t in zip(final_rows, tune) if t], model.labels_),
                            oof_proba >= model.thresholds_, oof_proba, model.labels_)
    sources = describe(recipe["training_data"]) + (" + " + describe([recipe["dev_data"]]) if recipe.get("final_includes_dev") else "")
    metrics = {
        "dev": {**dev_result.to_dict(), "description": (
            f"{recipe['dev_data']['file']}, scored by the same recipe trained without it "
            f"({len(dev_train)} rows: the training data less the rows from a source document of a dev passage); the dev set was used to choose the recipe, so these figures are "
            "slightly optimistic. The shipped model is then trained with it.")},
        "cross-validated": {**oof.to_dict(), "description": cross_validated_description(recipe, model.cv, tune)},
    }
    model.set_params(n_jobs=None)  # threads are the user's choice, not the model's
    experiments = (HERE / "experiments.md").read_text() if (HERE / "experiments.md").exists() else None
    model.save(out, name=recipe["name"], metrics=metrics, overwrite=True, card_extra=experiments,
               training_description=(
                   f"{len(final_rows)} news passages annotated under the codebook: {sources}. The "
                   "passages in models/annotations/ were labelled for this project by AI assistant sessions "
                   "working from the codebook (silver standard; see models/annotations/README.md); all others "
                   f"by the data set's human annotators. Recipe: models/{Path(args.recipe).name} "
                   f"(run `python models/train_default.py`); fit took {fit_seconds:.0f} s on 2 cores."))
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"saved {out} ({size / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

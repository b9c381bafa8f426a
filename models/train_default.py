"""Train the bundled default model from its recipe: ``python models/train_default.py``.

Reads the annotated passages from the shared data folder (``--shared``, or
``THREATCLF_SHARED_DATA``, default ``../shared/data`` beside the repository), never from the
repository. Two fits:

1. on the recipe's training data without the dev set, scored on the dev set: the "dev"
   figures of the model card;
2. the shipped model, on the training data plus the dev set (``final_includes_dev``), with
   thresholds and calibration from its own out-of-fold predictions.

Passages annotated for this project (``models/annotations/*.jsonl``) are stored as article
id and character offsets into ``corpus/articles.jsonl.gz``: the third-party text stays in
the shared folder.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import threatclf  # noqa: E402
from threatclf.evaluate import score_predictions  # noqa: E402
from threatclf.labels import to_indicator  # noqa: E402


def shared_folder(arg: str | None) -> Path:
    path = Path(arg or os.environ.get("THREATCLF_SHARED_DATA") or HERE.parent.parent / "shared" / "data")
    if not (path / "threat-passages").is_dir():
        sys.exit(f"shared data not found at {path}: pass --shared or set THREATCLF_SHARED_DATA")
    return path


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def annotated_passages(path: Path, shared: Path) -> list[dict]:
    """Passages of the article corpus labelled for this project, text cut by stored offsets."""
    rows = read_jsonl(path)
    wanted = {row["article_id"] for row in rows}
    texts = {}
    with gzip.open(shared / "corpus" / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            article = json.loads(line)
            if article["id"] in wanted:
                texts[article["id"]] = article["text"]
    missing = wanted - texts.keys()
    if missing:
        sys.exit(f"{len(missing)} annotated articles are not in the corpus, e.g. {sorted(missing)[:3]}")
    return [{"text": texts[r["article_id"]][r["start"]:r["end"]], "labels": r["labels"]} for r in rows]


def load_part(part: dict, shared: Path) -> list[dict]:
    if "annotations" in part:
        return annotated_passages(HERE / part["annotations"], shared)
    rows = read_jsonl(shared / part["file"])
    if "selection" in part:
        rows = [r for r in rows if r.get("selection") == part["selection"]]
    return rows


def without_texts_of(rows: list[dict], held_out: list[dict]) -> list[dict]:
    """``rows`` less those repeating a text of ``held_out`` (white space ignored).

    A corpus passage can repeat a dev passage word for word (a headline carried twice); such
    rows must leave a fit that is scored on dev, or the dev figures are not held-out ones.
    """
    seen = {" ".join(r["text"].split()) for r in held_out}
    return [r for r in rows if " ".join(r["text"].split()) not in seen]


def recipe_settings(recipe: dict, n_jobs: int | None = None) -> dict:
    """ThreatClassifier keyword arguments from a recipe (JSON lists back to tuples)."""
    settings = dict(recipe["settings"], n_jobs=n_jobs)
    for key in ("word_ngram_range", "char_ngram_range"):
        if key in settings:
            settings[key] = tuple(settings[key])
    return settings


def describe(parts: list[dict]) -> str:
    return ", ".join(p.get("file", p.get("annotations")) + (f" ({p['selection']})" if "selection" in p else "") for p in parts)


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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", help="shared data folder (holding threat-passages/ and corpus/)")
    parser.add_argument("--recipe", default=str(HERE / "threat-default.recipe.json"))
    parser.add_argument("--out", help="model folder to write (default: models/<name>)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--card-only", action="store_true",
                        help="only re-render the model card of the existing folder (after editing experiments.md)")
    args = parser.parse_args(argv)
    if args.card_only:
        return rerender_card(Path(args.out) if args.out else HERE / json.loads(Path(args.recipe).read_text())["name"])
    shared = shared_folder(args.shared)
    recipe = json.loads(Path(args.recipe).read_text())
    settings = recipe_settings(recipe, args.n_jobs)
    train = [row for part in recipe["training_data"] for row in load_part(part, shared)]
    dev = load_part(recipe["dev_data"], shared)
    print(f"training rows {len(train)}, dev rows {len(dev)}", file=sys.stderr)

    dev_train = without_texts_of(train, dev)
    if len(dev_train) < len(train):
        print(f"{len(train) - len(dev_train)} training rows repeat a dev text: left out of the dev fit", file=sys.stderr)
    started = time.perf_counter()
    dev_model = threatclf.ThreatClassifier(**settings).fit([r["text"] for r in dev_train], [r["labels"] for r in dev_train])
    dev_result = threatclf.evaluate(dev_model, [r["text"] for r in dev], [r["labels"] for r in dev])
    print(f"dev (model trained without dev, {time.perf_counter() - started:.0f} s):\n{dev_result.to_table()}", file=sys.stderr)

    final_rows = train + dev if recipe.get("final_includes_dev") else train
    started = time.perf_counter()
    model = threatclf.ThreatClassifier(**settings).fit([r["text"] for r in final_rows], [r["labels"] for r in final_rows])
    fit_seconds = time.perf_counter() - started
    oof = score_predictions(to_indicator([r["labels"] for r in final_rows], model.labels_),
                            model.oof_probabilities_ >= model.thresholds_, model.oof_probabilities_, model.labels_)
    sources = describe(recipe["training_data"]) + (" + " + describe([recipe["dev_data"]]) if recipe.get("final_includes_dev") else "")
    metrics = {
        "dev": {**dev_result.to_dict(), "description": (
            f"{describe([recipe['dev_data']])}, scored by the same recipe trained without it "
            f"({len(dev_train)} rows: the training data less any row repeating a dev text); the dev set was used to choose the recipe, so these figures are "
            "slightly optimistic. The shipped model is then trained with it.")},
        "cross-validated": {**oof.to_dict(), "description": (
            f"{model.cv}-fold out-of-fold predictions of the shipped model's own training data ({len(final_rows)} rows).")},
    }
    model.set_params(n_jobs=None)  # threads are the user's choice, not the model's
    experiments = (HERE / "experiments.md").read_text() if (HERE / "experiments.md").exists() else None
    out = Path(args.out) if args.out else HERE / recipe["name"]
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

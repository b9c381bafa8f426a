"""Compare recipe variants by pooled cross-validation over the human-labelled passages.

    python models/screen_recipes.py [--shared PATH] [--extra uncertain,r2,...] [--features-per-label K] [--C C]
                                    [--set NAME=JSON ...] [--keep-same-document]

Why: the dev set alone (1,073 passages, 46-153 positives per label) cannot tell apart changes
worth less than about 0.02 macro-F1. Here the 6,913 human-labelled passages (train + dev) are
split into 5 folds; each fold is scored by a model trained on the other four plus the extra
training sets (train-active's uncertain passages, models/annotations/ rounds), which are never
scored. Reported per label: average precision and the best F1 over thresholds (threshold-free,
so recipe variants are compared on their scores alone). A screen, not the shipped figures:
calibration and out-of-fold thresholds are left out to keep one variant to ~2 minutes.
Extra rows from the source document of a passage being scored (the corpus holds most train and
dev documents) are left out of that fold's training part. Passages of one source document among
train + dev may still fall in several folds, which flatters every variant alike.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, f1_score
from sklearn.model_selection import KFold

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from train_default import annotated_passages, document_links, read_jsonl, shared_folder, written_passages  # noqa: E402

from threatclf import ThreatClassifier  # noqa: E402
from threatclf.labels import DEFAULT_LABELS, to_indicator  # noqa: E402


def extra_rows(names: list[str], shared: Path) -> list[dict]:
    rows = []
    for name in names:
        if name == "uncertain":
            rows += [r for r in read_jsonl(shared / "threat-passages" / "train-active.jsonl") if r.get("selection") == "uncertain"]
        elif (HERE / "annotations" / f"{name}.jsonl").exists():  # passages written for the project
            rows += written_passages(HERE / "annotations" / f"{name}.jsonl")
        else:
            rows += annotated_passages(HERE / "annotations" / f"corpus-passages-{name}.jsonl", shared)
    return rows


def recipe_extras(recipe: dict) -> list[str]:
    """A recipe's training sets beyond train.jsonl, as --extra names ('uncertain', 'r2', ...)."""
    names = []
    for part in recipe["training_data"]:
        if part.get("selection") == "uncertain":
            names.append("uncertain")
        elif "annotations" in part:
            names.append(Path(part["annotations"]).stem.removeprefix("corpus-passages-"))
        elif "passages" in part:
            names.append(Path(part["passages"]).stem)
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared")
    parser.add_argument("--extra", help="extra training sets: 'uncertain', annotation rounds and/or files of "
                        "models/annotations/ with inline texts, e.g. 'uncertain,r2,r9' (default: those of models/threat-default.recipe.json)")
    parser.add_argument("--features-per-label", type=int, default=None)
    parser.add_argument("--C", type=float, default=10.0)
    parser.add_argument("--model", default="logreg+nblogreg")
    parser.add_argument("--human-weight", type=float, default=1.0,
                        help="sample weight of the human-labelled rows (the extra rows weigh 1)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                        help="any other ThreatClassifier setting, e.g. --set class_weight=null --set min_df=1")
    parser.add_argument("--keep-same-document", action="store_true",
                        help="keep extra rows from the source documents of scored passages in each fold "
                             "(how S1-S25 were run; flatters every variant)")
    args = parser.parse_args(argv)
    extra_settings = {}
    for item in args.set:
        name, equals, value = item.partition("=")
        try:
            extra_settings[name] = json.loads(value)
        except json.JSONDecodeError:
            parser.error(f"--set {item}: expected NAME=JSON, e.g. min_df=1 or features='\"word\"'")
        if not equals or name not in ThreatClassifier().get_params():
            parser.error(f"--set {item}: {name!r} is not a ThreatClassifier setting")
    shared = shared_folder(args.shared)
    human = read_jsonl(shared / "threat-passages" / "train.jsonl") + read_jsonl(shared / "threat-passages" / "dev.jsonl")
    if args.extra is None:
        args.extra = ",".join(recipe_extras(json.loads((HERE / "threat-default.recipe.json").read_text())))
    extra = extra_rows([n for n in args.extra.split(",") if n], shared)
    # An extra row from the source document of a scored passage would leak into that fold.
    links = [set() for _ in extra] if args.keep_same_document else document_links(extra, human, shared)
    labels = list(DEFAULT_LABELS)
    Y_human = to_indicator([r["labels"] for r in human], labels)
    Y_extra = to_indicator([r["labels"] for r in extra], labels)
    scores = np.zeros(Y_human.shape)
    # Fixed thresholds and no calibration: fit() then skips its own out-of-fold pass.
    settings = dict(features_per_label=args.features_per_label, C=args.C, model=args.model, n_jobs=2)
    settings.update(extra_settings, calibrate=False, threshold=0.5)
    model = ThreatClassifier(**settings)
    left_out = []
    for train_idx, test_idx in KFold(5, shuffle=True, random_state=1).split(human):
        scored = set(test_idx.tolist())
        keep = [k for k, linked in enumerate(links) if not linked & scored]
        left_out.append(len(extra) - len(keep))
        texts = [human[i]["text"] for i in train_idx] + [extra[k]["text"] for k in keep]
        weights = None if args.human_weight == 1.0 else np.r_[np.full(len(train_idx), args.human_weight), np.ones(len(keep))]
        model.fit(texts, pd.DataFrame(np.vstack([Y_human[train_idx], Y_extra[keep]]), columns=labels), sample_weight=weights)
        scores[test_idx] = model.decision_function([human[i]["text"] for i in test_idx])
    ap = [average_precision_score(Y_human[:, j], scores[:, j]) for j in range(len(labels))]
    best = [max(f1_score(Y_human[:, j], scores[:, j] >= t) for t in np.quantile(scores[:, j], np.linspace(0.5, 0.995, 120)))
            for j in range(len(labels))]
    print(f"extra={args.extra} features_per_label={args.features_per_label} C={args.C} model={args.model} {extra_settings} human_weight={args.human_weight} "
          f"extra rows {len(extra)}, left out per fold (same source document as a scored passage) {left_out}")
    print("| label | average precision | best F1 |\n|---|---|---|")
    for name, a, f in zip(labels, ap, best):
        print(f"| {name} | {a:.3f} | {f:.3f} |")
    print(f"| mean | {np.mean(ap):.4f} | {np.mean(best):.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

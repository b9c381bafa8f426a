"""How much labelled data a model of your own needs, and which settings to train it with.

    python benchmarks/learning_curve.py [--shared PATH] [--sizes 300,800,1500,3000,all] [--seeds 5]
                                        [--json FILE]

For each size, random subsets of ``threat-passages/train.jsonl`` (``--seeds`` of them; the whole
file once) train three models, which are scored on ``threat-passages/dev.jsonl``:

- the library's defaults: ``ThreatClassifier()``, as ``threatclf train`` uses with no options;
- the defaults with a presence block of word 1-2-grams (``threatclf train --presence 1 2``);
- the bundled default model's settings (``threatclf.settings_of_model()``: NB-LR averaged with
  logistic regression, chi-squared feature selection, a presence block) — its settings only,
  not its annotated corpus passages or weights.

Each model's two threshold rules are compared on the same fit: ``"f1"`` (the cut-off where the
out-of-fold F1 peaks) and ``"half-best-f1"`` (half the best out-of-fold F1), both read off the
fit's calibrated out-of-fold probabilities, as ``fit`` itself does. Rows: mean ± standard
deviation over the subsets of dev mean average precision (threshold-free) and dev macro-F1 at
each rule's thresholds; the difference columns pair each subset's two models or two rules.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import shared_folder  # noqa: E402

import threatclf  # noqa: E402
from threatclf.data import load_labelled  # noqa: E402
from threatclf.evaluate import score_predictions  # noqa: E402
from threatclf.labels import to_indicator  # noqa: E402
from threatclf.thresholds import NEVER, f1_optimal_threshold, half_best_f1_threshold  # noqa: E402

RULES = {"f1": f1_optimal_threshold, "half-best-f1": half_best_f1_threshold}


def dev_figures(model, train_truth: np.ndarray, dev_texts, dev_truth: np.ndarray, labels) -> dict:
    """Dev mean AP and dev macro-F1 under each threshold rule, learned on the fit's out-of-fold
    probabilities (a label the fit found unlearnable keeps its never-assigned threshold) and, as
    ``fit`` does, raised above a text without evidence (``"<rule> raised"`` counts the labels)."""
    proba = model.predict_proba(dev_texts).to_numpy()
    figures = {"ap": float(np.mean([average_precision_score(dev_truth[:, j], proba[:, j])
                                    for j in range(len(labels))]))}
    oof = model.oof_probabilities_
    for name, rule in RULES.items():
        cuts = np.array([NEVER if model.thresholds_[j] == NEVER else rule(train_truth[:, j], oof[:, j])
                         for j in range(len(labels))])
        with warnings.catch_warnings():  # and, as fit does, never at or below what a text without evidence gets
            warnings.simplefilter("ignore", UserWarning)
            raised = model._above_blank_text(cuts, model.intercept_, model.calibration_, train_truth, labels, True)
        figures[name] = score_predictions(dev_truth, proba >= raised, proba, labels).macro_f1
        figures[f"{name} raised"] = int((raised != cuts).sum())
    return figures


def spread(values: list[float]) -> str:
    return (f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}" if len(values) > 1
            else f"{values[0]:.3f}")


def positive_int(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared")
    parser.add_argument("--sizes", default="300,800,1500,3000,all",
                        help="training-set sizes, comma-separated; 'all' is the whole train.jsonl")
    parser.add_argument("--seeds", type=positive_int, default=5, help="random subsets per size (default: 5)")
    parser.add_argument("--json", help="also write every run's figures to this JSON file")
    args = parser.parse_args(argv)
    if args.json and not Path(args.json).resolve().parent.is_dir():  # said now, not after an hour of training
        parser.error(f"--json {args.json}: its folder does not exist")
    shared = shared_folder(args.shared)
    labels = list(threatclf.DEFAULT_LABELS)
    train_texts, train_labels = load_labelled(shared / "threat-passages" / "train.jsonl")
    dev_texts, dev_labels = load_labelled(shared / "threat-passages" / "dev.jsonl")
    train_truth, dev_truth = to_indicator(train_labels, labels), to_indicator(dev_labels, labels)
    try:
        sizes = [len(train_texts) if s.strip() == "all" else int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error(f"--sizes takes numbers or 'all', comma-separated (e.g. 300,800,all), got {args.sizes!r}")
    if any(not 0 < n <= len(train_texts) for n in sizes):
        parser.error(f"--sizes must lie between 1 and {len(train_texts)} (or be 'all')")
    settings = {"defaults": {}, "defaults + presence 1-2": {"presence_ngram_range": (1, 2)},
                "default model's": threatclf.settings_of_model()}
    runs = []
    for n in sizes:
        for seed in range(args.seeds if n < len(train_texts) else 1):
            rows = (np.sort(np.random.default_rng(seed).choice(len(train_texts), n, replace=False))
                    if n < len(train_texts) else np.arange(n))
            texts, truth = [train_texts[i] for i in rows], train_truth[rows]
            for name, params in settings.items():
                started = time.perf_counter()
                with warnings.catch_warnings():  # few positives at the smallest sizes: warned, and measured
                    warnings.simplefilter("ignore", UserWarning)
                    # the settings given, but these: both rules are read off the one fit below
                    model = threatclf.ThreatClassifier(**{**params, "label_names": labels, "threshold": "f1",
                                                          "n_jobs": 2})
                    try:
                        model.fit(texts, [train_labels[i] for i in rows])
                    except threatclf.DataError as exc:  # e.g. a label with too few positives in a small subset
                        if args.json:  # the runs so far are kept
                            Path(args.json).write_text(json.dumps(runs, indent=1))
                        sys.exit(f"{n} rows, subset {seed}, {name}: {exc}; try larger --sizes")
                run = {"n": n, "seed": seed, "settings": name, "fit_s": time.perf_counter() - started,
                       "positives": dict(zip(labels, truth.sum(axis=0).tolist())),
                       **dev_figures(model, truth, dev_texts, dev_truth, labels)}
                runs.append(run)
                print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in run.items()}),
                      file=sys.stderr, flush=True)

    print(f"Trained on subsets of train.jsonl, scored on dev.jsonl ({len(dev_texts)} passages); mean ± sd over "
          "the subsets. Δ: the default model's settings minus the defaults, and half-best-f1 minus f1, paired.\n")
    print("| rows | fewest positives | settings | dev mean AP | macro-F1, f1 rule | macro-F1, half-best-f1 rule "
          "| Δ half-best-f1 − f1 | fit s |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for name in settings:
            mine = [r for r in runs if r["n"] == n and r["settings"] == name]
            print(f"| {n:,} | {min(min(r['positives'].values()) for r in mine)} | {name} "
                  f"| {spread([r['ap'] for r in mine])} | {spread([r['f1'] for r in mine])} "
                  f"| {spread([r['half-best-f1'] for r in mine])} "
                  f"| {spread([r['half-best-f1'] - r['f1'] for r in mine])} "
                  f"| {statistics.mean(r['fit_s'] for r in mine):.0f} |")
    print("\n| rows | Δ AP, default model's settings − defaults | Δ macro-F1 (f1 rule) | Δ macro-F1 (half-best-f1) |")
    print("|---|---|---|---|")
    for n in sizes:
        pairs = [(a, b) for a in runs for b in runs if a["n"] == b["n"] == n and a["seed"] == b["seed"]
                 and a["settings"] == "defaults" and b["settings"] == "default model's"]
        print(f"| {n:,} | " + " | ".join(spread([b[key] - a[key] for a, b in pairs])
                                         for key in ("ap", "f1", "half-best-f1")) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Dev-set accuracy of threatclf's default recipe against the baselines a user already has.

    python benchmarks/accuracy.py [--shared PATH] [--json FILE]

Every system is trained on the same rows (the recipe's training data without the dev set, and
without any row from a source document of a dev passage: see ``document_links`` in
``models/train_default.py``) and scored on ``threat-passages/dev.jsonl``:

- threatclf: the recipe of the bundled default model (models/threat-default.recipe.json);
- plain scikit-learn: ``TfidfVectorizer()`` + one-vs-rest ``LogisticRegression()``, defaults,
  0.5 thresholds;
- fastText supervised (``fasttext-numpy2``, one-vs-all loss, word bigrams), when the ``bench``
  extra is installed.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fasttext_or_none, recipe_module, shared_folder  # noqa: E402

import threatclf  # noqa: E402
from threatclf.evaluate import score_predictions  # noqa: E402
from threatclf.labels import to_indicator  # noqa: E402


def fasttext_predict(fasttext, train_texts, train_labels, texts, labels):
    """Train fastText (one-vs-all) and return 0/1 predictions and probabilities."""
    clean = lambda t: " ".join(t.split())  # noqa: E731 -- fastText reads one example per line
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as handle:
        for text, names in zip(train_texts, train_labels):
            tags = " ".join(f"__label__{n}" for n in names) or "__label__none"
            handle.write(f"{tags} {clean(text)}\n")
    model = fasttext.train_supervised(handle.name, loss="ova", epoch=25, lr=0.5, wordNgrams=2, minCount=1,
                                      thread=1, seed=0, verbose=0)  # one thread: the same model every run
    Path(handle.name).unlink()
    proba = np.zeros((len(texts), len(labels)))
    names, probs = model.predict([clean(t) for t in texts], k=-1, threshold=0.0)
    index = {f"__label__{n}": j for j, n in enumerate(labels)}
    for i, (row_names, row_probs) in enumerate(zip(names, probs)):
        for name, p in zip(row_names, row_probs):
            if name in index:
                proba[i, index[name]] = p
    return (proba >= 0.5).astype(int), proba


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--shared")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    shared = shared_folder(args.shared)
    recipe_tools = recipe_module()
    recipe = json.loads((recipe_tools.HERE / "threat-default.recipe.json").read_text())
    dev = recipe_tools.load_part(recipe["dev_data"], shared)
    train = recipe_tools.without_documents_of(
        [row for part in recipe["training_data"] for row in recipe_tools.load_part(part, shared)], dev, shared)
    train_texts, train_labels = [r["text"] for r in train], [r["labels"] for r in train]
    dev_texts = [r["text"] for r in dev]
    labels = list(threatclf.DEFAULT_LABELS)
    truth = to_indicator([r["labels"] for r in dev], labels)
    print(f"train {len(train)} rows ({recipe_tools.describe(recipe['training_data'])}); dev {len(dev)} rows", file=sys.stderr)

    results = {}
    started = time.perf_counter()
    model = recipe_tools.fit_recipe(recipe, train, shared, n_jobs=2)
    proba = model.predict_proba(dev_texts).to_numpy()
    results["threatclf (default recipe)"] = (score_predictions(truth, proba >= model.thresholds_, proba, labels),
                                             time.perf_counter() - started)

    started = time.perf_counter()
    plain = make_pipeline(TfidfVectorizer(), OneVsRestClassifier(LogisticRegression()))
    plain.fit(train_texts, to_indicator(train_labels, labels))
    proba = plain.predict_proba(dev_texts)
    results["plain TF-IDF + LogisticRegression"] = (score_predictions(truth, proba >= 0.5, proba, labels),
                                                    time.perf_counter() - started)

    fasttext = fasttext_or_none()
    if fasttext is not None:
        started = time.perf_counter()
        predicted, proba = fasttext_predict(fasttext, train_texts, train_labels, dev_texts, labels)
        results["fastText supervised (ova)"] = (score_predictions(truth, predicted, proba, labels),
                                                time.perf_counter() - started)

    header = "| system | macro-F1 | micro-F1 | " + " | ".join(labels) + " | train s |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, (result, seconds) in results.items():
        per_label = " | ".join(f"{result.per_label.loc[label, 'f1']:.3f}" for label in labels)
        print(f"| {name} | **{result.macro_f1:.3f}** | {result.micro_f1:.3f} | {per_label} | {seconds:.0f} |")
    base = results["plain TF-IDF + LogisticRegression"][0].macro_f1
    print(f"\nmacro-F1 ratio threatclf / plain: {results['threatclf (default recipe)'][0].macro_f1 / base:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({k: r.to_dict() for k, (r, _) in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

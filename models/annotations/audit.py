"""A blind audit of a model's labels on the article corpus: how often is a label it gives right?

    python models/annotations/audit.py draw --work DIR      # batches outside the repository
    # annotators write DIR/batchB.labels.jsonl ({"key", "labels"}) for every DIR/batchB.jsonl
    python models/annotations/audit.py collect --work DIR   # writes corpus-audit-N.jsonl, prints figures
    python models/annotations/audit.py score corpus-audit-1.jsonl

The dev set says how a model does on passages sampled as the held-out set was; users label
whole articles cut into passages by ``split_passages``. ``draw`` cuts corpus articles as
``threatclf label`` does (``--cut label``), only articles no training row comes from
(``--articles unseen``: the fourth session of experiments.md showed how much a passage's
neighbours in training flatter it), scores the passages with the model, and draws, per label,
``--per-label`` passages the model gives that label (one per article), plus ``--random``
passages at random and ``--gold`` hidden dev passages to measure the annotators. The
annotators see the texts only — no stratum, no model output — and label every passage under
the codebook. ``score`` gives each label's precision on its stratum with a 95 % Wilson
interval, and how the model and the annotators agree on the random passages.

Audit 2 was drawn with the defaults, before round 22 (whose articles now count as seen: 15,918
articles are left where it had 16,918). Audit 1 came from a first version of this procedure: the
equivalent of ``--cut paragraphs --articles all --seed 2411`` before round 22, with its hidden
dev passages drawn otherwise.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from rounds import known_texts, read_answers, work_folder, write_batches  # noqa: E402
from train_default import corpus_articles, read_jsonl, shared_folder, source_articles  # noqa: E402

from threatclf.text import split_passages  # noqa: E402


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion k/n (sound at 45/50, where the normal one is not)."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre, half = p + z * z / (2 * n), z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def audit_figures(rows: list[dict], labels: list[str]) -> dict:
    """Precision per label on its ``positive-<label>`` stratum; agreement on the ``random`` one."""
    figures = {"precision": {}, "random": {}}
    for label in labels:
        stratum = [r for r in rows if r["stratum"] == f"positive-{label}"]
        if any(label not in r["predicted"] for r in stratum):
            raise ValueError(f"a row of stratum positive-{label} was not given {label} by the model")
        right = sum(label in r["labels"] for r in stratum)
        low, high = wilson(right, len(stratum))
        figures["precision"][label] = {"right": right, "n": len(stratum), "precision": right / len(stratum)
                                       if stratum else float("nan"), "low": low, "high": high}
    drawn = [r for r in rows if r["stratum"] == "random"]
    figures["random"] = {
        "n": len(drawn),
        "same_label_set": sum(set(r["labels"]) == set(r["predicted"]) for r in drawn),
        "labelled_by_annotators": {lab: sum(lab in r["labels"] for r in drawn) for lab in labels},
        "labelled_by_model": {lab: sum(lab in r["predicted"] for r in drawn) for lab in labels},
    }
    return figures


def report(figures: dict) -> str:
    lines = ["| label | right / drawn | precision | 95 % interval |", "|---|---|---|---|"]
    for label, f in figures["precision"].items():
        if f["n"]:
            lines.append(f"| {label} | {f['right']} / {f['n']} | {f['precision']:.2f} | "
                         f"{f['low']:.2f}-{f['high']:.2f} |")
        else:
            lines.append(f"| {label} | 0 / 0 | (no passage drawn) | |")
    drawn = figures["random"]
    if drawn["n"]:
        lines.append(f"\nrandom passages: {drawn['n']}; the model and the annotators gave the same label set to "
                     f"{drawn['same_label_set']} ({drawn['same_label_set'] / drawn['n']:.1%}); labelled by the "
                     f"annotators {drawn['labelled_by_annotators']}, by the model {drawn['labelled_by_model']}")
    return "\n".join(lines)


def draw(args, shared: Path) -> int:
    from threatclf import load_model

    work = work_folder(args.work)
    passages = shared / "threat-passages"
    known = known_texts(passages)
    rounds = [r for f in HERE.glob("corpus-passages-r*.jsonl") for r in read_jsonl(f)]
    annotated = {(r["article_id"], r["start"]) for r in rounds}
    seen = set()  # articles any training row came from: their other passages are the model's neighbours
    if args.articles == "unseen":
        data = [r for f in ("train.jsonl", "dev.jsonl", "train-active.jsonl") for r in read_jsonl(passages / f)]
        seen = {r["article_id"] for r in rounds}.union(*source_articles(data, shared))
        print(f"{len(seen)} articles hold a training row; drawing from the others")
    candidates = []
    for article in corpus_articles(shared):
        text = article["text"] or ""
        if article["id"] in seen:
            continue
        # "label": the passages `threatclf label` scores (short paragraphs merged up to 12 words);
        # "paragraphs": each paragraph alone, 4-140 words, as the annotation rounds cut them (audit 1)
        for p in split_passages(text) if args.cut == "label" else split_passages(text, min_words=1):
            passage = text[p.start:p.end]
            words = passage.split()
            if args.cut == "paragraphs" and not 4 <= len(words) <= 140:
                continue
            if (article["id"], p.start) not in annotated and " ".join(words) not in known:
                candidates.append((article["id"], article["source"], p.start, p.end, passage))
    model = load_model(args.model)
    proba = model.predict_proba([c[4] for c in candidates]).to_numpy()
    given = proba >= np.asarray(model.thresholds_)
    print(f"{len(candidates)} passages; given each label: {dict(zip(model.labels_, given.sum(axis=0).tolist()))}")
    rng = random.Random(args.seed)
    chosen: dict[int, str] = {}
    for j, label in enumerate(model.labels_):
        order = np.flatnonzero(given[:, j]).tolist()
        rng.shuffle(order)
        articles: set = set()
        for i in order:
            if len(articles) == args.per_label:
                break
            if candidates[i][0] not in articles and i not in chosen:
                chosen[i] = f"positive-{label}"
                articles.add(candidates[i][0])
    order = list(range(len(candidates)))
    rng.shuffle(order)
    drawn = 0
    for i in order:
        if drawn == args.random:
            break
        if i not in chosen:
            chosen[i] = "random"
            drawn += 1
    items = [{"stratum": stratum, "article_id": candidates[i][0], "source": candidates[i][1],
              "start": candidates[i][2], "end": candidates[i][3], "text": candidates[i][4],
              "proba": dict(zip(model.labels_, proba[i].round(4).tolist())),
              "predicted": [lab for lab, g in zip(model.labels_, given[i]) if g]} for i, stratum in chosen.items()]
    args.round = f"audit{args.audit}"
    return write_batches(args, work, items, read_jsonl(passages / "dev.jsonl"), rng)


def collect(args) -> int:
    from sklearn.metrics import f1_score

    from threatclf.labels import DEFAULT_LABELS

    labels = list(DEFAULT_LABELS)
    new, G, A = read_answers(Path(args.work), labels)
    rows = [{"article_id": item["article_id"], "start": item["start"], "end": item["end"], "stratum": item["stratum"],
             "predicted": item["predicted"], "proba": item["proba"], "labels": names, "batch": item["batch"]}
            for item, names in new]
    out = HERE / f"corpus-audit-{args.audit}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {out} ({len(rows)} passages)")
    if len(G):
        present = G.sum(axis=0) > 0
        print(f"agreement with the human labels on {len(G)} hidden dev passages: macro-F1 "
              f"{f1_score(G[:, present], A[:, present], average='macro', zero_division=0):.3f} over the "
              f"{int(present.sum())} labels they hold; same label set {np.mean((G == A).all(axis=1)):.1%}")
    print(report(audit_figures(rows, labels)))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["draw", "collect", "score"])
    parser.add_argument("file", nargs="?", help="score: a corpus-audit-N.jsonl")
    parser.add_argument("--audit", type=int, default=1, help="the audit's number (file corpus-audit-N.jsonl)")
    parser.add_argument("--work", help="folder for batch files, outside the repository")
    parser.add_argument("--shared")
    parser.add_argument("--model", help="model folder to audit (default: the bundled model)")
    parser.add_argument("--per-label", type=int, default=50)
    parser.add_argument("--random", type=int, default=150)
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--gold", type=int, default=20, help="hidden dev passages per batch")
    parser.add_argument("--seed", type=int, default=2412)
    parser.add_argument("--cut", choices=["label", "paragraphs"], default="label",
                        help="draw: passages as `threatclf label` cuts them, or single paragraphs "
                             "(audit 1: --cut paragraphs --articles all --seed 2411)")
    parser.add_argument("--articles", choices=["unseen", "all"], default="unseen",
                        help="draw: only from articles no training row comes from (audit 2), or from all")
    args = parser.parse_args(argv)
    if args.command == "score":
        if not args.file:
            parser.error("score needs the audit file")
        from threatclf.labels import DEFAULT_LABELS

        print(report(audit_figures(read_jsonl(Path(args.file)), list(DEFAULT_LABELS))))
        return 0
    if not args.work:
        parser.error(f"{args.command} needs --work")
    return draw(args, shared_folder(args.shared)) if args.command == "draw" else collect(args)


if __name__ == "__main__":
    sys.exit(main())

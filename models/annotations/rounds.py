"""Draw passages for an annotation round and collect the labels back (rounds 4-22).

    python models/annotations/rounds.py draw --round 8 --work /tmp/round8 [--n 1800 --batches 6 --gold 40]
    # annotators write WORK/batchB.labels.jsonl ({"key", "labels"}) for every WORK/batchB.jsonl
    python models/annotations/rounds.py collect --round 8 --work /tmp/round8

``draw`` samples corpus passages the way the data set's train/dev passages were sampled: each
source gets its share of ``train.jsonl``; within a source half the passages come from articles
with a broad keyword hit (used only to choose, never to label) and half at random; one passage
per article, 4-140 words, skipping articles of earlier rounds and texts already annotated.
``--gold`` dev passages (human labels) are hidden in every batch. The batch files hold
third-party text: WORK must be outside the repository.

``--select model-band`` (rounds 9-18, 20-21) targets the model's confusions instead: every passage of
the corpus not annotated before (other passages of a used article may be drawn) is scored by
``--model`` (default: the bundled model); for each label an equal share is drawn at random among
passages whose probability for that label lies in ``--band`` (default 0.1-0.9), at most
``--per-article`` (default 1) per article, each passage once. ``--skip-dev-documents`` (round 18 on)
draws nothing from corpus articles that hold a dev passage, so every new row can train the fits
that are scored on dev.

``--source NAME`` (round 22) draws from one source only, its whole ``--n`` (the plain half makes
up a short keyword half), with that source's dev passages as the hidden gold ones. No draw takes
an article of an audit (``corpus-audit-*.jsonl``): those rows measure models.

``--select model-miss`` (round 19) looks where the model may be wrong without knowing it: for each
label, passages that use one of the label's keywords (``LABEL_KEYWORDS``) but score below the
band's lower end for it — the passages about a threat that the model misses with confidence, and
the keyword uses in passing ("drug prices") it is right to pass over.
Labels are still given by reading, under the codebook::

    python models/annotations/rounds.py draw --round 13 --select model-band --model /tmp/m12 \
        --n 2400 --batches 8 --gold 35 --work /tmp/round13

``collect`` checks every batch (same keys, same order, known labels), writes
``corpus-passages-rN.jsonl`` here (article id + offsets + labels, no text) and prints the
annotators' agreement with the human labels on the hidden gold passages.
"""
from __future__ import annotations

import argparse
import collections
import json
import random
import re
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE.parent))

from train_default import corpus_articles, read_jsonl, shared_folder, source_articles  # noqa: E402

from threatclf.labels import DEFAULT_LABELS  # noqa: E402
from threatclf.text import split_passages  # noqa: E402

KEYWORDS = re.compile(
    r"terror|bomb|militan|insurg|extremis|jihad|maoist|hostage|guerr|rebel|cartel|gang|mafia|smuggl|traffick|"
    r"launder|extort|kidnap|drug|cocaine|heroin|narco|opium|marijuana|fentanyl|meth|bribe|corrupt|embezzl|graft|"
    r"kickback|propaganda|disinform|interfer|espionage|\bspy|spies|agent|influence|hybrid|kremlin|intelligence", re.I)

# Per label, words a passage about the threat is likely to use; ``--select model-miss`` draws
# passages that use them but that the model scores low (used only to choose, never to label).
LABEL_KEYWORDS = {
    "terrorism": r"terror|bomb|militan|insurg|extremis|jihad|maoist|naxal|hostage|guerr|rebel|suicide|\bIEDs?\b|"
                 r"explosive|qaeda|\bisis\b|islamic state|taliban|farc|\beln\b|hamas|hezbollah|boko|shabaab",
    "organized_crime": r"cartel|gang|mafia|syndicate|smuggl|traffick|launder|extort|racket|kidnap|"
                       r"criminal (network|group|organi[sz]ation)|organi[sz]ed crime|\bclan\b|mob\b|triad",
    "drug_trafficking": r"drug|cocaine|heroin|narco|opium|poppy|marijuana|cannabis|fentanyl|\bmeth|\bcoca\b|"
                        r"\blsd\b|ecstasy|methamphetamine|hashish|smuggl",
    "corruption": r"brib|corrupt|embezzl|graft|kickback|nepotis|crony|misappropriat|fraud|abuse of (power|office)|"
                  r"siphon|rigg|laundering",
    "foreign_influence": r"propaganda|disinform|interfer|espionage|\bspy|spies|spying|agent|influence|hybrid|"
                         r"meddl|colou?r revolution|regime change|destabili|intelligence|covert|fake news|kremlin",
}


def work_folder(given: str) -> Path:
    """The folder for batch files, made; never inside the repository (they hold third-party text)."""
    work = Path(given)
    if HERE.parent.parent in work.resolve().parents:
        sys.exit("--work must be outside the repository: batch files hold third-party text")
    work.mkdir(parents=True, exist_ok=True)
    return work


def known_texts(passages: Path) -> set[str]:
    """The data set's passages, white space collapsed: never drawn again."""
    return {" ".join(r["text"].split()) for f in ("train.jsonl", "dev.jsonl", "train-active.jsonl")
            for r in read_jsonl(passages / f)}


def draw(args, shared: Path) -> int:
    work = work_folder(args.work)
    passages = shared / "threat-passages"
    train, dev = read_jsonl(passages / "train.jsonl"), read_jsonl(passages / "dev.jsonl")
    known = known_texts(passages)
    earlier = [r for f in HERE.glob("corpus-passages-r*.jsonl") for r in read_jsonl(f)]
    rng = random.Random(args.round * 101)
    skipped = set().union(*source_articles(dev, shared)) if args.skip_dev_documents else set()
    # the audits' articles are never drawn: their rows measure models, and must not train them
    skipped |= {r["article_id"] for f in HERE.glob("corpus-audit-*.jsonl") for r in read_jsonl(f)}
    if args.source:  # one source's passages, and its dev passages as the hidden gold ones
        if args.select != "source-matched":
            sys.exit(f"--source works with --select source-matched only, not {args.select}")
        dev = [r for r in dev if r["source"] == args.source]
    if args.select in ("model-band", "model-miss"):
        chosen = draw_model_band(args, shared, known, {(r["article_id"], r["start"]) for r in earlier}, rng, skipped)
        return write_batches(args, work, chosen, dev, rng)
    used = {r["article_id"] for r in earlier} | skipped
    share = collections.Counter(r["source"] for r in train)
    want = {s: max(4, round(args.n * c / len(train))) for s, c in share.items()}
    if args.source:
        if args.source not in want:
            sys.exit(f"--source {args.source}: no train.jsonl passage comes from it")
        want = {args.source: args.n}
    pool = collections.defaultdict(lambda: {"kw": [], "plain": []})
    for article in corpus_articles(shared):
        text = article["text"] or ""
        if article["id"] in used or article["source"] not in want:
            continue
        spans = [(p.start, p.end) for p in split_passages(text, min_words=1)]
        spans = [(s, e) for s, e in spans if 4 <= len(text[s:e].split()) <= 140 and " ".join(text[s:e].split()) not in known]
        if not spans:
            continue
        s, e = rng.choice(spans)
        pool[article["source"]]["plain"].append((article["id"], s, e, text[s:e]))
        hits = [(s, e) for s, e in spans if KEYWORDS.search(text[s:e])]
        if hits:
            s, e = rng.choice(hits)
            pool[article["source"]]["kw"].append((article["id"], s, e, text[s:e]))
    chosen, taken = [], set()
    for source, n in want.items():
        for kind, k in (("kw", n // 2), ("plain", n - n // 2)):
            if kind == "plain" and args.source:  # one source: the plain half makes up a short keyword half
                k = n - sum(c["source"] == source for c in chosen)
            candidates = [c for c in pool[source][kind] if c[0] not in taken]
            for c in rng.sample(candidates, min(k, len(candidates))):
                chosen.append({"source": source, "selection": f"source-matched-{kind}", "article_id": c[0],
                               "start": c[1], "end": c[2], "text": c[3]})
                taken.add(c[0])
    return write_batches(args, work, chosen, dev, rng)


def draw_model_band(args, shared: Path, known: set, annotated: set, rng: random.Random,
                    skipped: set = frozenset()) -> list[dict]:
    """Per label, an equal share of passages whose probability lies in the band, or (model-miss)
    that use the label's keywords but score below the band (see above)."""
    from threatclf import load_model

    lo, hi = (float(x) for x in args.band.split(","))
    candidates = []
    for article in corpus_articles(shared):
        text = article["text"] or ""
        if article["id"] in skipped:
            continue
        for p in split_passages(text, min_words=1):
            passage = text[p.start:p.end]
            words = passage.split()
            if 4 <= len(words) <= 140 and (article["id"], p.start) not in annotated and " ".join(words) not in known:
                candidates.append((article["id"], article["source"], p.start, p.end, passage))
    model = load_model(args.model)
    proba = model.predict_proba([c[4] for c in candidates]).to_numpy()
    chosen, taken, drawn = [], collections.Counter(), set()
    for j, label in enumerate(model.labels):
        if args.select == "model-miss":
            words = re.compile(LABEL_KEYWORDS[label], re.I)
            in_band = [i for i in np.flatnonzero(proba[:, j] < lo) if words.search(candidates[i][4])]
        else:
            in_band = np.flatnonzero((proba[:, j] >= lo) & (proba[:, j] <= hi)).tolist()
        rng.shuffle(in_band)
        picked = 0
        for i in in_band:
            if picked == args.n // len(model.labels):
                break
            article_id, source, start, end, text = candidates[i]
            if taken[article_id] >= args.per_article or i in drawn:
                continue  # a passage in the band of two labels is drawn once
            chosen.append({"source": source, "selection": f"{args.select}-{label}", "article_id": article_id,
                           "start": start, "end": end, "text": text})
            taken[article_id] += 1
            drawn.add(i)
            picked += 1
        print(f"{label}: {len(in_band)} passages {'missed' if args.select == 'model-miss' else 'in the band'}, {picked} drawn")
    return chosen


def write_batches(args, work: Path, chosen: list[dict], dev: list[dict], rng: random.Random) -> int:
    rng.shuffle(chosen)
    golds = rng.sample(dev, args.batches * args.gold)
    per = -(-len(chosen) // args.batches)
    manifest = []
    for b in range(args.batches):
        items = [{**c, "kind": "new"} for c in chosen[b * per:(b + 1) * per]]
        items += [{"kind": "gold", "dev_id": g["id"], "gold": g["labels"], "text": g["text"]}
                  for g in golds[b * args.gold:(b + 1) * args.gold]]
        rng.shuffle(items)
        with open(work / f"batch{b}.jsonl", "w", encoding="utf-8") as handle:
            for k, item in enumerate(items):
                item.update(key=f"r{args.round}b{b}-{k:04d}", batch=b)
                handle.write(json.dumps({"key": item["key"], "text": item["text"]}, ensure_ascii=False) + "\n")
                manifest.append({k2: v for k2, v in item.items() if k2 != "text"})
    (work / "manifest.json").write_text(json.dumps(manifest))
    print(f"{len(chosen)} passages + {len(golds)} gold in {args.batches} batches under {work}")
    return 0


def read_answers(work: Path, labels: list[str]) -> tuple[list[tuple[dict, list[str]]], np.ndarray, np.ndarray]:
    """The annotators' answers for every batch in ``work``, checked (same keys in the same order as
    the batch, known labels): each new passage's manifest item with its labels, then the human and
    the annotators' labels of the hidden gold passages as indicator arrays."""
    manifest = {m["key"]: m for m in json.loads((work / "manifest.json").read_text())}
    new, gold, given = [], [], []
    for b in sorted({m["batch"] for m in manifest.values()}):
        keys = [r["key"] for r in read_jsonl(work / f"batch{b}.jsonl")]
        answers = read_jsonl(work / f"batch{b}.labels.jsonl")
        if keys != [a["key"] for a in answers]:
            sys.exit(f"batch{b}.labels.jsonl: keys differ from batch{b}.jsonl (missing, extra or out of order)")
        for answer in answers:
            unknown = set(answer["labels"]) - set(labels)
            if unknown:
                sys.exit(f"batch{b}.labels.jsonl key {answer['key']}: unknown labels {sorted(unknown)}")
            item = manifest[answer["key"]]
            names = sorted(set(answer["labels"]), key=labels.index)
            if item["kind"] == "gold":
                gold.append([int(n in item["gold"]) for n in labels])
                given.append([int(n in names) for n in labels])
            else:
                new.append((item, names))
    return new, np.array(gold).reshape(-1, len(labels)), np.array(given).reshape(-1, len(labels))


def collect(args, shared: Path) -> int:
    from sklearn.metrics import cohen_kappa_score, f1_score

    labels = list(DEFAULT_LABELS)
    new, G, A = read_answers(Path(args.work), labels)
    rows = [{"article_id": item["article_id"], "start": item["start"], "end": item["end"], "labels": names,
             "selection": item["selection"], "batch": item["batch"]} for item, names in new]
    out = HERE / f"corpus-passages-r{args.round}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {out} ({len(rows)} passages)")
    if len(G):
        kappa = ", ".join(f"{n} {cohen_kappa_score(G[:, j], A[:, j]):.2f}" for j, n in enumerate(labels))
        print(f"agreement with the human labels on {len(G)} hidden dev passages: kappa {kappa}; "
              f"macro-F1 {f1_score(G, A, average='macro', zero_division=0):.3f}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["draw", "collect"])
    parser.add_argument("--round", type=int, required=True)
    parser.add_argument("--work", required=True, help="folder for batch files, outside the repository")
    parser.add_argument("--shared")
    parser.add_argument("--n", type=int, default=1800)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--gold", type=int, default=40, help="hidden dev passages per batch")
    parser.add_argument("--select", choices=["source-matched", "model-band", "model-miss"], default="source-matched")
    parser.add_argument("--band", default="0.1,0.9", help="model-band: probability range, 'low,high'")
    parser.add_argument("--model", help="model-band: model folder to score with (default: the bundled model)")
    parser.add_argument("--per-article", type=int, default=1, help="model-band: passages drawn per article at most")
    parser.add_argument("--source", help="source-matched: draw from this source only (round 22: euvsdisinfo), with "
                                         "hidden gold passages from its dev passages")
    parser.add_argument("--skip-dev-documents", action="store_true",
                        help="draw nothing from corpus articles that hold a dev passage (from round 18 on), "
                             "so that every new row can train the fits scored on dev")
    args = parser.parse_args(argv)
    shared = shared_folder(args.shared)
    return draw(args, shared) if args.command == "draw" else collect(args, shared)


if __name__ == "__main__":
    sys.exit(main())

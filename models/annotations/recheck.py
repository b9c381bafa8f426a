r"""Re-check one label of earlier annotation rounds under sharper guidance, and apply the answers.

    python models/annotations/recheck.py draw --name c1-drug_trafficking --label drug_trafficking --rows without \
        --words '\bdrug|narco|cocaine|heroin|marijuana|cannabis|fentanyl|\bmeth\b|methamphetamine|opium|opioid|\bcartel|traffick' \
        --batches 4 --work /tmp/c1
    # annotators write WORK/batchB.labels.jsonl ({"key", "<label>": true/false}) for every WORK/batchB.jsonl
    python models/annotations/recheck.py collect --name c1-drug_trafficking --work /tmp/c1

Why: the annotators of the rounds agree with the human labels at macro-F1 0.93 overall, but not
evenly — on the hidden dev passages they gave drug_trafficking to 204 passages where the humans
gave it to 231 (precision 1.00, recall 0.88), and corruption to 234 where the humans gave it to
210. A bias like that is learned by the model (drug_trafficking is missed, corruption
over-called). A recheck asks one yes/no question per row — does ``--label`` apply? — of the
rows of the recipe's rounds that carry the label (``--rows with``) or lack it (``--rows
without``), optionally only those whose text matches ``--words`` (used only to choose rows,
never to label), with guidance written from how the human labels of ``train.jsonl`` apply the
codebook (``recheck-<name>.md``). Hidden among them are the dev passages that carry the label
or match the words; ``collect`` prints the annotators' precision and recall against the human
labels there, next to the same figures for the rounds' original annotations of those passages
when given (``--before P,R``), so a recheck is adopted only when it moves the annotations
toward the human labels.

``collect`` writes ``recheck-<name>.jsonl`` here (one line per re-checked row: round, article
id, offsets, label, before, after) and rewrites the rounds' ``corpus-passages-rN.jsonl`` files
with the answers (``--dry-run``: figures only). The batch files hold third-party text: WORK must
be outside the repository.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
sys.path.insert(0, str(HERE.parent))

from train_default import corpus_texts, read_jsonl, shared_folder  # noqa: E402

from threatclf.labels import DEFAULT_LABELS  # noqa: E402


def recipe_rounds(recipe_path: Path) -> list[Path]:
    """The annotation round files a recipe trains on."""
    recipe = json.loads(recipe_path.read_text())
    return [HERE.parent / part["annotations"] for part in recipe["training_data"] if "annotations" in part]


def round_number(path: Path) -> int:
    return int(path.stem.removeprefix("corpus-passages-r"))


def draw(args, shared: Path) -> int:
    work = Path(args.work)
    if HERE.parent.parent in work.resolve().parents:
        sys.exit("--work must be outside the repository: batch files hold third-party text")
    work.mkdir(parents=True, exist_ok=True)
    words = re.compile(args.words, re.I) if args.words else None
    corpus = corpus_texts(shared)
    items = []
    for path in recipe_rounds(Path(args.recipe)):
        for row in read_jsonl(path):
            if (args.label in row["labels"]) != (args.rows == "with"):
                continue
            text = corpus[row["article_id"]][row["start"]:row["end"]]
            if words and not words.search(text):
                continue
            items.append({"kind": "new", "round": round_number(path), "article_id": row["article_id"],
                          "start": row["start"], "end": row["end"], "before": args.label in row["labels"],
                          "text": text})
    dev = read_jsonl(shared / "threat-passages" / "dev.jsonl")
    gold = [{"kind": "gold", "dev_id": d["id"], "gold": args.label in d["labels"], "text": d["text"]}
            for d in dev if args.label in d["labels"] or (words and words.search(d["text"]))]
    rng = random.Random(args.seed)
    everything = items + gold
    rng.shuffle(everything)
    manifest = []
    for b in range(args.batches):
        with open(work / f"batch{b}.jsonl", "w", encoding="utf-8") as handle:
            for k, item in enumerate(everything[b::args.batches]):
                item.update(key=f"{args.name}-b{b}-{k:04d}", batch=b)
                handle.write(json.dumps({"key": item["key"], "text": item["text"]}, ensure_ascii=False) + "\n")
                manifest.append({key: value for key, value in item.items() if key != "text"})
    (work / "manifest.json").write_text(json.dumps({"name": args.name, "label": args.label, "items": manifest}))
    print(f"{len(items)} rows to re-check + {len(gold)} hidden dev passages "
          f"({sum(g['gold'] for g in gold)} with {args.label}) in {args.batches} batches under {work}")
    return 0


def answers(work: Path, manifest: dict) -> dict[str, bool]:
    """Every batch's answers by key, checked: same keys in the same order, a true/false each."""
    label, given = manifest["label"], {}
    for b in sorted({item["batch"] for item in manifest["items"]}):
        keys = [r["key"] for r in read_jsonl(work / f"batch{b}.jsonl")]
        rows = read_jsonl(work / f"batch{b}.labels.jsonl")
        if keys != [r.get("key") for r in rows]:
            sys.exit(f"batch{b}.labels.jsonl: keys differ from batch{b}.jsonl (missing, extra or out of order)")
        for line, row in enumerate(rows, 1):
            if not isinstance(row.get(label), bool):
                sys.exit(f"batch{b}.labels.jsonl line {line}: {label!r} must be true or false, got {row.get(label)!r}")
            given[row["key"]] = row[label]
    return given


def collect(args, shared: Path) -> int:
    work = Path(args.work)
    manifest = json.loads((work / "manifest.json").read_text())
    if manifest["name"] != args.name:
        sys.exit(f"{work}/manifest.json was drawn as {manifest['name']!r}, not {args.name!r}")
    label, given = manifest["label"], answers(work, manifest)
    items = {item["key"]: item for item in manifest["items"]}
    gold = [(items[k]["gold"], v) for k, v in given.items() if items[k]["kind"] == "gold"]
    if gold:
        tp = sum(g and a for g, a in gold)
        precision = tp / max(1, sum(a for _, a in gold))
        recall = tp / max(1, sum(g for g, _ in gold))
        f1 = 2 * precision * recall / max(1e-12, precision + recall)
        print(f"{label} on {len(gold)} hidden dev passages: precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}"
              + (f" (the rounds' own annotations: precision, recall {args.before})" if args.before else ""))
    record = [{"round": items[k]["round"], "article_id": items[k]["article_id"], "start": items[k]["start"],
               "end": items[k]["end"], "label": label, "before": items[k]["before"], "after": v}
              for k, v in given.items() if items[k]["kind"] == "new"]
    record.sort(key=lambda r: (r["round"], r["article_id"], r["start"]))
    changed = [r for r in record if r["before"] != r["after"]]
    print(f"{len(record)} rows re-checked, {len(changed)} changed")
    if args.dry_run:
        return 0
    folder = Path(args.annotations)
    apply_record(changed, folder)
    out = folder / f"recheck-{args.name}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in record))
    print(f"wrote {out}; rewrote the round files of {len({r['round'] for r in changed})} rounds")
    return 0


def apply_record(changed: list[dict], folder: Path = HERE) -> None:
    """Set or clear each changed row's label in its round file under ``folder`` (label order kept
    canonical). Every file is checked before any is written; a passage drawn twice in a round
    is matched by its label as it was when re-checked."""
    order = list(DEFAULT_LABELS)
    by_round: dict[int, dict] = {}
    for r in changed:
        by_round.setdefault(r["round"], {}).setdefault((r["article_id"], r["start"], r["end"]), []).append(r)
    contents = {}
    for number, fixes in sorted(by_round.items()):
        path = folder / f"corpus-passages-r{number}.jsonl"
        lines = []
        for row in read_jsonl(path):
            pending = fixes.get((row["article_id"], row["start"], row["end"]), [])
            fix = next((f for f in pending if (f["label"] in row["labels"]) == f["before"]), None)
            if fix is not None:
                pending.remove(fix)
                names = set(row["labels"]) - {fix["label"]} | ({fix["label"]} if fix["after"] else set())
                row["labels"] = sorted(names, key=order.index)
            lines.append(json.dumps(row) + "\n")
        left = [f for pending in fixes.values() for f in pending]
        if left:
            sys.exit(f"{path.name}: {len(left)} re-checked rows are not in the file with {left[0]['label']}="
                     f"{left[0]['before']}, e.g. {left[0]['article_id']} {left[0]['start']}-{left[0]['end']}; "
                     "was the recheck applied already?")
        contents[path] = "".join(lines)
    for path, text in contents.items():
        path.write_text(text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["draw", "collect"])
    parser.add_argument("--name", required=True, help="the recheck's name, e.g. c1-drug_trafficking")
    parser.add_argument("--work", required=True, help="folder for batch files, outside the repository")
    parser.add_argument("--shared")
    parser.add_argument("--label", choices=list(DEFAULT_LABELS), help="draw: the label to re-check")
    parser.add_argument("--rows", choices=["with", "without"], help="draw: re-check the rows with the label, or without it")
    parser.add_argument("--words", help="draw: only rows (and hidden dev passages) whose text matches this regex")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--recipe", default=str(HERE.parent / "threat-default.recipe.json"),
                        help="draw: the recipe whose annotation rounds are re-checked")
    parser.add_argument("--before", help="collect: the rounds' own precision,recall on the same dev passages, to print beside")
    parser.add_argument("--annotations", default=str(HERE),
                        help="collect: the folder of the round files to rewrite and of the record (default: here)")
    parser.add_argument("--dry-run", action="store_true", help="collect: print the figures, write nothing")
    args = parser.parse_args(argv)
    if args.command == "draw" and not (args.label and args.rows):
        parser.error("draw needs --label and --rows")
    shared = shared_folder(args.shared)
    return draw(args, shared) if args.command == "draw" else collect(args, shared)


if __name__ == "__main__":
    sys.exit(main())

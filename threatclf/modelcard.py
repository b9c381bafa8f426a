"""The model card: a README.md generated into every model folder from its metadata."""
from __future__ import annotations

from .evaluate import FEW_POSITIVES, format_figure, seen_in_training_note
from .labels import LABEL_DEFINITIONS
from .thresholds import threshold_rule

__all__ = ["render_model_card"]


def _metrics_table(figures: dict) -> list[str]:
    rows = ["| label | precision | recall | F1 | PR-AUC | support |", "|---|---|---|---|---|---|"]
    for label, f in figures.get("labels", {}).items():
        rows.append(f"| {label} | {format_figure(f.get('precision'))} | {format_figure(f.get('recall'))} | {format_figure(f.get('f1'))} "
                    f"| {format_figure(f.get('pr_auc'))} | {f['support']} |")
    rows.append(f"| **macro F1** | | | **{format_figure(figures['macro_f1'])}** | | {figures.get('n_samples', '')} |")
    rows.append(f"| micro F1 | | | {format_figure(figures['micro_f1'])} | | |")
    if isinstance(figures.get("calibration_error"), (int, float)):
        rows += ["", f"Calibration error {figures['calibration_error']:.3f}: the mean gap between the predicted "
                     "probabilities and how often the labels were there (0: probabilities mean what they say), "
                     "weighted by rows: most rows score near 0, so a gap in the middle of the range counts for "
                     "little here (`threatclf.reliability` shows each range)."]
    return rows


def render_model_card(metadata: dict, extra: str | None = None) -> str:
    """Markdown describing a saved model: use, labels, data, figures, limits, loading."""
    name = metadata.get("name") or "threatclf model"
    labels = metadata["labels"]
    definitions = metadata.get("label_definitions") or {}
    # the codebook's labels with the codebook's meanings, or labels (some) of the trainer's own
    codebook_only = all(lab in LABEL_DEFINITIONS and definitions.get(lab) == LABEL_DEFINITIONS[lab] for lab in labels)
    lines = [
        f"# {name}",
        "",
        "A [threatclf](https://pypi.org/project/threatclf/) model: TF-IDF features and one linear model "
        "per label, multi-label (a passage may get several labels, or none).",
        "",
        "## Intended use",
        "",
        metadata.get("intended_use")
        or ("Tagging news passages (a headline with its lead, a paragraph, or up to ~130 words) with the "
            + ("threat topics they report on" if codebook_only else
               f"categories its trainer defined ({', '.join(labels)})")
            + ", to find and count such passages in large corpora. Labels are leads for a human reader, "
            "not findings: check the evidence before relying on one."),
        "",
        "## Labels",
        "",
        "| label | threshold | definition |",
        "|---|---|---|",
    ]
    for label in labels:
        definition = definitions.get(label) or LABEL_DEFINITIONS.get(label, "(user-defined)")
        if not codebook_only and definition == LABEL_DEFINITIONS.get(label):  # beside a user's labels, say whose
            definition += " (threatclf's codebook definition)"
        threshold = metadata["thresholds"][label]
        shown = f"{threshold:.3f}" if threshold <= 1 else "never (not learned)"
        lines.append(f"| `{label}` | {shown} | {_cell(definition)} |")
    if any(metadata["thresholds"][label] > 1 for label in labels):
        lines += ["", "*never (not learned)*: the label's out-of-fold scores picked it out no better than "
                  "shuffled labels would (or fell as it rose), so the model does not assign it. Its scores are "
                  "still given; a threshold of your own (`threshold=`) uses them, without a measure of how "
                  "often it is right."]
    training = metadata.get("training_data", {})
    weights = training.get("weights") if isinstance(training.get("weights"), dict) else None
    counted = (weights or {}).get("positives_counted") or training.get("positives") or {}  # weight 0: not there
    few = {label: n for label, n in counted.items() if isinstance(n, int) and n < FEW_POSITIVES}
    lines += ["", "## Training data", ""]
    if training.get("description"):
        lines += [training["description"], ""]
    lines += [
        f"- rows: {training.get('rows', 'unknown')}",
        f"- SHA-256 of texts and labels: `{training.get('sha256', 'unknown')}`",
        f"- positives per label: {training.get('positives', {})}",
        *([f"- rows weighted (`sample_weight`, SHA-256 `{weights.get('sha256', 'unknown')}`): "
           f"{weights.get('rows_of_weight_0', 0)} of weight 0, which teach nothing; positives per label among the "
           f"others: {weights.get('positives_counted', {})}"] if weights else []),
        *([f"- calibration and thresholds learned from the out-of-fold scores of {training['tuning_rows']} of "
           "these rows only (the rows named to tune them)"] if "tuning_rows" in training else []),
        "",
        "## Settings",
        "",
        "```json",
        _json(metadata.get("settings", {})),
        "```",
        "",
        "## Evaluation",
        "",
    ]
    metrics = metadata.get("metrics") or {}
    if not metrics:
        lines.append("No evaluation figures were recorded when this model was saved.")
    for split, figures in metrics.items():
        lines += [f"### {split}", ""]
        if figures.get("description"):
            lines += [figures["description"], ""]
        if seen_in_training_note(figures):
            lines += [f"**Warning:** {seen_in_training_note(figures)}.", ""]
        lines += _metrics_table(figures) + [""]
    if extra:
        lines += [extra.rstrip(), ""]
    features = str(metadata.get("settings", {}).get("features", "word+char"))
    seen = " and ".join(kind for word, kind in (("word", "words"), ("char", "character sequences")) if word in features)
    lines += [
        "## Limits",
        "",
        f"- Bag-of-n-grams features: the model sees {seen or 'n-grams'}, not meaning; it can be "
        "fooled by topic words used in passing, and misses "
        + ("threats" if codebook_only else "passages") + " described in unusual words.",
        "- Fitted to the training data described above: text in other languages, from other sources or of "
        "other kinds (social media, reports) is out of scope until the model is measured on a labelled sample "
        "of it (`threatclf.evaluate`).",
        *_probability_and_threshold_limits(metadata.get("settings", {})),
        *([f"- Few examples: {', '.join(f'`{label}` ({n})' for label, n in few.items())}. Under about "
           f"{FEW_POSITIVES} examples a label's threshold and figures are unreliable, whatever they show: "
           "label more before relying on it."] if few else []),
        "",
        "## How to load",
        "",
        "```python",
        "import threatclf",
        ("model = threatclf.load_model(\"path/to/this/folder\")" if metadata.get("weights_format") != "joblib" else
         "model = threatclf.load_model(\"path/to/this/folder\", trust=True)  # a pickle: only from a source you trust"),
        ("model.predict([\"Police seized two tonnes of cocaine at the port.\"])" if codebook_only else
         "model.predict([\"a passage of text\", \"another one\"])  # a list of label names for each"),
        "```",
        "",
        f"Saved by threatclf {metadata['threatclf_version']} (model format {metadata['format_version']}, "
        f"scikit-learn {metadata['sklearn_version']}, numpy {metadata['numpy_version']}) on {metadata['created']}.",
        "",
    ]
    return "\n".join(lines)


def _probability_and_threshold_limits(settings: dict) -> list[str]:
    """What the probabilities and thresholds are, as the model's settings made them."""
    if settings.get("calibrate", True):
        probability = ("- Probabilities come from a sigmoid fitted on out-of-fold scores of the training data (of "
                       "the rows named to tune it, when some were: see Training data). On documents unlike the "
                       "training data they tend to run high in the middle of the range; measure it on a labelled "
                       "sample of your own text with `threatclf.evaluate` (calibration error) and "
                       "`threatclf.reliability`.")
    else:
        probability = ("- Probabilities are the plain sigmoid of the scores (`calibrate=False`): they rank texts "
                       "but do not say how often a label is right.")
    rule = threshold_rule(settings.get("threshold", "f1"), settings.get("calibrate", True))
    if rule == "f1":
        threshold = "- Thresholds were tuned for F1 on the same out-of-fold predictions"
    elif rule == "half-best-f1":
        threshold = ("- Each threshold is half the best F1 reached on the same out-of-fold predictions (the "
                     "F1-optimal cut-off for calibrated probabilities)")
    else:
        threshold = "- Thresholds were set by whoever trained the model (`threshold` in Settings), not learned"
    return [probability, threshold + "; a different balance of precision and recall needs other thresholds "
            "(`threshold=` in the labelling functions)."]


def _cell(text: str) -> str:
    """Text for one cell of a Markdown table: on one line, its "|" escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _json(value) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=True, default=str)

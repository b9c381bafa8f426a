"""The ``threatclf`` command: each command parses its arguments and calls the library.

``train`` also reads its files row by row first, so that what ``fit`` would refuse after loading
(too few examples for the folds, an unnamed label) is named by file and line before training.

Exit codes: 0 success; 2 a usage or data error (one line on stderr, no traceback; set
``THREATCLF_DEBUG=1`` to see it); 3 ``label`` finished but rejected some rows (see the rejects
file); 130 Ctrl-C, 143 SIGTERM (the run stops alike: finished chunks kept, temporary files
removed). 1 is left to Python: an unexpected crash, a bug to report.
"""
from __future__ import annotations

import argparse
import codecs
import errno
import json
import logging
import os
import shlex
import signal
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Sequence
from concurrent.futures.process import BrokenProcessPool

from . import __version__
from .classifier import MODELS
from .evaluate import FEW_POSITIVES, FIGURES_EXPLAINED
from .exceptions import DataError, ModelFormatError, ThreatclfError
from .features import FEATURE_SETS
from .persistence import printable
from .text import DEFAULT_MAX_WORDS

EXIT_OK, EXIT_ERROR, EXIT_REJECTS = 0, 2, 3


def _threshold(value: str):
    """``0.4`` for every label, or ``terrorism=0.6,corruption=0.3`` per label."""
    try:
        if "=" not in value:
            return float(value)
        pairs = [item.split("=", 1) for item in value.split(",") if item]
        per_label = {name.strip(): float(number) for name, number in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid threshold {value!r}: use 0.5 or label=0.5,label=0.3") from None
    if len(per_label) < len(pairs):
        raise argparse.ArgumentTypeError(f"invalid threshold {value!r}: a label is named twice")
    return per_label


def _thresholds_given(values: list | None):
    """The ``--threshold`` options merged: one number, or label=value pairs from any number of
    them; a label named twice, or a number beside pairs, is an error (one would silently win)."""
    if not values:
        return None
    numbers = [v for v in values if not isinstance(v, dict)]
    if numbers:
        if len(values) > 1:
            raise ThreatclfError("--threshold: give one number for every label, or label=value pairs, not both or "
                                 "several numbers")
        return numbers[0]
    merged: dict = {}
    for per_label in values:
        twice = sorted(set(merged) & set(per_label))
        if twice:
            raise ThreatclfError(f"--threshold: {twice[0]} is given more than once")
        merged.update(per_label)
    return merged


def _separator(given: str) -> str:
    """``tab`` or ``\\t`` for a tab, which is awkward to type."""
    return "\t" if given in ("\\t", "tab") else given


def _csv_options(args) -> dict:
    """``--csv-sep`` and ``--encoding``, checked here so that a mistake is named as typed."""
    from .readers import check_csv_options

    check_csv_options(_separator(args.csv_sep), args.encoding, names=("--csv-sep", "--encoding"))
    return {"csv_sep": _separator(args.csv_sep), "encoding": args.encoding}


def _path(value: str) -> str:
    """A path option's value with a leading ``~`` made the home folder, as the shell does only
    where it expands it (not in ``--output=~/x`` under zsh or sh, nor in quotes)."""
    return os.path.expanduser(value) if value.startswith("~") else value


def _trust(args) -> bool:
    return bool(getattr(args, "trust", False))


def _model_named(name: str | None) -> str | None:
    """The folder ``name`` names: ``None`` (the bundled model) for none given or ``default``."""
    if name != "default":
        return name
    if os.path.isdir("default"):
        warnings.warn("the model name 'default' means the bundled default model, not the folder ./default here: "
                      "name that one ./default", UserWarning)
    return None


def _load(args):
    from .persistence import load_model

    if args.model in MODELS and not os.path.exists(args.model):  # train's --model before 0.12
        raise ThreatclfError(f"model folder {args.model} does not exist ({args.model} is a kind of model, which "
                             f"train --model-type chooses; --model names a model folder)")
    return load_model(_model_named(args.model), trust=_trust(args))


def _model_folder_for_train(argv: list[str]) -> str | None:
    """The folder of ``train ... --model FOLDER`` given without ``-o``: the other commands'
    --model, meant as the folder to write (train's --model before 0.12 was a kind of model)."""
    if argv[:1] != ["train"] or any(a in ("-o", "--output", "-h", "--help") or a.startswith(("-o", "--output="))
                                    for a in argv[1:]):
        return None
    for k, arg in enumerate(argv[1:], start=1):
        value = (argv[k + 1] if arg == "--model" and k + 1 < len(argv)
                 else arg.split("=", 1)[1] if arg.startswith("--model=") else None)
        if value is not None and value not in MODELS:
            return value
    return None


def _renamed_train_options(args) -> None:
    """Take the names ``train`` had before 0.12, with a warning: elsewhere they mean something else."""
    for option, new, dest, value, choices, meaning in (
            ("--model", "--model-type", "model", args.renamed_model, MODELS,
             "-o names the model folder to write, and --model-type the kind of model"),
            ("--format", "--save-format", "format", args.renamed_format, ("skops", "joblib"),
             "--save-format names the weights file's format (--format is how other commands print)")):
        if value is None:
            continue
        if value not in choices:
            raise ThreatclfError(f"{option} {value}: in train, {meaning}: one of {', '.join(choices)}")
        if getattr(args, dest) not in (None, value):
            raise ThreatclfError(f"{option} {value} and {new} {getattr(args, dest)} disagree: give {new} alone")
        warnings.warn(f"{option} is now {new} in train; {option} will be removed", FutureWarning)
        setattr(args, dest, value)
    args.format = args.format or "skops"


#: A file's unlabelled last rows are warned of from this many on (and a tenth of its rows).
UNANNOTATED_TAIL = 20


def _warn_of_unannotated_tail(labels: list[list[str]], places: list[str]) -> None:
    """Warn when a training file's last rows all have no label: a file annotated part of the way
    (in CSV an empty cell cannot say "not annotated yet"), whose rest would train as texts about
    none of the labels."""
    tail = next((k for k, names in enumerate(reversed(labels)) if names), len(labels))
    if tail >= UNANNOTATED_TAIL and 10 * tail >= len(labels) and tail < len(labels):
        warnings.warn(f"{places[-tail]} to the end: the last {tail:,} of {len(labels):,} rows have no label. If they "
                      "are not annotated yet, leave them out: every row without a label trains as a text about none "
                      "of the labels", UserWarning)


def cmd_train(args) -> int:
    import numpy as np

    from .classifier import SUSPECT_ROW_WARNINGS, TOO_FEW_POSITIVES, ThreatClassifier, warn_about_suspect_rows
    from .data import read_labelled
    from .evaluate import evaluate
    from .folds import text_hashes
    from .labels import (MISSPELT_LABEL_WARNING, indistinct_labels, label_name_problem, misspelt_label,
                         misspelt_label_warning, to_indicator, unnamed_label_problem)
    from .persistence import check_model_destination, settings_from_json, settings_of_model

    _renamed_train_options(args)
    given = {os.path.realpath(path) for path in args.data}
    if len(given) < len(args.data):  # each row would count twice, as if the data were twice as sure
        twice = next(path for k, path in enumerate(args.data)
                     if os.path.realpath(path) in {os.path.realpath(p) for p in args.data[:k]})
        raise ThreatclfError(f"{twice} is given more than once as training data")
    for other, option in ((args.text_col, "--text-col"), (args.group_col, "--group-col"), ("id", "the id column")):
        if args.labels_col == other:
            raise ThreatclfError(f"--labels-col {args.labels_col} is {option}: name the column that holds the labels")
    tune_on = {os.path.realpath(path) for path in args.tune_on or ()}
    unknown = [path for path in args.tune_on or () if os.path.realpath(path) not in given]
    if unknown:
        raise ThreatclfError(f"--tune-on {unknown[0]} is not one of the training files given")
    params, config = {}, {}
    if args.settings_from:  # the settings only: no weights are read, so no trust is needed
        params = settings_of_model(_model_named(args.settings_from))
    if args.config:
        try:
            with open(args.config, encoding="utf-8") as handle:
                config = json.load(handle)
        except OSError as exc:
            raise ThreatclfError(f"cannot read config {args.config}: {exc.strerror}") from None
        except ValueError as exc:
            raise ThreatclfError(f"{args.config}: not valid JSON ({exc})") from None
        if not isinstance(config, dict):
            raise ThreatclfError(f"{args.config}: expected a JSON object of model settings, got {type(config).__name__}")
        params.update(settings_from_json(config))
    for name in ("features", "model", "C", "cv", "min_df", "features_per_label", "presence_ngram_range", "threshold",
                 "n_jobs"):
        value = getattr(args, name)
        if value is not None:
            params[name] = tuple(value) if isinstance(value, list) else value
    try:
        model = ThreatClassifier(**params)
    except TypeError as exc:
        raise ThreatclfError(f"invalid model setting in {args.config or 'options'}: {exc}") from None
    try:
        model.check_params()  # a bad setting fails before a large training set is read
    except ValueError as exc:
        given = [f"--{name.replace('_', '-')} {value}" for name, value in
                 (("settings_from", args.settings_from), ("config", args.config)) if value]
        raise ThreatclfError(f"{exc}" + (f" (settings from {', '.join(given)} and the options)" if given else "")
                             ) from None
    definitions = None
    if args.label_definitions:  # read now: a bad file fails before training, not after
        try:
            with open(args.label_definitions, encoding="utf-8-sig") as handle:  # Notepad writes a BOM
                definitions = json.load(handle)
        except OSError as exc:
            raise ThreatclfError(f"cannot read {args.label_definitions}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ThreatclfError(f"{args.label_definitions}: not UTF-8 text; save it as UTF-8") from None
        except ValueError as exc:
            raise ThreatclfError(f"{args.label_definitions}: not valid JSON ({exc})") from None
        if not isinstance(definitions, dict) or not all(isinstance(v, str) and v.strip() for v in definitions.values()):
            raise ThreatclfError(f"{args.label_definitions}: expected a JSON object of label: definition (non-empty "
                                 "text)")
    check_model_destination(args.output, overwrite=args.overwrite)  # and so does an output that cannot be written
    texts, labels, groups, tuning, places = [], [], [], [], []
    for path in args.data:
        try:
            t, y, g, where = read_labelled(path, text_col=args.text_col, labels_col=args.labels_col,
                                           group_col=args.group_col, known_labels=params.get("label_names"),
                                           **_csv_options(args))
        except DataError as exc:
            if "unknown label" not in str(exc) or not params.get("label_names"):
                raise
            origin = (f"--config {args.config}" if args.config and "label_names" in config
                      else f"--settings-from {args.settings_from}, the labels of its model")
            raise DataError(f"{exc} (the known labels are label_names from {origin}; to train on the labels "
                            "the data has, set \"label_names\": null in a --config file)") from None
        _warn_of_unannotated_tail(y, where)
        texts += t
        labels += y
        groups += g or []
        places += where
        tuning += [os.path.realpath(path) in tune_on] * len(t)
    dev_scored = _labels_named(args.dev_labels, "--dev-labels")
    if dev_scored is not None and not args.dev:
        raise ThreatclfError("--dev-labels names the labels a --dev file annotates: give --dev too")
    if args.dev:  # read before the fit: a bad dev file fails in seconds, not after training
        known = params.get("label_names") or sorted({name for names in labels for name in names})
        if dev_scored is not None and (set(dev_scored) - set(known) or len(set(dev_scored)) < len(dev_scored)):
            raise ThreatclfError(f"--dev-labels must name labels of the training data, each once: {known}; "
                                 f"got {dev_scored}")
        try:
            dev_texts, dev_labels = _read_scored(args.dev, args, known, dev_scored, "--dev-labels")
        except DataError as exc:
            if "unknown label" not in str(exc):
                raise
            raise DataError(f"{exc} (--dev-labels names the labels to score, if the dev file's are not all "
                            "the training data's)") from None
    positives = Counter(name for names in labels for name in names)
    for name in sorted(positives):  # fit would refuse it too, without the file and line
        problem = label_name_problem(name)
        if problem:
            raise ThreatclfError(f"{places[next(k for k, names in enumerate(labels) if name in names)]}: {problem}")
    indistinct = indistinct_labels(sorted(positives))
    if indistinct:  # one name in two Unicode forms, or two that print alike: fit would refuse them without lines
        pair, problem = indistinct
        raise ThreatclfError(" and ".join(places[next(k for k, names in enumerate(labels) if name in names)]
                                          for name in pair) + f": {problem}")
    misspelt = misspelt_label(positives)
    if misspelt:  # said with the file and line; fit's own saying is kept quiet below
        warnings.warn(f"{places[next(k for k, names in enumerate(labels) if misspelt[0] in names)]}: "
                      + misspelt_label_warning(*misspelt, positives), UserWarning)
    unnamed = unnamed_label_problem(sorted(positives)) if not params.get("label_names") else None
    if unnamed:  # "NA", or "fraud cyber": fit would refuse it too, without the file and line
        raise ThreatclfError(f"{places[next(k for k, names in enumerate(labels) if unnamed[0] in names)]}: "
                             f"{unnamed[1]}")
    folds = model.cv if model.cv and (model.calibrate or isinstance(model.threshold, str)) else 0
    rare = [name for name, n in sorted(positives.items()) if n < folds and n < len(labels)]  # fit says "every row"
    if rare:  # often a typo or a stray value: say where, which fit cannot
        where = [places[k] for k, names in enumerate(labels) if rare[0] in names][:3]
        raise ThreatclfError(f"label {rare[0]!r} has {positives[rare[0]]} example(s), fewer than the {folds} "
                             f"cross-validation folds its threshold is learned on ({'; '.join(where)}): "
                             "correct it if it is a typo, or label more"
                             + (f", or use --cv {positives[rare[0]]}" if positives[rare[0]] >= 2 else ""))
    undefined = sorted(set(definitions or {}) - set(params.get("label_names") or positives))
    if undefined:
        raise ThreatclfError(f"{args.label_definitions} defines labels the training data does not have: {undefined}")
    few = {name: n for name, n in sorted(positives.items()) if n < FEW_POSITIVES}
    if few:
        small_data = [f"--{k.replace('_', '-')} {v}" for k, v in (("min_df", 1), ("cv", 3)) if model.get_params()[k] != v]
        hint = f"for small data try {' '.join(small_data)}, and label more" if small_data else "label more"
        if model.model in ("nblogreg", "logreg+nblogreg") or model.presence_ngram_range is not None:
            hint += ("; NB-LR and a presence block, as in the default model's settings, scored below the defaults "
                     "at this size in benchmarks/learning_curve.py")
        warnings.warn("few examples for " + ", ".join(f"{k} ({v})" for k, v in few.items())
                      + f"; under ~{FEW_POSITIVES} a label's threshold and figures are unreliable ({hint})", UserWarning)
    if args.tune_on:  # thresholds, calibration and the card's figures come from these rows alone
        if not (model.calibrate or isinstance(model.threshold, str)):
            raise ThreatclfError("--tune-on has nothing to tune: the model learns neither calibration nor thresholds "
                                 f"(calibrate false and a fixed threshold{' in ' + args.config if args.config else ''})"
                                 "; drop --tune-on, or let the model learn them")
        tuned = Counter(name for names, t in zip(labels, tuning) if t for name in names)
        missing = [name for name in sorted(positives) if not tuned.get(name)]
        if missing:
            raise ThreatclfError(f"--tune-on {', '.join(args.tune_on)}: no example of {', '.join(missing)} among their "
                                 f"{sum(tuning):,} rows, so no threshold can be learned for it; add examples to "
                                 "those files or name more files with --tune-on")
        few = {name: tuned.get(name, 0) for name in sorted(positives) if tuned.get(name, 0) < FEW_POSITIVES}
        if few:
            warnings.warn("few examples among the --tune-on rows for " + ", ".join(f"{k} ({v})" for k, v in few.items())
                          + f"; under ~{FEW_POSITIVES} a label's threshold and figures are unreliable", UserWarning)
    unlabelled = sum(not names for names in labels)
    _say(args, f"training on {len(texts):,} texts from {', '.join(args.data)} ({unlabelled:,} without a label: about "
               "none of the labels) ...")
    tune = np.array(tuning) if args.tune_on else np.ones(len(texts), dtype=bool)
    label_names = params.get("label_names") or sorted({name for names in labels for name in names})
    warn_about_suspect_rows(texts, to_indicator(labels, label_names), text_hashes(texts), places)
    with warnings.catch_warnings():  # said above, with hints for the command line and rows named by file and line
        warnings.filterwarnings("ignore", message=f"labels with fewer than {TOO_FEW_POSITIVES} positive examples")
        warnings.filterwarnings("ignore", message=MISSPELT_LABEL_WARNING)
        for message in SUSPECT_ROW_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        model.fit(texts, labels, groups=groups if args.group_col else None, tuning_rows=tune if args.tune_on else None)
    metrics = {}
    oof = model.out_of_fold_figures(  # described in the command line's terms
        scored=f"the rows of {', '.join(args.tune_on)}" if args.tune_on else "the training data",
        grouped=(f"rows of one {args.group_col} in one fold" if args.group_col else
                 "rows not grouped (--group-col): passages of one document may have helped score each other"),
        held_out="a held-out --dev file")
    if oof is not None:  # what info and the model card show, said now: without --dev, the only figures
        metrics["cross-validated"] = oof
        _say(args, "\n".join(["figures recorded in the model card:"] + _figures_said("cross-validated", oof)))
    if args.dev:
        with warnings.catch_warnings():  # the table below carries its own WARNING line
            warnings.filterwarnings("ignore", message=r".* texts were in the model's training data")
            result = evaluate(model, dev_texts, dev_labels, score_labels=dev_scored)
        seen = result.extra.get("seen_in_training") or 0
        only = f" Scored on the labels it annotates: {', '.join(dev_scored)}." if dev_scored else ""
        metrics["dev"] = {**result.to_dict(), "description": (
            f"Held-out file {args.dev}, not used in training.{only}" if not seen else
            f"File {args.dev}; {seen} of its {len(dev_texts)} texts were also in the training data, so these "
            f"figures are optimistic.{only}")}
        _say(args, f"dev figures ({args.dev}, at the learned thresholds):\n{result.to_table()}\n\n{FIGURES_EXPLAINED}")
    model.set_params(n_jobs=None)  # --n-jobs is for this training run, not stored in the model
    path = model.save(args.output, format=args.format, metrics=metrics, overwrite=args.overwrite,
                      label_definitions=definitions,
                      training_description=f"Trained with `threatclf train` on {', '.join(args.data)}"
                      + (f"; calibration and thresholds from the rows of {', '.join(args.tune_on)}." if args.tune_on
                         else "."))
    _say(args, f"saved model to {path}; use it with: threatclf label ARTICLES -o OUT --model {shlex.quote(str(path))}")
    return EXIT_OK


def _refuse_output(args) -> None:
    """evaluate and info print their report: -o, which label and train take, is not theirs."""
    if args.misplaced_output is not None:
        out = args.misplaced_output
        raise ThreatclfError(f"{args.command} has no -o: it prints its report to standard output; save it with "
                             f"`threatclf {args.command} ... > {out}` (and --format json for programs)")


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate

    _refuse_output(args)
    if args.max_words < 1:  # before the model is loaded and the file read
        raise ThreatclfError(f"--max-words must be an integer >= 1, got {args.max_words}")
    model = _load(args)
    label_map = _label_map(args.label_map)
    score_labels = _labels_named(args.labels, "--labels")
    try:
        texts, labels = _read_scored(args.data, args, list(model.labels_) + [k for k in label_map or ()
                                                                            if k not in model.labels_],
                                     score_labels, "--labels")
    except DataError as exc:
        if "unknown label" not in str(exc):
            raise
        raise DataError(f"{exc} (data labelled with other names: --label-map YOURS=MODELS, or YOURS= to leave "
                        "a name out; or --labels to score only the labels named)") from None
    with warnings.catch_warnings():  # said once below, in the output's own form
        warnings.filterwarnings("ignore", message=r".* texts were in the model's training data")
        result = evaluate(model, texts, labels, score_labels=score_labels, label_map=label_map,
                          articles=args.articles, max_words=args.max_words)
    print(result.to_json() if args.format == "json" else f"{result.to_table()}\n\n{FIGURES_EXPLAINED}")
    if result.seen_in_training_warning() and args.format == "json":  # the table carries its own WARNING line
        print(f"threatclf evaluate: warning: {result.seen_in_training_warning()}", file=sys.stderr)
    return EXIT_OK


def _read_scored(path, args, known: list, scored: list | None, option: str) -> tuple[list, list]:
    """Labelled rows to score a model on. A label outside ``known`` is an error, unless ``scored``
    names the labels to score: then it is left out, with a warning naming it (a typo shows)."""
    from .data import read_labelled
    from .labels import spelt_alike

    texts, labels, _, places = read_labelled(path, text_col=args.text_col, labels_col=args.labels_col,
                                             known_labels=None if scored else known, **_csv_options(args))
    if scored:
        others = Counter(name for names in labels for name in names if name not in known)
        for name in sorted(others):  # a typo of a scored label is no other label: its rows would be scored wrong
            alike = next((label for label in known if spelt_alike(name, label)), None)
            if alike is not None:
                raise DataError(f"{places[next(k for k, names in enumerate(labels) if name in names)]}: label "
                                f"{name!r} is not the model's, and is spelt almost as its {alike!r}: correct it if "
                                f"it is a typo (left out, its rows would count as texts without {alike!r})")
        if others:
            warnings.warn(f"{path}: labels left out, not the model's and not scored ({option} names the ones scored): "
                          + ", ".join(f"{name} ({n} rows)" for name, n in sorted(others.items())), UserWarning)
            labels = [[name for name in names if name in known] for names in labels]
    return texts, labels


def _label_map(values: list | None) -> dict | None:
    """``--label-map terror=terrorism,misc= --label-map gangs=organized_crime``: yours -> the model's
    (an empty right side drops the name)."""
    if values is None:
        return None
    pairs = [pair.strip() for value in values for pair in value.split(",") if pair.strip()]
    mapping = {}
    for pair in pairs:
        name, equals, label = pair.partition("=")
        if not equals or not name.strip():
            raise ThreatclfError(f"--label-map takes YOURS=MODELS pairs (terror=terrorism; misc= to drop a name), "
                                 f"got {pair!r}")
        if name.strip() in mapping:
            raise ThreatclfError(f"--label-map maps {name.strip()!r} twice")
        mapping[name.strip()] = label.strip() or None
    if not mapping:
        raise ThreatclfError("--label-map names no label")
    return mapping


def _labels_named(values: list | None, option: str) -> list | None:
    """``--labels a,b --labels c``: all of them (None if not given); an empty value is a mistake."""
    if values is None:
        return None
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    if not names:
        raise ThreatclfError(f"{option} names no label")
    return names


def cmd_info(args) -> int:
    from .persistence import default_model_path, read_metadata, verify_model

    _refuse_output(args)
    named = [str(_model_named(name) or default_model_path()) for name in (args.model_dir, args.model) if name]
    if len(named) == 2 and os.path.realpath(named[0]) != os.path.realpath(named[1]):
        raise ThreatclfError(f"two models given: {args.model_dir} and --model {args.model}")
    path = named[0] if named else default_model_path()
    # What metadata.json says is only worth reading if the folder is whole; and what is printed is
    # the metadata that was verified, read once (a file swapped between two reads cannot pass).
    try:
        check, failure = verify_model(path), None
        metadata = check.metadata
    except ModelFormatError as exc:
        check, failure = None, exc
        metadata = read_metadata(path)  # shown for diagnosis, then said NOT LOADABLE
    if args.format == "json":
        try:
            print(json.dumps(metadata, indent=2, allow_nan=False))
        except ValueError:  # NaN or Infinity: not JSON, which strict readers of this output refuse
            raise ModelFormatError(f"{path}/metadata.json holds NaN or Infinity, which JSON does not allow; "
                                   "the folder is damaged or hand-made") from None
    else:
        try:
            lines = _info_lines(path, metadata)
        except (ArithmeticError, AttributeError, IndexError, KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"{path}/metadata.json is malformed ({type(exc).__name__}: {exc})") from None
        for line in lines:  # every value comes from the folder's metadata.json
            print(printable(line))
    if failure is not None:
        print(printable(f"NOT LOADABLE: {failure}"), file=sys.stderr)
        return EXIT_ERROR
    _note_card(check)
    if check.untrusted and not _loads_when_trusted(args):
        # not built, so not checked against metadata.json: what it says is unconfirmed
        print(printable(f"NOT TRUSTED: {', '.join(check.untrusted)}; load_model refuses the folder unless told to "
                        "trust it (trust=True, --trust), and the figures above are not checked against the model"),
              file=sys.stderr)
        return EXIT_ERROR
    if args.format != "json":
        print(printable(f"verified:   {_digests_said(check)}, " + (
            "all types trusted" if not check.untrusted else "loaded with --trust")
            + "; the labels, thresholds and settings above are the model's (the digests show the files are as saved, "
              "not who saved them)"))
    return EXIT_OK


def _note_card(check) -> None:
    """Say so when the model card was edited or removed since saving: not fatal, as the weights'
    digest is checked apart and the model loads as it did (any other file changed is an error)."""
    if check.changed:
        state = "is missing" if check.how_changed("README.md") == "is missing" else "changed since saving (digest differs)"
        print(f"note: README.md, the model card, {state}; the weights are intact", file=sys.stderr)


def _digests_said(check) -> str:
    if not check.changed:
        return "digests OK"
    return f"weights digest OK (model card {'missing' if check.how_changed('README.md') == 'is missing' else 'edited'})"


def _info_lines(path, metadata: dict) -> list[str]:
    """What ``info`` prints of a folder's metadata.json, line by line (a malformed file raises)."""
    lines = [f"model:      {path}",
             f"format:     {metadata.get('format_version')} ({metadata.get('weights_format')})",
             f"created:    {metadata.get('created')} by threatclf {metadata.get('threatclf_version')}, "
             f"scikit-learn {metadata.get('sklearn_version')}, numpy {metadata.get('numpy_version')}"]
    data = metadata.get("training_data", {})
    tuned = f" (calibration and thresholds from {data['tuning_rows']} of them)" if "tuning_rows" in data else ""
    lines.append(f"training:   {data.get('rows', '?')} rows{tuned}, sha256 {str(data.get('sha256', '?'))[:16]}...")
    settings = metadata.get("settings", {})
    presence = settings.get("presence_ngram_range")
    presence = (f" + presence {presence[0]}-{presence[1]}-grams (weight {settings.get('presence_weight')})"
                if presence else "")
    lines.append(f"features:   {metadata.get('n_features')} ({settings.get('features')}{presence}, "
                 f"model {settings.get('model')})")
    shown = {"features", "model", "presence_ngram_range", "presence_weight", "threshold", "label_names", "n_jobs",
             "engine"}  # said above or below, or how to compute rather than what was learned
    others = [f"{name}={json.dumps(value, separators=(',', ':')) if isinstance(value, (dict, list)) else value}"
              for name, value in settings.items() if name not in shown]
    if others:
        lines.append(f"settings:   {', '.join(others)}")
    lines.append(f"labels:     threshold ({_threshold_rule_said(settings)})")
    for label, threshold in metadata.get("thresholds", {}).items():
        lines.append(f"  {label:<20} {threshold:.3f}" if threshold <= 1 else f"  {label:<20} never (not learned)")
    if metadata.get("metrics"):  # indented: a section's name cannot pass for a line of this output
        lines.append("metrics:    as recorded when the model was saved (not computed again here)")
    for split, figures in (metadata.get("metrics") or {}).items():
        lines += _figures_said(split, figures)
    return lines


def _threshold_rule_said(settings: dict) -> str:
    """How a folder's thresholds were set, from its settings: the rule, not only the numbers."""
    from .thresholds import threshold_rule

    stated, calibrate = settings.get("threshold"), settings.get("calibrate", True)
    rule = threshold_rule(stated, calibrate)
    on = "calibrated probabilities" if calibrate else "uncalibrated scores"
    said = {"half-best-f1": f"learned: half the best out-of-fold F1, on {on}",
            "f1": f"learned: where out-of-fold F1 peaks, on {on}"}.get(rule) if isinstance(rule, str) else None
    if said is None:
        return "fixed in the settings" if isinstance(stated, (int, float, dict)) else f"rule {stated!r}"
    return said + ("; threshold 'auto'" if stated == "auto" else "")


def _figures_said(split: str, figures: dict) -> list[str]:
    """One set of recorded figures as ``info`` shows them: the F1s, then how they were made."""
    from .evaluate import format_figure, seen_in_training_note

    per_label = ", ".join(f"{k} {format_figure(v.get('f1'))}" for k, v in figures.get("labels", {}).items())
    calibration = figures.get("calibration_error")
    lines = [f"  {split}: macro F1 {format_figure(figures['macro_f1'])}, micro F1 {format_figure(figures['micro_f1'])} "
             f"({per_label})" + (f"; calibration error {calibration:.3f}" if isinstance(calibration, (int, float))
                                 else "")]
    if seen_in_training_note(figures):
        lines.append(f"    WARNING: {seen_in_training_note(figures)}")
    if isinstance(figures.get("description"), str):  # how the figures were made: what they can be trusted for
        lines.append(f"    {figures['description']}")
    return lines


def cmd_verify(args) -> int:
    from .persistence import default_model_path, verify_model

    named = [name for name in (args.model_dir, args.model) if name]
    if len(named) == 2 and os.path.realpath(_model_named(named[0]) or default_model_path()) != os.path.realpath(
            _model_named(named[1]) or default_model_path()):
        raise ThreatclfError(f"two models given: {args.model_dir} and --model {args.model}")
    args.model_dir = _model_named(named[0] if named else None) or default_model_path()
    try:
        check = verify_model(args.model_dir)
        if args.format == "json":
            return _verify_json(args, check)
    except (ThreatclfError, OSError) as exc:  # a program reading the JSON gets it too, then the error is said
        if args.format == "json":
            _verify_json_failed(args, exc)
        raise
    _note_card(check)
    print(printable(f"{args.model_dir}: format {check.metadata['format_version']}, {_digests_said(check)}"))
    print(printable(f"types built on load: {', '.join(check.types) or '(skops defaults only)'}"))
    if check.untrusted and not _loads_when_trusted(args):
        print(printable(f"NOT TRUSTED: {', '.join(check.untrusted)}; load_model and threatclf label refuse the "
                        "folder: load it only if you trust where it came from, with --trust (" + (
                            "load_model(path, trust=True) in Python: a pickle is trusted whole or not at all)"
                            if check.metadata.get("weights_format") == "joblib" else
                            "load_model(path, trust=[...those types...]) in Python)")), file=sys.stderr)
        return EXIT_ERROR
    print("all types trusted" if not check.untrusted else "loaded with --trust: the model matches metadata.json")
    return EXIT_OK


def _verify_json(args, check) -> int:
    """``verify --format json``: what was found, as one object on stdout; the exit code as in text."""
    loaded_with_trust = bool(check.untrusted) and _loads_when_trusted(args)
    loads = not check.untrusted or loaded_with_trust
    print(json.dumps({
        "model": str(args.model_dir), "format_version": check.metadata.get("format_version"),
        "weights_format": check.metadata.get("weights_format"),
        "changed": {name: check.how_changed(name) for name in check.changed},
        "types": check.types, "untrusted": check.untrusted, "loaded_with_trust": loaded_with_trust,
        "loads": loads}, indent=2))
    return EXIT_OK if loads else EXIT_ERROR


def _verify_json_failed(args, exc: Exception) -> None:
    """``verify --format json`` on a folder that cannot be checked (damaged, missing, of a newer
    format): the object a program expects, with ``loads`` false and the error in words."""
    from .persistence import read_metadata

    try:
        metadata = read_metadata(args.model_dir)
    except (ThreatclfError, OSError):
        metadata = {}
    changed = getattr(exc, "changed", None)
    print(json.dumps({
        "model": str(args.model_dir), "format_version": metadata.get("format_version"),
        "weights_format": metadata.get("weights_format"), "changed": dict([changed]) if changed else {},
        "types": None, "untrusted": None, "loaded_with_trust": False, "loads": False,
        "error": printable(str(exc) if not isinstance(exc, OSError) or not exc.strerror
                           else f"{exc.strerror}" + (f" ({exc.filename})" if exc.filename else ""))}, indent=2))


def _loads_when_trusted(args) -> bool:
    """With ``--trust``, load the folder trusting everything in it (it checks the model against
    metadata.json); without, False."""
    if not args.trust:
        return False
    from .persistence import load_model

    load_model(_model_named(args.model_dir or args.model), trust=True)  # a ModelFormatError says what does not match
    return True


def cmd_label(args) -> int:
    from .readers import check_csv_options

    if args.misplaced_format is not None:
        raise ThreatclfError(f"label has no --format: -o's extension says the output's format (.jsonl, .csv, "
                             f".parquet); --output-format {args.misplaced_format} is for -o - (standard output)")
    check_csv_options(_separator(args.output_csv_sep), args.output_encoding,
                      names=("--output-csv-sep", "--output-encoding"))
    if args.rejects == "-":
        raise ThreatclfError("--rejects names a file: with -o - the rejected rows are said on stderr already, and "
                             "with an output file they go to OUTPUT.rejects.jsonl unless --rejects names another")
    if args.output != "-":
        if args.output_format:
            raise ThreatclfError("--output-format is for -o - (standard output); a file's extension says its format")
        return _label(args, args.output, args.rejects)
    # Standard output: the run writes a file of its own, which is copied out once it is complete,
    # so a reader never takes a cut-short output for a whole one (the exit code says how it went).
    csv_only = [flag for flag, given in (("--escape-formulas", args.escape_formulas),
                                         ("--output-csv-sep", _separator(args.output_csv_sep) != ","),
                                         ("--output-encoding", codecs.lookup(args.output_encoding).name != "utf-8"))
                if given]
    if csv_only and args.output_format != "csv":
        raise ThreatclfError(f"{csv_only[0]} is for CSV output: with -o - (standard output), add --output-format csv")
    for flag, given in (("--resume", args.resume), ("--restart", args.restart), ("--summary-json", args.summary_json)):
        if given:
            why = "standard output holds the labelled rows" if flag == "--summary-json" else "nothing of it is kept to resume"
            raise ThreatclfError(f"-o - (standard output) cannot be used with {flag}: {why}")
    if sys.stdout is None or not hasattr(sys.stdout, "buffer"):  # started with standard output closed (>&-)
        raise ThreatclfError("-o - writes to standard output, which is closed; name an output file with -o")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="threatclf-label-") as folder:
        output = os.path.join(folder, f"labelled.{args.output_format or 'jsonl'}")
        rejects = args.rejects or os.path.join(folder, "rejects.jsonl")
        try:
            code = _label(args, output, rejects, shown_as=("standard output", None if args.rejects else "stderr"))
        except Warning:  # made an error (PYTHONWARNINGS=error): the run's closing notes come once it is complete
            if os.path.exists(output):
                _copy_out(output, rejects, args)
            raise
        _copy_out(output, rejects, args)
    return code


def _copy_out(output: str, rejects: str, args) -> None:
    """A finished ``-o -`` run: its output to standard output, each rejected row on stderr."""
    import shutil

    try:
        with open(output, "rb") as labelled:
            shutil.copyfileobj(labelled, sys.stdout.buffer)
        sys.stdout.flush()
    except BrokenPipeError:  # the reader has gone (`| head`): said by the exit code alone, as other tools do
        raise
    except OSError as exc:  # a full disk behind `> file`, a closed or read-only descriptor: not the run's fault
        raise ThreatclfError(f"cannot write the output to standard output: {exc.strerror or exc}") from None
    if not args.rejects and os.path.exists(rejects):  # no row lost silently: each said on stderr
        with open(rejects, encoding="utf-8") as handle:
            for line in handle:
                print(f"threatclf label: rejected: {line.rstrip()}", file=sys.stderr)


#: The closing warnings of label_files that the summary also says.
_DUPLICATE_IDS, _REJECTED = r".* rows? repeats? an id of an earlier row", r".* input rows w(as|ere) rejected; "
_INFINITIES = r"Infinity or -Infinity, which JSON has no number for"


def _label(args, output, rejects, shown_as: tuple | None = None) -> int:
    """``threatclf label`` into ``output``, with its notes and summary on stderr; ``shown_as``:
    what the summary calls the output and the rejects (a temporary file's name would mislead)."""
    from .batch import DeferredModel, InterruptedAfterFinishing, label_files

    model = DeferredModel(lambda: _load(args))  # loaded once the run's cheap checks have passed
    # The library's notes (starting over an empty earlier run) in the command's voice, none with
    # -q; an application that set up logging of its own (main() called from it) gets them there.
    logger = logging.getLogger("threatclf")
    notes = None if logger.hasHandlers() else logging.StreamHandler(sys.stderr)
    if notes is not None:
        notes.setFormatter(logging.Formatter("threatclf label: %(message)s"))
        notes.setLevel(logging.CRITICAL + 1 if args.quiet else logging.WARNING)
        logger.addHandler(notes)
    try:
        with warnings.catch_warnings():
            if not (args.quiet or args.summary_json):  # the summary printed below says it
                warnings.filterwarnings("ignore", message=_DUPLICATE_IDS)
                warnings.filterwarnings("ignore", message=_INFINITIES)
            if not (args.quiet or args.summary_json) or (shown_as and shown_as[1]):  # said below, or row by row
                warnings.filterwarnings("ignore", message=_REJECTED)
            try:
                summary = label_files(
                    args.inputs, output, model, text_col=args.text_col, id_col=args.id_col, passages=args.passages,
                    threshold=_thresholds_given(args.threshold), top_terms=args.top_terms, keep_text=args.keep_text,
                    max_words=args.max_words, chunk_size=args.chunk_size, max_text_chars=args.max_text_chars,
                    n_jobs=args.n_jobs, resume=args.resume, restart=args.restart, overwrite=args.overwrite,
                    rejects=rejects, **_csv_options(args), output_csv_sep=_separator(args.output_csv_sep),
                    output_encoding=args.output_encoding, escape_formulas=args.escape_formulas,
                    progress=False if args.quiet else None,
                )
            except InterruptedAfterFinishing as exc:  # a file output is complete: said so, not "--resume"
                if shown_as is None:
                    args.finished = exc.summary
                raise
            if shown_as is None:  # -o -: complete once copied out
                args.finished = summary
    finally:
        if notes is not None:
            logger.removeHandler(notes)
    if shown_as is not None:
        summary.output = shown_as[0]
        if summary.rejects and shown_as[1]:
            summary.rejects = shown_as[1]
    if args.summary_json:
        print(json.dumps(summary.to_dict(), indent=2))
        args.summary_said = True
    elif not args.quiet:
        print(summary.to_text(), file=sys.stderr)
    return EXIT_REJECTS if summary.rejected else EXIT_OK


def _say(args, message: str) -> None:
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="threatclf", allow_abbrev=False, description="Tag news text with security-threat categories.")
    parser.add_argument("--version", action="version", version=f"threatclf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def model_option(p, help_text="model folder (default, or none given: the bundled default model)"):
        p.add_argument("--model", "-m", default=None, type=_path, help=help_text)
        p.add_argument("--trust", action="store_true",
                       help="trust the model file entirely (needed for joblib/pickle models; never for files you did not make)")

    def columns(p, labels=True):
        p.add_argument("--text-col", default="text", help="column/field holding the text (default: text)")
        p.add_argument("--csv-sep", default=",", help="separator of CSV inputs (default: ','; e.g. ';' for some Excel "
                       "exports, tab or \\t for tab-separated files)")
        p.add_argument("--encoding", default="utf-8", help="encoding of CSV inputs, and of .txt folders where read (default: utf-8; e.g. "
                       "cp1252 for Windows and Excel exports, utf-16 for Excel's Unicode text); JSONL and Parquet "
                       "are always UTF-8")
        if labels:
            p.add_argument("--labels-col", default="labels",
                           help="column holding the labels: a list, or 'a;b' in CSV (default: labels)")

    p = sub.add_parser("train", allow_abbrev=False, help="train a model on labelled data and save it as a model folder")
    p.add_argument("data", nargs="+", type=_path, help="labelled JSONL, CSV or Parquet file(s)")
    p.add_argument("-o", "--output", required=True, type=_path, help="model folder to write")
    p.add_argument("--dev", type=_path, help="labelled file to evaluate on (figures go into the model card)")
    p.add_argument("--dev-labels", action="append", metavar="LABELS",
                   help="score the --dev file on these labels only, comma-separated (the ones it annotates; "
                        "may be repeated)")
    p.add_argument("--label-definitions", metavar="JSON", type=_path,
                   help="a JSON object of label: definition, for the model card (your labels' meaning)")
    columns(p)
    p.add_argument("--group-col", help="column naming each row's source document (e.g. article id): rows of one "
                   "document stay in one cross-validation fold, so thresholds are not learned from leaked scores")
    p.add_argument("--tune-on", action="append", metavar="FILE", type=_path,
                   help="learn calibration and thresholds from these training files' rows only (repeatable): "
                        "name the files sampled like the text to label, not those picked by active learning")
    p.add_argument("--settings-from", metavar="MODEL", type=_path,
                   help="start from the settings of this model folder ('default': the bundled model's, which "
                        "beat the defaults from about 800 training passages on); --config and the options below "
                        "change them")
    p.add_argument("--config", type=_path, help="JSON file of ThreatClassifier settings")
    p.add_argument("--features", choices=FEATURE_SETS,
                   help="word 1-2-grams, character 2-5-grams, or both (default: word+char)")
    p.add_argument("--model-type", dest="model", choices=MODELS,
                   help="the linear model fitted per label (default: logreg)")
    p.add_argument("--model", dest="renamed_model", help=argparse.SUPPRESS)  # --model-type before 0.12
    p.add_argument("--C", type=float, help="inverse regularisation strength (default: 10; smaller is simpler)")
    p.add_argument("--cv", type=int, help="folds for the out-of-fold thresholds and calibration (default: 5; "
                   "3 for a few dozen examples per label)")
    p.add_argument("--min-df", type=int, help="drop n-grams found in fewer training texts (default: 2; "
                   "1 for small data)")
    p.add_argument("--features-per-label", type=int,
                   help="fit each label on its K features with the highest chi-squared score (default: all)")
    p.add_argument("--presence", type=int, nargs=2, metavar=("MIN_N", "MAX_N"), dest="presence_ngram_range",
                   help="add a presence block: word MIN_N-MAX_N-grams as present/absent, unnormalised, with a "
                        "model of their own whose scores are added (the default model uses 1 2)")
    p.add_argument("--threshold-rule", dest="threshold", choices=["f1", "half-best-f1"],
                   help="how each label's cut-off is learned from out-of-fold probabilities: where F1 peaks, or "
                        "half the best F1 (optimal for calibrated probabilities, steadier; the default model's) "
                        "(default: half-best-f1, or f1 with \"calibrate\": false in --config; f1 before 0.16)")
    p.add_argument("--n-jobs", type=int, help="threads for training (labels are fitted in parallel; default: 1)")
    p.add_argument("--save-format", dest="format", choices=["skops", "joblib"],
                   help="weights file: skops (default; safe to share) or joblib (a pickle: loads only with --trust)")
    p.add_argument("--format", dest="renamed_format", help=argparse.SUPPRESS)  # --save-format before 0.12
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress messages and no figures")
    p.set_defaults(func=cmd_train, parser=p)

    p = sub.add_parser("evaluate", allow_abbrev=False, help="score a model on labelled data")
    p.add_argument("data", type=_path, help="labelled JSONL, CSV or Parquet file")
    model_option(p)
    columns(p)
    p.add_argument("--format", choices=["text", "json", "table"], default="text", metavar="{text,json}",
                   help="text (a table) for people, json for programs")  # "table": the name before 0.12
    p.add_argument("--labels", action="append",
                   help="score only these labels, comma-separated (the ones the data annotates; may be repeated)")
    p.add_argument("--label-map", action="append", metavar="YOURS=MODELS",
                   help="the data's label names in the model's, comma-separated: terror=terrorism,gangs=organized_crime "
                        "(misc= drops a name); only the labels mapped to are scored unless --labels says otherwise")
    p.add_argument("--articles", action="store_true",
                   help="score each text as `threatclf label` labels an article: cut into passages (--max-words), "
                        "each label's best passage (default: each text whole)")
    p.add_argument("--max-words", type=int, default=DEFAULT_MAX_WORDS,
                   help=f"with --articles, the longest passage in words (default: {DEFAULT_MAX_WORDS})")
    p.add_argument("--output", "-o", dest="misplaced_output", help=argparse.SUPPRESS)  # as label and train take it
    p.set_defaults(func=cmd_evaluate, parser=p)

    p = sub.add_parser("info", allow_abbrev=False, help="show a model's labels, thresholds, data, metrics and versions")
    p.add_argument("model_dir", nargs="?", metavar="MODEL", type=_path, help="model folder (as --model)")
    p.add_argument("--model", "-m", default=None, type=_path, help="model folder (default: the bundled default model)")
    p.add_argument("--format", choices=["text", "json"], default="text", help="text for people, json for programs")
    trust_option = ("load a folder of untrusted types (a joblib pickle) anyway, to check it against metadata.json: "
                    "this runs its code; only for folders you made")
    p.add_argument("--trust", action="store_true", help=trust_option)
    p.add_argument("--output", "-o", dest="misplaced_output", help=argparse.SUPPRESS)  # as label and train take it
    p.set_defaults(func=cmd_info, parser=p)

    p = sub.add_parser("verify", allow_abbrev=False, help="check a model folder's digests and stored types, and that it loads")
    p.add_argument("model_dir", nargs="?", metavar="MODEL", type=_path,
                   help="model folder to check (default, or none given: the bundled default model)")
    p.add_argument("--model", "-m", default=None, type=_path, help="model folder (as MODEL)")
    p.add_argument("--format", choices=["text", "json"], default="text",
                   help="text for people, json for programs: the changed files, the types and whether it loads")
    p.add_argument("--trust", action="store_true", help=trust_option)
    p.set_defaults(func=cmd_verify, parser=p)

    p = sub.add_parser("label", allow_abbrev=False, help="label articles in CSV / JSONL / Parquet files or folders of .txt files")
    p.add_argument("inputs", nargs="+", metavar="INPUT", type=_path,
                   help=".jsonl/.ndjson, .csv (each optionally .gz), .parquet, a folder of .txt files, or - for "
                        "JSONL (plain or gzipped) on standard input")
    p.add_argument("-o", "--output", required=True, type=_path,
                   help="output file: .jsonl[.gz], .csv[.gz] or .parquet; - writes JSONL (or --output-format csv) "
                        "to standard output once the run is complete, and each rejected row to stderr")
    p.add_argument("--output-format", choices=("jsonl", "csv"), help="the format written to -o - (default: jsonl)")
    p.add_argument("--format", dest="misplaced_format", help=argparse.SUPPRESS)  # as evaluate and info take it
    model_option(p)
    columns(p, labels=False)
    p.add_argument("--id-col", default="id", help="column holding the article id (default: id); the output "
                   "calls it id (without one: FILE:LINE)")
    p.add_argument("--passages", action="store_true", help="write one row per passage instead of per article (an article without text: "
                   "one row, passage null)")
    p.add_argument("--threshold", type=_threshold, action="append",
                   help="override thresholds: 0.5, or label=0.6,label=0.3 (may be repeated for other labels; "
                        "'*=0.5' sets the labels not named)")
    p.add_argument("--top-terms", type=int, default=5, help="evidence terms per label (default: 5; 0 for none)")
    p.add_argument("--keep-text", action="store_true", help="copy the text into the output")
    p.add_argument("--max-words", type=int, default=DEFAULT_MAX_WORDS,
                   help=f"longest passage in words; longer paragraphs are split (default: {DEFAULT_MAX_WORDS})")
    p.add_argument("--n-jobs", "-j", type=int, default=1, help="worker processes (default: 1; -1 = all cores)")
    p.add_argument("--chunk-size", type=int, default=2000, help="rows per chunk, the unit of resuming and of memory: a chunk's rows are held at once (default: 2000)")
    p.add_argument("--max-text-chars", type=int, default=1_000_000,
                   help="reject texts longer than this many characters (default: 1,000,000)")
    restart = p.add_mutually_exclusive_group()
    restart.add_argument("--resume", action="store_true", help="continue an interrupted run with the same settings")
    restart.add_argument("--restart", action="store_true",
                         help="discard an interrupted run's finished chunks (OUTPUT.partial/) and start over")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT and its rejects file if they exist (default: refuse)")
    p.add_argument("--rejects", type=_path, help="where rejected rows go, as JSONL: FILE.jsonl, or FILE.jsonl.gz gzipped (default: OUTPUT.rejects.jsonl)")
    p.add_argument("--output-csv-sep", default=",", metavar="SEP",
                   help="separator of a CSV output (default: ','; e.g. ';', or tab or \\t); scores are written "
                        "with a decimal point")
    p.add_argument("--output-encoding", default="utf-8", metavar="ENCODING",
                   help="encoding of a CSV output (default: utf-8; utf-8-sig opens in Excel with accents intact)")
    p.add_argument("--escape-formulas", action="store_true",
                   help="put ' before each CSV cell starting with = + - @, a tab or a carriage return (text a "
                        "spreadsheet would run as a formula, e.g. =HYPERLINK in scraped text; numbers are left)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary (rejected rows are still said)")
    p.add_argument("--summary-json", action="store_true", help="print the run summary as JSON on stdout")
    p.set_defaults(func=cmd_label, parser=p)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, ``docker stop``), raised where Ctrl-C would be, so that a run
    stops as it does on Ctrl-C: finished chunks kept for --resume, temporary files removed."""


_TERMINATED = threading.Event()


_RESEND: list[threading.Timer] = []  # the SIGTERM to send again, once a finaliser has returned


def _on_sigterm(signum, frame) -> None:
    _TERMINATED.set()
    if _in_finaliser(frame):  # Python would print the exception and drop it, and the run go on: the
        # signal is sent again once the finaliser (a progress bar's __del__, say) has returned
        if not _RESEND:
            timer = threading.Timer(0.05, _send_again, (signum,))
            timer.daemon = True
            _RESEND.append(timer)
            timer.start()
        return
    raise _Terminated


def _send_again(signum) -> None:
    if _RESEND and signal.getsignal(signum) is _on_sigterm:  # main() still runs: not another handler's
        _RESEND.clear()
        os.kill(os.getpid(), signum)


def _cancel_resend() -> bool:
    """Cancel a SIGTERM waiting to be sent again (main() is returning); whether there was one."""
    if not _RESEND:
        return False
    _RESEND.pop().cancel()
    return True


def _in_finaliser(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``threatclf`` command; returns the exit code."""
    parser = build_parser()
    folder = _model_folder_for_train(list(sys.argv[1:] if argv is None else argv))
    if folder is not None:  # said before argparse's "-o/--output is required", which does not say why
        print(f"threatclf train: error: -o names the model folder to write: threatclf train DATA -o {folder} "
              f"(--model names a model to read in the other commands; train's --model-type is the kind of model, "
              f"one of {', '.join(MODELS)})", file=sys.stderr)
        return EXIT_ERROR
    args, unknown = parser.parse_known_args(argv)
    many = {"label": "inputs", "train": "data"}.get(args.command)
    if unknown and many and all(item == "-" or not item.startswith("-") for item in unknown):
        # files after an option (`label a.jsonl -o out.jsonl b.jsonl`), which argparse leaves over:
        # inputs too, in the order given
        getattr(args, many).extend(_path(item) for item in unknown)
        unknown = []
    if unknown:  # said with the command's usage, not the top level's (argparse's own way)
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")

    def show_warning(message, category, filename, lineno, file=None, line=None):
        # a warning from the library is one line for the user, not a source line of threatclf
        print(f"threatclf {args.command}: warning: {printable(message)}", file=sys.stderr)

    # only the command sets a handler, for its own run: importing or calling the library sets none
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    _TERMINATED.clear()
    try:
        code = _run(args, show_warning)
    finally:
        swallowed = _cancel_resend()  # a SIGTERM a finaliser took in the run's last moments
        if in_main_thread and previous is not None:  # None: a handler set outside Python, which stays
            signal.signal(signal.SIGTERM, previous)
    return _interrupted(args) if swallowed and code in (EXIT_OK, EXIT_REJECTS) else code


def _run(args, show_warning) -> int:
    """Run the command; what goes wrong becomes one line on stderr and an exit code."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            return args.func(args)
    except BrokenPipeError:  # `threatclf info | head -1`: the reader has gone, as for any command-line tool
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        except (OSError, ValueError, AttributeError):
            pass
        return 141  # 128 + SIGPIPE
    except UnicodeEncodeError as exc:  # printing to a standard output that cannot show a character
        print(f"threatclf {args.command}: error: {_unshowable(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except (ThreatclfError, ValueError, OSError, Warning) as exc:  # user input: settings, files, data
        # (a Warning arrives here when warnings are made errors, e.g. PYTHONWARNINGS=error)
        if os.environ.get("THREATCLF_DEBUG"):  # the traceback, and still the exit code of a user error
            import traceback

            traceback.print_exc()
            return EXIT_ERROR
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:  # a write, which names no file
            resumable = args.command == "label" and args.output != "-" and "-" not in args.inputs
            exc = (f"{exc.strerror}" + (f" ({exc.filename})" if exc.filename else "")
                   + ("; free some space and run the same command with --resume: the finished chunks, if any, "
                      "are kept" if resumable else "")
                   + ("; -o - writes the output to a temporary folder first (TMPDIR), which needs room for it"
                      if args.command == "label" and args.output == "-" else ""))
        elif isinstance(exc, OSError) and exc.filename and exc.strerror:  # "[Errno 13] ...: 'x'" said plainly
            exc = f"cannot use {exc.filename}: {exc.strerror}"
        print(f"threatclf {args.command}: error: {printable(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return _interrupted(args)
    except BrokenProcessPool:  # a worker killed from outside: most often by the system, out of memory
        if _TERMINATED.is_set():  # SIGTERM to the whole group: the workers went first
            return _interrupted(args)
        hint = ("; run the same command with --resume to continue: the finished chunks are kept"
                if args.command == "label" and args.output != "-" and "-" not in args.inputs else "")
        advice = ": try fewer --n-jobs or a smaller --chunk-size" if args.command == "label" else ""
        print(f"threatclf {args.command}: error: a worker process ended abruptly (killed, as the system does when "
              f"memory runs out{advice}){hint}", file=sys.stderr)
        return EXIT_ERROR
    except SystemError as exc:  # Ctrl-C landing inside compiled (numba) code arrives wrapped
        if not _caused_by_interrupt(exc):
            raise
        return _interrupted(args)


def _unshowable(exc: UnicodeEncodeError) -> str:
    """A character standard output's encoding cannot write (a C locale, PYTHONIOENCODING=ascii):
    said with the way out, not as a traceback or a fault of the data."""
    import unicodedata

    chars = exc.object[exc.start:exc.end] if isinstance(exc.object, str) else ""
    named = ", ".join(f"U+{ord(char):04X} {unicodedata.name(char, '')}".rstrip() for char in chars[:3])
    encoding = getattr(sys.stdout, "encoding", None) or exc.encoding
    return (f"standard output's encoding ({encoding}) cannot write {named or 'a character'}: set "
            "PYTHONIOENCODING=utf-8, or a UTF-8 locale (LANG=C.UTF-8)")


def _interrupted(args) -> int:
    """Ctrl-C: exit 130; SIGTERM: 143 (128 + the signal, as a shell reports either); a ``label``
    run whose output was already complete and in place ends as finished."""
    finished = getattr(args, "finished", None)  # the summary of a label run whose output is in place
    if finished is not None:
        how = "terminated (SIGTERM)" if _TERMINATED.is_set() else "interrupted"
        if args.summary_json and not getattr(args, "summary_said", False):  # a program waits for it: no exit 0
            print(f"threatclf label: {how} before the summary was printed; {finished.output} is complete",
                  file=sys.stderr)
            return 143 if _TERMINATED.is_set() else 130
        print(f"threatclf label: {how} after the run finished: {finished.output} is complete"
              + (f"; rejected rows are in {finished.rejects}" if finished.rejected else ""), file=sys.stderr)
        return EXIT_REJECTS if finished.rejected else EXIT_OK
    hint = ""
    if args.command == "label" and args.output != "-" and "-" not in args.inputs:  # neither can be resumed
        hint = ("; run it again with --resume instead of --restart to continue" if getattr(args, "restart", False)
                else "; run the same command with --resume to continue")
    terminated = _TERMINATED.is_set()
    print(f"threatclf {args.command}: {'terminated (SIGTERM)' if terminated else 'interrupted'}{hint}", file=sys.stderr)
    return 143 if terminated else 130


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


if __name__ == "__main__":  # python -m threatclf.cli, as before python -m threatclf
    sys.exit(main())

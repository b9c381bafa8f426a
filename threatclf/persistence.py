"""Model folders: save, verify and load models without ever running untrusted code.

A model folder holds::

    model.skops      the fitted ThreatClassifier (or model.joblib, only loaded with trust=True)
    metadata.json    format version, versions, labels, thresholds, settings, data fingerprint,
                     metrics, creation time, and the SHA-256 of every other file
    README.md        the generated model card

Loading reads ``metadata.json`` once, checks the format version and the digests, then reads
the skops file's schema and refuses any type outside :data:`TRUSTED_TYPES` (or the caller's own
list) — and any trusted type name built by a skops loader other than the one threatclf's own
files use for it — before building a single object. The weights are read into memory once:
the bytes checked are the bytes loaded.
"""
from __future__ import annotations

import datetime as _dt
import glob
import hashlib
import io
import json
import logging
import math
import os
import platform
import re
import shutil
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sklearn

from .classifier import COMPUTE_SETTINGS
from .exceptions import IncompatibleModelError, ModelFormatError, UntrustedModelError
from .features import plain
from .labels import LABEL_DEFINITIONS, loaded_label_problem, lookalike_problem
from .thresholds import NEVER

__all__ = [
    "FORMAT_VERSION",
    "TRUSTED_TYPES",
    "ModelVersionWarning",
    "save_model",
    "load_model",
    "read_metadata",
    "verify_model",
    "default_model_path",
]

logger = logging.getLogger("threatclf")

#: Version of the folder layout written by :func:`save_model`. Format 1: threatclf 0.1-0.4
#: (0.2 renamed a setting and added others, which the format-1 loader still reads); format 2:
#: threatclf 0.5 on, so that the releases before it refuse a folder holding settings they
#: do not know instead of loading it half-understood.
FORMAT_VERSION = 2
#: Every type a threatclf model file may build. skops would also accept any scikit-learn
#: estimator by default; threatclf accepts only these unless the caller names more.
TRUSTED_TYPES: tuple[str, ...] = (
    "threatclf.classifier.ThreatClassifier",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",  # also skops' node for JSON values (numbers, booleans, null)
    "builtins.int",  # e.g. the 0/1 keys of a per-class class_weight
    "builtins.float",
    "numpy.ndarray",  # read with allow_pickle=False
)
#: The skops loader that builds each trusted type in threatclf's own files. A schema node may
#: name one type and ask another loader to build it (a sparse matrix or ``numpy.ndarray(*args)``
#: named "numpy.ndarray"); any other pairing is reported as untrusted.
TRUSTED_NODES: dict[str, frozenset] = {
    "ObjectNode": frozenset({"threatclf.classifier.ThreatClassifier"}),
    "DictNode": frozenset({"builtins.dict"}),
    "ListNode": frozenset({"builtins.list"}),
    "TupleNode": frozenset({"builtins.tuple"}),
    "JsonNode": frozenset({"builtins.str"}),
    "TypeNode": frozenset({"builtins.str", "builtins.int", "builtins.float"}),
    "NdArrayNode:numpy": frozenset({"numpy.ndarray"}),  # a .npy member, read with allow_pickle=False
}
MAX_METADATA_BYTES = 50_000_000
#: Most bytes the members of a skops model file may inflate to, all together (the default model's
#: take 62 MB): a small file that inflates to gigabytes is refused before anything reads it.
MAX_INFLATED_BYTES = 1 << 30
# A listed file other than the weights (the card, a note) larger than this is not hashed and counts
# as changed: a sparse file of a terabyte, a few KB in a tarball, would stall loading for an hour.
MAX_LISTED_BYTES = 10_000_000
WEIGHT_FILES = {"skops": "model.skops", "joblib": "model.joblib"}
DEFAULT_MODEL_NAME = "threat-default"


class _DamagedFolderError(ModelFormatError):
    """A folder damaged or disguised (a digest that differs, a link out, a pickle where the skops
    zip belongs): no later release wrote it so, so upgrading is never the advice. ``changed``: the
    listed file found changed or missing, and how, for ``threatclf verify --format json``."""

    def __init__(self, message: str, changed: tuple[str, str] | None = None):
        super().__init__(message)
        self.changed = changed


#: How a listed file whose digest differs is said, by ``verify`` and its JSON.
_CHANGED_SINCE_SAVING = "does not match the SHA-256 recorded in metadata.json (changed since saving)"


class ModelVersionWarning(UserWarning):
    """The model was saved with other library versions than the ones now installed."""


def printable(value) -> str:
    """Text read from a model folder, safe to show: control characters (a terminal escape, a
    newline that would fake a line of output) come out escaped, never reach the terminal."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(value))


def _threatclf_version() -> str:
    from . import __version__

    return __version__


def _release(version) -> tuple[int, ...] | None:
    """A version stamp's leading numbers (``"0.21.0rc1"`` → ``(0, 21, 0)``); None when it has none,
    or numbers longer than any release's (a stamp of 5,000 digits is garbage, not a release)."""
    match = re.match(r"\d{1,9}(?:\.\d{1,9}){0,9}(?![\d.]*\d)", version) if isinstance(version, str) else None
    return tuple(int(part) for part in match.group().split(".")) if match else None


#: The release that added each setting a folder saved by it or an earlier one may not state (such
#: a model gets the default the setting was added with). Every other setting a folder must state:
#: one left out of metadata.json would be shown, and copied by --settings-from, as a default the
#: model was not made with. A setting added to ThreatClassifier is added here, with its release.
SETTINGS_ADDED_IN = {"features_per_label": (0, 2, 0), "presence_ngram_range": (0, 5, 0), "presence_C": (0, 5, 0),
                     "presence_weight": (0, 5, 0)}


def _unstated_settings(metadata: dict) -> list[str]:
    """The settings a folder's metadata.json should state and does not (0.1 called
    ``label_names`` "labels")."""
    from .classifier import ThreatClassifier

    stated = {"label_names" if key == "labels" else key for key in metadata["settings"]}
    saved = _release(metadata.get("threatclf_version"))
    return sorted(name for name in ThreatClassifier().get_params() if name not in stated and not (
        name in SETTINGS_ADDED_IN and (saved is None or saved <= SETTINGS_ADDED_IN[name])))


def _newer_release(metadata: dict) -> str | None:
    """The ``threatclf_version`` a folder was saved by, when it is a later release than this one:
    such a folder may hold settings or files this release does not know, and is read by the
    rules of the release that made it."""
    saved, running = _release(metadata.get("threatclf_version")), _release(_threatclf_version())
    if saved is None or running is None or saved <= running:
        return None
    return printable(metadata["threatclf_version"])


@contextmanager
def _blame_newer_release(metadata: dict):
    """Turn a folder's problem into "upgrade threatclf" when a later release saved it: what this
    release refuses may be what that one wrote (a setting or value added since)."""
    try:
        yield
    except (UntrustedModelError, IncompatibleModelError, _DamagedFolderError):
        raise
    except ModelFormatError as exc:
        newer = _newer_release(metadata)
        if newer is None:
            raise
        raise IncompatibleModelError(f"{exc} — it was saved by threatclf {newer}, a later release than this "
                                     f"threatclf {_threatclf_version()}: upgrade threatclf to read it") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_ABSENT = object()


def _jsonable(value):
    """``value`` for JSON: numpy and pandas values made plain (:func:`~threatclf.features.plain`),
    tuples lists, and mapping keys strings."""
    value = plain(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def save_model(model, path, *, format: str = "skops", name: str | None = None, metrics: dict | None = None,
               training_description: str | None = None, card_extra: str | None = None,
               overwrite: bool = False, label_definitions: dict | None = None) -> Path:
    """Write ``model`` as a model folder at ``path`` and return the path.

    ``format="skops"`` (default) is safe to share; ``"joblib"`` is a pickle, which
    :func:`load_model` only opens with ``trust=True``. ``metrics`` maps a split name to an
    :class:`~threatclf.evaluate.Evaluation` or its ``to_dict()``; a model just fitted with
    out-of-fold scores also records them as "cross-validated" (unless given). ``name`` (default:
    the folder's name) heads the model card; ``training_description`` says in words what the
    model was trained on, for the card and ``metadata.json``; ``card_extra`` is Markdown
    appended to the card. A model loaded from a folder
    and saved again unchanged (same labels, weights, calibration, thresholds, settings and training data) keeps that
    folder's name, metrics and training description unless new ones are given; ``card_extra``
    is not kept. ``label_definitions`` maps labels to what they mean, for the card and
    ``metadata.json`` (a label named like one of threatclf's codebook labels gets the codebook's
    definition unless given one). An existing ``path`` is an error unless ``overwrite=True``,
    which replaces it. The folder appears complete or not at all: it is written
    beside ``path`` and renamed into place.
    """
    from sklearn.utils.validation import check_is_fitted

    from .classifier import ThreatClassifier
    from .modelcard import render_model_card

    if not isinstance(model, ThreatClassifier):  # a fitted Pipeline would be "not fitted", a LogisticRegression
        raise TypeError(  # "has no attribute thresholds_"
            f"save_model saves a ThreatClassifier, got {type(model).__name__}"
            + ("; for a Pipeline whose other steps need no saving, save its last step (pipe[-1]), or save the "
               "whole Pipeline with joblib, which only you can trust to load" if hasattr(model, "steps") else ""))
    check_is_fitted(model, "coef_")
    names = getattr(model, "label_names", None)
    if names is not None and [str(n) for n in names] != list(model.labels_):
        # the folder would record settings that did not make the model
        raise ValueError(f"label_names {list(names)} is not the fitted labels {list(model.labels_)}: it was changed "
                         "after fitting; refit, or set it back (set_params(label_names=None))")
    seed = model.get_params().get("random_state")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ValueError(f"random_state={type(seed).__name__} cannot be stored in a model folder (metadata.json holds "
                         "settings as JSON, and loading builds no such object): fit with a whole-number random_state")
    changed = model.settings_changed_since_fit() if hasattr(model, "settings_changed_since_fit") else []
    if changed:
        raise ValueError(f"settings {changed} were changed after fitting: the folder would record settings that did "
                         "not make the model; refit, or set them back")
    thresholds = np.asarray(model.thresholds_, dtype=np.float64)
    if thresholds.shape != (len(model.labels_),) or not (
            (thresholds >= 0) & ((thresholds <= 1) | (thresholds == NEVER))).all():
        # loading would refuse the folder: say so now, not to whoever loads it
        raise ValueError(f"thresholds_ must hold one value between 0 and 1 per label, got {thresholds.tolist()}")
    if format not in WEIGHT_FILES:
        raise ValueError(f"format must be one of {sorted(WEIGHT_FILES)}, got {format!r}")
    path = check_model_destination(path, overwrite=overwrite)
    metrics = _check_metrics(metrics, model)
    if label_definitions is not None:
        if not isinstance(label_definitions, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in label_definitions.items()):
            raise TypeError("label_definitions must map label names to definitions (non-empty strings)")
        unknown = sorted(set(label_definitions) - set(model.labels_))
        if unknown:
            raise ValueError(f"label_definitions names labels the model does not have: {unknown}")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; a model folder is for sharing
    try:
        weights = staging / WEIGHT_FILES[format]
        stored = model.without_training_run() if hasattr(model, "without_training_run") else model  # its
        # out-of-fold figures go into metadata.json instead
        if format == "skops":
            import skops.io as sio

            sio.dump(stored, weights, compression=zipfile.ZIP_DEFLATED)
        else:
            import joblib

            joblib.dump(stored, weights, compress=3)
        fingerprint = getattr(model, "training_fingerprint_", {}) or {}
        kept = _record_of_unchanged_model(model, fingerprint)
        if metrics is None:
            metrics = _carried_metrics(kept.get("metrics"), model, path)
        if label_definitions is None and isinstance(kept.get("label_definitions"), dict):
            label_definitions = {k: v for k, v in kept["label_definitions"].items()
                                 if isinstance(v, str) and v.strip() and k in model.labels_}
        oof = model.out_of_fold_figures() if hasattr(model, "out_of_fold_figures") else None
        if oof is not None and "cross-validated" not in (metrics or {}):  # a fresh fit's own figures
            metrics = {"cross-validated": oof, **(metrics or {})}
        name = name or kept.get("name")
        training_description = training_description or kept.get("training_data", {}).get("description")
        metadata = {
            "format_version": FORMAT_VERSION,
            "name": name or path.name,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "threatclf_version": _threatclf_version(),
            "sklearn_version": sklearn.__version__,
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "weights_format": format,
            "weights_file": weights.name,
            "labels": list(model.labels_),
            "thresholds": {lab: float(t) for lab, t in zip(model.labels_, model.thresholds_)},
            "label_definitions": {lab: (label_definitions or {}).get(lab, LABEL_DEFINITIONS.get(lab))
                                  for lab in model.labels_
                                  if lab in (label_definitions or {}) or lab in LABEL_DEFINITIONS},
            "settings": _jsonable(model.get_params()),
            "n_features": int(model.coef_.shape[1]),
            "training_data": {**_jsonable(fingerprint), **({"description": training_description} if training_description else {})},
            "metrics": {k: _jsonable(v) for k, v in (metrics or {}).items()},
        }
        if format == "skops":  # said now, not first discovered by whoever loads the folder
            try:
                types = _skops_types(weights)
            except ModelFormatError as exc:
                if "MAX_INFLATED_BYTES" not in str(exc):
                    raise
                raise ModelFormatError(f"{path}: this model's weights take more than {MAX_INFLATED_BYTES:,} bytes in "
                                       "memory, more than load_model accepts; use fewer features (features_per_label, "
                                       "max_features), or raise threatclf.persistence.MAX_INFLATED_BYTES where it is "
                                       "saved and loaded") from None
            untrusted = [t for t in types if t not in TRUSTED_TYPES]
            if untrusted:
                warnings.warn(f"{path} holds types outside threatclf's trusted list, {untrusted}: it will load only "
                              "with load_model(path, trust=[...those types...])", UserWarning, stacklevel=2)
        (staging / "README.md").write_text(render_model_card(metadata, card_extra), encoding="utf-8")
        metadata["files"] = {p.name: _sha256(p) for p in sorted(staging.iterdir())}
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))  # a name no one else uses
            os.rmdir(old)
            try:
                os.replace(path, old)
                os.replace(staging, path)
            except BaseException:  # an interrupt between the two: put the old model back
                if old.exists() and not path.exists():
                    os.replace(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _remove_stale_staging(path)
    return path


def _remove_stale_staging(path: Path) -> list[Path]:
    """Remove the hidden folders a killed save of ``path`` left beside it (``.NAME.x1y2z3w4``,
    ``.NAME.old.x1y2z3w4``), once ``path`` has been saved: a kill cannot clean up after itself.
    Only a folder holding nothing but a model folder's own files is removed: a folder of the
    user's named alike (``.NAME.20250101``, a backup) is left as it is."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(old\.)?[a-z0-9_]{{8}}")
    stale = [p for p in path.parent.glob(f".{glob.escape(path.name)}.*")
             if pattern.fullmatch(p.name) and p.is_dir() and not p.is_symlink() and _holds_only_model_files(p)]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return stale


def _holds_only_model_files(folder: Path) -> bool:
    """Whether ``folder`` holds only files a save writes (any of them, or none: a save is killed
    at any point)."""
    own = {*WEIGHT_FILES.values(), "README.md", "metadata.json", *_FILE_BROWSER_FILES}  # a replaced folder's
    try:
        return all(entry.name in own and entry.is_file() and not entry.is_symlink() for entry in folder.iterdir())
    except OSError:
        return False


#: Files a file browser leaves in any folder it shows (macOS Finder, Windows Explorer): no one's
#: work, so they do not stop a model folder from being replaced.
_FILE_BROWSER_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def check_model_destination(path, *, overwrite: bool = False) -> Path:
    """``path`` as a Path if a model folder may be written there; else an error saying why.

    Called by :func:`save_model`, and by ``threatclf train`` before it trains. Only a model
    folder holding nothing but its own files is ever replaced: a file of the user's inside
    it would be deleted with it.
    """
    path = Path(path)
    resolved = path.resolve()
    if path.name in ("", ".", "..") or resolved == Path.cwd().resolve() or resolved.parent == resolved:
        # a model folder is replaced whole, by renaming: not possible for the folder one works in
        raise FileExistsError(f"cannot write a model folder as {path}, the current folder or one above it: "
                              "name a folder for it, e.g. models/my-model")
    if path.is_symlink():  # replacing it would replace the link, not the folder it points to
        raise FileExistsError(f"{path} is a symbolic link: save to the folder it points to ({path.resolve()})")
    if path.is_dir() and not any(path.iterdir()):
        pass  # an empty folder made for the model: nothing to lose
    elif path.exists():
        if not path.is_dir() or not (path / "metadata.json").is_file():
            raise FileExistsError(f"{path} exists and is not a threatclf model folder; refusing to replace it")
        if not overwrite:
            raise FileExistsError(f"{path} already exists (pass --overwrite, or overwrite=True in Python, "
                                  "to replace it)")
        try:
            listed = json.loads((path / "metadata.json").read_text(encoding="utf-8")).get("files", {})
        except (OSError, ValueError, AttributeError):
            listed = {}
        foreign = sorted(p.name for p in path.iterdir() if p.name != "metadata.json" and p.name not in listed
                         and not (p.name in _FILE_BROWSER_FILES and p.is_file()))
        if foreign:
            raise FileExistsError(f"{path} holds files that are not part of its model ({', '.join(foreign[:5])}"
                                  f"{', ...' if len(foreign) > 5 else ''}); replacing the folder would delete "
                                  "them: move them out, or save the model elsewhere")
    existing = path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"cannot write model folder {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write model folder {path}: no permission to write in {existing}")
    return path


def _missing_figures(figures: dict) -> list[str]:
    """What a dict of figures lacks to be an Evaluation's to_dict(): its keys, or a support per label."""
    missing = [repr(key) for key in ("macro_f1", "micro_f1", "labels") if key not in figures]
    labels = figures.get("labels")
    if not missing and not (isinstance(labels, dict) and all(isinstance(v, dict) and "support" in v
                                                             for v in labels.values())):
        missing.append("a 'support' for each entry of 'labels'")
    return missing


def _carried_metrics(metrics, model, path: Path) -> dict | None:
    """The figures a loaded folder recorded, carried to the model's new folder: those a card can
    show (metadata.json is a record, not checked on loading, and may have been edited by hand);
    the others are left out, with a warning naming them."""
    if not isinstance(metrics, dict):
        return None
    labels = set(model.labels_)
    kept = {split: figures for split, figures in metrics.items()
            if isinstance(split, str) and isinstance(figures, dict) and not _missing_figures(figures)
            and set(figures["labels"]) <= labels}
    left_out = [split for split in metrics if split not in kept]
    if left_out:
        warnings.warn(f"{path}: the figures recorded for {left_out} are left out of the new folder: they are not "
                      "as threatclf.evaluate gives them (edited by hand?); pass metrics= to record figures",
                      UserWarning, stacklevel=3)
    return kept or None


def _check_metrics(metrics, model) -> dict | None:
    """``metrics`` as {split: figures dict}, each as :func:`~threatclf.evaluate` makes them, of
    ``model``'s labels; figures :func:`~threatclf.evaluate` measured on another fit say so."""
    if metrics is None:
        return None
    digest = None
    if not isinstance(metrics, dict):
        raise TypeError(f"metrics must map a split name to an Evaluation, got {type(metrics).__name__}")
    checked = {}
    for split, figures in metrics.items():
        if hasattr(figures, "to_dict") and not hasattr(figures, "columns"):  # an Evaluation (not a DataFrame)
            figures = figures.to_dict()
        missing = _missing_figures(figures) if isinstance(figures, dict) else None
        if not isinstance(split, str) or missing is None or missing:
            raise TypeError(f"metrics[{split!r}] must be an Evaluation (threatclf.evaluate(model, texts, labels)) "
                            f"or its to_dict(), got {type(figures).__name__}"
                            + (f" without {', '.join(missing)}" if missing else "")
                            + ("; a cross_validate() table is not one: evaluate a held-out set, or give its "
                               "mean in training_description" if hasattr(figures, "columns") else ""))
        scored = figures.get("labels")
        other = sorted(set(scored) - set(model.labels_)) if isinstance(scored, dict) else []
        if other:
            raise ValueError(f"metrics[{split!r}] scores labels the model does not have: {other}; they are figures "
                             "of another model")
        not_finite = _not_finite_figures(figures)
        if not_finite:  # json writes NaN, which other JSON readers refuse; evaluate gives None for "undefined"
            raise ValueError(f"metrics[{split!r}] holds figures that are not finite numbers: {not_finite[:3]} "
                             "(None marks a figure that is undefined)")
        measured_on = figures.get("model_sha256")
        if measured_on is not None and digest is None:
            digest = model._decision_digest()
        if not figures.get("description"):  # say what they are, as threatclf train does
            n = figures.get("n_samples")
            counted = f"{n:,} texts" if isinstance(n, int) else "Texts"
            seen = figures.get("seen_in_training")
            if measured_on is not None and measured_on != digest:  # e.g. refitted on these texts since
                said = (f"{counted} scored with threatclf.evaluate on another fit than the model saved here "
                        "(other training data, settings or thresholds): these figures are not this model's.")
            elif isinstance(seen, int) and not isinstance(seen, bool):  # threatclf.evaluate checked them
                said = (f"{counted} scored with threatclf.evaluate; "
                        + (f"{seen:,} of them were in the training data, so these figures are optimistic." if seen
                           else "none of them in the training data."))
            else:
                said = f"{counted} scored; whether the model was trained on them was not checked."
            figures = {**figures, "description": said}
        checked[split] = figures
    return checked


def _not_finite_figures(figures, where: str = "") -> list[str]:
    """The places (``labels.terrorism.f1``) of NaN or infinite numbers in ``figures``."""
    if isinstance(figures, dict):
        return [place for key, value in figures.items()
                for place in _not_finite_figures(value, f"{where}.{key}" if where else str(key))]
    if isinstance(figures, (list, tuple)):
        return [place for k, value in enumerate(figures) for place in _not_finite_figures(value, f"{where}[{k}]")]
    if isinstance(figures, (float, np.floating)) and not math.isfinite(figures):
        return [f"{where}={figures}"]
    return []


def _record_of_unchanged_model(model, fingerprint: dict) -> dict:
    """The metadata the model was loaded with, if it is still the model that was loaded; else {}."""
    loaded = getattr(model, "metadata_", None)
    if not isinstance(loaded, dict) or getattr(model, "_loaded_decision", None) != model._decision_digest():
        return {}  # weights, calibration or thresholds changed since loading
    data = {k: v for k, v in (loaded.get("training_data") or {}).items() if k != "description"}
    unchanged = (loaded.get("labels") == list(model.labels_)
                 and isinstance(loaded.get("settings"), dict)
                 and not [name for name in _settings_differ(loaded["settings"], _jsonable(model.get_params()))
                          if name not in COMPUTE_SETTINGS]  # n_jobs=2 changes no figure
                 and data == _jsonable(fingerprint))
    return loaded if unchanged else {}


def default_model_path() -> Path:
    """The bundled default model: inside the installed package, or ``models/`` of a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_bundled_models" / DEFAULT_MODEL_NAME, here.parent / "models" / DEFAULT_MODEL_NAME):
        if (candidate / "metadata.json").is_file():
            return candidate
    raise ModelFormatError(
        f"the bundled default model {DEFAULT_MODEL_NAME!r} is not installed (looked in "
        f"{here / '_bundled_models'} and {here.parent / 'models'}); reinstall threatclf or pass a model path"
    )


def _refuse_link_outside(file: Path, folder: Path) -> None:
    """A model folder's file may not be a link out of the folder: its digest would vouch for,
    and ``info`` would print, a file the folder does not hold."""
    if not file.is_symlink():
        return
    try:
        target = file.resolve(strict=True)
    except (OSError, RuntimeError):  # a link to itself (a loop: RuntimeError before Python 3.13), or to nothing
        raise _DamagedFolderError(f"{file} is a link that leads nowhere (a loop, or a missing file)") from None
    if folder.resolve() not in target.parents:
        raise _DamagedFolderError(f"{file} is a link to a file outside the model folder; refusing to open it")


def read_metadata(path) -> dict:
    """``metadata.json`` of a model folder, with a clear error when it is not one."""
    path = Path(path)
    if not path.exists():
        raise ModelFormatError(f"model folder {path} does not exist")
    if not path.is_dir():
        raise ModelFormatError(f"{path} is not a model folder (a model is a folder holding metadata.json)")
    meta_path = path / "metadata.json"
    _refuse_link_outside(meta_path, path)  # first: a link to nowhere is not "missing"
    if not meta_path.is_file():
        raise ModelFormatError(f"{path} is not a threatclf model folder: metadata.json is missing")
    if meta_path.stat().st_size > MAX_METADATA_BYTES:
        raise ModelFormatError(f"{meta_path} is larger than {MAX_METADATA_BYTES:,} bytes; not a threatclf model")
    try:
        metadata = json.loads(meta_path.read_bytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{meta_path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise ModelFormatError(f"{meta_path} is nested too deeply to be a threatclf model's metadata") from None
    if not isinstance(metadata, dict):
        raise ModelFormatError(f"{meta_path} must hold a JSON object")
    return metadata


def settings_of_model(path=None) -> dict:
    """The settings a model folder (by default the bundled model) was trained with, as
    ``ThreatClassifier`` keyword arguments: to train another model the same way
    (``ThreatClassifier(**settings_of_model())``; ``threatclf train --settings-from``).

    Only ``metadata.json`` is read, not the weights, so nothing needs trusting; every setting is
    checked as ``ThreatClassifier.check_params`` checks it before it is returned. How to compute
    (:data:`~threatclf.classifier.COMPUTE_SETTINGS`: ``n_jobs``, ``engine``) is left to the new run.
    """
    path = default_model_path() if path is None else Path(path)
    metadata = read_metadata(path)
    with _blame_newer_release(metadata):
        return _stated_settings(path, metadata)


def _stated_settings(path: Path, metadata: dict) -> dict:
    """:func:`settings_of_model` on metadata already read."""
    from .classifier import ThreatClassifier

    _check_format_version(metadata, path)
    stated = metadata.get("settings")
    if not isinstance(stated, dict):
        raise ModelFormatError(f"{path}: metadata.json has no settings")
    stated = dict(stated)
    if "labels" in stated and "label_names" not in stated:  # threatclf 0.1 (model format 1) named it labels
        stated["label_names"] = stated.pop("labels")
    known = ThreatClassifier().get_params()
    unknown = sorted(set(stated) - set(known))
    if unknown:
        raise ModelFormatError(f"{path}: metadata.json has settings this threatclf does not know: {unknown} "
                               f"(saved by threatclf {printable(metadata.get('threatclf_version', '?'))})")
    # settings added since the folder was written take the value older models had, which is
    # the default they were added with
    settings = settings_from_json({name: value for name, value in stated.items() if name not in COMPUTE_SETTINGS})
    try:
        ThreatClassifier(**settings).check_params()
    except ValueError as exc:
        raise ModelFormatError(f"{path}: metadata.json has a setting threatclf refuses: {exc} (saved by threatclf "
                               f"{printable(metadata.get('threatclf_version', '?'))})") from None
    _refuse_unstated_settings(metadata, path)
    return settings


def settings_from_json(stated: dict) -> dict:
    """``ThreatClassifier`` keyword arguments from their JSON form (``metadata.json``, a
    ``--config`` file): a list is a tuple (an n-gram range), and a per-class ``class_weight``
    gets back the 0 / 1 keys JSON made text of (``{"0": 1, "1": 5}``, also per label)."""
    def per_class(value):
        if isinstance(value, dict) and value and set(value) <= {"0", "1"} and all(
                isinstance(w, (int, float)) and not isinstance(w, bool) for w in value.values()):
            return {int(k): w for k, w in value.items()}
        return value

    settings = {name: tuple(value) if isinstance(value, list) else value for name, value in stated.items()}
    weight = settings.get("class_weight")
    if isinstance(weight, dict):
        weight = per_class(weight)
        settings["class_weight"] = ({label: per_class(value) for label, value in weight.items()}
                                    if all(isinstance(k, str) for k in weight) else weight)
    return settings


@dataclass
class Verification:
    """What :func:`verify_model` found: the folder's metadata and the types its file builds."""

    path: Path
    metadata: dict
    types: list[str]
    untrusted: list[str]
    #: ``["README.md"]`` when the model card was edited or removed since saving (noted, not fatal:
    #: the weights are checked apart); any other file changed makes the folder a damaged one.
    changed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the folder loads as it was saved without trusting more: every type trusted.
        Always false for a joblib folder, a pickle, which loads only with trust."""
        return not self.untrusted

    def how_changed(self, name: str) -> str:
        """What happened to ``name``, one of :attr:`changed`, since saving, in words."""
        return "is missing" if not (Path(self.path) / name).exists() else _CHANGED_SINCE_SAVING

    def __bool__(self) -> bool:  # `if verify_model(path):` must not pass an untrusted folder
        return self.ok


def _check_format_version(metadata: dict, path: Path) -> int:
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFormatError(f"{path}/metadata.json has no valid format_version (got {version!r})")
    if version > FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path} was saved in model format {version} by threatclf "
            f"{printable(metadata.get('threatclf_version', '?'))}; "
            f"this threatclf {_threatclf_version()} reads formats up to {FORMAT_VERSION}: upgrade threatclf"
        )
    if version not in _LOADERS:
        raise IncompatibleModelError(f"{path}: model format {version} is not supported (known: {sorted(_LOADERS)})")
    return version


def _check_digests(metadata: dict, path: Path) -> tuple[Path, bytes, list[str]]:
    """The weights file's path and bytes (read once, digest checked), and ``["README.md"]`` if the
    model card changed or is missing (noted, not fatal); any other listed file changed or missing
    is a damaged folder."""
    files = metadata.get("files")
    weights_name = metadata.get("weights_file")
    if not isinstance(files, dict) or not isinstance(weights_name, str) or weights_name not in files:
        raise ModelFormatError(f"{path}/metadata.json lists no digest for the weights file")
    if Path(weights_name).name != weights_name or weights_name in ("", ".", ".."):
        raise ModelFormatError(f"{path}/metadata.json names a weights file outside the folder: {weights_name!r}")
    weights = path / weights_name
    data, changed = b"", []
    for name, expected in files.items():
        if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
            raise ModelFormatError(f"{path}/metadata.json lists a file outside the folder: {name!r}")
        file = path / name
        _refuse_link_outside(file, path)
        if not file.is_file():
            if name == "README.md" and name != weights_name:  # the card is documentation: noted, as an edit is
                changed.append(name)
                continue
            raise _DamagedFolderError(printable(f"{path}: file {name} listed in metadata.json is missing"
                                             + (" (a folder or device is in its place)" if file.exists() else "")),
                                      changed=(name, "is missing" if not file.exists() else "is not a file"))
        if name == weights_name:
            size = file.stat().st_size  # before reading: a sparse file is large on paper, small to hand over
            if size > MAX_INFLATED_BYTES:
                raise _DamagedFolderError(f"{file} holds {size:,} bytes, more than the {MAX_INFLATED_BYTES:,} a threatclf "
                                       "model may (persistence.MAX_INFLATED_BYTES); refusing to read it")
            data = file.read_bytes()
            actual = hashlib.sha256(data).hexdigest()
        elif file.stat().st_size > MAX_LISTED_BYTES:
            actual = None
        else:
            actual = _sha256(file)
        if actual != expected:
            if name == "README.md" and name != weights_name:  # the card is documentation: noted, not fatal
                changed.append(name)
                continue
            # any other listed file vouches for the model as the weights do, as a missing one would
            raise _DamagedFolderError(printable(f"{file} does not match the SHA-256 recorded in metadata.json (changed "
                                                "or damaged since saving)"), changed=(name, _CHANGED_SINCE_SAVING))
    return weights, data, changed


def _plain_npy_shape(data: bytes) -> tuple | None:
    """The shape of a skops array member if it is a .npy array of numbers, else None (np.load
    would also open a zip of arrays, or an object array, from a member a node calls an array);
    ``data`` is the member's start, which holds the .npy header."""
    if not data.startswith(b"\x93NUMPY"):
        return None
    try:
        stream = io.BytesIO(data)
        version = np.lib.format.read_magic(stream)
        header = (np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0)
        shape, _, dtype = header(stream)
    except Exception:
        return None
    return tuple(shape) if dtype.kind in "biuf" else None


def _sizes_problem(state: dict, shapes: dict) -> str | None:
    """What is wrong with the sizes of a stored ThreatClassifier's arrays, read from their
    headers before anything is built: the stored terms (each a Python string once built, several
    times the bytes they take in the file) must be as many as the weights' columns and the IDF
    weights, so a small file cannot ask for gigabytes of terms the model does not use."""
    def shape(node):
        return shapes.get(node.get("file")) if isinstance(node, dict) else None

    coef = shape(state.get("coef_"))
    vectorizers = state.get("vectorizers_", {}).get("content") if isinstance(state.get("vectorizers_"), dict) else None
    if coef is None or not isinstance(vectorizers, list):
        return None  # not the usual layout: the checks after loading say what is wrong
    terms = 0
    for k, node in enumerate(vectorizers):
        packed = node.get("content") if isinstance(node, dict) else None
        offsets = shape(packed.get("terms_offsets")) if isinstance(packed, dict) else None
        if offsets is None or len(offsets) != 1 or offsets[0] < 1:
            return f"stored vectorizer {k} has no term offsets"
        idf = shape(packed.get("idf"))
        if idf is not None and idf != (offsets[0] - 1,):
            return f"stored vectorizer {k} has {offsets[0] - 1:,} terms but IDF weights of shape {idf}"
        terms += offsets[0] - 1
    if len(coef) != 2 or coef[1] != terms:
        return f"the stored vectorizers hold {terms:,} terms but the weights have shape {coef}"
    return None


def _schema_types(node, found: set[str], arrays: list | None = None) -> None:
    """Every type a skops schema builds, at any depth: ``module.class``, or ``module.class
    (built by <loader>)`` when the node asks a loader other than the one threatclf's own files
    use for that type (see :data:`TRUSTED_NODES`)."""
    if isinstance(node, dict):
        if "__module__" in node or "__class__" in node or "__loader__" in node:
            name = f"{node.get('__module__')}.{node.get('__class__')}"
            loader = str(node.get("__loader__"))
            key = f"{loader}:{node.get('type')}" if loader == "NdArrayNode" else loader
            usual = any(name in names for names in TRUSTED_NODES.values())
            found.add(f"{name} (built by {key})" if usual and name not in TRUSTED_NODES.get(key, ()) else name)
            if key == "NdArrayNode:numpy" and arrays is not None:
                arrays.append(node.get("file"))
        for value in node.values():
            _schema_types(value, found, arrays)
    elif isinstance(node, list):
        for value in node:
            _schema_types(value, found, arrays)


def _unknown_attributes(state: dict) -> list[str]:
    """Attributes of a stored ThreatClassifier state that none of its settings or fitted parts
    is (an instance attribute named ``predict_proba`` would replace the method)."""
    from .classifier import FITTED_ATTRIBUTES, ThreatClassifier

    # "labels": 0.1's name for label_names; "_sklearn_version": scikit-learn's own stamp
    known = FITTED_ATTRIBUTES | set(ThreatClassifier().get_params(deep=False)) | {"labels", "_sklearn_version"}
    return [name for name in state if name not in known]


def _skops_types(weights: Path, data: bytes | None = None) -> list[str]:
    """The types loading the skops file (``data``, else read from ``weights``) would build:
    read from its schema, nothing built."""
    import skops.io as sio

    data = weights.read_bytes() if data is None else data
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise _DamagedFolderError(f"{weights} is not a skops file (not a zip archive); refusing to open it")
    found: set[str] = set()
    try:
        arrays: list = []
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
            if inflated > MAX_INFLATED_BYTES:
                raise _DamagedFolderError(f"{weights} inflates to {inflated:,} bytes, more than the {MAX_INFLATED_BYTES:,} "
                                       "a threatclf model may (persistence.MAX_INFLATED_BYTES); refusing to open it")
            if archive.getinfo("schema.json").file_size > MAX_METADATA_BYTES:
                raise ModelFormatError(f"{weights}: its schema is larger than {MAX_METADATA_BYTES:,} bytes")
            schema = json.loads(archive.read("schema.json"))
            _schema_types(schema, found, arrays)
            state = schema.get("content", {}).get("content") if isinstance(schema.get("content"), dict) else None
            ours = schema.get("__module__") == "threatclf.classifier" and schema.get("__class__") == "ThreatClassifier"
            for name in sorted(_unknown_attributes(state) if ours and isinstance(state, dict) else ()):
                found.add(f"{schema.get('__module__')}.{schema.get('__class__')} (stored attribute "
                          f"{printable(name)!r} is not one of a ThreatClassifier's)")
            shapes: dict = {}
            for member, uses in Counter(m if isinstance(m, str) else repr(m) for m in arrays).items():
                try:
                    with archive.open(member) as stream:  # the header only: dtype and shape are checked
                        shapes[member] = _plain_npy_shape(stream.read(1 << 16))
                except (KeyError, TypeError, AttributeError):  # no such member, or not a member name
                    shapes[member] = None
                if shapes[member] is None:
                    found.add(f"numpy.ndarray (member {printable(member)!r} is not a numeric .npy array)")
                if uses > 1:  # skops writes each array once; read again by every node that names it
                    found.add(f"numpy.ndarray (member {printable(member)!r} is named by {uses} nodes)")
        if any(" (member " in name or " (stored attribute " in name for name in found):
            return sorted(found)  # not a file threatclf wrote: reported, not audited further
        problem = _sizes_problem(state, shapes) if ours and isinstance(state, dict) else None
        if problem:
            raise ModelFormatError(f"{weights}: {problem}; refusing to build it")
        found.update(sio.get_untrusted_types(data=data))
    except ModelFormatError:
        raise
    except Exception as exc:  # a damaged or hand-made archive; RecursionError for absurd nesting
        if any(" (built by " in name or " (member " in name for name in found):
            return sorted(found)  # a disguised node skops cannot even audit: report it as untrusted
        raise ModelFormatError(f"{weights} is not a readable skops file: {type(exc).__name__}: "
                               f"{printable(exc)}") from None
    return sorted(found)


def verify_model(path, *, trusted: Sequence[str] = ()) -> Verification:
    """Check a model folder: format, digests and stored types, read without building anything;
    then, if every type is trusted, the model built from them (nothing else can be built) must
    match ``metadata.json``, as :func:`load_model` requires — a folder that verifies loads.

    ``trusted`` names further types (``"module.Class"``) to accept beside threatclf's own, as
    ``load_model(trust=)`` does. Returns a :class:`Verification`, true when the folder loads as
    saved: its ``types``, the ``untrusted`` ones among them and the files ``changed`` since
    saving.

    Raises :class:`~threatclf.exceptions.ModelFormatError` for a damaged folder (digest of the
    weights, format, metadata), :class:`~threatclf.exceptions.IncompatibleModelError` (a subclass)
    for one a later release wrote in a way this one cannot read, and ``TypeError`` when
    ``trusted`` is not a list of names.
    """
    if isinstance(trusted, bool):
        raise TypeError("trusted is a list of type names (\"module.Class\"); verify_model never loads a pickle, so "
                        "there is nothing to trust whole")
    trusted = _trusted_names(list(trusted) if isinstance(trusted, Sequence) and not isinstance(trusted, str)
                             else trusted, "trusted")
    path = Path(path)
    metadata = read_metadata(path)
    with _blame_newer_release(metadata):
        check = _verify(path, metadata, trusted)[0]
        if not check.untrusted and metadata.get("weights_format") == "skops":
            with warnings.catch_warnings():  # check.changed says it
                warnings.simplefilter("ignore", UserWarning)
                _LOADERS[_check_format_version(metadata, path)](path, metadata, list(trusted))
    return check


def _verify(path: Path, metadata: dict, trusted: Sequence[str] = ()) -> tuple[Verification, bytes]:
    """:func:`verify_model` on metadata already read, with the weights' bytes it checked."""
    _check_format_version(metadata, path)
    weights, data, changed = _check_digests(metadata, path)
    fmt = metadata.get("weights_format")
    if fmt in WEIGHT_FILES and weights.name != WEIGHT_FILES[fmt]:
        # a pickle named model.skops (or README.md) would look harmless in a folder listing
        raise _DamagedFolderError(f"{path}: a {fmt} model's weights file is {WEIGHT_FILES[fmt]}, not {weights.name!r}")
    if fmt == "joblib":
        return Verification(path, metadata, ["<pickle: any type>"], ["<pickle: any type>"], changed), data
    if fmt != "skops":
        raise ModelFormatError(f"{path}: unknown weights_format {fmt!r} in metadata.json")
    types = _skops_types(weights, data)
    allowed = set(TRUSTED_TYPES) | set(trusted)
    return Verification(path, metadata, types, [t for t in types if t not in allowed], changed), data


def _as_float(value) -> float:
    """A number stated in metadata.json as a float; NaN (no match) for anything else, or for an
    integer too large for a float (JSON allows 10**400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return np.nan
    try:
        return float(value)
    except OverflowError:
        return np.nan


def _check_consistent(model, metadata: dict, path: Path) -> None:
    """The loaded parts fit together and match metadata.json: a hand-edited file cannot make a
    model that silently scores one label with another's weights, or show other thresholds."""
    unknown = _unknown_attributes({k: v for k, v in vars(model).items()
                                   if k not in ("_compiled", "_evidence_cache", "_fitted_params")})
    if unknown:
        raise ModelFormatError(f"{path}: the stored model has attributes a ThreatClassifier does not: "
                               f"{printable(unknown)}")
    labels = model.labels_
    if type(labels) is not list or not all(type(label) is str for label in labels):
        raise ModelFormatError(f"{path}: the stored labels are not a list of names")
    for label in labels:  # what every release refused; 0.1-0.4 allowed ',' and '|', which fit now refuses
        if not label.isprintable() or ";" in label or not label.strip() or label != label.strip():
            raise ModelFormatError(printable(f"{path}: label name {label!r} is not one threatclf writes (control "
                                             "characters, ';', or white space around it)"))
        problem = loaded_label_problem(label)
        if problem:
            raise ModelFormatError(printable(f"{path}: {problem}"))
    if len(set(labels)) != len(labels):
        raise ModelFormatError(printable(f"{path}: the stored labels name one twice: {labels}"))
    alike = lookalike_problem(labels)
    if alike:
        raise ModelFormatError(printable(f"{path}: {alike}"))
    for name in ("coef_", "intercept_", "calibration_", "thresholds_", "training_text_hashes_"):
        value = getattr(model, name, None)
        if value is None and name == "training_text_hashes_":
            continue
        if type(value) is not np.ndarray or value.dtype.kind not in "fiu":
            raise ModelFormatError(f"{path}: the stored {name} is not a numeric array ({type(value).__name__})")
        if name in ("coef_", "intercept_", "calibration_") and not np.isfinite(value).all():
            # a NaN weight gives every text a NaN score: no label and no error
            raise ModelFormatError(f"{path}: the stored {name} holds values that are not finite numbers")
    fingerprint = getattr(model, "training_fingerprint_", None)
    if fingerprint is not None and not isinstance(fingerprint, dict):
        raise ModelFormatError(f"{path}: the stored training_fingerprint_ is not a mapping "
                               f"({type(fingerprint).__name__})")
    try:
        model.check_params()
    except (AttributeError, TypeError, ValueError) as exc:
        raise ModelFormatError(f"{path}: the stored settings are invalid ({printable(exc)})") from None
    n = len(labels)
    try:
        n_features = sum(len(v.vocabulary_) for v in model.vectorizers_)
        shapes_ok = (np.shape(model.coef_) == (n, n_features) and np.shape(model.intercept_) == (n,)
                     and np.shape(model.calibration_) == (n, 2) and np.shape(model.thresholds_) == (n,)
                     and all(v.idf_.shape == (len(v.vocabulary_),) for v in model.vectorizers_ if v.use_idf))
    except (AttributeError, TypeError) as exc:
        raise ModelFormatError(f"{path}: the stored model is incomplete ({exc})") from None
    if not shapes_ok:
        raise ModelFormatError(f"{path}: the stored model's weights, calibration or thresholds do not fit its "
                               f"{n} labels and {n_features} features")
    thresholds = np.asarray(model.thresholds_, dtype=np.float64)
    if not ((thresholds >= 0) & ((thresholds <= 1) | (thresholds == NEVER))).all():
        raise ModelFormatError(f"{path}: stored thresholds must lie between 0 and 1 (or mark a label not learned)")
    stated = metadata.get("thresholds")
    if not isinstance(stated, dict) or list(stated) != labels or not np.allclose(
            [_as_float(stated[lab]) for lab in labels], thresholds, rtol=0, atol=1e-9):
        raise ModelFormatError(f"{path}: thresholds in metadata.json do not match the stored model")
    if metadata.get("n_features") != n_features:
        raise ModelFormatError(f"{path}: n_features in metadata.json does not match the stored model")
    # The settings shown by `threatclf info` and the model card are the model's (0.1 called
    # label_names "labels"; a setting added later is absent from older folders).
    stated = metadata.get("settings")
    params = _jsonable(model.get_params())
    if not isinstance(stated, dict):
        raise ModelFormatError(f"{path}: metadata.json has no settings")
    differ = _settings_differ(stated, params)
    if differ:
        raise ModelFormatError(f"{path}: settings in metadata.json do not match the stored model: {differ}")
    _refuse_unstated_settings(metadata, path)


def _refuse_unstated_settings(metadata: dict, path: Path) -> None:
    unstated = _unstated_settings(metadata)
    if unstated:
        raise ModelFormatError(f"{path}: metadata.json does not state the settings {unstated} (edited by hand?): "
                               "the settings it shows, and a model trained with them, would not be this model's")


def _settings_differ(stated: dict, params: dict) -> list[str]:
    """The settings metadata.json states that the model's own (``_jsonable(get_params())``) do
    not match. 0.1 called label_names "labels"; a setting added later is absent from older folders."""
    return sorted(key for key, value in stated.items()
                  if params.get("label_names" if key == "labels" else key, _ABSENT) != value)


def _load_v1(path: Path, metadata: dict, trust) -> object:
    """Loader of model format 1 (threatclf 0.1-0.4): 0.1's stored settings ("labels" for
    "label_names", no "features_per_label") are brought up to date in
    ``ThreatClassifier.__setstate__``."""
    return _load_weights(path, metadata, trust)


def _load_v2(path: Path, metadata: dict, trust) -> object:
    """Loader of model format 2 (threatclf 0.5 on): the layout of format 1 as 0.2-0.4 wrote it."""
    return _load_weights(path, metadata, trust)


def _trusted_names(trust, argument: str = "trust") -> list[str]:
    """The type names a caller trusts beside threatclf's own. Anything but True, False or a
    collection of names is refused: ``trust="yes"`` must not quietly mean "trust nothing", nor a
    string be read as its letters."""
    if isinstance(trust, bool):
        return []
    if isinstance(trust, (list, tuple, set, frozenset)) and all(isinstance(name, str) for name in trust):
        return list(trust)
    allowed = "True, False or a list" if argument == "trust" else "a list"  # verify_model's trusted: names only
    raise TypeError(f"{argument} must be {allowed} of type names (\"module.Class\"), "
                    f"got {type(trust).__name__} {trust!r}")


def _load_weights(path: Path, metadata: dict, trust) -> object:
    """The model in a folder whose format version has been checked: trust, digests, types,
    then consistency with metadata.json."""
    extra = _trusted_names(trust)
    check, data = _verify(path, metadata, trusted=extra)  # the metadata read once, by load_model
    weights = path / metadata["weights_file"]
    if metadata["weights_format"] == "joblib":
        if trust is not True:
            raise UntrustedModelError(
                f"{weights} is a joblib pickle (weights_format in metadata.json): loading a pickle can run any code "
                "its author put in it, so "
                "threatclf opens it only when you trust its source: load_model(path, trust=True), or --trust on the "
                "command line. Prefer the "
                "skops format to share models (model.save(path), the default)."
            )
        import joblib

        try:
            model = joblib.load(io.BytesIO(data))
        except Exception as exc:  # trusted, so it ran; but what it holds is no model (not a pickle, cut short)
            raise _DamagedFolderError(f"{weights} could not be unpickled: {type(exc).__name__}: {printable(exc)}") from None
    else:
        if check.untrusted and trust is not True:
            raise UntrustedModelError(
                f"{weights} would build types outside threatclf's trusted list: {check.untrusted}. Inspect the "
                "file (threatclf verify) and pass load_model(path, trust=[...those types...]) (--trust on the command "
                "line) only if you trust it."
            )
        import skops.io as sio

        try:
            model = sio.loads(data, trusted=[t for t in check.types if " (" not in t])  # names, not our notes
        except Exception as exc:
            raise ModelFormatError(f"{weights} could not be loaded: {exc}") from None
    from .classifier import ThreatClassifier

    if not isinstance(model, ThreatClassifier):
        raise ModelFormatError(f"{weights} holds a {type(model).__name__}, not a ThreatClassifier")
    _check_consistent(model, metadata, path)
    if not isinstance(metadata.get("labels"), list) or list(model.labels_) != metadata["labels"]:
        raise ModelFormatError(f"{path}: labels in metadata.json do not match the stored model")
    for name in check.changed:
        warnings.warn(printable(f"{path / name} {check.how_changed(name)}"), UserWarning, stacklevel=5)
    return model


_LOADERS = {1: _load_v1, 2: _load_v2}


def load_model(path=None, *, trust: bool | Sequence[str] = False):
    """Load a model folder; ``None`` loads the bundled default model.

    ``trust`` is ``False`` (only threatclf's trusted types are built), a list of further type
    names you trust, or ``True`` (trust the file entirely; required for joblib folders).
    A skops folder saved with another major version of scikit-learn loads with a
    :class:`ModelVersionWarning` (it holds plain arrays and settings, read alike by other
    releases, and by numpy 1 and 2: the bundled model's scores agree to 2e-16 from numpy 1.25 and
    scikit-learn 1.6 on); a joblib folder, a pickle of their objects, with any other version of
    either.

    Raises :class:`~threatclf.exceptions.UntrustedModelError` when loading would build a type
    (or unpickle a file) you did not trust, :class:`~threatclf.exceptions.IncompatibleModelError`
    for a folder a later release wrote in a way this one cannot read, and
    :class:`~threatclf.exceptions.ModelFormatError` (the base of both) for a damaged folder: a
    missing or changed file, a bad digest, invalid metadata. ``TypeError`` when ``trust`` is not
    ``True``, ``False`` or a list of names.
    """
    _trusted_names(trust)  # before any file is read
    path = default_model_path() if path is None else Path(path)
    metadata = read_metadata(path)
    version = _check_format_version(metadata, path)
    pickled = metadata.get("weights_format") == "joblib"
    for library, installed in (("sklearn", sklearn.__version__), ("numpy", np.__version__)):
        saved = metadata.get(f"{library}_version")
        if pickled:
            differs = saved != installed
        else:  # numpy arrays are read alike by every release threatclf supports
            differs = library == "sklearn" and str(saved).split(".")[0] != installed.split(".")[0]
        if saved and differs:
            warnings.warn(
                printable(f"{path} was saved with {library} {saved} and is loaded with {library} {installed}; "
                "results may differ slightly — retrain or re-save the model to silence this warning"),
                ModelVersionWarning,
                stacklevel=2,
            )
    with warnings.catch_warnings():
        # The version check above already said this once, in threatclf's own words.
        warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
        with _blame_newer_release(metadata):
            model = _LOADERS[version](path, metadata, trust)
    newer = _newer_release(metadata)
    if newer is not None:
        warnings.warn(f"{printable(path)} was saved by threatclf {newer}, a later release than this threatclf "
                      f"{_threatclf_version()}: it loaded, but it is read by this release's rules, not the ones it "
                      "was trained with — upgrade threatclf", ModelVersionWarning, stacklevel=2)
    model.metadata_ = metadata
    model.path_ = str(path)
    model._loaded_decision = model._decision_digest()  # re-saved with edited weights, it is another model
    return model

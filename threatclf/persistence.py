"""Model folders: save, verify and load models without ever running untrusted code.

A model folder holds::

    model.skops      the fitted ThreatClassifier (or model.joblib, only loaded with trust=True)
    metadata.json    format version, versions, labels, thresholds, settings, data fingerprint,
                     metrics, creation time, and the SHA-256 of every other file
    README.md        the generated model card

Loading reads ``metadata.json`` first, checks the format version and the digests, then asks
skops which types the file would build and refuses any outside :data:`TRUSTED_TYPES` (or the
caller's own list) before building a single object.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sklearn

from .exceptions import IncompatibleModelError, ModelFormatError, UntrustedModelError
from .labels import LABEL_DEFINITIONS

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

#: Version of the folder layout written by :func:`save_model`.
FORMAT_VERSION = 1
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
WEIGHT_FILES = {"skops": "model.skops", "joblib": "model.joblib"}
DEFAULT_MODEL_NAME = "threat-default"


class ModelVersionWarning(UserWarning):
    """The model was saved with other library versions than the ones now installed."""


def _threatclf_version() -> str:
    from . import __version__

    return __version__


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def save_model(model, path, *, format: str = "skops", name: str | None = None, metrics: dict | None = None,
               training_description: str | None = None, card_extra: str | None = None,
               overwrite: bool = False) -> Path:
    """Write ``model`` as a model folder at ``path`` and return the path.

    ``format="skops"`` (default) is safe to share; ``"joblib"`` is a pickle, which
    :func:`load_model` only opens with ``trust=True``. ``metrics`` maps a split name to an
    :class:`~threatclf.evaluate.Evaluation` or its ``to_dict()``. The folder appears complete
    or not at all: it is written beside ``path`` and renamed into place.
    """
    from sklearn.utils.validation import check_is_fitted

    from .modelcard import render_model_card

    check_is_fitted(model, "coef_")
    if format not in WEIGHT_FILES:
        raise ValueError(f"format must be one of {sorted(WEIGHT_FILES)}, got {format!r}")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (pass overwrite=True, or --overwrite on the command line, "
                              "to replace it)")
    if path.exists() and not (path / "metadata.json").is_file():
        raise FileExistsError(f"{path} exists and is not a threatclf model folder; refusing to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp makes it private; a model folder is for sharing
    try:
        weights = staging / WEIGHT_FILES[format]
        if format == "skops":
            import skops.io as sio

            sio.dump(model, weights, compression=zipfile.ZIP_DEFLATED)
        else:
            import joblib

            joblib.dump(model, weights, compress=3)
        fingerprint = getattr(model, "training_fingerprint_", {}) or {}
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
            "label_definitions": {lab: LABEL_DEFINITIONS[lab] for lab in model.labels_ if lab in LABEL_DEFINITIONS},
            "settings": _jsonable(model.get_params()),
            "n_features": int(model.coef_.shape[1]),
            "training_data": {**_jsonable(fingerprint), **({"description": training_description} if training_description else {})},
            "metrics": {k: _jsonable(v.to_dict() if hasattr(v, "to_dict") else v) for k, v in (metrics or {}).items()},
        }
        if format == "skops":  # said now, not first discovered by whoever loads the folder
            untrusted = [t for t in _skops_types(weights) if t not in TRUSTED_TYPES]
            if untrusted:
                warnings.warn(f"{path} holds types outside threatclf's trusted list, {untrusted}: it will load only "
                              "with load_model(path, trust=[...those types...])", UserWarning, stacklevel=2)
        (staging / "README.md").write_text(render_model_card(metadata, card_extra), encoding="utf-8")
        metadata["files"] = {p.name: _sha256(p) for p in sorted(staging.iterdir())}
        (staging / "metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(staging, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


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


def read_metadata(path) -> dict:
    """``metadata.json`` of a model folder, with a clear error when it is not one."""
    path = Path(path)
    if not path.exists():
        raise ModelFormatError(f"model folder {path} does not exist")
    if not path.is_dir():
        raise ModelFormatError(f"{path} is not a model folder (a model is a folder holding metadata.json)")
    meta_path = path / "metadata.json"
    if not meta_path.is_file():
        raise ModelFormatError(f"{path} is not a threatclf model folder: metadata.json is missing")
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{meta_path} is not valid JSON: {exc}") from None
    if not isinstance(metadata, dict):
        raise ModelFormatError(f"{meta_path} must hold a JSON object")
    return metadata


@dataclass
class Verification:
    """What :func:`verify_model` found: the folder's metadata and the types its file builds."""

    path: Path
    metadata: dict
    types: list[str]
    untrusted: list[str]
    #: Files other than the weights whose digest no longer matches (e.g. an edited README.md).
    changed: list[str] = field(default_factory=list)


def _check_format_version(metadata: dict, path: Path) -> int:
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFormatError(f"{path}/metadata.json has no valid format_version (got {version!r})")
    if version > FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path} was saved in model format {version} by threatclf {metadata.get('threatclf_version', '?')}; "
            f"this threatclf {_threatclf_version()} reads formats up to {FORMAT_VERSION}: upgrade threatclf"
        )
    if version not in _LOADERS:
        raise IncompatibleModelError(f"{path}: model format {version} is not supported (known: {sorted(_LOADERS)})")
    return version


def _check_digests(metadata: dict, path: Path) -> tuple[Path, list[str]]:
    files = metadata.get("files")
    weights_name = metadata.get("weights_file")
    if not isinstance(files, dict) or not isinstance(weights_name, str) or weights_name not in files:
        raise ModelFormatError(f"{path}/metadata.json lists no digest for the weights file")
    if Path(weights_name).name != weights_name:
        raise ModelFormatError(f"{path}/metadata.json names a weights file outside the folder: {weights_name!r}")
    changed = []
    for name, expected in files.items():
        file = path / Path(name).name
        if not file.is_file():
            raise ModelFormatError(f"{path}: file {name} listed in metadata.json is missing")
        actual = _sha256(file)
        if actual != expected:
            message = f"{file} does not match the SHA-256 recorded in metadata.json (changed or damaged since saving)"
            if name == weights_name:
                raise ModelFormatError(message)
            changed.append(name)
    return path / weights_name, changed


def _schema_types(node, found: set[str]) -> None:
    """Every ``module.class`` a skops schema names, at any depth."""
    if isinstance(node, dict):
        if "__module__" in node or "__class__" in node:
            found.add(f"{node.get('__module__')}.{node.get('__class__')}")
        for value in node.values():
            _schema_types(value, found)
    elif isinstance(node, list):
        for value in node:
            _schema_types(value, found)


def _skops_types(weights: Path) -> list[str]:
    """The types loading ``weights`` would build: read from its schema, nothing built."""
    import skops.io as sio

    if not zipfile.is_zipfile(weights):
        raise ModelFormatError(f"{weights} is not a skops file (not a zip archive); refusing to open it")
    try:
        with zipfile.ZipFile(weights) as archive:
            schema = json.loads(archive.read("schema.json"))
        found: set[str] = set()
        _schema_types(schema, found)
        found.update(sio.get_untrusted_types(file=weights))
    except Exception as exc:  # a damaged or hand-made archive
        raise ModelFormatError(f"{weights} is not a readable skops file: {exc}") from None
    return sorted(found)


def verify_model(path, *, trusted: Sequence[str] = ()) -> Verification:
    """Check a model folder without building any object: format, digests and stored types."""
    path = Path(path)
    metadata = read_metadata(path)
    _check_format_version(metadata, path)
    weights, changed = _check_digests(metadata, path)
    fmt = metadata.get("weights_format")
    if fmt == "joblib":
        return Verification(path, metadata, ["<pickle: any type>"], ["<pickle: any type>"], changed)
    if fmt != "skops":
        raise ModelFormatError(f"{path}: unknown weights_format {fmt!r} in metadata.json")
    types = _skops_types(weights)
    allowed = set(TRUSTED_TYPES) | set(trusted)
    return Verification(path, metadata, types, [t for t in types if t not in allowed], changed)


def _check_consistent(model, metadata: dict, path: Path) -> None:
    """The loaded parts fit together and match metadata.json: a hand-edited file cannot make a
    model that silently scores one label with another's weights, or show other thresholds."""
    labels = list(model.labels_)
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
    if not ((thresholds >= 0) & (thresholds <= 1)).all():
        raise ModelFormatError(f"{path}: stored thresholds must lie between 0 and 1")
    stated = metadata.get("thresholds")
    if not isinstance(stated, dict) or list(stated) != labels or not np.allclose(
            [float(stated[lab]) if isinstance(stated[lab], (int, float)) else np.nan for lab in labels],
            thresholds, rtol=0, atol=1e-9):
        raise ModelFormatError(f"{path}: thresholds in metadata.json do not match the stored model")
    if metadata.get("n_features") != n_features:
        raise ModelFormatError(f"{path}: n_features in metadata.json does not match the stored model")


def _load_v1(path: Path, metadata: dict, trust) -> object:
    """Loader of model format 1 (threatclf 0.1)."""
    extra = list(trust) if isinstance(trust, (list, tuple, set, frozenset)) else []
    check = verify_model(path, trusted=extra)
    weights = path / metadata["weights_file"]
    if metadata["weights_format"] == "joblib":
        if trust is not True:
            raise UntrustedModelError(
                f"{weights} is a joblib pickle: loading a pickle can run any code its author put in it, so "
                "threatclf opens it only when you trust its source: load_model(path, trust=True), or --trust on the "
                "command line. Prefer the "
                "skops format to share models (model.save(path), the default)."
            )
        import joblib

        model = joblib.load(weights)
    else:
        if check.untrusted and trust is not True:
            raise UntrustedModelError(
                f"{weights} would build types outside threatclf's trusted list: {check.untrusted}. Inspect the "
                "file (threatclf verify) and pass load_model(path, trust=[...those types...]) (--trust on the command "
                "line) only if you trust it."
            )
        import skops.io as sio

        try:
            model = sio.load(weights, trusted=check.types)
        except Exception as exc:
            raise ModelFormatError(f"{weights} could not be loaded: {exc}") from None
    from .classifier import ThreatClassifier

    if not isinstance(model, ThreatClassifier):
        raise ModelFormatError(f"{weights} holds a {type(model).__name__}, not a ThreatClassifier")
    if list(model.labels_) != list(metadata.get("labels", [])):
        raise ModelFormatError(f"{path}: labels in metadata.json do not match the stored model")
    for name in check.changed:
        warnings.warn(f"{path / name} does not match the SHA-256 recorded in metadata.json (changed since saving)",
                      UserWarning, stacklevel=4)
    _check_consistent(model, metadata, path)
    return model


_LOADERS = {1: _load_v1}


def load_model(path=None, *, trust: bool | Sequence[str] = False):
    """Load a model folder; ``None`` loads the bundled default model.

    ``trust`` is ``False`` (only threatclf's trusted types are built), a list of further type
    names you trust, or ``True`` (trust the file entirely; required for joblib folders).
    A model saved with other scikit-learn/numpy versions loads with a
    :class:`ModelVersionWarning`.
    """
    path = default_model_path() if path is None else Path(path)
    metadata = read_metadata(path)
    version = _check_format_version(metadata, path)
    for library, installed in (("sklearn", sklearn.__version__), ("numpy", np.__version__)):
        saved = metadata.get(f"{library}_version")
        if saved and saved != installed:
            warnings.warn(
                f"{path} was saved with {library} {saved} and is loaded with {library} {installed}; "
                "results may differ slightly — retrain or re-save the model to silence this warning",
                ModelVersionWarning,
                stacklevel=2,
            )
    with warnings.catch_warnings():
        # The version check above already said this once, in threatclf's own words.
        warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
        model = _LOADERS[version](path, metadata, trust)
    model.metadata_ = metadata
    model.path_ = str(path)
    return model

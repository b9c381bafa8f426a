"""Every error threatclf raises on purpose derives from :class:`ThreatclfError`.

The command line turns these into one line on stderr and a non-zero exit; anything else
is a bug and keeps its traceback.
"""
from __future__ import annotations


class ThreatclfError(Exception):
    """Base class of threatclf's own errors."""


class DataError(ThreatclfError, ValueError):
    """Input data that cannot be used: missing file or column, bad row, empty or unlabelled set."""


class ModelFormatError(ThreatclfError):
    """A model folder that is broken: missing or altered file, bad digest, unknown format version."""


class UntrustedModelError(ModelFormatError):
    """A model whose loading would build objects (or unpickle data) that the caller did not trust."""


class IncompatibleModelError(ModelFormatError):
    """A model saved in a format this version of threatclf cannot read (e.g. a newer one)."""


class MissingDependencyError(ThreatclfError, ImportError):
    """An optional dependency is needed for the requested feature but is not installed."""

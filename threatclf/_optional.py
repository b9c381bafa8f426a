"""The one place that imports optional dependencies, with an install hint when missing."""
from __future__ import annotations

import importlib
from types import ModuleType

from .exceptions import MissingDependencyError

#: module name -> (pip extra that provides it, what it is needed for)
_EXTRAS = {
    "pyarrow": ("parquet", "reading and writing Parquet files"),
    "pyarrow.parquet": ("parquet", "reading and writing Parquet files"),
    "dask": ("dask", "labelling with Dask"),
    "dask.dataframe": ("dask", "labelling with Dask"),
    "distributed": ("dask", "labelling on a Dask cluster"),
}


def require(module: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # a submodule (pyarrow.compute) comes with its package, and so from the package's extra
        extra, purpose = _EXTRAS.get(module) or _EXTRAS.get(module.partition(".")[0], (None, "this feature"))
        hint = f'pip install "threatclf[{extra}]"' if extra else f"pip install {module}"
        raise MissingDependencyError(
            f"{module} is needed for {purpose} but is not installed; install it with: {hint}"
        ) from exc

"""Optional dependencies: one check (threatclf._optional.require), one message naming the extra.

These tests block the import rather than rely on a package being absent, so they run (and can
fail) whether or not the extras are installed.
"""
import importlib
import json
import types

import pytest

import threatclf
from threatclf import MissingDependencyError, _optional


@pytest.fixture
def block(monkeypatch):
    """Make ``require`` fail for the named modules and those under them."""
    import importlib
    import types

    def blocker(*blocked):
        def import_module(name, package=None):
            if any(name == b or name.startswith(b + ".") for b in blocked):
                raise ImportError(f"No module named {name!r}")
            return importlib.import_module(name, package)

        # _optional's own reference only: numba and the rest keep the real importlib
        monkeypatch.setattr(_optional, "importlib", types.SimpleNamespace(import_module=import_module))

    return blocker


@pytest.mark.parametrize("module, extra", [("dask", "dask"), ("dask.dataframe", "dask"), ("distributed", "dask"),
                                           ("pyarrow", "parquet"), ("pyarrow.parquet", "parquet")])
def test_a_missing_optional_module_names_its_extra(block, module, extra):
    block(module.split(".")[0])
    with pytest.raises(MissingDependencyError, match=rf'^{module} is needed for .* install it with: pip install "threatclf\[{extra}\]"$'):
        _optional.require(module)


def test_a_module_of_no_extra_is_named_itself(block):
    block("somepackage")
    with pytest.raises(MissingDependencyError, match=r"install it with: pip install somepackage$"):
        _optional.require("somepackage")


def test_parquet_output_without_pyarrow_fails_before_any_file_is_made(block, small_model, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": "a", "text": "Militants bombed the market."}) + "\n")
    block("pyarrow")
    with pytest.raises(MissingDependencyError, match=r'pip install "threatclf\[parquet\]"'):
        threatclf.label_files(source, tmp_path / "out.parquet", small_model, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]
    threatclf.label_files(source, tmp_path / "out.jsonl", small_model, progress=False)  # JSONL needs no extra
    assert json.loads((tmp_path / "out.jsonl").read_text())["id"] == "a"


def test_label_dask_without_dask_names_the_extra(block, small_model):
    import pandas as pd

    block("dask")
    with pytest.raises(MissingDependencyError, match=r'pip install "threatclf\[dask\]"'):
        threatclf.label_dask(pd.DataFrame({"text": ["Rain."]}), small_model)
    with pytest.raises(MissingDependencyError, match=r'pip install "threatclf\[dask\]"'):
        threatclf.read_dask("articles.jsonl")


def test_every_module_threatclf_requires_names_its_extra(monkeypatch):
    # readers.py requires pyarrow.compute; a submodule of a listed package should name that package's extra
    def import_module(name, package=None):
        if name == "pyarrow.compute":
            raise ImportError(f"No module named {name!r}")
        return importlib.import_module(name, package)

    monkeypatch.setattr(_optional, "importlib", types.SimpleNamespace(import_module=import_module))
    with pytest.raises(MissingDependencyError, match=r'pip install "threatclf\[parquet\]"$'):
        _optional.require("pyarrow.compute")

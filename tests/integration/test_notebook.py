"""The quick-start notebook runs top to bottom (its code cells, in order, in one namespace)."""
import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_runs(monkeypatch):
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    monkeypatch.chdir(NOTEBOOK.parent)
    namespace: dict = {}
    for index, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), f"{NOTEBOOK.name}[{index}]", "exec"), namespace)
    assert namespace["labelled"]["labels"].map(len).sum() > 0
    assert namespace["clf"].labels_ == ["cyber", "fraud"]

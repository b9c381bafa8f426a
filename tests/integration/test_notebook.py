"""The quick-start notebook runs top to bottom (its code cells, in order, in one namespace), and
what its cells print is what is stored in it (the stored outputs are what GitHub shows readers)."""
import contextlib
import io
import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_runs_and_its_printed_output_is_current(monkeypatch):
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    monkeypatch.chdir(NOTEBOOK.parent)
    namespace: dict = {}
    printed_cells = 0
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile("".join(cell["source"]), f"{NOTEBOOK.name}[{index}]", "exec"), namespace)
        stored = "".join("".join(out["text"]) for out in cell.get("outputs", [])
                         if out["output_type"] == "stream" and out["name"] == "stdout")
        assert printed.getvalue() == stored, f"cell {index} prints other output than the notebook stores: re-run it"
        printed_cells += bool(stored)
    assert printed_cells >= 2  # the notebook is stored with its outputs
    assert namespace["labelled"]["labels"].map(len).sum() > 0
    assert namespace["clf"].labels_ == ["cyber", "fraud"]

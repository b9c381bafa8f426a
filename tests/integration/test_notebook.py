"""The quick-start notebook runs top to bottom (its code cells, in order, in one namespace), and
what its cells show is what is stored in it (the stored outputs are what GitHub shows readers):
what they print, the value of their last line, and no warning the notebook does not show."""
import ast
import contextlib
import io
import json
import pprint
import warnings
from pathlib import Path

import pandas as pd

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def _shown(value) -> str:
    """A cell's last value as Jupyter shows it: pandas at the notebook's default display size;
    other values pretty-printed, compared without their line breaks and indents (IPython's
    pretty-printer indents nested lists by two spaces, pprint under their opening bracket)."""
    if isinstance(value, (pd.DataFrame, pd.Series)):
        with pd.option_context("display.width", 80, "display.max_columns", 20, "display.max_rows", 60):
            return repr(value)
    return " ".join(pprint.pformat(value, width=79, sort_dicts=False).split())


def test_quickstart_notebook_runs_and_its_output_is_current(monkeypatch):
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    monkeypatch.chdir(NOTEBOOK.parent)
    namespace: dict = {}
    printed_cells = results = 0
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exec(compile(tree, f"{NOTEBOOK.name}[{index}]", "exec"), namespace)
            value = eval(compile(ast.Expression(last.value), f"{NOTEBOOK.name}[{index}]", "eval"), namespace) \
                if last else None
        outputs = cell.get("outputs", [])
        stored = "".join("".join(out["text"]) for out in outputs if out["output_type"] == "stream"
                         and out["name"] == "stdout")
        assert printed.getvalue() == stored, f"cell {index} prints other output than the notebook stores: re-run it"
        stored_result = [out["data"]["text/plain"] for out in outputs if out["output_type"] == "execute_result"]
        if value is not None:
            shown = "".join(stored_result[0]) if stored_result else None
            if shown is not None and not isinstance(value, (pd.DataFrame, pd.Series)):
                shown = " ".join(shown.split())
            assert [shown] == [_shown(value)], \
                f"cell {index} shows another value than the notebook stores: re-run it"
            results += 1
        shown_errors = "".join("".join(out["text"]) for out in outputs if out["output_type"] == "stream"
                               and out["name"] == "stderr")
        unshown = [str(w.message) for w in caught if str(w.message) not in shown_errors]
        assert not unshown, f"cell {index} warns, and the notebook does not show it: {unshown}"
        printed_cells += bool(stored)
    assert printed_cells >= 2 and results >= 5  # the notebook is stored with its outputs
    assert namespace["labelled"]["labels"].map(len).sum() > 0
    assert namespace["clf"].labels_ == ["cyber", "fraud"]

"""What the README shows is what the library does: its example output is the default model's."""
import json
import re
from pathlib import Path

from threatclf.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_readme_example_output_is_what_labelling_the_example_gives(tmp_path, capsys):
    shown = re.search(r"```json\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    expected = json.loads(shown)
    out = tmp_path / "labelled.jsonl"
    assert main(["label", str(ROOT / "examples" / "articles.jsonl"), "-o", str(out), "-q"]) == 0
    rows = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert rows[expected["id"]] == expected, "the README's example output is stale: paste the current one"


def test_the_source_distribution_holds_what_the_readme_and_tests_use():
    # the sdist is a project others build and test: the README's example input, the notebook the
    # tests run and the licence the metadata names must be in it
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    included = set(project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"])
    used = {"examples", "notebooks", "tests", "threatclf", "models", "README.md", "LICENSE"}
    assert used <= included, f"missing from the sdist: {sorted(used - included)}"
    assert project["project"]["license-files"] == ["LICENSE"] and (ROOT / "LICENSE").is_file()

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

"""The training-recipe tools under models/ (invented texts in a temporary shared folder)."""
import gzip
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "models"))
from train_default import document_links, source_articles, without_documents_of  # noqa: E402

BOILERPLATE = "For more information contact the press office of the district attorney at the number below."
ARTICLES = [
    {"id": "a1", "text": "The mayor of Northport was arrested on Monday for taking bribes from a builder. "
                         "Prosecutors said the payments ran for three years. " + BOILERPLATE},
    {"id": "a2", "text": "Customs officers seized cocaine hidden in crates of bananas at the harbour. " + BOILERPLATE},
    {"id": "a3", "text": "A bomb exploded near the market and a militant group claimed the attack. " + BOILERPLATE},
    {"id": "a4", "text": "Lawmakers debated the budget for road repairs until late in the night. " + BOILERPLATE},
]


@pytest.fixture
def shared(tmp_path):
    (tmp_path / "corpus").mkdir()
    with gzip.open(tmp_path / "corpus" / "articles.jsonl.gz", "wt", encoding="utf-8") as handle:
        for article in ARTICLES:
            handle.write(json.dumps(article) + "\n")
    return tmp_path


def test_rows_from_the_document_of_a_scored_passage_are_linked_to_it(shared):
    scored = [{"text": "The mayor of Northport was arrested on Monday for taking bribes from a builder."},
              {"text": "Lawmakers debated the budget for road repairs until late in the night."}]
    rows = [
        {"text": "Prosecutors said the payments ran for three years.", "article_id": "a1"},  # same article, by id
        {"text": "Prosecutors  said the payments ran\nfor three years."},  # same article, found by its text
        {"text": "Customs officers seized cocaine hidden in crates of bananas at the harbour."},  # other article
        {"text": "Lawmakers debated the budget for road repairs until late in the night."},  # repeats a scored text
        {"text": BOILERPLATE},  # in every article: boilerplate, names no document
        {"text": "A text found in no article of the corpus at all, written for this test."},
    ]
    assert document_links(rows, scored, shared) == [{0}, {0}, set(), {1}, set(), set()]
    assert without_documents_of(rows, scored, shared) == [rows[2], rows[4], rows[5]]


def test_source_articles_by_id_or_by_text(shared):
    rows = [{"text": "anything", "article_id": "a3"},
            {"text": "A bomb exploded near the market and a militant group claimed the attack."},
            {"text": "short"}]
    assert source_articles(rows, shared) == [{"a3"}, {"a3"}, set()]

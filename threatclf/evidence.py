"""Evidence behind a label: which of a passage's terms raised its score.

A linear model's score is a sum of feature weights, so the terms that contributed most are
read off exactly: each present feature's value times its label's weight. The terms shown
are the model's word n-grams as it reads them (lower case, one-character tokens dropped),
leaving out those made only of stop words unless the text writes one in capitals as an
acronym ("of IS"); where character n-grams carried the label (a misspelt or foreign word),
the words holding them, as the text writes them.
"""
from __future__ import annotations

import functools
import re

import numpy as np

from .classifier import composed

__all__ = ["terms_behind"]


def _readable(term: str) -> bool:
    """Evidence a reader can use: not made only of stop words ("of the")."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return not all(word in ENGLISH_STOP_WORDS for word in term.split())


_TOKEN = re.compile(r"\w+")


_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")


def _acronyms(text: str) -> set[str]:
    """The stop words ``text`` writes in capitals, as acronyms — "IS" (the Islamic State), "US" —
    lower-cased; none in a text mostly in capitals (a shouted headline writes every word so)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    words = [token for token in _TOKEN.findall(text) if len(token) > 1]
    capitals = [token.lower() for token in words if token.isupper()]
    if 2 * len(capitals) > len(words):
        return set()
    return {word for word in capitals if word in ENGLISH_STOP_WORDS}


def _as_acronym(term: str, text: str, acronyms: set[str]) -> str | None:
    """A term of stop words alone as ``text`` writes it where one of its words is an acronym
    ("of IS", "US is"), else None. The model reads words in lower case, so such a term can
    carry a label, and is evidence a reader can use."""
    words = term.split()
    if acronyms.isdisjoint(words):  # the common case, without a search
        return None
    for match in _term_pattern(term).finditer(text):
        tokens = _TOKEN.findall(match.group())
        if any(len(token) > 1 and token.isupper() for token in tokens):
            return " ".join(tokens)
    return None


@functools.lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern:
    return re.compile(r"\b" + r"\W+".join(map(re.escape, term.split())) + r"\b", re.IGNORECASE)


def terms_behind(X, row: int, weights: np.ndarray, terms: np.ndarray, is_word: np.ndarray, top: int,
                 text: str = "") -> list[str]:
    """The passage's terms that raised the label most, largest contribution first.

    Word n-grams, without the ones made only of stop words (but for one written in capitals,
    an acronym: "of IS", "US is") — unless they carry under a quarter
    of the rise (a misspelt or foreign word, which the character n-grams caught): then the
    words of ``text`` holding the character n-grams that did come first. A model without word
    features lists its character n-grams.
    """
    start, end = X.indptr[row], X.indptr[row + 1]
    columns, values = X.indices[start:end], X.data[start:end]
    contrib = values * weights[columns]
    keep = contrib > 0
    columns, contrib = columns[keep], contrib[keep]
    order = np.argsort(-contrib, kind="stable")
    if not is_word.any():
        return [str(terms[columns[k]]) for k in order[:top]]
    # a word n-gram in both a TF-IDF and a presence block counts once, with both contributions
    word_rise: dict[str, float] = {}
    acronyms = None
    for k in order:
        if is_word[columns[k]]:
            term = str(terms[columns[k]])
            if not _readable(term):
                acronyms = _acronyms(text) if acronyms is None else acronyms
                term = _as_acronym(term, text, acronyms)
            if term is not None:
                word_rise[term] = word_rise.get(term, 0.0) + float(contrib[k])
    chosen = sorted(word_rise, key=lambda t: -word_rise[t])[:top]  # stable: ties keep their order
    if contrib.size and sum(word_rise.values()) < 0.25 * contrib.sum():
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        # char_wb reads character n-grams from the white-space-separated words, each padded with a
        # space: " ter" starts a word and "ist " ends one, so "existing" does not hold the "ist " of
        # "Maoist", nor "Maoist-led" any
        words: dict[str, str] = {}  # a word as the features read it -> as shown
        for word in composed([text])[0].split():  # the form the features were read in
            tokens = _TOKEN.findall(word)
            if tokens and not all(token.lower() in ENGLISH_STOP_WORDS for token in tokens):
                words.setdefault(f" {word.lower()} ", _EDGE_PUNCTUATION.sub("", word))
        holders: list[str] = []
        for k in order:
            if len(holders) == top:
                break
            gram = str(terms[columns[k]]).lower()
            if is_word[columns[k]] or len(gram.strip()) < 3:
                continue
            holder = next((shown for padded, shown in words.items() if gram in padded), None)
            if holder is not None and holder.lower() not in {h.lower() for h in holders}:  # "Russia" once
                holders.append(holder)
        taken = {h.lower() for h in holders}
        chosen = (holders + [t for t in chosen if t.lower() not in taken])[:top]
    return chosen

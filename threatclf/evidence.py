"""Evidence behind a label: which of a passage's terms raised its score.

A linear model's score is a sum of feature weights, so the terms that contributed most are
read off exactly: each present feature's value times its label's weight, summed over a
term's features (TF-IDF and presence), the ones that lower the score included. The terms shown
are the model's word n-grams as it reads them (lower case, one-character tokens dropped),
leaving out those made only of stop words unless the text writes one in capitals as an
acronym ("of IS"); where character n-grams carried the label (a misspelt or foreign word),
the words holding them, as the text writes them.
"""
from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np

from .classifier import composed

__all__ = ["terms_behind"]


@functools.lru_cache(maxsize=1 << 16)  # asked of the same vocabulary's terms passage after passage
def _readable(term: str) -> bool:
    """Evidence a reader can use: not made only of stop words ("of the")."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return not all(word in ENGLISH_STOP_WORDS for word in term.split())


#: The longest word shown as evidence: longer, in text without spaces (a run of letters, CJK),
#: its first characters are shown (which a search of the text still finds), not the whole run.
MAX_SHOWN_WORD = 50


_TOKEN = re.compile(r"\w+")


_EDGE_PUNCTUATION = re.compile(r"^\W+|\W+$")


def _without_edge_punctuation(word: str) -> str:
    """``word`` less the punctuation at its edges, keeping a combining accent that ends it
    ("cocaïneÀ" written decomposed ends in U+0300, which ``\\W`` matches)."""
    if unicodedata.is_normalized("NFC", word):
        return _EDGE_PUNCTUATION.sub("", word)
    word = re.sub(r"^\W+", "", word)
    end = len(word)
    while end and not _TOKEN.match(word[end - 1]) and not unicodedata.category(word[end - 1]).startswith("M"):
        end -= 1
    return word[:end]


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
    """The passage's terms that raised the label most, largest net contribution first.

    A term's net contribution is the sum over its features — a word n-gram in both a TF-IDF and
    a presence block has two — counting the ones that lower the score too: a term whose features
    lower the label on balance is not evidence for it. Word n-grams, without the ones made only
    of stop words (but for one written in capitals, an acronym: "of IS", "US is") — unless they
    carry under a quarter of the rise (a misspelt or foreign word, which the character n-grams
    caught): then the words of ``text`` that raise the score most come first, each credited with
    its share of every character n-gram it holds and with its own word features. A model
    without word features lists the words of ``text`` holding its character n-grams (the
    n-grams themselves when no text is given).
    """
    start, end = X.indptr[row], X.indptr[row + 1]
    columns, values = X.indices[start:end], X.data[start:end]
    contrib = values * weights[columns]
    if not is_word.any():  # the words holding the character n-grams: " coc" and "in" tell a reader little
        if text:
            return _words_raising(text, terms[columns], contrib, {}, top)
        order = np.argsort(-contrib, kind="stable")
        return [str(terms[columns[k]]) for k in order[:top] if contrib[k] > 0]
    words_here = is_word[columns]
    net: dict[str, float] = {}  # word n-gram -> the sum of its features' contributions
    rising: set[str] = set()  # those with a feature that raises the score
    word_terms, word_parts = terms[columns[words_here]].tolist(), contrib[words_here].tolist()  # plain str, float
    for term, part in zip(word_terms, word_parts):
        net[term] = net.get(term, 0.0) + part
        if part > 0:
            rising.add(term)
    acronyms = None
    shown: dict[str, str] = {}  # word n-gram -> as shown, for those a reader can use
    for term in rising:
        if _readable(term):
            shown[term] = term
        else:
            acronyms = _acronyms(text) if acronyms is None else acronyms
            as_written = _as_acronym(term, text, acronyms)
            if as_written is not None:
                shown[term] = as_written
    raising = sorted((t for t in shown if net[t] > 0), key=lambda t: (-net[t], t))
    chosen = _as_text_writes_them([shown[t] for t in raising[:top]], text)
    rise = float(contrib[contrib > 0].sum())
    word_rise = float(sum(part for term, part in zip(word_terms, word_parts) if part > 0 and term in shown))
    if word_rise < 0.25 * rise and not words_here.all():  # character n-grams carried it
        holders = _words_raising(text, terms[columns[~words_here]], contrib[~words_here], net, top)
        taken = {h.lower() for h in holders}
        chosen = (holders + [t for t in chosen if t.lower() not in taken])[:top]
    return chosen


def _as_text_writes_them(chosen: list[str], text: str) -> list[str]:
    """Terms in the Unicode form ``text`` writes them: the model reads composed text (NFC), so a
    text written with decomposed accents (NFD, as macOS files often are) would not hold the term
    "état" that its "e\u0301tat" gave; decomposed, it does. Word by word: a two-word term can
    stand for words the text parts with a dropped token ("coup d'e\u0301tat" gives "coup état")."""
    if not text or unicodedata.is_normalized("NFC", text):
        return chosen
    lowered = text.lower()

    def as_written(word: str) -> str:
        decomposed = unicodedata.normalize("NFD", word)
        return decomposed if word not in lowered and decomposed in lowered else word

    return [" ".join(map(as_written, term.split(" "))) for term in chosen]


def _words_raising(text: str, grams: np.ndarray, gram_contrib: np.ndarray, word_net: dict[str, float],
                   top: int) -> list[str]:
    """The words of ``text`` that raise the score most, as the text writes them.

    A word's share of a character n-gram's contribution (one of three letters or more) follows
    how often the n-gram occurs in it against the whole passage (the feature counts every
    occurrence); its word features (its tokens' unigram nets, shared the same way) are added, so
    a word whose own features lower the score is not listed for the n-grams it shares with the
    words that raise it.
    """
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    # char_wb reads character n-grams from the white-space-separated words, each padded with a
    # space: " ter" starts a word and "ist " ends one, so "existing" does not hold the "ist " of
    # "Maoist", nor "Maoist-led" any. The features read composed (NFC) text; a reader wants the
    # word as written, and composing leaves white space alone, so the words pair up one to one.
    read = composed([text])[0].split()
    written = text.split()
    if len(written) != len(read):
        written = read
    padded = [f" {word.lower()} " for word in read]
    rise = np.zeros(len(read))
    for gram, part in zip(grams, gram_contrib):
        if len(gram.strip()) < 3:  # "ia " ends "Lydia" as well as "Russia": too little to credit a word with
            continue
        counts = np.array([_occurrences(word, gram) for word in padded], dtype=float)
        if counts.sum():
            rise += part * counts / counts.sum()
    tokens = [[token.lower() for token in _TOKEN.findall(word) if len(token) > 1] for word in read]
    holding: dict[str, int] = {}
    for word_tokens in tokens:
        for token in word_tokens:
            holding[token] = holding.get(token, 0) + 1
    for i, word_tokens in enumerate(tokens):
        rise[i] += sum(word_net.get(token, 0.0) / holding[token] for token in word_tokens)
    holders: list[str] = []
    seen: set[str] = set()
    for i in np.argsort(-rise, kind="stable"):
        if len(holders) == top or rise[i] <= 0:
            break
        if not tokens[i] or all(token in ENGLISH_STOP_WORDS for token in tokens[i]):
            continue
        word = _without_edge_punctuation(written[i])[:MAX_SHOWN_WORD]
        if word.lower() not in seen:  # "Russia" once
            seen.add(word.lower())
            holders.append(word)
    return holders


def _occurrences(padded_word: str, gram: str) -> int:
    """How many times ``gram`` occurs in ``padded_word``, overlaps counted as the n-gram features count them."""
    count, at = 0, padded_word.find(gram)
    while at != -1:
        count += 1
        at = padded_word.find(gram, at + 1)
    return count

"""Cutting articles into passages, the unit the model was trained on.

Passages keep character offsets into the original text, so every label can point back to
the exact span that earned it. Labelling cuts articles this way; training data are passages
already (the annotated ones are cut to the same sizes), so ``fit`` takes them as given.
"""
from __future__ import annotations

import numbers
import re
import unicodedata
from typing import NamedTuple

__all__ = ["Passage", "split_passages", "DEFAULT_MAX_WORDS", "DEFAULT_MIN_WORDS"]

#: Annotated passages are "a headline with its lead, a paragraph, or up to ~130 words".
DEFAULT_MAX_WORDS = 120
#: Shorter neighbours are merged so that a passage carries enough context to be judged.
DEFAULT_MIN_WORDS = 12

# A line is a paragraph, whatever ends it: \n, \r\n, a lone \r (old Mac files), or the other
# line ends of str.splitlines (U+2028 and U+2029 from web pages, NEL, form feed, ...).
_PARAGRAPH = re.compile(r"[^\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]+")
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before white space.
# A run of end marks is only tried where it starts, and taken whole (the look-ahead and back-
# reference make it atomic): tried at every position inside a long run ("....."), the search
# would take quadratic time. Same spans as the plain r"\S.*?(?:[.!?]+[\"'”’)\]]*(?=\s)|$)".
_SENTENCE = re.compile(
    r"[.!?](?=([.!?]+))\1[\"'”’)\]]*(?=\s)"  # a sentence that is a run of end marks from its first character
    r"|\S.*?(?:(?<![.!?])(?=([.!?]+))\2[\"'”’)\]]*(?=\s)|$)", re.S)
_WORD = re.compile(r"\S+")
_NOT_SPACE = re.compile(r"\S")
#: Invisible characters outside the format category (Cf): the combining grapheme joiner, variation
#: selectors (1-16 and the supplement's 17-256), Mongolian and Khmer fillers, the Hangul fillers and
#: the blank Braille pattern.
_INVISIBLE = frozenset("\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u2800\u3164\uffa0"
                       + "".join(map(chr, range(0xFE00, 0xFE10))) + "".join(map(chr, range(0xE0100, 0xE01F0))))


def _has_text(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` holds a visible character: scraped text carries paragraphs of
    zero-width spaces, joiners, bidi marks or byte-order marks alone, and control characters (NUL,
    DEL, C1 codes: the debris of a bad conversion), which hold no text to label.
    (The first character other than white space settles it for nearly every paragraph.)"""
    for match in _NOT_SPACE.finditer(text, start, end):
        char = match.group()
        if unicodedata.category(char) not in ("Cf", "Cc") and char not in _INVISIBLE:
            return True
    return False


class Passage(NamedTuple):
    """A span ``text[start:end]`` of an article."""

    start: int
    end: int


def _word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [m.span() for m in _WORD.finditer(text, start, end)]


def _windows(text: str, start: int, end: int, max_words: int) -> list[tuple[int, int, int]]:
    """Split one paragraph into (start, end, n_words) pieces of at most ``max_words`` words."""
    if not _has_text(text, start, end):
        return []
    segment = text[start:end]
    n_words = len(segment.split())
    if n_words <= max_words:  # the common case, without a regex pass
        lead = len(segment) - len(segment.lstrip())
        trail = len(segment) - len(segment.rstrip())
        return [(start + lead, end - trail, n_words)]
    pieces: list[tuple[int, int, int]] = []
    cur_start = cur_end = -1
    cur_words = 0
    for m in _SENTENCE.finditer(text, start, end):
        s_words = _word_spans(text, m.start(), m.end())
        at = 0  # an index, not s_words[max_words:]: that copy made one long sentence quadratic
        while at < len(s_words):
            if cur_words and cur_words + len(s_words) - at > max_words:
                pieces.append((cur_start, cur_end, cur_words))
                cur_words = 0
            take = s_words[at:at + max_words]  # a sentence longer than a window is cut at word boundaries
            at += max_words
            if not cur_words:
                cur_start = take[0][0]
            cur_end = take[-1][1]
            cur_words += len(take)
    if cur_words:
        pieces.append((cur_start, cur_end, cur_words))
    # a window may hold only invisible "words" (a run of zero-width spaces before the text): no passage
    return [piece for piece in pieces if _has_text(text, piece[0], piece[1])]


def split_passages(
    text: str, *, max_words: int = DEFAULT_MAX_WORDS, min_words: int = DEFAULT_MIN_WORDS
) -> list[Passage]:
    """Cut ``text`` into passages: paragraphs (lines, as ``str.splitlines`` ends them), long ones
    into sentence windows.

    Consecutive passages shorter than ``min_words`` are merged while the result stays within
    ``max_words`` (counting the words of paragraphs with text: a line of control or invisible
    characters between two merged ones falls inside the span, uncounted). Offsets index the
    original string; leading and trailing white space is not part of a passage. An empty or
    blank text gives no passage.
    """
    for name, value in (("max_words", max_words), ("min_words", min_words)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < (name == "max_words"):
            raise ValueError(f"{name} must be a whole number >= {int(name == 'max_words')}, got {value!r}")
    pieces: list[tuple[int, int, int]] = []
    for para in _PARAGRAPH.finditer(text):
        pieces.extend(_windows(text, para.start(), para.end(), max_words))
    merged: list[tuple[int, int, int]] = []
    for piece in pieces:
        if merged:
            last = merged[-1]
            if (last[2] < min_words or piece[2] < min_words) and last[2] + piece[2] <= max_words:
                merged[-1] = (last[0], piece[1], last[2] + piece[2])
                continue
        merged.append(piece)
    return [Passage(s, e) for s, e, _ in merged]

import subprocess
import sys

import pytest

from threatclf import split_passages


def spans(text, **kw):
    return [text[s:e] for s, e in split_passages(text, **kw)]


def test_paragraphs_become_passages_with_exact_offsets():
    text = "  First paragraph has quite a few words in it, enough to stand alone here.\n\n" \
           "Second paragraph also has quite a few words in it, enough to stand alone.\n"
    parts = split_passages(text, min_words=5)
    assert [text[s:e] for s, e in parts] == [
        "First paragraph has quite a few words in it, enough to stand alone here.",
        "Second paragraph also has quite a few words in it, enough to stand alone.",
    ]
    assert parts[0].start == 2


@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0c", "\x0b"])
def test_every_line_end_parts_paragraphs_as_a_newline_does(line_end):
    # old Mac files end lines with a lone CR; text from web pages with U+2028 / U+2029
    paragraphs = ["First paragraph has quite a few words in it, enough to stand alone here.",
                  "Second paragraph also has quite a few words in it, enough to stand alone.",
                  "A third one, short."]
    assert spans(line_end.join(paragraphs), min_words=1) == paragraphs


def test_long_paragraph_is_cut_into_sentence_windows_within_max_words():
    sentence = "This sentence has exactly eight words in it. "
    text = sentence * 30
    parts = spans(text, max_words=20)
    assert all(len(p.split()) <= 20 for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts).split() == text.split()  # nothing lost, nothing repeated


def test_sentence_longer_than_window_is_cut_at_words():
    text = " ".join(f"w{i}" for i in range(50))
    parts = spans(text, max_words=20, min_words=1)
    assert [len(p.split()) for p in parts] == [20, 20, 10]


def test_short_pieces_are_merged_with_neighbours():
    text = "Headline here\nA lead paragraph that carries the story in a handful of words."
    assert spans(text, min_words=5) == [text]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t"])
def test_blank_text_has_no_passage(text):
    assert split_passages(text) == []


def test_a_long_sentence_then_a_short_one_fill_windows_in_order():
    # the windows of one long sentence are taken by position; the next sentence starts a new
    # window only when it would not fit the last one
    long = " ".join(f"w{i}" for i in range(45))
    text = long + ". Then five more words here."
    parts = spans(text, max_words=20, min_words=1)
    assert [len(p.split()) for p in parts] == [20, 20, 10]
    assert parts[2].endswith("here.") and " ".join(parts).split() == text.split()


@pytest.mark.parametrize("option, value", [("max_words", 0), ("max_words", True), ("max_words", 2.5),
                                           ("min_words", -1), ("min_words", "3")])
def test_invalid_window_sizes_are_named(option, value):
    with pytest.raises(ValueError, match=f"{option} must be a whole number"):
        split_passages("x", **{option: value})


def test_merging_short_pieces_never_passes_max_words():
    # 100 five-word lines: merged while the result stays within max_words, never beyond.
    text = "\n".join(f"Line number {i} says little." for i in range(100))
    passages = split_passages(text, max_words=120, min_words=30)
    assert all(len(text[p.start:p.end].split()) <= 120 for p in passages)
    assert all(len(text[p.start:p.end].split()) >= 30 for p in passages[:-1])
    assert " ".join(text[p.start:p.end] for p in passages).split() == text.split()


def test_sentence_pattern_cuts_where_the_plain_pattern_does():
    # _SENTENCE takes a run of end marks whole, where it starts (linear time on "....."); its
    # spans must be those of the plain lazy pattern it replaced, on any text
    import random
    import re

    from threatclf.text import _SENTENCE

    plain = re.compile(r"\S.*?(?:[.!?]+[\"'”’)\]]*(?=\s)|$)", re.S)
    rnd = random.Random(0)
    alphabet = [".", "!", "?", "a", "b", " ", '"', ")", "\n", "”", "\t"]
    for _ in range(20000):
        text = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 14)))
        assert [m.span() for m in _SENTENCE.finditer(text)] == [m.span() for m in plain.finditer(text)], repr(text)


def test_long_run_of_end_marks_in_a_long_paragraph():
    text = "word " * 130 + "." * 3000 + "x then the end. Last words here."
    passages = split_passages(text, max_words=120)
    assert "".join(text[p.start:p.end] for p in passages).replace(" ", "") == text.replace(" ", "")
    assert all(len(text[p.start:p.end].split()) <= 120 for p in passages)


@pytest.mark.parametrize("text, options, expected", [
    # trailing blanks are no part of a passage
    ("Police seized two tonnes of cocaine.  \nThe port was closed.  ", {"min_words": 0},
     ["Police seized two tonnes of cocaine.", "The port was closed."]),
    # sentences that fill a window exactly share it
    ("Bombs hit. Troops fled. Towns burned.", {"max_words": 4, "min_words": 0},
     ["Bombs hit. Troops fled.", "Towns burned."]),
    # a last window of one word is a passage, not lost
    ("Gunmen attacked the village overnight.", {"max_words": 2, "min_words": 0},
     ["Gunmen attacked", "the village", "overnight."]),
    # short paragraphs whose words add up to exactly max_words are merged
    ("Bombs hit the port.\nTroops fled the town.", {"max_words": 8, "min_words": 5},
     ["Bombs hit the port.\nTroops fled the town."]),
    # a paragraph of exactly min_words stands alone
    ("Bombs hit the port.\nTroops fled the burning town at dawn.", {"max_words": 20, "min_words": 4},
     ["Bombs hit the port.", "Troops fled the burning town at dawn."]),
])
def test_window_and_merge_limits_are_inclusive(text, options, expected):
    assert spans(text, **options) == expected


def test_the_defaults_cut_passages_the_size_of_the_annotated_ones():
    # under 12 words a paragraph joins its neighbour; over 120 a paragraph is cut (README)
    eleven = "Police seized two tonnes of cocaine at the port on Monday."
    assert len(eleven.split()) == 11
    assert spans(eleven + "\n" + eleven) == [eleven + "\n" + eleven]
    assert spans(" ".join(["word"] * 120) + ".") == [" ".join(["word"] * 120) + "."]
    assert len(spans(" ".join(["word"] * 124) + " end.")) == 2


def test_a_paragraph_of_invisible_characters_alone_is_no_passage():
    # zero-width spaces and joiners, a byte-order mark, a soft hyphen: no text to label, so no score
    for invisible in ("\u200b\u200b", "\ufeff", "\u00ad", "\u2060\u200d", " \u200c ", "\u2066\u2069", "\ufe0f",
                      "\u3164", "\u2800", "\U000e0001", "\U000e0100" * 5, "\U000e01ef"):  # variation selectors 17-256 too
        assert split_passages(invisible) == []
    text = "\u200bBombs hit the port.\n\u200b\u200b\nTroops fled."
    assert spans(text, min_words=0) == ["\u200bBombs hit the port.", "Troops fled."]



def test_a_window_of_invisible_words_alone_is_no_passage():
    # inside one long paragraph, 200 zero-width "words" before the text filled a window of their own
    text = "\u200b " * 200 + "Police seized two tonnes of cocaine at the port."
    passages = split_passages(text)
    assert passages and all(any(c.isalnum() for c in text[p.start:p.end]) for p in passages)
    assert text[passages[-1].start:passages[-1].end].endswith("at the port.")


def test_a_paragraph_of_control_characters_alone_is_no_passage():
    for debris in ("\x00", "\x01\x02", "\x7f", "\x80\x9f", "\x00 \x1b"):
        assert split_passages(debris) == []
    text = "Bombs hit the port.\n\x00\x00\nTroops\x00 fled."  # inside a paragraph with text, kept
    assert spans(text, min_words=0) == ["Bombs hit the port.", "Troops\x00 fled."]


@pytest.mark.parametrize("script", [
    # a run of 300,000 end marks: the lazy sentence pattern retried it at every position (~30 min)
    "text = 'word ' * 130 + '.' * 300000 + 'x then the end.'\n"
    "assert ''.join(text[p.start:p.end] for p in split_passages(text)).replace(' ', '') == text.replace(' ', '')",
    # one sentence of two million words: cut by copying the rest of its words each window (~4 min)
    "assert len(split_passages('word ' * 2000000)) == 16667",
], ids=["end-mark-run", "endless-sentence"])
def test_inputs_that_once_took_quadratic_time_take_seconds(script):
    """Linear, each takes a few seconds. Run in a child process with a time-out, because a regex
    holds the interpreter and cannot be stopped from a thread."""
    try:
        subprocess.run([sys.executable, "-c", "from threatclf.text import split_passages\n" + script],
                       check=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("split_passages did not finish in 60 s: a quadratic path is back")

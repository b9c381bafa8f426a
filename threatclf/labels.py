"""The threat taxonomy, conversions between label lists and indicator matrices, and the
checks a label name passes (no look-alike letters, spreadsheet formulas or missing-value words).

The five default labels and their one-line definitions follow ``CODEBOOK.md`` (v1) of the
annotated data. Users may train on any other label set: nothing else in threatclf assumes
these five.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .exceptions import DataError

__all__ = [
    "Label",
    "THREAT_LABELS",
    "DEFAULT_LABELS",
    "LABEL_DEFINITIONS",
    "infer_labels",
    "to_indicator",
    "from_indicator",
]


@dataclass(frozen=True)
class Label:
    """A threat category: its name in data and models, and what it covers."""

    name: str
    definition: str


THREAT_LABELS: tuple[Label, ...] = (
    Label(
        "terrorism",
        "Violence or its threat by non-state groups or individuals to intimidate or coerce for "
        "political, ideological or religious aims: attacks, plots, arrests, trials and "
        "designations of terror suspects or groups, insurgent attacks, counter-terrorism, "
        "terrorism financing, violent extremism and radicalisation.",
    ),
    Label(
        "organized_crime",
        "Structured criminal groups and what they do: mafias, cartels, gangs and networks; "
        "racketeering, extortion, contract killings, kidnapping for ransom, smuggling of people, "
        "arms, goods or wildlife, human trafficking, money-laundering networks, and police "
        "operations against such groups.",
    ),
    Label(
        "drug_trafficking",
        "The illicit drug trade: production, cultivation, smuggling, distribution and sale of "
        "illegal drugs, seizures and busts, trafficking routes, narco groups, prosecutions, and "
        "counter-narcotics policy and cooperation.",
    ),
    Label(
        "corruption",
        "Abuse of entrusted (mostly public) power for private gain: bribery, kickbacks, "
        "embezzlement of public funds, graft, nepotism, officials colluding with criminals; "
        "corruption investigations, trials, and anti-corruption agencies, laws and campaigns.",
    ),
    Label(
        "foreign_influence",
        "A foreign state, or those acting for it, covertly, deceptively or coercively trying to "
        "sway another country's internal politics: election interference, disinformation and "
        "influence operations, covert funding, foreign agents, espionage, fomenting unrest, and "
        "accusations of these.",
    ),
)

#: Names of the default labels, in the order models report them.
DEFAULT_LABELS: tuple[str, ...] = tuple(label.name for label in THREAT_LABELS)
#: Label name -> one-line definition (codebook v1).
LABEL_DEFINITIONS: dict[str, str] = {label.name: label.definition for label in THREAT_LABELS}


#: Scripts with letters that print alike (a Latin "o", a Cyrillic "о", a Greek "ο"): a word that
#: mixes them, or two labels that differ only by them, look like one name.
_LOOKALIKE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARMENIAN")
#: The common Cyrillic and Greek letters that print like Latin ones (after Unicode's confusables).
_LOOKALIKES, _AS_LATIN = ("аеорсухіјѕԁһӏԛԝАВЕКМНОРСТХІЈЅУοαβνρτικχΑΒΕΖΗΙΚΜΝΟΡΤΥΧօսոհցՕՍ",
                          "aeopcyxijsdhlqwABEKMHOPCTXIJSYoabvptikxABEZHIKMNOPTYXounhgOU")
#: Letters that draw as nothing though Unicode files them as letters (Hangul fillers).
_BLANK_LETTERS = "\u115f\u1160\u3164\uffa0"
_TO_LATIN = str.maketrans(_LOOKALIKES, _AS_LATIN)


def _visible(name: str) -> str:
    """``name`` without marks and invisible format characters (a combining joiner can split a
    word in two for a regex and still show nothing)."""
    return "".join(ch for ch in name
                   if unicodedata.category(ch) not in ("Mn", "Me", "Cf") and ch not in _BLANK_LETTERS)


def _script(ch: str) -> str:
    return unicodedata.name(ch, "").split(" ")[0]


def mixed_script_word(name: str) -> tuple[str, str] | None:
    """``(word, letter)``: a word of ``name`` that mixes Latin, Cyrillic, Greek or Armenian letters, and its
    first letter of the script it has fewest of ("terrоrism", "о"), or None. Such a word prints
    like another; other mixes (a Latin acronym in a Chinese word, Japanese kana and kanji) are
    ordinary writing."""
    for word in re.findall(r"[^\W\d_]+", _visible(name)):
        scripts = Counter(script for script in map(_script, word) if script in _LOOKALIKE_SCRIPTS)
        if len(scripts) > 1:
            fewest = min(scripts, key=lambda script: (scripts[script], script))
            return word, next(ch for ch in word if _script(ch) == fewest)
    return None


def lookalike_labels(names: Sequence[str]) -> tuple[str, str] | None:
    """Two of ``names`` that print alike — one written with the common Cyrillic, Greek or Armenian
    look-alikes of Latin letters where the other has Latin ones, or with invisible characters —
    or None. (Unicode's full confusables list is larger; these are the ones seen in the wild.)"""
    seen: dict[str, str] = {}
    for name in names:
        key = _visible(unicodedata.normalize("NFKC", name)).translate(_TO_LATIN)
        if key in seen and seen[key] != name:
            return seen[key], name
        seen.setdefault(key, name)
    return None


def _letter_named(ch: str) -> str:
    return f"{ch!r} is {unicodedata.name(ch, f'U+{ord(ch):04X}')}"


#: How spreadsheets, R and pandas write a missing value: read as a label, it would turn every
#: passage left unlabelled into an example of a label of its own, and a negative of the others.
MISSING_VALUE_NAMES = frozenset({"na", "n/a", "nan", "null", "none", "nil", "<na>"})


#: How to keep such a name when it is meant: name the labels, and the name is taken as given.
KEEP_BY_NAMING = ("; if it is a label of yours, name your labels (label_names=[...]; threatclf train: "
                  "\"label_names\" in --config)")


def missing_value_problem(name: str) -> str | None:
    """Why ``name`` reads as a missing value rather than a label name, or None."""
    if name.casefold() in MISSING_VALUE_NAMES:
        return (f"label name {name!r} is how spreadsheets, R and pandas write a missing value, not a label: "
                "give a passage without a label an empty list, [] (in CSV an empty cell or [])" + KEEP_BY_NAMING)
    return None


#: The two values of a yes/no column: read as label names, each row gets one of them as its label.
_YES_NO_PAIRS = ({"0", "1"}, {"true", "false"}, {"yes", "no"})


def unnamed_label_problem(names: Sequence[str]) -> tuple[str, str] | None:
    """(name, why) for a label found in training data that is likely a mistake: a missing value,
    the values of a yes/no column, or other labels joined by white space. Labels the user named
    (``label_names``) are not asked."""
    for name in names:
        problem = missing_value_problem(name)
        if problem:
            return name, problem
    folded = {name.casefold(): name for name in names}
    for pair in _YES_NO_PAIRS:
        if pair <= set(folded):
            no, yes = (folded[value] for value in sorted(pair, key=lambda v: v in ("1", "true", "yes")))
            return no, (f"label names {no!r} and {yes!r} are the values of a yes/no column, not label names: each "
                        f"row would get one of them as a label, and {no!r} would be learned as a label of its own; "
                        "write the label's name in the rows that have it and leave the others without a label "
                        "(an empty cell, or [])" + KEEP_BY_NAMING)
    return joined_labels_problem(names)


def joined_labels_problem(names: Sequence[str]) -> tuple[str, str] | None:
    """(name, why) for a label name that is other labels joined by white space ("fraud cyber", as
    some tools export several labels), or None."""
    known = set(names)
    for name in names:
        parts = name.split()
        if len(parts) > 1 and all(part in known for part in parts):
            return name, (f"label name {name!r} is the labels {', '.join(map(repr, parts))} joined by white space: "
                          "give each label as its own list item, [\"a\", \"b\"] (in CSV a;b)" + KEEP_BY_NAMING)
    return None


def misspelt_label(positives: Mapping[str, int]) -> tuple[str, str] | None:
    """(rare, common): a label written as another but for case or spacing ("Fraud" beside
    "fraud", "team  sport" beside "team sport"), or
    spelt almost as another with three times its examples or more ("violance" beside
    "violence"), likely a typo whose rows then count as negatives of the label meant; or None.
    A warning, not an error: "crime" and "crimes" may both be meant."""
    folded: dict[str, list[str]] = {}
    for name in sorted(positives, key=lambda name: (-positives[name], name)):
        folded.setdefault(" ".join(name.casefold().split()), []).append(name)
    for names in folded.values():
        if len(names) > 1 and positives[names[-1]]:
            return names[-1], names[0]
    for rare, n in sorted(positives.items(), key=lambda item: (item[1], item[0])):
        for common, m in sorted(positives.items(), key=lambda item: (-item[1], item[0])):
            if n and m >= 3 * n and rare.casefold() != common.casefold() and spelt_alike(rare, common):
                return rare, common
    return None


def spelt_alike(name: str, other: str) -> bool:
    """Whether two label names differ only in case or by about a letter in eight (a typo)."""
    import difflib

    a, b = name.casefold(), other.casefold()
    if a == b:
        return True
    matcher = difflib.SequenceMatcher(None, a, b)  # the quick upper bounds first: a label set may be large
    return min(len(a), len(b)) >= 4 and matcher.real_quick_ratio() >= 0.85 and matcher.quick_ratio() >= 0.85 \
        and matcher.ratio() >= 0.85


def unknown_label(name: str, known: Sequence[str]) -> str:
    """"unknown label 'X'; known labels: [...]", with the known label it is probably meant for
    (label names are compared exactly: 'Terrorism' is not 'terrorism')."""
    import unicodedata

    same = next((label for label in known if unicodedata.normalize("NFC", label) == unicodedata.normalize("NFC", name)),
                None)
    form = "NFC" if same is None or unicodedata.is_normalized("NFC", same) else "NFD"
    if same is not None:  # they print alike: say how they differ, or the message reads "X (did you mean X?)"
        return (f"unknown label {ascii(name)}: it is the model's label {ascii(same)} written in another Unicode form "
                "(composed or decomposed accents); write it as the model does: "
                f"unicodedata.normalize({form!r}, name); known labels: {list(known)}")
    alike = next((label for label in known if spelt_alike(name, label)), None)
    hint = f" (did you mean {alike!r}? label names are compared exactly, case too)" if alike is not None else ""
    return f"unknown label {name!r}{hint}; known labels: {list(known)}"


#: The start of :func:`misspelt_label_warning`'s text, for callers that say it themselves (once, by file and line).
MISSPELT_LABEL_WARNING = r".*label .* (is spelt almost as|differs only in case from)"


def misspelt_label_warning(rare: str, common: str, positives: Mapping[str, int]) -> str:
    how = ("differs only in case from" if rare.casefold() == common.casefold() else
           "differs only in spacing or case from" if rare.casefold().split() == common.casefold().split() else
           "is spelt almost as")
    return (f"label {rare!r} ({positives[rare]} examples) {how} {common!r} ({positives[common]}): they are two "
            f"labels; if it is a typo, correct it: its rows count as texts without {common!r}")


def label_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a label name, or None. ``;`` joins labels in CSV/Parquet outputs,
    ``,`` and ``=`` are ``--threshold``'s syntax, ``*`` its "every other label", ``|`` the model
    card's table, and a control character would reach a terminal or a CSV header from a model
    folder. A name starting like a spreadsheet formula, or mixing look-alike alphabets within a
    word, is refused too: a model folder could otherwise put a formula, or a look-alike of
    another label, into every CSV output made with it."""
    if name != name.strip() or any(c in name for c in ";,=|") or not name.isprintable():
        return ("label name {!r} may not contain ';', ',', '=', '|' or control characters, or start or end "
                "with white space (a CSV label column separates labels with ';')").format(name)
    if name == "*":
        return "label name '*' is taken: in thresholds and settings it means every label not named"
    return loaded_label_problem(name)


def loaded_label_problem(name: str) -> str | None:
    """The part of :func:`label_name_problem` a model folder's labels are held to as well (models
    saved before 0.5 may have ',' or '|' in theirs)."""
    if name.startswith(("=", "+", "-", "@")):
        return (f"label name {name!r} may not start with '=', '+', '-' or '@': a spreadsheet reads a CSV cell "
                "starting so as a formula")
    mixed = mixed_script_word(name)
    if mixed is not None:
        word, letter = mixed
        return (f"label name {name!r} mixes Latin, Cyrillic, Greek or Armenian letters within the word {word!r} "
                f"({_letter_named(letter)}), so it would print like another name")
    return None


def lookalike_problem(names: Sequence[str]) -> str | None:
    """Why a model cannot have these labels together (two print alike), or None."""
    pair = lookalike_labels(names)
    if pair is None:
        return None
    differing = sorted(set(pair[0]) ^ set(pair[1]), key=lambda ch: (_script(ch) == "LATIN", ch))[0]
    return (f"label names {pair[0]!r} and {pair[1]!r} print alike ({_letter_named(differing)}): no one could tell "
            "them apart in an output, a card or --threshold")


def indistinct_labels(names: Sequence[str]) -> tuple[tuple[str, str], str] | None:
    """Two of ``names`` no one could tell apart in a table, a card or ``--threshold`` — one name
    written in two Unicode forms, or two that print alike — and why; or None."""
    forms: dict[str, str] = {}
    for name in names:
        other = forms.setdefault(unicodedata.normalize("NFC", name), name)
        if other != name:  # said before the look-alike check, which would also see them
            return (other, name), (f"label names {ascii(other)}, {ascii(name)} are one name written in two Unicode "
                                   "forms (composed and decomposed accents); write every label the same way, e.g. "
                                   "unicodedata.normalize('NFC', name)")
    pair = lookalike_labels(names)
    return None if pair is None else (pair, lookalike_problem(names))


def check_label_list(value: object, row: int) -> list[str]:
    """``value`` as a list of label names, or DataError naming ``row``."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):  # a dict's keys are not labels
        raise DataError(
            f"row {row}: labels must be a list of label names, got {type(value).__name__} "
            f"{value!r:.60}"
        )
    names = list(value)
    for name in names:
        if not isinstance(name, str) or not name:
            shown = name.tolist() if isinstance(name, np.ndarray) else name  # a Parquet list of lists
            raise DataError(f"row {row}: label names must be non-empty strings, got {shown!r:.60}")
    return names


def name_numbered_columns(frame, labels: Sequence[str], order_known: bool, how_to_name: str):
    """An indicator DataFrame whose columns are numbers (``pd.DataFrame(Y)``: positions, not
    names) with ``labels`` as its column names, when the label order is known and the counts
    match; a clear error when not. Other frames, and numbered columns that are the label names
    themselves (labels "1", "2" named so), come back as they are."""
    columns = list(frame.columns)
    numbered = bool(columns) and all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in columns)
    if not numbered or (order_known and set(labels) <= {str(c) for c in columns}):
        return frame
    if not order_known or len(labels) != len(columns):
        shown = ", ".join(map(str, columns[:6])) + (", ..." if len(columns) > 6 else "")
        raise DataError(f"y is a DataFrame whose {len(columns)} columns are numbered ({shown}), not named: name them "
                        f"(pd.DataFrame(Y, columns=mlb.classes_)), or {how_to_name}"
                        + (f" ({len(labels)} labels)" if order_known else ""))
    return frame.set_axis(list(labels), axis=1)


def indicator_from_frame(frame, labels: Sequence[str]) -> np.ndarray:
    """The 0/1 matrix of an indicator DataFrame's columns for ``labels`` (column names taken as
    strings); a missing column, or a value other than 0/1 or True/False, is an error."""
    frame = frame.rename(columns=str)
    repeated = sorted(set(frame.columns[frame.columns.duplicated()]))
    if repeated:
        raise DataError(f"indicator DataFrame has several columns named {repeated} (as strings)")
    missing = [name for name in labels if name not in frame.columns]
    if missing:
        raise DataError(f"indicator DataFrame has no column for labels {missing}")
    values = frame[list(labels)].astype(object).to_numpy()
    missing_value = pd.isna(values)
    bad = missing_value | ~np.isin(np.where(missing_value, 0, values), (0, 1, True, False))
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise DataError(f"indicator DataFrame must hold only 0/1 or True/False (no missing values): row "
                        f"{frame.index[row]!r}, column {labels[column]!r} holds {values[row, column]!r}"
                        f"{f' ({int(bad.sum())} such cells)' if bad.sum() > 1 else ''}")
    return values.astype(np.int8)


def infer_labels(label_lists: Iterable[Iterable[str]]) -> list[str]:
    """Label names found in ``label_lists``: default taxonomy order first, others sorted."""
    seen: set[str] = set()
    for row, value in enumerate(label_lists):
        seen.update(check_label_list(value, row))
    known = [name for name in DEFAULT_LABELS if name in seen]
    return known + sorted(str(name) for name in seen.difference(DEFAULT_LABELS))  # np.str_ -> str


def to_indicator(label_lists: Iterable[Iterable[str]], labels: Sequence[str]) -> np.ndarray:
    """0/1 matrix of shape (n_rows, len(labels)); an unknown label name is an error."""
    index = {name: j for j, name in enumerate(labels)}
    rows = []
    for row, value in enumerate(label_lists):
        indicator = np.zeros(len(labels), dtype=np.int8)
        for name in check_label_list(value, row):
            if name not in index:
                raise DataError(f"row {row}: {unknown_label(name, labels)}")
            indicator[index[name]] = 1
        rows.append(indicator)
    if not rows:
        return np.zeros((0, len(labels)), dtype=np.int8)
    return np.vstack(rows)


def from_indicator(matrix: np.ndarray, labels: Sequence[str]) -> list[list[str]]:
    """Label-name lists from a 0/1 (or boolean) matrix whose columns follow ``labels``."""
    values = np.asarray(matrix)
    if values.ndim == 2 and not np.isin(values, (0, 1)).all():  # NaN, -1 or 2 are not yes/no
        raise ValueError("the indicator matrix must hold only 0/1 or True/False")
    matrix = values.astype(bool)
    if matrix.ndim != 2 or matrix.shape[1] != len(labels):
        raise ValueError(f"expected a matrix with {len(labels)} columns, got shape {matrix.shape}")
    names = np.asarray(labels, dtype=object)
    return [list(names[row]) for row in matrix]

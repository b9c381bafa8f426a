"""Small data builders for tests: a literal corpus written for threatclf, and models on it.

The sentences are invented for these tests (not taken from any news source).
"""
from __future__ import annotations

_TEMPLATES = {
    "terrorism": [
        "A suicide bomber attacked a checkpoint and the militant group claimed the bombing",
        "Insurgents planted an explosive device near the police station in a terror attack",
        "Counter-terrorism police arrested two suspects plotting a bomb attack on the metro",
        "The extremist group claimed responsibility for the attack that killed five soldiers",
    ],
    "organized_crime": [
        "The mafia clan ran an extortion racket against shop owners in the port city",
        "Police dismantled a criminal network that smuggled migrants across the border",
        "A gang leader was arrested for ordering contract killings and running a racket",
        "Detectives broke up a syndicate laundering money for a crime family",
    ],
    "drug_trafficking": [
        "Customs officers seized two tonnes of cocaine hidden in a shipment of fruit",
        "Traffickers moved heroin along a smuggling route through the mountains",
        "Agents raided a lab producing methamphetamine for sale across the country",
        "Coca growers supplied the smugglers who shipped the drugs abroad",
    ],
    "corruption": [
        "The mayor was charged with taking bribes from a construction company",
        "Prosecutors accused the minister of embezzling public funds meant for hospitals",
        "An anti-corruption agency opened an inquiry into kickbacks paid to officials",
        "The judge was convicted of accepting bribes to drop the case",
    ],
    "foreign_influence": [
        "Officials said foreign agents ran a disinformation campaign to sway the election",
        "Two men were charged with acting as illegal agents of a foreign government",
        "The intelligence service exposed a covert influence operation funded from abroad",
        "Investigators found the foreign state secretly financed parties to interfere in the vote",
    ],
    None: [
        "The football club won the cup after a late goal in extra time",
        "Shares of the car maker rose after strong quarterly sales",
        "The weather will stay sunny and warm through the weekend",
        "A new museum of modern art opened its doors to visitors on Sunday",
        "The orchestra played a concert of baroque music in the old church",
        "Farmers expect a good harvest of wheat after the spring rains",
    ],
}


def tiny_corpus(repeats: int = 2) -> tuple[list[str], list[list[str]]]:
    """Texts and label lists: every label has positives, some texts have none, one has two."""
    texts, labels = [], []
    for r in range(repeats):
        for label, sentences in _TEMPLATES.items():
            for k, sentence in enumerate(sentences):
                texts.append(f"{sentence} ({r}-{k}).")
                labels.append([label] if label else [])
        texts.append(f"Police seized cocaine and arrested the cartel gang that smuggled it ({r}).")
        labels.append(["organized_crime", "drug_trafficking"])
    return texts, labels


def small_model(**params):
    """A fitted ThreatClassifier on :func:`tiny_corpus` (fast: min_df=1, cv=3)."""
    from threatclf import ThreatClassifier

    texts, labels = tiny_corpus()
    settings = dict(min_df=1, cv=3, C=10.0)
    settings.update(params)
    return ThreatClassifier(**settings).fit(texts, labels)

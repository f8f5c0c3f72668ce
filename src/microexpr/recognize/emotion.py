"""Emotion estimate from an event's Action Units (EMFACS-style prototypes), and the MEGC 3-class mapping.

The table is documented in docs/recognition.md (generated from :data:`PROTOTYPES`, tested to agree).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MEGC_CLASSES: tuple[str, ...] = ("negative", "positive", "surprise")


@dataclass(frozen=True)
class Prototype:
    """One emotion's AU prototype.

    Attributes:
        emotion: the emotion's name.
        aus: the full EMFACS-style prototype (AU numbers).
        needs: alternatives, each a set of AUs that must all be present for this emotion to be considered.
        megc: the MEGC2019 3-class label.
    """

    emotion: str
    aus: frozenset[int]
    needs: tuple[frozenset[int], ...]
    megc: str


def _p(emotion: str, aus: Iterable[int], needs: Iterable[Iterable[int]], megc: str) -> Prototype:
    return Prototype(emotion, frozenset(aus), tuple(frozenset(n) for n in needs), megc)


# Ekman & Friesen's EMFACS prototypes restricted to the AUs microexpr measures (no AU16 or unilateral codes).
PROTOTYPES: tuple[Prototype, ...] = (
    _p("happiness", (6, 12), ((12,),), "positive"),
    _p("sadness", (1, 4, 15, 17), ((15,), (1, 4)), "negative"),
    _p("surprise", (1, 2, 5, 26), ((1, 2), (5, 26)), "surprise"),
    _p("fear", (1, 2, 4, 5, 7, 20, 26), ((20,), (1, 2, 4), (4, 5)), "negative"),
    _p("anger", (4, 5, 7, 23), ((23,), (4, 7)), "negative"),
    _p("disgust", (9, 10, 15, 17), ((9,), (10,)), "negative"),
    _p("contempt", (12, 14), ((14,),), "negative"),
)
NON_EMOTIONAL = frozenset({25, 45})  # lips part, blink: present in many expressions, evidence for none
OTHERS = "others"
# Dataset emotion words -> MEGC2019 classes (others and unknown words are outside the 3 classes: None).
EMOTION_TO_MEGC: dict[str, str] = {
    **{p.emotion: p.megc for p in PROTOTYPES},
    "repression": "negative",
    "negative": "negative",
    "positive": "positive",
}

_AU_NUM = re.compile(r"(\d+)")


def au_numbers(aus: str | Iterable[str | int]) -> frozenset[int]:
    """AU numbers from an events table's ``aus`` ("AU06+AU12") or a dataset's AU string ("R12+L14", "4or7").

    Alternatives written with "or" or "/" count all their AUs; side and intensity letters are dropped.
    """
    if isinstance(aus, str):
        return frozenset(int(m) for m in _AU_NUM.findall(aus))
    out: set[int] = set()
    for a in aus:
        out |= au_numbers(str(a))
    return frozenset(out)


def emotion_from_aus(aus: str | Iterable[str | int]) -> str:
    """The best-fitting prototype's emotion, or "others" when none fits.

    A prototype is considered when one of its ``needs`` is fully present; among those the one with the
    highest F1 between the event's AUs and the prototype wins (ties: table order).
    """
    got = au_numbers(aus) - NON_EMOTIONAL
    best, best_score = OTHERS, 0.0
    for p in PROTOTYPES:
        if not any(n <= got for n in p.needs):
            continue
        score = 2 * len(got & p.aus) / (len(got) + len(p.aus))
        if score > best_score:
            best, best_score = p.emotion, score
    return best


def megc_class(emotion: str) -> str | None:
    """The MEGC2019 3-class label (negative / positive / surprise) of an emotion word, or None (others)."""
    return EMOTION_TO_MEGC.get(str(emotion).strip().lower())


def prototype_table_markdown() -> str:
    """The documented emotion table (docs/recognition.md), generated from :data:`PROTOTYPES`."""

    def combo(s: frozenset[int]) -> str:
        return "+".join(str(a) for a in sorted(s))

    lines = [
        "| emotion | prototype AUs | considered when present | MEGC class |",
        "|---|---|---|---|",
    ]
    for p in PROTOTYPES:
        lines.append(
            f"| {p.emotion} | {combo(p.aus)} | {' or '.join(combo(n) for n in p.needs)} | {p.megc} |"
        )
    lines.append(f"| {OTHERS} | no prototype fits | - | (none: outside the 3 classes) |")
    return "\n".join(lines)

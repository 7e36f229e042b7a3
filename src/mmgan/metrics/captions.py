"""Caption metrics for the shapes data: read the slots back out of a caption, and measure variety.

    parse_slots("a tiny crimson disc near the top edge")
        -> {"shape": "circle", "color": "red", "size": "small", "position": "top"}
    slot_accuracy(captions, attributes)  share of slots right (and of captions with all four right)
    distinct_n(captions, 2)              distinct n-grams / all n-grams (Li et al. 2016)
    self_bleu(captions)                  mean BLEU-4 of each caption against the others (lower = more varied)

parse_slots uses data/shapes.py's synonym table (SYNONYMS, PLACES, PLACE_WORDS): longest phrases
first, on word boundaries; a slot that is missing, or named twice with different values, is None.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import cache

from ..data.shapes import ATTRIBUTES, PLACE_WORDS, PLACES, SYNONYMS

SLOTS = ("shape", "color", "size", "position")
POSITION_WORDS = {"top": ["top", "upper", "up"], "bottom": ["bottom", "lower", "below"],
                  "left": ["left"], "right": ["right"]}


@cache
def _phrases() -> dict[str, list[tuple[re.Pattern, str]]]:
    """slot -> [(pattern, value)], longest phrase first."""
    out: dict[str, list[tuple[str, str]]] = {s: [] for s in SLOTS}
    for slot, values in ATTRIBUTES.items():
        for v in values:
            words = SYNONYMS.get(v, [])
            if slot == "position":
                words = PLACES[v] + PLACE_WORDS[v] + POSITION_WORDS[v]
            out[slot] += [(w, v) for w in words]
    return {s: [(re.compile(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])"), v)
                for w, v in sorted(pairs, key=lambda p: -len(p[0]))] for s, pairs in out.items()}


def parse_slots(caption: str) -> dict[str, str | None]:
    """The shape, color, size and position a caption names (None where it names none, or two)."""
    found: dict[str, str | None] = {}
    for slot, patterns in _phrases().items():
        text, values = caption.lower(), set()
        for pat, value in patterns:
            if pat.search(text):
                values.add(value)
                text = pat.sub(" ", text)              # a longer phrase's words are not counted again
        found[slot] = values.pop() if len(values) == 1 else None
    return found


def slot_accuracy(captions: Sequence[str], attributes: Sequence[Sequence[int]]) -> dict[str, float]:
    """Captions against (n, 4) attribute indices (shapes' attributes column): per-slot accuracy, the mean
    over slots ("slots") and the share of captions with all four right ("exact")."""
    if len(captions) != len(attributes):
        raise ValueError(f"{len(captions)} captions for {len(attributes)} attribute rows")
    right = {s: 0 for s in SLOTS}
    exact = 0
    for cap, row in zip(captions, attributes):
        got = parse_slots(cap)
        ok = [got[s] == ATTRIBUTES[s][int(i)] for s, i in zip(SLOTS, row)]
        for s, k in zip(SLOTS, ok):
            right[s] += k
        exact += all(ok)
    n = max(1, len(captions))
    out = {s: right[s] / n for s in SLOTS}
    out["slots"] = sum(out[s] for s in SLOTS) / len(SLOTS)
    out["exact"] = exact / n
    return out


def _words(caption: str) -> list[str]:
    return re.findall(r"[\w'-]+|[^\w\s]", caption.lower())


def distinct_n(captions: Sequence[str], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of the captions (0 when there are none)."""
    grams = [tuple(w[i:i + n]) for c in captions for w in [_words(c)] for i in range(len(w) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def bleu(hypothesis: str, references: Sequence[str], n: int = 4) -> float:
    """Sentence BLEU-n (uniform weights, brevity penalty, +1 smoothing of the higher orders)."""
    import math

    hyp = _words(hypothesis)
    refs = [_words(r) for r in references]
    if not hyp or not refs:
        return 0.0
    logs = 0.0
    for k in range(1, n + 1):
        h = Counter(tuple(hyp[i:i + k]) for i in range(len(hyp) - k + 1))
        best: Counter = Counter()
        for r in refs:
            best |= Counter(tuple(r[i:i + k]) for i in range(len(r) - k + 1))
        match, total = sum(min(c, best[g]) for g, c in h.items()), max(1, sum(h.values()))
        logs += math.log((match + (k > 1)) / (total + (k > 1))) if match or k > 1 else math.log(1e-9)
    closest = min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
    bp = 1.0 if len(hyp) >= closest else math.exp(1 - closest / len(hyp))
    return bp * math.exp(logs / n)


def self_bleu(captions: Sequence[str], n: int = 4) -> float:
    """Mean BLEU-n of each caption against all the others (Zhu et al. 2018's Self-BLEU)."""
    caps = list(captions)
    if len(caps) < 2:
        return 0.0
    return sum(bleu(c, caps[:i] + caps[i + 1:], n) for i, c in enumerate(caps)) / len(caps)

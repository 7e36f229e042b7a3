"""Caption scores with maintained scorers, and the diversity and tone figures of the captioning GAN
papers. Used by bench/captions.py.

    CocoScorer()(cands, refs)          BLEU-1..4, METEOR, ROUGE-L, CIDEr (pycocoevalcap; METEOR runs Java)
    CocoScorer().human(refs)           the same, each reference against the others (the human ceiling);
    CocoScorer().leave_one_out(...)    candidates against the same R-1 references (coco_scores: one call)
    distinct_n(caps, n)                unique n-grams / all n-grams over a set of captions
    self_bleu(groups)                  BLEU-4 of each caption against the other captions of its input
    vocabulary(caps), novel_share      words used; share of captions never seen in training
    tone(caps)                         VADER compound -> positive / negative / neutral (an offline lexicon
                                       judge that is not ours: vaderSentiment ships its lexicon)
    wer(refs, hyps)                    word error rate (jiwer)

Protocol (Dai et al. 2017, "Towards diverse and natural image descriptions via a conditional GAN"):
candidates and references are lower-cased and split on anything that is not a letter, digit, hyphen
or apostrophe (PTB-like; COCO's Java PTBTokenizer gives the same tokens on these captions). When a
generated caption is scored against R-1 references to compare it with the human score, every
leave-one-out subset is used and the scores averaged, so both sides see the same number of references.

    pip install pycocoevalcap jiwer vaderSentiment        (or: pip install 'mmgan[metrics]')
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Mapping, Sequence

_TOKEN = re.compile(r"[a-z0-9][a-z0-9'\-]*")
SCORE_NAMES = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")
TONES = ("neutral", "positive", "negative")
TONE_THRESHOLD = 0.05          # VADER's own convention: compound >= 0.05 positive, <= -0.05 negative


def tokens(caption: str) -> list[str]:
    return _TOKEN.findall(caption.lower())


def normalise(caption: str) -> str:
    return " ".join(tokens(caption))


def _need(module: str, pip: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{module} is not installed: pip install {pip}  (or pip install 'mmgan[metrics]')") from None


class CocoScorer:
    """pycocoevalcap's scorers, METEOR's Java process started once and ended by close() (or `with`)."""

    def __init__(self, meteor: bool = True):
        _need("pycocoevalcap", "pycocoevalcap")
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge

        self.bleu, self.rouge, self.cider = Bleu(4), Rouge(), Cider()
        self.meteor = None
        if meteor:
            from pycocoevalcap.meteor.meteor import Meteor

            self.meteor = Meteor()

    def __enter__(self) -> "CocoScorer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """End METEOR's Java process now rather than at interpreter exit (its own __del__ then finds
        the pipes closed and the process gone, which it tolerates)."""
        proc = getattr(self.meteor, "meteor_p", None)
        if proc is not None and proc.poll() is None:
            with self.meteor.lock:
                proc.kill()
                proc.wait()

    def __call__(self, candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict[str, float]:
        """Corpus scores of one candidate per input against that input's references (ids shared)."""
        if not candidates:
            raise ValueError("no candidates to score")
        missing = [k for k in candidates if not references.get(k)]
        if missing:
            raise ValueError(f"no references for {len(missing)} candidate(s), e.g. {missing[:3]}")
        res = {k: [normalise(v) or "empty"] for k, v in candidates.items()}
        gts = {k: [normalise(r) for r in references[k]] for k in candidates}
        bleu, _ = self.bleu.compute_score(gts, res, verbose=0)
        out = {f"BLEU-{i + 1}": float(b) for i, b in enumerate(bleu)}
        if self.meteor is not None:
            out["METEOR"] = float(self.meteor.compute_score(gts, res)[0])
        out["ROUGE-L"] = float(self.rouge.compute_score(gts, res)[0])
        out["CIDEr"] = float(self.cider.compute_score(gts, res)[0])
        return out

    def leave_one_out(self, candidates: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict[str, float]:
        """Candidates scored against R-1 references, averaged over the R leave-one-out subsets (so the
        figure is comparable with human(), which has R-1 references per caption)."""
        return _mean([self(candidates, _without(references, k)) for k in range(_count(references))])

    def human(self, references: Mapping[str, Sequence[str]]) -> dict[str, float]:
        """Each reference scored against the others of its input, averaged over which one is held out."""
        return _mean([self({i: refs[k] for i, refs in references.items()}, _without(references, k))
                      for k in range(_count(references))])


def coco_scores(candidates: Mapping[str, str], references: Mapping[str, Sequence[str]],
                meteor: bool = True) -> dict[str, float]:
    with CocoScorer(meteor) as score:
        return score(candidates, references)


def _without(references: Mapping[str, Sequence[str]], k: int) -> dict[str, list[str]]:
    return {i: [x for j, x in enumerate(refs) if j != k] for i, refs in references.items()}


def _count(references: Mapping[str, Sequence[str]]) -> int:
    counts = {len(v) for v in references.values()}
    if len(counts) != 1 or min(counts) < 2:
        raise ValueError(f"every input needs the same number (>= 2) of references; got counts {sorted(counts)}")
    return counts.pop()


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}


def ngrams(toks: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(toks[i:i + n]) for i in range(len(toks) - n + 1)]


def distinct_n(captions: Iterable[str], n: int) -> float:
    """Unique n-grams over all n-grams of a set of captions (Li et al. 2016's distinct-n)."""
    grams = [g for c in captions for g in ngrams(tokens(c), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_bleu(groups: Iterable[Sequence[str]]) -> float:
    """Mean BLEU-4 of each caption against the other captions of the same input (lower = more varied;
    Shetty et al. 2017's within-image figure). Groups need at least two captions."""
    _need("pycocoevalcap", "pycocoevalcap")
    from pycocoevalcap.bleu.bleu import Bleu

    res, gts = {}, {}
    for g, caps in enumerate(groups):
        caps = [normalise(c) or "empty" for c in caps]
        if len(caps) < 2:
            raise ValueError(f"self-BLEU needs at least two captions per input; input {g} has {len(caps)}")
        for i, c in enumerate(caps):
            res[f"{g}/{i}"] = [c]
            gts[f"{g}/{i}"] = [x for j, x in enumerate(caps) if j != i]
    return float(Bleu(4).compute_score(gts, res, verbose=0)[0][3])


def vocabulary(captions: Iterable[str]) -> int:
    return len({t for c in captions for t in tokens(c)})


def novel_share(captions: Iterable[str], training: Iterable[str]) -> float:
    """Share of captions (normalised) that never occur in the training captions."""
    seen = {normalise(c) for c in training}
    caps = [normalise(c) for c in captions]
    return sum(c not in seen for c in caps) / len(caps) if caps else 0.0


def diversity(groups: Sequence[Sequence[str]], training: Iterable[str] = ()) -> dict[str, float]:
    """The diversity row of a caption set: distinct-1/2 over all captions, Self-BLEU within inputs,
    vocabulary, and the novel share when training captions are given."""
    flat = [c for g in groups for c in g]
    out = {"distinct-1": distinct_n(flat, 1), "distinct-2": distinct_n(flat, 2),
           "self-BLEU": self_bleu(groups), "vocabulary": float(vocabulary(flat))}
    training = list(training)
    if training:
        out["novel"] = novel_share(flat, training)
    return out


def tone(captions: Sequence[str]) -> list[str]:
    """VADER's verdict per caption: positive, negative or neutral."""
    vs = _need("vaderSentiment.vaderSentiment", "vaderSentiment")
    judge = vs.SentimentIntensityAnalyzer()
    out = []
    for c in captions:
        s = judge.polarity_scores(c)["compound"]
        out.append("positive" if s >= TONE_THRESHOLD else "negative" if s <= -TONE_THRESHOLD else "neutral")
    return out


def tone_accuracy(captions: Sequence[str], wanted: Sequence[str]) -> dict[str, float]:
    """Share of captions whose VADER tone is the one asked, overall and per tone asked."""
    if len(captions) != len(wanted):
        raise ValueError(f"{len(captions)} captions but {len(wanted)} wanted tones")
    bad = sorted(set(wanted) - set(TONES))
    if bad:
        raise ValueError(f"unknown tone(s) {bad}; valid: {', '.join(TONES)}")
    got = tone(captions)
    hits = Counter(w for g, w in zip(got, wanted) if g == w)
    asked = Counter(wanted)
    out = {"all": sum(hits.values()) / max(1, len(wanted))}
    out.update({w: hits[w] / asked[w] for w in TONES if asked[w]})
    return out


def wer(references: Sequence[str], hypotheses: Sequence[str]) -> float:
    """Corpus word error rate (jiwer) after the same normalisation as the caption scores."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    jiwer = _need("jiwer", "jiwer")
    refs = [normalise(r) for r in references]
    empty = [i for i, r in enumerate(refs) if not r]
    if empty:
        raise ValueError(f"empty reference transcript(s) at {empty[:5]}")
    return float(jiwer.wer(refs, [normalise(h) for h in hypotheses]))

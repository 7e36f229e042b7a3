"""CTC decoding and alignment on one utterance's per-frame log-probabilities (Graves et al. 2006).

Token 0 is the blank; a label sequence is read off a frame path by merging repeats, then dropping blanks.

    tokens, spans = greedy(log_probs)                      # best path: (t, v) -> ids, each id's frames
    tokens = prefix_beam_search(log_probs, beam=8)         # the most probable label sequence (summed paths)
    tokens = prefix_beam_search(log_probs, 8, lexicon=Lexicon(words, vocab))   # ... made of known words only
    spans = align(log_probs, tokens)                       # Viterbi forced alignment: (first, last) frame per id
    words = word_times(tokens, spans, vocab, frame_s)      # [(word, start_s, end_s)] split at spaces (vocab[id])

Shape legend: t frames, v vocabulary (blank included). Arrays are numpy float; torch tensors are taken.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

BLANK = 0
NEG_INF = -math.inf
Span = tuple[int, int]                      # first and last frame (inclusive) of one emitted token


def _np(log_probs) -> np.ndarray:
    x = log_probs.detach().float().cpu().numpy() if hasattr(log_probs, "detach") else np.asarray(log_probs, float)
    if x.ndim != 2:
        raise ValueError(f"CTC decoding takes one utterance's (frames, vocabulary) log-probabilities, "
                         f"got shape {x.shape}")
    return x


def greedy(log_probs) -> tuple[list[int], list[Span]]:
    """Best-path decoding: the most probable token per frame, repeats merged, blanks dropped; with each
    emitted token's run of frames."""
    best = _np(log_probs).argmax(1)
    tokens, spans = [], []
    prev = BLANK
    for f, k in enumerate(best.tolist()):
        if k != BLANK and k == prev:
            spans[-1] = (spans[-1][0], f)                 # the same token held: its span grows
        elif k != BLANK:
            tokens.append(k)
            spans.append((f, f))
        prev = k
    return tokens, spans


def _logadd(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


class Lexicon:
    """The words a beam search may write, as token-id prefixes: a prefix is extended by a character only
    when the word so far stays the start of a known word, and by a space only when it is a whole word.
    words: strings over vocab's characters (one token a character; a word with another character is
    left out); vocab: the recogniser's tokens (a " " token separates words)."""

    def __init__(self, words: Sequence[str], vocab: Sequence[str]):
        ids = {t: i for i, t in enumerate(vocab) if i != BLANK}
        if " " not in ids:
            raise ValueError("a lexicon needs a space token in the vocabulary (words are separated by spaces)")
        self.space = ids[" "]
        self.words: set[tuple[int, ...]] = set()
        self.prefixes: set[tuple[int, ...]] = {()}
        for w in words:
            if w and all(ch in ids and ch != " " for ch in w):
                word = tuple(ids[ch] for ch in w)
                self.words.add(word)
                self.prefixes.update(word[:i] for i in range(1, len(word) + 1))
        if not self.words:
            raise ValueError("a lexicon needs at least one word written in the vocabulary's characters")

    def allows(self, partial: tuple[int, ...], k: int) -> bool:
        """May the word so far (`partial`, ids since the last space) be followed by token k?"""
        if k == self.space:
            return partial in self.words
        return partial + (k,) in self.prefixes

    def partial(self, prefix: tuple[int, ...]) -> tuple[int, ...]:
        """The ids of prefix after its last space: the word being written."""
        for i in range(len(prefix) - 1, -1, -1):
            if prefix[i] == self.space:
                return prefix[i + 1:]
        return prefix


def prefix_beam_search(log_probs, beam: int = 8, prune: float = -12.0, lexicon: Lexicon | None = None) -> list[int]:
    """CTC prefix beam search (no language model): keeps the `beam` most probable label prefixes, each
    with its probability of ending in a blank and in its last label; tokens whose frame log-probability
    is below `prune` are not tried (they cannot change the result at useful beams). With a lexicon only
    prefixes made of its words are kept, and the result ends with a whole word: the best beam that does,
    else the best beam without its unfinished last word."""
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    x = _np(log_probs)
    beams: dict[tuple, tuple[float, float]] = {(): (0.0, NEG_INF)}       # prefix -> (log p_blank, log p_label)
    for frame in x:
        cand = [k for k in np.flatnonzero(frame >= prune).tolist()] or [int(frame.argmax())]
        if lexicon is not None and BLANK not in cand:
            cand.append(BLANK)                             # a lexicon may refuse every label: a blank is always possible
        nxt: dict[tuple, list[float]] = {}

        def add(prefix, pb, pl):
            cur = nxt.setdefault(prefix, [NEG_INF, NEG_INF])
            cur[0], cur[1] = _logadd(cur[0], pb), _logadd(cur[1], pl)

        for prefix, (pb, pl) in beams.items():
            total = _logadd(pb, pl)
            word = lexicon.partial(prefix) if lexicon is not None else ()
            for k in cand:
                p = float(frame[k])
                if k == BLANK:
                    add(prefix, total + p, NEG_INF)
                    continue
                last = prefix[-1] if prefix else None
                if k == last:
                    add(prefix, NEG_INF, pl + p)                   # the label held: same prefix
                if lexicon is not None and not (lexicon.allows(word, k) and (k != lexicon.space or prefix)):
                    continue                                       # not the start of a known word
                if k == last:
                    add(prefix + (k,), NEG_INF, pb + p)            # a repeat needs a blank between
                else:
                    add(prefix + (k,), NEG_INF, total + p)
        ranked = sorted(nxt.items(), key=lambda kv: _logadd(*kv[1]), reverse=True)[:beam]
        beams = {k: (v[0], v[1]) for k, v in ranked}
    if lexicon is None:
        return list(max(beams.items(), key=lambda kv: _logadd(*kv[1]))[0])
    whole = {k: v for k, v in beams.items() if lexicon.partial(k) in lexicon.words or not lexicon.partial(k)}
    best = list(max((whole or beams).items(), key=lambda kv: _logadd(*kv[1]))[0])
    return best if whole else best[:len(best) - len(lexicon.partial(tuple(best)))]   # an unfinished word is left out


def align(log_probs, tokens: Sequence[int]) -> list[Span]:
    """Viterbi forced alignment of a label sequence: the most probable frame path that reads `tokens`;
    returns each token's (first, last) frame. Raises ValueError when the frames are too few for it."""
    x = _np(log_probs)
    t_len, tokens = x.shape[0], list(tokens)
    if not tokens:
        return []
    ext = [BLANK]
    for k in tokens:
        ext += [k, BLANK]                                         # b l1 b l2 b ... (2L + 1 states)
    s_len = len(ext)
    need = len(tokens) + sum(a == b for a, b in zip(tokens, tokens[1:]))
    if need > t_len:
        raise ValueError(f"{len(tokens)} labels need at least {need} frames; the utterance has {t_len}")
    score = np.full(s_len, NEG_INF)
    back = np.zeros((t_len, s_len), dtype=np.int8)               # 0: stay, 1: from s-1, 2: from s-2
    score[0], score[1] = x[0, ext[0]], x[0, ext[1]]
    ext_a = np.array(ext)
    skip = np.zeros(s_len, bool)
    skip[2:] = (ext_a[2:] != BLANK) & (ext_a[2:] != ext_a[:-2])   # a label may follow the previous label
    for f in range(1, t_len):
        stay = score
        one = np.concatenate([[NEG_INF], score[:-1]])
        two = np.where(skip, np.concatenate([[NEG_INF, NEG_INF], score[:-2]]), NEG_INF)
        stacked = np.stack([stay, one, two])
        back[f] = stacked.argmax(0)
        score = stacked.max(0) + x[f, ext_a]
    s = s_len - 1 if score[s_len - 1] >= score[s_len - 2] else s_len - 2
    path = [0] * t_len
    for f in range(t_len - 1, -1, -1):
        path[f] = s
        s -= int(back[f, s])
    spans: list[list[int]] = [[-1, -1] for _ in tokens]
    for f, s in enumerate(path):
        if s % 2 == 1:                                            # a label state: token (s - 1) / 2
            i = (s - 1) // 2
            spans[i][0] = f if spans[i][0] < 0 else spans[i][0]
            spans[i][1] = f
    return [(a, b) for a, b in spans]


def word_times(tokens: Sequence[int], spans: Sequence[Span], vocab: Sequence[str], frame_s: float,
               offset_s: float = 0.0) -> list[tuple[str, float, float]]:
    """Words (split at spaces) with their start and end in seconds: from the first frame of a word's first
    character to the end of its last character's last frame, plus offset_s (where the audio began)."""
    words, chars, first, last = [], [], None, None
    for k, (a, b) in zip(list(tokens) + [None], list(spans) + [(0, 0)]):
        ch = " " if k is None else vocab[k]
        if ch.isspace():
            if chars:
                words.append(("".join(chars), offset_s + first * frame_s, offset_s + (last + 1) * frame_s))
            chars, first = [], None
            continue
        chars.append(ch)
        first = a if first is None else first
        last = b
    return words

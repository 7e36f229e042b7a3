"""CTC decoding and alignment (mmgan.models.ctc) on hand-made per-frame probabilities."""
import math

import numpy as np
import pytest
import torch

from mmgan.models import ctc


def frames(*rows, v=4):
    """Log-probabilities from rows of {token: probability} (the rest of the mass spread over the others)."""
    out = np.full((len(rows), v), 1e-9)
    for t, row in enumerate(rows):
        for k, p in row.items():
            out[t, k] = p
    return np.log(out / out.sum(1, keepdims=True))


def test_greedy_merges_repeats_drops_blanks_and_keeps_runs():
    lp = frames({1: .9}, {1: .9}, {0: .9}, {2: .9}, {0: .9}, {2: .9}, {2: .9})
    tokens, spans = ctc.greedy(torch.from_numpy(lp))
    assert tokens == [1, 2, 2] and spans == [(0, 1), (3, 3), (5, 6)]


def test_prefix_beam_search_sums_paths_where_best_path_does_not():
    # best path reads blank, blank (p .6 each); but "1" has many paths: 1-, -1, 11 = .4*.6*2 + .4*.4 = .64 > .36
    lp = frames({0: .6, 1: .4}, {0: .6, 1: .4}, v=3)
    assert ctc.greedy(lp)[0] == []
    assert ctc.prefix_beam_search(lp, beam=4) == [1]
    assert ctc.prefix_beam_search(lp, beam=1) in ([], [1])


def test_beam_search_needs_a_blank_between_repeats():
    lp = frames({1: .95}, {0: .95}, {1: .95})
    assert ctc.prefix_beam_search(lp, beam=8) == [1, 1]
    assert ctc.prefix_beam_search(frames({1: .95}, {1: .95}, {1: .95}), beam=8) == [1]


def test_align_finds_each_token_frames_and_refuses_too_few():
    lp = frames({0: .9}, {1: .9}, {1: .6, 0: .3}, {0: .9}, {2: .9}, {0: .9})
    assert ctc.align(lp, [1, 2]) == [(1, 2), (4, 4)]
    assert ctc.align(lp, []) == []
    with pytest.raises(ValueError, match="need at least 3 frames"):
        ctc.align(frames({1: .9}, {1: .9}), [1, 1])


def test_word_times_from_spans():
    vocab = ["<pad>", "<eos>", "<unk>", " ", "a", "b"]
    tokens = [4, 5, 3, 5]                       # "ab b"
    spans = [(2, 2), (4, 5), (7, 7), (9, 10)]
    words = ctc.word_times(tokens, spans, vocab, frame_s=0.04, offset_s=1.0)
    assert [w for w, _, _ in words] == ["ab", "b"]
    assert math.isclose(words[0][1], 1.08) and math.isclose(words[0][2], 1.24)
    assert math.isclose(words[1][1], 1.36) and math.isclose(words[1][2], 1.44)


def test_decoders_refuse_a_batch():
    with pytest.raises(ValueError, match="one utterance"):
        ctc.greedy(torch.zeros(2, 3, 4))


VOCAB = ["<pad>", "<eos>", "<unk>", " ", "a", "b", "c"]          # blank 0, space 3


def test_lexicon_beam_search_writes_only_known_words():
    # best path and plain beam read "ab c"; the lexicon knows "ab", "ac", "c": the search keeps to them
    lp = frames({4: .9}, {5: .5, 6: .4}, {3: .9}, {5: .6, 6: .35}, v=7)
    assert ctc.prefix_beam_search(lp, 8) == [4, 5, 3, 5]                               # "ab b"
    lex = ctc.Lexicon(["ab", "ac", "c"], VOCAB)
    assert ctc.prefix_beam_search(lp, 8, lexicon=lex) == [4, 5, 3, 6]                 # "ab c"
    assert lex.allows((4,), 5) and not lex.allows((4,), 4) and lex.allows((4, 5), 3) and not lex.allows((4,), 3)
    assert lex.partial((4, 5, 3, 6)) == (6,) and lex.partial((4,)) == (4,)


def test_lexicon_ends_on_a_whole_word_and_refuses_bad_input():
    lex = ctc.Lexicon(["abc"], VOCAB)
    lp = frames({4: .9}, {5: .9}, {0: .9}, v=7)                  # only "ab" heard: an unfinished word is not written
    assert ctc.prefix_beam_search(lp, 4, lexicon=lex) == []
    lp = frames({4: .9}, {5: .9}, {6: .9}, {3: .9}, {4: .9}, {5: .9}, v=7)      # "abc ab": the whole word stays
    assert ctc.prefix_beam_search(lp, 4, lexicon=lex) == [4, 5, 6, 3]
    assert ctc.prefix_beam_search(frames({3: .9}, {4: .9}, v=7), 4, lexicon=ctc.Lexicon(["a"], VOCAB)) == [4]
    with pytest.raises(ValueError, match="space token"):
        ctc.Lexicon(["ab"], ["<pad>", "<eos>", "<unk>", "a", "b"])
    with pytest.raises(ValueError, match="at least one word"):
        ctc.Lexicon(["xyz"], VOCAB)

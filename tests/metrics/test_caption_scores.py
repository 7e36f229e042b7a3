import shutil

import pytest

from mmgan.metrics import caption_scores as cs

REFS = {"a": ["a small red circle at the top", "a tiny crimson disc up top", "red circle, small, at the top"],
        "b": ["a big blue square on the left", "a large cobalt box on the left side", "blue square (large) on the left"]}


def test_tokens_are_lower_case_words():
    assert cs.tokens("A grass-green Star (large), up top!") == ["a", "grass-green", "star", "large", "up", "top"]


def test_distinct_n_counts_unique_ngrams():
    assert cs.distinct_n(["a b a b"], 1) == pytest.approx(0.5)
    assert cs.distinct_n(["a b a b"], 2) == pytest.approx(2 / 3)
    assert cs.distinct_n([], 2) == 0.0


def test_self_bleu_is_high_for_copies_and_low_for_varied_captions():
    same = cs.self_bleu([["a small red circle at the top"] * 3])
    varied = cs.self_bleu([["a small red circle at the top", "tiny crimson disc up top", "the image shows a red ball"]])
    assert same == pytest.approx(1.0, abs=1e-6)
    assert varied < 0.2
    with pytest.raises(ValueError, match="at least two"):
        cs.self_bleu([["only one"]])


def test_exact_candidates_outscore_wrong_ones_and_errors_name_the_problem():
    good = cs.coco_scores({"a": REFS["a"][0], "b": REFS["b"][0]}, REFS, meteor=False)
    bad = cs.coco_scores({"a": "a large green star", "b": "a yellow triangle at the bottom"}, REFS, meteor=False)
    assert set(good) == {"BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "ROUGE-L", "CIDEr"}
    assert all(good[k] > bad[k] for k in good)
    with pytest.raises(ValueError, match="no references"):
        cs.coco_scores({"c": "x"}, REFS, meteor=False)
    with pytest.raises(ValueError, match="same number"):
        cs.CocoScorer(meteor=False).human({"a": ["x", "y"], "b": ["x"]})


@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR needs Java")
def test_human_and_leave_one_out_scores_use_the_same_references():
    with cs.CocoScorer() as score:
        human = score.human(REFS)
        copies = score.leave_one_out({"a": REFS["a"][0], "b": REFS["b"][0]}, REFS)
    assert 0 < human["METEOR"] < 1 and 0 < copies["METEOR"] <= 1
    assert copies["BLEU-1"] > human["BLEU-1"]        # a reference copy is one of the held-in references 2 times in 3


def test_tone_judge_and_wer():
    acc = cs.tone_accuracy(["a lovely red circle", "an ugly blue square", "a red circle"],
                           ["positive", "negative", "neutral"])
    assert acc == {"all": 1.0, "neutral": 1.0, "positive": 1.0, "negative": 1.0}
    assert cs.tone_accuracy(["a lovely red circle"], ["negative"])["all"] == 0.0
    with pytest.raises(ValueError, match="unknown tone"):
        cs.tone_accuracy(["x"], ["happy"])
    assert cs.wer(["A red circle."], ["a red square"]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="empty reference"):
        cs.wer(["..."], ["a"])


def test_diversity_row_and_novel_share():
    row = cs.diversity([["a red circle", "a red disc at the top"], ["a blue box", "a blue square on the left"]],
                       training=["a red circle"])
    assert row["novel"] == pytest.approx(0.75) and row["vocabulary"] == 12   # a red circle disc at the top blue box square on left

"""The in-project video judges (mmgan.metrics.video_judges): a sync expert trained on real pairs finds the offset of
clips whose frames light up with their sound (0 for aligned pairs, the shift for shifted sound); the frame judge
as classifier and regressor; the clip judge's heads and features; the Frechet distance; the judge cache."""
from __future__ import annotations

import torch

from mmgan.metrics import video_judges as vj

RATE, FPS, T = 16000, 8.0, 12
PER = int(RATE / FPS)


def lit_clips(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(video (n, T, 1, 16, 16), sound (n, samples), lit (n, T)): frames light up exactly when a tone sounds."""
    g = torch.Generator().manual_seed(seed)
    lit = torch.rand(n, T, generator=g) < 0.4
    video = torch.where(lit[:, :, None, None, None], 1.0, -1.0).expand(-1, -1, 1, 16, 16).contiguous()
    tone = 0.3 * torch.sin(2 * torch.pi * 500 * torch.arange(PER) / RATE)
    wave = (lit[:, :, None].float() * tone).flatten(1)
    return video, wave, lit


def test_sync_expert_finds_the_offset_of_real_pairs():
    video, wave, _ = lit_clips(256)
    expert = vj.train_sync_expert(video, wave, FPS, window=3, steps=300, minutes=2, log=lambda *_: None)
    test_v, test_w, _ = lit_clips(64, seed=1)
    aligned = vj.sync_scores(expert, test_v, test_w, max_offset=4)
    shifted = vj.sync_scores(expert, test_v, torch.roll(test_w, 2 * PER, dims=1), max_offset=4)
    assert aligned["offset_acc"] > 0.8 and shifted["offset_acc"] < 0.2, (aligned["offset_acc"], shifted["offset_acc"])
    assert sum(o == 2 for o in shifted["offsets"]) > 0.6 * len(test_v)       # the sound comes 2 frames late
    assert aligned["clips"] == 64 and aligned["lse_c"] > 0


def test_frame_judge_classifies_and_regresses():
    video, _, lit = lit_clips(64)
    labels = torch.arange(64) % 2
    video[labels == 1, :, :, :8] = 0.0                                      # class 1: the top half always grey
    clf = vj.train_frame_judge(video, labels, steps=150, minutes=1, log=lambda *_: None)
    assert float((vj.frame_reading(clf, video) == labels[:, None]).float().mean()) > 0.9
    reg = vj.train_frame_judge(video, lit.float(), steps=150, minutes=1, log=lambda *_: None)
    read = vj.frame_reading(reg, video)
    assert read.shape == (64, T) and read.is_floating_point()


def test_clip_judge_heads_features_and_frechet():
    video, _, lit = lit_clips(32)
    judge = vj.train_clip_judge(video, {"many": (lit.sum(1) > 4).long()}, steps=20, minutes=1, log=lambda *_: None)
    preds, feats = vj.clip_predictions(judge, video)
    assert set(preds) == {"many"} and feats.shape == (32, 128)
    assert abs(vj.frechet(feats, feats)) < 1e-3 and vj.frechet(feats, feats + 1) > 100   # a shift of 1 in 128 dims: 128


def test_cache_builds_once_then_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path))
    built = []

    def build():
        built.append(1)
        return vj.FrameJudge(1, 16, 3)

    a = vj.cached("frame", {"data": "x"}, build, lambda c: vj.FrameJudge(**c))
    b = vj.cached("frame", {"data": "x"}, build, lambda c: vj.FrameJudge(**c))
    assert built == [1] and all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    vj.cached("frame", {"data": "y"}, build, lambda c: vj.FrameJudge(**c))
    assert built == [1, 1]                                                   # another key: another judge

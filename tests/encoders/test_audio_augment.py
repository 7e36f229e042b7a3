"""Each speech augmentation changes its input as intended and keeps shape and dtype."""
from __future__ import annotations

import math

import pytest
import torch

from mmgan.encoders import audio_augment as A
from mmgan.encoders.audio import mel_centres, mel_position, normalize_mel

SR, M = 16000, 32


def _batch(b: int = 3, t: int = 60, lengths=(60, 40, 25)) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw log-mels: a loud band moving up over time on a quiet floor; padded frames zero."""
    g = torch.Generator().manual_seed(0)
    mel = torch.full((b, t, M), math.log(1e-4)) + 0.1 * torch.randn(b, t, M, generator=g)
    for i in range(b):
        for j in range(t):
            mel[i, j, 4 + (j * 20) // t] = math.log(1.0)
    mask = torch.arange(t)[None] < torch.tensor(lengths)[:, None]
    return mel * mask[..., None], mask


def _ones(b, v):
    return torch.full((b,), float(v))


def test_speed_changes_length_and_scales_frequency():
    mel, mask = _batch()
    out, m2 = A.stretch_and_warp(mel, mask, _ones(3, 1.0), _ones(3, 1.0), SR)
    torch.testing.assert_close(out, mel, atol=1e-4, rtol=0)          # identity, up to float32 band positions
    assert torch.equal(m2, mask)
    rate = torch.tensor([1.25, 0.8, 1.0])
    out, m2 = A.stretch_and_warp(mel, mask, 1 / rate, _ones(3, 1.0), SR)
    assert out.dtype == mel.dtype and out.shape[0] == 3 and out.shape[2] == M
    assert m2.sum(1).tolist() == [48, 50, 25]                         # 60 / 1.25, 40 / 0.8, 25
    assert out.shape[1] == 50 and torch.all(out[~m2] == 0)
    # warp 1.2: the energy that sat in band k now sits where f = 1.2 x centre(k)
    out, _ = A.stretch_and_warp(mel, mask, _ones(3, 1.0), _ones(3, 1.2), SR)
    src_band = int(mel[0, 0].argmax())
    want = float(mel_position(mel_centres(SR, M)[src_band] * 1.2, SR, M))
    assert abs(int(out[0, 0].argmax()) - want) <= 1.0 and int(out[0, 0].argmax()) > src_band


def test_reverb_smears_energy_forward_in_time():
    mel, mask = _batch()
    rt60, drr = _ones(3, 0.5), _ones(3, 0.0)
    wet = A.reverb(mel, mask, rt60, drr, 0.02)
    assert wet.shape == mel.shape and wet.dtype == mel.dtype
    band, j = 4, 0                                                     # the band lit at frame 0 only
    lit = int(torch.nonzero(mel[0, :, band] > -1).max())
    assert wet[0, lit + 3, band] > mel[0, lit + 3, band] + 1         # its tail rings on afterwards
    assert torch.all(wet >= mel - 1e-4)                              # reverb only adds energy
    assert torch.all(wet[~mask] == 0)
    h = A.rir_envelope(_ones(1, 0.3), _ones(1, 10.0), 0.02, 40)[0]
    assert h[0] == 1 and torch.all(h[2:] < h[1:-1])                   # direct sound, then a decaying tail
    assert abs(float(h[1:].sum()) - 0.1) < 1e-5                      # 10 dB below the direct sound
    assert abs(math.log10(float(h[1] / h[16])) * 10 - 60 * 15 * 0.02 / 0.3) < 1e-3   # 60 dB per rt60


def test_gain_shifts_the_log_power_and_normalization_undoes_it():
    mel, mask = _batch()
    out = A.apply_gain(mel, torch.tensor([10.0, -10.0, 0.0]))
    assert out.shape == mel.shape and out.dtype == mel.dtype
    torch.testing.assert_close(out[0] - mel[0], torch.full_like(mel[0], math.log(10)))
    for norm in ("clip", "cmvn"):
        torch.testing.assert_close(normalize_mel(out, mask, norm), normalize_mel(mel, mask, norm), atol=1e-4, rtol=0)


def test_noise_raises_the_floor_to_the_asked_snr():
    mel, mask = _batch()
    g = torch.Generator().manual_seed(1)
    noisy = A.add_noise(mel, mask, torch.tensor([0.0, 20.0, 40.0]), g, tilt_db=0.0)
    assert noisy.shape == mel.shape and noisy.dtype == mel.dtype and torch.all(noisy[~mask] == 0)
    for i, snr in enumerate((0.0, 20.0, 40.0)):
        real = mask[i]
        p = mel[i, real].exp()
        quiet = p < 1e-3                                               # floor cells: what is left is noise
        added = noisy[i, real].exp()[quiet] - p[quiet]
        level_db = 10 * math.log10(float(p.mean()) / float(added.mean()))
        assert abs(level_db - snr) < 0.5
    assert torch.all(noisy >= mel - 1e-4)                             # noise only adds power


def test_spec_masks_zero_bands_inside_real_frames():
    mel, mask = _batch()
    x = normalize_mel(mel, mask, "cmvn")
    g = torch.Generator().manual_seed(0)
    out = A.spec_mask(x, mask, 2, 6, 2, 5, g)
    assert out.shape == x.shape and out.dtype == x.dtype
    zeroed = (out == 0) & (x != 0)
    assert zeroed.any()
    assert torch.all((out == x) | (out == 0))                          # masking only zeroes
    none = A.spec_mask(x, mask, 0, 6, 0, 5, g)
    assert torch.equal(none, x)
    whole = A.spec_mask(x, mask, 1, 0, 1, M, torch.Generator().manual_seed(3))   # freq width up to all bands
    assert torch.all((whole == x) | (whole == 0))


def test_the_whole_chain_keeps_shapes_and_differs_each_draw():
    mel, mask = _batch()
    aug = A.AudioAugment(reverb_p=1.0, noise_p=1.0)
    norm = lambda b: {**b, "mel": normalize_mel(b["mel"], b["mask"], "cmvn")}  # noqa: E731
    g = torch.Generator().manual_seed(0)
    one = aug({"mel": mel, "mask": mask}, norm, SR, 20.0, g)
    two = aug({"mel": mel, "mask": mask}, norm, SR, 20.0, g)
    assert set(one) == {"mel", "mask"} and one["mel"].dtype == mel.dtype and one["mel"].shape[0] == 3
    assert one["mel"].shape[2] == M and one["mask"].shape == one["mel"].shape[:2]
    lengths = one["mask"].sum(1).float() / mask.sum(1)
    assert torch.all((lengths > 1 / 1.16) & (lengths < 1 / 0.84))     # speed within (0.85, 1.15)
    assert not torch.equal(one["mel"], two["mel"][:, : one["mel"].shape[1]]) or one["mel"].shape != two["mel"].shape
    clean = norm({"mel": mel, "mask": mask})["mel"]
    assert float((one["mel"][:, :25] - clean[:, :25]).abs().mean()) > 0.1


def test_options_from_yaml_are_checked():
    a = A.AudioAugment.from_dict({"speed": [0.9, 1.1], "noise_p": 0, "time_masks": 1})
    assert a.speed == (0.9, 1.1) and a.noise_p == 0.0 and a.time_masks == 1
    assert A.AudioAugment.from_dict(a.to_dict()) == a
    for bad, msg in (({"sped": [0.9, 1.1]}, "unknown key"), ({"speed": 1.1}, "pair of numbers"),
                     ({"time_masks": 1.5}, "an integer"), ({"noise_p": "x"}, "a number"),
                     ({"speed": [1.2, 0.9]}, "low end"), ({"noise_p": 2}, "probability"), ({"gain": -1}, ">= 0")):
        with pytest.raises(ValueError, match=msg):
            A.AudioAugment.from_dict(bad, "model.extra.audio_augment_args")

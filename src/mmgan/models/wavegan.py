"""WaveGAN (Donahue et al. 2019, "Adversarial Audio Synthesis"): DCGAN flattened to one dimension,
making the waveform itself (the audio codec's wave units: (b, 1, samples) in [-1, 1] at 16 kHz).

Generator: [z | c] -> dense -> (2^(k-1) d, first) -> k transposed 1-D convs, kernel 25, stride 4, each
4x longer and half as wide (ReLU), the last to one channel (tanh) -> first * 4^k samples, cropped at the
end to model.data_dim. d = model.g_width (the paper's d = 64; the preset's is far smaller, for a CPU).
The length rule (`plan`): k is the fewest stride-4 stages whose first length is at most 16 samples
(16 * 4^k >= samples) and first = ceil(samples / 4^k); so 16000 samples (1 s) is the paper's
16 -> 64 -> 256 -> 1024 -> 4096 -> 16384, cropped by 384; 8000 is 8 -> ... -> 8192; 4 s (64000) takes
six stages, 16 -> ... -> 65536. `model.extra.stages` sets k instead.
Discriminator: k strided 1-D convs (kernel 25, stride 4, 'SAME' padding, so samples -> first), widths
d, 2d, ... (cap 16d), LeakyReLU(0.2) and phase shuffle after each but the last, then a linear head on
the flattened (2^(k-1) d x first) features. No normalization (it trains under WGAN-GP).
Phase shuffle (n = model.extra.phase_shuffle, the paper's 2): in training each sample's activations
move by its own random integer in [-n, n] along time, the samples pushed in at an end filled by
reflection, so D cannot tell real from fake by the transposed convs' periodic (checkerboard) artefacts.
In eval it is the identity, so the scores are deterministic.
Conditions (labels, text, speech, ...: any condition vector c): G concatenates c to z (g_cond concat,
the preset's) or scales and shifts each hidden layer by it (g_cond cbn: FiLM, there is no batch norm
to condition); D by a projection head (d_cond projection) or c as extra input channels (concat), and an
optional AC-GAN classifier head (model.acgan), as dcgan's discriminator.
Shape legend: b batch, c channels, t time (samples), d width.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..model_options import Options, option
from ..registry import register
from .base import ConfigModule
from .layers import CondBatchNorm, MinibatchStd, Projection, judge, maybe_sn, pack

STRIDE = 4          # every stage is 4x: the paper's stride
FIRST_MAX = 16      # the dense layer's length is at most this (the paper's 16 for 16384 samples)
WIDTH_CAP = 16      # widths stop doubling at 16 d (the paper's widest layer)


@dataclass(frozen=True)
class WaveGANOptions(Options):
    phase_shuffle: int = option(2, "D's phase shuffle: each layer's activations move by a random integer in "
                                   "[-n, n] samples while training (0 = off; the paper's 2)")
    kernel: int = option(25, "kernel size of every 1-D conv of G and D (odd; the paper's 25)")
    stages: int = option(0, "stride-4 stages of G and D (0 = the fewest whose first length is at most 16 "
                            "samples: 5 for 1-s clips at 16 kHz)")


def plan(samples: int, stages: int = 0) -> tuple[int, int]:
    """(k stages, first length) for clips of `samples`: first * 4^k >= samples, first = ceil(samples / 4^k),
    k the fewest with first <= 16 unless `stages` sets it. G crops first * 4^k to samples at the end."""
    if samples < 1:
        raise ValueError(f"wavegan makes waveforms: model.data_dim must be the clip's samples (> 0), got {samples}; "
                         f"train it on audio data (its codec sets data_dim)")
    if stages < 0:
        raise ValueError(f"model.extra.stages must be 0 (auto) or more, got {stages}")
    k = stages
    if not k:
        k = 1
        while FIRST_MAX * STRIDE ** k < samples:
            k += 1
    return k, -(-samples // STRIDE ** k)


def check_kernel(kernel: int) -> int:
    if kernel < 3 or kernel % 2 == 0:
        raise ValueError(f"model.extra.kernel must be odd and at least 3 (the paper's 25), got {kernel}: an odd "
                         f"kernel pads both ends alike, so each stage is exactly 4x")
    return kernel


def widths(base: int, k: int) -> list[int]:
    """Channel widths from the dense layer's map up to G's last hidden layer: base*2^(k-1) ... base (cap 16 base)."""
    return [base * min(2 ** (k - 1 - i), WIDTH_CAP) for i in range(k)]


def up(c_in: int, c_out: int, kernel: int) -> nn.ConvTranspose1d:
    """A stride-4 transposed conv from t to exactly 4t samples (TensorFlow's 'SAME': (t-1)*4 - 2p + kernel + 1)."""
    return nn.ConvTranspose1d(c_in, c_out, kernel, STRIDE, padding=(kernel - 3) // 2, output_padding=1)


def down(c_in: int, c_out: int, kernel: int, sn: bool) -> nn.Module:
    """A stride-4 conv from t to ceil(t / 4) samples ('SAME')."""
    return maybe_sn(nn.Conv1d(c_in, c_out, kernel, STRIDE, padding=(kernel - 1) // 2), sn)


class PhaseShuffle(nn.Module):
    """WaveGAN's phase shuffle: in training, each sample's (c, t) activations move by its own random integer
    in [-n, n] along t, reflection filling the gap (out[i] = x[i - shift]); the identity in eval.
    (The paper's code draws one shift per batch; one per sample perturbs a batch the more evenly.)"""

    def __init__(self, n: int):
        super().__init__()
        if n < 0:
            raise ValueError(f"model.extra.phase_shuffle must be 0 (off) or more, got {n}")
        self.n = n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.n == 0:
            return x
        b, c, t = x.shape
        n = self.n
        if t <= n:
            raise ValueError(f"phase shuffle by up to {n} samples needs more than {n} samples per layer, got {t}; "
                             f"lower model.extra.phase_shuffle or use fewer model.extra.stages")
        shift = torch.randint(-n, n + 1, (b, 1, 1)).to(x.device)        # the CPU's generator on every device
        padded = F.pad(x, (n, n), mode="reflect")                      # (b, c, t + 2n)
        idx = torch.arange(t, device=x.device) + n - shift             # (b, 1, t): out[i] = x[i - shift]
        return padded.gather(2, idx.expand(b, c, t))


class WaveGANGenerator(ConfigModule):
    def __init__(self, z_dim: int, samples: int, width: int = 16, cond_dim: int = 0, g_cond: str = "concat",
                 kernel: int = 25, stages: int = 0):
        super().__init__(z_dim=z_dim, samples=samples, width=width, cond_dim=cond_dim, g_cond=g_cond,
                         kernel=kernel, **({"stages": stages} if stages else {}))
        if g_cond not in ("concat", "cbn"):
            raise ValueError(f"wavegan's generator takes conditions by concat (to z) or cbn (scale and shift of "
                             f"each layer), got model.g_cond={g_cond!r}")
        k, first = plan(samples, stages)
        ch = widths(width, k)
        kernel = check_kernel(kernel)
        self.z_dim, self.cond_dim, self.g_cond, self.samples = z_dim, cond_dim, g_cond, samples
        self.first, self.ch0 = first, ch[0]
        film = cond_dim if g_cond == "cbn" else 0
        self.fc = nn.Linear(z_dim + (cond_dim if g_cond == "concat" else 0), ch[0] * first)
        self.films = nn.ModuleList([CondBatchNorm(c, film, norm="none") for c in ch])
        self.ups = nn.ModuleList([up(ch[i], ch[i + 1], kernel) for i in range(k - 1)])
        self.out = up(ch[-1], 1, kernel)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None, **_) -> torch.Tensor:
        h = torch.cat([z, c], dim=1) if self.cond_dim and self.g_cond == "concat" else z
        h = self.fc(h).view(z.shape[0], self.ch0, self.first)            # (b, 2^(k-1) d, first)
        h = torch.relu(self.films[0](h, c))
        for conv, film in zip(self.ups, self.films[1:]):
            h = torch.relu(film(conv(h), c))                             # (b, d_i, 4 t)
        # the output layer runs in float32 under bf16 autocast: bf16's 8-bit mantissa would add the
        # quantization noise of 8-bit audio to every sample (the layer is the cheapest of G's)
        with torch.autocast(h.device.type, enabled=False):
            y = torch.tanh(self.out(h.float()))                          # (b, 1, first * 4^k)
        return y[..., : self.samples]                                    # (b, 1, samples)


class WaveGANDiscriminator(ConfigModule):
    def __init__(self, samples: int, width: int = 16, cond_dim: int = 0, d_cond: str = "projection",
                 num_classes: int = 0, acgan: bool = False, spectral_norm: bool = False, mbstd: bool = False,
                 pack_size: int = 1, aux_twin: bool = False, kernel: int = 25, stages: int = 0,
                 phase_shuffle: int = 2):
        super().__init__(samples=samples, width=width, cond_dim=cond_dim, d_cond=d_cond, num_classes=num_classes,
                         acgan=acgan, spectral_norm=spectral_norm, mbstd=mbstd, pack_size=pack_size,
                         aux_twin=aux_twin, kernel=kernel, phase_shuffle=phase_shuffle,
                         **({"stages": stages} if stages else {}))
        k, first = plan(samples, stages)
        kernel = check_kernel(kernel)
        ch = widths(width, k)[::-1]                                      # d ... 2^(k-1) d
        self.m, self.d_cond, self.samples = pack_size, d_cond, samples
        self.cond_dim = cond_dim if d_cond != "none" else 0
        in_ch = pack_size + (cond_dim * pack_size if self.cond_dim and d_cond == "concat" else 0)
        layers: list[nn.Module] = []
        for i, c_out in enumerate(ch):
            layers += [down(in_ch, c_out, kernel, spectral_norm), nn.LeakyReLU(0.2)]
            if i < k - 1:
                layers.append(PhaseShuffle(phase_shuffle))
            in_ch = c_out
        if mbstd:
            layers.append(MinibatchStd())
            in_ch += 1
        self.body = nn.Sequential(*layers)
        feat = in_ch * first                                             # the last map, flattened
        self.head = maybe_sn(nn.Linear(feat, 1), spectral_norm)
        projection = self.cond_dim and d_cond == "projection"
        self.proj = Projection(cond_dim * pack_size, feat, spectral_norm) if projection else None
        aux_out = num_classes * (2 if aux_twin else 1)                  # TAC-GAN: [classifier | twin classifier]
        self.aux = maybe_sn(nn.Linear(feat, aux_out), spectral_norm) if acgan and num_classes else None

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None):
        if x.dim() != 3 or x.shape[-1] != self.samples:
            raise ValueError(f"wavegan's discriminator judges (b, 1, {self.samples}) waveforms, got {tuple(x.shape)}")
        x = pack(x, self.m)                                              # (b/m, m, t)
        cp = pack(c, self.m) if (c is not None and self.cond_dim) else None
        if self.d_cond == "concat" and cp is not None:
            x = torch.cat([x, cp[:, :, None].expand(-1, -1, x.shape[-1]).to(x.dtype)], dim=1)
        h = self.body(x).flatten(1)                                      # (b/m, 2^(k-1) d * first)
        return judge(h, cp, self.head, self.proj, self.aux)


@register("model", "wavegan", options=WaveGANOptions)
def build_wavegan(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.channels not in (0, 1) or cfg.resolution:
        raise ValueError(f"wavegan makes mono waveforms of model.data_dim samples; got model.channels={cfg.channels}, "
                         f"model.resolution={cfg.resolution} (train it on audio data: its codec sets them)")
    o = WaveGANOptions.read(cfg.extra)
    g = WaveGANGenerator(cfg.z_dim, cfg.data_dim, cfg.g_width, cfg.cond_dim, cfg.g_cond, o.kernel, o.stages)
    if not with_discriminator:
        return g, None
    d = WaveGANDiscriminator(cfg.data_dim, cfg.d_width, cfg.cond_dim, cfg.d_cond, cfg.num_classes, cfg.acgan,
                             cfg.spectral_norm, cfg.mbstd, cfg.pack, cfg.acgan_twin, o.kernel, o.stages,
                             o.phase_shuffle)
    return g, d

"""Degradations: low-resolution or damaged inputs made on the fly from clean images, for the
super-resolution families (mmgan.models.upscale), the restoration family (mmgan.models.restore)
and their benchmarks. Both train on pairs made the same way: `random_crops` of a batch of clean
images, then `degrade` (super-resolution) or `damage` (restoration) of the crops.

Images are (b, c, h, w) tensors in [-1, 1]. Every random draw comes from the torch.Generator passed
in, so a degradation is deterministic for a seed: `degrade(hr, 4, "second-order", seeded(0))` gives
the same low-resolution batch every time.

  bicubic        bicubic downsampling by `scale` (antialiased, like MATLAB's imresize): the classic
                 SR benchmark input (Set5/Set14 "BI")
  blur           Gaussian blur of the HR image, sigma in BLUR_SIGMA, before downsampling
  noise          Gaussian noise after downsampling, sigma in NOISE_SIGMA (0..255 units)
  jpeg           JPEG compression of the LR image, quality in JPEG_QUALITY (PIL's encoder)
  second-order   Real-ESRGAN's idea (Wang et al. 2021): the blur -> resize -> noise -> JPEG chain
                 applied twice (random resize factors, the second stage landing on h / scale), so a
                 model trained on clean data also copes with real, messy inputs

A spec is a comma list of kinds ("bicubic", "blur,noise,jpeg", "second-order"); downsampling is
always part of it. `degrade` applies the kinds in the order blur -> downsample -> noise -> JPEG.

Restoration (`damage`, same size in and out; a comma list of RESTORE_KINDS):
  noise          Gaussian noise, sigma in RESTORE_NOISE_SIGMA (covers the classic sigma 25 test)
  jpeg           JPEG at a quality in RESTORE_JPEG_QUALITY (covers the classic q 10-30 tests)
  mask           a hole (mmgan.data.masks: free-form strokes or boxes), zeroed (mid-grey) in the input
With several kinds each image gets a random non-empty subset of them, so one model learns every
kind alone and in combination (noise and JPEG first, then the hole).
"""
from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .masks import MASK_KINDS, random_masks

KINDS = ("bicubic", "blur", "noise", "jpeg", "second-order")
BLUR_SIGMA = (0.2, 2.0)          # px of the HR image
NOISE_SIGMA = (1.0, 15.0)        # in 0..255 units
JPEG_QUALITY = (40, 95)
RESTORE_KINDS = ("noise", "jpeg", "mask")
RESTORE_NOISE_SIGMA = (5.0, 50.0)
RESTORE_JPEG_QUALITY = (10, 60)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def parse_kinds(spec: str | list | tuple) -> tuple[str, ...]:
    """ "blur, noise" -> ("blur", "noise"); unknown kinds raise naming the valid ones."""
    kinds = tuple(k.strip().lower() for k in (spec.split(",") if isinstance(spec, str) else spec) if str(k).strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown degradation {bad[0]!r}; valid: {', '.join(KINDS)} (a comma list)")
    return kinds or ("bicubic",)


def _uniform(gen: torch.Generator, lo: float, hi: float, n: int = 1) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


# ---- single operations -------------------------------------------------------------------------------
def resize(x: torch.Tensor, size: tuple[int, int], mode: str = "bicubic") -> torch.Tensor:
    """(b, c, h, w) -> (b, c, *size); antialiased when shrinking; values kept in [-1, 1]."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    aa = shrink and mode in ("bilinear", "bicubic")
    kw = {} if mode in ("nearest", "area") else {"align_corners": False}
    return F.interpolate(x.float(), size=size, mode=mode, antialias=aa, **kw).clamp(-1, 1)


def bicubic_down(x: torch.Tensor, scale: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    if h % scale or w % scale:
        raise ValueError(f"bicubic_down: a {h}x{w} image does not divide by scale {scale}; crop it to a multiple first")
    return resize(x, (h // scale, w // scale))


def bicubic_up(x: torch.Tensor, scale: int) -> torch.Tensor:
    """The bicubic baseline (and the SR generators' skip path): (b, c, h, w) -> (b, c, h * s, w * s)."""
    return resize(x, (x.shape[-2] * scale, x.shape[-1] * scale))


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """A Gaussian blur per image (sigma: one value, or (b,)); reflect padding; kernel 2 * ceil(3 sigma) + 1."""
    b, c, h, w = x.shape
    sigma = torch.as_tensor(sigma, dtype=torch.float32).reshape(-1).expand(b)
    r = max(1, int(np.ceil(3 * float(sigma.max()))))
    r = min(r, (min(h, w) - 1) // 2) or 1
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t[None] / sigma[:, None].clamp_min(1e-3)) ** 2)
    k = (k / k.sum(1, keepdim=True)).to(x.device)                      # (b, 2r + 1)
    pad = "reflect" if min(h, w) > r else "replicate"
    y = F.pad(x.float().reshape(1, b * c, h, w), (r, r, r, r), mode=pad)
    kx = k.repeat_interleave(c, 0)[:, None, None, :]                   # (b c, 1, 1, k)
    ky = k.repeat_interleave(c, 0)[:, None, :, None]
    y = F.conv2d(F.conv2d(y, kx, groups=b * c), ky, groups=b * c)
    return y.reshape(b, c, h, w)


def add_noise(x: torch.Tensor, sigma: torch.Tensor | float, gen: torch.Generator) -> torch.Tensor:
    """Gaussian noise of sigma (0..255 units; one value or (b,)) per image."""
    sigma = torch.as_tensor(sigma, dtype=torch.float32).reshape(-1, 1, 1, 1) * (2 / 255)
    n = torch.randn(x.shape, generator=gen)
    return (x.float() + (sigma * n).to(x.device)).clamp(-1, 1)


def jpeg(x: torch.Tensor, quality: torch.Tensor | int) -> torch.Tensor:
    """A JPEG round trip per image (PIL; quality: one value or (b,)). Pixels are rounded to bytes first."""
    q = torch.as_tensor(quality).reshape(-1).expand(x.shape[0]).tolist()
    out = []
    for img, qi in zip(x, q):
        a = ((img.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        pil = Image.fromarray(a[:, :, 0], "L") if a.shape[2] == 1 else Image.fromarray(np.ascontiguousarray(a), "RGB")
        buf = io.BytesIO()
        pil.save(buf, format="JPEG", quality=int(qi))
        with Image.open(io.BytesIO(buf.getvalue())) as back:
            b = np.array(back.convert(pil.mode), dtype=np.uint8)
        b = b[:, :, None] if b.ndim == 2 else b
        out.append(torch.from_numpy(b.transpose(2, 0, 1).copy()).float() / 127.5 - 1)
    return torch.stack(out).to(x.device)


# ---- chains -----------------------------------------------------------------------------------------
def _first_order(x: torch.Tensor, size: tuple[int, int], gen: torch.Generator, blur_hi: float) -> torch.Tensor:
    b = x.shape[0]
    x = gaussian_blur(x, _uniform(gen, BLUR_SIGMA[0], blur_hi, b))
    mode = ("bicubic", "bilinear", "area")[int(torch.randint(0, 3, (), generator=gen))]
    x = resize(x, size, mode)
    x = add_noise(x, _uniform(gen, *NOISE_SIGMA, b), gen)
    return jpeg(x, torch.randint(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, (b,), generator=gen))


def second_order(hr: torch.Tensor, scale: int, gen: torch.Generator) -> torch.Tensor:
    """Real-ESRGAN's second-order chain: (blur, random resize, noise, JPEG) twice; the second lands on h / scale."""
    h, w = hr.shape[-2:]
    f = float(_uniform(gen, 0.5, 1.0))                 # the first stage shrinks by up to 2x (at least to the LR size)
    mid = (max(h // scale, round(h * f)), max(w // scale, round(w * f)))
    x = _first_order(hr, mid, gen, BLUR_SIGMA[1])
    return _first_order(x, (h // scale, w // scale), gen, 1.0)


def degrade(hr: torch.Tensor, scale: int, kinds: str | tuple = "bicubic",
            gen: torch.Generator | None = None) -> torch.Tensor:
    """HR images (b, c, h, w) in [-1, 1], h and w multiples of scale -> LR (b, c, h / scale, w / scale).
    scale 1 keeps the size (restoration: blur, noise and JPEG only)."""
    kinds = parse_kinds(kinds)
    gen = gen if gen is not None else seeded(0)
    hr = hr.float()
    if "second-order" in kinds:
        if len(kinds) > 1:
            raise ValueError("'second-order' is a whole chain (blur, resize, noise, JPEG twice); give it alone")
        return second_order(hr, scale, gen)
    b = hr.shape[0]
    x = hr
    if "blur" in kinds:
        x = gaussian_blur(x, _uniform(gen, *BLUR_SIGMA, b))
    if scale > 1:
        x = bicubic_down(x, scale)
    if "noise" in kinds:
        x = add_noise(x, _uniform(gen, *NOISE_SIGMA, b), gen)
    if "jpeg" in kinds:
        x = jpeg(x, torch.randint(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1, (b,), generator=gen))
    return x


# ---- pairs made on the fly (super-resolution and restoration alike) ----------------------------------
def random_crops(x: torch.Tensor, patch: int, gen: torch.Generator) -> torch.Tensor:
    """One random patch x patch crop per image, each flipped left-right with probability 1/2."""
    b, _, h, w = x.shape
    if patch > h or patch > w:
        raise ValueError(f"the training images ({h}x{w}) are smaller than the training patch ({patch} px); "
                         f"set model.extra.patch or data.resolution")
    top = torch.randint(0, h - patch + 1, (b,), generator=gen).tolist()
    left = torch.randint(0, w - patch + 1, (b,), generator=gen).tolist()
    flip = (torch.rand(b, generator=gen) < 0.5).tolist()
    crops = [x[i, :, t:t + patch, l:l + patch] for i, (t, l) in enumerate(zip(top, left))]
    return torch.stack([c.flip(-1) if f else c for c, f in zip(crops, flip)]).float().contiguous()


# ---- restoration ------------------------------------------------------------------------------------
def parse_restore_kinds(spec: str | list | tuple) -> tuple[str, ...]:
    """ "noise, mask" -> ("noise", "mask"); unknown or no kinds raise naming the valid ones."""
    kinds = tuple(k.strip().lower() for k in (spec.split(",") if isinstance(spec, str) else spec) if str(k).strip())
    bad = [k for k in kinds if k not in RESTORE_KINDS]
    if bad or not kinds:
        raise ValueError(f"unknown restoration degradation {bad[0] if bad else spec!r}; valid: "
                         f"{', '.join(RESTORE_KINDS)} (a comma list, e.g. noise,jpeg,mask)")
    return tuple(k for k in RESTORE_KINDS if k in kinds)


def apply_mask(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The model's view of a hole: its pixels zeroed (mid-grey), whatever the damaged file held there."""
    return x * (1 - mask)


def damage(clean: torch.Tensor, kinds: str | tuple = "mask", gen: torch.Generator | None = None,
           mask_kinds: tuple[str, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Clean images (b, c, h, w) in [-1, 1] -> (damaged (b, c, h, w), mask (b, 1, h, w), 1 = hole; all
    zeros for an image without a hole). Deterministic for a seeded generator."""
    kinds = parse_restore_kinds(kinds)
    gen = gen if gen is not None else seeded(0)
    x = clean.float()
    b, _, h, w = x.shape
    if len(kinds) == 1:
        use = torch.ones(b, 1, dtype=torch.bool)
    else:                                              # a random non-empty subset of the kinds per image
        subset = torch.randint(1, 2 ** len(kinds), (b,), generator=gen)
        use = torch.stack([(subset >> i) & 1 for i in range(len(kinds))], 1).bool()
    on = {k: use[:, i] for i, k in enumerate(kinds)}
    if "noise" in on:
        sigma = _uniform(gen, *RESTORE_NOISE_SIGMA, b) * on["noise"]
        x = add_noise(x, sigma, gen)
    if "jpeg" in on:
        q = torch.randint(RESTORE_JPEG_QUALITY[0], RESTORE_JPEG_QUALITY[1] + 1, (b,), generator=gen)
        idx = on["jpeg"].nonzero().flatten()
        if len(idx):
            x = x.clone()
            x[idx] = jpeg(x[idx], q[idx])
    mask = torch.zeros(b, 1, h, w)
    if "mask" in on:
        mask = random_masks(b, h, w, gen, mask_kinds or MASK_KINDS) * on["mask"].float().view(b, 1, 1, 1)
    return apply_mask(x, mask), mask

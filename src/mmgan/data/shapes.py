"""shapes: procedural RGB images of one coloured shape on a plain light background, with attributes
and natural-language captions, for testing compositional generalisation.

Attributes (column `attributes`, (N, 4), in this order):
  shape     circle, square, triangle, star
  color     red, green, blue, yellow, purple, orange
  size      small, large
  position  top, bottom, left, right
`label` is the shape index (num_classes = 4), so a label-conditioned model learns shape only.

Splits: `train` never contains the held-out attribute combinations (shapes_heldout_combinations(),
~10% of the 192, including a small green triangle at the top); `heldout` contains only them; `test`
is fresh items of the training combinations; `all` draws from all 192 combinations.

`shapes-styled` (below) is the same images with captions in a tone (neutral, positive, negative; the
label is the style), for captioners that write in the tone asked for.

Every shape fits inside a circle of its size's radius (plus jitter) around its centre, and the
positions are far enough apart that top never overlaps bottom, nor left right.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..registry import register
from .base import DataInfo, MemoryDataset
from .common import check_split, rng_for

SHAPES = ["circle", "square", "triangle", "star"]
COLORS = ["red", "green", "blue", "yellow", "purple", "orange"]
SIZES = ["small", "large"]
POSITIONS = ["top", "bottom", "left", "right"]
ATTRIBUTES = {"shape": SHAPES, "color": COLORS, "size": SIZES, "position": POSITIONS}

RGB = {"red": (215, 35, 35), "green": (35, 160, 55), "blue": (35, 75, 220),
       "yellow": (250, 210, 20), "purple": (135, 45, 175), "orange": (245, 125, 15)}
RADIUS = {"small": 0.13, "large": 0.21}            # fraction of the image side
CENTRE = {"top": (0.5, 0.25), "bottom": (0.5, 0.75), "left": (0.25, 0.5), "right": (0.75, 0.5)}
POS_JITTER, SIZE_JITTER, ROT_JITTER = 0.02, 0.06, 12.0   # top edge of a large top shape stays < 0.5
DEFAULT_RES = 32
SUPERSAMPLE = 4                                     # draw at 4x and shrink: antialiased edges
DEFAULT_N = {"train": 20_000, "test": 2_000, "heldout": 2_000, "all": 20_000}
SPLITS = tuple(DEFAULT_N)

FIXED_HELDOUT = ("triangle", "green", "small", "top")
HELDOUT_COUNT = 19                                  # ~10% of 4*6*2*4 = 192

SYNONYMS = {
    "circle": ["circle", "disc", "round dot", "ball"],
    "square": ["square", "box", "block", "square tile"],
    "triangle": ["triangle", "three-sided shape", "triangular shape", "wedge"],
    "star": ["star", "five-pointed star", "star shape", "starlet"],
    "red": ["red", "crimson", "scarlet", "cherry-red"],
    "green": ["green", "emerald", "grass-green", "leafy green"],
    "blue": ["blue", "cobalt", "sapphire", "royal blue"],
    "yellow": ["yellow", "golden", "lemon", "sunny yellow"],
    "purple": ["purple", "violet", "plum", "grape-purple"],
    "orange": ["orange", "tangerine", "carrot-orange", "pumpkin-orange"],
    "small": ["small", "tiny", "little", "mini"],
    "large": ["large", "big", "huge", "giant"],
}
PLACES = {   # phrases that follow the shape ("... at the top")
    "top": ["at the top", "near the top edge", "in the upper half", "up top"],
    "bottom": ["at the bottom", "near the bottom edge", "in the lower half", "down below"],
    "left": ["on the left", "near the left edge", "in the left half", "on the left side"],
    "right": ["on the right", "near the right edge", "in the right half", "on the right side"],
}
PLACE_WORDS = {"top": ["top", "upper part"], "bottom": ["bottom", "lower part"],
               "left": ["left", "left side"], "right": ["right", "right side"]}

TEMPLATES = [
    "{a_size} {size} {color} {shape} {place}",
    "{a_color} {color} {shape}, {size}, {place}",
    "{word}: {a_size} {size} {color} {shape}",
    "{place} there is {a_size} {size} {color} {shape}",
    "{size} {shape} in {color}, {place}",
    "{a_shape} {shape} that is {size} and {color}, {place}",
    "the image shows {a_size} {size} {color} {shape} {place}",
    "{color} {shape} ({size}) {place}",
    "{a_size} {size}, {color} {shape} positioned {place}",
    "{word}: {color} {shape}, {size}",
]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def all_combinations() -> list[tuple[str, str, str, str]]:
    return [(s, c, z, p) for s in SHAPES for c in COLORS for z in SIZES for p in POSITIONS]


def shapes_heldout_combinations() -> list[tuple[str, str, str, str]]:
    """The (shape, color, size, position) combinations that `train` never shows.

    Chosen by sorting the combinations by a SHA-256 of their names (stable on every machine and
    library version), plus a small green triangle at the top; each single value still appears in
    training, so held-out items test composition, not unseen words.
    """
    rest = [c for c in all_combinations() if c != FIXED_HELDOUT]
    rest.sort(key=lambda c: hashlib.sha256(("shapes-heldout:" + "/".join(c)).encode()).hexdigest())
    return sorted([FIXED_HELDOUT] + rest[:HELDOUT_COUNT - 1],
                  key=lambda c: tuple(ATTRIBUTES[k].index(v) for k, v in zip(ATTRIBUTES, c)))


def _combination_indices(split: str) -> np.ndarray:
    """(K, 4) attribute indices allowed in a split."""
    held = set(shapes_heldout_combinations())
    combos = all_combinations()
    if split == "heldout":
        combos = [c for c in combos if c in held]
    elif split in ("train", "test"):
        combos = [c for c in combos if c not in held]
    return np.array([[ATTRIBUTES[k].index(v) for k, v in zip(ATTRIBUTES, c)] for c in combos])


def caption(attrs: tuple[str, str, str, str], rng: np.random.Generator) -> str:
    shape, color, size, pos = attrs
    s, c, z = (SYNONYMS[v][rng.integers(len(SYNONYMS[v]))] for v in (shape, color, size))
    place = PLACES[pos][rng.integers(len(PLACES[pos]))]
    word = PLACE_WORDS[pos][rng.integers(len(PLACE_WORDS[pos]))]
    t = TEMPLATES[rng.integers(len(TEMPLATES))]
    return t.format(shape=s, color=c, size=z, place=place, word=word,
                    a_size=_article(z), a_color=_article(c), a_shape=_article(s))


def _outline(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in points]


def shape_points(shape: str, cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]]:
    """Polygon vertices of a shape inscribed in the circle (cx, cy, r), rotated by rot degrees."""
    a0 = math.radians(rot)
    if shape == "square":
        angles, radii = [a0 + math.pi / 4 + i * math.pi / 2 for i in range(4)], [r] * 4
    elif shape == "triangle":
        angles, radii = [a0 - math.pi / 2 + i * 2 * math.pi / 3 for i in range(3)], [r] * 3
    elif shape == "star":
        angles = [a0 - math.pi / 2 + i * math.pi / 5 for i in range(10)]
        radii = [r if i % 2 == 0 else 0.45 * r for i in range(10)]
    else:
        raise ValueError(f"not a polygon shape: {shape!r}")
    return _outline([(cx + q * math.cos(a), cy + q * math.sin(a)) for a, q in zip(angles, radii)])


def render(attrs: tuple[str, str, str, str], resolution: int, rng: np.random.Generator) -> np.ndarray:
    """One (H, W, 3) uint8 image drawn at SUPERSAMPLE x the size and shrunk with a box filter."""
    shape, color, size, pos = attrs
    big = resolution * SUPERSAMPLE
    bg = int(rng.integers(226, 246))
    img = Image.new("RGB", (big, big), (bg, bg, bg))
    draw = ImageDraw.Draw(img)
    cx, cy = CENTRE[pos]
    cx, cy = (cx + rng.uniform(-POS_JITTER, POS_JITTER)) * big, (cy + rng.uniform(-POS_JITTER, POS_JITTER)) * big
    r = RADIUS[size] * (1 + rng.uniform(-SIZE_JITTER, SIZE_JITTER)) * big
    rot = rng.uniform(-ROT_JITTER, ROT_JITTER)
    fill = RGB[color]
    edge = tuple(int(v * 0.6) for v in fill)          # a darker rim keeps yellow visible on a light ground
    width = max(1, round(r / 10))
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill, outline=edge, width=width)
    else:
        draw.polygon(shape_points(shape, cx, cy, r, rot), fill=fill, outline=edge, width=width)
    return np.asarray(img.resize((resolution, resolution), Image.BOX))


def images_of(attrs: tuple[str, str, str, str], n: int, resolution: int = 0, seed: int = 0) -> torch.Tensor:
    """(n, 3, H, W) real images in [-1, 1] of one attribute combination, with the dataset's jitter in
    rotation, position, size and background: what "the same caption" looks like in the data."""
    rng = rng_for(seed, "shapes", "images_of", *attrs)
    return _to_tensor(np.stack([render(tuple(attrs), resolution or DEFAULT_RES, rng) for _ in range(n)]))


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """(n, H, W, 3) uint8 -> (n, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1).contiguous()


@register("dataset", "shapes")
def shapes(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """Coloured shapes with attributes and captions (see the module docstring); 32x32 unless resolution is set."""
    check_split("shapes", split, SPLITS)
    n = n or DEFAULT_N[split]
    res = resolution or DEFAULT_RES
    rng = rng_for(seed, "shapes", split)
    combos = _combination_indices(split)
    attrs = combos[rng.integers(0, len(combos), size=n)]
    names = [tuple(ATTRIBUTES[k][i] for k, i in zip(ATTRIBUTES, row)) for row in attrs.tolist()]
    images = np.stack([render(a, res, rng) for a in names])
    cap_rng = rng_for(seed, "shapes", split, "captions")
    text = [caption(a, cap_rng) for a in names]
    x = _to_tensor(images)
    info = DataInfo(name="shapes", kind="image", shape=tuple(x.shape[1:]), num_classes=len(SHAPES),
                    class_names=list(SHAPES), attributes={k: list(v) for k, v in ATTRIBUTES.items()},
                    extra={"split": split, "seed": seed, "label": "shape index",
                           "heldout_combinations": [list(c) for c in shapes_heldout_combinations()]})
    return MemoryDataset(info, {"image": x, "label": torch.from_numpy(attrs[:, 0].astype(np.int64)),
                                "attributes": torch.from_numpy(attrs.astype(np.int64)), "text": text})


# ---- shapes-styled: the same images, captions in a tone ---------------------------------------------
STYLES = ["neutral", "positive", "negative"]
STYLE_WORDS = {
    "positive": ["lovely", "beautiful", "charming", "delightful", "wonderful", "cheerful"],
    "negative": ["ugly", "awful", "miserable", "horrible", "dismal", "nasty"],
}
STYLE_TEMPLATES = {
    "positive": ["{a_adj} {adj} {size} {color} {shape} {place}",
                 "what {a_adj} {adj} {size} {color} {shape} {place}!",
                 "{a_adj} {adj}, {size} {color} {shape} {place}, so nice",
                 "{place} sits {a_adj} {adj} {size} {color} {shape}"],
    "negative": ["{a_adj} {adj} {size} {color} {shape} {place}",
                 "such {a_adj} {adj} {size} {color} {shape} {place}",
                 "{a_adj} {adj}, {size} {color} {shape} {place}, how sad",
                 "{place} sits {a_adj} {adj} {size} {color} {shape}"],
}


def styled_caption(attrs: tuple[str, str, str, str], style: str, rng: np.random.Generator) -> str:
    """A caption in a tone: the neutral templates, or clearly positive / negative wording."""
    if style == "neutral":
        return caption(attrs, rng)
    shape, color, size, pos = attrs
    s, c, z = (SYNONYMS[v][rng.integers(len(SYNONYMS[v]))] for v in (shape, color, size))
    place = PLACES[pos][rng.integers(len(PLACES[pos]))]
    adj = STYLE_WORDS[style][rng.integers(len(STYLE_WORDS[style]))]
    t = STYLE_TEMPLATES[style][rng.integers(len(STYLE_TEMPLATES[style]))]
    return t.format(shape=s, color=c, size=z, place=place, adj=adj, a_adj=_article(adj))


@register("dataset", "shapes-styled")
def shapes_styled(split: str = "train", n: int = 0, seed: int = 0, resolution: int = 0) -> MemoryDataset:
    """shapes' images and attributes (the same items for the same arguments) with captions in a tone:
    `label` is the caption's style (STYLES: neutral, positive, negative, drawn uniformly), so a
    captioner conditioned on it writes in the tone asked for (`mmgan caption RUN --style positive`)."""
    ds = shapes(split=split, n=n, seed=seed, resolution=resolution)
    attrs = ds.columns["attributes"].tolist()
    rng = rng_for(seed, "shapes-styled", split, "styles")
    styles = rng.integers(0, len(STYLES), size=len(attrs))
    names = [tuple(ATTRIBUTES[k][i] for k, i in zip(ATTRIBUTES, row)) for row in attrs]
    text = [styled_caption(a, STYLES[s], rng) for a, s in zip(names, styles)]
    info = DataInfo(name="shapes-styled", kind="image", shape=ds.info.shape, num_classes=len(STYLES),
                    class_names=list(STYLES), attributes=dict(ds.info.attributes),
                    extra={**ds.info.extra, "label": "style"})
    return MemoryDataset(info, {"image": ds.columns["image"], "label": torch.from_numpy(styles.astype(np.int64)),
                                "attributes": ds.columns["attributes"], "text": text})

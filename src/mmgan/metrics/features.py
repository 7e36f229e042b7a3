"""Feature networks: what FID, KID, precision/recall, IS, conditional accuracy and the mode counts see.

Inception weights cannot be downloaded here, so every dataset gets its own feature network, trained
in-project on the real training split and cached (keyed by a hash of the data, the architecture and
the training recipe), with its test accuracy recorded next to the weights:

  image data with labels      a small ConvNet classifier; heads for the label and every attribute
  image data without labels   the same ConvNet trained to predict rotations (0/90/180/270 degrees)
  stacked-mnist               an MNIST digit classifier applied to each of the R, G, B channels
  vector data (ring8, grid25) the vectors themselves; labels = nearest mixture mode

Features are the 128-D penultimate layer (after ReLU, like Inception's pool3); images are resized
(bilinear, antialiased) to the network's resolution first. Numbers from different feature networks
are not comparable: every result names the network (`id`) it used.

A user can bring their own (`load_feature_network(path)`):
  - a folder or .safetensors file written by `FeatureNetwork.save` (config.json + model.safetensors);
  - a TorchScript file (.pt / .pth / .torchscript) mapping images to (b, d) features, with an optional
    sidecar PATH.json: {"input": "uint8" | "unit" | "signed", "resolution": 299, "channels": 3,
    "kwargs": {"return_features": true}} (StyleGAN's inception-2015-12-05.pt works this way);
  - an Inception-v3 state dict in torchvision's key format (.safetensors or a .pth state dict, read
    with weights_only=True) — see mmgan.metrics.inception; no torchvision needed.

Cache: $MMGAN_CACHE/features/ (default ~/.cache/mmgan/features/).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..modalities import target_of
from ..models.base import ConfigModule, load_weights, save_weights
from ..registry import get, names, register
from ..utils import torch_threads
from .network import FeatureNetwork, _file_hash
from ..data import load_dataset
from .inception import InceptionFeatures, looks_like_inception

FEATURES_VERSION = 2                 # bump when the architecture or training code changes what a cached net means
                                     # (2: trained on one CPU thread, so the net no longer depends on the core count)
TRAIN_THREADS = 1                    # feature nets and CAS classifiers train on this many threads, whatever the machine
BASE_DIGITS = "mnist"                # stacked-mnist channels are labelled by a classifier trained on this


def cache_root() -> Path:
    root = os.environ.get("MMGAN_CACHE")
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "mmgan") / "features"


@dataclass
class Recipe:
    """How a feature network is trained. Part of the cache key."""
    steps: int = 1200
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    shift: float = 0.08              # random translation, as a fraction of the image side
    rotate: float = 10.0             # random rotation, degrees
    scale: float = 0.1               # random zoom in [1 - scale, 1 + scale]
    pool: int = 2                    # the last feature map is average-pooled to pool x pool
    seed: int = 0
    width: int = 16                  # channels of the first stage (doubling per stage, capped at 4x)
    feat_dim: int = 128
    bf16: bool = True                # bf16 autocast for training where the CPU/GPU supports it (about 3x faster)


DEFAULT_RECIPE = Recipe()


def default_recipe() -> Recipe:
    return DEFAULT_RECIPE


# ---- the in-project architecture --------------------------------------------------------------
class ConvNet(ConfigModule):
    """Resolution-agnostic classifier: stages of two 3x3 conv+BN+ReLU and a 2x2 max-pool until the map
    is at most 7 pixels, average pooling to 2x2 (not global: where things are matters, e.g. the shapes'
    position), a 128-D feature layer, one linear head per target."""

    def __init__(self, in_channels: int, resolution: int, heads: dict, width: int = 16, feat_dim: int = 128,
                 pool: int = 2):
        super().__init__(in_channels=in_channels, resolution=resolution, heads=dict(heads), width=width,
                         feat_dim=feat_dim, pool=pool)
        layers: list[nn.Module] = []
        c_in, size, i = in_channels, resolution, 0
        while True:
            c = width * min(2 ** i, 4)
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in, i = c, i + 1
            if size <= 7 or i > 6:
                break
            layers.append(nn.MaxPool2d(2))
            size //= 2
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool)
        self.fc = nn.Linear(c_in * pool * pool, feat_dim)
        self.drop = nn.Dropout(0.2)
        self.heads = nn.ModuleDict({k: nn.Linear(feat_dim, int(v)) for k, v in heads.items()})

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.body(x)).flatten(1)             # (b, c * pool^2)
        return torch.relu(self.fc(h))                      # (b, feat_dim)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.drop(self.embed(x))
        return {k: head(f) for k, head in self.heads.items()}


def resize_to(x: torch.Tensor, resolution: int, channels: int | None = None) -> torch.Tensor:
    """(b, c, h, w) in [-1, 1] to the network's size (bilinear, antialiased) and channel count."""
    x = x.float()
    if resolution and x.shape[-1] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True,
                          align_corners=False).clamp_(-1, 1)
    if channels and x.shape[1] != channels:
        if x.shape[1] == 1 and channels == 3:
            x = x.repeat(1, 3, 1, 1)
        elif x.shape[1] == 3 and channels == 1:
            x = (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        else:
            raise ValueError(f"feature network takes {channels}-channel images, got {x.shape[1]} channels")
    return x


class ConvFeatures(FeatureNetwork):
    def __init__(self, net: ConvNet, info: dict, label_head: str | None = "label"):
        super().__init__()
        self.net = net.eval().to(memory_format=torch.channels_last)
        self.info = info
        self.id = info.get("id", "convnet")
        self.num_features = int(net.config["feat_dim"])
        self.label_head = label_head if label_head in net.heads else None
        self.num_classes = int(net.config["heads"][self.label_head]) if self.label_head else 0
        self.resolution, self.channels = int(net.config["resolution"]), int(net.config["in_channels"])

    def prepare(self, x):
        return resize_to(x, self.resolution, self.channels).contiguous(memory_format=torch.channels_last)

    def features(self, x):
        return self.net.embed(self.prepare(x))

    def outputs(self, x):
        f = self.net.embed(self.prepare(x))
        if not self.label_head:
            return f, None
        return f, self.net.heads[self.label_head](f).float().softmax(-1)

    def class_logits(self, x):
        if not self.label_head:
            return None
        return self.net.heads[self.label_head](self.net.embed(self.prepare(x)))

    def head_predictions(self, x) -> dict[str, torch.Tensor]:
        return {k: v.argmax(-1) for k, v in self.net(self.prepare(x)).items()}

    def save(self, out: str | Path) -> Path:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        save_weights(self.net, out / "model.safetensors")
        (out / "config.json").write_text(json.dumps({"format": "mmgan-features", "arch": "convnet",
                                                     "config": self.net.config, **self.info}, indent=2))
        return out


class PerChannelFeatures(FeatureNetwork):
    """Stacked MNIST: a 1-channel digit classifier on each of R, G, B. Features are the three
    feature vectors concatenated (3 x 128-D); the label is 100 r + 10 g + b (1,000 classes)."""

    def __init__(self, base: ConvFeatures):
        super().__init__()
        self.base = base
        self.info = dict(base.info) | {"per_channel": True}
        self.id = f"per-channel:{base.id}"
        self.num_features = 3 * base.num_features
        self.num_classes = base.num_classes ** 3

    def _split(self, x):
        b, c = x.shape[:2]
        if c != 3:
            raise ValueError(f"the per-channel (stacked) feature network takes 3-channel images, got {c}")
        return x.reshape(b * 3, 1, *x.shape[2:])

    def features(self, x):
        return self.base.features(self._split(x)).reshape(x.shape[0], -1)

    def channel_probs(self, x) -> torch.Tensor:                       # (b, 3, 10)
        return self.base.class_probs(self._split(x)).reshape(x.shape[0], 3, -1)

    @staticmethod
    def _joint(p: torch.Tensor) -> torch.Tensor:                    # (b, 3, k) -> (b, k^3), index 100 r + 10 g + b
        joint = p[:, 0, :, None, None] * p[:, 1, None, :, None] * p[:, 2, None, None, :]
        return joint.reshape(p.shape[0], -1)

    def class_probs(self, x):
        return self._joint(self.channel_probs(x))

    def outputs(self, x):
        f, p = self.base.outputs(self._split(x))
        return f.reshape(x.shape[0], -1), self._joint(p.reshape(x.shape[0], 3, -1))

    def predict_channels(self, x) -> torch.Tensor:                    # (b, 3) digits
        return self.base.predict(self._split(x)).reshape(x.shape[0], 3)

    def predict(self, x):
        d = self.predict_channels(x)
        k = self.base.num_classes
        return d[:, 0] * k * k + d[:, 1] * k + d[:, 2]

    def class_logits(self, x):
        return self.class_probs(x).clamp_min(1e-12).log()


class VectorFeatures(FeatureNetwork):
    """Vector data: the features are the vectors; with mixture means, the label is the nearest mode."""

    def __init__(self, dim: int, means: Any = None, sigma: float = 0.0, name: str = "vectors"):
        super().__init__()
        self.num_features = int(dim)
        self.means = None if means is None else torch.as_tensor(np.asarray(means), dtype=torch.float32)
        self.num_classes = 0 if self.means is None else len(self.means)
        self.id = f"identity-{dim}d"
        self.info = {"id": self.id, "data": {"name": name}, "sigma": sigma}

    def features(self, x):
        return x.float().reshape(len(x), -1)

    def class_logits(self, x):
        if self.means is None:
            return None
        return -torch.cdist(x.float(), self.means)               # nearest mode wins

    def describe(self):
        return f"{self.id} (the data's own coordinates)"


class ScriptedFeatures(FeatureNetwork):
    """A user's TorchScript feature network. Inputs are converted from [-1, 1] to its range."""

    def __init__(self, module: torch.jit.ScriptModule, path: Path, input: str = "signed", resolution: int = 0,
                 channels: int = 3, kwargs: dict | None = None, num_features: int = 0):
        super().__init__()
        if input not in ("signed", "unit", "uint8"):
            raise ValueError(f"{path}: 'input' must be signed ([-1, 1]), unit ([0, 1]) or uint8 ([0, 255]); got {input!r}")
        self.module, self.input, self.resolution, self.channels = module.eval(), input, resolution, channels
        self.kwargs = kwargs or {}
        self.id = f"torchscript:{path.name}:{_file_hash(path)}"
        self.info = {"id": self.id, "path": str(path), "input": input, "resolution": resolution}
        self.num_features = num_features or int(self.features(torch.zeros(2, channels, max(resolution, 32),
                                                                          max(resolution, 32))).shape[-1])

    def features(self, x):
        x = resize_to(x, self.resolution, self.channels)
        if self.input == "unit":
            x = (x + 1) / 2
        elif self.input == "uint8":
            x = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        out = self.module(x, **self.kwargs)
        if isinstance(out, (tuple, list)):
            out = out[0]
        return out.float().reshape(len(x), -1)


# ---- training ----------------------------------------------------------------------------------------
def _augment(x: torch.Tensor, recipe: Recipe, gen: torch.Generator) -> torch.Tensor:
    """Random translation, rotation and zoom of each image (border pixels repeat)."""
    if recipe.shift <= 0 and recipe.rotate <= 0 and recipe.scale <= 0:
        return x
    b = x.shape[0]
    u = torch.rand(b, 4, generator=gen) * 2 - 1
    ang = u[:, 0] * recipe.rotate * torch.pi / 180
    zoom = 1 + u[:, 1] * recipe.scale
    cos, sin = torch.cos(ang) / zoom, torch.sin(ang) / zoom
    theta = torch.stack([torch.stack([cos, -sin, u[:, 2] * recipe.shift * 2], 1),
                         torch.stack([sin, cos, u[:, 3] * recipe.shift * 2], 1)], 1)     # (b, 2, 3); side = 2
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def train_convnet(images: torch.Tensor, targets: dict[str, torch.Tensor], heads: dict[str, int], recipe: Recipe,
                  resolution: int = 0, progress: bool = False, desc: str = "feature net") -> ConvNet:
    """Train a ConvNet on images (N, C, H, W) in [-1, 1]; targets maps head -> (N,) labels.
    A head named "rotation" is self-supervised (targets ignored): it predicts a random k*90 degrees.
    Training runs on TRAIN_THREADS CPU threads: the same recipe and data give the same weights on a
    laptop and on a 64-core server (with 2 threads the mnist classifier came out 0.983 instead of 0.990)."""
    with torch_threads(TRAIN_THREADS):
        return _train_convnet(images, targets, heads, recipe, resolution, progress, desc)


def _train_convnet(images, targets, heads, recipe, resolution, progress, desc) -> ConvNet:
    resolution = resolution or int(images.shape[-1])
    images = resize_to(images, resolution)
    gen = torch.Generator().manual_seed(recipe.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed)
        net = ConvNet(images.shape[1], resolution, heads, recipe.width, recipe.feat_dim, recipe.pool)
    opt = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=max(1, recipe.steps),
                                                pct_start=0.15)
    bar = _bar(progress, recipe.steps, desc, "step")
    net.train().to(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=recipe.bf16 and bf16_supported())
    n = len(images)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(recipe.seed + 1)                            # dropout draws
        for _ in range(recipe.steps):
            idx = torch.randint(0, n, (min(recipe.batch_size, n),), generator=gen)
            x = _augment(images[idx], recipe, gen)
            tg = {k: v[idx] for k, v in targets.items() if k != "rotation"}
            if "rotation" in heads:
                k = torch.randint(0, 4, (len(x),), generator=gen)
                x = torch.stack([torch.rot90(xi, int(ki), dims=(1, 2)) for xi, ki in zip(x, k)])
                tg["rotation"] = k
            with autocast:
                out = net(x.contiguous(memory_format=torch.channels_last))
                loss = sum(F.cross_entropy(out[h].float(), tg[h]) for h in heads)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
    bar.close()
    return net.eval().to(memory_format=torch.contiguous_format)


def bf16_supported() -> bool:
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


@torch.no_grad()
def accuracy(net: ConvNet, images: torch.Tensor, targets: dict[str, torch.Tensor], batch_size: int = 500) -> dict[str, float]:
    """Accuracy per head on held-out images (rotation: over the four rotations of each image)."""
    net.eval()
    res = int(net.config["resolution"])
    correct = {h: 0 for h in net.heads}
    total = {h: 0 for h in net.heads}
    for s in range(0, len(images), batch_size):
        x = resize_to(images[s:s + batch_size], res)
        for h, logits in net(x).items():
            if h == "rotation":
                continue
            correct[h] += int((logits.argmax(-1) == targets[h][s:s + batch_size]).sum())
            total[h] += len(x)
        if "rotation" in net.heads:
            for k in range(4):
                pred = net.heads["rotation"](net.embed(torch.rot90(x, k, dims=(2, 3)))).argmax(-1)
                correct["rotation"] += int((pred == k).sum())
                total["rotation"] += len(x)
    return {h: correct[h] / max(1, total[h]) for h in net.heads}


def heads_for(ds) -> tuple[dict[str, int], dict[str, torch.Tensor]]:
    """Heads (name -> classes) and their targets for a dataset: label, each attribute, else rotation."""
    info, cols = ds.info, ds.columns
    heads, targets = {}, {}
    if "label" in cols and info.num_classes >= 2:
        heads["label"] = int(info.num_classes)
        targets["label"] = cols["label"].long()
    if "attributes" in cols and info.attributes:
        for j, (name, values) in enumerate(info.attributes.items()):
            heads[f"attr_{name}"] = len(values)
            targets[f"attr_{name}"] = cols["attributes"][:, j].long()
    if not heads:
        heads["rotation"] = 4
    return heads, targets


def _holdout(n: int, frac: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12345)
    perm = rng.permutation(n)
    k = max(1, int(round(n * frac)))
    return np.sort(perm[k:]), np.sort(perm[:k])


def feature_network_for(train_ds, test_ds=None, recipe: Recipe | None = None, log: Callable = print,
                        progress: bool = False, cache: bool = True) -> FeatureNetwork:
    """The in-project feature network for a dataset's target, from the cache or trained now (and cached):
    the builder registered under kind "features" by the target's name (image, vector, ...). test_ds:
    the held-out split, None, or a function returning either (called only by builders that use it)."""
    target = target_of(train_ds)
    if target not in names("features"):
        raise ValueError(f"no feature network for {target} data (feature networks exist for "
                         f"{', '.join(names('features'))}); pass one with --features PATH")
    return get("features", target)(train_ds, test_ds, recipe, log, progress, cache)


@register("features", "vector")
def vector_features(train_ds, test_ds=None, recipe: Recipe | None = None, log: Callable = print,
                    progress: bool = False, cache: bool = True) -> FeatureNetwork:
    """Vectors are their own features; mixture means label them by the nearest mode."""
    info = train_ds.info
    return VectorFeatures(info.shape[0], info.extra.get("means"), float(info.extra.get("sigma", 0.0)), info.name)


@register("features", "image")
def image_features(train_ds, test_ds=None, recipe: Recipe | None = None, log: Callable = print,
                   progress: bool = False, cache: bool = True) -> FeatureNetwork:
    """A small convnet trained on the dataset's labels and attributes (rotation when it has neither);
    stacked-mnist: the MNIST classifier on each channel (the published protocol)."""
    info = train_ds.info
    if info.name == "stacked-mnist":

        # the published protocol: a digit classifier, trained on the real MNIST training split, labels each channel
        base_train = load_dataset(BASE_DIGITS, split="train")
        base_test = load_dataset(BASE_DIGITS, split="test")
        return PerChannelFeatures(feature_network_for(base_train, base_test, recipe, log, progress, cache))
    recipe = recipe or default_recipe()
    heads, targets = heads_for(train_ds)
    images = train_ds.columns["image"]
    c, h = int(images.shape[1]), int(images.shape[-1])
    arch = {"arch": "convnet", "in_channels": c, "resolution": h, "heads": heads}
    test_ds = test_ds() if callable(test_ds) else test_ds
    test_version = test_ds.info.version if test_ds is not None else "holdout-15%"
    key = hashlib.sha256(json.dumps({"v": FEATURES_VERSION, "data": info.version, "test": test_version,
                                     "arch": arch, "recipe": asdict(recipe)}, sort_keys=True).encode()).hexdigest()[:16]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in (info.name or "data"))[:40]
    folder = cache_root() / f"{safe}-{key}"
    if cache and (folder / "config.json").exists() and (folder / "model.safetensors").exists():
        return load_feature_network(folder)
    if test_ds is not None and "image" in test_ds.columns:
        tr_img, tr_tg = images, targets
        te_heads, te_tg = heads_for(test_ds)
        te_img = test_ds.columns["image"]
        if te_heads.keys() != heads.keys():
            raise ValueError(f"test split of {info.name!r} has targets {sorted(te_heads)} but train has {sorted(heads)}")
        test_source = f"{info.name} test split ({len(te_img)} items)"
    else:
        tr_idx, te_idx = _holdout(len(images))
        tr_img, te_img = images[tr_idx], images[te_idx]
        tr_tg = {k: v[tr_idx] for k, v in targets.items()}
        te_tg = {k: v[te_idx] for k, v in targets.items()}
        test_source = f"15% of {info.name}'s training data held out from the feature network ({len(te_idx)} items)"
    log(f"training the {info.name} feature network (heads {heads}, {len(tr_img)} images, {recipe.steps} steps); "
        f"cached in {folder}")
    t0 = time.time()
    net = train_convnet(tr_img, tr_tg, heads, recipe, progress=progress, desc=f"feature net ({info.name})")
    secs = time.time() - t0
    acc = accuracy(net, te_img, te_tg)
    headline = acc.get("label", acc.get("rotation", next(iter(acc.values()))))
    meta = {"id": f"mmgan-convnet-{safe}-{key}", "key": key, "version": FEATURES_VERSION, "recipe": asdict(recipe),
            "data": {"name": info.name, "version": info.version, "n_train": len(tr_img), "test": test_source},
            "train_threads": TRAIN_THREADS, "bf16": bool(recipe.bf16 and bf16_supported()),
            "test_accuracy": float(headline), "head_accuracy": acc, "train_seconds": round(secs, 1),
            "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    feats = ConvFeatures(net, meta)
    log(f"feature network {meta['id']}: test accuracy {headline:.4f} ({acc}) after {secs:.0f}s")
    if cache:
        tmp = folder.parent / f".tmp-{folder.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        feats.save(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
    return feats


# ---- loading users' networks ------------------------------------------------------------------------
def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    try:                       # weights only: never unpickle code
        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a TorchScript module nor a state dict readable with weights_only=True ({e})") from e
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(torch.is_tensor(v) for v in sd.values()):
        raise ValueError(f"{path}: expected a state dict (name -> tensor)")
    return sd


def load_feature_network(path: str | Path) -> FeatureNetwork:
    """A feature network from a folder (config.json + model.safetensors), a TorchScript file, or an
    Inception-v3 state dict in torchvision's format."""
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"feature network not found: {path}")
    if path.is_dir():
        cfg_path, weights = path / "config.json", path / "model.safetensors"
    else:
        cfg_path, weights = path.with_suffix(".json"), path
    sidecar = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
    if path.is_dir() and not sidecar:
        raise FileNotFoundError(f"{path} holds no config.json; a feature-network folder holds config.json + model.safetensors")
    if sidecar.get("format") == "mmgan-features":
        arch = sidecar.get("arch", "convnet")
        if arch != "convnet":
            raise ValueError(f"{cfg_path}: unknown feature architecture {arch!r} (valid: convnet)")
        net = ConvNet(**sidecar["config"])
        load_weights(net, weights)
        info = {k: v for k, v in sidecar.items() if k not in ("format", "arch", "config")}
        info.setdefault("id", f"convnet:{path.name}")
        feats = ConvFeatures(net, info)
        return PerChannelFeatures(feats) if sidecar.get("per_channel") else feats
    if path.suffix != ".safetensors":
        try:
            with warnings.catch_warnings():              # jit.load is deprecated in favour of torch.export
                warnings.simplefilter("ignore")
                module = torch.jit.load(str(path), map_location="cpu")
        except Exception:
            module = None
        if module is not None:
            return ScriptedFeatures(module, path, sidecar.get("input", "signed"), int(sidecar.get("resolution", 0)),
                                    int(sidecar.get("channels", 3)), sidecar.get("kwargs"),
                                    int(sidecar.get("num_features", 0)))
    sd = _read_state_dict(path)

    if looks_like_inception(sd):
        return InceptionFeatures.from_state_dict(sd, path)
    raise ValueError(f"{path}: a state dict, but not one mmgan can build a network for: give a folder written by "
                     f"FeatureNetwork.save (config.json + model.safetensors), a TorchScript file, or an Inception-v3 "
                     f"state dict in torchvision's key format")


def _bar(enabled: bool, total: int, desc: str, unit: str):
    if not enabled:
        return _NullBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False)


class _NullBar:
    def update(self, n=1): ...
    def close(self): ...
    def set_postfix(self, *a, **k): ...


__all__ = ["FeatureNetwork", "ConvNet", "ConvFeatures", "PerChannelFeatures", "VectorFeatures", "ScriptedFeatures",
           "Recipe", "feature_network_for", "load_feature_network", "train_convnet", "accuracy", "cache_root",
           "resize_to"]


"""EvalContext: what the metrics of one evaluation share — the pipeline, the reference data, the
feature network, and caches so that fid10k, kid10k, pr10k and dc10k generate and embed the same
10,000 samples once.

Protocol choices made here (every result restates the ones it used):
  - generated samples: z ~ N(0, I) from a seeded torch.Generator (seed 0 unless told); conditions
    are drawn from the training split like the data ("data": labels / captions of random training
    items) or, for per-condition metrics, balanced over classes ("balanced": label i % K);
  - reference: the training split the run was trained on (its saved data config), all of it when
    it holds no more than the metric's count, else a seeded random subset of that count;
  - held-out real data: the dataset's test split where it has one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .features import FeatureNetwork, Recipe, _bar, feature_network_for, load_feature_network
from ..data import load_dataset
from ..modalities import Codec, get_codec, target_of_config

COND_KEYS = {"label": "labels", "text": "text", "audio": "audio", "image": "image"}   # modality -> pipeline kwarg


@dataclass
class SampleSet:
    x: torch.Tensor                              # (n, c, h, w) images in [-1, 1] or (n, d) vectors in data units
    labels: np.ndarray | None = None             # the label each sample was generated for / belongs to
    rows: np.ndarray | None = None               # training rows whose conditions were used
    text: list | None = None
    features: np.ndarray | None = None           # (n, F)
    probs: np.ndarray | None = None              # (n, K) classifier probabilities
    predicted: np.ndarray | None = None          # (n,) classifier labels

    def __len__(self) -> int:
        return len(self.x)


class EvalContext:
    def __init__(self, pipe, data: dict | None = None, train_ds=None, test_ds=None,
                 features: FeatureNetwork | str | Path | None = None, run_dir: str | Path | None = None,
                 seed: int = 0, batch_size: int = 256, progress: bool = True, log: Callable[[str], None] = print,
                 recipe: Recipe | None = None, drs: bool = False):
        self.pipe = pipe
        self.drs = bool(drs)                      # draw samples by the run's rejection sampler (mmgan.sampling.drs)
        if self.drs and getattr(pipe, "critic", None) is None:
            raise ValueError("--drs needs a run with a rejection-sampling critic: run `mmgan calibrate RUN` first")
        self.data = dict(data or {})             # DataConfig as a dict: name, split, resolution, n, seed
        self._train, self._test = train_ds, test_ds
        self._test_tried = test_ds is not None
        self._features = features
        self.run_dir = Path(run_dir) if run_dir else None
        self.seed, self.batch_size, self.progress, self.log = int(seed), int(batch_size), progress, log
        self.recipe = recipe
        self._fake: dict[tuple, SampleSet] = {}
        self._real: dict[tuple, SampleSet] = {}
        self._keys: tuple[np.ndarray | None, str] | None = None
        self.embedder: Any = None                # set by rprec (or a caller) when a joint space is at hand

    # ---- what the model is ----------------------------------------------------------------------
    @property
    def info(self) -> dict:
        return self.pipe.config.get("data", {})

    @property
    def target(self) -> str:
        """The column the model generates (its codec's name)."""
        return target_of_config(self.pipe.config)

    @property
    def codec(self) -> Codec:
        return get_codec(self.target)

    @property
    def modalities(self) -> list[str]:
        return list(self.pipe.modalities)

    @property
    def label_conditioned(self) -> bool:
        return "label" in self.modalities

    @property
    def num_classes(self) -> int:
        return int(self.info.get("num_classes", 0) or self.train.info.num_classes)

    @property
    def name(self) -> str:
        return self.info.get("name") or self.data.get("name") or "data"

    # ---- data ------------------------------------------------------------------------------------
    def _load(self, split: str):

        spec = self.data.get("name") or self.info.get("root") or self.info.get("name")
        if not spec:
            raise ValueError("no reference data: the run's config names no dataset; pass data=NAME|PATH "
                             "(mmgan eval --data ...)")
        n = int(self.data.get("n", 0)) if split == self.data.get("split", "train") else 0
        return load_dataset(spec, split=split, resolution=int(self.data.get("resolution", 0)), n=n,
                            seed=int(self.data.get("seed", 0)), target=self.target)

    @property
    def train(self):
        if self._train is None:
            self._train = self._load(self.data.get("split", "train"))
            want = self.info.get("version")
            if want and self._train.info.version and want != self._train.info.version:
                self.log(f"warning: the reference data ({self._train.info.name}, version {self._train.info.version}) "
                         f"differs from the data the model was trained on (version {want})")
        return self._train

    @property
    def test(self):
        """The held-out split, or None when the data has none."""
        if not self._test_tried:
            self._test_tried = True
            try:
                self._test = self._load("test")
            except (ValueError, FileNotFoundError) as e:   # DataError is a ValueError
                self.log(f"no test split for {self.name} ({str(e).splitlines()[0][:160]})")
                self._test = None
        return self._test

    def split(self, split: str):
        if split == "train":
            return self.train
        if split == "test":
            if self.test is None:
                raise ValueError(f"dataset {self.name!r} has no test split")
            return self.test
        raise ValueError(f"unknown split {split!r}")

    def describe_split(self, split: str, used: int) -> str:
        ds = self.split(split)
        return f"{ds.info.name} {split} split ({used} of {len(ds)} items)"

    # ---- the feature network -------------------------------------------------------------------------
    @property
    def feature_net(self) -> FeatureNetwork:
        if not isinstance(self._features, FeatureNetwork):
            if self._features:
                self._features = load_feature_network(self._features)
            else:
                # the held-out split, loaded only if the target's feature network trains on it
                self._features = feature_network_for(self.train, lambda: self.test, self.recipe, log=self.log,
                                                     progress=self.progress)
        return self._features

    # ---- samples -------------------------------------------------------------------------------------
    def bar(self, total: int, desc: str, unit: str = "img"):
        return _bar(self.progress, total, desc, unit)

    def _conditions(self, n: int, mode: str, rng: np.random.Generator) -> tuple[dict, np.ndarray | None, np.ndarray | None]:
        mods = self.modalities
        if not mods:
            return {}, None, None
        train = self.train
        if mode == "balanced" and mods == ["label"]:
            labels = np.arange(n) % self.num_classes
            return {"labels": labels}, labels, None
        if mode.startswith("grouped"):                      # n / m conditions, each repeated m times
            m = int(mode[len("grouped"):])
            rows = np.repeat(self._group_rows(n // m, rng), m)
        else:
            rows = rng.integers(0, len(train), size=n)
        cond: dict[str, Any] = {}
        for m in mods:
            col = {"label": "label"}.get(m, m)
            if col not in train.columns:
                raise ValueError(f"the model is conditioned on {m!r} but the reference data has no {col!r} column")
            v = train.columns[col]
            cond[COND_KEYS[m]] = v[torch.as_tensor(rows)].numpy() if m == "label" else (
                v[torch.as_tensor(rows)] if torch.is_tensor(v) else [v[int(i)] for i in rows])
        labels = train.columns["label"][torch.as_tensor(rows)].numpy() if "label" in train.columns else None
        return cond, labels, rows

    def condition_keys(self) -> tuple[np.ndarray | None, str]:
        """(one integer per training item naming its condition group, what the groups are): for label
        models the label; for text / audio / image conditions the attribute combination when the data has
        attributes, else the caption (identical text), else the label; (None, "") when nothing groups them."""
        if self._keys is None:
            train, mods = self.train, self.modalities
            if mods == ["label"] and train.has("label"):
                self._keys = (train.columns["label"].numpy(), "class")
            elif mods and train.has("attributes"):
                a = train.columns["attributes"].numpy()
                self._keys = (np.unique(a, axis=0, return_inverse=True)[1].reshape(-1), "attribute combination")
            elif mods and train.has("text"):
                self._keys = (np.unique(np.asarray(train.columns["text"], dtype=object).astype(str),
                                        return_inverse=True)[1].reshape(-1), "caption")
            elif train.has("label"):
                self._keys = (train.columns["label"].numpy(), "class")
            else:
                self._keys = (None, "")
        return self._keys

    def describe_key(self, row: int) -> str:
        """The condition group of a training item in words: "shape=circle color=red ...", a caption or a class."""
        train = self.train
        keys, by = self.condition_keys()
        if by == "attribute combination":
            vals = train.columns["attributes"][row].tolist()
            names = list(train.info.attributes) or [f"a{i}" for i in range(len(vals))]
            return " ".join(f"{k}={train.info.attributes[k][v] if k in train.info.attributes else v}"
                            for k, v in zip(names, vals))
        if by == "caption":
            return str(train.columns["text"][row])
        return str(int(keys[row])) if keys is not None else str(row)

    def _group_rows(self, groups: int, rng: np.random.Generator) -> np.ndarray:
        """One training row per group: distinct condition keys shared by at least two real items (so each
        has a real spread to compare with), cycling when there are fewer keys than groups; random rows
        when the data has no condition keys."""
        keys, _ = self.condition_keys()
        if keys is None:
            return rng.integers(0, len(self.train), size=groups)
        uniq, counts = np.unique(keys, return_counts=True)
        pool = uniq[counts >= 2] if (counts >= 2).any() else uniq
        order = rng.permutation(pool)
        chosen = order[np.arange(groups) % len(order)]
        rows = []
        for k in chosen:                                    # a random item of each chosen key
            rows.append(int(rng.choice(np.flatnonzero(keys == k))))
        return np.asarray(rows, dtype=np.int64)

    def generate(self, n: int, mode: str = "data", seed: int | None = None, desc: str = "generate") -> SampleSet:
        """n generated samples (cached per (n, mode, seed)); mode "data" or "balanced"."""
        seed = self.seed if seed is None else int(seed)
        key = (n, mode, seed)
        if key in self._fake:
            return self._fake[key]
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, int(self.pipe.model_config["z_dim"]), generator=gen)
        cond, labels, rows = self._conditions(n, mode, np.random.default_rng([seed, 7]))
        outs = []
        bar = self.bar(n, f"{desc} ({n})")
        was_training = self.pipe.conditioner.training
        try:
            for s in range(0, n, self.batch_size):
                part = {k: v[s:s + self.batch_size] for k, v in cond.items()}
                n_part = len(z[s:s + self.batch_size])
                if self.drs:                               # the sampler draws its own latents, seeded per batch
                    out = self.pipe(num_images=n_part, seed=seed * 1_000_003 + s, output_type="pt", drs=True,
                                    batch_size=n_part, **part)
                else:
                    out = self.pipe(z=z[s:s + self.batch_size], num_images=n_part, output_type="pt", **part)
                outs.append(out.tensor.float().cpu())
                bar.update(len(outs[-1]))
        finally:
            bar.close()
            self.pipe.conditioner.train(was_training)
        text = list(cond["text"]) if "text" in cond else None
        self._fake[key] = SampleSet(torch.cat(outs), labels, rows, text)
        return self._fake[key]

    def embed(self, s: SampleSet, desc: str) -> SampleSet:
        if s.features is None:
            bar = self.bar(len(s), f"features ({desc})")
            try:
                out = self.feature_net.extract(s.x, batch_size=500, bar=bar)
            finally:
                bar.close()
            s.features, s.probs, s.predicted = out["features"], out["probs"], out["labels"]
        return s

    def fake(self, n: int, mode: str = "data", seed: int | None = None) -> SampleSet:
        """n generated samples with their features and classifier outputs."""
        return self.embed(self.generate(n, mode, seed), "generated")

    def real(self, n: int | None = None, split: str = "train", label: int | None = None) -> SampleSet:
        """Up to n real items of a split (all when n is None or the split is smaller), with features."""
        ds = self.split(split)
        if label is not None:                              # one class: a slice of the whole split's features
            full = self.real(None, split)
            if full.labels is None:
                raise ValueError(f"{self.name} has no labels")
            pos = np.flatnonzero(full.labels == label)
            if n is not None and n < len(pos):
                pos = np.sort(np.random.default_rng([self.seed, 13, label]).choice(pos, size=n, replace=False))
            return SampleSet(full.x[torch.as_tensor(pos)], full.labels[pos], full.rows[pos], None,
                             full.features[pos], None if full.probs is None else full.probs[pos],
                             None if full.predicted is None else full.predicted[pos])
        labels = ds.columns["label"].numpy() if "label" in ds.columns else None
        idx = np.arange(len(ds))
        if n is not None and n >= len(idx):
            n = None
        key = (split, n)
        if key not in self._real:
            x = ds.columns[self.target]
            if n is not None:
                idx = np.sort(np.random.default_rng([self.seed, 11]).choice(idx, size=n, replace=False))
            x = x[torch.as_tensor(idx)] if torch.is_tensor(x) else \
                self.codec.data_tensor([x[int(i)] for i in idx], self.pipe.model_config)   # paths -> data units
            sub = SampleSet(x, None if labels is None else labels[idx], idx)
            self._real[key] = self.embed(sub, f"real {split}")
        return self._real[key]

    # ---- protocol text ----------------------------------------------------------------------------
    def conditions_text(self, mode: str = "data") -> str:
        mods = self.modalities
        if not mods:
            return "unconditional"
        if mode == "balanced" and mods == ["label"]:
            return f"balanced labels (sample i gets label i mod {self.num_classes})"
        if mode.startswith("grouped"):
            return (f"conditions of training items (distinct condition groups), each used for "
                    f"{mode[len('grouped'):]} samples")
        what = " + ".join(("labels" if m == "label" else f"{m} conditions") for m in mods)
        return f"{what} of random training items"

    def protocol(self, generated: int, reference: str | None = None, mode: str = "data", **extra: Any) -> dict:
        out = {"generated": generated, "conditions": self.conditions_text(mode), "seed": self.seed}
        if reference:
            out["reference"] = reference
        out["features"] = self.feature_net.describe()
        res = getattr(self.feature_net, "resolution", 0) or getattr(getattr(self.feature_net, "base", None),
                                                                    "resolution", 0)
        if res:                                       # an image feature network reads its own size
            out["resize"] = f"bilinear (antialiased) to {res}x{res} for the feature network"
        out.update(extra)
        return out

"""MultimodalConditioner: text, audio, image and label conditions -> one fused condition.

Each given modality is embedded by the joint space (frozen), then a fusion method (also fitted in the
joint space, see train_joint.fit_fusion) combines whatever subset is present into a unit vector in
that space: Cond(vec (b, d), tokens (b, n, d), mask (b, n)) -- tokens only for token-level fusion.

A reference image is accepted even by a model not trained on image conditions: the fusion was fitted
to land on the paired image's embedding, so an image's own embedding is the condition it stands for
(averaged with the fused other modalities when they are given too). `conditions` are the trained
modalities; `modalities` what generation accepts (the conditions plus image).

    cond = conditioner(text=["a small blue star at the bottom"])           # any subset of modalities
    cond = conditioner(audio=["say.wav"], text=["..."])                      # both
    cond = conditioner.from_batch(batch, device)                             # training: cached features
    cond = conditioner(text=["..."], retrieved=rc, retrieval_alpha=0.5)      # retrieval-augmented (store.rag)

Training batches look their features up by dataset row (batch["index"]) in a table attached with
attach_features(); modality dropout then hides modalities at random so generation works from any
one alone. config rebuilds the module exactly; the weights hold the joint space (without the frozen
MiniLM, which loads from its package) and the fusion.

Retrieval (mmgan.store.rag): `retrieved` holds the K nearest real items of a query and applies to every
sample. Their captions are re-encoded here (the store may use another embedder), and the text
condition moves toward their softmax-weighted mean (weights from cosine to the query):
pooled' = normalize((1 - alpha) q + alpha sum_i w_i n_i); text tokens shift by the same step between
token means, so token-level fusion sees it too. Without a text query the neighbours stand in for the
text. A model trained on image conditions given no image takes the neighbours' image embeddings when
the store was indexed with this model's own joint space. alpha = 0 ignores `retrieved`.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .base import Cond, Conditioner, register_conditioner
from ..fusion.base import ModalityFeatures, modality_dropout
from ..registry import build
from .joint import JointSpace
from .features import features_at

INPUT_NAMES = {"labels": "label", "text": "text", "audio": "audio", "image": "image"}
RETRIEVAL_TEMPERATURE = 0.05        # softmax temperature of the neighbours' weights (as RetrievedConditions.fused)


@register_conditioner
class MultimodalConditioner(Conditioner):
    kind = "multimodal"

    def __init__(self, modalities: Sequence[str], joint: dict, num_classes: int = 0, fusion: str = "attention",
                 fusion_args: dict | None = None, dropout: float = 0.3, retrieval_alpha: float = 0.5,
                 noise: float = 0.0):
        super().__init__(modalities, num_classes)
        self.conditions = list(self.modalities)
        if not self.conditions:
            raise ValueError("the multimodal conditioner needs at least one condition modality")
        self.joint = JointSpace(**joint)
        missing = [m for m in self.conditions if m not in self.joint.modalities]
        if missing:
            raise ValueError(f"the joint space embeds {list(self.joint.modalities)}; it cannot condition on {missing}")
        self.modalities = self.conditions + [m for m in ("image",) if m not in self.conditions]
        self.fusion_name, self.fusion_args, self.dropout = fusion, dict(fusion_args or {}), float(dropout)
        self.retrieval_alpha = _check_alpha(retrieval_alpha)
        if not 0.0 <= float(noise) < 10.0:
            raise ValueError(f"model.extra.cond_noise must be in [0, 10) (a share of the condition's length), "
                             f"got {noise}")
        self.noise = float(noise)           # training only: see from_batch
        self.fusion = build("fusion", fusion, modalities=self.conditions, in_dim=self.joint.dim,
                            dim=self.joint.dim, **self.fusion_args)
        self.requires_grad_(False)          # fitted before the GAN; the generator learns on a fixed condition
        self._features: dict[str, dict[str, torch.Tensor]] | None = None

    # ---- contract with the trainer and the pipeline ----------------------------------------------
    @property
    def cond_dim(self) -> int:
        return self.joint.dim

    @property
    def wants_tokens(self) -> bool:
        return self.fusion_name == "cross_attention"

    @property
    def accepts_retrieved(self) -> bool:
        """Retrieved neighbours can condition text (their captions) or image (their embeddings)."""
        return "text" in self.conditions or "image" in self.conditions

    @property
    def config(self) -> dict:
        return {"kind": self.kind, "modalities": self.conditions, "num_classes": self.num_classes,
                "joint": self.joint.config, "fusion": self.fusion_name, "fusion_args": self.fusion_args,
                "dropout": self.dropout, "retrieval_alpha": self.retrieval_alpha, "noise": self.noise}

    def train(self, mode: bool = True):
        super().train(mode)
        self.joint.eval()                   # frozen parts never switch to training behaviour
        self.fusion.eval()
        return self

    def attach_features(self, features: dict[str, dict[str, torch.Tensor]] | None) -> None:
        """Per-row joint-space features of the training set ({modality: {"pooled", "tokens", "mask"}})."""
        self._features = features

    def forward(self, labels: Any = None, text: Any = None, audio: Any = None, image: Any = None,
                retrieved: Any = None, retrieval_alpha: float | None = None, **_: Any) -> Cond:
        given = {m: v for m, v in (("label", labels), ("text", text), ("audio", audio), ("image", image))
                 if v is not None}
        unknown = [m for m in given if m not in self.modalities]
        if unknown:
            raise ValueError(f"this model is conditioned on {self.modalities}; it cannot take {unknown}")
        if not given:
            raise ValueError(f"this model is conditioned on {self.modalities}: pass at least one of them"
                             + (" (retrieved items blend into a given condition; they set no batch size)"
                                if retrieved is not None else ""))
        feats, sizes = {}, {}
        for m, items in given.items():
            out = self.joint.encode(m, items)
            sizes[m] = out.pooled.shape[0]
            feats[m] = ModalityFeatures(out.pooled, None, out.tokens if self.wants_tokens else None, out.mask)
        if len(set(sizes.values())) > 1:
            raise ValueError(f"conditions differ in length: {sizes}; give one item per image (or one for all)")
        alpha = self.retrieval_alpha if retrieval_alpha is None else _check_alpha(retrieval_alpha)
        if retrieved is not None and alpha > 0:
            feats = self._with_retrieved(feats, retrieved, alpha)
        lab = torch.as_tensor(labels).reshape(-1).to(self.joint.logit_scale.device) if labels is not None else None
        reference = feats.pop("image").pooled if "image" in feats and "image" not in self.conditions else None
        if reference is None:
            return self._fuse(feats, lab)
        if not feats:                                  # image only: its embedding is the condition
            b = reference.shape[0]
            feats = {m: ModalityFeatures(self.fusion.null[m].expand(b, -1), torch.zeros(b, dtype=torch.bool,
                     device=reference.device)) for m in self.conditions}
            cond = self._fuse(feats, lab)
            return Cond(vec=reference, tokens=cond.tokens, mask=cond.mask, labels=lab)
        cond = self._fuse(feats, lab)
        return Cond(vec=F.normalize(cond.vec + reference, dim=-1), tokens=cond.tokens, mask=cond.mask, labels=lab)

    # ---- retrieval ---------------------------------------------------------------------------
    def _with_retrieved(self, feats: dict[str, ModalityFeatures], rc: Any, alpha: float
                        ) -> dict[str, ModalityFeatures]:
        """feats with text moved toward (or filled by) the neighbours' captions and, for an image-conditioned
        model given no image, the image filled by the neighbours' image embeddings."""
        feats = dict(feats)
        b = next(iter(feats.values())).pooled.shape[0]
        query = feats["text"].pooled if "text" in feats else None
        if "text" in self.conditions:
            text = self._retrieved_text(rc, feats.get("text"), alpha, b)
            if text is not None:
                feats["text"] = text
        if "image" in self.conditions and "image" not in feats:
            image = self._retrieved_image(rc, query, b)
            if image is not None:
                feats["image"] = image
        return feats

    def _retrieved_text(self, rc: Any, own: ModalityFeatures | None, alpha: float, b: int
                        ) -> ModalityFeatures | None:
        """The query's text features blended with the neighbours' captions (encoded here); None without captions."""
        captions = [t for t in (getattr(rc, "texts", None) or []) if isinstance(t, str) and t.strip()]
        if not captions:
            return None
        nb = self.joint.encode("text", captions)
        if own is None:                      # no text query: the neighbours' mean stands in (pooled, one token)
            return ModalityFeatures(F.normalize(nb.pooled.mean(0, keepdim=True), dim=-1).expand(b, -1))
        w = _weights(own.pooled, nb.pooled)
        pooled = F.normalize((1 - alpha) * own.pooled + alpha * (w @ nb.pooled), dim=-1)
        tokens = own.tokens
        if tokens is not None:               # shift the query's tokens by the same step between token means
            shift = alpha * (w @ _token_means(nb.tokens, nb.mask) - _token_means(tokens, own.mask))
            tokens = tokens + shift[:, None].to(tokens.dtype)
        return ModalityFeatures(pooled, own.present, tokens, own.mask)

    def _retrieved_image(self, rc: Any, query: torch.Tensor | None, b: int) -> ModalityFeatures | None:
        """The neighbours' image embeddings (weighted by cosine to the text query, else evenly), when the
        store holds embeddings of this model's joint space; None otherwise."""
        vectors, hits = getattr(rc, "vectors", None), getattr(rc, "hits", None) or []
        if vectors is None or len(vectors) == 0 or getattr(rc, "modality", "image") != "image":
            return None
        if {getattr(h.item, "embedder", "") for h in hits} != {self.joint.id}:
            return None                                # another embedder's space: not comparable here
        dev = self.joint.logit_scale.device
        v = F.normalize(torch.as_tensor(np.asarray(vectors), dtype=torch.float32, device=dev), dim=-1)
        w = _weights(query, v) if query is not None else torch.full((b, len(v)), 1.0 / len(v), device=dev)
        return ModalityFeatures(F.normalize(w @ v, dim=-1))

    def _fuse(self, feats: dict[str, ModalityFeatures], labels: torch.Tensor | None = None) -> Cond:
        cond = self.fusion(feats)
        return Cond(vec=F.normalize(cond.vec, dim=-1), tokens=cond.tokens, mask=cond.mask, labels=labels)

    def from_batch(self, batch: dict, device: torch.device) -> Cond:
        if self._features is None or "index" not in batch:
            return self._from_raw(batch, device)
        idx = batch["index"].cpu()
        present = {m: torch.ones(len(idx), dtype=torch.bool) for m in self.conditions}
        if self.training:
            present = modality_dropout(present, self.dropout)
        feats = {m: features_at(self._features[m], idx, present[m], device) for m in self.conditions}
        labels = batch["label"].to(device) if "label" in batch else None
        cond = self._fuse(feats, labels)
        if self.training and self.noise > 0:
            # model.extra.cond_noise: the fused vector moved by noise x its length in a random direction, so the
            # generator learns a neighbourhood of each condition (speech lands near, not on, its caption's)
            eps = torch.randn_like(cond.vec) * (self.noise / cond.vec.shape[-1] ** 0.5)
            cond = replace(cond, vec=F.normalize(cond.vec + eps, dim=-1))
        return cond

    def _from_raw(self, batch: dict, device: torch.device) -> Cond:
        cols = {"label": "label", "text": "text", "audio": "audio", "image": "image"}
        kwargs = {}
        for m in self.conditions:
            if cols[m] not in batch:
                raise ValueError(f"training batch has no {cols[m]!r} column for condition {m!r}")
            kwargs["labels" if m == "label" else m] = batch[cols[m]]
        return self(**kwargs)

    def expand(self, n: int, **inputs: Any) -> dict[str, Any]:
        """Broadcast one condition to n images; lists of n pass through; other lengths are an error.
        With `retrieved` and no text, a text-conditioned model takes the retrieval query's text."""
        query_text = _query_text(inputs.get("retrieved"))
        if inputs.get("text") is None and query_text is not None and "text" in self.conditions:
            inputs = {**inputs, "text": query_text}
        out = dict(inputs)
        for key in INPUT_NAMES:
            v = inputs.get(key)
            if v is None:
                continue
            items = _as_items(key, v)
            if len(items) == 1 and n > 1:
                items = items.repeat(n, *([1] * (items.dim() - 1))) if torch.is_tensor(items) else items * n
            if len(items) != n:
                raise ValueError(f"got {len(items)} {key} items for {n} images; give one (used for all) or one per image")
            out[key] = items
        return out

    def sample_inputs(self, ds, n: int) -> dict[str, Any]:
        """Conditions for the trainer's sample grid: each row of 8 one dataset item, all its modalities."""
        rows = max(1, n // 8)
        pick = [i % len(ds) for i in range(rows) for _ in range(8)][:n]
        pick += [pick[-1]] * (n - len(pick))
        out: dict[str, Any] = {}
        for m in self.conditions:
            col = {"label": "label"}.get(m, m)
            v = ds.columns[col]
            key = "labels" if m == "label" else m
            out[key] = v[torch.tensor(pick)] if torch.is_tensor(v) else [v[i] for i in pick]
        return out


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"retrieval_alpha must be in [0, 1] (0 = the query alone), got {alpha}")
    return alpha


def _weights(query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """(b, k) softmax over the neighbours of cosine(query, key) / temperature (rows of unit vectors)."""
    return torch.softmax(query @ keys.t() / RETRIEVAL_TEMPERATURE, dim=-1)


def _token_means(tokens: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """(b, d) mean of each row's real tokens."""
    if mask is None:
        return tokens.mean(1)
    m = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * m).sum(1) / m.sum(1).clamp(min=1)


def _query_text(rc: Any) -> str | None:
    """The text a retrieval query asked for (a str, or a dict's "text"), if any."""
    q = getattr(rc, "query", None)
    q = q.get("text") if isinstance(q, dict) else q
    return q if isinstance(q, str) and q.strip() else None


def _as_items(key: str, v: Any):
    """One condition or a batch of them as a list (or tensor) of items."""
    if key == "labels":
        return torch.as_tensor(np.asarray(v) if not torch.is_tensor(v) else v).reshape(-1)
    if key == "text":
        return [v] if isinstance(v, str) else list(v)
    if key == "audio":
        if isinstance(v, (str, Path)) or (isinstance(v, np.ndarray) and v.ndim == 1):
            return [v]
        return list(v)
    if key == "image":
        if torch.is_tensor(v):
            return v[None] if v.dim() == 3 else v
        if isinstance(v, (str, Path)) or hasattr(v, "convert"):
            return [v]
        return list(v)
    return v



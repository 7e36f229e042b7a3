"""The text codec: captions as an output modality (an image captioner, a speech recogniser).

Data units are Unicode code points: one caption is (L,) int64, a batch (b, L) padded with 0 (collate
pads to the longest item). A caption is at most MAX_CHARS characters; a longer one, an empty or
whitespace-only one, or a cell that is not a string is a bad row (CellError) like any other. A
dataset's `text` column stays a list of strings (what the text conditioners read); the codec turns
it into units when it is the target. Generated objects are strings: `out.text` in the Python API.

What generators make (their units): token ids, (b, T) int64, each caption ended by EOS and padded
with PAD up to model.extra.max_tokens. The vocabulary is per model and lives in its config
(model.extra.vocab: the tokens in id order, specials first), built by configure() from the training
captions, so a run or an export decodes its own ids with nothing else at hand:
  model.extra.tokens = "word"   words and punctuation (tokenize: [\\w'-]+ | one other non-space
                                character); detokenize joins with spaces and closes up punctuation
  model.extra.tokens = "char"   one token per character (a CTC recogniser's alphabet)
to_generator / from_generator map code points <-> ids with that vocabulary (unknown tokens -> UNK).
Families that make text declare TextOptions (their model.extra keys) and read their source (the image
to caption, the clip to transcribe) raw through mmgan.conditioning.source.

generate writes captions.jsonl (one object per input: its name and its captions) and captions.png
(each input's thumbnail when it is a file, its captions under it); the server returns {"text": ...}.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..config import ConfigError, read_config
from ..model_options import Options, family_options, option
from ..plots import caption_sheet
from ..registry import names
from ..utils import atomic_write
from .base import CellError, Codec, Column, ColumnReader, register_codec

MAX_CHARS = 200                     # the longest caption a text column may hold
PAD, EOS, UNK = 0, 1, 2             # token ids every vocabulary starts with
SPECIALS = ["<pad>", "<eos>", "<unk>"]
TOKEN = re.compile(r"[\w'-]+|[^\w\s]")
CAPTION_FAMILIES = ("captioner", "recognizer")


@dataclass(frozen=True)
class TextOptions(Options):
    """model.extra keys of every family that makes text (its subclasses add their own)."""
    reads: ClassVar[tuple[str, ...]] = ()     # the source modalities the family reads raw (conditioning.source)
    tokens: str = option("word", "vocabulary unit: word (words and punctuation) or char (characters)",
                         choices=("word", "char"))
    vocab: list | None = option(None, "the vocabulary, tokens in id order (written from the training captions)")
    vocab_size: int = option(8000, "most tokens kept when building the vocabulary (the rest become <unk>)")
    max_tokens: int | None = option(None, "longest caption in tokens, EOS included (written from the training captions)")
    decode: str = option("sample", "how captions are drawn: sample (temperature), greedy, or beam (beam_size)",
                         choices=("sample", "greedy", "beam"))
    temperature: float = option(1.0, "sampling temperature (decode=sample)")
    beam_size: int = option(5, "beams kept (decode=beam)")


# ---- tokens ---------------------------------------------------------------------------------------
def tokenize(text: str, kind: str = "word") -> list[str]:
    """A caption -> its tokens: words and punctuation ("word"), or characters ("char")."""
    if kind == "char":
        return list(text)
    if kind != "word":
        raise ConfigError(f"model.extra.tokens must be word or char, got {kind!r}")
    return TOKEN.findall(text)


def detokenize(tokens: Sequence[str], kind: str = "word") -> str:
    """Tokens -> a caption: characters joined, or words joined by spaces with punctuation closed up."""
    if kind == "char":
        return "".join(tokens)
    s = " ".join(tokens)
    s = re.sub(r" ([,.:;!?)\]])", r"\1", s)
    return re.sub(r"([(\[]) ", r"\1", s)


def build_vocab(captions: Sequence[str], kind: str = "word", size: int = 8000) -> list[str]:
    """The vocabulary of a caption list: the specials, then tokens by frequency (ties by name)."""
    counts = Counter(t for c in captions for t in tokenize(c, kind))
    ranked = sorted(counts, key=lambda t: (-counts[t], t))[: max(0, size - len(SPECIALS))]
    return SPECIALS + ranked


def code_points(text: str) -> torch.Tensor:
    return torch.tensor([ord(ch) for ch in text], dtype=torch.long)


def to_text(x: torch.Tensor) -> str:
    """(L,) code points (0-padded) -> the string."""
    return "".join(chr(int(v)) for v in x.tolist() if v > 0)


def check_caption(value: Any) -> str:
    """A caption as the codec accepts it (stripped), or CellError naming the problem."""
    if value is None:
        raise CellError("missing value (a caption)")
    if not isinstance(value, str):
        raise CellError(f"caption must be a string, got {type(value).__name__} {value!r}")
    s = value.strip()
    if not s:
        raise CellError("empty caption")
    if len(s) > MAX_CHARS:
        raise CellError(f"caption is {len(s)} characters long; the text codec takes at most {MAX_CHARS}")
    return s


class Vocab:
    """A model's vocabulary (model.extra.vocab, tokens) as a mapping both ways."""

    def __init__(self, tokens: Sequence[str], kind: str = "word"):
        if list(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ConfigError(f"model.extra.vocab must start with {SPECIALS}")
        self.tokens, self.kind = list(tokens), kind
        self.ids = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def of(cls, model: Mapping) -> "Vocab":
        extra = model.get("extra") or {}
        if not extra.get("vocab"):
            raise ConfigError("this text model's config has no model.extra.vocab; it was not configured for text data")
        return cls(extra["vocab"], extra.get("tokens", "word"))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, length: int) -> torch.Tensor:
        """A caption -> (length,) ids: its tokens (cut to length - 1), EOS, then PAD."""
        ids = [self.ids.get(t, UNK) for t in tokenize(text, self.kind)][: length - 1] + [EOS]
        return torch.tensor(ids + [PAD] * (length - len(ids)), dtype=torch.long)

    def decode(self, ids: torch.Tensor) -> str:
        """(T,) ids -> the caption up to the first EOS (PAD and specials dropped)."""
        out = []
        for i in ids.tolist():
            if i == EOS:
                break
            if i >= len(SPECIALS) and i < len(self.tokens):
                out.append(self.tokens[i])
            elif i == UNK:
                out.append("?" if self.kind == "char" else "<unk>")
        return detokenize(out, self.kind)


def pad_points(items: Sequence[torch.Tensor]) -> torch.Tensor:
    """(L_i,) code-point tensors -> (n, max L) padded with 0 (at least one column)."""
    n = max([len(t) for t in items] + [1])
    out = torch.zeros(len(items), n, dtype=torch.long)
    for i, t in enumerate(items):
        out[i, : len(t)] = t
    return out


def text_options(family: str) -> type[TextOptions]:
    opts = family_options(family)
    return opts if issubclass(opts, TextOptions) else TextOptions


def families_reading(modality: str) -> list[str]:
    """Registered model families that make text from `modality` read raw (a video family reads sound too)."""
    return [f for f in names("model") if f in CAPTION_FAMILIES and modality in getattr(family_options(f), "reads", ())]


@register_codec
class TextCodec(Codec):
    name = "text"
    attribute = "text"
    media_type = "text/plain"
    store_asset = "caption.txt"       # kept as words: the store's caption (keyword search) and its text embedding
    families = CAPTION_FAMILIES
    rank = 3                          # after image, vector and audio: captioned data still generates those
    preview_count = 32                # the trainer's preview: 4 inputs x 8 captions
    preset = "captioner-shapes"

    # ---- tensors <-> objects ----------------------------------------------------------------------
    def to_object(self, x: torch.Tensor) -> str:
        return to_text(x)

    def from_object(self, obj: Any) -> torch.Tensor:
        try:
            return code_points(check_caption(obj))
        except CellError as e:
            raise ValueError(str(e)) from None

    def collate(self, items: list) -> torch.Tensor:
        return pad_points([t if torch.is_tensor(t) else code_points(t) for t in items])

    def item_shape(self, column: Any) -> tuple:
        if torch.is_tensor(column):
            return tuple(column.shape[1:])
        return (max([len(s) for s in column] + [1]),)

    # ---- the generator's units ----------------------------------------------------------------------
    def strings(self, column: Any) -> list[str]:
        """A text column (strings) or a (n, L) code-point tensor -> strings."""
        if torch.is_tensor(column):
            return [to_text(row) for row in column]
        return [str(s) for s in column]

    def to_generator(self, x: Any, model: Mapping) -> torch.Tensor:
        vocab, length = Vocab.of(model), int((model.get("extra") or {}).get("max_tokens") or 0)
        if length < 1:
            raise ConfigError("this text model's config has no model.extra.max_tokens; it was not configured for text")
        captions = self.strings(x)
        if not captions:
            return torch.zeros(0, length, dtype=torch.long)
        return torch.stack([vocab.encode(s, length) for s in captions])

    def from_generator(self, x: torch.Tensor, model: Mapping) -> torch.Tensor:
        vocab = Vocab.of(model)
        return pad_points([code_points(vocab.decode(row)) for row in x.long()])

    # ---- config ---------------------------------------------------------------------------------------
    def configure(self, cfg: Any, ds: Any) -> None:
        """Build the model's vocabulary (model.extra.vocab, unless given) and max_tokens from the captions."""
        super().configure(cfg, ds)
        m = cfg.model
        opts = text_options(m.family).read(m.extra)
        captions = self.strings(ds.columns[self.name])
        if not m.extra.get("vocab"):
            m.extra["vocab"] = build_vocab(captions, opts.tokens, opts.vocab_size)
        m.extra.setdefault("tokens", opts.tokens)
        Vocab(m.extra["vocab"], m.extra["tokens"])               # a given vocabulary must be well formed
        longest = max([len(tokenize(c, m.extra["tokens"])) for c in captions] + [1]) + 1
        m.extra["max_tokens"] = max(int(m.extra.get("max_tokens") or 0), longest)
        if "lexicon" in type(opts).names() and not m.extra.get("lexicon"):   # a family decoding to known words
            m.extra["lexicon"] = sorted({w for c in captions for w in c.split()})

    def default_condition(self, info: Any) -> tuple[list, str] | None:
        """Captions of the image when the data has images, else of the speech; plus the style when the
        data's label is one (shapes-styled)."""
        source = next((m for m in ("image", "audio") if m in info.modalities), None)
        if source is None:
            raise ConfigError(f"a text model writes captions of an image or a clip; dataset {info.name!r} has "
                              f"neither (columns: {', '.join(info.modalities)})")
        cond, why = [source], f"text is written from the {source}"
        if (info.extra or {}).get("label") == "style" and "label" in info.modalities:
            cond.append("label")
            why += "; the label is the caption's style"
        return cond, why

    def recipe(self, condition: list) -> tuple[str | None, dict, str] | None:
        if "image" in condition:
            settings = read_config(self.preset)
            settings.pop("data", None)
            return self.preset, settings, "the image captioner (attention over image regions, G-GAN)"
        source = next((m for m in condition if m != "label"), None)
        fams = families_reading(source) if source else []
        if not fams:
            raise ConfigError(f"no model family writes text from {source or 'nothing'} yet "
                              f"(condition {condition}); families that make text read: "
                              + ", ".join(f"{f} ({'/'.join(family_options(f).reads)})"
                                          for f in CAPTION_FAMILIES if f in names("model")))
        return None, {"model": {"family": fams[0]}}, f"{fams[0]}: the family that reads {source} raw"

    # ---- manifests ------------------------------------------------------------------------------------
    def reader(self, opts: Any) -> ColumnReader:
        return _TextReader(self, opts)

    def write_column(self, column: Any, folder: Path) -> list:
        return self.strings(column)

    # ---- outputs --------------------------------------------------------------------------------------
    def write(self, objects: list, x: torch.Tensor, folder: Path, info: Mapping) -> list[Path]:
        """captions.jsonl: one line per input ({"name", "captions"} and the style when one was given) and
        captions.png. The inputs come from info["conditions"] (the Pipeline's: source_names, labels)."""
        groups = caption_groups(objects, info)
        path = Path(folder) / "captions.jsonl"
        atomic_write(path, lambda tmp: Path(tmp).write_text(
            "".join(json.dumps(g, ensure_ascii=False) + "\n" for g in groups), encoding="utf-8"))
        return [path, self.preview(x, Path(folder) / "captions.png", info,
                                   title=f"{info.get('name', '')}: {len(objects)} captions")]

    def preview(self, x: Any, path: Path, info: Mapping, title: str = "", real: Any = None) -> Path:
        """The captions as a picture: per input, its thumbnail (when it names a file) and its captions."""
        return caption_sheet(caption_groups(self.strings(x), info), path, title=title)

    def tensorboard(self, writer: Any, x: torch.Tensor, step: int) -> None:
        writer.add_text("samples", "\n\n".join(self.strings(x[:16])), step)

    def response(self, obj: str) -> dict:
        return {"text": obj}

    def stored_file(self, obj: str, media: bytes | None) -> bytes:
        return obj.encode("utf-8")

    def caption_of(self, obj: str) -> str:
        return obj


def caption_groups(captions: list[str], info: Mapping) -> list[dict]:
    """Captions grouped by the input they describe: [{"name", "captions", ["style"]}], in order. Without
    source names (a trainer's preview) groups of 8 in a row are taken as one input each."""
    cond = (info or {}).get("conditions") or {}
    names_ = list(cond.get("source_names") or [])
    if len(names_) != len(captions):
        names_ = [f"input {i // 8}" for i in range(len(captions))]
    styles = cond.get("labels")
    class_names = list((info or {}).get("class_names") or [])
    groups: list[dict] = []
    for i, (name, cap) in enumerate(zip(names_, captions)):
        if not groups or groups[-1]["name"] != name:
            groups.append({"name": name, "captions": []})
            if styles is not None and len(styles) == len(captions):
                s = int(styles[i])
                groups[-1]["style"] = class_names[s] if s < len(class_names) else s
        groups[-1]["captions"].append(cap)
    return groups


class _TextReader(ColumnReader):
    """Checks each caption (a string, not empty, at most MAX_CHARS); the column stays strings."""

    def read(self, value: Any) -> str:
        return check_caption(value)

    def collate(self, cells: Mapping[int, str]) -> Column:
        rows = sorted(cells)
        return Column([cells[r] for r in rows], {r: i for i, r in enumerate(rows)})

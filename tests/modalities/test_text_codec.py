"""The text codec (mmgan.modalities.text): code points <-> strings, bad cells, the per-model vocabulary
(word and char), to/from the generator's token ids, and generate's files."""
from __future__ import annotations

import json

import pytest
import torch

from mmgan.config import Config
from mmgan.data import load_dataset
from mmgan.data.base import DataInfo, MemoryDataset
from mmgan.modalities import CellError, ReadOptions, default_target, get_codec
from mmgan.modalities.text import EOS, MAX_CHARS, PAD, UNK, Vocab, build_vocab, detokenize, tokenize

codec = get_codec("text")


def test_round_trip_and_padding():
    items = [codec.from_object("héllo, wörld ✓"), codec.from_object("  a b ")]
    x = codec.collate(items)
    assert x.dtype == torch.long and x.shape == (2, 14)
    assert codec.to_objects(x) == ["héllo, wörld ✓", "a b"]
    assert codec.item_shape(["abc", "a"]) == (3,) and codec.response("hi") == {"text": "hi"}


@pytest.mark.parametrize("value,why", [(None, "missing"), ("   ", "empty caption"), (7, "must be a string"),
                                       ("x" * (MAX_CHARS + 1), f"at most {MAX_CHARS}")])
def test_bad_cells(value, why, tmp_path):
    reader = codec.reader(ReadOptions(tmp_path))
    with pytest.raises(CellError, match=why):
        reader.read(value)
    assert reader.read(" ok ") == "ok"


def test_bad_caption_row_in_a_manifest_names_row_and_column(tmp_path):
    from mmgan.data.errors import DataError

    from PIL import Image

    for i in range(2):
        Image.new("RGB", (8, 8), "red").save(tmp_path / f"{i}.png")
    rows = [{"image": "0.png", "text": "fine"}, {"image": "1.png", "text": ""}]
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"(?s)row 2.*text.*empty caption"):
        load_dataset(str(tmp_path / "manifest.jsonl"))


def test_images_stay_the_default_target():
    assert default_target(["image", "text"]) == "image" and default_target(["audio", "text"]) == "audio"
    assert default_target(["text"]) == "text"


@pytest.mark.parametrize("kind", ["word", "char"])
def test_vocab_round_trip(kind):
    caps = ["a big, red circle (small) at the top", "a star: blue"]
    vocab = Vocab(build_vocab(caps, kind), kind)
    assert vocab.tokens[:3] == ["<pad>", "<eos>", "<unk>"]
    for c in caps:
        ids = vocab.encode(c, 40)
        assert ids.shape == (40,) and EOS in ids.tolist() and vocab.decode(ids) == c
    assert UNK in vocab.encode("a zebra", 10).tolist()
    assert detokenize(tokenize("top: a (big) star, red", "word")) == "top: a (big) star, red"


def _captioned(n=8):
    text = [f"a {'red' if i % 2 else 'blue'} circle at the top" for i in range(n)]
    info = DataInfo("tiny-captions", "image", (3, 8, 8))
    return MemoryDataset(info, {"image": torch.zeros(n, 3, 8, 8), "text": text}).with_target("text")


@pytest.mark.parametrize("tokens", ["word", "char"])
def test_configure_builds_the_vocab_and_units_round_trip(tokens):
    ds = _captioned()
    cfg = Config().override(["model.family=captioner", f"model.extra.tokens={tokens}"])
    codec.configure(cfg, ds)
    model = {"extra": cfg.model.extra}
    assert cfg.model.extra["max_tokens"] == max(len(tokenize(t, tokens)) for t in ds.columns["text"]) + 1
    ids = codec.to_generator(ds.columns["text"], model)
    assert ids.shape == (8, cfg.model.extra["max_tokens"]) and int(ids[:, -1].max()) in (EOS, PAD)
    assert codec.to_objects(codec.from_generator(ids, model)) == ds.columns["text"]
    assert torch.equal(codec.to_generator(codec.collate(ds.columns["text"]), model), ids)   # code points in too


def test_other_families_are_refused():
    from mmgan.config import ConfigError

    with pytest.raises(ConfigError, match="captioner"):
        codec.configure(Config().override(["model.family=dcgan"]), _captioned())


def test_write_groups_captions_by_input(tmp_path):
    caps = ["a red circle", "a blue star", "one", "two"]
    x = codec.collate(caps)
    info = {"name": "t", "class_names": ["neutral", "positive"],
            "conditions": {"source_names": ["a.png", "a.png", "b.png", "b.png"], "labels": [1, 1, 0, 0]}}
    files = codec.write(codec.to_objects(x), x, tmp_path, info)
    assert [f.name for f in files] == ["captions.jsonl", "captions.png"]
    lines = [json.loads(s) for s in (tmp_path / "captions.jsonl").read_text().splitlines()]
    assert lines == [{"name": "a.png", "captions": caps[:2], "style": "positive"},
                     {"name": "b.png", "captions": caps[2:], "style": "neutral"}]
    assert (tmp_path / "captions.png").stat().st_size > 0

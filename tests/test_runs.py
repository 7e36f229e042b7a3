"""mmgan.runs: what a path names (run, checkpoint, export), its errors, and the one weights digest."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from _tiny import image_dataset, tiny_config
from mmgan.pipeline import Pipeline
from mmgan.runs import ModelRef, latest_checkpoint, looks_like_model, pipeline_config, read_meta, resolve, \
    weights_digest
from mmgan.training import Trainer
from mmgan.training.setup import resolve as resolve_config


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "cond"
    cfg = tiny_config("model.family=dcgan", "condition=[label]", "train.steps=3")
    ds = image_dataset()
    resolve_config(cfg, ds)
    Trainer(cfg, run, ds, log=lambda m: None).fit()
    return run


@pytest.fixture(scope="module")
def export(run, tmp_path_factory):
    return Pipeline.from_pretrained(run, device="cpu").save_pretrained(tmp_path_factory.mktemp("export") / "export")


# ---- resolve ------------------------------------------------------------------------------------------
def test_resolve_run(run):
    ref = resolve(run)
    ckpt = latest_checkpoint(run)
    assert isinstance(ref, ModelRef) and ref.kind == "run" and ref.path == run
    assert ref.run_dir == run and ref.checkpoint == ckpt and ref.folder == ckpt
    assert ref.config == pipeline_config(read_meta(ckpt)) and ref.config["format"] == "mmgan-pipeline"
    assert ref.meta["step"] == 3 and ref.step == 3 and ref.config["step"] == 3
    assert ref.generator_file() == ckpt / "G_ema.safetensors"
    assert ref.generator_file("G") == ckpt / "G.safetensors"
    assert ref.file("D.safetensors") == ckpt / "D.safetensors" and ref.file("nothing.bin") is None
    assert ref.conditioner_file is None or ref.conditioner_file == ckpt / "conditioner.safetensors"


def test_resolve_checkpoint(run, tmp_path):
    ckpt = latest_checkpoint(run)
    ref = resolve(ckpt)
    assert ref.kind == "checkpoint" and ref.run_dir == run and ref.checkpoint == ckpt and ref.folder == ckpt
    assert ref.config == resolve(run).config and ref.step == 3
    loose = tmp_path / "step-loose"                        # a checkpoint copied out of its run
    shutil.copytree(ckpt, loose)
    (loose / "G_ema.safetensors").unlink()                 # no EMA weights: G is the fallback
    ref = resolve(loose)
    assert ref.kind == "checkpoint" and ref.run_dir is None and ref.checkpoint == loose
    assert ref.generator_file("G_ema") == loose / "G.safetensors"


def test_resolve_export(run, export):
    ref = resolve(export)
    assert ref.kind == "export" and ref.run_dir is None and ref.checkpoint is None and ref.folder == export
    assert ref.meta is None and ref.step == 3 and ref.config == resolve(run).config
    assert ref.generator_file() == ref.generator_file("G") == export / "generator.safetensors"
    assert ref.conditioner_file is None                    # a label conditioner has no weights to export


def test_resolve_errors_name_the_path_and_what_was_expected(tmp_path):
    missing = tmp_path / "nothing"
    with pytest.raises(FileNotFoundError, match=f"no such run, checkpoint or exported pipeline: {missing}"):
        resolve(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    expected = r"holds no checkpoint \(checkpoints/step-\*/meta.json\) and no exported pipeline " \
               r"\(config.json \+ generator.safetensors\)"
    with pytest.raises(FileNotFoundError, match=f"{empty} {expected}"):
        resolve(empty)
    assert not looks_like_model(empty) and not looks_like_model(missing)
    started = tmp_path / "started"                         # a run folder with no complete checkpoint yet
    (started / "checkpoints" / "step-00000001").mkdir(parents=True)
    assert looks_like_model(started)
    with pytest.raises(FileNotFoundError, match=expected):
        resolve(started)
    other = tmp_path / "other"                             # config.json + generator.safetensors of something else
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"format": "someone-else"}))
    (other / "generator.safetensors").write_bytes(b"")
    assert looks_like_model(other)
    with pytest.raises(ValueError, match="config.json is not an mmgan pipeline config"):
        resolve(other)
    a_file = tmp_path / "weights.bin"
    a_file.write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match=expected):
        resolve(a_file)


def test_pipeline_and_joint_space_errors_come_from_the_resolver(tmp_path):
    from mmgan.conditioning import JointSpace

    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no checkpoint"):
        Pipeline.from_pretrained(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="no joint space .* and no multimodal pipeline .*holds no checkpoint"):
        JointSpace.from_pretrained(tmp_path / "empty")


def test_joint_space_of_a_label_model_is_refused(run):
    from mmgan.conditioning import JointSpace

    with pytest.raises(ValueError, match=r"not conditioned through a joint space \(conditions: \['label'\]\)"):
        JointSpace.from_pretrained(run)


# ---- weights_digest ---------------------------------------------------------------------------------------
def test_digest_agrees_between_run_checkpoint_export_and_loaded_pipelines(run, export):
    d = weights_digest(run)
    assert len(d) == 16 and int(d, 16) >= 0
    assert weights_digest(resolve(run)) == d
    assert weights_digest(latest_checkpoint(run)) == d
    assert weights_digest(export) == d
    for src in (run, latest_checkpoint(run), export):
        assert weights_digest(Pipeline.from_pretrained(src, device="cpu").generator) == d
    g = Pipeline.from_pretrained(run, device="cpu", weights="G").generator
    assert weights_digest(g) == weights_digest(run, weights="G")


def test_digest_is_over_contents_not_file_layout(run):
    from safetensors.torch import load_file

    state = load_file(str(resolve(run).generator_file()))
    d = weights_digest(state)
    assert weights_digest(dict(reversed(list(state.items())))) == d          # key order does not matter
    changed = dict(state)
    k = next(iter(changed))
    changed[k] = changed[k].clone()
    changed[k].view(-1)[0] += 1
    assert weights_digest(changed) != d
    assert weights_digest({k: v.double() for k, v in state.items()}) != d    # dtype is part of the weights
    assert weights_digest(None) == weights_digest({}) == weights_digest(object())


class _Pixels:
    """Images (tensors in [-1, 1] from index_run, PIL images from the server) by 8x8 gray pixels."""
    dim, id, modalities = 64, "test-pixels-8x8", ("image",)

    def embed(self, modality, items):
        import numpy as np
        import torch.nn.functional as F

        if not torch.is_tensor(items):
            items = torch.stack([torch.from_numpy(np.asarray(i.convert("L"), dtype=np.float32))[None] / 127.5 - 1
                                 for i in items])
        v = F.adaptive_avg_pool2d(items.float().mean(1, keepdim=True), 8).flatten(1) + 1.5
        return F.normalize(v, dim=1).numpy()


def test_server_and_index_record_one_model_version(run, export, tmp_path):
    """The server's generated items and `mmgan index`'s items of one run share model_version, so a store
    filter on it finds both; an index of the run's export lands on the same version."""
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from mmgan.server.embed import PixelEmbedder
    from mmgan.server.generation import GenerateJob, ServedModel
    from mmgan.server.items import MemoryItemStore
    from mmgan.server.store_adapter import MilvusItemStore
    from mmgan.store import Store, index_run

    want = weights_digest(run)
    served = ServedModel("cond", Pipeline.from_pretrained(run, device="cpu"), str(run))
    assert served.version == want and served.info()["step"] == 3
    mem = MemoryItemStore(PixelEmbedder())
    [imgs] = served.run_batch([GenerateJob(n=2, seed=5, label=1, store=mem)])
    assert {imgs[0].provenance["model_version"], mem.get(imgs[0].id)["metadata"]["model_version"]} == {want}

    emb = _Pixels()
    store = Store.open(tmp_path / "store")
    store.create(emb.dim, emb.id)
    items = MilvusItemStore(store, emb, fsync=False)          # the server's store (close() closes both)
    try:
        served.run_batch([GenerateJob(n=2, seed=5, label=1, store=items)])
        index_run(store, emb, run, per_condition=1, progress=False, on_duplicate="keep")
        index_run(store, emb, export, per_condition=1, progress=False, on_duplicate="keep")
        store.flush()
        rows = list(store.iter_items('kind == "synthetic"', vectors=False))
        assert len(rows) == 2 + 4 + 4 and {r.model_version for r in rows} == {want}
        assert store.count(f'model_version == "{want}"') == len(rows)
    finally:
        items.close()

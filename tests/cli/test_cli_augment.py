"""`mmgan augment`: a labelled synthetic manifest with provenance that load_dataset and `mmgan train` read."""
from __future__ import annotations

import json

import pytest
from PIL import Image

from mmgan.api.augment import augment
from mmgan.cli import main
from mmgan.data import load_dataset
from mmgan.modalities.pixels import to_pil
from mmgan.pipeline import Pipeline
from mmgan.runs import weights_digest

FAST = ["--set", "train.progress=false", "--set", "train.tensorboard=false", "--set", "model.z_dim=8",
        "--set", "model.g_width=8", "--set", "model.d_width=8", "--set", "train.batch_size=8"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("augment")
    data = root / "digits"
    assert main(["data", "make", "digits", "--out", str(data), "-n", "60"]) == 0
    cond, plain = root / "cond", root / "plain"
    assert main(["train", "--data", str(data), "--set", "data.resolution=16", "--set", "condition=[label]", *FAST,
                 "--steps", "2", "--out", str(cond)]) == 0
    assert main(["train", "--data", str(data), "--set", "data.resolution=16", "--set", "model.condition=[]", *FAST,
                 "--steps", "2", "--out", str(plain)]) == 0
    return {"data": data, "cond": cond, "plain": plain}


def test_augment_writes_a_manifest_that_load_dataset_and_train_read(runs, tmp_path, capsys):
    out = tmp_path / "syn"
    assert main(["augment", str(runs["cond"]), "--per-class", "3", "--classes", "3,five", "--seed", "7",
                 "--no-features", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote 6 synthetic images" in printed and "exact-copy rate" in printed
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert [r["label"] for r in rows] == [3, 3, 3, 5, 5, 5]
    p = rows[4]["provenance"]
    assert p["run"] == str(runs["cond"]) and p["weights"] == weights_digest(runs["cond"])
    assert p["step"] == 2 and (p["seed"], p["draw"], p["position"], p["index"]) == (7 + 3, 3, 1, 4)
    pipe = Pipeline.from_pretrained(runs["cond"], device="cpu")
    again = pipe(labels=[5] * 3, num_images=3, seed=p["seed"], output_type="pt").tensor[1]
    assert (to_pil(again).tobytes() == Image.open(out / rows[4]["image"]).tobytes())
    ds = load_dataset(str(out))
    assert ds.columns["label"].tolist() == [3, 3, 3, 5, 5, 5] and ds.columns["image"].shape == (6, 1, 16, 16)
    assert ds.info.class_names[5] == "five"
    memo = json.loads((out / "memorisation.json").read_text())
    assert 0 <= memo["pixels"]["copy_rate"] <= 1 and memo["pixels"]["synthetic_nn"]["median"] > 0
    run = tmp_path / "on-synthetic"
    assert main(["train", "--data", str(out / "manifest.jsonl"), "--set", "condition=[label]", *FAST, "--steps", "1",
                 "--out", str(run)]) == 0


def test_balance_tops_up_each_class_to_the_largest(runs, tmp_path):
    real = load_dataset(str(runs["data"]))
    counts = real.columns["label"].bincount(minlength=10).tolist()
    r = augment(runs["cond"], tmp_path / "bal", balance=str(runs["data"]), features=False, log=lambda m: None)
    assert {int(k): v for k, v in r["counts"].items()} == {k: max(counts) - c for k, c in enumerate(counts)
                                                          if c < max(counts)}
    assert len(load_dataset(str(tmp_path / "bal"))) == sum(max(counts) - c for c in counts)


def test_named_errors(runs, tmp_path, capsys):
    with pytest.raises(SystemExit, match="not conditioned on labels"):
        main(["augment", str(runs["plain"]), "--per-class", "2", "--out", str(tmp_path / "a")])
    with pytest.raises(SystemExit, match="unknown class 'eleven'.*zero"):
        main(["augment", str(runs["cond"]), "--per-class", "2", "--classes", "eleven", "--out", str(tmp_path / "b")])
    with pytest.raises(SystemExit, match="--per-class N"):
        main(["augment", str(runs["cond"]), "--out", str(tmp_path / "c")])

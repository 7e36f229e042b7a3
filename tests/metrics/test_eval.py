"""`mmgan eval` on tiny trained runs: metrics.jsonl and report.html; metrics that need labels."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from helpers_metrics import one_thread  # noqa: F401  (autouse)
from mmgan.cli import main
from mmgan.metrics import evaluate
from mmgan.metrics.features import Recipe, feature_network_for
from mmgan.api.train import train
from mmgan.utils import read_jsonl

QUIET = ["train.progress=false", "train.tensorboard=false", "train.sample_every=1000", "train.ckpt_every=1000",
         "train.log_every=1"]
TINY = Recipe(steps=10, batch_size=32, width=4, feat_dim=16, bf16=False)


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ring") / "run"
    torch.set_num_threads(1)
    train(data="ring8", overrides=QUIET + ["model.family=mlp", "data.n=3000", "model.z_dim=8", "g_hidden=[32,32]",
                                           "d_hidden=[32,32]", "train.batch_size=64"],
          out=out, steps=10, log=lambda m: None)
    return out


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("digits")
    torch.set_num_threads(1)
    train(data="digits", overrides=QUIET + ["condition=[label]", "model.z_dim=8", "g_width=8", "d_width=8",
                                            "train.batch_size=32"], out=root / "run", steps=4, log=lambda m: None)
    from mmgan.data import load_dataset

    net = feature_network_for(load_dataset("digits", split="train"), load_dataset("digits", split="test"), TINY,
                              log=lambda m: None, cache=False)
    net.save(root / "features")
    return root / "run", root / "features"


def test_eval_cli_default_metrics_on_a_ring_run(ring_run, capsys):
    assert main(["eval", str(ring_run), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "modes" in printed and "fid2.5k" in printed and "report" in printed
    rows = read_jsonl(ring_run / "metrics.jsonl")
    assert [r["metric"] for r in rows] == ["modes", "fid2.5k", "pr2.5k", "dc2.5k"]
    modes = rows[0]
    assert set(modes["results"]) == {"modes", "hq_percent", "kl"} and 0 <= modes["results"]["modes"] <= 8
    assert modes["protocol"]["generated"] == 2500 and "reverse KL" in modes["protocol"]["kl"]
    assert rows[1]["protocol"]["reference"].startswith("ring8 train split (2500 of 3000")
    assert all(r["step"] == 10 and r["source"] == "eval" for r in rows)
    html = (ring_run / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2        # scatter over the modes + loss curves
    assert "src=\"http" not in html and "<table>" in html and "reverse KL" in html


def test_eval_cli_samples_override_and_unknown_metric(ring_run, capsys):
    assert main(["eval", str(ring_run), "--metrics", "fid10k,modes", "--samples", "600", "--quiet", "--no-report"]) == 0
    rows = read_jsonl(ring_run / "metrics.jsonl")
    assert [r["metric"] for r in rows[-2:]] == ["fid600", "modes600"]
    assert rows[-1]["protocol"]["generated"] == 600
    assert main(["eval", str(ring_run), "--metrics", "fidd10k", "--quiet"]) == 1
    assert "valid metrics" in capsys.readouterr().err


def test_eval_image_run_with_a_user_feature_network(digits_run, capsys):
    run, feats = digits_run
    metrics = "fid200,kid200,pr200,dc200,is200,cond_acc500,intra_fid200,diversity_ratio200,modes500,rprec"
    assert main(["eval", str(run), "--metrics", metrics, "--features", str(feats), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "rprec" in out and "skipped" in out                # label model: no text, so no R-precision
    rows = {r["metric"]: r for r in read_jsonl(run / "metrics.jsonl")}
    assert set(rows) == {"fid200", "kid200", "pr200", "dc200", "is200", "cond_acc500", "intra_fid200",
                         "diversity_ratio200", "modes500"}
    for r in rows.values():
        assert r["protocol"]["features"].startswith("mmgan-convnet-digits"), r["metric"]
    assert 1.0 <= rows["is200"]["results"]["is"] <= 10.0
    assert 0.0 <= rows["cond_acc500"]["results"]["cond_acc"] <= 1.0
    assert rows["cond_acc500"]["protocol"]["conditions"].startswith("balanced labels")
    assert len(rows["intra_fid200"]["protocol"]["per_class"]) == 10
    html = (run / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3        # generated grid, real grid, loss curves
    assert "skipped" in html and "intra_fid200" in html


def test_cas_trains_on_generated_and_on_real_in_the_same_run(digits_run):
    run, feats = digits_run
    ev = evaluate(run, metrics=["cas300"], features=feats, recipe=TINY, progress=False, report=False,
                  log=lambda m: None)
    res = ev["cas300"]
    assert set(res.values) == {"cas", "real_acc", "cas_ratio"}
    assert res.values["cas_ratio"] == pytest.approx(res.values["cas"] / res.values["real_acc"])
    assert "test split" in res.protocol["test"] and res.protocol["generated"] == 300


def test_unconditional_model_skips_conditional_metrics(ring_run):
    ev = evaluate(ring_run, metrics=["cond_acc", "cas", "intra_fid"], progress=False, report=False, log=lambda m: None)
    assert not ev.results and set(ev.skipped) == {"cond_acc", "cas", "intra_fid"}
    with pytest.raises(ValueError, match="label-conditioned"):
        evaluate(ring_run, metrics=["cond_acc"], progress=False, report=False, strict=True, log=lambda m: None)


def test_r_precision_with_a_toy_joint_space():
    from mmgan.metrics import r_precision

    class Toy:
        dim, id, modalities = 4, "toy", ("image", "text")

        def embed(self, modality, items):
            if modality == "image":                  # an image embeds where its class's caption does
                return np.eye(4)[np.asarray(items)]
            return np.eye(4)[[int(t.split()[-1]) for t in items]]

    labels = np.arange(40) % 4
    captions = [f"class {c}" for c in labels]
    pool = [f"class {c}" for c in range(4)] * 30
    perfect = r_precision(Toy(), labels, captions, pool, groups=labels, pool_groups=[c for c in range(4)] * 30)
    assert perfect["r_precision"] == 1.0 and perfect["r_precision_std"] == 0.0
    wrong = r_precision(Toy(), (labels + 1) % 4, captions, pool, groups=labels,
                        pool_groups=[c for c in range(4)] * 30)
    assert wrong["r_precision"] == 0.0
    with pytest.raises(ValueError):
        r_precision(Toy(), labels[:5], captions[:5], pool)
    assert json.dumps(perfect)


def test_users_manifest_gets_its_own_cached_feature_network(tmp_path, monkeypatch):
    from mmgan.data import load_dataset, write_manifest

    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path / "cache"))
    data = write_manifest(load_dataset("digits", n=120, seed=1), tmp_path / "mydigits")
    run = tmp_path / "run"
    train(data=str(data), overrides=QUIET + ["model.family=dcgan", "model.z_dim=8", "g_width=8", "d_width=8",
                                             "train.batch_size=16"], out=run, steps=2, log=lambda m: None)
    logs = []
    ev = evaluate(run, metrics=["fid100", "is100", "modes100"], recipe=TINY, progress=False, log=logs.append)
    assert [r.name for r in ev.results] == ["fid100", "is100", "modes100"]
    (folder,) = [p for p in (tmp_path / "cache" / "features").iterdir() if p.is_dir()]   # the feature network
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["data"]["n_train"] == 102 and "held out" in cfg["data"]["test"]   # no test split: 15% held out
    assert any("no test split" in m for m in logs)
    assert ev["fid100"].protocol["reference"].startswith(f"{cfg['data']['name']} train split")


def test_eval_an_exported_pipeline(ring_run, tmp_path):
    from mmgan.pipeline import Pipeline

    export = Pipeline.from_pretrained(ring_run, device="cpu").save_pretrained(tmp_path / "export")
    assert main(["eval", str(export), "--metrics", "modes", "--quiet"]) == 0
    (row,) = read_jsonl(export / "metrics.jsonl")
    assert row["metric"] == "modes" and row["checkpoint"] == str(export)
    assert (export / "report.html").exists()

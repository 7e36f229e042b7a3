"""Feature networks: trained in-project and cached, save/load round trip, users' TorchScript and Inception files."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from _tiny import image_dataset
from helpers_metrics import one_thread  # noqa: F401  (autouse)
from mmgan.data.base import DataInfo, MemoryDataset
from mmgan.metrics.features import (ConvFeatures, PerChannelFeatures, Recipe, VectorFeatures, feature_network_for,
                                    load_feature_network)
from mmgan.metrics.inception import InceptionV3

TINY = Recipe(steps=8, batch_size=16, width=4, feat_dim=16, bf16=False)
EASY = Recipe(steps=60, batch_size=32, width=8, feat_dim=16, bf16=False)


def _separable(n=96, seed=0) -> MemoryDataset:
    """Class c is a bright square in quadrant c: easy to learn in a few steps."""
    g = torch.Generator().manual_seed(seed)
    lab = torch.arange(n) % 4
    img = -torch.ones(n, 1, 12, 12) + 0.1 * torch.rand(n, 1, 12, 12, generator=g)
    for i, c in enumerate(lab.tolist()):
        r, q = divmod(c, 2)
        img[i, :, r * 6:r * 6 + 6, q * 6:q * 6 + 6] = 1.0
    info = DataInfo("quadrants", "image", (1, 12, 12), num_classes=4, class_names=list("abcd"))
    return MemoryDataset(info, {"image": img, "label": lab})


def test_trained_cached_and_reloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path))
    ds = _separable()
    logs = []
    net = feature_network_for(ds, _separable(40, seed=1), EASY,
                              log=logs.append)
    assert isinstance(net, ConvFeatures) and net.num_classes == 4 and net.num_features == 16
    assert net.info["test_accuracy"] >= 0.9
    folder = next((tmp_path / "features").iterdir())
    assert json.loads((folder / "config.json").read_text())["data"]["version"] == ds.info.version
    again = feature_network_for(ds, _separable(40, seed=1), EASY,
                                log=logs.append)
    assert sum("training" in m for m in logs) == 1               # the second call came from the cache
    x = ds.columns["image"][:10]
    a, b = net.extract(x), again.extract(x)
    np.testing.assert_allclose(a["features"], b["features"], rtol=1e-5, atol=1e-6)
    assert a["probs"].shape == (10, 4) and (a["labels"] == a["probs"].argmax(1)).all()


def test_no_labels_means_rotation_head_and_holdout(tmp_path, monkeypatch):
    monkeypatch.setenv("MMGAN_CACHE", str(tmp_path))
    ds = image_dataset(n=40)
    ds = MemoryDataset(DataInfo("unlabelled", "image", ds.info.shape), {"image": ds.columns["image"]})
    net = feature_network_for(ds, None, TINY, log=lambda m: None)
    assert net.num_classes == 0 and "rotation" in net.net.heads
    assert "held out" in net.info["data"]["test"]
    assert net.extract(ds.columns["image"][:3])["probs"] is None


def test_per_channel_network_labels_the_triple():
    base = ConvFeatures(__import__("mmgan.metrics.features", fromlist=["ConvNet"]).ConvNet(1, 12, {"label": 10}, 4, 8),
                        {"id": "t"})
    net = PerChannelFeatures(base)
    x = torch.rand(5, 3, 12, 12) * 2 - 1
    out = net.extract(x)
    assert out["features"].shape == (5, 24) and out["probs"].shape == (5, 1000)
    digits = base.extract(x.reshape(15, 1, 12, 12))["labels"].reshape(5, 3)
    np.testing.assert_array_equal(out["labels"], digits @ np.array([100, 10, 1]))
    np.testing.assert_allclose(out["probs"].sum(1), 1.0, rtol=1e-5)


def test_vector_features_label_the_nearest_mode():
    net = VectorFeatures(2, [[0, 0], [5, 5]])
    out = net.extract(torch.tensor([[0.1, -0.2], [4.0, 6.0]]))
    assert out["labels"].tolist() == [0, 1]


def test_user_torchscript_feature_network(tmp_path):
    class Net(torch.nn.Module):
        def forward(self, x):
            return x.float().mean(dim=(2, 3))          # (b, c) features
    path = tmp_path / "feat.pt"
    torch.jit.script(Net()).save(str(path))
    (tmp_path / "feat.json").write_text(json.dumps({"input": "uint8", "resolution": 16, "channels": 3}))
    net = load_feature_network(path)
    x = torch.full((2, 1, 8, 8), 1.0)                     # white, gray -> RGB, resized to 16
    np.testing.assert_allclose(net.extract(x)["features"], np.full((2, 3), 255.0))
    assert net.num_features == 3 and net.id.startswith("torchscript:feat.pt")


def test_user_inception_state_dict_in_torchvision_format(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    net = InceptionV3(num_classes=1008, fid=True).eval()
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(sd, str(tmp_path / "pt_inception.safetensors"))
    feats = load_feature_network(tmp_path / "pt_inception.safetensors")
    assert feats.num_features == 2048 and "pytorch-fid" in feats.variant
    x = torch.rand(1, 1, 28, 28) * 2 - 1
    out = feats.extract(x)
    assert out["features"].shape == (1, 2048) and out["probs"].shape == (1, 1008)
    with torch.no_grad():
        want = net.pool_features(torch.nn.functional.interpolate(x.repeat(1, 3, 1, 1), size=(299, 299),
                                                                 mode="bilinear", align_corners=False))
    np.testing.assert_allclose(out["features"], want.numpy(), rtol=1e-4, atol=1e-5)
    torch.save(sd, tmp_path / "pt_inception.pth")                  # a plain state dict, read weights-only
    assert load_feature_network(tmp_path / "pt_inception.pth").num_classes == 1008


def test_bad_feature_files_fail_clearly(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_feature_network(tmp_path / "missing.pt")
    p = tmp_path / "other.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(p))
    with pytest.raises(ValueError, match="Inception-v3"):
        load_feature_network(p)


def test_training_does_not_depend_on_the_callers_thread_count():
    """Feature nets and CAS classifiers train on a fixed thread count: a 2-core laptop and a 1-thread CI
    job cache the same network (before, 2 threads gave a different mnist classifier: 0.983 vs 0.990)."""
    from mmgan.metrics.features import train_convnet

    ds = _separable(256)
    x, y = ds.columns["image"].repeat(1, 1, 3, 3), {"label": ds.columns["label"]}      # 36 px: big enough to split
    recipe = Recipe(steps=12, batch_size=128, width=16, feat_dim=32, bf16=False)
    weights = []
    for threads in (2, 1):
        torch.set_num_threads(threads)
        net = train_convnet(x, y, {"label": 4}, recipe)
        assert torch.get_num_threads() == threads                  # the caller's setting is restored
        weights.append(torch.cat([p.detach().flatten() for p in net.parameters()]))
    assert torch.equal(weights[0], weights[1])

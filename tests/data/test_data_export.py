"""write_manifest round trips: what `mmgan data make NAME --out DIR` writes, load_dataset(DIR) reads back."""
import json

import pytest
import torch

from mmgan.data import load_dataset, write_manifest

ROUND = 1 / 255 + 1e-6     # PNG stores 8 bits: at most half a step of 2/255 in [-1, 1]


def same_data(a, b):
    assert list(a.columns) == list(b.columns)
    assert a.info.class_names == b.info.class_names and a.info.num_classes == b.info.num_classes
    assert a.info.attributes == b.info.attributes and a.info.name == b.info.name and a.info.kind == b.info.kind
    assert a.info.shape == b.info.shape
    for k in ("label", "attributes", "vector"):
        if k in a.columns:
            assert torch.equal(a.columns[k], b.columns[k]), k
    if "image" in a.columns:
        assert (a.columns["image"] - b.columns["image"]).abs().max() <= ROUND
    if "text" in a.columns:
        assert a.columns["text"] == b.columns["text"]


@pytest.mark.parametrize("name,n", [("mnist", 12), ("shapes", 12), ("ring8", 200), ("stacked-mnist", 5)])
def test_round_trip(tmp_path, name, n):
    ds = load_dataset(name, n=n, seed=3)
    manifest = write_manifest(ds, tmp_path / "out")
    assert manifest == tmp_path / "out" / "manifest.jsonl"
    back = load_dataset(str(tmp_path / "out"))
    same_data(ds, back)
    assert back.info.extra == ds.info.extra        # mixture means/sigma, shapes held-out list, ...
    assert back.info.root == str((tmp_path / "out").resolve())


def test_manifest_rows_are_readable(tmp_path):
    ds = load_dataset("shapes", n=3, seed=0)
    write_manifest(ds, tmp_path)
    rows = [json.loads(line) for line in (tmp_path / "manifest.jsonl").read_text().splitlines()]
    assert rows[0]["image"] == "images/000000.png" and set(rows[0]) == {"image", "label", "attributes", "text"}
    assert set(rows[0]["attributes"]) == {"shape", "color", "size", "position"}
    assert rows[0]["attributes"]["shape"] == ds.info.attributes["shape"][rows[0]["label"]]
    meta = json.loads((tmp_path / "dataset.json").read_text())
    assert meta["class_names"] == ds.info.class_names and "version" not in meta
    ring = load_dataset("ring8", n=10)
    write_manifest(ring, tmp_path / "ring")
    assert json.loads((tmp_path / "ring" / "manifest.jsonl").read_text().splitlines()[3]) == {
        "vector": 3, "label": int(ring.columns["label"][3])}


def test_skipped_rows_report_not_carried_over(tmp_path):
    src = tmp_path / "src"
    write_manifest(load_dataset("mnist", n=3), src)
    lines = (src / "manifest.jsonl").read_text().splitlines()
    (src / "manifest.jsonl").write_text("\n".join(lines + ['{"image": "images/none.png", "label": 1, "text": "x"}']))
    ds = load_dataset(str(src), skip_bad=True)
    assert ds.info.skipped == 1
    write_manifest(ds, tmp_path / "clean")
    clean = load_dataset(str(tmp_path / "clean"))
    assert "bad_rows" not in clean.info.extra and len(clean) == 3

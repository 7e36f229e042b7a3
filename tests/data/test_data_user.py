"""Users' data: image folders, manifests (.jsonl/.csv), and the bad-row report."""
import json

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from mmgan.data import BadRowsError, DataError, load_dataset


def png(path, size=(8, 8), mode="RGB", value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    color = value if mode == "L" else (value,) * len(mode)
    Image.new(mode, size, color).save(path)
    return path


def wav(path, frames=1600, sr=16000, amplitude=0.1):
    """A 440 Hz tone (amplitude 0: a silent clip; frames 0: an empty file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), (amplitude * np.sin(2 * np.pi * 440 * np.arange(frames) / sr)).astype(np.float32), sr)
    return path


def write_jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_folder_with_classes(tmp_path):
    for i in range(3):
        png(tmp_path / "dog" / f"{i}.png", value=200)
        png(tmp_path / "cat" / f"{i}.jpg", value=10)
    (tmp_path / "notes.txt").write_text("ignored")
    ds = load_dataset(str(tmp_path))
    assert ds.info.class_names == ["cat", "dog"] and ds.info.num_classes == 2
    assert ds.columns["label"].tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.columns["image"].shape == (6, 3, 8, 8) and ds.info.root == str(tmp_path.resolve())
    assert ds.columns["image"][3].min() > 0.5                     # the dogs are light
    assert load_dataset(str(tmp_path), resolution=4).info.shape == (3, 4, 4)
    assert len(load_dataset(str(tmp_path), n=4, seed=1)) == 4


def test_flat_folder_sizes_and_modes(tmp_path):
    png(tmp_path / "a.png", size=(8, 8))
    png(tmp_path / "b.png", size=(12, 6), mode="RGBA")          # RGBA counts as RGB
    with pytest.raises(DataError, match="data.resolution=64"):
        load_dataset(str(tmp_path))
    ds = load_dataset(str(tmp_path), resolution=6)
    assert "label" not in ds.columns and ds.info.shape == (3, 6, 6)


def test_manifest_jsonl_relative_paths_and_names(tmp_path):
    png(tmp_path / "img" / "a.png")
    png(tmp_path / "img" / "b.png")
    wav(tmp_path / "snd" / "a.wav")
    absolute = str(png(tmp_path / "elsewhere" / "c.png"))
    write_jsonl(tmp_path / "manifest.jsonl", [
        {"image": "img/a.png", "text": "a grey square", "label": "square", "audio": "snd/a.wav"},
        "",
        {"image": "img/b.png", "text": "another one", "label": "circle", "audio": "snd/a.wav"},
        {"image": absolute, "text": "third", "label": "square", "audio": str(tmp_path / "snd" / "a.wav")},
    ])
    for spec in (tmp_path, tmp_path / "manifest.jsonl"):
        ds = load_dataset(str(spec))
        assert ds.info.class_names == ["circle", "square"] and ds.columns["label"].tolist() == [1, 0, 1]
        assert ds.columns["text"] == ["a grey square", "another one", "third"]
        assert ds.columns["audio"] == [str(tmp_path / "snd" / "a.wav")] * 3
        assert ds.info.modalities == ["image", "label", "text", "audio"]


def test_manifest_csv(tmp_path):
    png(tmp_path / "x.png", mode="L")
    png(tmp_path / "y.png", mode="L")
    (tmp_path / "data.csv").write_text('image,text,label\nx.png,"a cat, sitting",3\ny.png,a dog,1\n')
    ds = load_dataset(str(tmp_path / "data.csv"))
    assert ds.columns["label"].tolist() == [3, 1] and ds.info.num_classes == 4
    assert ds.columns["text"][0] == "a cat, sitting" and ds.info.shape == (1, 8, 8)


def test_manifest_split_column(tmp_path):
    png(tmp_path / "a.png")
    write_jsonl(tmp_path / "manifest.jsonl", [{"image": "a.png", "split": s} for s in ("train", "test", "train")])
    assert len(load_dataset(str(tmp_path))) == 2 and len(load_dataset(str(tmp_path), split="test")) == 1
    assert len(load_dataset(str(tmp_path), split="all")) == 3


def bad_manifest(tmp_path):
    png(tmp_path / "ok.png")
    png(tmp_path / "gray.png", mode="L")
    (tmp_path / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    wav(tmp_path / "ok.wav")
    wav(tmp_path / "empty.wav", frames=0)
    (tmp_path / "bad.wav").write_bytes(b"RIFF not really a wave file")
    good = {"image": "ok.png", "text": "fine", "audio": "ok.wav", "label": 0}
    return write_jsonl(tmp_path / "manifest.jsonl", [
        good,                                          # 1
        {**good, "image": "missing.png"},              # 2
        {**good, "image": "corrupt.png"},              # 3
        {**good, "image": "gray.png"},                 # 4 grayscale among RGB
        {**good, "text": "   "},                       # 5
        {**good, "audio": "bad.wav"},                  # 6
        {**good, "audio": "empty.wav"},                # 7
        '{"image": "ok.png", "text": ',                # 8 not JSON
        {**good, "label": [1, 2]},                     # 9
        {**good, "text": None},                        # 10
        good, good,                                    # 11, 12
    ])


def test_bad_rows_refused_with_row_numbers(tmp_path):
    with pytest.raises(BadRowsError) as e:
        load_dataset(str(bad_manifest(tmp_path)))
    msg = str(e.value)
    for expected in ("row 2, image: file not found", "row 3, image: unreadable or corrupt image",
                     "row 4, image: grayscale image (1 channel) but the dataset is RGB", "row 5, text: empty caption",
                     "row 6, audio: unreadable audio", "row 7, audio: empty audio (0 frames)",
                     "row 8, row: not valid JSON", "row 9, label: unknown label type list",
                     "row 10, text: missing value", "--skip-bad", "9 bad rows out of 12", "line N"):
        assert expected in msg, (expected, msg)
    assert [b.row for b in e.value.bad_rows] == list(range(2, 11))


def test_bad_rows_skipped_and_counted(tmp_path):
    ds = load_dataset(str(bad_manifest(tmp_path)), skip_bad=True)
    assert len(ds) == 3 and ds.info.skipped == 9 and len(ds.info.extra["bad_rows"]) == 9
    assert ds.info.extra["bad_rows"][0] == {"row": 2, "column": "image", "problem": ds.info.extra["bad_rows"][0]["problem"]}
    # asking for grayscale makes the RGB rows the bad ones
    with pytest.raises(BadRowsError, match="row 1, image: RGB"):
        load_dataset(str(tmp_path), channels=1)


def test_all_bad_is_an_error_even_when_skipping(tmp_path):
    write_jsonl(tmp_path / "manifest.jsonl", [{"image": "nope.png"}, {"image": "nope2.png"}])
    with pytest.raises(BadRowsError, match="nothing is left"):
        load_dataset(str(tmp_path), skip_bad=True)


def test_long_report_is_capped(tmp_path):
    write_jsonl(tmp_path / "manifest.jsonl", [{"image": f"no{i}.png"} for i in range(60)])
    with pytest.raises(BadRowsError, match=r"\.\.\. and 10 more"):
        load_dataset(str(tmp_path))


def test_csv_bad_rows(tmp_path):
    png(tmp_path / "a.png")
    (tmp_path / "m.csv").write_text("image,text\na.png,hello\na.png,\nb.png,hi\na.png,x,extra\n")
    with pytest.raises(BadRowsError) as e:
        load_dataset(str(tmp_path / "m.csv"))
    msg = str(e.value)
    assert "row 2, text: missing value" in msg and "row 3, image: file not found" in msg
    assert "row 4, row: 3 cells but the header has 2" in msg and "header" in msg


def test_missing_image_column(tmp_path):
    write_jsonl(tmp_path / "manifest.jsonl", [{"label": 1, "attributes": {"shape": "circle"}}])   # captions alone: a text target
    with pytest.raises(DataError, match="no 'image' column.*columns found: label, attributes"):
        load_dataset(str(tmp_path))


def test_mixed_labels_and_unknown_split(tmp_path):
    png(tmp_path / "a.png")
    write_jsonl(tmp_path / "manifest.jsonl", [{"image": "a.png", "label": v} for v in ("cat", "dog", 3)])
    with pytest.raises(BadRowsError, match="row 3, label: label 3 is a number"):
        load_dataset(str(tmp_path))
    with pytest.raises(DataError, match="no 'split' column"):
        load_dataset(str(tmp_path), split="test", skip_bad=True)


def test_empty_and_unparsable_manifests(tmp_path):
    (tmp_path / "manifest.jsonl").write_text("\n\n")
    with pytest.raises(DataError, match="no data rows"):
        load_dataset(str(tmp_path))
    (tmp_path / "manifest.jsonl").write_text("not json\n[1, 2]\n")
    with pytest.raises(BadRowsError, match=r"row 2, row: expected a JSON object"):
        load_dataset(str(tmp_path))


def test_unknown_columns_warn(tmp_path):
    png(tmp_path / "a.png")
    write_jsonl(tmp_path / "manifest.jsonl", [{"image": "a.png", "caption": "typo for text"}])
    with pytest.warns(UserWarning, match="ignoring unknown columns \\['caption'\\]"):
        assert len(load_dataset(str(tmp_path))) == 1

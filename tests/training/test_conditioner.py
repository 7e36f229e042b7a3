"""training.conditioner on sound data: a text- (and label-) conditioned audio run fits its joint space with the
clips as hub and its fusion toward the clips' embeddings (before, the fusion asked for image features and stopped
with KeyError 'image'), lists the label once, and the trained run answers a text prompt."""
from __future__ import annotations

import torch

from _tiny import tone_manifest

TINY = ["train.minutes=0", "model.g_width=4", "model.d_width=4", "model.z_dim=8", "train.batch_size=8",
        "train.progress=false", "train.tensorboard=false", "train.sample_every=1000", "train.ckpt_every=1000",
        "model.condition=[label,text]", "model.extra.joint_steps=3", "model.extra.fusion_steps=3",
        "model.extra.joint_minutes=0"]


def test_text_and_label_conditioned_sound_run_binds_to_the_clips(tmp_path, capsys):
    from mmgan.api.train import train
    from mmgan.conditioning.joint import JointSpace
    from mmgan.pipeline import Pipeline

    manifest = tone_manifest(tmp_path / "clips", n=16, classes=2)
    train(data=str(manifest), overrides=TINY, out=tmp_path / "run", steps=2)
    cap = capsys.readouterr()
    lines = (cap.out + cap.err).splitlines()
    space = JointSpace.from_pretrained(tmp_path / "run" / "joint")
    assert space.hub == "audio" and set(space.modalities) == {"audio", "text", "label"}
    said = next(m for m in lines if "training the joint space on" in m)
    assert "on audio, " in said and said.count("label") == 1
    out = Pipeline.from_pretrained(tmp_path / "run", device="cpu")(text=["a high tone"], num_images=2, seed=0)
    assert len(out.objects) == 2 and torch.isfinite(torch.as_tensor(out.objects[0].waveform)).all()


def test_a_text_conditioned_sound_run_trains_the_acgan_classifier_on_the_data_labels(tmp_path):
    """model.acgan with a condition other than the label (here a caption; digits-say's is an image): D's classifier
    still learns the data's labels, and G is asked for the class its condition names."""
    import json

    from mmgan.api.train import train

    manifest = tone_manifest(tmp_path / "clips", n=16, classes=2)
    overrides = [o for o in TINY if not o.startswith("model.condition")]
    train(data=str(manifest), overrides=[*overrides, "model.condition=[text]", "model.acgan=true",
                                         "train.log_every=1"], out=tmp_path / "run", steps=2)
    logged = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    aux = [r["loss/D_aux"] for r in logged if "loss/D_aux" in r]
    assert aux and all(torch.isfinite(torch.tensor(a)) and a > 0 for a in aux)

"""Sound -> video on moving-digits-av and talking-shape: are the generated clips in sync with their sound, and do
they show what is heard?

    python bench/video_sync.py --run runs/bounce                                 # a mocogan run on moving-digits-av
    python bench/video_sync.py --data talking-shape --run runs/talking           # ... on talking-shape
    python bench/video_sync.py [--data D]                                        # the judges and the real rows only

Judges, trained in-project on the real training split only (mmgan.metrics.video_judges; cached):
  sync expert   SyncNet-style windows of 4 frames against the log-mels under them (aligned vs the same clip
                shifted by 2+ frames, and other clips' audio). LSE-D / LSE-C analogues and the audio-visual
                offset over +-6 frames (a 16-frame clip at 8 fps holds no more: the published +-15 frames are
                at 25 fps); offset accuracy = the offset found is 0 (and within one frame)
  frame judge   a 2-D CNN on single frames: moving-digits-av, the digit; talking-shape, the mouth's height
                (a regressor trained on the heights the frames were drawn with)
  clip judge    a 3-D CNN over whole clips (moving-digits-av: digit, start direction, first wall; talking-shape: the
                face's colour); its 128-D features give the clip Frechet distance (MoCoGAN's protocol with C3D),
                against the real-vs-real floor (the test split against the training split)
Rows (the first --clips test clips; their voices and MNIST digits are never seen in training):
  real              the real clips with their own sound (the ceiling)
  shifted audio     the real clips with the sound moved 3 frames later (a control that must fall)
  generated         the run's clips made from the test clips' sound (Pipeline, seed --seed)
  generated, seed+1 the same sound, another seed
  mismatched audio  the generated clips judged against another clip's sound (a control that must fall)
Content and motion, moving-digits-av: hit recall, the share of the sound's hits (onsets of a word) where the clip's
digit turns within one frame (centre of mass of the ink; mmgan.data.moving_digits.events), hit precision, the share
of the clip's turns within one frame of a hit, and the digit the frame judge reads against the digit spoken. talking-shape: mouth r, the correlation over all frames between the mouth
height the frame judge reads and the height the sound implies (mmgan.data.talking_shape.mouth_track: the rule the
real frames were drawn by). Writes --out/video_sync.json, --out/video_sync.md, a few MP4s (with their sound) and frame strips.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import log, machine, table  # noqa: E402

from mmgan.data import load_dataset  # noqa: E402
from mmgan.data.moving_digits import events  # noqa: E402
from mmgan.metrics import video_judges as vj  # noqa: E402
from mmgan.modalities import get_codec  # noqa: E402
from mmgan.pipeline import Pipeline  # noqa: E402

SHIFT = 3                 # frames the control's sound is moved by
KEEP = 4                  # MP4s written per row


def waves(paths: list[str], samples: int) -> torch.Tensor:
    return get_codec("audio").prepare_source(paths, {"sample_rate": 16000, "samples": samples})


def judges(train, fps: float, minutes: float, frame_targets: torch.Tensor) -> dict:
    v, w = train.columns["video"], waves(train.columns["audio"], int(train.info.extra["seconds"] * 16000))
    key = {"data": train.info.version, "side": int(v.shape[-1]), "minutes": minutes}
    names = list(train.info.attributes)
    a = train.columns["attributes"]
    sync = vj.cached("sync", key, lambda: vj.train_sync_expert(v, w, fps, minutes=minutes, log=log),
                     lambda c: vj.SyncExpert(**c))
    clip = vj.cached("clip", key, lambda: vj.train_clip_judge(v, {k: a[:, i] for i, k in enumerate(names)},
                                                                minutes=minutes, log=log),
                     lambda c: vj.ClipJudge(**c))
    frame = vj.cached("frame", key, lambda: vj.train_frame_judge(v, frame_targets, minutes=minutes, log=log),
                      lambda c: vj.FrameJudge(**c))
    return {"sync": sync, "clip": clip, "frame": frame}


def mouths(ds) -> torch.Tensor:
    """(n, t) the mouth heights (px at 64x64) talking-shape's clips were drawn with."""
    return torch.tensor(ds.info.extra["mouth"][:len(ds)], dtype=torch.float32)[..., 0]


def implied_mouths(wave: torch.Tensor) -> torch.Tensor:
    """(n, t) the mouth heights the sound implies (the drawing rule)."""
    from mmgan.data.talking_shape import mouth_track

    return torch.tensor(np.stack([mouth_track(w.numpy())[:, 0] for w in wave]), dtype=torch.float32)


def hit_timing(video: torch.Tensor, hits: list[list[int]]) -> tuple[float, float]:
    """(recall, precision): the share of the sound's hits where the clip's digit turns within one frame, and the
    share of the clip's turns that fall within one frame of a hit (a clip that jitters everywhere has recall and
    no precision)."""
    clean = torch.where(video > -0.5, video, torch.full_like(video, -1.0))    # a generator's faint haze is not ink
    found, _ = events(clean)
    recall = sum(any(abs(h - f) <= 1 for f in fs) for hs, fs in zip(hits, found) for h in hs)
    precision = sum(any(abs(h - f) <= 1 for h in hs) for hs, fs in zip(hits, found) for f in fs)
    return recall / max(1, sum(map(len, hits))), precision / max(1, sum(map(len, found)))


def row(name: str, j: dict, video: torch.Tensor, wave: torch.Tensor, truth: dict, ref_feats) -> dict:
    """truth: {"labels", "hits"} (moving-digits-av) or {"mouth": the heights the sound implies} (talking-shape)."""
    s = vj.sync_scores(j["sync"], video, wave)
    read = vj.frame_reading(j["frame"], video)
    _, feats = vj.clip_predictions(j["clip"], video)
    out = {"row": name, "lse_d": s["lse_d"], "lse_c": s["lse_c"], "offset_acc": s["offset_acc"],
           "offset_acc_1": s["offset_acc_1"], "clip_fd": vj.frechet(feats, ref_feats), "clips": len(video)}
    if "mouth" in truth:
        out["mouth_r"] = float(np.corrcoef(read.flatten().numpy(), truth["mouth"].flatten().numpy())[0, 1])
    else:
        out["frame_digit_acc"] = float((read == truth["labels"][:, None]).float().mean())
        out["hit_recall"], out["hit_precision"] = hit_timing(video, truth["hits"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="", help="a trained mocogan run folder (else the real rows only)")
    ap.add_argument("--data", default="moving-digits-av", choices=("moving-digits-av", "talking-shape"))
    ap.add_argument("--clips", type=int, default=400)
    ap.add_argument("--train-clips", type=int, default=0, help="real training clips the judges learn from (0: all)")
    ap.add_argument("--resolution", type=int, default=0, help="frame side (default: the run's, else 32)")
    ap.add_argument("--judge-minutes", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/out/video_sync")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    pipe = Pipeline.from_pretrained(args.run, device="cpu") if args.run else None
    side = args.resolution or (int(pipe.model_config["resolution"]) if pipe else 32)
    train = load_dataset(args.data, split="train", n=args.train_clips, resolution=side)
    test = load_dataset(args.data, split="test", n=args.clips, resolution=side)
    fps, samples = float(test.info.extra["fps"]), int(test.info.extra["seconds"] * 16000)
    talking = args.data == "talking-shape"
    j = judges(train, fps, args.judge_minutes, mouths(train) if talking else train.columns["label"])
    real, wave = test.columns["video"], waves(test.columns["audio"], samples)
    shifted = torch.roll(wave, SHIFT * samples // real.shape[1], dims=1)

    def truth(w: torch.Tensor, order: torch.Tensor, shift: int = 0) -> dict:
        """What the sound w says each clip should show (moving-digits-av: its digit and its hits, `shift` frames
        later for a shifted sound)."""
        if talking:
            return {"mouth": implied_mouths(w)}
        hits = test.info.extra["hits"][:len(test)]
        return {"labels": test.columns["label"][order],
                "hits": [[h + shift for h in hits[int(i)] if h + shift < real.shape[1]] for i in order]}

    same = torch.arange(len(test))
    preds, real_feats = vj.clip_predictions(j["clip"], real)
    _, train_feats = vj.clip_predictions(j["clip"], train.columns["video"])
    a = test.columns["attributes"]
    judge_acc = {k: float((preds[k] == a[:, i]).float().mean()) for i, k in enumerate(test.info.attributes)}
    if talking:
        judge_acc["mouth_r_real"] = float(np.corrcoef(vj.frame_reading(j["frame"], real).flatten().numpy(),
                                                      mouths(test).flatten().numpy())[0, 1])
    else:
        judge_acc["frame_digit"] = float((vj.frame_reading(j["frame"], real) == test.columns["label"][:, None])
                                         .float().mean())
    rows = [row("real", j, real, wave, truth(wave, same), train_feats),
            row(f"shifted audio (+{SHIFT} frames)", j, real, shifted, truth(shifted, same, SHIFT), train_feats)]
    made = {}
    if pipe is not None:
        paths = list(test.columns["audio"])
        for name, seed in (("generated", args.seed), ("generated, seed+1", args.seed + 1)):
            o = pipe(audio=paths, num_images=1, seed=seed, batch_size=32)
            made[name] = o
            rows.append(row(name, j, o.tensor, wave, truth(wave, same), train_feats))
        rows.append(row("generated, mismatched audio", j, made["generated"].tensor, wave.roll(1, 0),
                        truth(wave.roll(1, 0), same.roll(1)), train_feats))
        (out / "mp4").mkdir(exist_ok=True)
        for i, v in enumerate(made["generated"].video[:KEEP]):
            v.save(out / "mp4" / f"generated_{i}.mp4")
        codec = get_codec("video")
        codec.preview(made["generated"].tensor[:8], out / "generated.png", {}, title="generated from the test clips' sound")
        codec.preview(real[:8], out / "real.png", {}, title="real test clips (the same sound)")
    result = {"run": args.run, "side": side, "fps": fps, "judges": {
        "clip_judge_test_acc": judge_acc, "sync_steps": getattr(j["sync"], "steps_done", None),
        "real_vs_real_clip_fd": vj.frechet(real_feats, train_feats)}, "rows": rows,
        "seconds": round(time.time() - t0, 1), "machine": machine()}
    (out / "video_sync.json").write_text(json.dumps(result, indent=1))
    content = ["mouth_r"] if talking else ["frame_digit_acc", "hit_recall", "hit_precision"]
    md = table(["row", "LSE-D (lower: closer)", "LSE-C (higher: surer)", "offset acc", "offset acc +-1",
                *[c.replace("_", " ") for c in content], "clip FD", "clips"],
               [[r["row"], r["lse_d"], r["lse_c"], r["offset_acc"], r["offset_acc_1"], *[r[c] for c in content],
                 r["clip_fd"], r["clips"]] for r in rows])
    md += (f"\n\n{args.data}. Judges on the real test clips: " + ", ".join(f"{k} {v:.3f}" for k, v in judge_acc.items())
           + f"; clip FD real test vs real train {result['judges']['real_vs_real_clip_fd']:.3g} (the floor). "
           f"{side}x{side} frames, {fps:g} fps.\n")
    (out / "video_sync.md").write_text(md)
    print(md)
    log(f"done in {time.time() - t0:.0f}s; {out}")


if __name__ == "__main__":
    main()

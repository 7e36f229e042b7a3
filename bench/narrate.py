"""Text -> narrated video (`mmgan narrate`): does the face drawn from the generated speech move its mouth with it?

    python bench/narrate.py --speech-run runs/say --video-run runs/talking [--captions 40]

For --captions captions of shapes' test split (held-out combinations of the vocabulary the speech run learned
on spoken-shapes), mmgan.api.narrate says each caption with the speech run and draws
the talking face from that speech with the video run (window by window). The judges of bench/video_sync.py on
talking-shape (trained on real clips only; cached, the same key) read each 2-s window:
  mouth r      correlation over all frames between the mouth height the frame judge reads and the height the
               generated speech implies by talking-shape's drawing rule (talking_shape.mouth_track)
  offset acc   the sync expert's offset over +-6 frames is 0 (and within one frame)
  control      the same frames against the next window's speech (another caption's, or the same caption's next
               2 s): what chance looks like
Writes --out/narrate.json, narrate.md and a few narrated MP4s.
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
from video_sync import judges, mouths  # noqa: E402

from mmgan.api.narrate import narrate  # noqa: E402
from mmgan.data import load_dataset  # noqa: E402
from mmgan.data.talking_shape import mouth_track  # noqa: E402
from mmgan.metrics import video_judges as vj  # noqa: E402
from mmgan.modalities import get_codec  # noqa: E402
from mmgan.pipeline import Pipeline  # noqa: E402

KEEP = 4


def windows(story, frames: int, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A narration -> its whole windows: frames (w, t, c, h, w) and speech (w, samples), zero-padded at the end."""
    x = get_codec("video").from_object(story.video)
    n = story.windows
    pad = torch.cat([x, x[-1:].expand(n * frames - len(x), *x.shape[1:])]) if len(x) < n * frames else x[:n * frames]
    wave = np.zeros(n * window, np.float32)
    wave[: len(story.speech.waveform)] = story.speech.waveform
    return pad.view(n, frames, *x.shape[1:]), torch.from_numpy(wave).view(n, window)


def scores(j: dict, video: torch.Tensor, wave: torch.Tensor) -> dict:
    s = vj.sync_scores(j["sync"], video, wave)
    implied = torch.tensor(np.stack([mouth_track(w.numpy())[:, 0] for w in wave]), dtype=torch.float32)
    read = vj.frame_reading(j["frame"], video)
    return {"mouth_r": float(np.corrcoef(read.flatten().numpy(), implied.flatten().numpy())[0, 1]),
            "offset_acc": s["offset_acc"], "offset_acc_1": s["offset_acc_1"], "windows": len(video)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--speech-run", required=True)
    ap.add_argument("--video-run", required=True)
    ap.add_argument("--captions", type=int, default=40)
    ap.add_argument("--judge-minutes", type=float, default=3.0, help="the judges' key (bench/video_sync.py's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/out/narrate")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    (out / "mp4").mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    speech, video = Pipeline.from_pretrained(args.speech_run, device="cpu"), Pipeline.from_pretrained(args.video_run, device="cpu")
    side = int(video.model_config["resolution"])
    train = load_dataset("talking-shape", split="train", resolution=side)
    j = judges(train, float(train.info.extra["fps"]), args.judge_minutes, mouths(train))
    captions = list(load_dataset("shapes", split="test", n=args.captions).columns["text"])
    frames, window = int(video.model_config["extra"]["video"]["frames"]), int(video.conditioner.source["samples"])
    vids, waves, seconds = [], [], []
    for i, text in enumerate(captions):
        story = narrate(text, speech, video, seed=args.seed + i)
        v, w = windows(story, frames, window)
        vids.append(v), waves.append(w), seconds.append(story.seconds)
        if i < KEEP:
            story.save(out / "mp4" / f"narrated_{i}.mp4")
    video_w, wave_w = torch.cat(vids), torch.cat(waves)
    rows = [{"row": "narrated: the face against its own speech", **scores(j, video_w, wave_w)},
            {"row": "control: the same frames against the next window's speech", **scores(j, video_w, wave_w.roll(1, 0))}]
    result = {"speech_run": args.speech_run, "video_run": args.video_run, "captions": len(captions),
              "mean_seconds": float(np.mean(seconds)), "rows": rows, "seconds": round(time.time() - t0, 1),
              "machine": machine()}
    (out / "narrate.json").write_text(json.dumps(result, indent=1))
    md = table(["row", "mouth r", "offset acc", "offset acc +-1", "2-s windows"],
               [[r["row"], r["mouth_r"], r["offset_acc"], r["offset_acc_1"], r["windows"]] for r in rows])
    md += f"\n\n{len(captions)} shapes test captions, {np.mean(seconds):.2f} s of speech on average.\n"
    (out / "narrate.md").write_text(md)
    print(md)
    log(f"done in {time.time() - t0:.0f}s; {out}")


if __name__ == "__main__":
    main()

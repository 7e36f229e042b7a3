"""`mmgan narrate`: text -> a narrated video (speech from a text -> speech run, frames drawn from that speech).

    mmgan narrate "a small red circle at the top" --out story.mp4 --speech-run runs/tts --video-run runs/talking
Writes story.mp4 (H.264 with the speech as AAC), story.gif, story.wav and story.png (the frames, time left to
right). Without --speech-run / --video-run it uses the built-in defaults: the presets ttsgan-spoken-shapes and
mocogan-talking-shape, trained once into <cache>/narrate/ (--train-minutes each, with progress) and reused.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from .commands import COMMANDS
from ..api.narrate import narrate
from ..api.train import train
from ..modalities import get_codec
from ..pipeline import Pipeline
from ..runs import latest_checkpoint

DEFAULTS = {"speech": "ttsgan-spoken-shapes", "video": "mocogan-talking-shape"}


def _add(sub) -> None:
    p = sub.add_parser("narrate", help="text -> narrated video: speech from a text->speech run, frames drawn from it",
                       description="Say TEXT with a text->speech run, draw the frames from that speech with a "
                                   "sound->video run, and mux them into one MP4.")
    p.add_argument("text", help="what to say")
    p.add_argument("--out", required=True, help="the MP4 to write (a .gif, .wav and .png are written beside it)")
    p.add_argument("--speech-run", default="", help=f"a text->speech run (default: the preset {DEFAULTS['speech']}, "
                                                    f"trained once into <cache>/narrate/speech)")
    p.add_argument("--video-run", default="", help=f"a sound->video run (default: the preset {DEFAULTS['video']}, "
                                                   f"trained once into <cache>/narrate/video)")
    p.add_argument("--train-minutes", type=float, default=10.0,
                   help="minutes each built-in default trains for, the first time only (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")


def default_run(kind: str, minutes: float) -> Path:
    """The built-in default run of `kind` (speech, video): trained the first time, reused after."""
    folder = (Path(os.environ.get("MMGAN_CACHE") or ".mmgan-cache") / "narrate" / kind).resolve()
    if latest_checkpoint(folder) is not None:
        return folder
    print(f"no --{kind}-run: training the built-in default (preset {DEFAULTS[kind]}, {minutes:g} min) into {folder}; "
          f"later calls reuse it", file=sys.stderr)
    train(config=DEFAULTS[kind], out=str(folder), minutes=minutes)
    return folder


def _run(args) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".mp4":
        raise SystemExit(f"--out {out}: narrate writes an .mp4 (a .gif, .wav and .png beside it)")
    speech = Pipeline.from_pretrained(args.speech_run or default_run("speech", args.train_minutes), device=args.device)
    video = Pipeline.from_pretrained(args.video_run or default_run("video", args.train_minutes), device=args.device)
    story = narrate(args.text, speech, video, seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    story.save(out)
    story.save(out.with_suffix(".gif"))
    story.speech.save(out.with_suffix(".wav"))
    frames = get_codec("video").from_object(story.video)
    get_codec("video").preview(frames[None], out.with_suffix(".png"), {}, title=f'"{args.text}"')
    print(f"wrote {out} ({story.seconds:.2f} s, {len(story.video.frames)} frames at {story.video.fps:g} fps, "
          f"{story.windows} clip(s) of the video run joined), {out.with_suffix('.gif')}, {out.with_suffix('.wav')}, "
          f"{out.with_suffix('.png')}", file=sys.stderr)
    return 0


COMMANDS["narrate"] = (_add, _run)

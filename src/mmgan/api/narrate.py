"""narrate(): text -> narrated video, the audio-visual narrative pipeline (a text encoder, a GAN that speaks, a GAN
that draws the frames from that speech, and the two muxed).

    story = narrate("a small red circle at the top", speech=Pipeline.from_pretrained("runs/tts"),
                    video=Pipeline.from_pretrained("runs/talking"), seed=0)
    story.save("story.mp4")                      # H.264 + the speech as AAC; story.video is a Video

1. speech: the speech run (a text -> audio model: ttsgan, specgan with a text condition) says the text; trailing
   silence is cut after the last sound (quieter than SILENCE of the clip's peak), keeping TAIL seconds.
2. frames: the video run (a model that reads sound raw: mocogan) draws clips of its own length (model.extra.source
   samples, e.g. 2 s); longer speech is cut into consecutive windows of that length (the last zero-padded), each drawn
   with the same latent (one content: the same face or digit throughout), and the clips are joined in time.
3. the frames and the whole speech are muxed (the video codec's Video: .save("x.mp4" | "x.gif")).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..modalities import get_codec
from ..modalities.audio import SAMPLE_RATE, Sound
from ..modalities.video import Video
from ..pipeline import Pipeline

SILENCE = 0.01          # trailing samples below this share of the peak are silence
TAIL = 0.25             # seconds of silence kept after the last sound


@dataclass
class Narration:
    text: str
    speech: Sound                  # what was said (trimmed)
    video: Video                   # the frames with the speech as their sound track
    windows: int                   # how many of the video model's clips were joined

    @property
    def seconds(self) -> float:
        return self.speech.seconds

    def save(self, path: str | Path) -> Path:
        """The narrated clip as .mp4 (with sound) or .gif (frames only)."""
        return self.video.save(path)


def trim_tail(wave: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """The clip up to TAIL seconds after its last sample louder than SILENCE of its peak."""
    loud = np.flatnonzero(np.abs(wave) > SILENCE * float(np.abs(wave).max() or 1.0))
    if not len(loud):
        raise ValueError("the speech run made a silent clip: nothing to narrate")
    return wave[: min(len(wave), int(loud[-1]) + 1 + int(TAIL * rate))]


def check_runs(speech: Pipeline, video: Pipeline) -> None:
    if speech.target != "audio" or "text" not in speech.modalities:
        raise ValueError(f"the speech run must make audio from text; it makes {speech.target} from "
                         f"{speech.modalities or 'nothing'} (train one: mmgan train --config ttsgan-spoken-shapes)")
    source = (getattr(video.conditioner, "source", None) or {}).get("modality")
    if video.target != "video" or source != "audio":
        raise ValueError(f"the video run must draw video from sound; it makes {video.target} from "
                         f"{source or video.modalities or 'nothing'} (train one: mmgan train --config mocogan-talking-shape)")


@torch.no_grad()
def narrate(text: str, speech: Pipeline, video: Pipeline, seed: int = 0, voice=None) -> Narration:
    """Say `text` with the speech run and draw it with the video run (see the module docstring)."""
    text = str(text).strip()
    if not text:
        raise ValueError("nothing to narrate: the text is empty")
    check_runs(speech, video)
    said = speech(text=text, seed=seed, **({"voice": voice} if voice is not None else {})).audio[0]
    if said.sample_rate != SAMPLE_RATE:
        raise ValueError(f"the speech run made {said.sample_rate} Hz audio; the video run reads {SAMPLE_RATE} Hz")
    wave = trim_tail(np.asarray(said.waveform, np.float32))
    window = int(video.conditioner.source["samples"])
    n = max(1, math.ceil(len(wave) / window))
    padded = np.zeros(n * window, np.float32)
    padded[: len(wave)] = wave
    z = torch.randn(1, int(video.model_config["z_dim"]), generator=torch.Generator().manual_seed(int(seed)))
    out = video(audio=torch.from_numpy(padded).view(n, window), z=z.repeat(n, 1), num_images=1, output_type="pt")
    frames = out.tensor.flatten(0, 1)                                         # (n * t, c, h, w): windows joined
    codec = get_codec("video")
    clip = codec.dress([codec.to_object(frames)], video.model_config, {})[0]     # at the run's frame rate
    keep = max(1, round(len(wave) / SAMPLE_RATE * clip.fps))                 # frames while the speech lasts
    clip = Video(clip.frames[:keep], clip.fps, Sound(wave, SAMPLE_RATE))
    return Narration(text, Sound(wave, SAMPLE_RATE), clip, n)

"""The audio codec: sound as an output modality.

Data units are waveforms: (samples,) float32 in [-1, 1], mono, at 16 kHz. A dataset's
`audio` column holds file paths (any rate, mono or stereo, any length; what libsndfile reads); as a
target they are read by one rule: mixed to mono, resampled to 16 kHz (every audio model runs at
16 kHz), then cut at the end or zero-padded at the end to the clip length. The clip length is
the data's `seconds` (built-ins) or else the median duration of its clips rounded up to a quarter
second, at most MAX_SECONDS; model.extra.clip_seconds (specgan, ttsgan) sets it instead (sentences whose
tail the median would cut). A manifest cell that is missing, unreadable, empty or silent (peak below
SILENT) is a bad row like any other.

What generators make (their units) depends on the family:
  mel    specgan, ttsgan: the clip's log-mel picture, (1, 64, 64) in [-1, 1] (MelSpec: 64 bands x 64 frames
         by default, model.extra.mel_side sets both; dB
         over a fixed range whose top is the data's loudest bins), turned back into a waveform by
         Griffin-Lim, or by a trained vocoder when model.extra.vocoder names a hifigan run
         (mmgan.modalities.vocoder; `mmgan generate RUN --vocoder VOCODER` attaches one to a saved run)
  wave   WAVE_FAMILIES (wavegan, the hifigan vocoder): the waveform itself, (1, samples) in [-1, 1]
model.extra.mel is set for both (a vocoder reads its input mels with it).
Generated objects are `Sound`s: (waveform, sample_rate) with .save(path).
generate writes one 16-bit PCM WAV per sample and a spectrogram sheet; the server returns WAV bytes.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ..config import ConfigError
from ..plots import spectrogram_sheet
from .base import CellError, Codec, Column, ColumnReader, Figure, ReadOptions, cell_path, register_codec
from .sound import MelSpec, fit_length, read_wave, resample, wav_bytes, write_wav
from .vocoder import cached_vocoder, check_compatible, vocode

SAMPLE_RATE = 16000           # every audio model reads, makes and writes clips at this rate
MAX_SECONDS = 4.0             # the longest clip length chosen from the data
MAX_SOURCE_SECONDS = 20.0     # the longest clip a family reading audio raw takes (longer ones are cut)
SILENT = 1e-4                 # a clip whose peak is below this is silent (a bad row)
SIDE = 64                     # mel bands and frames of the generator's picture
WAVE_FAMILIES = ("wavegan", "hifigan")   # families whose units are waveforms; the others draw log-mels


class Sound(NamedTuple):
    """One generated clip: mono float32 samples in [-1, 1] and their rate."""
    waveform: np.ndarray
    sample_rate: int

    def save(self, path: str | Path) -> Path:
        """Write a mono 16-bit PCM WAV (atomic); returns the path."""
        return write_wav(path, self.waveform, self.sample_rate)

    @property
    def seconds(self) -> float:
        return len(self.waveform) / self.sample_rate

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """np.asarray(sound) is its samples (what a stored clip's content id hashes, as pixels do for images)."""
        x = np.asarray(self.waveform, dtype=dtype)
        return x.copy() if copy else x


@register_codec
class AudioCodec(Codec):
    name = "audio"
    attribute = "audio"
    media_type = "audio/wav"
    store_asset = "audio.wav"         # the server stores generated clips where the store's embedder reads audio
    families = ("specgan", "ttsgan") + WAVE_FAMILIES
    rank = 2                          # images first: shapes with spoken captions still generates images
    preview_count = 40
    bf16_auto = True
    channels_last = True              # specgan's units are (b, 1, mels, frames) pictures; wave units are
                                      # (b, 1, samples), which memory formats leave as they are (4-D only)
    preset = "specgan-spoken-digits"  # what `mmgan train` on sound with no family trains (training.recipes)

    # ---- tensors <-> objects ----------------------------------------------------------------------
    def to_object(self, x: torch.Tensor) -> Sound:
        return Sound(x.detach().float().cpu().numpy().reshape(-1), SAMPLE_RATE)

    def from_object(self, obj: Any) -> torch.Tensor:
        """A Sound, a (waveform, rate) pair, a path or a 1-D array (at 16 kHz) -> (samples,) at 16 kHz."""
        if isinstance(obj, (str, Path)):
            return torch.from_numpy(read_wave(obj, SAMPLE_RATE))
        if isinstance(obj, tuple) and len(obj) == 2:
            return torch.from_numpy(resample(np.asarray(obj[0], np.float32).reshape(-1), int(obj[1]), SAMPLE_RATE))
        return torch.as_tensor(np.asarray(obj, dtype=np.float32)).reshape(-1)

    def item_shape(self, column: Any) -> tuple:
        if torch.is_tensor(column):
            return tuple(column.shape[1:])
        return (int(round(clip_seconds(column) * SAMPLE_RATE)),)

    def collate(self, items: list) -> Any:
        return list(items)

    # ---- the generator's units ----------------------------------------------------------------------
    @staticmethod
    def spec(model: Mapping) -> MelSpec:
        extra = model.get("extra") or {}
        if "mel" not in extra:
            raise ConfigError("this audio model's config has no model.extra.mel (the log-mel settings); "
                              "it was not configured for audio data")
        return MelSpec.from_dict(extra["mel"])

    def waveforms(self, column: Any, spec: MelSpec) -> torch.Tensor:
        """A column (paths, or a (n, samples) tensor) -> (n, samples) waveforms at the spec's rate and length."""
        if torch.is_tensor(column):
            x = column.float()
            if x.dim() != 2:
                raise ValueError(f"audio tensors are (n, samples), got shape {tuple(x.shape)}")
            return _fit(x, spec.samples)
        return torch.from_numpy(np.stack([fit_length(self._read(p, spec.sample_rate), spec.samples)
                                          for p in column])) if len(column) else torch.zeros(0, spec.samples)

    def data_tensor(self, column: Any, model: Mapping) -> torch.Tensor:
        """Paths (or Sounds, arrays) -> (n, samples) waveforms at the model's rate and clip length."""
        return self.waveforms(column, self.spec(model))

    def _read(self, item: Any, sample_rate: int) -> np.ndarray:
        """A path, Sound, (waveform, rate) pair or 1-D array -> float32 samples at sample_rate."""
        if isinstance(item, (str, Path)):
            return read_wave(item, sample_rate)
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"clips given as arrays are taken at {SAMPLE_RATE} Hz; this model reads {sample_rate} Hz")
        return self.from_object(item).numpy()

    @staticmethod
    def units(model: Mapping) -> str:
        """"wave" for the families that make waveforms, else "mel"."""
        return "wave" if model.get("family") in WAVE_FAMILIES else "mel"

    def to_generator(self, x: Any, model: Mapping) -> torch.Tensor:
        spec = self.spec(model)
        w = self.waveforms(x, spec)
        if self.units(model) == "wave":
            return w[:, None]
        return torch.cat([spec.encode(w[i:i + 512]) for i in range(0, len(w), 512)]) if len(w) else \
            torch.zeros(0, 1, spec.n_mels, spec.frames)

    def from_generator(self, x: torch.Tensor, model: Mapping) -> torch.Tensor:
        spec = self.spec(model)
        if self.units(model) == "wave":
            return x.float().reshape(len(x), -1)[:, : spec.samples]
        vocoder = (model.get("extra") or {}).get("vocoder")
        if vocoder:
            return vocode(vocoder, x, spec)
        return torch.cat([spec.decode(x[i:i + 256].float().cpu()) for i in range(0, len(x), 256)]) if len(x) else \
            torch.zeros(0, spec.samples)

    # ---- as a source a family reads raw (mmgan.conditioning.source) ----------------------------------------
    def source_spec(self, column: Any) -> dict:
        """Clips at SAMPLE_RATE, cut or padded to the column's longest clip (rounded up to 0.25 s, at most
        MAX_SOURCE_SECONDS): a family reading clips raw (a recogniser) must hear all of each one."""
        samples = int(column.shape[1]) if torch.is_tensor(column) else \
            int(round(clip_seconds(column, np.max, MAX_SOURCE_SECONDS) * SAMPLE_RATE))
        return {"sample_rate": SAMPLE_RATE, "samples": samples}

    def prepare_source(self, items: Any, spec: Mapping) -> torch.Tensor:
        """Paths, Sounds, (waveform, rate) pairs, 1-D arrays or an (n, samples) tensor -> (b, samples)
        waveforms at spec's rate, cut or zero-padded at the end to spec's length."""
        if torch.is_tensor(items):
            x = items.float()
            return _fit(x[None] if x.dim() == 1 else x, int(spec["samples"]))
        one = isinstance(items, (str, Path)) or hasattr(items, "_fields") or getattr(items, "ndim", 2) == 1
        items = [items] if one else list(items)
        for it in items:
            if isinstance(it, (str, Path)) and not Path(it).is_file():
                raise FileNotFoundError(f"audio not found: {it}")
        rate, samples = int(spec["sample_rate"]), int(spec["samples"])
        return torch.from_numpy(np.stack([fit_length(self._read(it, rate), samples) for it in items]))

    # ---- config ---------------------------------------------------------------------------------------
    def configure(self, cfg: Any, ds: Any) -> None:
        super().configure(cfg, ds)
        m = cfg.model
        samples = int(ds.info.shape[0])
        seconds = float(m.extra.get("clip_seconds") or 0)     # specgan's and ttsgan's option: longer than the median
        if seconds:
            if not 0.25 <= seconds <= MAX_SOURCE_SECONDS:
                raise ConfigError(f"model.extra.clip_seconds={seconds}: clips of 0.25 to {MAX_SOURCE_SECONDS:g} s")
            samples = int(round(seconds * SAMPLE_RATE))
        if "mel" not in m.extra:
            side = int(m.extra.get("mel_side", SIDE))          # specgan's and ttsgan's option
            m.extra["mel"] = self.fitted_spec(ds.columns[self.name], samples, side).to_dict()
        spec = MelSpec.from_dict(m.extra["mel"])
        if self.units({"family": m.family}) == "wave":
            m.channels, m.resolution, m.data_dim = 1, 0, spec.samples
        else:
            m.channels, m.resolution = 1, spec.n_mels
        if m.extra.get("vocoder"):
            m.extra["vocoder"] = self.check_vocoder(m.extra["vocoder"], spec)
        if cfg.data.resolution and cfg.data.resolution != spec.n_mels:
            raise ConfigError(f"data.resolution={cfg.data.resolution}: audio models draw {spec.n_mels}x{spec.frames} "
                              f"log-mel pictures; leave data.resolution unset")
        if cfg.loss.diffaug and self.units({"family": m.family}) == "wave":
            raise ConfigError(f"loss.diffaug={cfg.loss.diffaug!r}: DiffAugment moves and masks pictures; {m.family} "
                              f"makes waveforms (wavegan's D has phase shuffle instead); set loss.diffaug=''")
        if cfg.loss.diffaug and "color" in str(cfg.loss.diffaug):
            raise ConfigError(f"loss.diffaug={cfg.loss.diffaug!r}: colour augmentation does not fit spectrograms; "
                              f"use translation or cutout, or ''")

    def fitted_spec(self, column: Any, samples: int, side: int = SIDE) -> MelSpec:
        """MelSpec.for_clip(samples, side) whose top_db sits at the column's loudest bins: the 95th percentile
        of the first 256 clips' loudest bin, rounded up to 5 dB."""
        spec = MelSpec.for_clip(SAMPLE_RATE, samples, side)
        pick = column[: 256] if torch.is_tensor(column) else list(column)[: 256]
        loud = spec.db(self.waveforms(pick, spec)).amax(dim=(1, 2))                # each clip's loudest bin
        top = float(np.ceil(float(torch.quantile(loud, 0.95)) / 5) * 5)             # rounded up to 5 dB
        return MelSpec.for_clip(SAMPLE_RATE, samples, side, top_db=top)

    def check_model(self, model: Mapping) -> dict:
        """A vocoder given for generation (model.extra.vocoder) must load and read these mels; its path
        becomes absolute."""
        vocoder = (model.get("extra") or {}).get("vocoder")
        if not vocoder:
            return dict(model)
        return {**model, "extra": {**model["extra"], "vocoder": self.check_vocoder(vocoder, self.spec(model))}}

    def check_vocoder(self, path: str, spec: MelSpec) -> str:
        """model.extra.vocoder: a hifigan run whose mels match spec; returned as an absolute path (so the run
        finds it from any folder)."""
        try:
            check_compatible(cached_vocoder(path).spec, spec, str(path))
        except (FileNotFoundError, ValueError) as e:
            raise ConfigError(f"model.extra.vocoder: {e}") from None
        return str(Path(path).resolve())

    # ---- manifests ------------------------------------------------------------------------------------
    def reader(self, opts: ReadOptions) -> ColumnReader:
        return _AudioReader(self, opts)

    def write_column(self, column: Any, folder: Path) -> list:
        """Clips as WAV files under folder/audio/ (paths are copied as read: 16 kHz mono PCM16)."""
        (Path(folder) / "audio").mkdir(parents=True, exist_ok=True)
        cells = []
        for i, item in enumerate(column):
            name = f"audio/{i:06d}.wav"
            x = read_wave(item, SAMPLE_RATE) if isinstance(item, (str, Path)) else np.asarray(item, np.float32)
            Path(folder, name).write_bytes(wav_bytes(x, SAMPLE_RATE))   # not fsynced one by one: the manifest is last
            cells.append(name)
        return cells

    # ---- outputs --------------------------------------------------------------------------------------
    def write(self, objects: list, x: torch.Tensor, folder: Path, info: Mapping) -> list[Path]:
        written = [obj.save(Path(folder) / f"{i:05d}.wav") for i, obj in enumerate(objects)]
        written.append(self.preview(x, Path(folder) / "spectrograms.png", info,
                                    title=f"{info.get('name', '')}: {len(objects)} generated clips"))
        return written

    def preview(self, x: Any, path: Path, info: Mapping, title: str = "", real: Any = None) -> Path:
        """A sheet of the clips' log-mel spectrograms (x: (n, samples) waveforms or a column of paths)."""
        w = x if torch.is_tensor(x) else self.waveforms(list(x), MelSpec.for_clip(SAMPLE_RATE, int(info["shape"][0])))
        spec = MelSpec.for_clip(SAMPLE_RATE, w.shape[-1], SIDE)
        return spectrogram_sheet(spec.db(w.float()).numpy(), path, title=title, seconds=w.shape[-1] / SAMPLE_RATE)

    def report_figures(self, fake: torch.Tensor, real: Any, info: Mapping, name: str) -> list[Figure]:
        return [Figure(self._preview_png(fake, info), "generated clips: log-mel spectrograms (EMA generator)"),
                Figure(self._preview_png(real, info), f"real clips ({name} training split)")]

    def tensorboard(self, writer: Any, x: torch.Tensor, step: int) -> None:
        for i, w in enumerate(x[:4]):
            writer.add_audio(f"samples/{i}", w.float().clamp(-1, 1)[None], step, sample_rate=SAMPLE_RATE)

    def response(self, obj: Sound) -> dict:
        return {"wav": wav_bytes(obj.waveform, obj.sample_rate), "seconds": round(obj.seconds, 3),
                "sample_rate": obj.sample_rate}


class _AudioReader(ColumnReader):
    """Checks each clip as it is read (readable, not empty, not silent); the column stays paths."""

    def read(self, value: Any) -> str:
        import soundfile as sf

        p = cell_path(value, self.opts.folder)
        if not p.is_file():
            raise CellError(f"file not found: {p}")
        try:
            x, _ = sf.read(str(p), dtype="float32", always_2d=True)
        except Exception as e:  # soundfile raises LibsndfileError/RuntimeError for unknown or broken files
            raise CellError(f"unreadable audio {p} ({type(e).__name__}: {e})") from None
        if x.shape[0] == 0:
            raise CellError(f"empty audio (0 frames): {p}")
        peak = float(np.abs(x).max())
        if not np.isfinite(peak):
            raise CellError(f"audio holds NaN or infinite samples: {p}")
        if peak < SILENT:
            raise CellError(f"silent audio (peak {peak:.1e} < {SILENT:g}): {p}")
        return str(p)

    def collate(self, cells: Mapping[int, str]) -> Column:
        rows = sorted(cells)
        return Column([cells[r] for r in rows], {r: i for i, r in enumerate(rows)})


def clip_seconds(paths: Any, stat: Any = np.median, cap: float = MAX_SECONDS) -> float:
    """The clip length for a column of files: the median (stat) duration rounded up to 0.25 s, at most cap
    (durations of up to 500 files spread over the column)."""
    import soundfile as sf

    items = list(paths)
    if not items:
        return 1.0
    step = max(1, len(items) // 500)
    durations = []
    for p in items[::step]:
        try:
            info = sf.info(str(p))
            durations.append(info.frames / info.samplerate)
        except Exception:            # unreadable files were reported by the reader
            continue
    if not durations:
        return 1.0
    return float(min(cap, max(0.25, np.ceil(stat(durations) * 4) / 4)))


def _fit(x: torch.Tensor, samples: int) -> torch.Tensor:
    return x[:, :samples] if x.shape[1] >= samples else torch.nn.functional.pad(x, (0, samples - x.shape[1]))

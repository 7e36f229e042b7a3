"""recognizer: speech -> characters, a CTC model (Graves et al. 2006) for transcripts and subtitles.

Not a GAN: G is the recogniser, D an empty stand-in (the trainer's loop and checkpoints stay as they
are); the phases "ctc" (mmgan.losses.ctc) own the step: CTC loss on speech perturbed on the fly
(mmgan.encoders.audio_augment), so it learns words rather than the training voices.

    waveforms (b, samples) at 16 kHz
      -> log-mel (b, t, m): Hann STFT (win_ms, hop_ms) through the mel filterbank, natural log   features()
      -> per-utterance normalization (cmvn: each mel band over the clip's frames)                normalize()
      -> 2-D conv subsampling: two 3x3 convs, stride 2 in frequency, time stride 2 x (stride / 2)
      -> bidirectional GRU (layers, hidden each way; padded frames packed away)
      -> linear -> log-softmax over the vocabulary (b, t / stride, 1 + len(vocab))               encode()
Token 0 is CTC's blank; token i is vocab[i - 1] (model.extra.vocab: the characters of the training
transcripts, sorted). One output frame lasts hop_ms x time_stride (40 ms by default): `frame_seconds`.
Decoding and frame alignment (timestamps) are mmgan.models.ctc; G.transcribe(waves) does both.
Its preset: configs/recognizer-spoken-digits.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..modalities.sound import mel_power, normalize_mel, stft_sizes
from ..model_options import Options, option
from ..registry import register
from . import ctc
from .base import ConfigModule


@dataclass(frozen=True)
class RecognizerOptions(Options):
    vocab: str = option("", "the characters the model writes (token i is vocab[i - 1]; 0 is CTC's blank); "
                            "set from the training transcripts when empty")
    n_mels: int = option(64, "mel bands of the front end")
    hop_ms: float = option(10.0, "front-end hop, milliseconds")
    win_ms: float = option(25.0, "front-end window, milliseconds (rounded up to a power-of-two FFT)")
    norm: str = option("cmvn", "per-utterance feature normalization", choices=("cmvn", "clip"))
    conv_width: int = option(32, "channels of the 2-D convolutional subsampling")
    time_stride: int = option(4, "output frame = this many front-end hops (2 or 4)")
    hidden: int = option(192, "GRU units each way")
    layers: int = option(2, "bidirectional GRU layers")
    dropout: float = option(0.1, "dropout between the GRU layers and before the output")
    beam: int = option(1, "CTC prefix beam width when transcribing (1 = greedy best path)")
    augment: dict = option({}, "speech perturbation while training (mmgan.encoders.audio_augment.AudioAugment "
                               "fields; {} = its defaults; {\"off\": true} = none)")


class Recognizer(ConfigModule):
    phases = "ctc"                # the step logic the trainer uses
    transcribes = True            # the Pipeline passes clips to transcribe()
    bf16_auto = False

    def __init__(self, vocab: str, sample_rate: int = 16000, n_mels: int = 64, hop_ms: float = 10.0,
                 win_ms: float = 25.0, norm: str = "cmvn", conv_width: int = 32, time_stride: int = 4,
                 hidden: int = 192, layers: int = 2, dropout: float = 0.1, beam: int = 1):
        super().__init__(vocab=vocab, sample_rate=sample_rate, n_mels=n_mels, hop_ms=hop_ms, win_ms=win_ms,
                         norm=norm, conv_width=conv_width, time_stride=time_stride, hidden=hidden, layers=layers,
                         dropout=dropout, beam=beam)
        if not vocab:
            raise ValueError("recognizer: an empty vocabulary (model.extra.vocab); train it on data with transcripts")
        if len(set(vocab)) != len(vocab):
            raise ValueError(f"recognizer: model.extra.vocab repeats characters: {vocab!r}")
        if time_stride not in (2, 4):
            raise ValueError(f"recognizer: model.extra.time_stride must be 2 or 4, got {time_stride}")
        if norm not in ("cmvn", "clip"):
            raise ValueError(f"recognizer: model.extra.norm must be cmvn or clip, got {norm!r}")
        self.vocab, self.sample_rate, self.n_mels, self.hop_ms, self.norm = vocab, sample_rate, n_mels, hop_ms, norm
        self.n_fft, self.hop = stft_sizes(sample_rate, hop_ms, win_ms)
        self.strides = (2, time_stride // 2)
        w = conv_width
        self.conv = nn.ModuleList([nn.Conv2d(1, w, 3, stride=(self.strides[0], 2), padding=1),
                                   nn.Conv2d(w, w, 3, stride=(self.strides[1], 2), padding=1)])
        freq = (n_mels + 1) // 2
        freq = (freq + 1) // 2
        self.proj = nn.Linear(w * freq, hidden)
        self.rnn = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, len(vocab) + 1)

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame."""
        return self.hop * self.strides[0] * self.strides[1] / self.sample_rate

    # ---- front end ----------------------------------------------------------------------------------
    def features(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """(b, samples) waveforms (zero-padded; lengths (b,) samples) -> {"mel": (b, t, m) raw log-mel,
        "mask": (b, t) real frames}. Unnormalized: augmentation acts here first (mmgan.encoders.audio_augment)."""
        waves = waves.float()
        if waves.dim() != 2:
            raise ValueError(f"recognizer: waveforms are (b, samples), got shape {tuple(waves.shape)}")
        if lengths is None:
            lengths = torch.full((waves.shape[0],), waves.shape[1])
        if waves.shape[1] < self.n_fft:
            waves = F.pad(waves, (0, self.n_fft - waves.shape[1]))
        mel = torch.log(mel_power(waves, self.sample_rate, self.n_fft, self.hop, self.n_mels) + 1e-6)
        mel = mel.transpose(1, 2)                                                   # (b, t, m)
        frames = lengths.to(mel.device) // self.hop + 1                             # centred STFT frames
        mask = torch.arange(mel.shape[1], device=mel.device)[None] < frames[:, None]
        return {"mel": mel * mask[..., None], "mask": mask}

    def normalize(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {**batch, "mel": normalize_mel(batch["mel"], batch["mask"], self.norm)}

    # ---- network ------------------------------------------------------------------------------------
    def encode(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalized features {"mel": (b, t, m), "mask": (b, t)} -> (log-probs (b, t', v), lengths (b,))."""
        h, lengths = batch["mel"][:, None], batch["mask"].sum(1)                   # (b, 1, t, m)
        for conv, stride in zip(self.conv, self.strides):
            h = F.gelu(conv(h))
            lengths = (lengths - 1) // stride + 1                                   # kernel 3, padding 1
            keep = torch.arange(h.shape[2], device=h.device)[None] < lengths[:, None]
            h = h * keep[:, None, :, None].to(h.dtype)                              # padded frames stay zero
        b, c, t, f = h.shape
        h = self.proj(h.permute(0, 2, 1, 3).reshape(b, t, c * f))                  # (b, t', hidden)
        lengths = lengths.clamp(1, t)
        packed = nn.utils.rnn.pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
        h, _ = self.rnn(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=t)
        return F.log_softmax(self.head(self.drop(h)), dim=-1), lengths

    def forward(self, z: torch.Tensor | None = None, c: torch.Tensor | None = None,
                audio: torch.Tensor | None = None, lengths: torch.Tensor | None = None, **_) -> torch.Tensor:
        """audio (b, samples) -> per-frame log-probabilities (b, t', v)."""
        if audio is None:
            raise ValueError("recognizer: pass audio= (b, samples) waveforms at 16 kHz")
        return self.encode(self.normalize(self.features(audio, lengths)))[0]

    # ---- decoding -----------------------------------------------------------------------------------
    def text_of(self, tokens: list[int]) -> str:
        return "".join(self.vocab[k - 1] for k in tokens)

    @torch.no_grad()
    def transcribe(self, waves: torch.Tensor, lengths: torch.Tensor | None = None,
                   beam: int | None = None) -> list[dict]:
        """(b, samples) waveforms -> per clip {"text", "tokens", "spans" ((first, last) output frame per
        token), "frames", "frame_seconds"}: best path (beam 1) or prefix beam search, then Viterbi
        alignment of the chosen tokens."""
        beam = int(self.config["beam"] if beam is None else beam)
        log_probs, n = self.encode(self.normalize(self.features(waves, lengths)))
        out = []
        for lp, t in zip(log_probs.float().cpu(), n.tolist()):
            lp = lp[:t]
            if beam > 1:
                tokens = ctc.prefix_beam_search(lp, beam)
                spans = ctc.align(lp, tokens)
            else:
                tokens, spans = ctc.greedy(lp)
            out.append({"text": self.text_of(tokens), "tokens": tokens, "spans": spans, "frames": t,
                        "frame_seconds": self.frame_seconds})
        return out


class NoDiscriminator(ConfigModule):
    """The recogniser trains without an adversary; the trainer still builds, steps and saves a D."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))      # an optimizer refuses an empty parameter list

    def forward(self, x, c=None):
        raise RuntimeError("the recognizer family has no discriminator")


def loss_options(cfg: ModelConfig) -> dict:
    return {"augment": dict(RecognizerOptions.read(cfg.extra).augment)}


def generator_kwargs(cfg: ModelConfig) -> dict:
    o = RecognizerOptions.read(cfg.extra)
    return {k: getattr(o, k) for k in ("vocab", "n_mels", "hop_ms", "win_ms", "norm", "conv_width", "time_stride",
                                       "hidden", "layers", "dropout", "beam")}


@register("model", "recognizer", options=RecognizerOptions)
def build_recognizer(cfg: ModelConfig, with_discriminator: bool = True):
    if cfg.cond_dim or cfg.condition:
        raise ValueError(f"recognizer reads the clip itself and takes no condition; got "
                         f"model.condition={cfg.condition} (set model.condition=[])")
    g = Recognizer(**generator_kwargs(cfg))
    g.loss_options = loss_options(cfg)
    return g, (NoDiscriminator() if with_discriminator else None)

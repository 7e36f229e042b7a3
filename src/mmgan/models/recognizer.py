"""recognizer: speech -> characters, a CTC model (Graves et al. 2006) for transcripts and subtitles.

Not a GAN: G is the recogniser, D an empty stand-in (the trainer's loop and checkpoints stay as they
are); the phases "ctc" (mmgan.losses.ctc) own the step: CTC loss on speech perturbed on the fly
(mmgan.encoders.audio_augment), so it learns words rather than the training voices.

    waveforms (b, samples) at 16 kHz
      -> log-mel (b, t, m): Hann STFT (win_ms, hop_ms) through the mel filterbank, natural log   features()
      -> per-utterance normalization (cmvn: each mel band over the clip's frames)                normalize()
      -> 2-D conv subsampling: two 3x3 convs, stride 2 in frequency, time stride 2 x (stride / 2)
      -> bidirectional GRU (layers, hidden each way; padded frames packed away)
      -> linear -> log-softmax over the vocabulary, `upsample` output frames per GRU frame
         (b, t x upsample / stride, len(vocab))                                               encode()
The vocabulary is the text codec's (model.extra.vocab, tokens=char: <pad> <eos> <unk>, then the training
transcripts' characters by frequency); <pad> (0) is CTC's blank, <eos> is never a target. One output
frame lasts hop_ms x time_stride / upsample (40 ms by default): `frame_seconds`.
upsample > 1 gives CTC more frames than the GRU runs (20-ms output frames at the cost of a 40-ms GRU):
a doubled letter needs a blank between its two frames ("upper" = u p <blank> p e r), and one phone
of 40-ms frames often has too few.
Decoding and frame alignment (timestamps) are mmgan.models.ctc; G.transcribe(waves) does both.
Its preset: configs/recognizer-spoken-digits.yaml.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..modalities.sound import mel_power, normalize_mel, stft_sizes
from ..model_options import option
from ..modalities.text import EOS, PAD, SPECIALS, UNK, TextOptions
from ..registry import register
from . import ctc
from .base import ConfigModule


@dataclass(frozen=True)
class RecognizerOptions(TextOptions):
    phases: ClassVar[str] = "ctc"    # its step logic (loss.phases; resolve() writes it)
    reads: ClassVar[tuple[str, ...]] = ("audio",)     # the clip, raw (mmgan.conditioning.source)
    tokens: str = option("char", "vocabulary unit: char (CTC writes characters; word is refused)",
                         choices=("char", "word"))
    decode: str = option("greedy", "greedy (CTC best path), beam (prefix beam search, beam_size beams) or lexicon "
                                   "(the beam search writing only the words of `lexicon`)",
                         choices=("greedy", "beam", "lexicon"))
    lexicon: list = option([], "the words decode=lexicon may write (written from the training transcripts)")
    beam_size: int = option(8, "beams kept (decode=beam)")
    n_mels: int = option(64, "mel bands of the front end")
    hop_ms: float = option(10.0, "front-end hop, milliseconds")
    win_ms: float = option(25.0, "front-end window, milliseconds (rounded up to a power-of-two FFT)")
    norm: str = option("cmvn", "per-utterance feature normalization", choices=("cmvn", "clip"))
    conv_width: int = option(32, "channels of the 2-D convolutional subsampling")
    time_stride: int = option(4, "GRU frame = this many front-end hops (2 or 4)")
    upsample: int = option(1, "output frames per GRU frame (1-4): the head writes this many, so an output frame "
                              "is hop_ms x time_stride / upsample")
    hidden: int = option(192, "GRU units each way")
    layers: int = option(2, "bidirectional GRU layers")
    dropout: float = option(0.1, "dropout between the GRU layers and before the output")
    augment: dict = option({}, "speech perturbation while training (mmgan.encoders.audio_augment.AudioAugment "
                               "fields; {} = its defaults; {\"off\": true} = none)")


class Recognizer(ConfigModule):
    phases = RecognizerOptions.phases        # the step logic the trainer uses
    transcribes = True                              # Pipeline.transcribe: text with each character's frames
    call_options = ("decode", "beam_size")          # Pipeline(options=...) for one call
    bf16_auto = False

    def __init__(self, vocab: Sequence[str], sample_rate: int = 16000, n_mels: int = 64, hop_ms: float = 10.0,
                 win_ms: float = 25.0, norm: str = "cmvn", conv_width: int = 32, time_stride: int = 4,
                 hidden: int = 192, layers: int = 2, dropout: float = 0.1, decode: str = "greedy", beam_size: int = 8,
                 lexicon: Sequence[str] = (), upsample: int = 1):
        super().__init__(vocab=list(vocab), sample_rate=sample_rate, n_mels=n_mels, hop_ms=hop_ms, win_ms=win_ms,
                         norm=norm, conv_width=conv_width, time_stride=time_stride, hidden=hidden, layers=layers,
                         dropout=dropout, decode=decode, beam_size=beam_size, lexicon=list(lexicon),
                         upsample=upsample)
        if list(vocab[:len(SPECIALS)]) != SPECIALS or len(vocab) <= len(SPECIALS):
            raise ValueError(f"recognizer: model.extra.vocab must be {SPECIALS} then characters (the text codec "
                             f"builds it from the training transcripts); got {list(vocab)[:8]}")
        if any(len(t) != 1 for t in vocab[len(SPECIALS):]):
            raise ValueError("recognizer: model.extra.vocab holds words; a CTC recogniser writes characters "
                             "(model.extra.tokens=char)")
        if time_stride not in (2, 4):
            raise ValueError(f"recognizer: model.extra.time_stride must be 2 or 4, got {time_stride}")
        if upsample not in (1, 2, 3, 4):
            raise ValueError(f"recognizer: model.extra.upsample must be 1 to 4, got {upsample}")
        if norm not in ("cmvn", "clip"):
            raise ValueError(f"recognizer: model.extra.norm must be cmvn or clip, got {norm!r}")
        self.check_decode(decode, beam_size)
        self.lexicon = ctc.Lexicon(lexicon, list(vocab)) if lexicon else None
        if decode == "lexicon" and self.lexicon is None:
            raise ValueError("recognizer: decode=lexicon needs model.extra.lexicon (the words it may write; "
                             "training writes the transcripts' words)")
        self.vocab, self.sample_rate, self.n_mels, self.hop_ms, self.norm = list(vocab), sample_rate, n_mels, hop_ms, norm
        self.n_fft, self.hop = stft_sizes(sample_rate, hop_ms, win_ms)
        self.strides, self.upsample = (2, time_stride // 2), upsample
        w = conv_width
        self.conv = nn.ModuleList([nn.Conv2d(1, w, 3, stride=(self.strides[0], 2), padding=1),
                                   nn.Conv2d(w, w, 3, stride=(self.strides[1], 2), padding=1)])
        freq = ((n_mels + 1) // 2 + 1) // 2
        self.proj = nn.Linear(w * freq, hidden)
        self.rnn = nn.GRU(hidden, hidden, num_layers=layers, batch_first=True, bidirectional=True,
                          dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, len(vocab) * upsample)   # class 0 (PAD) is CTC's blank

    @staticmethod
    def check_decode(decode: str, beam_size: int) -> None:
        if decode not in ("greedy", "beam", "lexicon"):
            raise ValueError(f"recognizer: decode must be greedy, beam or lexicon (CTC has no sampling), got {decode!r}")
        if int(beam_size) < 1:
            raise ValueError(f"recognizer: beam_size must be >= 1, got {beam_size}")

    @property
    def frame_seconds(self) -> float:
        """Seconds per output frame."""
        return self.hop * self.strides[0] * self.strides[1] / self.upsample / self.sample_rate

    # ---- front end ----------------------------------------------------------------------------------
    def features(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """(b, samples) waveforms (zero-padded; lengths (b,) samples, default: up to the last non-zero
        sample) -> {"mel": (b, t, m) raw log-mel, "mask": (b, t) real frames}. Unnormalized: training
        perturbs these first (mmgan.encoders.audio_augment)."""
        waves = waves.float()
        if waves.dim() != 2:
            raise ValueError(f"recognizer: waveforms are (b, samples), got shape {tuple(waves.shape)}")
        if lengths is None:
            lengths = trimmed_lengths(waves)
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
        logits = self.head(self.drop(h)).reshape(b, t * self.upsample, -1)         # (b, t' x upsample, v)
        return F.log_softmax(logits, dim=-1), lengths * self.upsample

    def log_probs(self, waves: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(self.normalize(self.features(waves, lengths)))

    def forward(self, z: torch.Tensor | None = None, c: torch.Tensor | None = None, source: torch.Tensor | None = None,
                decode: str | None = None, beam_size: int | None = None, **_) -> torch.Tensor:
        """source (b, samples) waveforms at 16 kHz -> token ids (b, T): each transcript, EOS, then PAD
        (what the text codec decodes). z and c are unused (one transcript per clip)."""
        if source is None:
            raise ValueError("the recognizer reads a clip: G(z, c, source=(b, samples) waveforms at 16 kHz)")
        rows = [r["tokens"] for r in self.transcribe(source, decode=decode, beam_size=beam_size)]
        out = torch.full((len(rows), max([len(r) for r in rows] + [0]) + 1), PAD, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, :len(r)] = torch.tensor(r, dtype=torch.long)
            out[i, len(r)] = EOS
        return out.to(source.device)

    # ---- decoding -----------------------------------------------------------------------------------
    def text_of(self, tokens: Sequence[int]) -> str:
        return "".join(self.vocab[k] if k > UNK else "?" for k in tokens if k != EOS)

    @torch.no_grad()
    def transcribe(self, waves: torch.Tensor, lengths: torch.Tensor | None = None, decode: str | None = None,
                   beam_size: int | None = None) -> list[dict]:
        """(b, samples) waveforms -> per clip {"text", "tokens", "spans" ((first, last) output frame per
        token), "frames", "frame_seconds"}: best path (decode greedy) or prefix beam search (beam), then
        the chosen tokens' frames (the best path's runs, or a Viterbi alignment)."""
        decode = decode or self.config["decode"]
        beam_size = int(beam_size or self.config["beam_size"])
        self.check_decode(decode, beam_size)
        log_probs, n = self.log_probs(waves, lengths)
        out = []
        for lp, t in zip(log_probs.float().cpu(), n.tolist()):
            lp = lp[:t]
            if decode == "lexicon":
                if self.lexicon is None:
                    raise ValueError("decode=lexicon: this recogniser has no lexicon (model.extra.lexicon); "
                                     "decode greedy or beam")
                tokens = ctc.prefix_beam_search(lp, beam_size, lexicon=self.lexicon)
                spans = ctc.align(lp, tokens)
            elif decode == "beam" and beam_size > 1:
                tokens = ctc.prefix_beam_search(lp, beam_size)
                spans = ctc.align(lp, tokens)
            else:
                tokens, spans = ctc.greedy(lp)
            keep = [i for i, k in enumerate(tokens) if k != EOS]              # EOS is never a transcript's
            tokens, spans = [tokens[i] for i in keep], [spans[i] for i in keep]
            out.append({"text": self.text_of(tokens), "tokens": tokens, "spans": spans, "frames": t,
                        "frame_seconds": self.frame_seconds})
        return out


def trimmed_lengths(waves: torch.Tensor) -> torch.Tensor:
    """(b,) samples up to each clip's last non-zero sample (clips zero-padded to a common length)."""
    nz = waves != 0
    last = waves.shape[1] - nz.flip(1).float().argmax(1)
    return torch.where(nz.any(1), last, torch.ones_like(last))


class NoDiscriminator(ConfigModule):
    """The recogniser trains without an adversary; the trainer still builds, steps and saves a D."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))      # an optimizer refuses an empty parameter list

    def forward(self, *args, **kw):
        raise RuntimeError("the recognizer family has no discriminator")


def loss_options(cfg: ModelConfig) -> dict:
    return {"augment": dict(RecognizerOptions.read(cfg.extra).augment)}


def generator_kwargs(cfg: ModelConfig) -> dict:
    o = RecognizerOptions.read(cfg.extra)
    if o.tokens != "char":
        raise ValueError("recognizer: a CTC recogniser writes characters; set model.extra.tokens=char")
    if not o.vocab:
        raise ValueError("recognizer: model.extra.vocab is unset; train on data with `audio` and `text` columns "
                         "(the text codec builds the vocabulary from the transcripts)")
    return {k: getattr(o, k) for k in ("vocab", "n_mels", "hop_ms", "win_ms", "norm", "conv_width", "time_stride",
                                       "hidden", "layers", "dropout", "decode", "beam_size", "lexicon", "upsample")}


@register("model", "recognizer", options=RecognizerOptions)
def build_recognizer(cfg: ModelConfig, with_discriminator: bool = True):
    extra = [m for m in (cfg.condition or []) if m != "audio"]
    if extra:
        raise ValueError(f"the recognizer reads the clip itself (model.condition=[audio]); got "
                         f"model.condition={cfg.condition}")
    g = Recognizer(**generator_kwargs(cfg))
    g.loss_options = loss_options(cfg)
    return g, (NoDiscriminator() if with_discriminator else None)

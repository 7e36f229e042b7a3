"""Request and response models, in families: *Request (JSON body), *Form (the same as multipart form fields
with file uploads), *Response / *Out (what comes back).

Uploads travel either as multipart files (`audio`, `image`, `mask`, `voice`) or, in JSON, base64 in `audio_b64` /
`image_b64` / `mask_b64` / `voice_b64`.
"""
from __future__ import annotations

import re
from typing import Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator
from .items import FILTER_KEYS

MODEL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MAX_SEED = 2**63 - 1

Scalar = Union[int, float, str, bool]


def _printable(text: str | None) -> str | None:
    if text is not None and any(ord(c) < 32 and c not in "\t\n\r" for c in text):
        raise ValueError("text must not contain control characters")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---- errors --------------------------------------------------------------------------------------------
class ErrorOut(BaseModel):
    detail: str


class LimitErrorOut(BaseModel):
    detail: str
    limit: str = Field(description="the name of the limit that was exceeded (a Settings.limits field)")
    value: Any = None
    max: Any = None


# ---- generate ----------------------------------------------------------------------------------------------
class GenerateRequest(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"label": 3, "n": 4, "seed": 0}, {"text": "a red circle above a blue square", "n": 2}]})

    model: str | None = Field(None, description="served model name (default: the only or first model)",
                              pattern=MODEL_NAME_RE.pattern)
    text: str | None = Field(None, min_length=1, description="prompt, for models conditioned on text")
    label: int | str | None = Field(None, description="class index or class name, for models with labels")
    n: int = Field(1, ge=1, description="number of images or clips (at most limits.max_n)")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="random seed (default: a fresh one, returned)")
    truncation: float = Field(1.0, ge=0.0, le=2.0, description="latent truncation: 0 = mode, 1 = off")
    response: Literal["base64", "url"] = Field("base64", description="the file (PNG, WAV) inline as base64, or "
                                                                      "only a URL to it")
    store: bool = Field(True, description="store the items (with provenance) when the service has a store")
    audio_b64: str | None = Field(None, description="audio clip (WAV/FLAC/OGG), base64")
    image_b64: str | None = Field(None, description="reference image (PNG/JPEG), base64; for super-resolution and "
                                  "restoration models the image to upscale or restore")
    mask_b64: str | None = Field(None, description="restoration models: the image's holes (white = hole, the image's "
                                 "size), PNG base64")
    voice_b64: str | None = Field(None, description="sound models trained with a voice condition: a recording whose "
                                  "voice the clips are spoken in (WAV/FLAC/OGG, any words), base64")

    @field_validator("text")
    @classmethod
    def _text(cls, v):
        return _printable(v)

    @field_validator("label")
    @classmethod
    def _label(cls, v):
        if isinstance(v, str) and not v.strip():
            raise ValueError("label must not be empty")
        return v


class GenerateForm(_Strict):
    """multipart/form-data version of GenerateRequest: the same fields, uploads as files."""

    model: str | None = None
    text: str | None = None
    label: str | None = None
    n: int = 1
    seed: int | None = None
    truncation: float = 1.0
    response: Literal["base64", "url"] = "base64"
    store: bool = True
    audio: bytes | None = Field(None, json_schema_extra={"format": "binary", "type": "string"})
    image: bytes | None = Field(None, json_schema_extra={"format": "binary", "type": "string"})
    mask: bytes | None = Field(None, json_schema_extra={"format": "binary", "type": "string"})
    voice: bytes | None = Field(None, json_schema_extra={"format": "binary", "type": "string"})


class _OmitNull(BaseModel):
    """A response whose newer optional fields (OMIT_NULL) are left out when null, so that answers of the kinds
    that never carry them stay exactly as they were."""
    OMIT_NULL: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _omit_null(self, handler):
        out = handler(self)
        for key in self.OMIT_NULL:
            if key in out and out[key] is None:
                del out[key]
        return out


class GeneratedItemOut(_OmitNull):
    """One generated object. Inline, its file is `<target>_base64` (image_base64: a PNG, audio_base64: a WAV,
    video_base64: an MP4); the other fields are what the model's codec adds (vector; seconds and sample_rate;
    seconds, fps and frames)."""
    model_config = ConfigDict(extra="forbid")      # a codec field this schema does not name is a bug: say so
    OMIT_NULL = ("audio_base64", "seconds", "sample_rate", "text", "video_base64", "fps", "frames")

    id: str | None = Field(description="id under which the item is stored (null when not stored)")
    index: int
    seed: int
    media_type: str = Field("image/png", description="what the item's file is: image/png, audio/wav, "
                                                     "application/json (vectors)")
    url: str | None = Field(None, description="the stored file (PNG, WAV): GET it with the same API key")
    image_base64: str | None = None
    vector: list[float] | None = Field(None, description="for models of vector data")
    provenance: dict
    audio_base64: str | None = Field(None, description="audio models: the clip, a 16-bit PCM mono WAV, base64 "
                                                       "(left out for other models and url responses)")
    seconds: float | None = Field(None, description="audio models: the clip's length (left out for other models)")
    sample_rate: int | None = Field(None, description="audio models: the clip's sample rate in Hz")
    text: str | None = Field(None, description="text models (captioners): the caption (left out for other models)")
    video_base64: str | None = Field(None, description="video models: the clip, an MP4 (H.264, with its sound track "
                                                       "as AAC when it was made from sound), base64")
    fps: float | None = Field(None, description="video models: frames per second")
    frames: int | None = Field(None, description="video models: the clip's frame count")


class GenerateResponse(_OmitNull):
    OMIT_NULL = ("store_note",)

    model: str
    n: int
    seed: int
    stored: bool
    elapsed_ms: float
    items: list[GeneratedItemOut]
    store_note: str | None = Field(None, description="why store=true did not store the items (left out when it "
                                                     "did, or when nothing was asked)")


# ---- text out: captions and subtitles ---------------------------------------------------------------------
DECODES = ("sample", "greedy", "beam")


class CaptionRequest(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"image_b64": "<PNG, base64>", "n": 3, "style": "positive"}]})

    model: str | None = Field(None, description="served captioner (default: the only or first model)",
                              pattern=MODEL_NAME_RE.pattern)
    image_b64: str | None = Field(None, description="the image to caption (PNG/JPEG), base64")
    n: int = Field(1, ge=1, description="captions of the image (at most limits.max_n)")
    style: int | str | None = Field(None, description="caption style, for captioners trained with styles "
                                                      "(a class name: neutral, positive, negative; or its index)")
    decode: Literal["sample", "greedy", "beam"] | None = Field(
        None, description="sample (varied, one per seed), greedy or beam (the most likely caption); default the run's")
    temperature: float | None = Field(None, gt=0.0, le=5.0, description="sampling temperature")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, description="random seed (default: a fresh one, returned)")
    response: Literal["base64", "url"] = "base64"
    store: bool = Field(True, description="store the captions (with provenance) when the service has a store")

    @field_validator("style")
    @classmethod
    def _style(cls, v):
        if isinstance(v, str) and not v.strip():
            raise ValueError("style must not be empty")
        return v


class CaptionForm(_Strict):
    """multipart/form-data version of CaptionRequest: the image as a file."""

    model: str | None = None
    n: int = 1
    style: str | None = None
    decode: Literal["sample", "greedy", "beam"] | None = None
    temperature: float | None = None
    seed: int | None = None
    response: Literal["base64", "url"] = "base64"
    store: bool = True
    image: bytes | None = Field(None, json_schema_extra={"format": "binary", "type": "string"})


class TranscribeRequest(_Strict):
    model: str | None = Field(None, description="served recogniser (default: the only or first model)",
                              pattern=MODEL_NAME_RE.pattern)
    audio_b64: str | None = Field(None, description="the recording (WAV/FLAC/OGG, any rate, mono or stereo), base64")
    beam: int = Field(0, ge=0, le=64, description="beam width of the CTC prefix search (0: best path)")
    store: bool = Field(False, description="store the transcript (with provenance) when the service has a store")


class TranscribeForm(_Strict):
    """multipart/form-data version of TranscribeRequest: the recording as a file."""

    model: str | None = None
    beam: int = 0
    store: bool = False
    audio: bytes | None = Field(None, json_schema_extra={"format": "binary", "type": "string"})


class SegmentOut(BaseModel):
    start: float = Field(description="seconds from the start of the recording")
    end: float
    text: str


class TranscribeResponse(_OmitNull):
    OMIT_NULL = ("id", "store_note")

    model: str
    text: str = Field(description="the whole transcript")
    segments: list[SegmentOut] = Field(description="the recording cut at its pauses, each recognised")
    words: list[SegmentOut] = Field(description="each word with its times (from the CTC alignment)")
    srt: str = Field(description="the subtitles as SubRip (.srt)")
    vtt: str = Field(description="the subtitles as WebVTT (.vtt)")
    seconds: float = Field(description="the recording's length")
    rtf: float = Field(description="real-time factor: processing seconds per second of audio")
    elapsed_ms: float
    id: str | None = Field(None, description="id under which the transcript is stored (left out when not stored)")
    store_note: str | None = None


# ---- search --------------------------------------------------------------------------------------------------
class SearchRequest(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"text": "three", "k": 8, "filters": {"kind": "synthetic"}}]})

    text: str | None = Field(None, min_length=1, description="text query")
    id: str | None = Field(None, description="find items near a stored item")
    audio_b64: str | None = Field(None, description="audio query, base64")
    image_b64: str | None = Field(None, description="image query, base64")
    filters: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, description="metadata equality filters, e.g. {\"model\": \"digits\", \"label\": [3, 5]} "
                                          "(a list means any of); fields: kind, caption, label, class_name, dataset, "
                                          "dataset_version, model, model_version, step, seed, user, embedder")
    k: int = Field(10, ge=1, description="number of results (at most limits.max_k)")
    inline: bool = Field(False, description="include each hit's PNG as base64")

    @field_validator("text")
    @classmethod
    def _text(cls, v):
        return _printable(v)

    @field_validator("filters")
    @classmethod
    def _filters(cls, v: dict) -> dict:

        for key, val in v.items():
            if key not in FILTER_KEYS:
                raise ValueError(f"cannot filter on {key!r}; filter fields: {', '.join(FILTER_KEYS)}")
            if isinstance(val, list) and not val:
                raise ValueError(f"filter {key!r}: an empty list matches nothing")
        if len(v) > 16:
            raise ValueError("at most 16 filters")
        return v

    @model_validator(mode="after")
    def _one_query(self):
        given = [f for f in ("text", "id", "audio_b64", "image_b64") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one query of text, id, audio, image; got {given or 'none'}")
        return self


class SearchForm(_Strict):
    """multipart/form-data version of SearchRequest; `filters` is a JSON object in a string."""

    text: str | None = None
    id: str | None = None
    filters: str | None = Field(None, description='JSON object, e.g. {"model": "digits", "label": 3}')
    k: int = 10
    inline: bool = False
    audio: bytes | None = Field(None, json_schema_extra={"format": "binary", "type": "string"})
    image: bytes | None = Field(None, json_schema_extra={"format": "binary", "type": "string"})


class ItemOut(BaseModel):
    id: str
    kind: str = Field(description="real (indexed from a dataset) or synthetic (generated)")
    modalities: list[str] = Field(description="the embeddings the item has in the store")
    metadata: dict
    provenance: dict
    assets: list[str]
    urls: dict[str, str] = Field(default_factory=dict, description="asset name -> URL")
    created: float | None = None


class SearchHitOut(BaseModel):
    id: str
    score: float
    item: ItemOut
    image_base64: str | None = None


class SearchResponse(BaseModel):
    query: Literal["text", "id", "audio", "image"]
    k: int
    filters: dict
    hits: list[SearchHitOut]


class DeletedOut(BaseModel):
    id: str
    deleted: bool


# ---- models and health -----------------------------------------------------------------------------------
class ModelOut(BaseModel):
    name: str
    modalities: list[str]
    class_names: list[str]
    target: str = "image"             # the column the model generates: its codec (image, vector, ...)
    is_image: bool                    # target == "image" (kept for clients written before `target`)
    family: str | None = None
    resolution: int | None = None
    channels: int | None = None
    data: str | None = None
    step: int | None = None
    source: str = ""
    reads: str | None = Field(None, description="the input a captioner (image) or recogniser (audio) reads raw")
    transcribes: bool = Field(False, description="a recogniser: POST /v1/transcribe takes recordings")


class ModelsResponse(BaseModel):
    models: list[ModelOut]
    default: str | None


class ModelLoadRequest(_Strict):
    name: str = Field(pattern=MODEL_NAME_RE.pattern)
    run: str = Field(min_length=1, description="run folder, relative to the server's model_root")


class HealthOut(BaseModel):
    status: Literal["ok"]
    models: list[str]
    store: bool
    version: str


class WhoAmIOut(BaseModel):
    key_id: str | None
    role: str
    name: str = ""

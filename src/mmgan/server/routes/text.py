"""Text out: POST /v1/caption (an image -> captions, from a captioner run) and POST /v1/transcribe (a recording ->
transcript, timed segments and words, SRT and WebVTT, from a recogniser run).

Both take JSON (the upload as base64 in image_b64 / audio_b64) or multipart/form-data (the upload as a file).
Captions go through the same batcher, seeds and store as /v1/generate (a captioner's items are its captions);
a transcript is one stored item when store=true.
"""
from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from ...api.transcribe import transcribe_wave
from ...modalities.subtitles import to_srt, to_vtt
from ..deps import GeneratorDep, ModelsDep, OptionalStoreDep, SettingsDep, field_error, read_body
from ..generation import GenerateJob, ServedModel, content_id, random_seed, sha256
from ..items import NewItem
from ..limits import check_max, read_audio, read_image
from ..schemas import (CaptionRequest, ErrorOut, GenerateResponse, LimitErrorOut, SegmentOut, TranscribeRequest,
                       TranscribeResponse)
from .generate import _label_index, serve_job
from .openapi import body_doc

router = APIRouter(prefix="/v1", tags=["text"])
ERRORS = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": LimitErrorOut},
          422: {"model": LimitErrorOut}, 429: {"model": LimitErrorOut}, 503: {"model": LimitErrorOut},
          504: {"model": LimitErrorOut}}


def _model(models, name: str | None, fits, does: str) -> ServedModel:
    try:
        model = models.get(name)
    except KeyError as e:
        raise field_error("model", e.args[0]) from None
    if not fits(model):
        family = model.config.get("model", {}).get("family")
        raise field_error("model", f"model {model.name!r} ({family}) does not {does}")
    return model


def _captions(model: ServedModel) -> bool:
    return model.codec.name == "text" and model.reads == "image"


def _transcribes(model: ServedModel) -> bool:
    return bool(getattr(model.pipe.generator, "transcribes", False))


@router.post("/caption", response_model=GenerateResponse, openapi_extra=body_doc("CaptionRequest", "CaptionForm"),
             responses=ERRORS)
async def caption(request: Request, principal: GeneratorDep, models: ModelsDep, store: OptionalStoreDep,
                  settings: SettingsDep) -> GenerateResponse:
    """Captions of one image: n of them (different seeds give different captions when decode=sample), in the
    asked style when the captioner was trained with styles. Each item's `text` is a caption."""
    t0 = time.perf_counter()
    req, uploads = await read_body(request, CaptionRequest, files=("image",))
    limits = settings.limits
    check_max("max_n", req.n, limits.max_n, "n")
    model = _model(models, req.model, _captions, "caption images (serve a captioner run: model.family=captioner)")
    if "image" not in uploads:
        raise field_error("image", "give the image to caption (a file `image`, or image_b64)", "missing")
    options = {k: v for k, v in (("decode", req.decode), ("temperature", req.temperature)) if v is not None}
    store_note = model.store_refusal(store) if req.store and store is not None else None
    job = GenerateJob(n=req.n, seed=req.seed if req.seed is not None else random_seed(), options=options,
                      store=store if req.store and store_note is None else None, requested_by=principal.key_id)
    if req.style is not None:
        if "label" not in model.pipe.modalities:
            raise field_error("style", f"model {model.name!r} was not trained with caption styles")
        job.label = _label_index(model, req.style, "style")
    job.image = await run_in_threadpool(read_image, uploads["image"], limits)
    job.image_sha256 = sha256(uploads["image"])
    return await serve_job(model, models, job, settings, req.response, store_note, t0)


@router.post("/transcribe", response_model=TranscribeResponse,
             openapi_extra=body_doc("TranscribeRequest", "TranscribeForm"), responses=ERRORS)
async def transcribe(request: Request, principal: GeneratorDep, models: ModelsDep, store: OptionalStoreDep,
                     settings: SettingsDep) -> TranscribeResponse:
    """A recording (up to limits.max_transcribe_seconds) cut at its pauses and recognised: the transcript, its
    segments and words with times, and the subtitles as SRT and WebVTT."""
    t0 = time.perf_counter()
    req, uploads = await read_body(request, TranscribeRequest, files=("audio",))
    model = _model(models, req.model, _transcribes,
                   "transcribe speech (serve a recogniser run: model.family=recognizer)")
    if "audio" not in uploads:
        raise field_error("audio", "give the recording (a file `audio`, or audio_b64)", "missing")
    rate = int(model.pipe.generator.sample_rate)
    x = await run_in_threadpool(read_audio, uploads["audio"], settings.limits, rate, "audio", "max_transcribe_seconds")
    options = {"decode": "beam", "beam_size": req.beam} if req.beam > 1 else None
    # on the models' own thread, so a recogniser call never runs beside a generate batch of the same model
    t = await asyncio.get_running_loop().run_in_executor(models.executor, transcribe_wave, model.pipe, x, None, options)
    out = TranscribeResponse(
        model=model.name, text=t.text, segments=[SegmentOut(**s) for s in t.segments],
        words=[SegmentOut(start=round(a, 3), end=round(b, 3), text=w) for w, a, b in t.words],
        srt=to_srt(t.cues), vtt=to_vtt(t.cues), seconds=round(t.seconds, 3), rtf=round(t.rtf, 4),
        elapsed_ms=0.0)
    if req.store and store is not None:
        out.store_note = model.store_refusal(store)      # a recogniser's transcripts are text: the embedder must read it
        if out.store_note is None and t.text:
            out.id = await run_in_threadpool(_store_transcript, store, model, t, uploads["audio"], out,
                                             principal.key_id, req.beam)
        elif not t.text:
            out.store_note = "not stored: nothing was recognised"
    out.elapsed_ms = round((time.perf_counter() - t0) * 1000, 2)
    return out


def _store_transcript(store, model: ServedModel, t, audio: bytes, out: TranscribeResponse, user: str | None,
                      beam: int) -> str:
    """The transcript as one synthetic item: its words are the caption (keyword search) and its text embedding;
    the SRT and WebVTT files are its assets; the recording's hash and the model are its provenance."""
    provenance = {"model": model.name, "run": model.source, "model_version": model.version,
                  "step": model.config.get("step"), "conditions": {"audio_sha256": sha256(audio)},
                  "options": {"beam": beam}, "seconds": out.seconds, "segments": [s.model_dump() for s in out.segments],
                  "requested_by": user, "created": time.time()}
    item_id = content_id("synthetic", t.text, model.name, model.version, provenance["conditions"], beam)
    metadata = {"kind": "synthetic", "model": model.name, "model_version": model.version,
                "step": int(model.config.get("step") or 0), "seed": 0,
                "dataset": model.config.get("data", {}).get("name", ""), "user": user or "", "label": -1,
                "class_name": "", "caption": t.text[:1000]}
    store.add([NewItem(id=item_id, metadata=metadata, provenance=provenance, conditions=provenance["conditions"],
                       assets={"transcript.srt": out.srt.encode()},
                       text=t.text[:1000])])
    return item_id

"""POST /v1/generate: text, audio, image and/or label -> what the model generates (PNGs, WAVs, vectors, as its
codec answers), stored with provenance under the returned ids.

JSON (uploads as base64 in audio_b64 / image_b64 / mask_b64 / voice_b64) or multipart/form-data (uploads as files
`audio`, `image`, `mask`, `voice`). `voice`: for sound models trained with a voice condition, a recording whose
voice the clips are spoken in (optional: without one the model picks a voice).
"""
from __future__ import annotations

import asyncio
import base64
import time

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from ..deps import GeneratorDep, ModelsDep, OptionalStoreDep, SettingsDep, field_error, read_body
from ..generation import GenerateJob, ServedModel, random_seed, sha256
from ..limits import LimitExceeded, check_max, read_audio, read_image
from ..schemas import ErrorOut, GeneratedItemOut, GenerateRequest, GenerateResponse, LimitErrorOut
from .items import asset_url
from .openapi import body_doc

router = APIRouter(prefix="/v1", tags=["generate"])


@router.post("/generate", response_model=GenerateResponse, openapi_extra=body_doc("GenerateRequest", "GenerateForm"),
             responses={401: {"model": ErrorOut}, 403: {"model": ErrorOut}, 413: {"model": LimitErrorOut},
                        422: {"model": LimitErrorOut}, 429: {"model": LimitErrorOut}, 503: {"model": LimitErrorOut},
                        504: {"model": LimitErrorOut}})
async def generate(request: Request, principal: GeneratorDep, models: ModelsDep, store: OptionalStoreDep,
                   settings: SettingsDep) -> GenerateResponse:
    t0 = time.perf_counter()
    req, uploads = await read_body(request, GenerateRequest, files=("audio", "image", "mask", "voice"))
    limits = settings.limits
    check_max("max_n", req.n, limits.max_n, "n")
    if req.text is not None:
        check_max("max_text_chars", len(req.text), limits.max_text_chars, "text length")
    try:
        model = models.get(req.model)
    except KeyError as e:
        raise field_error("model", e.args[0]) from None
    store_note = model.store_refusal(store, req.text) if req.store and store is not None else None
    job = GenerateJob(n=req.n, seed=req.seed if req.seed is not None else random_seed(), truncation=req.truncation,
                      text=req.text, store=store if req.store and store_note is None else None,
                      requested_by=principal.key_id)
    _check_conditions(model, req, uploads)
    if req.label is not None:
        job.label = _label_index(model, req.label)
    if "audio" in uploads:
        job.audio = await run_in_threadpool(read_audio, uploads["audio"], limits, model.audio_sample_rate)
        job.audio_sha256 = sha256(uploads["audio"])
    if "image" in uploads:
        job.image = await run_in_threadpool(read_image, uploads["image"], limits)
        job.image_sha256 = sha256(uploads["image"])
    if "voice" in uploads:
        job.voice = await run_in_threadpool(read_audio, uploads["voice"], limits, model.voice_sample_rate)
        job.voice_sha256 = sha256(uploads["voice"])
    if "mask" in uploads:
        job.mask = await run_in_threadpool(read_image, uploads["mask"], limits, "mask")
        job.mask_sha256 = sha256(uploads["mask"])
        if job.mask.size != job.image.size:
            raise field_error("mask", f"the mask is {job.mask.size[0]}x{job.mask.size[1]} pixels but the image is "
                                      f"{job.image.size[0]}x{job.image.size[1]}; a mask must have its image's size")
    return await serve_job(model, models, job, settings, req.response, store_note, t0)


async def serve_job(model: ServedModel, models, job: GenerateJob, settings, response: str, store_note: str | None,
                    t0: float) -> GenerateResponse:
    """Queue a job on its model's batcher (within the limits), then answer its items as the codec makes them."""
    limits = settings.limits
    await models.ensure_started(model)
    if model.batcher.queued + job.n > limits.max_queue:
        raise LimitExceeded("max_queue", f"the service is busy: {model.batcher.queued} images are waiting for model "
                            f"{model.name!r}; the limit max_queue is {limits.max_queue}; retry shortly", 503,
                            value=model.batcher.queued + job.n, maximum=limits.max_queue, headers={"Retry-After": "2"})
    try:
        results = await asyncio.wait_for(model.generate(job), limits.generate_timeout_s)
    except asyncio.TimeoutError:
        raise LimitExceeded("generate_timeout_s", f"generation took longer than the limit generate_timeout_s of "
                            f"{limits.generate_timeout_s:g} s (the service is overloaded)", 504,
                            maximum=limits.generate_timeout_s) from None
    codec = model.codec
    items = []
    for g in results:
        inline = response == "base64" or g.id is None
        media = {f"{codec.name}_base64": base64.b64encode(g.media).decode()} if inline and g.media is not None else {}
        items.append(GeneratedItemOut(
            id=g.id, index=g.index, seed=g.seed, provenance=g.provenance, media_type=codec.media_type,
            url=asset_url(settings, g.id, codec.store_asset) if g.id else None, **g.fields, **media))
    stored = job.store is not None and codec.store_asset is not None
    return GenerateResponse(model=model.name, n=job.n, seed=job.seed, stored=stored, store_note=store_note,
                            elapsed_ms=round((time.perf_counter() - t0) * 1000, 2), items=items)


def _check_conditions(model: ServedModel, req: GenerateRequest, uploads: dict) -> None:
    takes = set(model.pipe.modalities)
    g = getattr(model.pipe, "generator", None)          # test doubles may have none
    if getattr(g, "upscales", False) or getattr(g, "restores", False):
        takes.add("image")                       # the image to upscale or restore
        if "image" not in uploads:
            raise field_error("image", f"model {model.name!r} "
                                       f"{'restores' if getattr(g, 'restores', False) else 'upscales'} images: "
                                       f"upload one (image, or image_b64)")
    if getattr(g, "restores", False):
        takes.add("mask")
        if "mask" not in uploads and not any(k in g.kinds for k in ("noise", "jpeg")):
            raise field_error("mask", f"model {model.name!r} was trained to fill holes only: upload the image's mask "
                                      f"(mask, or mask_b64; white = hole)", "missing")
    given = {"label": req.label is not None, "text": req.text is not None, "audio": "audio" in uploads,
             "image": "image" in uploads, "mask": "mask" in uploads, "voice": "voice" in uploads}
    for modality, present in given.items():
        if present and modality not in takes:
            raise field_error(modality, f"model {model.name!r} is not conditioned on {modality}; it takes "
                                     f"{', '.join(sorted(takes)) or 'no conditions'}")
    if takes - {"voice"} and not any(v for k, v in given.items() if k != "voice"):   # a voice alone is optional
        need = " or ".join(sorted(takes - {"voice"}))
        raise field_error(sorted(takes)[0], f"model {model.name!r} is conditioned on {', '.join(sorted(takes))}: "
                                            f"give {need}", "missing")


def _label_index(model: ServedModel, label: int | str, field: str = "label") -> int:
    names = model.pipe.class_names
    num = len(names) or int(getattr(getattr(model.pipe, "conditioner", None), "num_classes", 0) or 0)
    try:
        idx = model.pipe.label_index(label)
    except ValueError as e:
        raise field_error(field, str(e)) from None
    if num and not 0 <= idx < num:
        valid = f"0..{num - 1}" + (f" or a name: {', '.join(names)}" if names else "")
        raise field_error(field, f"{field} {label!r} is out of range; valid: {valid}")
    return idx

"""POST /v1/search: the k stored items nearest a text, audio or image query (or a stored item), with filters."""
from __future__ import annotations

import base64

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from ..deps import MetricsDep, SettingsDep, StoreDep, ViewerDep, field_error, read_body
from ..items import ITEM_ID_RE, audio_sample_rate
from ..limits import check_max, read_audio, read_image
from ..schemas import ErrorOut, LimitErrorOut, SearchHitOut, SearchRequest, SearchResponse
from .items import item_out
from .openapi import body_doc

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse, openapi_extra=body_doc("SearchRequest", "SearchForm"),
             responses={400: {"model": ErrorOut}, 401: {"model": ErrorOut}, 404: {"model": ErrorOut},
                        413: {"model": LimitErrorOut}, 429: {"model": LimitErrorOut}, 503: {"model": ErrorOut}})
async def search(request: Request, _: ViewerDep, store: StoreDep, settings: SettingsDep,
                 metrics: MetricsDep) -> SearchResponse:
    req, uploads = await read_body(request, SearchRequest, files=("audio", "image"), json_fields=("filters",))
    limits = settings.limits
    check_max("max_k", req.k, limits.max_k, "k")
    if req.text is not None:
        modality, query = "text", req.text
        check_max("max_text_chars", len(req.text), limits.max_text_chars, "text length")
    elif req.id is not None:
        if not ITEM_ID_RE.fullmatch(req.id):
            raise field_error("id", f"an item id matches {ITEM_ID_RE.pattern}")
        modality, query = "id", req.id
    elif "audio" in uploads:
        modality = "audio"
        sr = audio_sample_rate(getattr(store, "embedder", None))
        query = await run_in_threadpool(read_audio, uploads["audio"], limits, sr)
    else:
        modality = "image"
        query = await run_in_threadpool(read_image, uploads["image"], limits)
    try:
        hits = await run_in_threadpool(store.search, modality, query, dict(req.filters), req.k)
    except KeyError as e:
        raise HTTPException(404, e.args[0] if e.args else f"no item {req.id}") from None
    except ValueError as e:
        raise HTTPException(400, str(e)) from None
    metrics.searches.inc(modality)
    out = []
    for h in hits:
        b64 = None
        if req.inline:
            data = await run_in_threadpool(store.asset, h.id, "image.png")
            b64 = base64.b64encode(data).decode() if data else None
        out.append(SearchHitOut(id=h.id, score=h.score, item=item_out(h.item, settings), image_base64=b64))
    return SearchResponse(query=modality, k=req.k, filters=dict(req.filters), hits=out)

"""GET /v1/items/{id}, GET /v1/items/{id}/assets/{name}, DELETE /v1/items/{id}.

Ids and asset names are matched against strict patterns before they reach the store, so no path, `..` or
separator ever does; the store looks assets up by (id, name), never by a path built from them.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ..deps import AdminDep, SettingsDep, StoreDep, ViewerDep
from ..items import ASSET_NAME_RE, ITEM_ID_RE, media_type
from ..schemas import DeletedOut, ErrorOut, ItemOut
from ..settings import Settings

router = APIRouter(prefix="/v1/items", tags=["items"])

ItemId = Annotated[str, Path(pattern=f"^{ITEM_ID_RE.pattern}$", description="item id")]
AssetName = Annotated[str, Path(pattern=f"^{ASSET_NAME_RE.pattern}$", description="asset name, e.g. image.png")]


def asset_url(settings: Settings, item_id: str, name: str) -> str:
    return f"{settings.public_url.rstrip('/')}/v1/items/{item_id}/assets/{name}"


def item_out(item: dict, settings: Settings) -> ItemOut:
    assets = list(item.get("assets") or [])
    return ItemOut(id=item["id"], kind=item.get("kind", "synthetic"), modalities=item.get("modalities") or [],
                   metadata=item.get("metadata") or {},
                   provenance=item.get("provenance") or {}, assets=assets, created=item.get("created"),
                   urls={a: asset_url(settings, item["id"], a) for a in assets})


@router.get("/{item_id}", response_model=ItemOut, responses={404: {"model": ErrorOut}})
async def get_item(item_id: ItemId, _: ViewerDep, store: StoreDep, settings: SettingsDep) -> ItemOut:
    item = await run_in_threadpool(store.get, item_id)
    if item is None:
        raise HTTPException(404, f"no item {item_id}")
    return item_out(item, settings)


@router.get("/{item_id}/assets/{name}", response_class=Response,
            responses={200: {"content": {"image/png": {}}}, 404: {"model": ErrorOut}})
async def get_asset(item_id: ItemId, name: AssetName, _: ViewerDep, store: StoreDep) -> Response:
    data = await run_in_threadpool(store.asset, item_id, name)
    if data is None:
        raise HTTPException(404, f"no asset {name} for item {item_id}")
    return Response(data, media_type=media_type(name), headers={
        "Cache-Control": "private, max-age=86400, immutable", "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="{item_id}-{name}"'})


@router.delete("/{item_id}", response_model=DeletedOut, responses={404: {"model": ErrorOut}})
async def delete_item(item_id: ItemId, _: AdminDep, store: StoreDep) -> DeletedOut:
    if not await run_in_threadpool(store.delete, item_id):
        raise HTTPException(404, f"no item {item_id}")
    return DeletedOut(id=item_id, deleted=True)

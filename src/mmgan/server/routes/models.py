"""GET /v1/models (viewer); POST /v1/models and DELETE /v1/models/{name} (admin) load and unload runs."""
from __future__ import annotations

from pathlib import Path as FsPath
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path
from fastapi.concurrency import run_in_threadpool

from ..deps import AdminDep, ModelsDep, SettingsDep, ViewerDep, field_error
from ..schemas import MODEL_NAME_RE, ErrorOut, ModelLoadRequest, ModelOut, ModelsResponse
from ...pipeline import Pipeline

router = APIRouter(prefix="/v1/models", tags=["models"])

ModelName = Annotated[str, Path(pattern=f"^{MODEL_NAME_RE.pattern}$")]


@router.get("", response_model=ModelsResponse)
async def list_models(_: ViewerDep, models: ModelsDep) -> ModelsResponse:
    return ModelsResponse(models=[ModelOut(**m.info()) for m in models.models.values()], default=models.default)


@router.post("", response_model=ModelOut, status_code=201,
             responses={400: {"model": ErrorOut}, 403: {"model": ErrorOut}, 409: {"model": ErrorOut}})
async def load_model(body: ModelLoadRequest, _: AdminDep, models: ModelsDep, settings: SettingsDep) -> ModelOut:
    if not settings.model_root:
        raise HTTPException(403, "loading models over the API is off; start the server with --model-root DIR")
    root = FsPath(settings.model_root).resolve()
    path = (root / body.run).resolve()
    if not path.is_relative_to(root):
        raise field_error("run", f"run must be a folder inside the model root, not {body.run!r}")
    if body.name in models.models:
        raise HTTPException(409, f"a model named {body.name!r} is already served; unload it first")

    try:
        pipe = await run_in_threadpool(Pipeline.from_pretrained, path, settings.device)
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise field_error("run", f"cannot load {body.run!r}: {e}") from None
    try:
        m = await models.add(body.name, pipe, str(path))
    except ValueError as e:
        raise HTTPException(409, str(e)) from None
    return ModelOut(**m.info())


@router.delete("/{name}", response_model=ModelsResponse, responses={404: {"model": ErrorOut}})
async def unload_model(name: ModelName, _: AdminDep, models: ModelsDep) -> ModelsResponse:
    if name not in models.models:
        raise HTTPException(404, f"no model named {name!r}; served: {', '.join(models.names()) or 'none'}")
    await models.remove(name)
    return ModelsResponse(models=[ModelOut(**m.info()) for m in models.models.values()], default=models.default)

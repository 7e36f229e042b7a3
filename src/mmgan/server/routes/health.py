"""GET /healthz (no key), GET /metrics (Prometheus text), GET /v1/whoami."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials

from ..deps import (MetricsDep, ModelsDep, OptionalStoreDep, ViewerDep, api_key_header, app_state, bearer_scheme,
                    get_principal)
from ..schemas import HealthOut, WhoAmIOut
from ... import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthOut)
async def healthz(models: ModelsDep, store: OptionalStoreDep) -> HealthOut:
    return HealthOut(status="ok", models=models.names(), store=store is not None, version=__version__)


async def _metrics_access(request: Request, x_api_key: Annotated[str | None, Security(api_key_header)] = None,
                          bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None
                          ) -> None:
    if not app_state(request).settings.metrics_public:      # then any valid key may scrape
        await get_principal(request, x_api_key, bearer)


@router.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(_metrics_access)],
            responses={200: {"content": {"text/plain": {}}}})
async def metrics(m: MetricsDep) -> PlainTextResponse:
    return PlainTextResponse(m.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/v1/whoami", response_model=WhoAmIOut, tags=["keys"])
async def whoami(principal: ViewerDep) -> WhoAmIOut:
    return WhoAmIOut(key_id=principal.key_id, role=principal.role, name=principal.name)

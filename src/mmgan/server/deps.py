"""Typed dependencies: how routes reach the settings, the models, the store, the keys and the metrics.

Everything heavy is loaded once in the app's lifespan (app.py) and kept on `app.state.mmgan`; routes only
see it through these functions, so a test swaps any of them (they are async only so that FastAPI calls them
on the event loop instead of a worker thread):

    app.dependency_overrides[get_store] = lambda: MemoryItemStore(embedder)
    app.dependency_overrides[get_models] = lambda: ModelRegistry({"digits": pipe})
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from .generation import ModelRegistry
from .items import ItemStore
from .keys import KeyRing, role_rank
from .limits import RateLimiter
from .metrics import Metrics
from .settings import Settings


@dataclass
class AppState:
    """What the lifespan loads; one per app."""

    settings: Settings
    metrics: Metrics
    keys: KeyRing
    limiter: RateLimiter
    models: ModelRegistry | None = None
    store: ItemStore | None = None
    extras: dict = field(default_factory=dict)


def app_state(request: Request) -> AppState:
    return request.app.state.mmgan


async def get_settings(request: Request) -> Settings:
    return app_state(request).settings


async def get_metrics(request: Request) -> Metrics:
    return app_state(request).metrics


async def get_keys(request: Request) -> KeyRing:
    return app_state(request).keys


async def get_models(request: Request) -> ModelRegistry:
    models = app_state(request).models
    if models is None:
        raise HTTPException(503, "models are still loading")
    return models


async def get_store(request: Request) -> ItemStore | None:
    """The store, or None when the service runs without one (generate still works; nothing is stored)."""
    return app_state(request).store


SettingsDep = Annotated[Settings, Depends(get_settings)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
KeysDep = Annotated[KeyRing, Depends(get_keys)]
ModelsDep = Annotated[ModelRegistry, Depends(get_models)]
OptionalStoreDep = Annotated[ItemStore | None, Depends(get_store)]


async def require_store(store: OptionalStoreDep) -> ItemStore:
    if store is None:
        raise HTTPException(503, "this service has no store; start it with mmgan serve RUN --store DIR")
    return store


StoreDep = Annotated[ItemStore, Depends(require_store)]


# ---- API keys and roles ------------------------------------------------------------------------------------
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an mmgan API key")
bearer_scheme = HTTPBearer(auto_error=False, description="an mmgan API key as a bearer token")


@dataclass(frozen=True)
class Principal:
    key_id: str | None
    role: str
    name: str = ""


async def get_principal(request: Request, x_api_key: Annotated[str | None, Security(api_key_header)] = None,
                        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None
                        ) -> Principal:
    state = app_state(request)
    if not state.settings.auth:
        return Principal(None, "admin", "auth off")
    key = x_api_key or (bearer.credentials if bearer else None)
    if not key:
        raise HTTPException(401, "missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY' "
                                 "(make one with: mmgan keys create --role viewer)",
                            headers={"WWW-Authenticate": "Bearer"})
    rec = state.keys.verify(key)
    if rec is None:
        raise HTTPException(401, "invalid API key (revoked, mistyped or from another keys file)",
                            headers={"WWW-Authenticate": "Bearer"})
    state.limiter.check(rec.id)
    return Principal(rec.id, rec.role, rec.name)


def require(role: str):
    need = role_rank(role)

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if role_rank(principal.role) < need:
            raise HTTPException(403, f"this needs role {role} or above; key {principal.key_id} has role "
                                     f"{principal.role}")
        return principal

    check.__name__ = f"require_{role}"
    return check


ViewerDep = Annotated[Principal, Depends(require("viewer"))]
GeneratorDep = Annotated[Principal, Depends(require("generator"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]


# ---- bodies that come as JSON or as multipart form ------------------------------------------------------------
def _validation_error(e: ValidationError, where: str = "body") -> RequestValidationError:
    errors = []
    for err in e.errors(include_url=False):
        err = dict(err)
        err["loc"] = (where, *err.get("loc", ()))
        if isinstance(err.get("ctx"), dict):        # e.g. the exception object of a ValueError: make it JSON
            err["ctx"] = {k: str(v) for k, v in err["ctx"].items()}
        err.pop("input", None)
        errors.append(err)
    return RequestValidationError(errors)


def field_error(field: str, msg: str, kind: str = "value_error") -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": msg, "type": kind}])


def decode_b64(field: str, value: str | None) -> bytes | None:
    if value is None:
        return None
    if "," in value[:64] and value.startswith("data:"):
        value = value.split(",", 1)[1]                # a data: URL
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise field_error(field, "not valid base64") from None


async def read_body(request: Request, model: type[BaseModel], files: tuple[str, ...] = (),
                    json_fields: tuple[str, ...] = ()) -> tuple[BaseModel, dict[str, bytes]]:
    """Parse a JSON body, or a multipart form with the same fields plus file uploads.

    Returns the validated model and the uploaded bytes by field (from files, or base64 `<field>_b64`)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        data = await _read_form(request, files, json_fields)
    elif ctype == "application/json" or ctype.endswith("+json"):
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RequestValidationError([{"loc": ("body",), "msg": "body is not valid JSON",
                                           "type": "json_invalid"}]) from None
        if not isinstance(data, dict):
            raise RequestValidationError([{"loc": ("body",), "msg": "body must be a JSON object",
                                           "type": "model_type"}])
    else:
        raise HTTPException(415, f"send application/json or multipart/form-data, not {ctype or 'nothing'}")
    try:
        parsed = model.model_validate(data)
    except ValidationError as e:
        raise _validation_error(e) from None
    uploads: dict[str, bytes] = {}
    for f in files:
        raw = decode_b64(f"{f}_b64", getattr(parsed, f"{f}_b64", None))
        if raw is not None:
            uploads[f] = raw
    return parsed, uploads


async def _read_form(request: Request, files: tuple[str, ...], json_fields: tuple[str, ...]) -> dict[str, Any]:
    """Form fields as a dict; an uploaded file `f` becomes base64 in `f_b64`, as a JSON client would send it."""
    try:
        form = await request.form(max_files=max(1, len(files)), max_fields=32)
    except HTTPException:
        raise
    except Exception as e:
        raise HTTPException(400, f"cannot parse the form: {e}") from None
    data: dict[str, Any] = {}
    try:
        for key, value in form.multi_items():
            name = f"{key}_b64" if key in files else key
            if name in data:
                raise field_error(key, "given more than once")
            if key in files:
                if isinstance(value, str):
                    if value:
                        raise field_error(key, "must be a file upload")
                    continue
                raw = await value.read()
                if raw:                               # an empty file input means "no file"
                    data[name] = base64.b64encode(raw).decode()
            elif not isinstance(value, str):
                raise field_error(key, "must be a plain field, not a file")
            elif value == "":
                continue                              # empty form fields mean "not given"
            elif key in json_fields:
                try:
                    data[key] = json.loads(value)
                except json.JSONDecodeError:
                    raise field_error(key, "must be JSON") from None
            else:
                data[key] = value
    finally:
        await form.close()
    return data

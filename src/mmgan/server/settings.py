"""Settings: the one object that says what the service serves and how. Built by `mmgan serve` from its flags,
by tests directly. Safe defaults: loopback only, keys required, CORS off, every limit on.

    settings = Settings(runs={"digits": "runs/00001-digits"}, store="store/")
    app = create_app(settings)
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, Field, field_validator
from .schemas import MODEL_NAME_RE


def default_keys_file() -> Path:
    """Where `mmgan keys` and `mmgan serve` look for API keys unless told: $MMGAN_KEYS_FILE, else ~/.mmgan/keys.json."""
    env = os.environ.get("MMGAN_KEYS_FILE")
    return Path(env) if env else Path.home() / ".mmgan" / "keys.json"


class Limits(BaseModel):
    """Every request is held to these; a violation is a 4xx whose message names the limit."""

    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024, description="largest request body")
    max_audio_seconds: float = Field(30.0, gt=0, description="longest audio upload (a condition)")
    max_transcribe_seconds: float = Field(600.0, gt=0, description="longest recording /v1/transcribe takes")
    max_image_pixels: int = Field(4096 * 4096, ge=1, description="largest image upload, width x height")
    max_n: int = Field(64, ge=1, description="most images one generate request may ask for")
    max_k: int = Field(100, ge=1, description="most results one search may ask for")
    max_text_chars: int = Field(1000, ge=1, le=1024, description="longest text prompt or query (at most 1024: "
                                                                 "the store keeps 4096 bytes of caption)")
    max_queue: int = Field(2048, ge=1, description="images waiting for a model before new requests get 503")
    generate_timeout_s: float = Field(120.0, gt=0, description="longest a generate request may wait and run")
    rate_per_minute: float = Field(600.0, ge=0, description="requests per minute per API key (0 = no limit)")
    rate_burst: int = Field(60, ge=1, description="requests a key may make at once before the rate applies")


class Batching(BaseModel):
    """Micro-batching of generate requests on each model (see batching.py)."""

    max_batch: int = Field(64, ge=1, description="most images one model call generates")
    max_wait_ms: float = Field(2.0, ge=0, description="how long a batch waits for company when the model is idle")


class Settings(BaseModel):
    runs: dict[str, str] = Field(default_factory=dict, description="model name -> run folder, checkpoint or export")
    store: str | None = Field(None, description="store data directory (Milvus Lite, one process per directory)")
    store_uri: str | None = Field(None, description="store server URI (mmgan store serve, Milvus), instead of a folder")
    store_token: str | None = None
    store_assets: str | None = Field(None, description="folder for the store's image files (default: DIR/assets)")
    collection: str = "mmgan"
    asset_fsync: bool = Field(True, description="fsync each generated PNG before its row is written; off trades "
                                                "durability on power loss (the images are regenerable from their "
                                                "provenance) for faster stored generation")
    store_accelerate: str = Field("off", pattern="^(off|exact|hnsw)$",
                                  description="in-process copy of the vectors for fast unfiltered search (embedded "
                                              "stores): off, exact (numpy) or hnsw (faiss; costly inserts)")
    embedder: str | None = Field(None, description="joint space for search (default: the first run's, if it has one)")
    keys_file: Path = Field(default_factory=default_keys_file)
    auth: bool = Field(True, description="require API keys (turn off only for a single user on loopback)")
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed by CORS (empty = CORS off)")
    public_url: str = Field("", description="base URL used in asset links (empty = relative links)")
    device: str = "auto"
    threads: int = Field(0, ge=0, description="torch threads (0 = torch's default)")
    limits: Limits = Field(default_factory=Limits)
    batching: Batching = Field(default_factory=Batching)
    model_root: str | None = Field(None, description="folder admins may load new models from (POST /v1/models)")
    metrics_public: bool = Field(True, description="serve /metrics without a key (it holds only counters)")

    @field_validator("runs")
    @classmethod
    def _names(cls, runs: dict[str, str]) -> dict[str, str]:
        for name in runs:
            if not MODEL_NAME_RE.fullmatch(name):
                raise ValueError(f"model name {name!r} must match {MODEL_NAME_RE.pattern}")
        return runs


def parse_runs(specs: list[str]) -> dict[str, str]:
    """`name=RUN` pairs, or one bare RUN named after its folder."""
    runs: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            name, path = _name_from_path(spec), spec
        if name in runs:
            raise ValueError(f"model name {name!r} given twice; name them: mmgan serve a=RUN1 b=RUN2")
        runs[name] = path
    return runs


def _name_from_path(path: str) -> str:
    import re

    stem = Path(path.rstrip("/")).name or "model"
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", stem).strip("-.") or "model"
    return name[:64]

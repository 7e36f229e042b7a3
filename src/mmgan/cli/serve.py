"""`mmgan serve` and `mmgan keys`, registered into mmgan.cli.COMMANDS when mmgan.cli loads its plugins.

    mmgan serve RUN --store DIR                       # one model, named after its folder
    mmgan serve digits=RUN1 shapes=RUN2 --store DIR   # several, each named
    mmgan keys create --role viewer|generator|admin [--name NAME]   # prints the key once
    mmgan keys list | mmgan keys revoke ID
"""
from __future__ import annotations

import sys

from .commands import COMMANDS
from .options import add_device, add_embedder, add_store
from ..server.app import create_app
from ..server.keys import KeyRing
from ..server.keys import ROLES
from ..server.settings import Batching, Limits, Settings, default_keys_file, parse_runs


def _add_keys_arg(p) -> None:
    p.add_argument("--keys", default=None, help=f"keys file (default: $MMGAN_KEYS_FILE or {default_keys_file()})")


# ---- serve ---------------------------------------------------------------------------------------------------
def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="serve runs over HTTP: API, OpenAPI docs at /docs, web page at /",
                       description="Serve one or more runs: POST /v1/generate, POST /v1/search, GET /v1/items/ID, "
                                   "GET /v1/models, /healthz, /metrics; a web page at /. Every /v1 call needs an API "
                                   "key (mmgan keys create).")
    p.add_argument("runs", nargs="+", metavar="[NAME=]RUN", help="run folder, checkpoint or export; NAME=RUN to name it")
    g = add_store(p, store_help="store folder (Milvus Lite; one process per folder), or 'memory' (default: none)")
    g.add_argument("--no-asset-fsync", action="store_true",
                   help="do not fsync generated PNGs (faster; a power loss may lose the last seconds of images, "
                        "which their provenance regenerates)")
    g.add_argument("--store-accelerate", choices=("off", "exact", "hnsw"), default="off",
                   help="keep an in-process copy of the vectors for fast unfiltered search (costs on every insert)")
    add_embedder(p, "joint space for search (default: RUN/joint of the first run, if any)")
    _add_keys_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--cors-origin", action="append", default=[],
                   help="allow this browser origin (repeatable; default none)")
    p.add_argument("--public-url", default="", help="base URL for asset links in responses")
    add_device(p)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--model-root", help="folder under which admins may load runs with POST /v1/models")
    p.add_argument("--no-auth", action="store_true", help="no API keys (refused unless bound to loopback)")
    p.add_argument("--private-metrics", action="store_true", help="/metrics needs a key too")
    lim = Limits()
    for name, field in Limits.model_fields.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(getattr(lim, name)), default=getattr(lim, name),
                       help=f"{field.description} (default {getattr(lim, name)})")
    p.add_argument("--max-batch", type=int, default=Batching().max_batch, help="most images per model call")
    p.add_argument("--max-wait-ms", type=float, default=Batching().max_wait_ms, help="how long a batch waits for company")
    p.add_argument("--log-level", default="info")


def settings_from_args(args) -> Settings:
    runs = parse_runs(args.runs)
    limits = Limits(**{name: getattr(args, name) for name in Limits.model_fields})
    kw = {}
    if args.keys:
        kw["keys_file"] = args.keys
    return Settings(runs=runs, store=args.store, store_uri=args.store_uri, store_token=args.store_token,
                    store_assets=args.store_assets, store_accelerate=args.store_accelerate,
                    asset_fsync=not args.no_asset_fsync,
                    collection=args.collection, embedder=args.embedder, auth=not args.no_auth, host=args.host,
                    port=args.port, cors_origins=args.cors_origin, public_url=args.public_url, device=args.device,
                    threads=args.threads, model_root=args.model_root, metrics_public=not args.private_metrics,
                    limits=limits, batching=Batching(max_batch=args.max_batch, max_wait_ms=args.max_wait_ms), **kw)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def run_serve(args) -> int:
    import uvicorn

    settings = settings_from_args(args)
    if not settings.auth and settings.host not in LOOPBACK:
        raise ValueError(f"--no-auth is only allowed on loopback, not --host {settings.host}")
    if settings.host not in LOOPBACK:
        print(f"warning: binding {settings.host}: the service is reachable from other machines", file=sys.stderr)
    app = create_app(settings)
    print(f"serving {', '.join(f'{k}={v}' for k, v in settings.runs.items())} on http://{settings.host}:{settings.port} "
          f"(page /, docs /docs; keys {settings.keys_file})", file=sys.stderr)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level, access_log=False,
                timeout_graceful_shutdown=10, limit_concurrency=1024, server_header=False)
    return 0


# ---- keys ---------------------------------------------------------------------------------------------------------
def add_keys(sub) -> None:
    p = sub.add_parser("keys", help="make, list and revoke API keys for mmgan serve")
    ksub = p.add_subparsers(dest="keys_cmd", required=True)
    c = ksub.add_parser("create", help="make a key; it is printed once and stored only as a hash")
    c.add_argument("--role", required=True, choices=ROLES)
    c.add_argument("--name", default="", help="who or what the key is for")
    _add_keys_arg(c)
    ls = ksub.add_parser("list", help="list keys (ids, roles, names; never the keys)")
    _add_keys_arg(ls)
    r = ksub.add_parser("revoke", help="revoke a key by id")
    r.add_argument("id")
    _add_keys_arg(r)


def run_keys(args) -> int:
    from datetime import datetime

    ring = KeyRing(args.keys or default_keys_file())
    if args.keys_cmd == "create":
        rec, key = ring.create(args.role, args.name)
        print(key)
        print(f"key {rec.id} ({rec.role}) saved as a hash in {ring.path}; this is the only time it is shown",
              file=sys.stderr)
        return 0
    if args.keys_cmd == "list":
        for rec in ring.records():
            when = datetime.fromtimestamp(rec.created).strftime("%Y-%m-%d %H:%M")
            print(f"{rec.id}\t{rec.role}\t{when}\t{rec.name}")
        return 0
    if not ring.revoke(args.id):
        raise KeyError(f"no key with id {args.id} in {ring.path}")
    print(f"revoked {args.id}", file=sys.stderr)
    return 0


COMMANDS["serve"] = (add_serve, run_serve)
COMMANDS["keys"] = (add_keys, run_keys)

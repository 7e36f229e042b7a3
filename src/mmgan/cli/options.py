"""Options that several subcommands share, defined once so that one concept has one name everywhere.

    --store DIR, --store-uri, --store-token, --store-assets, --collection   the vector store
    -n/--num N        how many (items, samples)         --seed S    --device D
    --embedder RUN    the joint space to embed with

An older spelling stays accepted as a hidden alias (same dest, not in --help), so existing scripts
keep working while the help and the docs show one name: `alias(p, "--path", dest="store")`.
"""
from __future__ import annotations

import argparse

from ..store.connect import DEFAULT_PATH, DEFAULT_PATH_ENV, DEFAULT_PORT
from ..store.store import DEFAULT_COLLECTION

DEVICE_HELP = "cpu, cuda, cuda:N, mps or auto (default auto: a GPU when there is one)"


def alias(p, *names: str, dest: str, **kw) -> None:
    """Accept `names` as hidden spellings of the option stored in `dest` (added after the visible one,
    whose default wins)."""
    p.add_argument(*names, dest=dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS, **kw)


def add_store(p, title: str = "store", collection: bool = True, assets: bool = True, store_help: str = ""):
    """The vector store: a folder (embedded Milvus Lite) or a Milvus server by URI. Returns the group."""
    g = p.add_argument_group(title)
    g.add_argument("--store", metavar="DIR", help=store_help or
                   f"store folder (embedded Milvus Lite; default ${DEFAULT_PATH_ENV} or ./{DEFAULT_PATH})")
    g.add_argument("--store-uri", metavar="URI", help=f"a Milvus server instead of a folder, e.g. "
                   f"http://127.0.0.1:{DEFAULT_PORT} (from `mmgan store serve`)")
    g.add_argument("--store-token", metavar="TOKEN", help="Milvus token for --store-uri (user:password or API key)")
    alias(g, "--path", "--store-path", dest="store")
    alias(g, "--uri", dest="store_uri")
    alias(g, "--token", dest="store_token")
    if assets:
        g.add_argument("--store-assets", metavar="DIR",
                       help="folder of the items' files (default: DIR/assets, or the one the collection records)")
        alias(g, "--assets", dest="store_assets")
    if collection:
        g.add_argument("--collection", default=DEFAULT_COLLECTION, help=f"collection name (default {DEFAULT_COLLECTION})")
    return g


def add_num(p, default: int, help: str) -> None:
    p.add_argument("-n", "--num", type=int, default=default, metavar="N", help=help)
    alias(p, "--n", dest="num", type=int)


def add_seed(p, help: str = "random seed (default 0)") -> None:
    p.add_argument("--seed", type=int, default=0, help=help)


def add_device(p, default: str = "auto") -> None:
    p.add_argument("--device", default=default, help=DEVICE_HELP)


def add_tiling(p, tile: int, unit: str = "pixels") -> None:
    """--tile, --overlap, --context: how image-to-image commands (upscale, restore) cut big images (Pipeline's tiler)."""
    p.add_argument("--tile", type=int, default=tile, help=f"tile side in {unit} (default {tile}; smaller = less memory)")
    p.add_argument("--overlap", type=int, default=8, help=f"{unit} over which neighbouring tiles blend (default 8)")
    p.add_argument("--context", type=int, default=0, help=f"{unit} read around each tile beyond the overlap "
                   "(default 0 = the generator's receptive radius: tiled output equals whole-image output)")


def add_embedder(p, help: str) -> None:
    p.add_argument("--embedder", metavar="RUN", help=help)

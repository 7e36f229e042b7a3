"""`mmgan index`, `mmgan search`, `mmgan store stats|delete|export|serve` and `mmgan generate --retrieve K`.

    mmgan index my-data/manifest.jsonl --store st        # fits a joint space on the data (kept in st/joint/)
    mmgan index shapes --embedder runs/00004-joint --store st  # a dataset's items (real), a trained space
    mmgan index runs/00003-shapes-text --per-condition 8 --store st   # a run's generated samples (synthetic)
    mmgan search --text "a small green triangle" -k 8 --kind real --store st
    mmgan index spoken-digits --store sd                 # clips with captions: a text+audio space bound to the audio
    mmgan generate runs/00007-spoken-digits-specgan --label 7 -n 4 --out gen --store sd   # + stored, with provenance
    mmgan search --text "seven" --store sd               # the clips (their WAV paths), best first
    mmgan store serve --store st                         # share one store between processes
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import yaml

from .commands import COMMANDS
from .options import add_device, add_embedder, add_num, add_seed, add_store, alias
from ..api.generate import generate_to_dir
from ..conditioning import load_embedder
from ..data import load_dataset
from ..pipeline import Pipeline
from ..runs import looks_like_model
from ..store.connect import DEFAULT_PATH, DEFAULT_PATH_ENV, DEFAULT_PORT
from ..store.connect import serve as serve_store
from ..store.index import embed_query, index_dataset, index_run, store_outputs
from ..store.rag import accepts_retrieved, retrieve_conditions
from ..store.schema import CONTENT
from ..store.sheet import contact_sheet, hit_record, hits_table
from ..store.spaces import runs_trained_on, store_space, store_space_dir
from ..store.store import DUP_THRESHOLD, Store
from ..training.conditioner import joint_options
from ..training.joint import fit_joint_space, hub_of

# model.extra keys of the joint space that `mmgan index --set` takes for a space fitted on the data
JOINT_KEYS = ("joint_dim", "joint_minutes", "joint_steps", "joint_audio_steps", "joint_batch", "joint_heads",
              "text_encoder", "audio_encoder", "joint_encoders")


def _open(args):
    store = Store.open(path=args.store, uri=args.store_uri, token=args.store_token, collection=args.collection,
                       assets=getattr(args, "store_assets", None))
    if store.endpoint.note:
        print(store.endpoint.note, file=sys.stderr)
    return store


def _milvus_errors(run):
    """Milvus errors become the CLI's one-line errors."""
    def wrapped(args) -> int:
        from pymilvus.exceptions import MilvusException

        try:
            return run(args)
        except MilvusException as e:
            raise RuntimeError(f"Milvus: {getattr(e, 'message', e)}") from e
    return wrapped


def _load_embedder(spec: str | None, fallback: str | None = None, store=None):
    src = spec or fallback or (store_space(store) if store is not None else "")
    if not src:
        raise ValueError("no embedder: pass --embedder RUN (a run or folder holding the joint space, RUN/joint/)")
    try:
        emb = load_embedder(src)
    except ModuleNotFoundError as e:
        if e.name and e.name.startswith("mmgan"):
            raise ValueError(f"cannot load the joint space from {src}: mmgan.multimodal is not installed") from e
        raise
    if store is not None and store.exists and store.embedder and emb.id != store.embedder:
        raise ValueError(f"embedder {emb.id!r} (from {src}) is not the one this store was built with "
                         f"({store.embedder!r}); pass --embedder {store.embedder_source or 'PATH'}")
    return emb, src


# ---- index ---------------------------------------------------------------------------------------------
def _add_index(sub):
    p = sub.add_parser("index", help="put a dataset or a run's generated samples into the vector store",
                       description="Index a dataset (real items) or a run (N generated samples per condition, with "
                       "provenance). Idempotent: items are content-addressed, so running it again adds only what is "
                       "missing, e.g. after an interruption. Without --embedder a dataset is embedded with the "
                       "store's joint space, else that of a run under ./runs trained on the same data, else a joint "
                       "space fitted on the data now (kept in DIR/joint/ of the store, where searches find it).")
    p.add_argument("source", help="dataset (built-in name, folder or manifest) or run folder")
    add_embedder(p, "joint space to embed with: a run or folder with RUN/joint/ (default for a run: the run "
                 "itself; for a dataset: see above)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="an option of a joint space fitted on the data, named as in model.extra: "
                        f"{', '.join(JOINT_KEYS)} (e.g. --set joint_minutes=1; repeatable)")
    p.add_argument("--split", default="train", help="dataset split (default train)")
    add_num(p, 0, "number of dataset items (0 = all)")
    add_seed(p, "dataset subset seed, or the first sampling seed of a run (default 0)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--per-condition", type=int, default=4, help="samples per condition (runs)")
    p.add_argument("--label", action="append", help="condition labels to sample (runs; default: every class)")
    p.add_argument("--text", action="append", help="captions to sample (text runs; default: dataset captions; "
                   "repeatable)")
    alias(p, "--prompt", dest="text", action="append")
    add_device(p)
    p.add_argument("--duplicates", choices=["skip", "keep"], default=None,
                   help="near-duplicates are always reported; skip them (default for runs) or keep them (default "
                        "for datasets: real items are not dropped unless asked)")
    p.add_argument("--dup-threshold", type=float, default=DUP_THRESHOLD, help="cosine at which items are near-duplicates")
    p.add_argument("--user", default=None)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_store(p)


def _joint_overrides(pairs: list[str]) -> dict:
    """--set KEY=VALUE pairs (KEY as in model.extra, optionally prefixed model.extra.) -> {key: value}."""
    extra = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        key = key.strip().removeprefix("model.extra.")
        if not eq or key not in JOINT_KEYS:
            raise ValueError(f"--set {pair!r}: give KEY=VALUE with KEY one of {', '.join(JOINT_KEYS)}")
        try:
            extra[key] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ValueError(f"--set {pair!r}: cannot read the value ({e})") from e
    return extra


def _fit_space(args, store, ds) -> tuple:
    """No joint space is known for this data: fit one on it and keep it in the store's folder."""
    out = store_space_dir(store)
    if out is None:
        raise ValueError("no embedder: a store reached by --store-uri has no folder to keep a joint space fitted on "
                         "the data; pass --embedder RUN, or index into a store folder (--store DIR)")
    hub = hub_of(ds) if ds.has("image") or ds.has("audio") else ""
    bound = [m for m in ("text", "audio") if ds.has(m) and m != hub] + \
        (["label"] if ds.has("label") and ds.info.num_classes >= 2 else [])
    if not hub or not bound:
        raise ValueError(f"no embedder, and {args.source} cannot teach one: fitting a joint space needs images paired "
                         f"with text, audio or labels, or sound paired with text or labels (it has {', '.join(ds.columns)}); "
                         f"pass --embedder RUN")
    opts = joint_options(_joint_overrides(args.overrides), seed=args.seed)
    limit = f"{opts.minutes:g} min" if opts.minutes > 0 else "no time limit"
    audio_steps = opts.audio_steps if "audio" in bound else 0
    print(f"no joint space for {args.source}: fitting one on its {len(ds)} items ({hub} with {', '.join(bound)}; "
          f"at most {opts.steps} + {audio_steps} steps, {limit}). It is kept in {out} "
          f"and later searches use it; pass --embedder RUN to use a trained run's joint space instead.", file=sys.stderr)
    t0 = time.time()
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    space, _ = fit_joint_space(ds, out, None, opts, log=log, progress=not args.quiet)
    print(f"joint space {space.id} fitted in {time.time() - t0:.0f}s and saved to {out}", file=sys.stderr)
    return space, str(out)


def _dataset_embedder(args, store, ds) -> tuple:
    """The joint space for a dataset without --embedder: the store's, a run's trained on the same data,
    else one fitted on the data now."""
    if store.exists or store_space(store):
        return _load_embedder(None, store=store)
    for run in runs_trained_on(args.source):
        print(f"no --embedder: using the joint space of {run}, trained on the same data", file=sys.stderr)
        return _load_embedder(str(run))
    return _fit_space(args, store, ds)


@_milvus_errors
def _run_index(args) -> int:
    run = looks_like_model(args.source)                # a run, checkpoint or export (else a dataset)
    with _open(args) as store:
        ds = None
        if run and not args.embedder and (store.exists or store_space(store)):
            emb, src = _load_embedder(None, store=store)   # a run's samples go into the store's own space
        elif run or args.embedder:
            emb, src = _load_embedder(args.embedder, args.source if run else None)
        else:
            ds = load_dataset(args.source, split=args.split, n=args.num, seed=args.seed)
            emb, src = _dataset_embedder(args, store, ds)
        if store.exists and store.embedder != emb.id:
            raise ValueError(f"this store holds embeddings of {store.embedder!r}; {src} gives {emb.id!r}. "
                             f"Use another --collection or --store")
        if not store.exists:
            store.create(emb.dim, emb.id, source=src)
        if run:
            rep = index_run(store, emb, args.source, per_condition=args.per_condition, seed=args.seed,
                            labels=args.label, prompts=args.text, batch_size=min(args.batch_size, 256),
                            user=args.user, device=args.device, on_duplicate=args.duplicates or "skip",
                            dup_threshold=args.dup_threshold, progress=not args.quiet)
        else:
            rep = index_dataset(store, emb, ds if ds is not None else args.source, split=args.split, n=args.num,
                                seed=args.seed, batch_size=args.batch_size, user=args.user,
                                on_duplicate=args.duplicates or "keep", dup_threshold=args.dup_threshold,
                                progress=not args.quiet)
        store.flush()
        print(f"{args.source}: {rep.summary()}; store {store.location} now holds {store.count()} items")
        for iid, other, sim in rep.duplicates[:5]:
            print(f"  near-duplicate {iid[:12]} ~ {other[:12]} (cosine {sim:.4f})")
        if len(rep.duplicates) > 5:
            print(f"  ... {len(rep.duplicates) - 5} more")
    return 0


COMMANDS["index"] = (_add_index, _run_index)


# ---- search ----------------------------------------------------------------------------------------------
def _add_search(sub):
    p = sub.add_parser("search", help="search the vector store by text, audio, image or item id",
                       description="Prints a table of the hits and writes a contact sheet PNG. A text query is "
                       "hybrid by default: BM25 over captions and dense vectors, fused with RRF.")
    q = p.add_argument_group("query (one or more of text/image/audio, or an item id)")
    q.add_argument("--text")
    q.add_argument("--image", help="image file")
    q.add_argument("--audio", help="audio file")
    q.add_argument("--id", dest="item_id", help="find items similar to a stored item")
    p.add_argument("-k", "--top-k", type=int, default=10)
    p.add_argument("--kind", choices=["real", "synthetic"])
    p.add_argument("--filter", help='Milvus expression over metadata, e.g. \'label == 3 and step >= 1000\'')
    p.add_argument("--against", choices=[CONTENT, "image", "text", "audio", "any"], default=CONTENT,
                   help="which embeddings of the items to match (default content: what each item is, its image "
                        "or its clip; text: their captions' vectors; any: the best of all)")
    p.add_argument("--dense", action="store_true", help="dense only: no BM25 for a text query")
    add_embedder(p, "joint space (default: the one the store was indexed with)")
    p.add_argument("--sheet", default="search.png", help="contact sheet PNG to write ('' for none)")
    p.add_argument("--json", action="store_true", help="print hits as JSON lines instead of a table")
    add_store(p)


@_milvus_errors
def _run_search(args) -> int:
    if not (args.text or args.image or args.audio or args.item_id):
        raise ValueError("give a query: --text, --image, --audio or --id")
    if args.item_id and (args.text or args.image or args.audio):
        raise ValueError("--id searches by a stored item; do not combine it with --text/--image/--audio")
    against = None if args.against == "any" else args.against
    with _open(args) as store:
        if not store.exists:
            raise ValueError(f"store {store.location} is empty; index something first (`mmgan index DATA --store DIR`)")
        if args.item_id:
            hits = store.similar(args.item_id, k=args.top_k, modality=against, kind=args.kind, filter=args.filter)
        else:
            emb, _ = _load_embedder(args.embedder, store=store)
            vec = embed_query(emb, text=args.text, image=args.image, audio=args.audio)
            if args.text and not args.dense and against is not None:
                hits = store.hybrid_search(vec, args.text, k=args.top_k, modality=against, kind=args.kind,
                                           filter=args.filter)
            else:
                hits = store.search(vec, k=args.top_k, modality=against, kind=args.kind, filter=args.filter)
        if args.json:
            for h in hits:
                print(json.dumps(hit_record(h, store.assets), default=str, sort_keys=True))
        else:
            print(hits_table(hits, assets_dir=store.assets))
        if args.sheet:
            path = contact_sheet(hits, store.assets, args.sheet)
            print(f"contact sheet: {path}", file=sys.stderr)
    return 0


COMMANDS["search"] = (_add_search, _run_search)


# ---- store -------------------------------------------------------------------------------------------------
def _add_store(sub):
    p = sub.add_parser("store", help="vector store: stats, delete, export, serve")
    ssub = p.add_subparsers(dest="store_cmd", required=True)
    s = ssub.add_parser("stats", help="counts by kind, modality, dataset and model")
    s.add_argument("--json", action="store_true")
    add_store(s)
    d = ssub.add_parser("delete", help="delete items by id or by filter (their assets too)")
    d.add_argument("--id", dest="ids", action="append", help="item id (repeatable)")
    d.add_argument("--filter", help="Milvus expression; every item with a matching row is deleted")
    d.add_argument("--keep-assets", action="store_true")
    add_store(d)
    e = ssub.add_parser("export", help="write items to Parquet or JSONL")
    e.add_argument("--out", required=True, help="file.parquet or file.jsonl")
    e.add_argument("--format", choices=["parquet", "jsonl"])
    e.add_argument("--filter")
    e.add_argument("--no-vectors", action="store_true")
    add_store(e)
    v = ssub.add_parser("serve", help="run Milvus Lite on a store folder so several processes can share it")
    v.add_argument("--store", metavar="DIR", help=f"store folder (default ${DEFAULT_PATH_ENV} or ./{DEFAULT_PATH})")
    alias(v, "--path", dest="store")
    v.add_argument("--port", type=int, default=DEFAULT_PORT)
    v.add_argument("--host", default="127.0.0.1", help="bind address (default loopback only)")


@_milvus_errors
def _run_store(args) -> int:
    if args.store_cmd == "serve":
        serve_store(args.store, port=args.port, host=args.host)
        return 0
    with _open(args) as store:
        if args.store_cmd == "stats":
            st = store.stats()
            if args.json:
                print(json.dumps(st, indent=2, default=str))
            else:
                for k, v in st.items():
                    print(f"{k}: {v}")
        elif args.store_cmd == "delete":
            if not args.ids and not args.filter:
                raise ValueError("store delete needs --id ID (repeatable) or --filter EXPR")
            n = store.delete(ids=args.ids, filter=args.filter, assets=not args.keep_assets)
            print(f"deleted {n} items; {store.count()} left")
        elif args.store_cmd == "export":
            n = store.export(args.out, format=args.format, filter=args.filter, vectors=not args.no_vectors)
            print(f"exported {n} items to {args.out}")
    return 0


COMMANDS["store"] = (_add_store, _run_store)


# ---- generate --retrieve K (wraps whatever `generate` is registered) -----------------------------------
_base_generate = COMMANDS.get("generate")
if _base_generate is not None:
    _base_add, _base_run = _base_generate

    def _add_generate(sub):
        _base_add(sub)
        p = sub.choices["generate"]
        g = p.add_argument_group("vector store: keep the samples (--store), retrieve for them (--retrieve)")
        g.add_argument("--retrieve", type=int, default=0, metavar="K",
                       help="condition on the --text query fused with its K nearest real items in the store")
        add_embedder(g, "joint space for the store (default: the store's)")
        alias(g, "--retrieve-embedder", dest="embedder")
        add_store(p, title="the store: every sample is also stored there with its provenance and file (embedded "
                  "by the store's joint space); with --retrieve K, the store to retrieve from (nothing is stored)")

    def _keep_in_store(args, store):
        """args.on_result for generate_to_dir: store the call's samples before their files are written."""
        emb, _ = _load_embedder(args.embedder, store=store)
        settings = {k: v for k, v in (("truncation", args.truncation), ("vocoder", args.vocoder)) if v not in (None, 1.0)}
        done = {}

        def on_result(pipe, result):
            done["report"] = store_outputs(store, emb, pipe, result, args.run, seed=args.seed, settings=settings)
        args.on_result = on_result
        return done

    def _store_wanted(args) -> bool:
        return bool(getattr(args, "store", None) or getattr(args, "store_uri", None))

    @_milvus_errors
    def _run_generate(args) -> int:
        if not getattr(args, "retrieve", 0):
            if not _store_wanted(args):
                return _base_run(args)
            with _open(args) as store:
                if not store.exists and not args.embedder:
                    raise ValueError(f"store {store.location} is empty, so it has no joint space to embed samples "
                                     f"with: index a dataset into it first (`mmgan index DATA --store DIR`: clips with "
                                     f"captions teach a text+audio space), or pass --embedder RUN")
                done = _keep_in_store(args, store)
                rc = _base_run(args)
                store.flush()
                print(f"store {store.location}: {done['report'].summary()}; it now holds {store.count()} items",
                      file=sys.stderr)
            return rc
        if not args.text or len(args.text) != 1:
            raise ValueError("--retrieve K takes one --text query")
        pipe = Pipeline.from_pretrained(args.run, device=args.device)
        if not accepts_retrieved(pipe):
            raise ValueError("this model's conditioner does not take retrieved conditions; --retrieve needs a "
                             "text-conditioned model with the multimodal conditioner")
        with _open(args) as store:
            emb, _ = _load_embedder(args.embedder, store=store)
            rc = retrieve_conditions(store, emb, args.text[0], k=args.retrieve)
        for h in rc.hits:
            print(f"retrieved #{h.rank} {h.score:.4f} {h.item.id[:12]} {h.item.caption}", file=sys.stderr)

        class _WithRetrieval:                               # the same generate path, with retrieved= added
            def __getattr__(self, name):
                return getattr(pipe, name)

            def __call__(self, **kw):
                return pipe(retrieved=rc, **kw)

        written = generate_to_dir(args.run, args.out, labels=args.label, text=args.text, audio=args.audio,
                                  image=args.image, n=args.num, seed=args.seed, truncation=args.truncation,
                                  device=args.device, pipe=_WithRetrieval(), voice=args.voice)
        for w in written:
            print(w)
        return 0

    COMMANDS["generate"] = (_add_generate, _run_generate)

"""Does retrieval-augmented generation raise the condition-match score, and by how much?

    .venv/bin/python bench/rag.py --run runs/00007-shapes-text [--embedder RUN] [--k 4]

For each of --prompts held-out captions, generate --per-prompt images twice with the same seeds:
plain (pipe(text=prompt)) and retrieval-augmented (rag_generate: the prompt fused with its K nearest
real items from the store). The condition-match score of an image is the cosine, in the joint
space, between the image's embedding and the prompt's. Reported: the mean of each, the paired
difference per prompt with a 95% confidence interval, and the share of prompts that improved.

Needs mmgan.conditioning: a text-conditioned run whose conditioner sets accepts_retrieved, and a
joint space (RUN/joint/ or --embedder). Until those exist the script says so and exits with code 2.
The store (--store, default a temporary folder) is filled with the run's dataset (train split) first;
indexing is idempotent, so a kept --store is reused.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def need(msg: str) -> int:
    print(f"bench/rag.py: {msg}", file=sys.stderr)
    return 2


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="text-conditioned run (or exported pipeline)")
    ap.add_argument("--embedder", help="joint space (default: the run)")
    ap.add_argument("--store", help="store folder (default: temporary)")
    ap.add_argument("--data", help="dataset to retrieve from (default: the run's)")
    ap.add_argument("--n-data", type=int, default=0, help="dataset items to index (0 = all of the split)")
    ap.add_argument("--prompts", type=int, default=32)
    ap.add_argument("--per-prompt", type=int, default=8)
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--split", default="test", help="split the prompts come from (shapes: test or heldout)")
    ap.add_argument("--alpha", type=float, help="retrieval_alpha (default: the conditioner's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "rag.md"))
    args = ap.parse_args()

    try:
        import mmgan.conditioning  # noqa: F401
    except ModuleNotFoundError:
        return need("mmgan.conditioning does not exist yet (joint space + multimodal conditioner); run this once it does")
    from mmgan.data import load_dataset
    from mmgan.conditioning import load_embedder
    from mmgan.embedding import normalize
    from mmgan.pipeline import Pipeline
    from mmgan.store import Store, index_dataset
    from mmgan.store.rag import accepts_retrieved, rag_generate

    pipe = Pipeline.from_pretrained(args.run, device=args.device)
    if "text" not in pipe.modalities:
        return need(f"{args.run} is conditioned on {pipe.modalities}, not text")
    if not accepts_retrieved(pipe):
        return need(f"the conditioner of {args.run} does not take retrieved conditions (accepts_retrieved)")
    emb = load_embedder(args.embedder or args.run)
    data = args.data or pipe.config["data"].get("name")
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    tmp = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="mmgan-bench-rag-"))
    store = Store.open(tmp)
    try:
        t0 = time.time()
        rep = index_dataset(store, emb, data, split="train", n=args.n_data, progress=True)
        t_index = time.time() - t0
        test = load_dataset(data, split=args.split, n=max(4 * args.prompts, 64), seed=args.seed)
        extra = {} if args.alpha is None else {"retrieval_alpha": args.alpha}
        prompts = list(dict.fromkeys(test.columns["text"]))[: args.prompts]
        plain, rag = [], []
        for i, p in enumerate(prompts):
            seed = args.seed + i
            t = normalize(emb.embed("text", [p]))[0]
            a = pipe(text=[p] * args.per_prompt, num_images=args.per_prompt, seed=seed, output_type="tensor")
            b, _ = rag_generate(pipe, store, emb, text=[p] * args.per_prompt, query=p, k=args.k,
                                num_images=args.per_prompt, seed=seed, output_type="tensor", **extra)
            plain.append(float((normalize(emb.embed("image", a.tensor)) @ t).mean()))
            rag.append(float((normalize(emb.embed("image", b.tensor)) @ t).mean()))
            print(f"{i + 1}/{len(prompts)} plain {plain[-1]:.4f} rag {rag[-1]:.4f}  {p}")
        n_items = store.count('kind == "real"')
    finally:
        store.close()
        if not args.store:
            shutil.rmtree(tmp, ignore_errors=True)
    plain, rag = np.array(plain), np.array(rag)
    d = rag - plain
    half = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    cmd = "python " + " ".join([Path(sys.argv[0]).as_posix()] + sys.argv[1:])
    lines = [
        "# Retrieval-augmented generation (bench/rag.py)", "",
        f"Command: `{cmd}`  ",
        f"Run: {args.run}; joint space {emb.id}; store: {n_items} real items of {data} (indexed in {t_index:.0f}s, "
        f"{len(rep.added)} new); K = {args.k}; {len(prompts)} prompts of the {args.split} split x {args.per_prompt} images, "
        f"same seeds for both arms; retrieval_alpha "
        f"{args.alpha if args.alpha is not None else pipe.conditioner.retrieval_alpha}.  ",
        f"Load average at start: {load_start} ({os.cpu_count()} cores, shared).", "",
        "| arm | condition-match (mean cosine image-prompt) |", "| --- | ---: |",
        f"| plain | {plain.mean():.4f} |", f"| retrieval-augmented (K={args.k}) | {rag.mean():.4f} |", "",
        f"Paired difference (RAG - plain) per prompt: {d.mean():+.4f} (95% CI {d.mean() - half:+.4f} .. "
        f"{d.mean() + half:+.4f}); improved on {int((d > 0).sum())}/{len(d)} prompts.",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

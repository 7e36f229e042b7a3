"""Text -> audio retrieval through the store (issue 21): does a text query find the matching clips?

    .venv/bin/python bench/audio_store.py                                 # spoken-digits -> bench/out/audio_store.md
    .venv/bin/python bench/audio_store.py --data sfx --query "a {}"       # "a bell", "a kick", ...

Protocol: the joint space `mmgan index` fits when it is given clips with captions and no --embedder (audio
hub; text and labels bound to it: mmgan.training.joint) is fitted on the training split (--n-train items,
--minutes of training, one torch thread). The test split (spoken-digits: voices training never heard) is
indexed into a fresh Milvus Lite store with Store.add, as `mmgan index` does. Each class gets one query,
its name through --query ("seven"; sfx: "a bell"), embedded as text and searched densely against each
item's content (its clip: `mmgan search --text seven --dense`), so captions' keywords play no part.
Reported over the classes: P@1 (the top clip is of the class), P@10, R-precision (precision at rank =
number of test clips of the class) and mean average precision over the whole ranking.
Control: the same fit with the training captions and labels shuffled across clips (the pairing destroyed,
the text and sound distributions kept), queried the same way: chance is 1/classes.
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mmgan.data import load_dataset  # noqa: E402
from mmgan.data.base import MemoryDataset  # noqa: E402
from mmgan.store import Store, index_dataset  # noqa: E402
from mmgan.training.conditioner import joint_options  # noqa: E402
from mmgan.training.joint import fit_joint_space  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "bench" / "out"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def shuffled(ds: MemoryDataset, seed: int) -> MemoryDataset:
    """The same clips with the captions and labels of other clips (one permutation for both)."""
    perm = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))
    cols = dict(ds.columns)
    cols["text"] = [ds.columns["text"][int(i)] for i in perm]
    cols["label"] = ds.columns["label"][perm]
    cols.pop("attributes", None)
    info = type(ds.info)(**{**ds.info.__dict__, "version": ""})
    return MemoryDataset(info, cols)


def evaluate(space, test, query: str, k: int, workdir: Path) -> dict:
    """Index the test split into a fresh store, then one dense text query per class against the clips."""
    store_dir = workdir / f"store-{space.id}"
    shutil.rmtree(store_dir, ignore_errors=True)
    with Store.open(store_dir) as store:
        t0 = time.time()
        rep = index_dataset(store, space, test, progress=False)
        index_s = time.time() - t0
        names = test.info.class_names
        labels = test.columns["label"].numpy()
        p1, p10, rprec, ap, lat = [], [], [], [], []
        for c, name in enumerate(names):
            q = space.embed("text", [query.format(name)])[0]
            n_c = int((labels == c).sum())
            t0 = time.time()
            hits = store.search(q, k=len(test), modality="content")         # the whole ranking
            lat.append(time.time() - t0)
            rel = np.array([h.item.label == c for h in hits], dtype=float)
            p1.append(rel[0])
            p10.append(rel[:k].mean())
            rprec.append(rel[:n_c].mean())
            ap.append(float((np.cumsum(rel) / np.arange(1, len(rel) + 1) * rel).sum() / n_c))
    return {"items": len(rep.added) + len(rep.existing), "p1": np.mean(p1), "p10": np.mean(p10),
            "rprec": np.mean(rprec), "map": np.mean(ap), "index_s": index_s, "query_ms": 1000 * np.median(lat),
            "per_class_p10": {n: float(v) for n, v in zip(names, p10)}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="spoken-digits")
    ap.add_argument("--query", default="{}", help="query template over the class name (sfx: 'a {}')")
    ap.add_argument("--n-train", type=int, default=6000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=2.0, help="joint-space training budget per fit")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-control", action="store_true")
    ap.add_argument("--out", default=str(OUT / "audio_store.md"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train = load_dataset(args.data, split="train", n=args.n_train)
    test = load_dataset(args.data, split="test", n=args.n_test)
    log(f"{args.data}: train {len(train)}, test {len(test)} ({test.info.extra.get('voices', '')[:3] if isinstance(test.info.extra.get('voices'), list) else ''}...)")
    work = Path(tempfile.mkdtemp(prefix="audio-store-"))
    rows = []
    arms = [("paired captions", train)] + ([] if args.no_control else [("shuffled captions (control)", shuffled(train, 1))])
    try:
        for name, ds in arms:
            opts = joint_options({"joint_minutes": args.minutes}, seed=0)
            t0 = time.time()
            space, report = fit_joint_space(ds, work / f"space-{len(rows)}", opts=opts, log=log)
            fit_s = time.time() - t0
            log(f"{name}: fitted in {fit_s:.0f}s ({report.get('phase_a')})")
            res = evaluate(space, test, args.query, args.k, work)
            res.update(arm=name, fit_s=fit_s, steps=report["phase_a"]["steps"])
            log(f"{name}: P@1 {res['p1']:.3f} P@10 {res['p10']:.3f} R-prec {res['rprec']:.3f} per class {res['per_class_p10']}")
            rows.append(res)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cmd = "python bench/audio_store.py " + shlex.join(sys.argv[1:])
    lines = [f"### Text -> audio retrieval: {args.data} (`bench/audio_store.py`)", "",
             f"Command: `{cmd.strip()}`  ",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared), torch threads {args.threads}, "
             f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}.  ",
             f"Joint space fitted on {len(train)} training clips ({args.minutes:g} min budget); {len(test)} test clips "
             f"indexed into Milvus Lite; one dense query per class (`{args.query}` over the class name) against the "
             f"clips' content embeddings; chance {1 / len(test.info.class_names):.2f}.", "",
             "| arm | steps | P@1 | P@10 | R-precision | mAP | fit s | index s | query ms (p50, whole ranking) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['arm']} | {r['steps']} | {r['p1']:.2f} | {r['p10']:.2f} | {r['rprec']:.3f} | {r['map']:.3f} | "
                     f"{r['fit_s']:.0f} | {r['index_s']:.0f} | {r['query_ms']:.1f} |")
    lines += ["", "P@10 per class (paired): " + ", ".join(f"{k} {v:.1f}" for k, v in rows[0]["per_class_p10"].items())]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()

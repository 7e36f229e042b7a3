"""FID / KID / precision-recall / density-coverage of mmgan models against the real-vs-real floor of the
same protocol, the full-size PR/DC sanity check of BENCHMARKS.md, and the torchmetrics-vs-scipy FID check.

Feature networks are the in-project ones (Inception weights cannot be downloaded here): numbers are
comparable within a row's protocol (same features, same sample counts), not with published Inception FIDs.
The floor is held-out real data measured exactly like the model: same feature network, same number of
samples, same reference subset. Runs come from bench/conditional_mnist.py and bench/stacked_mnist.py.

    python bench/fid.py [--threads 2] [--skip-sanity] [--mnist-run RUN] [--stacked-run LABEL=RUN ...]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def sanity(n: int = 10_000, d: int = 1000) -> dict:
    from mmgan.metrics.prdc import density_coverage, precision_recall

    g = np.random.default_rng(0)
    real = g.standard_normal((n, d)).astype(np.float32)
    fake = g.standard_normal((n, d)).astype(np.float32)
    t0 = time.time()
    res = precision_recall(real, fake) | density_coverage(real, fake)
    res["seconds"] = time.time() - t0
    return res


def four(real, fake) -> dict:
    from mmgan.metrics import fid_from_features, fid_numpy, kid_from_features, prdc

    kid, kid_std = kid_from_features(real, fake, subset_size=min(1000, len(real), len(fake)))
    return {"fid": fid_from_features(real, fake), "fid_scipy": fid_numpy(real, fake), "kid": kid,
            "kid_std": kid_std, **prdc(real, fake)}


def protocol_rows(name: str, run: Path, n: int, floors: dict) -> tuple[list, dict]:
    """Rows for one model: generated vs reference, and each real floor vs the same reference."""
    from mmgan.metrics import EvalContext
    from mmgan.metrics.evaluate import locate_run
    from mmgan.pipeline import Pipeline

    run_dir, ckpt, meta = locate_run(run)
    pipe = Pipeline.from_pretrained(ckpt, device="cpu")
    ctx = EvalContext(pipe, meta["config"]["data"], run_dir=run_dir, progress=False, log=common.log)
    ref = ctx.real(n, "train")
    out, rows = {}, []
    for label, feats in [(f"{name} (generated)", ctx.fake(n).features)] + \
            [(lab, ctx.feature_net.extract(ds.columns["image"], want=("features",))["features"][:n])
             for lab, ds in floors.items()]:
        r = four(ref.features, feats)
        out[label] = r
        rows.append([label, f"{len(feats):,}", r["fid"], r["fid_scipy"], f"{r['kid']:.4f} ± {r['kid_std']:.4f}",
                     r["precision"], r["recall"], r["density"], r["coverage"]])
    return rows, {"reference": f"{ref.x.shape[0]:,} items of the {ctx.name} training split",
                  "features": ctx.feature_net.describe(), "results": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-sanity", action="store_true")
    ap.add_argument("--mnist-run", default=None, help="conditional mnist run (default: bench/out/runs/mnist-cond)")
    ap.add_argument("--stacked-run", action="append", default=[], metavar="LABEL=RUN",
                    help="a Stacked MNIST run to compare with the floor (repeatable; default: bench/out/runs/"
                         "stacked-pac2 and stacked-dcgan when present)")
    args = ap.parse_args()
    common.setup(args.threads)
    from mmgan.data import load_dataset

    records, parts = {}, []
    if not args.skip_sanity:
        common.log("PR/DC sanity check, 10k vs 10k in 1000-D")
        s = sanity()
        records["sanity"] = s
        parts.append(f"""### Precision/recall and density/coverage: the N(0, I) sanity check

10,000 vs 10,000 samples of N(0, I) in 1000-D (k = 3 for P/R, k = 5 for D/C), `mmgan.metrics.prdc`
(seed 0, {s['seconds']:.0f} s):

| | precision | recall | density | coverage |
|---|---|---|---|---|
| published (BENCHMARKS.md) | 0.477 | 0.471 | 1.056 | 0.974 |
| mmgan | {s['precision']:.3f} | {s['recall']:.3f} | {s['density']:.3f} | {s['coverage']:.3f} |
""")
    head = ["data", "samples", "FID (torchmetrics)", "FID (scipy)", "KID ± std", "precision", "recall", "density",
            "coverage"]
    mnist_run = Path(args.mnist_run) if args.mnist_run else common.RUNS / "mnist-cond"
    if (mnist_run / "checkpoints").exists():
        test = load_dataset("mnist", split="test")
        n = len(test)
        rows, rec = protocol_rows("conditional DCGAN, configs/mnist-cond.yaml", mnist_run, n,
                                  {"real mnist test split (floor)": test})
        records["mnist"] = rec
        parts.append(f"""### mnist: conditional DCGAN vs held-out real digits

Reference: {rec['reference']}; features: {rec['features']}. Every row uses the same {n} reference items
and {n} compared items (the test split's size, so the floor can be measured at the model's sample count).

""" + common.table(head, rows))
    else:
        parts.append("### mnist\n\n(no run: run bench/conditional_mnist.py first)")
    floors = {"real stacked-mnist, fresh training-split triples (floor)":
              load_dataset("stacked-mnist", split="train", n=10_000, seed=1),
              "real stacked-mnist, test-split triples (floor)": load_dataset("stacked-mnist", split="test", n=10_000)}
    stacked = [(label, label, run) for label, run in (a.split("=", 1) for a in args.stacked_run)] or \
        [(key, label, common.RUNS / f"stacked-{key}") for key, label in (("pac2", "PacDCGAN2"), ("dcgan", "DCGAN"))]
    for key, label, run in stacked:
        run = Path(run)
        if not (run / "checkpoints").exists():
            if args.stacked_run:
                raise SystemExit(f"--stacked-run {label}={run}: no checkpoints there")
            continue
        rows, rec = protocol_rows(label, run, 10_000, floors)
        records[f"stacked-{key}"] = rec
        parts.append(f"""### stacked-mnist: {label} vs real

Reference: {rec['reference']}; features: {rec['features']}; 10,000 compared samples per row.

""" + common.table(head, rows))
    common.save_json("fid", records)
    text = ("## FID, KID, precision/recall, density/coverage against the real-vs-real floor\n\n"
            "FID is computed by torchmetrics' FrechetInceptionDistance on our features (identity feature module) "
            "and, in the next column, directly with numpy/scipy (`scipy.linalg.sqrtm`) on the same features. "
            "KID: torchmetrics, cubic polynomial kernel, 100 subsets of up to 1,000.\n\n"
            + "\n\n".join(parts) + f"\n\nMachine: {common.machine()}.\n\nReproduce: `python bench/fid.py --threads "
            f"{args.threads}` (after bench/conditional_mnist.py and bench/stacked_mnist.py).\n")
    path = common.write_section("fid", text)
    common.log(f"wrote {path}")


if __name__ == "__main__":
    main()

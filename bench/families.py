"""The literature's GAN families on built-in data, on CPU, with the numbers issue 7 asks for.

    .venv/bin/python bench/families.py                            # every section
    .venv/bin/python bench/families.py --only fid,progressive      # some sections
    .venv/bin/python bench/families.py --steps 400 --threads 2     # the FID comparison's budget

Sections (each trains through the same path as `mmgan train`, `mmgan.api.train.train`, from the
presets in configs/, and evaluates through the Pipeline):
  fid          dcgan vs stylegan2 vs gansformer on shapes 32x32: the same steps and batch size
               (the same number of real images seen); FID on generated vs the real test split
  progressive  progressive growing on shapes 64x64: resolution reached, FID at 64x64
  cyclegan     shapes-palette warm <-> cool: content kept (a shape classifier agrees with the
               input's shape) and target style taken (a domain classifier says target), both ways
  stackgan     text-to-image at 64x64 on shapes: stackgan vs the single-stage dfgan at the same
               budget, attribute accuracy and R-precision (needs the multimodal conditioner)

Feature networks are mmgan.metrics' in-project ConvNets (trained on each real training split and
cached); FID is mmgan.metrics' (`evaluate`, the same as `mmgan eval RUN --metrics fid2k`). Results: bench/out/families.md (markdown, for docs/benchmarks.md) and families.jsonl.
Runs are kept under bench/out/runs/ and reused when complete (--fresh retrains).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
CONFIGS = ROOT / "configs"
N_GEN = 2000                         # generated (and reference) images per FID


# ---- helpers --------------------------------------------------------------------------------------
def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def train_run(name: str, config: str | None, overrides: list[str], fresh: bool) -> dict:
    """Train (or reuse) bench/out/runs/NAME; returns {run, steps, seconds, img_per_s}."""
    from mmgan.api.train import train
    from mmgan.runs import latest_checkpoint, read_meta

    run = OUT / "runs" / name
    record = run / "bench.json"
    if fresh and run.exists():
        shutil.rmtree(run)
    if record.exists():
        rec = json.loads(record.read_text())
        if rec.get("overrides") == overrides and rec.get("config") == config and latest_checkpoint(run):
            log(f"{name}: reusing {run} ({rec['steps']} steps, {rec['seconds']:.0f}s)")
            return rec
        shutil.rmtree(run)
    elif run.exists():
        shutil.rmtree(run)
    log(f"{name}: training ({config or 'defaults'} + {' '.join(overrides)})")
    base = ["train.progress=false", "train.tensorboard=false"]
    res = train(config=str(CONFIGS / config) if config else None, overrides=base + overrides, out=run,
                log=lambda m: None)
    meta = read_meta(latest_checkpoint(run))
    rec = {"run": str(run), "config": config, "overrides": overrides, "steps": res.step,
           "seconds": round(res.seconds, 1), "img_per_s": round(res.images_per_second, 1),
           "batch_size": meta["config"]["train"]["batch_size"], "family": meta["config"]["model"]["family"]}
    record.write_text(json.dumps(rec, indent=1))
    log(f"{name}: {res.step} steps in {res.seconds:.0f}s ({res.images_per_second:.0f} img/s)")
    return rec


def feature_net(dataset: str, resolution: int = 0):
    from mmgan.data import load_dataset
    from mmgan.metrics.features import feature_network_for

    train_ds = load_dataset(dataset, split="train", resolution=resolution)
    test_ds = load_dataset(dataset, split="test", resolution=resolution)
    net = feature_network_for(train_ds, test_ds, log=log)
    return net, test_ds


def fid_of(run: str, net, n: int = N_GEN) -> float:
    """mmgan.metrics' FID (`mmgan eval RUN --metrics fid2k`): n generated images (seed 0) vs n images
    of the run's training data, on the given feature network's features."""
    from mmgan.metrics.evaluate import evaluate

    name = f"fid{n // 1000}k" if n % 1000 == 0 else f"fid{n}"
    ev = evaluate(run, [name], features=net, device="cpu", progress=False, report=False, log=lambda m: None,
                  strict=True)
    return float(ev[name].value)


def real_floor(net, dataset: str, resolution: int = 0, n: int = N_GEN) -> float:
    """FID between n real training and n real test images: what a perfect generator would score."""
    from mmgan.data import load_dataset
    from mmgan.metrics.fid import fid_from_features

    a = load_dataset(dataset, split="train", n=n, seed=1, resolution=resolution).columns["image"]
    b = load_dataset(dataset, split="test", n=n, seed=1, resolution=resolution).columns["image"]
    return fid_from_features(*(net.extract(x, want=("features",))["features"] for x in (a, b)))


def write_md(sections: dict[str, str]) -> Path:
    path = OUT / "families.md"
    order = ["fid", "progressive", "cyclegan", "stackgan"]
    body = "\n\n".join(sections[k] for k in order if k in sections)
    head = ("# GAN families on built-in data (CPU)\n\n"
            f"Machine: {torch.get_num_threads()} torch thread(s) on a shared 2-core CPU, torch {torch.__version__}. "
            "Reproduce with the command in each section; budgets are steps x batch size (images seen) and "
            "wall-clock on that machine.\n")
    path.write_text(head + "\n" + body + "\n")
    return path


def append_jsonl(rec: dict) -> None:
    with open(OUT / "families.jsonl", "a") as f:
        f.write(json.dumps({"time": time.time(), **rec}) + "\n")


# ---- sections ----------------------------------------------------------------------------------------
def section_fid(args) -> str:
    """dcgan vs stylegan2 vs gansformer on shapes 32x32, same steps and batch."""
    from mmgan.models.base import num_params
    from mmgan.pipeline import Pipeline

    steps, bs = args.steps, 32
    common = [f"train.steps={steps}", f"train.batch_size={bs}", "data.n=10000", f"train.ckpt_every={steps}",
              f"train.sample_every={steps}", f"train.seed={args.seed}"]
    runs = {
        "dcgan": (None, ["data.name=shapes", "model.family=dcgan", "model.z_dim=64", "train.ema=0.99", *common]),
        "stylegan2": ("stylegan2-shapes.yaml", common),
        "gansformer": ("gansformer-shapes.yaml", common),
    }
    net, _ = feature_net("shapes")
    rows = []
    for fam, (cfg, over) in runs.items():
        rec = train_run(f"fid-{fam}-{steps}", cfg, over, args.fresh)
        fid = fid_of(rec["run"], net)
        params = num_params(Pipeline.from_pretrained(rec["run"], device="cpu").generator) / 1e6
        rows.append((fam, fid, rec, params))
        append_jsonl({"section": "fid", "family": fam, "fid": fid, **rec})
        log(f"fid {fam}: {fid:.2f}")
    lines = ["## FID on shapes 32x32: dcgan vs stylegan2 vs gansformer (same budget)", "",
             f"Budget: {steps} steps x batch {bs} = {steps * bs / 1000:.1f}k real images seen, the same for every "
             f"family (seed {args.seed}). FID{N_GEN // 1000}k by mmgan.metrics (`mmgan eval RUN --metrics "
             f"fid{N_GEN // 1000}k`): {N_GEN} generated images (EMA generator, no truncation) vs {N_GEN} images of "
             f"the training data, on the features of mmgan.metrics' in-project shapes ConvNet ({net.describe()}). "
             "Lower is better.", "",
             "| family | FID | G params | steps | wall-clock | img/s |", "|---|---|---|---|---|---|"]
    for fam, fid, rec, params in rows:
        lines.append(f"| {fam} | {fid:.2f} | {params:.2f}M | {rec['steps']} | {rec['seconds'] / 60:.1f} min | "
                     f"{rec['img_per_s']:.0f} |")
    lines.append(f"| real test images (floor) | {real_floor(net, 'shapes'):.2f} | | | | |")
    lines += ["", f"Command: `.venv/bin/python bench/families.py --only fid --steps {steps}` (presets "
              "configs/stylegan2-shapes.yaml, configs/gansformer-shapes.yaml; dcgan at its defaults with "
              "z_dim 64, EMA 0.99)."]
    return "\n".join(lines)


def section_progressive(args) -> str:
    steps = args.progressive_steps
    rec = train_run(f"progressive-{steps}", "progressive-shapes64.yaml",
                    [f"train.steps={steps}", f"train.ckpt_every={steps}", f"train.seed={args.seed}"], args.fresh)
    from mmgan.pipeline import Pipeline

    G = Pipeline.from_pretrained(rec["run"], device="cpu").generator
    res, alpha = G.current_resolution, float(G.alpha)
    net, _ = feature_net("shapes", resolution=64)
    fid = fid_of(rec["run"], net)
    append_jsonl({"section": "progressive", "fid": fid, "resolution": res, "alpha": alpha, **rec})
    sched = G.config["stage_steps"], G.config["fade_steps"]
    return "\n".join([
        "## Progressive growing on shapes 64x64", "",
        f"Schedule: stage lengths {sched[0]} steps (4, 8, 16, 32, 64 px), each new level faded in over "
        f"{sched[1]} steps; batch {rec['batch_size']}. Budget: {rec['steps']} steps "
        f"({rec['steps'] * rec['batch_size'] / 1000:.1f}k images), {rec['seconds'] / 60:.1f} min.", "",
        "| reached | fade alpha | FID (64x64) | real test images (floor) | steps | wall-clock |",
        "|---|---|---|---|---|---|",
        f"| {res}x{res} | {alpha:.2f} | {fid:.2f} | {real_floor(net, 'shapes', 64):.2f} | {rec['steps']} | "
        f"{rec['seconds'] / 60:.1f} min |", "",
        f"FID{N_GEN // 1000}k by mmgan.metrics: {N_GEN} generated vs {N_GEN} training images (shapes drawn at "
        f"64x64), on mmgan.metrics' ConvNet trained on 64x64 shapes ({net.describe()}).", "",
        f"Command: `.venv/bin/python bench/families.py --only progressive --progressive-steps {steps}`"])


def section_cyclegan(args) -> str:
    steps = args.cyclegan_steps
    rec = train_run(f"cyclegan-{steps}", "cyclegan-shapes-palette.yaml",
                    [f"train.steps={steps}", f"train.ckpt_every={steps}", f"train.seed={args.seed}"], args.fresh)
    from mmgan.pipeline import Pipeline

    net, test_ds = feature_net("shapes-palette")
    pipe = Pipeline.from_pretrained(rec["run"], device="cpu")
    x, dom = test_ds.columns["image"], test_ds.columns["label"]
    shape = test_ds.columns["attributes"][:, 0]
    rows, stats = [], {}
    for src, tgt, name in ((0, 1, "warm -> cool (A -> B)"), (1, 0, "cool -> warm (B -> A)")):
        sel = dom == src
        out = pipe.translate(x[sel], target=tgt, output_type="pt").tensor
        pred_in = net.head_predictions(x[sel])
        pred = net.head_predictions(out)
        content = float((pred["attr_shape"] == shape[sel]).float().mean())
        agree = float((pred["attr_shape"] == pred_in["attr_shape"]).float().mean())
        style = float((pred["label"] == tgt).float().mean())
        position = float((pred["attr_position"] == test_ds.columns["attributes"][sel][:, 3]).float().mean())
        rows.append(f"| {name} | {int(sel.sum())} | {content:.3f} | {agree:.3f} | {position:.3f} | {style:.3f} |")
        stats[name] = {"content": content, "agree": agree, "position": position, "style": style}
    acc = net.info.get("head_accuracy", {})
    append_jsonl({"section": "cyclegan", "results": stats, **rec})
    return "\n".join([
        "## CycleGAN: shapes-palette, warm <-> cool colours (unpaired)", "",
        f"Budget: {rec['steps']} steps x batch {rec['batch_size']} (each batch split by domain), "
        f"{rec['seconds'] / 60:.1f} min. Evaluated on the {len(x)} test images (fresh draws): each is translated "
        f"to the other domain by `Pipeline.translate` (what `mmgan generate RUN --image` calls).", "",
        "| direction | images | content: shape classifier = input's shape | = classifier on input | position kept "
        "| style: domain classifier says target |", "|---|---|---|---|---|---|", *rows, "",
        f"Classifiers: the heads of mmgan.metrics' ConvNet trained on real shapes-palette (test accuracy: domain "
        f"{acc.get('label', float('nan')):.3f}, shape {acc.get('attr_shape', float('nan')):.3f}, position "
        f"{acc.get('attr_position', float('nan')):.3f}). Targets: content >= 0.90 and style >= 0.90.", "",
        f"Command: `.venv/bin/python bench/families.py --only cyclegan --cyclegan-steps {steps}`"])


def section_stackgan(args) -> str:
    """Text -> image at 64x64 on shapes: stackgan vs the single-stage dfgan, same data, joint space,
    condition losses and budget; judged by attribute accuracy and R-precision on the test split."""
    try:
        from mmgan.training.conditioner import make_conditioner  # noqa: F401  (the text conditioner)
    except ImportError as e:
        return "\n".join(["## Multi-stage text-to-image (stackgan) vs single-stage (dfgan)", "",
                          f"Pending: the multimodal conditioner is not importable ({e})."])
    from mmgan.data import load_dataset
    from mmgan.metrics import EvalContext
    from mmgan.metrics.diversity import diversity_on_items
    from mmgan.metrics.retrieval import r_precision
    from mmgan.metrics.judge import attribute_accuracy, train_judge
    from mmgan.pipeline import Pipeline

    steps, n, bs = args.t2i_steps, args.t2i_n, 32
    common = ["data.name=shapes", "data.resolution=64", f"data.n={n}", "model.condition=[text]",
              "model.fusion=cross_attention", "model.z_dim=64", "loss.name=hinge", "loss.contrastive=0.5",
              "loss.recon=1.0", "loss.recon_pool=4", "loss.mode_seeking=2.0", "loss.ms_tau=0.03", f"train.steps={steps}", f"train.batch_size={bs}", f"train.ckpt_every={steps}",
              f"train.sample_every={steps}", "train.bf16=auto", "train.channels_last=false", "train.ema=0.99",
              "model.extra.fusion_steps=800", f"train.seed={args.seed}"]
    # the single-stage model with the multimodal demo's settings; it trains the joint space both runs use
    single = train_run(f"t2i-dfgan-{steps}", None, common + [
        "model.family=dfgan", "model.g_width=16", "model.d_width=16", "loss.phases=matching", "loss.r1_every=4",
        "train.lr_g=2e-4", "train.lr_d=4e-4", "train.beta1=0.0", "train.beta2=0.9", "model.extra.joint_minutes=3"],
        args.fresh)
    joint = str(Path(single["run"]) / "joint")
    multi = train_run(f"t2i-stackgan-{steps}", "stackgan-shapes-text.yaml", common + [f"model.extra.joint={joint}"],
                      args.fresh)
    real = load_dataset("shapes", split="all", n=6000, seed=5, resolution=64)
    names = real.info.attributes
    keys = list(names)
    judge = train_judge(real.columns["image"], real.columns["attributes"], names, steps=1000, minutes=6)
    check = load_dataset("shapes", split="all", n=1000, seed=6, resolution=64)
    judge_acc = attribute_accuracy(judge.predict(check.columns["image"]), check.columns["attributes"], keys)
    test = load_dataset("shapes", split="test", n=1000, seed=3, resolution=64)
    want = test.columns["attributes"]
    groups = torch.unique(want, dim=0, return_inverse=True)[1].tolist()
    rows = []
    for fam, rec in (("dfgan (single stage)", single), ("stackgan (3 stages)", multi)):
        pipe = Pipeline.from_pretrained(rec["run"], device="cpu")
        x = pipe(text=test.columns["text"], num_images=len(test), seed=0, output_type="pt", batch_size=250).tensor
        acc = attribute_accuracy(judge.predict(x), want, keys)
        space = pipe.conditioner.joint
        texts = space.embed("text", test.columns["text"])
        rp = r_precision(space.embed("image", x), texts, groups, candidates=100, folds=10)
        rps = [rp["mean"]]                   # R-precision again for more generation seeds: 1 image = 0.1 pp
        for seed in range(1, args.rp_seeds):
            xs = pipe(text=test.columns["text"], num_images=len(test), seed=seed, output_type="pt", batch_size=250).tensor
            rps.append(r_precision(space.embed("image", xs), texts, groups, candidates=100, folds=10)["mean"])
        rp["seeds_mean"], rp["seeds_std"] = float(np.mean(rps)), float(np.std(rps))
        from mmgan.models.base import num_params

        net = EvalContext(pipe, {"name": "shapes"}, progress=False, log=log).feature_net
        div = diversity_on_items(pipe, test, net, "text")
        log(f"t2i {fam}: diversity ratio {div['diversity_ratio']:.3f} ({div['protocol']})")

        rows.append(f"| {fam} | {100 * acc['all']:.1f}% | {100 * acc['shape']:.1f}% | {100 * acc['color']:.1f}% | "
                    f"{100 * acc['size']:.1f}% | {100 * acc['position']:.1f}% | {100 * rp['mean']:.1f}% ± "
                    f"{100 * rp['std']:.1f}% | {100 * rp['seeds_mean']:.2f}% ± {100 * rp['seeds_std']:.2f}% | {div['diversity_ratio']:.2f} "
                    f"(pixel std {div['pixel_std_within_condition']:.3f}, real "
                    f"{div['real_pixel_std_within_combination']:.3f}) | {num_params(pipe.generator) / 1e6:.2f}M | {rec['seconds'] / 60:.1f} min |")
        append_jsonl({"section": "stackgan", "family": fam, "attributes": acc, "r_precision": rp,
                      "diversity": {k: v for k, v in div.items() if k != "most_collapsed"}, **rec})
        log(f"t2i {fam}: {acc} R-precision {rp}")
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    return "\n".join([
        "## Multi-stage text-to-image (stackgan) vs single-stage (dfgan), shapes 64x64", "",
        f"Budget: {steps} steps x batch {bs} for each model ({steps * bs / 1000:.1f}k images seen; {n} training "
        "items with captions). Both condition on the same joint space (trained once for the dfgan run, 3 min) "
        "with token-level fusion (cross_attention: word tokens for stackgan's per-stage word attention and "
        "dfgan's attention), and both add the multimodal losses loss.contrastive=0.5 (joint-space InfoNCE, "
        "AttnGAN's DAMSM role), loss.recon=1.0 on 4x4-pooled images (loss.recon_pool=4) and DSGAN's capped "
        "mode seeking (loss.mode_seeking=2, loss.ms_tau=0.03); dfgan trains with the matching phases (matching-aware D, "
        "MA-GP) and the multimodal demo's optimizer, stackgan (stages at 16, 32, 64 px built from DF-GAN's "
        "FiLM blocks, conditioning augmentation and word attention per stage) with the multistage phases "
        "(a matching-aware D per stage, MA-GP, CA KL) and its preset, which uses the same optimizer. "
        "bf16 autocast where the CPU has native bf16 (train.bf16=auto).", "",
        f"Judge: mmgan.metrics.judge's attribute classifier trained on real 64x64 shapes; on 1,000 fresh real images "
        f"it reads all four attributes right in {pct(judge_acc['all'])}. Generated: one image per caption of "
        f"1,000 shapes test items (seed 0). R-precision: the true caption ranked first among 100 (99 of other "
        "attribute combinations) in the joint space, 10 folds; then again for the same captions with generation "
        f"seeds 0..{args.rp_seeds - 1}, mean ± std over seeds (one image is 0.1 pp).", "",
        f"| model | all 4 attributes | shape | color | size | position | R-precision (seed 0, ± over folds) | "
        f"R-precision ({args.rp_seeds} seeds) | diversity ratio | G params | wall-clock |",
        "|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
        "Diversity ratio: mmgan.metrics.diversity.diversity_on_items on the same test captions, grouped by "
        "attribute combination (4 captions of each, 8 seeds each, against up to 32 real test images of the "
        "combination) in the feature space of the in-project 32 px shapes ConvNet (`mmgan eval`'s for shapes; "
        "images resized to it); pixel std within a caption beside the real one within a combination.", "",
        f"Command: `.venv/bin/python bench/families.py --only stackgan --t2i-steps {steps} --t2i-n {n}"
        f"{' --threads ' + str(args.threads) if args.threads != 1 else ''}`"])


SECTIONS = {"fid": section_fid, "progressive": section_progressive, "cyclegan": section_cyclegan,
            "stackgan": section_stackgan}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}")
    p.add_argument("--steps", type=int, default=600, help="FID comparison budget (steps, batch 32)")
    p.add_argument("--progressive-steps", type=int, default=1600)
    p.add_argument("--cyclegan-steps", type=int, default=1200)
    p.add_argument("--t2i-steps", type=int, default=600, help="text-to-image comparison budget (steps, batch 32)")
    p.add_argument("--t2i-n", type=int, default=6000, help="text-to-image training items")
    p.add_argument("--rp-seeds", type=int, default=5, help="generation seeds for the text-to-image R-precision")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--fresh", action="store_true", help="retrain runs that exist")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in wanted if s not in SECTIONS]
    if bad:
        p.error(f"unknown sections {bad}; valid: {', '.join(SECTIONS)}")
    cache = OUT / "sections.json"
    sections = json.loads(cache.read_text()) if cache.exists() else {}
    for name in wanted:
        t = time.time()
        sections[name] = SECTIONS[name](args)
        cache.write_text(json.dumps(sections, indent=1))
        log(f"section {name} done in {time.time() - t:.0f}s")
    path = write_md(sections)
    log(f"wrote {path}")
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())

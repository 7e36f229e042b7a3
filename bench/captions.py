"""Text out: image captions from the captioner preset (G-GAN: MLE, then D alone, then policy gradient), MLE
against GAN against the references, on attribute combinations training never shows.

    python bench/captions.py --minutes 5 --threads 1 --out bench/out/captions      # train every stage, then measure
    python bench/captions.py --mle-run R1 --run R2 --styled-run R3 --out DIR        # measure trained runs

Protocol:
  train     configs/captioner-shapes.yaml on `shapes` train (20,000 images, one caption each):
              MLE   teacher forcing for --mle-steps steps or --minutes, whichever ends first (the MLE model)
              GAN   a copy of that run, resumed: D alone for --d-steps (its image encoder starts from G's),
                    then D and G together for --gan-steps (reward = D's probability that the sampled caption
                    is real and matches its image, self-critical baseline = the greedy caption with the
                    same z, plus the MLE term), within --gan-minutes
              tone  the same preset on shapes-styled (label = neutral / positive / negative), MLE only,
                    --styled-minutes (0: skip)
  measure   on the first --images images of the `heldout` split (compositions never in training):
              captions   5 per image for each decoding (z drawn per caption): greedy, beam (5), sampled at
                         temperature 1 and at --cold (what a deployment would pick); the GAN's the same
              slots      slot accuracy (metrics.captions: all 4 attributes read back from the caption), mean
                         over slots and the exact share, over all 5 x images captions
              COCO       5 references per image drawn with data/shapes.py's caption generator for the
                         image's attributes (seeded); the human row scores each reference against the other
                         4 (CocoScorer.human), a model's first caption per image is scored against the same
                         4-reference subsets (CocoScorer.leave_one_out): BLEU-1..4, METEOR, ROUGE-L, CIDEr
              diversity  distinct-1/2 over all captions, Self-BLEU within an image's 5 (lower = more varied),
                         vocabulary, novel share (captions never in the training captions); the references'
                         own 5 per image as the yardstick
              D          the GAN run's D on heldout pairs: real (a reference) above mismatched (another
                         image's reference) and above generated (a GAN sample): pairwise accuracy
              tone       the styled run asked positive / negative / neutral for each image (sampled, and
                         greedy), VADER's verdict (metrics.caption_scores.tone); control: the same captions
                         judged against the style labels shuffled (chance if the tone follows the label);
                         the heldout split's own styled captions as the judge's ceiling
Prints a table (stdout) and writes --out/captions.json and --out/captions.md.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = [  # Dai et al. 2017 (COCO, their Table 1): CIDEr; InSentiCap tone (Li et al. 2021)
    ("G-MLE (Dai et al. 2017, COCO)", "CIDEr 1.020"),
    ("G-GAN (Dai et al. 2017, COCO)", "CIDEr 0.795"),
    ("human (Dai et al. 2017, COCO)", "CIDEr 0.849"),
    ("InSentiCap tone", "98.5% positive / 95.5% negative"),
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- training -------------------------------------------------------------------------------------------
def train_mle(out: Path, data: str, steps: int, minutes: float, threads: int) -> Path:
    from mmgan.api import train as train_run

    log(f"MLE on {data}: up to {steps} steps / {minutes:g} min, {threads} thread(s) -> {out}")
    train_run(data=data, target="text", out=str(out), steps=steps, minutes=minutes,      # the preset, via its recipe
              overrides=[f"train.threads={threads}", "train.progress=false", f"model.extra.mle_steps={10 ** 9}",
                         "train.ckpt_every=100000"])
    return out


def train_gan(mle_run: Path, out: Path, d_steps: int, gan_steps: int, minutes: float, threads: int,
              z_choices: int | None = None) -> Path:
    """A copy of the MLE run, resumed into D pretraining and the adversarial stage (z_choices: the preset's
    best-of-k MLE term, unless given)."""
    from mmgan.api import train as train_run
    from mmgan.runs import latest_checkpoint, read_meta

    start = int(read_meta(latest_checkpoint(mle_run))["step"])
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(mle_run, out)
    log(f"GAN from the MLE run at step {start}: D alone {d_steps} steps, then {gan_steps} adversarial steps, "
        f"{minutes:g} min -> {out}")
    train_run(out=str(out), resume=True, minutes=minutes, steps=start + d_steps + gan_steps,
              overrides=[f"train.threads={threads}", "train.progress=false", f"model.extra.mle_steps={start}",
                         f"model.extra.d_pretrain={d_steps}", "train.ckpt_every=100000", "train.log_every=25"]
              + ([f"model.extra.z_choices={z_choices}"] if z_choices else []))
    return out


def stage_record(run: Path, before: Path) -> dict:
    """Steps and wall seconds of what a run trained after the run it was copied from."""
    from mmgan.runs import latest_checkpoint, read_meta
    from mmgan.utils import read_jsonl

    start = int(read_meta(latest_checkpoint(before))["step"])
    rows = [r for r in read_jsonl(run / "log.jsonl") if r.get("step", -1) >= start]
    adv = [r["step"] for r in rows if "G/reward" in r]
    return {"from step": start, "to step": int(read_meta(latest_checkpoint(run))["step"]),
            "first adversarial step logged": adv[0] if adv else None,
            "seconds": rows[-1]["time"] - rows[0]["time"] if len(rows) > 1 else float("nan")}


# ---- data -----------------------------------------------------------------------------------------------
def heldout(n: int, data: str = "shapes"):
    from mmgan.data import load_dataset

    ds = load_dataset(data, split="heldout")
    return ds.columns["image"][:n], ds.columns["attributes"][:n], ds.columns["label"][:n]


def references(attrs: torch.Tensor, k: int = 5, seed: int = 0) -> dict[str, list[str]]:
    """k captions per image from data/shapes.py's generator for its attributes (seeded; not the dataset's)."""
    from mmgan.data.shapes import ATTRIBUTES, caption

    rng = np.random.default_rng(seed + 12345)
    names = [tuple(ATTRIBUTES[key][i] for key, i in zip(ATTRIBUTES, row)) for row in attrs.tolist()]
    return {str(i): [caption(a, rng) for _ in range(k)] for i, a in enumerate(names)}


def training_captions(data: str = "shapes") -> list[str]:
    from mmgan.data import load_dataset

    return list(load_dataset(data, split="train").columns["text"])


def joint_space(path: Path, minutes: float, threads: int):
    """The judge of R-precision: an image-text joint space fitted on `shapes` train (real pairs only; mmgan's
    own joint space, the one `mmgan index` fits), loaded if `path` already holds one."""
    from mmgan.conditioning.joint import JointSpace
    from mmgan.data import load_dataset
    from mmgan.training.joint import JointOptions, fit_joint_space

    if (path / "config.json").exists():
        return JointSpace.from_pretrained(path)
    log(f"joint space (image, text) on shapes train, {minutes:g} min -> {path}")
    torch.set_num_threads(threads)
    ds = load_dataset("shapes", split="train")
    space, _ = fit_joint_space(ds, path, ["image", "text"], JointOptions(minutes=minutes), log=log)
    return space


def r_precision_of(space, images, attrs, caps: list[str]) -> dict:
    """For each image, its caption ranked among 100 (99 from images with other attributes) by cosine in the
    joint space: the share ranked first, mean and std over 10 folds (metrics.retrieval.r_precision)."""
    from mmgan.metrics.retrieval import r_precision

    _, groups = torch.unique(attrs, dim=0, return_inverse=True)
    r = r_precision(space.embed("image", images), space.embed("text", caps), groups.numpy())
    return {"R-precision": r["mean"], "R-precision std": r["std"]}


# ---- captions ---------------------------------------------------------------------------------------------
def captions(pipe, images: torch.Tensor, n: int, options: dict, seed: int, labels=None) -> list[list[str]]:
    """n captions per image (z drawn per caption), grouped by image."""
    out = pipe(image=images, num_images=n, seed=seed, options=options, labels=labels, batch_size=500).text
    return [out[i * n:(i + 1) * n] for i in range(len(images))]


DECODINGS = {"greedy": {"decode": "greedy"}, "beam": {"decode": "beam", "beam_size": 5},
             "sample": {"decode": "sample", "temperature": 1.0}}


def evaluate(pipe, name: str, images, attrs, refs, train_caps, score, cold: float, decodings: list[str],
             space=None) -> list[dict]:
    from mmgan.metrics.caption_scores import diversity
    from mmgan.metrics.captions import slot_accuracy

    rows = []
    for dec in decodings:
        opts = dict(DECODINGS[dec]) if dec in DECODINGS else {"decode": "sample", "temperature": cold}
        t0 = time.time()
        groups = captions(pipe, images, 5, opts, seed=1)
        secs = time.time() - t0
        flat = [c for g in groups for c in g]
        acc = slot_accuracy(flat, [row for row in attrs.tolist() for _ in range(5)])
        coco = score.leave_one_out({str(i): g[0] for i, g in enumerate(groups)}, refs)
        row = {"model": name, "decoding": dec, "slots": acc["slots"], "exact": acc["exact"], **coco,
               **diversity(groups, train_caps), "seconds": secs, "examples": groups[:3]}
        if space is not None:
            row.update(r_precision_of(space, images, attrs, [g[0] for g in groups]))
        log(f"{name} {dec}: slots {acc['slots']:.4f} exact {acc['exact']:.4f} CIDEr {coco['CIDEr']:.3f} "
            f"distinct-2 {row['distinct-2']:.3f} self-BLEU {row['self-BLEU']:.3f}")
        rows.append(row)
    return rows


def reference_row(refs, attrs, train_caps, score, images=None, space=None) -> list[dict]:
    from mmgan.metrics.caption_scores import diversity
    from mmgan.metrics.captions import slot_accuracy

    groups = list(refs.values())
    acc = slot_accuracy([c for g in groups for c in g], [row for row in attrs.tolist() for _ in range(5)])
    row = {"model": "references (human)", "decoding": "-", "slots": acc["slots"], "exact": acc["exact"],
           **score.human(refs), **diversity(groups, train_caps), "examples": groups[:3]}
    if space is None:
        return [row]
    row.update(r_precision_of(space, images, attrs, [g[0] for g in groups]))
    shuffled = [g[0] for g in groups]
    random.Random(0).shuffle(shuffled)       # control: each image judged against another image's reference
    control = {"model": "control: references shuffled across images", "decoding": "-",
               **r_precision_of(space, images, attrs, shuffled)}
    log(f"R-precision: references {row['R-precision']:.3f}, shuffled control {control['R-precision']:.3f}")
    return [row, control]


def d_accuracy(run: Path, images, refs, generated: list[list[str]]) -> dict:
    """The run's D on heldout pairs: the share of images where it scores their reference above another
    image's reference (mismatched) and above a caption its G sampled (generated)."""
    from mmgan.config import ModelConfig
    from mmgan.models import build_gan
    from mmgan.models.base import load_weights
    from mmgan.modalities import get_codec
    from mmgan.runs import latest_checkpoint, read_meta

    ckpt = latest_checkpoint(run)
    cfg = read_meta(ckpt)["config"]
    model = ModelConfig(**cfg["model"])
    _, D = build_gan(model)
    load_weights(D, ckpt / "D.safetensors")
    D.eval()
    text = get_codec("text")
    real = text.to_generator([refs[str(i)][0] for i in range(len(images))], cfg["model"])
    fake = text.to_generator([g[0] for g in generated], cfg["model"])
    with torch.no_grad():
        r, m, f = D(torch.cat([real, real.roll(1, 0), fake]), None, source=images)[0].chunk(3)
    return {"real>mismatched": float((r > m).float().mean()), "real>generated": float((r > f).float().mean()),
            "p(real)": float(torch.sigmoid(r).mean()), "p(mismatched)": float(torch.sigmoid(m).mean()),
            "p(generated)": float(torch.sigmoid(f).mean())}


def tone_rows(runs: dict[str, Path], n: int, cold: float = 0.5) -> list[dict]:
    """Each styled run asked neutral / positive / negative in turn (one style per image), 5 captions per image
    (a fresh z each) for each decoding: VADER's verdict on all of them, the control with the labels shuffled,
    slot accuracy and Self-BLEU within an image's 5 (does the tone come with variety?)."""
    from mmgan.data import load_dataset
    from mmgan.data.shapes import STYLES
    from mmgan.metrics.caption_scores import diversity, tone_accuracy
    from mmgan.metrics.captions import slot_accuracy
    from mmgan.pipeline import Pipeline

    ds = load_dataset("shapes-styled", split="heldout")
    images, attrs = ds.columns["image"][:n], ds.columns["attributes"][:n].tolist()
    wanted = [STYLES[i % 3] for i in range(len(images))]
    shuffled = wanted[:]
    random.Random(0).shuffle(shuffled)
    own, own_style = list(ds.columns["text"][:n]), [STYLES[int(i)] for i in ds.columns["label"][:n]]
    own_shuffled = own_style[:]
    random.Random(0).shuffle(own_shuffled)
    rows = [{"model": "the data's own captions", "decoding": "-",
             **{f"asked {k}": v for k, v in tone_accuracy(own, own_style).items()},
             "control (labels shuffled)": tone_accuracy(own, own_shuffled)["all"], "examples": own[:6]}]
    for name, run in runs.items():
        pipe = Pipeline.from_pretrained(run, device="cpu")
        for dec in ("sample", f"T={cold:g}", "greedy"):
            opts = DECODINGS.get(dec, {"decode": "sample", "temperature": cold})
            groups = captions(pipe, images, 5, opts, seed=2, labels=wanted)
            flat = [c for g in groups for c in g]
            asked = tone_accuracy(flat, [w for w in wanted for _ in range(5)])
            control = tone_accuracy(flat, [w for w in shuffled for _ in range(5)])
            slots = slot_accuracy(flat, [a for a in attrs for _ in range(5)])
            rows.append({"model": name, "decoding": dec, **{f"asked {k}": v for k, v in asked.items()},
                         "control (labels shuffled)": control["all"], "slots": slots["slots"],
                         "self-BLEU": diversity(groups, [])["self-BLEU"],
                         "examples": [f"[{w}] {g[0]}" for w, g in zip(wanted[:6], groups[:6])]})
            log(f"tone {name} {dec}: {asked} control {control['all']:.3f} slots {slots['slots']:.3f} "
                f"self-BLEU {rows[-1]['self-BLEU']:.3f}")
    return rows


# ---- report -----------------------------------------------------------------------------------------------
def table(header: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    return "\n".join(["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
                     + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


def report(res: dict) -> str:
    cols = ["slots", "exact", "BLEU-1", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr", "distinct-1", "distinct-2",
            "self-BLEU", "vocabulary", "novel", "R-precision"]
    rows = [[r["model"], r["decoding"], *[r.get(k, "-") for k in cols]] for r in res["rows"]]
    out = [f"Command: `{res['command']}`", "", res["machine"], "",
           f"Heldout images: {res['images']}; training: {json.dumps(res['training'])}", "",
           table(["model", "decoding", *cols], rows), ""]
    if res.get("d"):
        out += ["GAN run's D on heldout pairs:", "", table(list(res["d"]), [list(res["d"].values())]), ""]
    if res.get("tone"):
        keys = [k for k in {k: 0 for r in res["tone"] for k in r} if k != "examples"]
        out += ["Tone (styled runs, VADER):", "", table(keys, [[r.get(k, "-") for k in keys] for r in res["tone"]]), ""]
    out += ["Published, for scale:", "", table(["", ""], [list(p) for p in PUBLISHED])]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "captions")
    ap.add_argument("--minutes", type=float, default=5.0, help="wall-time cap of each training stage")
    ap.add_argument("--gan-minutes", type=float, help="wall-time cap of the GAN stage (default --minutes)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--mle-steps", type=int, default=1500)
    ap.add_argument("--d-steps", type=int, default=150)
    ap.add_argument("--gan-steps", type=int, default=600)
    ap.add_argument("--styled-minutes", type=float, default=2.5, help="MLE minutes of the styled run (0: no tone)")
    ap.add_argument("--mle-run", type=Path, help="a trained MLE run (skips its training)")
    ap.add_argument("--run", type=Path, help="a trained GAN run (skips its training)")
    ap.add_argument("--styled-run", type=Path, help="a trained shapes-styled run (skips its training)")
    ap.add_argument("--styled-gan-minutes", type=float, default=0.0,
                    help="GAN stage of the styled run (D alone, then adversarial; 0: the styled run stays MLE only)")
    ap.add_argument("--styled-gan-run", type=Path, help="a trained styled GAN run (skips its training)")
    ap.add_argument("--z-choices", type=int, help="the GAN stage's best-of-k MLE term (default: the preset's)")
    ap.add_argument("--joint", type=Path, help="image-text joint space for R-precision (fitted there if absent; "
                                               "default OUT/joint)")
    ap.add_argument("--joint-minutes", type=float, default=2.0, help="wall time of fitting that joint space")
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--cold", type=float, default=0.5, help="the lower sampling temperature measured")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from mmgan.metrics.caption_scores import CocoScorer
    from mmgan.pipeline import Pipeline

    from common import machine, train_record      # bench/common.py

    args.out.mkdir(parents=True, exist_ok=True)
    mle_run = args.mle_run or train_mle(args.out / "mle", "shapes", args.mle_steps, args.minutes, args.threads)
    gan_run = args.run or train_gan(mle_run, args.out / "gan", args.d_steps, args.gan_steps,
                                        args.gan_minutes or args.minutes, args.threads, args.z_choices)
    styled = args.styled_run
    if styled is None and args.styled_minutes > 0:
        styled = train_mle(args.out / "styled", "shapes-styled", 10 ** 6, args.styled_minutes, args.threads)
    styled_gan = args.styled_gan_run
    if styled_gan is None and styled is not None and args.styled_gan_minutes > 0:
        styled_gan = train_gan(styled, args.out / "styled-gan", args.d_steps, args.gan_steps, args.styled_gan_minutes,
                               args.threads, args.z_choices)
    space = joint_space(args.joint or args.out / "joint", args.joint_minutes, args.threads)
    torch.set_num_threads(args.threads)

    images, attrs, _ = heldout(args.images)
    refs = references(attrs)
    train_caps = training_captions()
    res = {"command": "python " + " ".join(sys.argv), "machine": machine(), "images": len(images),
           "training": {"mle": train_record(mle_run), "gan stage": stage_record(gan_run, mle_run)}, "rows": []}
    with CocoScorer() as score:
        res["rows"] += reference_row(refs, attrs, train_caps, score, images, space)
        for name, run in (("MLE", mle_run), ("GAN", gan_run)):
            pipe = Pipeline.from_pretrained(run, device="cpu")
            res["rows"] += evaluate(pipe, name, images, attrs, refs, train_caps, score, args.cold,
                                    ["greedy", "beam", "sample", f"T={args.cold:g}"], space)
    pipe = Pipeline.from_pretrained(gan_run, device="cpu")
    res["d"] = d_accuracy(gan_run, images, refs, captions(pipe, images, 1, DECODINGS["sample"], seed=3))
    log(f"D on heldout pairs: {res['d']}")
    if styled is not None:
        res["training"]["styled"] = train_record(styled)
        if styled_gan is not None:
            res["training"]["styled gan stage"] = stage_record(styled_gan, styled)
        res["tone"] = tone_rows({"MLE": styled, **({"GAN": styled_gan} if styled_gan else {})}, args.images, args.cold)
    (args.out / "captions.json").write_text(json.dumps(res, indent=1, default=str))
    text = report(res)
    (args.out / "captions.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main())

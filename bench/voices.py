"""Benchmark: speech -> image from voices never heard in training, when training had five voices (issue 20).

    python bench/voices.py [--runs five-plain,five-robust,many-robust] [--n 3000] [--heldout 600]
                           [--joint-steps 100] [--audio-steps 400] [--gan-steps 600] [--threads 1]
                           [--minutes M] [--set KEY=VALUE ...]

Data (built-in `shapes`, 32 px, captions spoken by espeak-ng and cached):
  training   the `train` split, n items (the size of the user manifest of issue 20), spoken by
               five  FIVE_VOICES: five speakers (accent + variant, each at its own speed and pitch)
               many  every accent and variant except the held-out voices', speed and pitch drawn per item
  test       the `heldout` split (attribute combinations never seen in training), spoken by the six
             HELDOUT_VOICES (an accent none of the five has, and accent + variant pairs neither pool has),
             and the same captions spoken by the five training voices.
Runs (each the shapes-text-speech preset with step budgets, so the machine's load changes the wall
time, not the result; or, with --minutes, with the preset's own split of that time budget, what a user's
`mmgan train --config shapes-text-speech --minutes M` does, so the load changes the steps each stage gets):
  five-plain   five voices, the speech robustness options off (the preset as it was before issue 20)
  five-robust  five voices, the preset (audio_norm cmvn, audio_dropout, audio_augment)
  many-robust  many voices, the preset
Protocol (bench/multimodal.py's): the judge is an attribute classifier trained on real images only;
an image is right when it reads all four attributes (shape, color, size, position) as asked. Per run:
typed caption -> image, speech of held-out voices -> image, speech of the training voices -> image;
the negative control (speech of another, shuffled, item -> image, judged against the original item's
attributes); and the ceiling (the judge on the real held-out images themselves). Also audio -> image
Recall@1 on real held-out pairs in the run's joint space. Target: speech of held-out voices >= 85% of
typed for five-robust.
Writes bench/out/voices.md (a section for docs/benchmarks.md) and bench/out/voices.json; runs go to
bench/out/voices-<run>/ (an existing finished run is reused: delete it to retrain).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FIVE_VOICES = [
    {"voice": "en-us", "variant": "m1", "speed": 160, "pitch": 45},
    {"voice": "en", "variant": "f2", "speed": 180, "pitch": 62},
    {"voice": "en-gb-scotland", "variant": "m3", "speed": 170, "pitch": 38},
    {"voice": "en-029", "variant": "f4", "speed": 150, "pitch": 66},
    {"voice": "en-us-nyc", "variant": "m5", "speed": 190, "pitch": 50},
]
HELDOUT_VOICES = [
    {"voice": "en-gb-x-rp", "variant": "m2", "speed": 175, "pitch": 55},
    {"voice": "en", "variant": "m7", "speed": 145, "pitch": 35},
    {"voice": "en-us", "variant": "f1", "speed": 195, "pitch": 68},
    {"voice": "en-029", "variant": "m4", "speed": 165, "pitch": 48},
    {"voice": "en-gb-scotland", "variant": "f3", "speed": 185, "pitch": 60},
    {"voice": "en-us-nyc", "variant": "f5", "speed": 155, "pitch": 42},
]
PLAIN = ["model.extra.audio_norm=clip", "model.extra.audio_dropout=0.0", "model.extra.audio_augment=false"]
RUNS = {"five-plain": ("five", PLAIN), "five-robust": ("five", []), "many-robust": ("many", [])}
PRESET = "shapes-text-speech"


def many_voices() -> list[dict]:
    from mmgan.data.speech import VARIANTS, VOICES

    held = {(v["voice"], v["variant"]) for v in HELDOUT_VOICES}
    return [{"voice": a, "variant": b} for a in VOICES for b in VARIANTS if (a, b) not in held]


def budget(args) -> list[str]:
    if args.minutes:                 # the preset's own split of a time budget, as `mmgan train` gives a user
        return ["train.progress=false", "train.tensorboard=false", f"train.minutes={args.minutes}"]
    return ["train.progress=false", "train.tensorboard=false", "train.minutes=0", f"train.steps={args.gan_steps}",
            "model.extra.joint_minutes=0", f"model.extra.joint_steps={args.joint_steps}",
            f"model.extra.joint_audio_steps={args.audio_steps}", f"model.extra.fusion_steps={args.fusion_steps}"]


def train_run(ds, run_dir: Path, overrides: list[str], log) -> dict:
    """The preset with overrides, trained on an in-memory dataset (what `mmgan train` does after loading)."""
    from mmgan.demo.multimodal import train_multimodal
    from mmgan.runs import latest_checkpoint

    if latest_checkpoint(run_dir) is not None and (run_dir / "done.json").exists():
        log(f"reusing {run_dir}")
        return json.loads((run_dir / "done.json").read_text())
    t = time.time()
    r = train_multimodal(ds, run_dir, overrides, log, config=PRESET)
    rec = {"gan_steps": r.step, "seconds": round(time.time() - t, 1), "items": len(ds), "overrides": overrides}
    reused = [o.split("=", 1)[1] for o in overrides if o.startswith("model.extra.joint=")]
    joint = json.loads((Path(reused[-1]) if reused else run_dir / "joint").joinpath("report.json").read_text())
    rec["joint"] = {k: joint[k] for k in ("phase_a", "phase_b") if k in joint}
    (run_dir / "done.json").write_text(json.dumps(rec, indent=1))
    return rec


def evaluate(run_dir: Path, judge, held: dict, log) -> dict:
    """Typed, speech (held-out and training voices), shuffled-speech control; judged by attributes."""
    from mmgan.metrics.judge import attribute_accuracy
    from mmgan.metrics.retrieval import recall_at_k
    from mmgan.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(run_dir, device="cpu")
    unheard, heard = held["unheard"], held["heard"]
    want, keys = unheard.columns["attributes"], list(judge.config["attributes"])
    shuffled = torch.randperm(len(unheard), generator=torch.Generator().manual_seed(0))
    out = {}
    for name, kw in (("typed", {"text": unheard.columns["text"]}),
                     ("speech_unheard", {"audio": unheard.columns["audio"]}),
                     ("speech_heard", {"audio": heard.columns["audio"]}),
                     ("control_shuffled", {"audio": [unheard.columns["audio"][i] for i in shuffled.tolist()]})):
        x = pipe(num_images=len(unheard), seed=0, output_type="pt", batch_size=200, **kw).tensor
        out[name] = attribute_accuracy(judge.predict(x), want, keys)
        log(f"  {name} -> image: {out[name]['all']:.3f}")
    space = pipe.conditioner.joint
    groups = torch.unique(want, dim=0, return_inverse=True)[1].tolist()
    img = space.embed("image", unheard.columns["image"])
    out["recall_at_1"] = {name: recall_at_k(space.embed("audio", ds.columns["audio"]), img, groups, groups)["R@1"]
                          for name, ds in (("unheard", unheard), ("heard", heard))}
    out["ratio"] = out["speech_unheard"]["all"] / max(out["typed"]["all"], 1e-9)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated, of {', '.join(RUNS)}")
    p.add_argument("--n", type=int, default=3000, help="training items")
    p.add_argument("--heldout", type=int, default=600, help="held-out items to judge")
    p.add_argument("--joint-steps", type=int, default=100, help="joint space phase A steps (image, text, label)")
    p.add_argument("--audio-steps", type=int, default=400, help="joint space phase B steps (audio)")
    p.add_argument("--fusion-steps", type=int, default=800)
    p.add_argument("--gan-steps", type=int, default=600)
    p.add_argument("--minutes", type=float, default=0,
                   help="train each run for this many minutes as the preset splits them (joint space, fusion, GAN) "
                        "instead of the step budgets above")
    p.add_argument("--out", default="bench/out")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override added to every run (repeatable), e.g. model.extra.fusion_align=1")
    args = p.parse_args(argv)
    runs = [r for r in args.runs.split(",") if r]
    if unknown := [r for r in runs if r not in RUNS]:
        p.error(f"unknown run(s) {unknown}; valid: {', '.join(RUNS)}")
    torch.set_num_threads(args.threads)
    log = lambda m: print(f"[{time.strftime('%H:%M:%S')}] {m}", file=sys.stderr, flush=True)  # noqa: E731
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res: dict = {"command": "python bench/voices.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                 "threads": args.threads, "budget": budget(args), "runs": {}}
    t0 = time.time()
    from mmgan.conditioning.features import cache_root
    from mmgan.demo.multimodal import spoken
    from mmgan.metrics.judge import shapes_judge

    t = time.time()
    judge, res["judge"] = shapes_judge(n=6000, steps=500, minutes=3, check=2000, log=log)
    res["judge"]["seconds"] = round(time.time() - t, 1)
    held = {"unheard": spoken("heldout", args.heldout, 1, cache_root(), log, HELDOUT_VOICES),
            "heard": spoken("heldout", args.heldout, 1, cache_root(), log, FIVE_VOICES)}
    from mmgan.metrics.judge import attribute_accuracy

    u = held["unheard"]
    res["ceiling"] = attribute_accuracy(judge.predict(u.columns["image"]), u.columns["attributes"],
                                        list(judge.config["attributes"]))
    pools = {"five": FIVE_VOICES, "many": many_voices()}
    for name in runs:
        pool, extra = RUNS[name]
        log(f"run {name}: {pool} voices, overrides {extra or 'none (the preset)'}")
        train = spoken("train", args.n, 0, cache_root(), log, pools[pool])
        rec = train_run(train, out / f"voices-{name}", budget(args) + extra + args.set, log)
        rec.update(evaluate(out / f"voices-{name}", judge, held, log))
        rec["voices"] = len(pools[pool])
        res["runs"][name] = rec
        (out / "voices.json").write_text(json.dumps(res, indent=1, default=str))
    res["seconds"] = round(time.time() - t0, 1)
    (out / "voices.json").write_text(json.dumps(res, indent=1, default=str))
    (out / "voices.md").write_text(markdown(res, args))
    print((out / "voices.md").read_text())
    return 0


def markdown(r: dict, args) -> str:
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    j, c = r["judge"], r["ceiling"]
    lines = [
        "## Speech → image from voices never heard in training (`bench/voices.py`) — issue 20",
        "",
        f"Command: `{r['command']}` ({r['threads']} CPU thread). Each run is the `{PRESET}` preset with "
        + (f"its own split of a {args.minutes:g}-minute budget (train.minutes)" if args.minutes else
           f"step budgets: joint space {args.joint_steps} steps (image, text, label) + {args.audio_steps} audio "
           f"steps, fusion {args.fusion_steps} steps, DF-GAN {args.gan_steps} steps")
        + f"; {args.n} training items. All runs and evaluation: {r['seconds'] / 60:.0f} min of wall time.",
        "",
        f"Judge: trained on real `shapes` images only; all four attributes right on 2,000 fresh real images: "
        f"{pct(j['all'])}; on the {args.heldout} real held-out images (the ceiling): {pct(c['all'])}.",
        "",
        "| run | training voices | typed → image | speech, unheard voices → image | unheard / typed | "
        "speech, training voices → image | shuffled speech (control) | audio→image R@1 unheard / heard | "
        "joint B steps, s | GAN steps | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, x in r["runs"].items():
        b = x.get("joint", {}).get("phase_b", {})
        lines.append(f"| {name} | {x['voices']} | {pct(x['typed']['all'])} | {pct(x['speech_unheard']['all'])} | "
                     f"{x['ratio']:.2f} | {pct(x['speech_heard']['all'])} | {pct(x['control_shuffled']['all'])} | "
                     f"{x['recall_at_1']['unheard']:.3f} / {x['recall_at_1']['heard']:.3f} | "
                     f"{b.get('steps', '-')}, {b.get('seconds', '-')} | {x['gan_steps']} | {x['seconds']} |")
    lines += [
        "",
        f"{args.heldout} captions of the `heldout` split (attribute combinations never seen in training). "
        "Unheard voices: six espeak-ng voices that no training pool holds (one with an accent none of the five has). "
        "Heard: the same captions spoken by the five training voices. An image counts when the judge reads all "
        "four attributes as asked; the control generates from another item's recording and judges against this "
        "item's attributes (chance, if the judge is not fooled).",
    ]
    five = r["runs"].get("five-robust")
    if five:
        met = "**met**" if five["ratio"] >= 0.85 else "**not met**"
        lines += ["", f"Target (issue 20): speech from unheard voices ≥ 85% of the typed figure when training had five "
                      f"voices — {met} ({pct(five['speech_unheard']['all'])} vs {pct(five['typed']['all'])}: "
                      f"{five['ratio']:.2f})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())

"""The `mmgan` command. Each subcommand is a thin wrapper over the library.

    mmgan data make NAME --out DIR [-n N] [--seed S] [--speech]
    mmgan train --data DIR|MANIFEST|NAME [--target COLUMN] [--task upscale --scale 4 | --task restore --degrade noise,jpeg,mask] [--config FILE] [--set key=value ...] --out RUN [--minutes M] [--resume] [--dry-run]
    mmgan generate RUN [--label L] [--text T] [--audio WAV] [--image PNG|DIR] [-n N] [--seed S] [--no-drs] [--vocoder RUN] --out DIR
    mmgan caption RUN --image PNG|DIR [--style S] [-n N] [--decode sample|greedy|beam]      (text runs: prints captions)
    mmgan calibrate RUN [--steps N] [--data DIR|MANIFEST|NAME]
    mmgan info RUN
Other subcommands (eval, embed, index, search, store, serve, keys) live in their own modules of this package.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .commands import COMMANDS
from .options import DEVICE_HELP, add_device, add_num, add_seed
from .. import data
from ..api.generate import generate, generate_to_dir, run_info
from ..api.train import calibrate, train
from ..data.speech import with_speech
from ..modalities import codec_names
from ..modalities.text import caption_groups
from ..pipeline import Pipeline
from .. import distributed


# ---- data ------------------------------------------------------------------------------------
def _add_data(sub):
    p = sub.add_parser("data", help="make built-in datasets on disk", description="Write a built-in dataset to DIR "
                       "as manifest.jsonl + files, the same format mmgan train reads from a user's data.")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    m = dsub.add_parser("make", help="write a built-in dataset as a manifest folder")
    m.add_argument("name", help="built-in dataset name (see `mmgan data list`)")
    m.add_argument("--out", required=True, help="output folder")
    add_num(m, 0, "number of items (0 = the dataset's default)")
    add_seed(m)
    m.add_argument("--split", default="train", help="dataset split (default train)")
    m.add_argument("--resolution", type=int, default=0, help="image size (shapes draws at this size)")
    m.add_argument("--speech", action="store_true", help="also synthesize spoken captions with espeak-ng")
    dsub.add_parser("list", help="list built-in datasets")


def _run_data(args) -> int:
    if args.data_cmd == "list":
        for name in data.list_datasets():
            print(name)
        return 0
    ds = data.load_dataset(args.name, split=args.split, n=args.num, seed=args.seed, resolution=args.resolution)
    out = Path(args.out)
    if args.speech:
        ds = with_speech(ds, out / "audio_cache", seed=args.seed, progress=True)
    path = data.write_manifest(ds, out)
    print(f"wrote {len(ds)} items of {args.name} ({', '.join(ds.info.modalities)}) to {path}")
    return 0


COMMANDS["data"] = (_add_data, _run_data)


# ---- train -------------------------------------------------------------------------------------
def _add_train(sub):
    p = sub.add_parser("train", help="train a GAN", description="Train a GAN on a built-in dataset, an image folder "
                       "(one sub-folder per class gives labels) or a manifest (.jsonl/.csv with image,text,audio,label).")
    p.add_argument("--data", required=False, help="built-in name, image folder, manifest file or folder holding one")
    p.add_argument("--config", help="YAML config file (see configs/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.family=mlp --set steps=500 (repeatable)")
    p.add_argument("--out", help="run folder to create (default: runs/NNNNN-<data>-<family>)")
    p.add_argument("--steps", type=int, help="training steps (same as --set train.steps=N)")
    p.add_argument("--minutes", type=float, help="wall-clock budget of the whole command in minutes (same as --set "
                   "train.minutes=M), split between data loading, the joint space, feature extraction and the GAN; "
                   "the split is printed at the start, and --dry-run shows it")
    p.add_argument("--seed", type=int, help="random seed (same as --set train.seed=S)")
    p.add_argument("--device", help=f"{DEVICE_HELP.split(' (')[0]} (same as --set train.device=D; default auto)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    p.add_argument("--dry-run", action="store_true", help="print and save the resolved config, then stop")
    p.add_argument("--skip-bad", action="store_true", help="skip bad manifest rows (they are counted) instead of refusing")
    p.add_argument("--target", metavar="COLUMN", help="the column the model generates (same as --set data.target=COLUMN; "
                   f"default: the image when the data has one, else the vector; columns a model can generate: "
                   f"{', '.join(codec_names())})")
    p.add_argument("--task", choices=("generate", "upscale", "restore"), help="generate (default): a GAN that draws samples; "
                   "upscale: super-resolution, the PSNR model srresnet (--set model.family=esrgan --set "
                   "model.extra.init_from=PSNR_RUN for its GAN twin), its low-resolution inputs made on the fly "
                   "from the clean images (--set model.extra.degrade=bicubic|blur,noise,jpeg|second-order); "
                   "then `mmgan upscale RUN --image photo.jpg --out big.png`; restore: inpainting, denoising and JPEG "
                   "artefact removal (family restorer: gated convolutions + an SN-PatchGAN), its damaged inputs made "
                   "on the fly (--degrade); then `mmgan restore RUN --image damaged.png --mask mask.png --out fixed.png`")
    p.add_argument("--scale", type=int, help="--task upscale: the upscaling factor, 2, 3, 4 or 8 (same as --set "
                   "model.extra.scale=N; default 4)")
    p.add_argument("--degrade", help="--task upscale|restore: what the inputs suffer, a comma list (same as --set "
                   "model.extra.degrade=...): restore: noise, jpeg, mask (default: all three); upscale: bicubic "
                   "(default), blur, noise, jpeg, or second-order")


def _run_train(args) -> int:
    overrides = list(args.overrides) + [f"train.{k}={getattr(args, k)}" for k in ("seed", "device")
                                         if getattr(args, k) is not None]
    result = train(data=args.data, config=args.config, overrides=overrides, out=args.out, steps=args.steps,
                   minutes=args.minutes, resume=args.resume, dry_run=args.dry_run, skip_bad=args.skip_bad,
                   target=args.target, task=args.task, scale=args.scale, degrade=args.degrade)
    if result is None:
        return 0
    if distributed.rank() != 0:
        return 0
    print(f"done: {result.step} steps in {result.seconds:.1f}s ({result.images_per_second:.0f} img/s, stopped by "
          f"{result.stopped_by}); run folder {result.run_dir}")
    print(f"  samples: {result.run_dir / 'samples'}  loss curves: {result.run_dir / 'loss.png'}  "
          f"checkpoint: {result.checkpoint}")
    return 0


COMMANDS["train"] = (_add_train, _run_train)


# ---- generate ------------------------------------------------------------------------------------
def _add_generate(sub):
    p = sub.add_parser("generate", help="generate samples from a run or an exported pipeline")
    p.add_argument("run", help="run folder, checkpoint folder or exported pipeline")
    p.add_argument("--label", action="append", help="class index or name (repeat for several; one = all)")
    p.add_argument("--text", action="append", help="caption to condition on (repeatable)")
    p.add_argument("--audio", action="append", help="audio file to condition on (repeatable)")
    p.add_argument("--image", action="append", help="reference image, or a folder of them (repeatable); a "
                   "captioner captions each")
    p.add_argument("--voice", action="append", metavar="CLIP", help="sound runs trained with a voice condition: "
                   "speak in the voice of this recording (WAV, FLAC, OGG; any words; one for all samples, or "
                   "repeat it once per sample)")
    _add_text_options(p)
    add_num(p, 8, "number of samples (default 8; a captioner: captions per image)")
    add_seed(p, "seed of the first sample; sample i uses seed + i (default 0)")
    p.add_argument("--truncation", type=float, default=1.0)
    p.add_argument("--no-drs", action="store_true", help="draw plain G(z) even when the run has a rejection-sampling "
                   "critic (see `mmgan calibrate`)")
    p.add_argument("--drs-gamma", type=float, default=0.0, help="rejection sampling: lower the bound by this much "
                   "(keeps more samples, corrects less)")
    p.add_argument("--vocoder", metavar="RUN", help="sound models that draw log-mels (specgan): turn them into sound "
                   "with this hifigan run instead of Griffin-Lim (same as the run's model.extra.vocoder)")
    add_device(p)
    p.add_argument("--out", required=True, help="output folder")


def _add_text_options(p) -> None:
    p.add_argument("--style", help="text runs conditioned on a style (shapes-styled): neutral, positive or negative "
                   "(same as --label STYLE)")
    p.add_argument("--decode", choices=("sample", "greedy", "beam"), help="text runs: how captions are drawn "
                   "(default: the run's model.extra.decode, sample)")
    p.add_argument("--temperature", type=float, help="text runs: sampling temperature (--decode sample)")
    p.add_argument("--beam-size", type=int, help="text runs: beams kept (--decode beam)")


def _text_options(args) -> tuple[list | None, dict]:
    """(labels with --style folded in, the generator's call options) from the text flags."""
    labels = args.label
    if args.style:
        if labels:
            raise SystemExit("error: give --style or --label, not both (the style is the label)")
        labels = [args.style]
    opts = {k: v for k, v in (("decode", args.decode), ("temperature", args.temperature),
                              ("beam_size", args.beam_size)) if v is not None}
    return labels, opts


def _run_generate(args) -> int:
    labels, opts = _text_options(args)
    written = generate_to_dir(args.run, args.out, labels=labels, text=args.text, audio=args.audio,
                              image=args.image, n=args.num, seed=args.seed, truncation=args.truncation,
                              device=args.device, drs=False if args.no_drs else None, drs_gamma=args.drs_gamma,
                              vocoder=args.vocoder, options=opts, on_result=getattr(args, "on_result", None),
                              voice=args.voice)
    if written and written[0].name == "captions.jsonl":       # text runs: the captions, then the files
        _print_captions(written[0])
    for w in written:
        print(w)
    return 0


COMMANDS["generate"] = (_add_generate, _run_generate)


# ---- caption -------------------------------------------------------------------------------------
def _add_caption(sub):
    p = sub.add_parser("caption", help="print captions of images from a text run (a captioner)",
                       description="Caption images with a run that generates text: each --image (a file, or "
                       "every image in a folder) gets -n captions, printed as one JSON line per image "
                       "({name, captions}). `mmgan generate RUN --image ... --out DIR` also writes them.")
    p.add_argument("run", help="run folder, checkpoint folder or exported pipeline of a text model")
    p.add_argument("--image", action="append", required=True, help="image file or folder (repeatable)")
    p.add_argument("--label", action="append", help=argparse.SUPPRESS)     # --style sets it
    _add_text_options(p)
    add_num(p, 1, "captions per image (default 1)")
    add_seed(p, "seed (default 0)")
    add_device(p)


def _run_caption(args) -> int:
    pipe = Pipeline.from_pretrained(args.run, device=args.device)
    if pipe.codec.name != "text":
        raise SystemExit(f"error: {args.run} generates {pipe.codec.attribute}, not captions; `mmgan caption` needs a "
                         f"run trained with --target text (e.g. mmgan train --data shapes --target text)")
    labels, opts = _text_options(args)
    _, result = generate(args.run, labels=labels, image=args.image, n=args.num, seed=args.seed, pipe=pipe,
                         options=opts)
    for g in caption_groups(result.text, {**pipe.config.get("data", {}), "conditions": result.conditions}):
        print(json.dumps(g, ensure_ascii=False))
    return 0


def _print_captions(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        g = json.loads(line)
        print(f"{g['name']}" + (f" ({g['style']})" if "style" in g else "") + ":")
        for c in g["captions"]:
            print(f"  {c}")


COMMANDS["caption"] = (_add_caption, _run_caption)


# ---- calibrate -----------------------------------------------------------------------------------
def _add_calibrate(sub):
    p = sub.add_parser("calibrate", help="fit a rejection-sampling critic to a trained run",
                       description="Discriminator rejection sampling (Azadi et al. 2019): fit a critic that tells "
                       "the run's data from its EMA generator's samples, saved beside the latest checkpoint. "
                       "`mmgan generate` and the Pipeline then keep each sample with probability p_data/(M p_g) "
                       "by that critic (--no-drs turns it off); `mmgan eval --drs` evaluates that sampler. The "
                       "server, which passes its own latents, serves plain G(z). Training with "
                       "--set train.drs_steps=N fits the critic at the end of the run.")
    p.add_argument("run", help="run folder")
    p.add_argument("--steps", type=int, default=1000, help="critic training steps (batch = the run's batch size)")
    p.add_argument("--data", help="the data the run was trained on, when it has moved (default: from the run's config)")
    p.add_argument("--quantile", type=float, help="the bound M: this quantile of the critic's logits on generated "
                   "samples (default: the run's train.drs_quantile, 0.995); raise it when G mostly misses the data")
    p.add_argument("--skip-bad", action="store_true", help="skip bad manifest rows instead of refusing")


def _run_calibrate(args) -> int:
    path = calibrate(args.run, steps=args.steps, data=args.data, skip_bad=args.skip_bad, quantile=args.quantile,
                     log=lambda m: print(m, file=sys.stderr))
    print(f"critic saved: {path}")
    return 0


COMMANDS["calibrate"] = (_add_calibrate, _run_calibrate)


# ---- info --------------------------------------------------------------------------------------------
def _add_info(sub):
    p = sub.add_parser("info", help="describe a run: config, data, checkpoints, last losses")
    p.add_argument("run")
    p.add_argument("--json", action="store_true")


def _run_info(args) -> int:
    info = run_info(args.run)
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    for k, v in info.items():
        if isinstance(v, dict):
            print(f"{k}:")
            for kk, vv in v.items():
                print(f"  {kk}: {vv}")
        else:
            print(f"{k}: {v}")
    return 0


COMMANDS["info"] = (_add_info, _run_info)

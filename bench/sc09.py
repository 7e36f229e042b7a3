"""SC09 protocol for audio generation (BENCHMARKS.md, "Audio generation"; issue 21).

    python bench/sc09.py [--run RUN] [--num 2048] [--threads 2] [--minutes 8] [--sphinx 1000]
                         [--data auto|spoken-digits|standin] [--replay]

Data: the built-in `spoken-digits` (train / test, the test split's voices never heard in training);
while it is not in this checkout (or with --data standin), bench/spoken_standin.py's espeak-ng stand-in
(3,000 train / 1,000 test clips, --n-train / --n-test).
Judge: mmgan.metrics.sound_judge, a log-mel CNN trained on the real train split only (cached under
$MMGAN_CACHE/judges/); its accuracy on the unheard-voice test split is printed first.
Ceilings: IS, mIS, AM and label accuracy of the real train and test splits, FID real-test vs real-train.
With --run RUN (a trained audio model's run folder): `--num` clips generated through the Pipeline for
balanced labels (seed 0), scored by IS (10 splits), FID to the real test split in the judge's
features, mIS, AM, label accuracy (and a negative control: the same clips judged against label + 1),
and pocketsphinx (a ten-word grammar, not trained on our data) on generated vs real test clips.
Targets: IS >= 0.85 x the real-test ceiling (the generated IS then taken over splits as large as the
real test's, as small splits read lower); pocketsphinx accuracy on generated >= 0.9 x on real.
--replay scores real test clips as if generated (a check of the bench itself, no model needed).
Writes bench/out/sc09.json, bench/out/sc09.md (a section for docs/benchmarks.md) and, in bench/out/sc09/,
a few real and generated WAVs and a spectrogram sheet.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

Generate = Callable[[torch.Tensor, int], torch.Tensor]     # (labels (n,), seed) -> (n, 16000) in [-1, 1]


def load_data(args):
    """(train, test, description): spoken-digits when it exists here, else the espeak stand-in."""
    from mmgan.data import load_dataset
    from mmgan.data.errors import DataError

    if args.data in ("auto", "spoken-digits"):
        try:
            return (load_dataset("spoken-digits", split="train", n=args.n_train),
                    load_dataset("spoken-digits", split="test", n=args.n_test), "spoken-digits")
        except DataError as e:
            if args.data == "spoken-digits":
                raise
            common.log(f"spoken-digits is not available here ({str(e)[:80]}...): using the espeak stand-in")
    from spoken_standin import TEST_VARIANTS, standin_digits

    n_train, n_test = args.n_train or 3000, args.n_test or 1000
    return (standin_digits("train", n_train, progress=True), standin_digits("test", n_test, progress=True),
            f"stand-in (bench/spoken_standin.py: espeak-ng, {n_train} train / {n_test} test clips, "
            f"test voice variants {'/'.join(TEST_VARIANTS)} unheard in training)")


def pipeline_generator(run: str | Path) -> Generate:
    """generate(labels, seed) through the one inference path, mmgan.pipeline.Pipeline."""
    from mmgan.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(run, device="cpu")
    rate = int(pipe.model_config.get("extra", {}).get("sample_rate", 16000))
    if rate != 16000:
        raise SystemExit(f"{run}: the model generates at {rate} Hz; the SC09 judge takes 16,000 Hz")

    def generate(labels: torch.Tensor, seed: int) -> torch.Tensor:
        out = pipe(labels=[int(y) for y in labels], num_images=len(labels), seed=seed, output_type="pt")
        return out.tensor.float().reshape(len(labels), -1)

    return generate


def replay_generator(test_waves: torch.Tensor, test_labels: torch.Tensor) -> Generate:
    """Real test clips of the asked digit, cycling: the bench's own sanity check."""
    def generate(labels: torch.Tensor, seed: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(seed)
        out = []
        for y in labels.tolist():
            pool = torch.nonzero(test_labels == y).flatten()
            out.append(test_waves[pool[torch.randint(len(pool), (1,), generator=g)]][0])
        return torch.stack(out)

    return generate


def write_examples(folder: Path, judge, real: torch.Tensor, real_labels: torch.Tensor,
                   gen: torch.Tensor | None, gen_labels: torch.Tensor | None) -> list[str]:
    """One real and (if any) one generated WAV per digit, and a sheet of their log-mels."""
    import soundfile as sf

    from mmgan.metrics.sound_judge import CLASS_NAMES
    from mmgan.plots import _plt, _save

    folder.mkdir(parents=True, exist_ok=True)
    rows = [("real", real, real_labels)] + ([("generated", gen, gen_labels)] if gen is not None else [])
    plt = _plt()
    fig, axes = plt.subplots(len(rows), 10, figsize=(16, 1.9 * len(rows)), squeeze=False)
    written = []
    for r, (name, waves, labels) in enumerate(rows):
        for d in range(10):
            idx = torch.nonzero(labels == d).flatten()
            ax = axes[r, d]
            ax.set_xticks([]), ax.set_yticks([])
            if len(idx) == 0:
                continue
            w = waves[idx[0]].clamp(-1, 1)
            path = folder / f"{name}_{d}_{CLASS_NAMES[d]}.wav"
            sf.write(str(path), w.numpy(), 16000, subtype="PCM_16")
            written.append(str(path.relative_to(common.ROOT)))
            ax.imshow(judge.mels(w[None])[0].T.numpy(), origin="lower", aspect="auto", cmap="magma")
            ax.set_title(f"{name} {CLASS_NAMES[d]}", fontsize=8)
    _save(fig, folder / "spectrograms.png")
    return written + [str((folder / "spectrograms.png").relative_to(common.ROOT))]


def diversity(waves: torch.Tensor, labels: torch.Tensor, feats, ref_waves: torch.Tensor, ref_labels: torch.Tensor,
              ref_feats, per: int = 100) -> dict:
    """Within-digit diversity against the real test clips of the same digit: the mean pairwise distance of
    up to `per` clips per digit, as a ratio to the real clips' (mmgan.metrics.diversity), in two spaces:
    the clips' log-mel pictures in dB (does a digit asked twice sound different?) and the judge's features."""
    from mmgan.metrics.diversity import diversity_per_condition
    from mmgan.modalities.sound import MelSpec

    spec = MelSpec.for_clip(16000, waves.shape[-1])
    groups = {"mel": ([], []), "judge": ([], [])}
    for k in range(10):
        a = torch.nonzero(labels == k).flatten()[:per]
        b = torch.nonzero(ref_labels == k).flatten()[:per]
        groups["mel"][0].append(spec.db(waves[a].float()).flatten(1).numpy())
        groups["mel"][1].append(spec.db(ref_waves[b].float()).flatten(1).numpy())
        groups["judge"][0].append(np.asarray(feats)[a.numpy()])
        groups["judge"][1].append(np.asarray(ref_feats)[b.numpy()])
    out = {}
    for space, (gen, real) in groups.items():
        d = diversity_per_condition(gen, real, [str(k) for k in range(10)])
        out[f"div_{space}"], out[f"div_{space}_min"] = d["diversity_ratio"], d["min_ratio"]
    return out


def timed(times: dict, name: str, fn, *a, **kw):
    t0 = time.time()
    out = fn(*a, **kw)
    times[name] = round(time.time() - t0, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", default=None, help="a trained audio model's run folder (none: the ceilings only)")
    ap.add_argument("--replay", action="store_true", help="score real test clips as if generated (bench check)")
    ap.add_argument("--num", type=int, default=2048, help="clips generated, balanced over the ten digits")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=None, help="cap on the judge's training (recipe default 8)")
    ap.add_argument("--judge-steps", type=int, default=None, help="judge training steps (recipe default 600)")
    ap.add_argument("--retrain-judge", action="store_true", help="ignore a cached judge")
    ap.add_argument("--sphinx", type=int, default=1000, help="clips of each kind for pocketsphinx (0: skip)")
    ap.add_argument("--data", default="auto", choices=["auto", "spoken-digits", "standin"])
    ap.add_argument("--n-train", type=int, default=0, help="train clips (0: all; stand-in 3000)")
    ap.add_argument("--n-test", type=int, default=0, help="test clips (0: all; stand-in 1000)")
    args = ap.parse_args()
    if args.run and args.replay:
        ap.error("--run and --replay exclude each other")
    if args.num < 20:
        ap.error("--num must be at least 20 (two clips per digit)")
    common.setup(args.threads)
    from dataclasses import asdict, replace

    from mmgan.metrics import sphinx
    from mmgan.metrics.inception_score import inception_score
    from mmgan.metrics.sound_judge import JudgeRecipe, load_waves, sound_judge
    from mmgan.metrics.sound_scores import label_accuracy, sc09_scores

    times: dict[str, float] = {}
    train, test, source = timed(times, "data", load_data, args)
    common.log(f"data: {source}: {len(train)} train, {len(test)} test clips")
    recipe = JudgeRecipe()
    recipe = replace(recipe, **{k: v for k, v in (("minutes", args.minutes), ("steps", args.judge_steps))
                                if v is not None})
    judge, judge_acc = timed(times, "judge", sound_judge, train, test, recipe, progress=True,
                             retrain=args.retrain_judge, log=common.log)
    common.log(f"judge {judge.id}: held-out (unheard voices) accuracy {judge_acc:.4f} "
               f"({judge.info.get('steps_done')} steps, {judge.info.get('train_seconds')} s of training)")

    t0 = time.time()
    train_w, test_w = load_waves(train.columns["audio"]), load_waves(test.columns["audio"])
    train_y, test_y = train.columns["label"].long(), test.columns["label"].long()
    train_f, train_p = judge.run(train_w)
    test_f, test_p = judge.run(test_w)
    rows = {"real train": sc09_scores(train_p, train_f, train_p, test_f, train_y, seed=args.seed),
            "real test": sc09_scores(test_p, test_f, train_p, train_f, test_y, seed=args.seed)}
    rows["real train"]["fid"] = float("nan")             # the FID ceiling is one number: real test vs real train
    times["ceilings"] = round(time.time() - t0, 1)
    recognizer = sphinx.DigitRecognizer() if args.sphinx and sphinx.available() else None
    if args.sphinx and recognizer is None:
        common.log("pocketsphinx is not installed (pip install pocketsphinx): its judge is skipped")
    if recognizer:                                       # a seeded subset: the split may be sorted by label
        pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(args.seed))[:args.sphinx]
        rows["real test"].update(timed(times, "sphinx_real", sphinx.sphinx_accuracy, test_w[pick], test_y[pick],
                                       recognizer))

    gen = gen_y = None
    if args.run or args.replay:
        generate = replay_generator(test_w, test_y) if args.replay else pipeline_generator(args.run)
        gen_y = torch.arange(args.num) % 10
        gen = timed(times, "generate", generate, gen_y, args.seed).float()
        if gen.shape != (args.num, 16000) or not torch.isfinite(gen).all():
            raise SystemExit(f"the generator returned shape {tuple(gen.shape)} (finite: {bool(torch.isfinite(gen).all())}); "
                             f"want ({args.num}, 16000) finite samples")
        t0 = time.time()
        gen_f, gen_p = judge.run(gen)
        g = rows["generated"] = sc09_scores(gen_p, gen_f, train_p, test_f, gen_y, seed=args.seed)
        # the ratio compares IS at the real test split's split size (small splits read lower: see sound_scores)
        g["is_matched_splits"] = max(1, round(args.num / rows["real test"]["is_split_size"]))
        g["is_matched"] = inception_score(gen_p, g["is_matched_splits"], args.seed)[0]
        g["is_vs_real_test"] = g["is_matched"] / rows["real test"]["is"]
        g.update(diversity(gen, gen_y, gen_f, test_w, test_y, test_f))
        rows["real test"].update(diversity(train_w, train_y, train_f, test_w, test_y, test_f))   # real vs real
        rows["negative control"] = {"label_acc": label_accuracy(gen_p, (gen_y + 1) % 10)["label_acc"]}
        times["score"] = round(time.time() - t0, 1)
        if recognizer:
            k = min(args.sphinx, args.num)
            g.update(timed(times, "sphinx_generated", sphinx.sphinx_accuracy, gen[:k], gen_y[:k], recognizer))
            g["sphinx_vs_real"] = g["sphinx_acc"] / max(rows["real test"]["sphinx_acc"], 1e-9)
    examples = write_examples(common.OUT / "sc09", judge, test_w, test_y, gen, gen_y)

    res = {"data": source, "judge": {"id": judge.id, "test_acc": judge_acc, **{k: v for k, v in judge.info.items()
                                                                             if k not in ("id", "test_acc")}},
           "recipe": asdict(judge.recipe), "run": args.run, "replay": args.replay, "num": args.num,
           "rows": rows, "seconds": times, "examples": examples, "machine": common.machine(),
           "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])}
    common.save_json("sc09", res)
    (common.OUT / "sc09.md").write_text(markdown(res))
    print((common.OUT / "sc09.md").read_text())
    common.log(f"wrote {common.OUT / 'sc09.md'}, {common.OUT / 'sc09.json'} and {common.OUT / 'sc09'}/")
    print(res["command"])


def markdown(res: dict) -> str:
    def f(row: dict, key: str, fmt: str = ".3f") -> str:
        v = row.get(key)
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else format(v, fmt)

    rows = res["rows"]
    body = [[name, f(r, "is") + (f" ± {f(r, 'is_std', '.2f')}" if "is_std" in r else ""), f(r, "fid"), f(r, "mis", ".1f"),
             f(r, "mis_within", ".3f"), f(r, "am"), f(r, "label_acc", ".4f"), f(r, "sphinx_acc", ".3f"),
             f(r, "div_mel", ".2f") + (f" (worst digit {f(r, 'div_mel_min', '.2f')})" if "div_mel_min" in r else ""),
             f(r, "div_judge", ".2f"), f(r, "n", "d")]
            for name, r in rows.items()]
    j = res["judge"]
    what = f"run `{res['run']}`" if res["run"] else "replayed real test clips (bench check)" if res["replay"] else \
        "no model (ceilings only)"
    lines = [f"## Audio generation: SC09 protocol ({what})", "",
             f"Data: {res['data']}. Judge `{j['id']}`: log-mel CNN trained on the real train split only "
             f"({j.get('steps_done')} steps, {j.get('train_seconds')} s); accuracy on the unheard-voice test split "
             f"**{j['test_acc']:.4f}**. IS over 10 splits (small splits read lower: " + ", ".join(
                 f"{k} {r['is_split_size']}" for k, r in rows.items() if "is_split_size" in r) + " clips per split); FID in the judge's 128-D features against the real test "
             "split (the real-test row: against real train); mIS over all pairs (as SaShiMi's code) and within "
             "each asked-for class; AM against the real train predictions (lower is better); pocketsphinx with a "
             "ten-word grammar.", "",
             common.table(["clips", "IS", "FID", "mIS", "mIS within class", "AM", "label acc", "pocketsphinx acc",
                           "diversity ratio, log-mel", "diversity ratio, judge features", "n"], body),
             "", "Diversity ratio: the mean pairwise distance of clips of one digit (up to 100 per digit) over the "
             "same for the real test clips of that digit, averaged over digits (1 = as varied as real speech; the "
             "real-test row compares real train clips, the real-vs-real ceiling)."]
    g = rows.get("generated")
    if g:
        ok_is = "✓" if g["is_vs_real_test"] >= 0.85 else "✗"
        lines += ["", f"IS / real-test IS: **{g['is_vs_real_test']:.3f}** {ok_is} (target ≥ 0.85; the best published "
                  f"GAN reaches about 0.59), the generated IS taken over {g['is_matched_splits']} splits "
                  f"({g['is_matched']:.3f}) so that its splits are as large as the real test split's."]
        if "sphinx_vs_real" in g:
            ok = "✓" if g["sphinx_vs_real"] >= 0.9 else "✗"
            lines.append(f"pocketsphinx generated / real: **{g['sphinx_vs_real']:.3f}** {ok} (target ≥ 0.9).")
        lines.append(f"Negative control (generated clips judged against label + 1): "
                     f"{rows['negative control']['label_acc']:.4f}.")
    secs = ", ".join(f"{k} {v:g} s" for k, v in res["seconds"].items())
    lines += ["", f"Times: {secs}. Machine: {res['machine']}.", "", "Reproduce:", "```", res["command"], "```"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

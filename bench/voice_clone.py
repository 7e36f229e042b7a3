"""Speak in a reference voice (issue 21, `mmgan generate RUN --label 7 --voice ref.wav`): a run trained with
model.condition=[label, voice] on `spoken-digits`, asked for digits in the 17 voices of the test split that
training never heard.

    python bench/voice_clone.py --run RUN [--per-voice 30] [--threads 1]
    python bench/voice_clone.py --minutes 15             # train the preset specgan-voice-spoken-digits first

Protocol
  references  each unheard voice's test clips are split in two, seeded: up to --per-voice references (each
              generation gets a different one, digits balanced) and the rest, which stand for the voice
  judge       a speaker judge trained here on the real train clips only (55 voices): training.voice's
              d-vector recipe with its own seed and width, not the run's encoder; its held-out accuracy on
              training voices is printed; cached under $MMGAN_CACHE/judges/
  voice ID    the judge ranks the 17 unheard voices for a clip by cosine to each voice's centroid (the mean
              of the clips that stand for it): top-1 accuracy (chance 1/17), and the equal error rate of
              same-voice vs other-voice trials (clip vs centroid)
  rows        real: the clips that stand for the voice, each scored against a centroid without itself
              (the ceiling); the same clips through the run's units (its log-mel picture, then Griffin-Lim:
              what a generator that drew perfect pictures would reach); generated with the reference; negative controls: generated with the
              reference of another voice (a derangement) scored against the voice asked for, and generated
              with no reference (the model's own voice) scored against the voice of the reference withheld
  pitch       not ours: librosa's pYIN on each clip: the share of its loud frames that are voiced (a clip
              without clear harmonics has none), and its median F0 over voiced frames against the median
              of the asked voice's standing clips, in absolute cents, over the clips with a voiced frame
              (espeak's per-clip pitch setting varies within a voice, so the real row is the floor)
  content     the SC09 digit judge (metrics.sound_judge) reads the asked digit, and pocketsphinx with a
              ten-word grammar (not trained on our data) beside it on real clips
Writes bench/out/voice_clone.json and .md (a section for docs/benchmarks.md) and, under
bench/out/voice_clone/, for three voices: the reference WAV and generated WAVs with and without it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PRESET = "specgan-voice-spoken-digits"


def speaker_judge(train, steps: int, log):
    """The bench's own speaker judge (cached): a d-vector trained on the real train clips only."""
    from mmgan.metrics.sound_judge import judge_root
    from mmgan.training.voice import VoiceOptions, fit_voice_encoder, load_voice_encoder

    opts = VoiceOptions(width=96, dim=128, steps=steps, minutes=6.0, seed=12345)
    key = f"voice-{train.info.version}-{opts.width}-{opts.dim}-{opts.steps}-{opts.seed}"
    folder = judge_root() / key
    if (folder / "config.json").is_file():
        enc, _ = load_voice_encoder(folder)
        report = json.loads((folder / "config.json").read_text())["report"]
        return enc, report
    enc, report = fit_voice_encoder(train, folder, opts, log=log, progress=True)
    return enc, report


@torch.no_grad()
def embed(enc, waves: torch.Tensor) -> torch.Tensor:
    """(n, dim) unit voice vectors of waveforms (16 kHz)."""
    from mmgan.conditioning.voice import voice_table

    return voice_table(enc, enc.prepare([w.numpy() for w in waves]))


def voice_scores(emb: torch.Tensor, asked: torch.Tensor, centroids: torch.Tensor,
                 own_centroid: torch.Tensor | None = None) -> dict:
    """Top-1 voice accuracy among the centroids and the same-vs-other-voice EER. own_centroid (n, d): the
    centroid to use for each clip's own voice instead (the real row: its voice's mean without itself)."""
    sims = emb @ F.normalize(centroids, dim=-1).t()                                   # (n, V)
    if own_centroid is not None:
        sims[torch.arange(len(emb)), asked] = (emb * F.normalize(own_centroid, dim=-1)).sum(-1)
    top1 = float((sims.argmax(1) == asked).float().mean())
    same = sims[torch.arange(len(emb)), asked]
    other = sims[torch.ones_like(sims, dtype=torch.bool).scatter_(1, asked[:, None], False)]
    return {"voice_top1": top1, "eer": eer(same.numpy(), other.numpy()), "same_cos": float(same.mean()),
            "other_cos": float(other.mean())}


def eer(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Equal error rate: where the share of genuine trials below a threshold meets the share of impostor
    trials above it."""
    thr = np.sort(np.concatenate([genuine, impostor]))
    frr = np.searchsorted(np.sort(genuine), thr, side="left") / len(genuine)
    far = 1 - np.searchsorted(np.sort(impostor), thr, side="left") / len(impostor)
    i = int(np.argmin(np.abs(frr - far)))
    return float((frr[i] + far[i]) / 2)


def pitch(waves: torch.Tensor, sr: int = 16000) -> tuple[np.ndarray, np.ndarray]:
    """Each clip's median F0 (Hz) over its voiced frames and the share of its loud frames that are voiced, by
    librosa's pYIN (NaN F0 for a clip with no voiced frame: its pitch cannot be compared)."""
    import librosa

    f0s, shares = [], []
    for w in waves.numpy():
        f0, voiced, _ = librosa.pyin(w, fmin=60, fmax=500, sr=sr, frame_length=1024, hop_length=256)
        rms = librosa.feature.rms(y=w, frame_length=1024, hop_length=256)[0][: len(f0)]
        loud = rms > 0.25 * rms.max() if rms.max() > 0 else np.zeros_like(rms, bool)
        voiced = voiced[: len(rms)] & loud
        f0s.append(float(np.median(f0[: len(rms)][voiced])) if voiced.any() else np.nan)
        shares.append(float(voiced.sum() / max(loud.sum(), 1)))
    return np.array(f0s), np.array(shares)


def pitch_scores(waves: torch.Tensor, target_f0: np.ndarray) -> dict:
    f0, share = pitch(waves)
    return {"f0_cents": cents(f0, target_f0), "voiced_share": float(share.mean()),
            "f0_clips": int(np.isfinite(f0).sum())}


def cents(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.median(np.abs(1200 * np.log2(a[ok] / b[ok])))) if ok.any() else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", help="a run trained with model.condition=[label, voice] on spoken-digits")
    ap.add_argument("--minutes", type=float, default=15.0, help="without --run: train the preset this long")
    ap.add_argument("--per-voice", type=int, default=30, help="references (and generations) per unheard voice")
    ap.add_argument("--judge-steps", type=int, default=1500)
    ap.add_argument("--sphinx", type=int, default=300, help="clips of each kind for pocketsphinx (0: skip)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    common.setup(args.threads)
    from mmgan.data import load_dataset
    from mmgan.metrics import sphinx
    from mmgan.metrics.sound_judge import load_waves, sound_judge
    from mmgan.modalities.sound import MelSpec, write_wav
    from mmgan.pipeline import Pipeline

    t_start = time.time()
    run = Path(args.run) if args.run else common.RUNS / "voice-clone"
    train_s = None
    if not args.run:
        common.log(f"training {PRESET} for {args.minutes:g} min -> {run}")
        train_s = common.run_cli(["train", "--config", PRESET, "--out", str(run), "--set", f"train.minutes={args.minutes}",
                                  "--set", f"train.threads={args.threads}", "--set", "train.progress=false"])
    train = load_dataset("spoken-digits", split="train")
    test = load_dataset("spoken-digits", split="test")
    judge, jrep = speaker_judge(train, args.judge_steps, common.log)
    common.log(f"speaker judge: held-out clips of the 55 training voices {jrep['held_out_accuracy']} "
               f"(chance {jrep['chance']:.3f}), {jrep['steps']} steps")
    digit_judge, digit_acc = sound_judge(load_dataset("spoken-digits", split="train"), test, log=common.log)

    # ---- references and the clips that stand for each voice --------------------------------------------
    voices = sorted(set(test.columns["speaker"]))
    vid = torch.tensor([voices.index(s) for s in test.columns["speaker"]])
    labels_all = test.columns["label"].long()
    g = torch.Generator().manual_seed(args.seed)
    ref_rows, stand = [], torch.zeros(len(test), dtype=torch.bool)
    for v in range(len(voices)):
        rows = torch.nonzero(vid == v).flatten()
        rows = rows[torch.randperm(len(rows), generator=g)]
        k = min(args.per_voice, len(rows) // 2)
        ref_rows.append(rows[:k])
        stand[rows[k:]] = True
    ref_rows = torch.cat(ref_rows)
    waves = load_waves(test.columns["audio"])
    emb_real = embed(judge, waves)
    centroids = torch.zeros(len(voices), emb_real.shape[1]).index_add_(0, vid[stand], emb_real[stand])
    counts = torch.bincount(vid[stand], minlength=len(voices)).float()
    f0_real, _ = pitch(waves)
    f0_voice = np.array([np.nanmedian(f0_real[(vid == v).numpy() & stand.numpy()]) for v in range(len(voices))])

    # the real row: standing clips against their voice's centroid without themselves
    sr_idx = torch.nonzero(stand).flatten()
    own = centroids[vid[sr_idx]] - emb_real[sr_idx]
    rows = {"real clips (ceiling)": {**voice_scores(emb_real[sr_idx], vid[sr_idx], centroids / counts[:, None], own),
                                     **pitch_scores(waves[sr_idx], f0_voice[vid[sr_idx].numpy()]),
                                     "digit_acc": float((digit_judge.run(waves[sr_idx])[1].argmax(1)
                                                         == labels_all[sr_idx]).float().mean()),
                                     "n": len(sr_idx)}}

    # ---- generations ---------------------------------------------------------------------------------
    pipe = Pipeline.from_pretrained(run, device="cpu")
    if "voice" not in pipe.modalities:
        raise SystemExit(f"{run}: not trained with a voice condition (conditions {pipe.modalities})")
    # the same standing clips through the run's own units (log-mel picture -> Griffin-Lim): what a perfect
    # generator of those pictures could reach
    spec = MelSpec.from_dict(pipe.model_config["extra"]["mel"])
    copy = torch.cat([spec.decode(spec.encode(waves[sr_idx[i:i + 256]])) for i in range(0, len(sr_idx), 256)])
    rows["real clips through the run's log-mel + Griffin-Lim"] = {
        **voice_scores(embed(judge, copy), vid[sr_idx], centroids / counts[:, None], own),
        **pitch_scores(copy, f0_voice[vid[sr_idx].numpy()]),
        "digit_acc": float((digit_judge.run(copy)[1].argmax(1) == labels_all[sr_idx]).float().mean()),
        "n": len(sr_idx)}
    asked_v = vid[ref_rows]
    digits = torch.arange(len(ref_rows)) % 10
    perm = torch.arange(len(ref_rows))                     # a derangement across voices for the control
    shift = torch.roll(torch.arange(len(voices)), 1)
    for v in range(len(voices)):
        mine = torch.nonzero(asked_v == v).flatten()
        theirs = torch.nonzero(asked_v == shift[v]).flatten()
        perm[mine] = theirs[torch.arange(len(mine)) % len(theirs)]
    paths = [test.columns["audio"][int(i)] for i in ref_rows]

    def gen(voice) -> torch.Tensor:
        t0 = time.time()
        out = pipe(labels=digits.tolist(), voice=voice, num_images=len(digits), seed=args.seed, output_type="pt")
        common.log(f"  {len(digits)} clips in {time.time() - t0:.0f}s")
        return out.tensor.float().reshape(len(digits), -1)

    common.log("generating with each clip's reference, with another voice's, and with none ...")
    kinds = {"generated, with the reference": (gen(paths), asked_v),
             "control: another voice's reference": (gen([paths[int(i)] for i in perm]), asked_v),
             "control: no reference": (gen(None), asked_v)}
    for name, (w, asked) in kinds.items():
        rows[name] = {**voice_scores(embed(judge, w), asked, centroids / counts[:, None]),
                      **pitch_scores(w, f0_voice[asked.numpy()]),
                      "digit_acc": float((digit_judge.run(w)[1].argmax(1) == digits).float().mean()), "n": len(w)}
    if args.sphinx and sphinx.available():
        rec = sphinx.DigitRecognizer()
        k = min(args.sphinx, len(digits))
        pick = sr_idx[torch.randperm(len(sr_idx), generator=g)[:k]]
        rows["real clips (ceiling)"].update(sphinx.sphinx_accuracy(waves[pick], labels_all[pick], rec))
        w = kinds["generated, with the reference"][0]
        rows["generated, with the reference"].update(sphinx.sphinx_accuracy(w[:k], digits[:k], rec))

    # ---- listening examples --------------------------------------------------------------------------
    ex = common.OUT / "voice_clone"
    ex.mkdir(parents=True, exist_ok=True)
    for v in range(3):
        i = int(torch.nonzero(asked_v == v).flatten()[0])
        write_wav(ex / f"{voices[v]}-reference.wav", waves[int(ref_rows[i])].numpy(), 16000)
        write_wav(ex / f"{voices[v]}-digit{int(digits[i])}-voiced.wav", kinds["generated, with the reference"][0][i].numpy(), 16000)
        write_wav(ex / f"{voices[v]}-digit{int(digits[i])}-no-reference.wav", kinds["control: no reference"][0][i].numpy(), 16000)

    res = {"run": str(run), "train_seconds": train_s, "voices": voices, "per_voice": args.per_voice,
           "speaker_judge": jrep, "digit_judge_test_accuracy": digit_acc, "rows": rows,
           "seconds": round(time.time() - t_start, 1), "machine": common.machine()}
    common.save_json("voice_clone", res)
    md = markdown(res)
    (common.OUT / "voice_clone.md").write_text(md)
    print(md)


def markdown(res: dict) -> str:
    head = ["clips", "voice top-1 (of 17)", "EER", "cos same / other voice", "voiced share (pYIN)",
            "F0 error to the voice (cents; voiced clips)", "digit judge acc", "pocketsphinx acc", "n"]
    body = []
    for name, r in res["rows"].items():
        body.append([name, f"{r['voice_top1']:.3f}", f"{r['eer']:.3f}", f"{r['same_cos']:.3f} / {r['other_cos']:.3f}",
                     f"{r['voiced_share']:.2f}", f"{r['f0_cents']:.0f} ({r['f0_clips']})", f"{r['digit_acc']:.3f}",
                     f"{r['sphinx_acc']:.3f}" if "sphinx_acc" in r else "", r["n"]])
    j = res["speaker_judge"]
    return ("Speaker judge: a d-vector trained on the real train clips of 55 voices only "
            f"({j['steps']} steps; held-out clips of those voices {j['held_out_accuracy']}, chance {j['chance']:.3f}); "
            f"the 17 voices below were never heard by it, by the run or by its speaker encoder. Chance top-1 "
            f"{1 / 17:.3f}.\n\n" + common.table(head, body) + f"\n\nRun `{res['run']}`; {res['seconds']:.0f} s; "
            f"{res['machine']}.\n")


if __name__ == "__main__":
    main()

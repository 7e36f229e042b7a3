"""Text -> speech on spoken-shapes: does a generated clip say the caption it was asked for?

    python bench/tts.py --judge runs/judge-shapes --run runs/tts-shapes          # a trained text->speech run (ttsgan, specgan)
    python bench/tts.py --judge runs/judge-shapes --codec 3:64 --codec 4:128     # the codec's ceilings only

The judge: a sentence recogniser trained in-project on real clips only (`mmgan train --config
recognizer-spoken-shapes --out R --set train.threads=1 --minutes 10`), decoded as bench/subtitles.py does
(lexicon prefix beam search, 8 beams). It reads, for the first --clips captions of spoken-shapes' test split
(its voices are never heard in training; the condition here is the caption's text):
  real           the real test clips (the judge's own ceiling)
  copy S:N       each real clip -> the log-mel picture of a codec (S-second clips, NxN picture) -> Griffin-Lim
                 (the ceiling of anything drawn as that picture); `copy run` uses the run's own codec
  generated      the run's clips generated from the captions' text (Pipeline, seed --seed, one clip a caption)
  control        the same generated clips scored against the captions shuffled (what chance looks like)
  another seed   the captions generated again with another seed; beside it how far the two seeds' clips of
                 a caption are apart (log-mel L1) against two captions' clips, and how their lengths differ
  at real timing (a ttsgan run) each caption generated at the onset and length of the real test clip saying
                 it: what the generator misses beyond timing
  the condition  (with --run) whether the text condition carries the caption: the run's joint space ranks
                 the test clips by each caption's text embedding (R@1, and the first clip's attributes)
Scores: WER (jiwer) of the recognised words against the asked caption (the transcript), and slot accuracy
(metrics.captions.slot_accuracy: did the recognised words name the asked shape / color / size / position,
synonyms counted; "exact" = all four). With --lm-clips > 0 also pocketsphinx (an independent judge: its US
English acoustic model, the bigram LM of the training transcripts that bench/subtitles.py builds) on the
first --lm-clips clips of each row.
Writes --out/tts.json and --out/tts.md (a table), and a few WAVs of each row under --out/wavs/.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from subtitles import ROOT, bigram_arpa, log, sphinx_open, wer  # noqa: E402

from mmgan.data import load_dataset  # noqa: E402
from mmgan.metrics.captions import slot_accuracy  # noqa: E402
from mmgan.modalities import get_codec  # noqa: E402
from mmgan.modalities.audio import SAMPLE_RATE, AudioCodec  # noqa: E402
from mmgan.modalities.sound import MelSpec, read_wave, write_wav  # noqa: E402
from mmgan.models.ttsgan import speech_timing  # noqa: E402
from mmgan.pipeline import Pipeline  # noqa: E402

JUDGE_DECODE = {"decode": "lexicon", "beam_size": 8}      # the recogniser preset's decoding (bench/subtitles.py)
KEEP_WAVS = 4                                             # WAVs written per row


def test_captions(clips: int) -> tuple[list[str], list[str], torch.Tensor]:
    """The first `clips` test items: (audio paths, transcripts, (n, 4) shape/color/size/position indices)."""
    ds = load_dataset("spoken-shapes", split="test")
    n = min(clips, len(ds))
    return list(ds.columns["audio"])[:n], list(ds.columns["text"])[:n], ds.columns["attributes"][:n, :4]


def copy_synthesis(paths: list[str], spec: MelSpec) -> list[np.ndarray]:
    """Real clips (cut or padded to the spec's length) -> the spec's log-mel picture -> Griffin-Lim."""
    w = get_codec("audio").waveforms(paths, spec)
    return [x.clamp(-1, 1).numpy() for i in range(0, len(w), 64) for x in spec.decode(spec.encode(w[i:i + 64]))]


def codec_spec(rule: str) -> MelSpec:
    """"S:N" -> the audio codec's spec for S-second clips drawn as NxN pictures, top_db fitted on the
    training clips as the codec does (AudioCodec.fitted_spec)."""
    seconds, side = rule.split(":")
    train = load_dataset("spoken-shapes", split="train")
    return get_codec("audio").fitted_spec(train.columns["audio"], int(round(float(seconds) * SAMPLE_RATE)), int(side))


def generated(pipe: Pipeline, texts: list[str], seed: int) -> list[np.ndarray]:
    out = []
    for i in range(0, len(texts), 64):
        x = pipe(text=texts[i:i + 64], num_images=len(texts[i:i + 64]), seed=seed + i, output_type="pt").tensor
        out += [w.float().reshape(-1).clamp(-1, 1).numpy() for w in x]
    return out


def generated_at_real_timing(pipe: Pipeline, paths: list[str], texts: list[str], seed: int) -> list[np.ndarray] | None:
    """A generator that aligns words to time (ttsgan: G.timing_of) asked to speak each caption at the timing of
    the real test clip saying it (its onset and length): how much of what it misses is timing. None for others."""
    G = pipe.generator
    if not hasattr(G, "timing_of"):
        return None
    codec = get_codec("audio")
    out = []
    for i in range(0, len(texts), 64):
        part = texts[i:i + 64]
        timing = G.timing_of(codec.to_generator(paths[i:i + 64], pipe.model_config))
        z = torch.randn(len(part), int(pipe.model_config["z_dim"]), generator=torch.Generator().manual_seed(seed + i))
        with torch.no_grad():
            cond = pipe.conditioner(text=part)
            x = G(z, cond.vec, timing=timing, **cond.kwargs())
        out += [w.clamp(-1, 1).numpy() for w in codec.from_generator(x.float(), pipe.model_config)]
    return out


def seed_spread(spec: MelSpec, first: list[np.ndarray], second: list[np.ndarray]) -> dict:
    """Do two seeds of a caption differ? In the run's log-mel pictures: the mean absolute difference between
    the two seeds' clips of one caption, against the same between two captions' clips (first seed, captions
    rolled by one), and the spread of the speech's length between seeds (frames, the ttsgan timing rule)."""
    pic = [spec.encode(torch.from_numpy(np.stack(w))) for w in (first, second)]
    same = float((pic[0] - pic[1]).abs().mean())
    other = float((pic[0] - pic[0].roll(1, 0)).abs().mean())
    lengths = [speech_timing(p)[:, 1] for p in pic]
    return {"same caption": round(same, 4), "two captions": round(other, 4), "ratio": round(same / other, 3),
            "length change between seeds (frames, mean abs)": round(float((lengths[0] - lengths[1]).abs().mean()), 2)}


def joint_retrieval(run: Path, paths: list[str], refs: list[str], attrs: torch.Tensor) -> dict:
    """Does the condition carry the caption? The run's joint space (RUN/joint) ranks the test clips by each
    caption's text embedding: R@1 (its own clip first) and how often the first clip's attributes are the asked ones."""
    from mmgan.conditioning.joint import JointSpace

    space = JointSpace.from_pretrained(run / "joint")
    sim = torch.from_numpy(space.embed("text", refs)) @ torch.from_numpy(space.embed("audio", paths)).T
    best = sim.argmax(1)
    same = (attrs[best] == attrs).float().mean(0)
    return {"clips": len(refs), "R@1": float((best == torch.arange(len(refs))).float().mean()),
            **{k: float(v) for k, v in zip(("shape", "color", "size", "position"), same)}}


def judged(judge: Pipeline, waves: list[np.ndarray]) -> list[str]:
    return [r["text"] for r in judge.transcribe(waves, options=JUDGE_DECODE)]


def scores(hyps: list[str], refs: list[str], attrs: torch.Tensor) -> dict:
    return {"wer": wer(refs, hyps), **slot_accuracy(hyps, attrs.tolist())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--judge", required=True, help="a recognizer-spoken-shapes run (trained on real clips only)")
    ap.add_argument("--run", help="a text->speech run on spoken-shapes (ttsgan or specgan; none: the ceilings only)")
    ap.add_argument("--codec", action="append", default=[], help="S:N, a codec to copy-synthesize through "
                                                                   "(S-second clips, NxN log-mel pictures); repeatable")
    ap.add_argument("--clips", type=int, default=200, help="test captions (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lm-clips", type=int, default=0, help="pocketsphinx with the transcripts' bigram LM on the "
                                                            "first N clips of each row (slow: seconds a clip; 0 = off)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "tts"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    paths, refs, attrs = test_captions(a.clips)
    judge = Pipeline.from_pretrained(a.judge, device="cpu")
    rows: dict[str, list[np.ndarray]] = {"real": [read_wave(p, SAMPLE_RATE) for p in paths]}
    specs = {f"copy {r}": codec_spec(r) for r in a.codec}
    pipe = Pipeline.from_pretrained(a.run, device="cpu") if a.run else None
    if pipe is not None:
        specs["copy run"] = AudioCodec.spec(pipe.model_config)
    for name, spec in specs.items():
        t = time.time()
        rows[name] = copy_synthesis(paths, spec)
        log(f"{name}: {spec.samples / SAMPLE_RATE:g} s, {spec.n_mels}x{spec.frames}, hop {spec.hop}, n_fft {spec.n_fft}, "
            f"top_db {spec.top_db:g} ({time.time() - t:.0f}s)")
    if a.run:
        t = time.time()
        rows["generated"] = generated(pipe, refs, a.seed)
        log(f"generated {len(refs)} clips from text ({time.time() - t:.0f}s)")
        rows["generated, another seed"] = generated(pipe, refs, a.seed + 7919)
        res_seeds = seed_spread(specs["copy run"], rows["generated"], rows["generated, another seed"])
        log(f"two seeds of each caption: {res_seeds}")
        timed = generated_at_real_timing(pipe, paths, refs, a.seed)
        if timed is not None:
            rows["generated at the real clips' timing"] = timed
        res_joint = joint_retrieval(Path(a.run), paths, refs, attrs)
        log(f"joint space, test captions -> their clips: {res_joint}")
    res: dict = {"clips": len(refs), "judge": str(a.judge), "run": a.run, "decode": JUDGE_DECODE,
                 "joint_retrieval": res_joint if a.run else None, "seed_spread": res_seeds if a.run else None,
                 "specs": {k: s.to_dict() for k, s in specs.items()}, "rows": {}}
    arpa = None
    if a.lm_clips:
        arpa = out / "transcripts.arpa"
        arpa.write_text(bigram_arpa(list(load_dataset("spoken-shapes", split="train").columns["text"])))
    perm = torch.randperm(len(refs), generator=torch.Generator().manual_seed(a.seed))
    for name, waves in rows.items():
        t = time.time()
        hyps = judged(judge, waves)
        res["rows"][name] = {"recogniser": scores(hyps, refs, attrs), "examples": list(zip(refs[:3], hyps[:3]))}
        if name == "generated":
            res["rows"]["control (generated vs shuffled captions)"] = {
                "recogniser": scores(hyps, [refs[i] for i in perm], attrs[perm])}
        if arpa is not None:
            k = min(a.lm_clips, len(waves))
            sph = sphinx_open(waves[:k], lm=str(arpa))
            res["rows"][name]["pocketsphinx"] = {"clips": k, **scores(sph, refs[:k], attrs[:k])}
        for i, w in enumerate(waves[:KEEP_WAVS]):
            write_wav(out / "wavs" / f"{name.replace(' ', '_').replace(':', 'x')}_{i}.wav", w, SAMPLE_RATE)
        r = res["rows"][name]["recogniser"]
        log(f"{name}: WER {r['wer']:.3f}, slots {r['slots']:.3f}, exact {r['exact']:.3f} ({time.time() - t:.0f}s)")
    (out / "tts.json").write_text(json.dumps(res, indent=2))
    lines = [f"{len(refs)} test captions of spoken-shapes (unheard voices for the real clips); judge {a.judge} "
             f"(lexicon beam 8)", "",
             "| clips | judge | WER | shape | color | size | position | slots | all four |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in res["rows"].items():
        for who in ("recogniser", "pocketsphinx"):
            if who in r:
                s = r[who]
                tag = who if who == "recogniser" else f"pocketsphinx (first {s['clips']})"
                lines.append(f"| {name} | {tag} | {s['wer']:.3f} | {s['shape']:.3f} | {s['color']:.3f} | {s['size']:.3f} "
                             f"| {s['position']:.3f} | {s['slots']:.3f} | {s['exact']:.3f} |")
    if a.run:
        sp = res["seed_spread"]
        lines += ["", f"Two seeds of a caption: log-mel L1 {sp['same caption']:.4f} apart against {sp['two captions']:.4f} "
                      f"between two captions (ratio {sp['ratio']:.3f}); speech length changes by "
                      f"{sp['length change between seeds (frames, mean abs)']:.1f} frames between seeds"]
        j = res["joint_retrieval"]
        lines += ["", f"The condition: the run's joint space ranks the {j['clips']} test clips by each caption's text "
                      f"embedding: R@1 {j['R@1']:.3f}; the first clip names the asked shape {j['shape']:.3f}, color "
                      f"{j['color']:.3f}, size {j['size']:.3f}, position {j['position']:.3f}"]
    text = "\n".join(lines)
    (out / "tts.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

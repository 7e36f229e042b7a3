"""generate(), generate_to_dir() and run_info(): what `mmgan generate`, `mmgan caption` and `mmgan info` call."""
from __future__ import annotations

from pathlib import Path

from ..pipeline import Pipeline
from ..runs import resolve
from ..utils import load_json, read_jsonl


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def image_files(items) -> list:
    """--image values: files as given; a folder -> the image files in it (sorted); a missing path is an error."""
    out = []
    for it in [items] if isinstance(items, (str, Path)) else list(items):
        p = Path(it) if isinstance(it, (str, Path)) else None
        if p is not None and p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
            if not found:
                raise FileNotFoundError(f"{p}: a folder with no image files ({', '.join(IMAGE_SUFFIXES)})")
            out += [str(f) for f in found]
        elif p is not None and not p.exists():
            raise FileNotFoundError(f"image not found: {p}")
        else:
            out.append(it)
    return out


def generate(run: str | Path, labels=None, text=None, audio=None, image=None, n: int = 8, seed: int = 0,
             truncation: float = 1.0, device: str = "auto", pipe=None, drs: bool | None = None, drs_gamma: float = 0.0,
             vocoder: str | Path | None = None, options: dict | None = None, voice=None):
    """(pipeline, its output) for the CLI's generate and caption: the run's Pipeline called once.
    vocoder: a hifigan run that turns a specgan run's log-mels into sound for this call (instead of
    Griffin-Lim, or of the vocoder the run was trained with). options: the generator's call options
    (a captioner's decode, temperature, beam_size). A model that reads its source raw (a captioner)
    makes n samples per source item (--image files, or every image in a folder). voice: a reference clip (or
    one per sample) whose voice a run trained with a voice condition speaks in."""
    pipe = pipe or Pipeline.from_pretrained(run, device=device, extra={"vocoder": str(vocoder)} if vocoder else None)
    kwargs = {}
    if labels:
        kwargs["labels"] = labels if len(labels) > 1 else labels[0]
    if text:
        kwargs["text"] = text
    if audio:
        kwargs["audio"] = audio
    if image:
        kwargs["image"] = image_files(image)
    if voice:
        kwargs["voice"] = _voice_clips(voice, pipe)
    if drs is not None or drs_gamma:
        kwargs.update(drs=drs, drs_gamma=drs_gamma)
    if options:
        kwargs["options"] = options
    return pipe, pipe(num_images=n, seed=seed, truncation=truncation, **kwargs)


def generate_to_dir(run: str | Path, out: str | Path, labels=None, text=None, audio=None, image=None, n: int = 8,
                    seed: int = 0, truncation: float = 1.0, device: str = "auto", pipe=None, drs: bool | None = None,
                    drs_gamma: float = 0.0, vocoder: str | Path | None = None, options: dict | None = None,
                    on_result=None, voice=None) -> list[Path]:
    """generate() and the target codec's files in out (see generate). on_result(pipe, result) is called
    before the files are written (`mmgan generate --store` stores the samples there; if it raises,
    nothing is written)."""
    pipe, result = generate(run, labels=labels, text=text, audio=audio, image=image, n=n, seed=seed,
                            truncation=truncation, device=device, pipe=pipe, drs=drs, drs_gamma=drs_gamma,
                            vocoder=vocoder, options=options, voice=voice)
    if on_result is not None:
        on_result(pipe, result)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    # the target's codec writes its files: images as PNGs + grid.png, vectors as samples.npy + scatter.png, ...
    return pipe.codec.write(result.objects, result.tensor, out,
                            {**pipe.config.get("data", {}), "conditions": result.conditions})


def _voice_clips(voice, pipe) -> list:
    """--voice values for a run trained with a voice condition: files must exist (one clip, or one per sample)."""
    if "voice" not in pipe.modalities:
        raise ValueError(f"this run was not trained to speak in a given voice (its conditions: "
                         f"{pipe.modalities or 'none'}); train with a voice condition, e.g. "
                         f"--set \"model.condition=[label,voice]\" on clips with a speaker column")
    clips = [voice] if isinstance(voice, (str, Path)) else list(voice)
    for c in clips:
        if isinstance(c, (str, Path)) and not Path(c).is_file():
            raise FileNotFoundError(f"voice clip not found: {c}")
    return clips


def run_info(run: str | Path) -> dict:
    ref = resolve(run)
    if ref.kind == "export":
        cfg = ref.config
        return {"exported pipeline": str(ref.path), "model": cfg["model"]["family"],
                "data": cfg.get("data", {}).get("name"), "conditions": cfg["conditioner"].get("modalities")}
    run, ckpt, meta = ref.run_dir or ref.path, ref.checkpoint, ref.meta
    c = meta["config"]
    logs = read_jsonl(run / "log.jsonl")
    last = {k: round(v, 4) for k, v in (logs[-1] if logs else {}).items() if k not in ("time",)}
    ckpts = sorted(p.name for p in (run / "checkpoints").glob("step-*"))
    return {
        "run": str(run),
        "family": c["model"]["family"],
        "data": f"{meta['data'].get('name')} ({meta['data'].get('kind')}, shape {meta['data'].get('shape')})",
        "target": ref.config["data"]["target"],
        "conditions": c["model"]["condition"] or "none",
        "loss": c["loss"]["name"],
        "step": meta["step"],
        "target steps": c["train"]["steps"],
        "latest checkpoint": str(ckpt),
        "checkpoints": ", ".join(ckpts),
        "rollbacks": meta.get("rollbacks", 0),
        "last log": last,
        "evaluations": read_jsonl(run / "metrics.jsonl")[-5:] if (run / "metrics.jsonl").exists() else [],
        "rejection sampling": _critic_summary(ckpt),
    }


def _critic_summary(ckpt: Path) -> str:
    if not (ckpt / "critic.json").exists():
        return "off (no critic; `mmgan calibrate RUN` fits one)"
    i = load_json(ckpt / "critic.json").get("info", {})
    return (f"on: critic of {i.get('steps')} steps keeps {100 * float(i.get('accept_rate', 0)):.1f}% of proposals "
            f"(bound: quantile {i.get('quantile')} of its logits); --no-drs for plain G(z)")

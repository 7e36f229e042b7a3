"""Pipeline: the one inference path. The CLI, the server, the demo and the trainer's sample grids
all call it.

    pipe = Pipeline.from_pretrained("runs/00001-mnist")      # a run, a checkpoint or an export
    out = pipe(labels=[7], num_images=8, seed=0)
    out.images[0].save("seven.png")                          # the target's objects: out.images, out.vectors, ...
    pipe.save_pretrained("export/")                          # slim: EMA generator + config

What the model generates is its target (data.target): the target's codec (mmgan.modalities) turns
the generator's tensors into the user's objects and names the output attribute they go in.

A model that reads its source raw (a captioner: mmgan.conditioning.source) makes num_images samples
of each source item: `pipe(image=["a.png", "b.png"], num_images=5).text` holds 5 captions of a.png,
then 5 of b.png (out.conditions["source_names"] says which).

Image-to-image runs take images instead of latents: super-resolution (`pipe(image=...)`, `pipe.upscale`)
and restoration (`pipe(image=..., mask=...)`, `pipe.restore`: holes where the mask is white), both at any
size through the same tiler (`tiled`).

A vocoder run (hifigan: its generator `resynthesizes`) remakes given clips from their own log-mels
(copy synthesis: `pipe(audio=["say.wav"])`); without clips it re-synthesises the training clips it kept.

A recogniser (recognizer: its generator `transcribes`) turns clips into text with each character's
frames (`pipe.transcribe(["talk.wav"])`: what mmgan.api.transcribe cuts long recordings into).

A run trained with `train.drs_steps > 0` (or calibrated later with `mmgan calibrate`) carries a
critic for discriminator rejection sampling (mmgan.sampling.drs); the pipeline then keeps each
sample with probability p_data/(M p_g) by that critic. `pipe(..., drs=False)` draws plain G(z).

An exported folder holds config.json (the generator's, the conditioner's and the data's config)
and generator.safetensors (+ conditioner.safetensors when it has weights). Loading never
unpickles code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .conditioning import Conditioner, build_conditioner
from .sampling.drs import Critic, load_critic, save_critic
from .config import ModelConfig
from .data.masks import load_mask
from .models import build_gan
from .models.base import load_weights, save_json, save_weights, state_to_cpu
from .model_options import check_extra
from .runs import EXPORT_VERSION, pipeline_config as _pipeline_config, resolve  # noqa: F401 (old names)
from .utils import auto_device, compile_mode, use_bf16
from .modalities import Codec, get_codec, target_of_config
from .modalities.pixels import from_pil
from .modalities.sound import read_wave
from .models.ctc import word_times


@dataclass
class PipelineOutput:
    """The target's objects are in `objects` and under the attribute its codec names: `images` (PIL
    images), `vectors` (numpy vectors), and for a codec registered later its own (e.g. `signals`)."""
    images: list = field(default_factory=list)        # PIL images (image targets)
    vectors: list = field(default_factory=list)       # (d,) numpy vectors in data units (vector targets)
    text: list = field(default_factory=list)          # strings (text targets: captions, transcripts)
    tensor: torch.Tensor | None = None                 # (b, ...) in data units: images in [-1, 1], vectors, ...
    samples: np.ndarray | None = None                  # tensor as a numpy array (a view)
    target: str = ""                                   # the codec that made the objects
    objects: list = field(default_factory=list)       # the target's objects (also under the codec's attribute)
    seeds: list = field(default_factory=list)
    conditions: dict = field(default_factory=dict)
    drs: dict = field(default_factory=dict)            # rejection sampling: proposals drawn, acceptance rate


class Pipeline:
    def __init__(self, generator: torch.nn.Module, conditioner: Conditioner, config: dict,
                 device: str | torch.device = "cpu", critic: Critic | None = None, bf16: bool | str = "auto",
                 compile: bool | str = "auto"):
        """bf16: autocast the generator (true / false / "auto" = where bf16 is native and the model
        is convolutional; mmgan.utils.use_bf16). compile: torch.compile the generator (true / false /
        a torch.compile mode / "auto" = on CUDA GPUs only; mmgan.utils.compile_mode)."""
        self.generator = generator.eval()
        self.critic = critic.to(device) if critic is not None else None
        self.conditioner = conditioner.eval()
        self.config = config                          # {"model": ModelConfig dict, "generator": ..., "data": ...}
        self.device = torch.device(device)
        self.generator.to(self.device)
        self.conditioner.to(self.device)
        self.bf16 = use_bf16(bf16, self.device, str(self.model_config.get("family", "")),
                             self.codec.bf16_auto and getattr(generator, "bf16_auto", True))
        self.compile = compile_mode(compile, self.device)
        self._run = torch.compile(self.generator, mode=self.compile) if self.compile else self.generator

    # ---- loading / saving ----------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "auto", weights: str = "G_ema",
                        bf16: bool | str = "auto", compile: bool | str = "auto", extra: dict | None = None) -> "Pipeline":
        """Load from an exported folder, a checkpoint folder, or a run folder (its latest checkpoint).
        extra: model.extra settings for this pipeline only, checked against the family's options (e.g.
        {"vocoder": "runs/vocoder"}: a specgan run speaks through that hifigan run)."""
        ref = resolve(path)
        dev = auto_device(device)
        cfg = ref.config
        if extra:
            check_extra(cfg["model"]["family"], extra)
            model = {**cfg["model"], "extra": {**(cfg["model"].get("extra") or {}), **extra}}
            cfg = {**cfg, "model": get_codec(target_of_config(cfg)).check_model(model)}
        model_cfg = ModelConfig(**cfg["model"])
        conditioner = build_conditioner(cfg["conditioner"])
        model_cfg.cond_dim = conditioner.cond_dim
        G, _ = build_gan(model_cfg, with_discriminator=False)
        load_weights(G, ref.generator_file(weights))
        if ref.conditioner_file is not None:
            load_weights(conditioner, ref.conditioner_file, strict=False)
        critic = load_critic(ref.folder) if weights == "G_ema" else None      # it was fitted to the EMA generator
        return cls(G, conditioner, cfg, dev, critic=critic, bf16=bf16, compile=compile)

    def save_pretrained(self, out_dir: str | Path) -> Path:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        save_weights(self.generator, out / "generator.safetensors")
        if state_to_cpu(self.conditioner):
            save_weights(self.conditioner, out / "conditioner.safetensors")
        save_json(self.config, out / "config.json")
        if self.critic is not None:
            save_critic(self.critic, out)
        return out

    # ---- properties -------------------------------------------------------------------------
    @property
    def model_config(self) -> dict:
        return self.config["model"]

    @property
    def target(self) -> str:
        """The column the model generates (data.target): its codec's name."""
        return target_of_config(self.config)

    @property
    def codec(self) -> Codec:
        return get_codec(self.target)

    @property
    def is_image(self) -> bool:
        """Whether the target is images (kept for code written before codecs; ask `codec` instead)."""
        return self.codec.is_image

    @property
    def modalities(self) -> list[str]:
        return list(self.conditioner.modalities)

    @property
    def class_names(self) -> list[str]:
        return list(self.config["data"].get("class_names", []))

    def label_index(self, label: Any) -> int:
        """A label given as an index or as a class name."""
        names = self.class_names
        if isinstance(label, str) and not label.lstrip("-").isdigit():
            if label not in names:
                raise ValueError(f"unknown label {label!r}; valid labels: {', '.join(names) or '(none)'}")
            return names.index(label)
        return int(label)

    # ---- generation ---------------------------------------------------------------------------
    def _g(self, z: torch.Tensor, c: torch.Tensor | None, **kw) -> torch.Tensor:
        """The generator, under bf16 autocast when the pipeline uses it; float32 out."""
        if not self.bf16:
            return self._run(z, c, **kw).float()
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
            return self._run(z, c, **kw).float()

    @torch.no_grad()
    def __call__(self, labels: Any = None, text: Sequence[str] | str | None = None, audio: Any = None,
                 image: Any = None, num_images: int = 1, seed: int | None = None, z: torch.Tensor | None = None,
                 truncation: float = 1.0, output_type: str = "pil", batch_size: int = 256, drs: bool | None = None,
                 drs_gamma: float = 0.0, options: dict | None = None, voice: Any = None, **cond_extra) -> PipelineOutput:
        """drs: discriminator rejection sampling with the pipeline's critic (None = when it has one and
        no z is given: callers that pass their own latents get exactly G(z)); drs_gamma > 0 lowers the
        rejection bound (keeps more samples, corrects less). A model that reads its source raw (a
        captioner: image=...) makes num_images samples of each source item. options: the generator's
        call options for this call (G.call_options; the captioner's decode, temperature, beam_size). voice: a
        reference clip (a path, a Sound, or one per sample) for a model trained with a voice condition."""
        if num_images < 1:
            raise ValueError(f"num_images must be at least 1, got {num_images}")
        if getattr(self.generator, "upscales", False):
            if labels is not None or text is not None or audio is not None or cond_extra:
                raise ValueError(f"a {self.model_config['family']} model takes no conditions: give it images "
                                 f"(image=...) to upscale")
            return self.upscale(image, output_type=output_type, num_images=num_images)
        if getattr(self.generator, "restores", False):
            mask = cond_extra.pop("mask", None)
            if labels is not None or text is not None or audio is not None or cond_extra:
                raise ValueError(f"a {self.model_config['family']} model takes no conditions: give it damaged "
                                 f"images (image=...) and, for holes, their masks (mask=...)")
            return self.restore(image, mask=mask, output_type=output_type, num_images=num_images)
        if getattr(self.generator, "translates_images", False):
            return self.translate(image, target=labels, output_type=output_type, batch_size=batch_size,
                                  num_images=num_images)
        source = (getattr(self.conditioner, "source", None) or {}).get("modality")
        if source and {"image": image, "audio": audio, "text": text}.get(source) is None:
            raise ValueError(f"this {self.model_config['family']} model reads {source}: pass {source}=... "
                             f"(a path, an object or a list of them)")
        if getattr(self.generator, "resynthesizes", False):
            if labels is not None or text is not None or image is not None or cond_extra:
                raise ValueError(f"a {self.model_config['family']} model takes no conditions: give it clips "
                                 f"(audio=...) to re-synthesise from their own log-mels")
            return self.resynthesize(audio, num_images=num_images, output_type=output_type, batch_size=batch_size)
        inputs: dict[str, Any] = {}
        if labels is not None:
            labels = [labels] if np.isscalar(labels) or isinstance(labels, str) else list(np.asarray(labels).reshape(-1))
            inputs["labels"] = torch.tensor([self.label_index(l) for l in labels], dtype=torch.long)
        if text is not None:
            inputs["text"] = [text] if isinstance(text, str) else list(text)
        if audio is not None:
            inputs["audio"] = audio
        if image is not None:
            inputs["image"] = image
        if voice is not None:
            inputs["voice"] = voice
        inputs.update(cond_extra)
        missing = [m for m in self.modalities if m == "label" and "labels" not in inputs]
        if missing and not inputs:
            raise ValueError(f"this model is conditioned on {self.modalities}: pass at least one of them")
        unknown = [k for k in ("labels", "text", "audio", "image", "voice") if k in inputs
                   and (k.rstrip("s") if k == "labels" else k) not in self.modalities]
        if unknown:
            raise ValueError(f"this model takes {self.modalities or 'no conditions'}; got {unknown}")
        inputs = self.conditioner.expand(num_images, **inputs)
        num_images = self.conditioner.samples(num_images, inputs)     # a source conditioner: n per source item
        if z is not None and len(z) != num_images:
            raise ValueError(f"got {len(z)} latents for {num_images} samples")
        use_drs = self.critic is not None and z is None if drs is None else bool(drs)   # given latents: plain G(z)
        if use_drs and self.critic is None:
            raise ValueError("drs=True needs a critic: train with --set train.drs_steps=N or run `mmgan calibrate RUN`")
        if use_drs and z is not None:
            raise ValueError("drs=True draws its own latents; pass seed= instead of z=")
        gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        zdim = int(self.model_config["z_dim"])
        w_truncation = getattr(self.generator, "truncation_in_w", False)   # style-based: toward the mean w
        if z is None:
            z = torch.randn(num_images, zdim, generator=gen)
            if truncation != 1.0 and not w_truncation:
                z = z * truncation                 # latent truncation toward the mean (0 = mode, 1 = off)
        z = z.to(self.device)
        outs, stats = [], {"proposals": 0, "accepted": 0, "forced": 0}
        for i in range(0, num_images, batch_size):
            sl = slice(i, i + batch_size)
            part = {k: (v[sl] if hasattr(v, "__getitem__") else v) for k, v in inputs.items()}
            cond = self.conditioner(**{k: (v.to(self.device) if torch.is_tensor(v) else v) for k, v in part.items()}) \
                if self.modalities else None
            c = cond.vec if cond is not None else None
            kw = cond.kwargs() if cond is not None else {}
            if w_truncation and truncation != 1.0:
                kw["truncation"] = truncation
            kw.update(self._options(options))
            if use_drs:
                outs.append(self._rejection(z[sl], c, kw, gen, truncation if not w_truncation else 1.0,
                                            drs_gamma, stats))
            else:
                outs.append(self._g(z[sl], c, **kw).cpu())
        x = torch.cat(outs)
        out = PipelineOutput(tensor=x, seeds=[seed] * num_images if seed is not None else [],
                             conditions={k: _condition_record(v) for k, v in inputs.items()
                                         if k != "audio" and k != "image"})
        if use_drs:
            out.drs = dict(stats, accept_rate=stats["accepted"] / max(1, stats["proposals"]), gamma=drs_gamma)
        out.tensor = self.codec.from_generator(x, self.model_config)     # data units
        sources = {source: inputs[source]} if source and inputs.get(source) is not None else {}   # prepared, per sample
        return _output(out, self.codec, output_type, self.model_config, sources)

    def _options(self, options: dict | None) -> dict:
        """Call options the generator declares (call_options); an unknown one is an error naming the valid."""
        if not options:
            return {}
        valid = tuple(getattr(self.generator, "call_options", ()))
        bad = [k for k in options if k not in valid]
        if bad:
            raise ValueError(f"a {self.model_config['family']} model takes no generation option {bad}; "
                             f"valid: {', '.join(valid) or 'none'}")
        return dict(options)

    MAX_ROUNDS = 2000

    def _rejection(self, z: torch.Tensor, c: torch.Tensor | None, kw: dict, gen: torch.Generator | None,
                   truncation: float, gamma: float, stats: dict) -> torch.Tensor:
        """One batch by rejection: each slot keeps drawing G(z) for its own condition until the critic
        accepts (probability exp(min(0, logit - M + gamma))). A slot still open after MAX_ROUNDS keeps
        the best-scored of its proposals and is counted as forced."""
        n = len(z)
        out = self._g(z, c, **kw)
        best = self.critic.logits(out, c).cpu()
        pending = torch.rand(n, generator=gen) >= self.critic.accept_prob(best, gamma)
        stats["proposals"] += n
        for _ in range(self.MAX_ROUNDS):
            idx = pending.nonzero().squeeze(1)
            if len(idx) == 0:
                break
            zz = (torch.randn(len(idx), z.shape[1], generator=gen) * truncation).to(self.device)
            di = idx.to(self.device)
            ci = c[di] if c is not None else None
            kwi = {k: (v[di] if torch.is_tensor(v) else v) for k, v in kw.items()}
            xx = self._g(zz, ci, **kwi)
            logit = self.critic.logits(xx, ci).cpu()
            ok = torch.rand(len(idx), generator=gen) < self.critic.accept_prob(logit, gamma)
            take = ok | (logit > best[idx])                 # accepted, or the best so far for a slot still open
            out[di[take.to(self.device)]] = xx[take.to(self.device)]
            best[idx[take]] = torch.where(ok[take], torch.full_like(logit[take], math.inf), logit[take])
            pending[idx[ok]] = False
            stats["proposals"] += len(idx)
        stats["forced"] += int(pending.sum())
        stats["accepted"] += n - int(pending.sum())
        return out.cpu()

    @torch.no_grad()
    def translate(self, image: Any, target: Any = None, output_type: str = "pil", batch_size: int = 256,
                  num_images: int = 8) -> PipelineOutput:
        """Image-to-image models (cyclegan): images (paths, PIL images or tensors in [-1, 1]) into the
        target domain, given by index or class name (one for all, or one per image; default 1: A -> B).
        Without images: num_images of the model's preview of stored examples [A, A->B, B, B->A, ...]."""
        if not getattr(self.generator, "translates_images", False):
            raise ValueError(f"a {self.model_config['family']} model does not translate images")
        if image is None:
            x = self.generator.preview(num_images).float().cpu()
            return _output(PipelineOutput(tensor=x, conditions={"preview": True}), self.codec, output_type)
        x = _load_images(image, int(self.model_config["resolution"]), int(self.model_config["channels"]))
        t = [1] if target is None else ([target] if np.isscalar(target) or isinstance(target, str)
                                        else list(np.asarray(target).reshape(-1)))
        t = torch.tensor([self.label_index(v) for v in t], dtype=torch.long)
        t = t.repeat(len(x)) if t.numel() == 1 else t
        if t.numel() != len(x) or bool(((t < 0) | (t > 1)).any()):
            raise ValueError(f"give one target domain (0/1 or {self.class_names}) for all images or one per image; "
                             f"got {t.tolist()} for {len(x)} images")
        outs = [self.generator.translate(x[i:i + batch_size].to(self.device), t[i:i + batch_size].to(self.device))
                .float().cpu() for i in range(0, len(x), batch_size)]
        return _output(PipelineOutput(tensor=torch.cat(outs), conditions={"target": t.tolist()}), self.codec,
                       output_type)

    @torch.no_grad()
    def upscale(self, image: Any = None, tile: int = 128, overlap: int = 8, context: int = 0,
                output_type: str = "pil", num_images: int = 8) -> PipelineOutput:
        """Super-resolution models (srresnet, esrgan): each image (a path, a PIL image or a tensor in [-1, 1])
        made `scale` times larger, at any size. Big images go through in tiles of `tile` LR pixels (memory
        stays bounded by one tile), each read with `context` pixels more on every side (0 = the generator's
        receptive radius, so the result equals whole-image inference) and blended with its neighbours
        over `overlap` pixels (linear ramps: no seams even with less context; see `tiled`). Images are converted to the model's channels (grey <-> RGB);
        alpha is composited onto white (mmgan's image rule) and not upscaled. Without images: num_images
        of the model's preview [bicubic, model, original, ...]. Outputs of different sizes leave
        `tensor` None (the objects are still there)."""
        g = self.generator
        if not getattr(g, "upscales", False):
            raise ValueError(f"a {self.model_config['family']} model does not upscale images")
        if image is None:
            x = g.preview(num_images).float().cpu()
            return _output(PipelineOutput(tensor=x, conditions={"preview": True}), self.codec, output_type)
        items = _load_any_size(image, int(self.model_config["channels"]))
        context = context if context > 0 else int(g.receptive_radius)
        outs = [tiled(self._upscale_tile, x[None], g.scale, tile, context, overlap)[0] for x in items]
        conds = {"scale": g.scale, "tile": tile, "context": context, "overlap": overlap}
        return _any_size_output(outs, conds, self.codec, output_type)

    def _upscale_tile(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device)
        if not self.bf16:
            return self.generator.upscale(x).float().clamp(-1, 1).cpu()
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
            return self.generator.upscale(x).float().clamp(-1, 1).cpu()

    @torch.no_grad()
    def restore(self, image: Any = None, mask: Any = None, tile: int = 256, overlap: int = 8, context: int = 0,
                output_type: str = "pil", num_images: int = 8) -> PipelineOutput:
        """Restoration models (restorer): damaged images (paths, PIL images or tensors in [-1, 1]) restored
        at their own size; mask: where the holes are (1 / white = hole): one mask for all images or one per
        image (paths, PIL images, or tensors (h, w), (1, h, w) or (b, 1, h, w)), each of its image's size.
        Without a mask nothing is treated as a hole: a model trained on noise/JPEG restores those (a model
        trained on holes only raises, as it would change nothing). Big images go through in tiles, as in
        `upscale`. Without images: num_images of the model's preview [damaged, restored, original, ...].
        conditions["mask"] says which of "given" / "none" was used."""
        g = self.generator
        if not getattr(g, "restores", False):
            raise ValueError(f"a {self.model_config['family']} model does not restore images")
        if image is None:
            if mask is not None:
                raise ValueError("mask= needs the images it belongs to (image=...)")
            x = g.preview(num_images).float().cpu()
            return _output(PipelineOutput(tensor=x, conditions={"preview": True}), self.codec, output_type)
        items = _load_any_size(image, int(self.model_config["channels"]))
        masks = _load_masks(mask, [tuple(x.shape[-2:]) for x in items])
        if masks is not None and not g.fills_holes:
            raise ValueError(f"this model was trained without holes (degrade={','.join(g.kinds)}): it cannot fill a "
                             f"mask; restore without one, or train with --degrade ...,mask")
        if masks is None and not any(k in g.kinds for k in ("noise", "jpeg")):
            raise ValueError("this model was trained to fill holes only (degrade=mask): give the mask of each "
                             "image (white = hole, e.g. --mask mask.png)")
        step = 4                                               # the generator's stride: tiles keep its grid
        context = -(-(context if context > 0 else int(g.receptive_radius)) // step) * step
        tile, overlap = max(step, tile // step * step), -(-overlap // step) * step
        outs = []
        for i, x in enumerate(items):
            xm = torch.cat([x, masks[i] if masks is not None else torch.zeros(1, *x.shape[-2:])])[None]
            outs.append(tiled(self._restore_tile, xm, 1, tile, context, overlap)[0])
        conds = {"mask": "given" if masks is not None else "none", "tile": tile, "context": context,
                 "overlap": overlap}
        return _any_size_output(outs, conds, self.codec, output_type)

    def _restore_tile(self, xm: torch.Tensor) -> torch.Tensor:
        """(1, c + 1, h, w): the image and its mask as one tensor, so the tiler cuts both alike."""
        xm = xm.to(self.device)
        x, m = xm[:, :-1], xm[:, -1:]
        if not self.bf16:
            return self.generator.restore(x, m).float().clamp(-1, 1).cpu()
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
            return self.generator.restore(x, m).float().clamp(-1, 1).cpu()

    @torch.no_grad()
    def resynthesize(self, items: Any = None, num_images: int = 8, output_type: str = "pil",
                     batch_size: int = 64) -> PipelineOutput:
        """Vocoders (hifigan): copy synthesis of the given clips (paths or the target's objects): each
        clip's log-mel in, the generator's sound out. Without clips: num_images re-syntheses of the
        training clips the model kept."""
        if not getattr(self.generator, "resynthesizes", False):
            raise ValueError(f"a {self.model_config['family']} model does not re-synthesise clips")
        if items is None:
            x = self._g(torch.zeros(num_images, 1, device=self.device), None).cpu()
            out = PipelineOutput(conditions={"preview": True})
        else:
            one = isinstance(items, (str, Path)) or hasattr(items, "_fields") or getattr(items, "ndim", 2) == 1
            items = [items] if one else list(items)           # one clip (a path, a Sound, a 1-D array) or a list
            units = self.codec.to_generator(items, self.model_config)
            x = torch.cat([self._resynthesize(units[i:i + batch_size].to(self.device)).cpu()
                           for i in range(0, len(units), batch_size)])
            out = PipelineOutput(conditions={"resynthesized": len(items)})
        out.tensor = self.codec.from_generator(x, self.model_config)
        return _output(out, self.codec, output_type)

    @torch.no_grad()
    def transcribe(self, audio: Any, options: dict | None = None, batch_size: int = 16) -> list[dict]:
        """Recognisers (recognizer): clips (paths in any format, rate and channel count; or 1-D float
        arrays at the model's rate) -> per clip {"text", "tokens", "spans" ((first, last) output frame of
        each character), "frames", "frame_seconds", "words" ([(word, start_s, end_s)] from the alignment)}.
        options: the generator's call options for this call ({"decode": "beam", "beam_size": 8}; default the
        run's: best path)."""
        if not getattr(self.generator, "transcribes", False):
            raise ValueError(f"a {self.model_config['family']} model does not transcribe speech")
        G, opts = self.generator, self._options(options)
        chars = ["", "", "?"] + list(G.vocab[3:])                            # what each id writes
        one = isinstance(audio, (str, Path)) or getattr(audio, "ndim", 2) == 1
        items = [audio] if one else list(audio)
        waves = [_load_wave(it, G.sample_rate) for it in items]
        order = sorted(range(len(waves)), key=lambda i: len(waves[i]))      # similar lengths share a batch
        out: list[dict] = [{} for _ in waves]
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            n = max(max(len(waves[j]) for j in idx), 1)
            x = torch.zeros(len(idx), n)
            for r, j in enumerate(idx):
                x[r, :len(waves[j])] = torch.from_numpy(waves[j])
            # lengths up to each clip's last non-zero sample, as in training (trailing digital silence and
            # the batch's padding left out of the per-utterance normalization)
            for j, res in zip(idx, G.transcribe(x.to(self.device), None, **opts)):
                res["words"] = word_times(res["tokens"], res["spans"], chars, res["frame_seconds"])
                out[j] = res
        return out

    def _resynthesize(self, x: torch.Tensor) -> torch.Tensor:
        if not self.bf16:
            return self.generator.resynthesize(x).float()
        with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
            return self.generator.resynthesize(x).float()


def _output(out: PipelineOutput, codec: Codec, output_type: str, model: dict | None = None,
            sources: dict | None = None) -> PipelineOutput:
    """output_type "pil" (the default): the target's objects, made by its codec and dressed with the model
    config and the raw sources the samples were made from (Codec.dress); "np" / "pt": the tensor only
    (`samples` is always its numpy view)."""
    out.target = codec.name
    out.samples = out.tensor.numpy()
    if output_type == "pil":
        out.objects = codec.dress(codec.to_objects(out.tensor), model or {}, sources or {})
        setattr(out, codec.attribute, out.objects)
    return out


def _load_wave(item: Any, sample_rate: int) -> np.ndarray:
    """A path (read, mixed to mono, resampled) or a 1-D array / tensor at sample_rate -> float32 samples."""
    if isinstance(item, (str, Path)):
        return read_wave(item, sample_rate)
    x = np.asarray(item.detach().cpu() if torch.is_tensor(item) else item, dtype=np.float32)
    if x.ndim != 1:
        raise ValueError(f"clips are 1-D waveforms at {sample_rate} Hz (or file paths), got shape {x.shape}")
    return x
def _any_size_output(outs: list[torch.Tensor], conds: dict, codec: Codec, output_type: str) -> PipelineOutput:
    """Images that may differ in size: stacked into `tensor` when they agree, else `tensor` is None (the
    objects are still there)."""
    if len({tuple(o.shape) for o in outs}) == 1:
        return _output(PipelineOutput(tensor=torch.stack(outs), conditions=conds), codec, output_type)
    out = PipelineOutput(tensor=None, conditions=conds, target=codec.name)
    out.objects = [codec.to_object(o) for o in outs] if output_type == "pil" else list(outs)
    setattr(out, codec.attribute, out.objects)
    return out


def tiled(fn, x: torch.Tensor, scale: int, tile: int, context: int, blend: int = 0) -> torch.Tensor:
    """fn (LR (1, c, h, w) -> (1, c, h s, w s)) over x in tiles, one at a time (bounded memory). The LR image
    is cut into tile x tile cores; each is read with context + blend more pixels on every side (clipped at
    the image's border). Outputs within `context` of a cut edge get no weight (zero padding spoils them);
    across the next `blend` pixels the weight rises linearly to 1 over the core, so neighbours fade into
    each other. With context at least the network's receptive radius every weighted output is exact and the
    result equals fn(x) to float precision; with less, the blending hides the seams. fn may return another
    number of channels than it takes (restoration: image + mask in, image out)."""
    if tile < 1 or context < 0 or blend < 0:
        raise ValueError(f"tile must be at least 1, context and overlap 0 or more; got tile={tile}, "
                         f"context={context}, overlap={blend}")
    _, c, h, w = x.shape
    m = context + blend
    if h <= tile + 2 * m and w <= tile + 2 * m:
        return fn(x)
    out: torch.Tensor | None = None
    weight = torch.zeros(1, 1, h * scale, w * scale)
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(0, top - m), max(0, left - m)
            t1, l1 = min(h, top + tile + m), min(w, left + tile + m)
            y = fn(x[:, :, t0:t1, l0:l1]).float()
            wy = _ramp(t1 - t0, t0 > 0, t1 < h, context, blend, scale)
            wx = _ramp(l1 - l0, l0 > 0, l1 < w, context, blend, scale)
            wt = (wy[:, None] * wx[None, :])[None, None]                     # (1, 1, H_t, W_t)
            out = torch.zeros(1, y.shape[1], h * scale, w * scale) if out is None else out
            out[:, :, t0 * scale:t1 * scale, l0 * scale:l1 * scale] += y * wt
            weight[:, :, t0 * scale:t1 * scale, l0 * scale:l1 * scale] += wt
    return out / weight        # every pixel lies in one core (weight 1), so no division by zero


def _ramp(n: int, cut_lead: bool, cut_trail: bool, context: int, blend: int, scale: int) -> torch.Tensor:
    """Blend weights along one side of a tile of n LR pixels, at the output's resolution: near a cut edge
    0 over `context` pixels, then rising linearly over `blend` pixels to 1 (an uncut edge is the image's
    own border: weight 1 there)."""
    i = (torch.arange(n * scale, dtype=torch.float32) + 0.5) / scale               # LR coordinate of each pixel
    w = torch.ones(n * scale)
    for cut, dist in ((cut_lead, i), (cut_trail, n - i)):
        if cut:
            w = torch.minimum(w, ((dist - context) / blend).clamp(0, 1) if blend else (dist >= context).float())
    return w


def _load_any_size(image: Any, channels: int) -> list[torch.Tensor]:
    """Paths, PIL images or tensors ((c, h, w) or (b, c, h, w) in [-1, 1]) -> a list of (c, h, w), each at its
    own size, converted to `channels` (grey <-> RGB; alpha composited onto white)."""
    from PIL import Image

    if torch.is_tensor(image):
        x = image[None] if image.dim() == 3 else image
        if x.dim() != 4:
            raise ValueError(f"image tensors are (c, h, w) or (b, c, h, w), got shape {tuple(image.shape)}")
        if x.shape[1] != channels:
            if {int(x.shape[1]), channels} != {1, 3}:
                raise ValueError(f"images have {x.shape[1]} channels; this model takes {channels}")
            x = x.repeat(1, 3, 1, 1) if channels == 3 else \
                (x * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
        return list(x.float())
    items = [image] if isinstance(image, (str, Path)) or hasattr(image, "convert") else list(image)
    out: list[torch.Tensor] = []
    for item in items:
        if torch.is_tensor(item):
            out += _load_any_size(item, channels)
            continue
        if isinstance(item, (str, Path)):
            if not Path(item).exists():
                raise FileNotFoundError(f"image not found: {item}")
            with Image.open(item) as im:
                item = im.copy()
        out.append(from_pil(item, 0, channels))
    return out


def _load_masks(mask: Any, sizes: list[tuple[int, int]]) -> list[torch.Tensor] | None:
    """Masks for images of the given (h, w) sizes -> one (1, h, w) tensor in {0, 1} per image (1 = hole), or
    None without masks. One mask serves every image; otherwise one per image. Files: mmgan.data.masks.load_mask
    (white = hole); PIL images likewise; tensors are thresholded at 0.5."""
    from PIL import Image

    if mask is None:
        return None
    if torch.is_tensor(mask):
        m = mask.float()
        m = m[None, None] if m.dim() == 2 else (m[None] if m.dim() == 3 else m)
        if m.dim() != 4 or m.shape[1] != 1:
            raise ValueError(f"mask tensors are (h, w), (1, h, w) or (b, 1, h, w), got shape {tuple(mask.shape)}")
        items = list(m)
    else:
        items = [mask] if isinstance(mask, (str, Path)) or isinstance(mask, Image.Image) else list(mask)
    if len(items) == 1:
        items = items * len(sizes)
    if len(items) != len(sizes):
        raise ValueError(f"give one mask for all images or one per image; got {len(items)} masks for {len(sizes)} images")
    out = []
    for item, (h, w) in zip(items, sizes):
        if isinstance(item, (str, Path)):
            m = load_mask(item, (h, w))[0]
        elif isinstance(item, Image.Image):
            m = torch.from_numpy((np.asarray(item.convert("L"), dtype=np.float32) > 127.5).astype(np.float32))[None]
        else:
            m = (torch.as_tensor(item).float().reshape(1, *torch.as_tensor(item).shape[-2:]) > 0.5).float()
        if tuple(m.shape[-2:]) != (h, w):
            raise ValueError(f"a mask of {m.shape[-1]}x{m.shape[-2]} pixels was given for an image of {w}x{h}; "
                             f"a mask must have its image's size (white = hole)")
        out.append(m)
    return out


def _load_images(image: Any, resolution: int, channels: int) -> torch.Tensor:
    """Paths, PIL images or tensors ((c, h, w) or (b, c, h, w) in [-1, 1]) -> (b, c, res, res)."""
    return get_codec("image").prepare_source(image, {"resolution": resolution, "channels": channels})


def _condition_record(v: Any) -> Any:
    """A condition as out.conditions records it: tensors as lists; clips (a voice) by their paths, or
    "clip i" when given as samples."""
    if torch.is_tensor(v):
        return v.tolist()
    if isinstance(v, list) and any(not isinstance(x, (str, int, float, bool, type(None))) for x in v):
        return [str(x) if isinstance(x, (str, Path)) else f"clip {i}" for i, x in enumerate(v)]
    return v

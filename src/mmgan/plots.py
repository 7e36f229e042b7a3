"""Pictures people would rather look at: loss curves, 2-D sample scatters over mixture modes, spectrogram sheets."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .utils import atomic_write, read_jsonl


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    _plt().close(fig)
    return path


def loss_curves(log_path: str | Path, out_png: str | Path, title: str = "") -> Path | None:
    rows = [r for r in read_jsonl(log_path) if "step" in r]
    if not rows:
        return None
    plt = _plt()
    keys = sorted({k for r in rows for k in r if k.startswith(("loss/", "reg/", "D/"))})
    groups = {"losses": [k for k in keys if k.startswith("loss/")],
              "discriminator outputs and penalties": [k for k in keys if not k.startswith("loss/")]}
    groups = {g: ks for g, ks in groups.items() if ks}
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, 3.2 * len(groups)), squeeze=False)
    for ax, (name, ks) in zip(axes[:, 0], groups.items()):
        for k in ks:
            pts = [(r["step"], r[k]) for r in rows if k in r and np.isfinite(r[k])]
            if pts:
                s, v = zip(*pts)
                ax.plot(s, v, label=k, lw=1.2)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return _save(fig, out_png)


def scatter_modes(samples: np.ndarray, means: np.ndarray, sigma: float, out_png: str | Path, title: str = "",
                  real: np.ndarray | None = None) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="#bbbbbb", alpha=0.5, label="real")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="#1f77b4", alpha=0.6, label="generated")
    theta = np.linspace(0, 2 * np.pi, 60)
    means = np.asarray(means, dtype=np.float64)
    means = means if means.size else np.zeros((0, 2))
    for m in means:
        ax.plot(m[0] + 3 * sigma * np.cos(theta), m[1] + 3 * sigma * np.sin(theta), c="#d62728", lw=0.8)
    if len(means):
        ax.scatter(means[:, 0], means[:, 1], marker="x", c="#d62728", s=25, label="modes (3σ)")
        span = np.abs(means).max() * 1.35 + 6 * sigma
    else:                                        # no known modes: frame the samples
        span = float(np.abs(np.asarray(samples)[:, :2]).max(initial=1e-3)) * 1.1
    ax.set_xlim(-span, span)
    ax.set_ylim(-span, span)
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(title or "generated samples over the mixture's modes")
    return _save(fig, out_png)


def spectrogram_sheet(db: np.ndarray, out_png: str | Path, title: str = "", seconds: float = 1.0,
                      labels: list[str] | None = None, cols: int = 8, floor_db: float = 80.0) -> Path:
    """Log-mel spectrograms (n, mels, frames) in dB as a sheet of small panels (time across, low
    frequencies at the bottom), each on the same colour scale (the loudest bin minus floor_db)."""
    plt = _plt()
    db = np.asarray(db, dtype=np.float32)
    n = max(1, len(db))
    cols = min(cols, n)
    rows = -(-n // cols)
    width = max(1.6 * cols, 4.5 if title else 0)                  # a title of two lines needs room over 1-2 clips
    fig, axes = plt.subplots(rows, cols, figsize=(width, 1.5 * rows + (0.5 if title else 0)), squeeze=False)
    top = float(db.max()) if len(db) else 0.0
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= len(db):
            continue
        ax.imshow(db[i], origin="lower", aspect="auto", cmap="magma", vmin=top - floor_db, vmax=top,
                  extent=(0, seconds, 0, db.shape[1]))
        if labels and i < len(labels):
            ax.set_title(labels[i], fontsize=7)
    if title:
        fig.suptitle(f"{title}\n(log-mel, {seconds:g} s each; low frequencies at the bottom)", fontsize=9)
        fig.subplots_adjust(top=1 - 0.5 / fig.get_figheight())              # the title's two lines above the clips
    return _save(fig, out_png)


def caption_sheet(groups: list[dict], out_png: str | Path, title: str = "", width: int = 520) -> Path:
    """Captions as a picture: one panel per input ({"name", "captions", ["style"]}): its thumbnail when
    the name is an image file, then its captions, one per line (wrapped), in PIL's built-in font."""
    import textwrap

    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    line, thumb, pad = 14, 96, 8
    chars = max(20, (width - thumb - 3 * pad) // 6)
    panels = []
    for g in groups:
        lines = [str(g["name"]) + (f"  (style: {g['style']})" if "style" in g else "")]
        for i, c in enumerate(g["captions"]):
            lines += textwrap.wrap(f"{i + 1}. {c}", chars, subsequent_indent="   ") or [f"{i + 1}."]
        img = None
        p = Path(str(g["name"]))
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp") and p.is_file():
            try:
                with Image.open(p) as im:
                    img = im.convert("RGB").resize((thumb, thumb), Image.NEAREST)
            except OSError:
                img = None
        panels.append((img, lines, max(len(lines) * line, thumb if img else 0) + 2 * pad))
    top = line + 2 * pad if title else pad
    sheet = Image.new("RGB", (width, top + sum(h for _, _, h in panels) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, pad), title, fill="black", font=font)
    y = top
    for img, lines, h in panels:
        x = pad
        if img is not None:
            sheet.paste(img, (x, y + pad))
            x += thumb + pad
        for i, text in enumerate(lines):
            draw.text((x, y + pad + i * line), text, fill=(20, 20, 20) if i else (0, 70, 160), font=font)
        y += h
        draw.line([(pad, y - 1), (width - pad, y - 1)], fill=(220, 220, 220))
    path = Path(out_png)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: sheet.save(tmp, format="PNG"))
    return path

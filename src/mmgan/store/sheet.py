"""Search results for people: a text table and a contact-sheet PNG of the hits."""
from __future__ import annotations

import textwrap
from pathlib import Path

from ..utils import atomic_write
from .schema import item_files


def content_file(item, assets_dir: str | Path | None) -> Path | None:
    """The file of what an item is (its image, its clip) under the assets folder, else its first file; None
    when it keeps none."""
    files = item_files(item)
    rel = files.get(item.content_modality) or next(iter(files.values()), None)
    return Path(assets_dir) / rel if rel and assets_dir else None


def hit_record(hit, assets_dir: str | Path | None) -> dict:
    """A hit as JSON: the item's fields plus `files` ({modality: absolute path}) and `file` (its content's)."""
    files = {m: str(Path(assets_dir, rel).absolute()) for m, rel in item_files(hit.item).items()} if assets_dir else {}
    f = content_file(hit.item, assets_dir)
    return {**hit.to_dict(), "files": files, "file": str(f.absolute()) if f is not None else None}


def _short(s: str, n: int) -> str:
    s = " ".join(str(s).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def hits_table(hits, width: int = 48, assets_dir: str | Path | None = None) -> str:
    """One line per hit: rank, score, kind, id, label, caption or prompt, provenance, and (given the assets
    folder) the item's file: its image, its clip."""
    head = f"{'#':>3}  {'score':>7}  {'kind':<9} {'id':<12}  {'match':<5}  {'label':<10}  {'caption / prompt':<{width}}  source" + ("  file" if assets_dir else "")
    lines = [head, "-" * len(head)]
    for h in hits:
        it = h.item
        src = f"{Path(it.model).name} step {it.step} seed {it.seed}" if it.kind == "synthetic" else it.dataset
        lab = it.class_name or (str(it.label) if it.label >= 0 else "")
        f = content_file(it, assets_dir)
        lines.append(f"{h.rank:>3}  {h.score:>7.4f}  {it.kind:<9} {it.id[:12]:<12}  {h.modality:<5}  "
                     f"{_short(lab, 10):<10}  {_short(it.caption, width):<{width}}  {src}"
                     + (f"  {f}" if f is not None else ""))
    if not hits:
        lines.append("(no hits)")
    return "\n".join(lines)


def contact_sheet(hits, assets_dir: str | Path | None, out: str | Path, cols: int = 5, thumb: int = 128) -> Path:
    """A grid of the hits' images, each captioned with rank, score, kind and caption. Items without an
    image asset get a grey tile."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    n = max(1, len(hits))
    cols = max(1, min(cols, n))
    rows = (n + cols - 1) // cols
    pad, text_h = 6, 44
    W, H = cols * (thumb + pad) + pad, rows * (thumb + text_h + pad) + pad
    sheet = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, h in enumerate(hits):
        r, c = divmod(i, cols)
        x, y = pad + c * (thumb + pad), pad + r * (thumb + text_h + pad)
        path = Path(assets_dir) / h.item.asset if (assets_dir and h.item.asset) else None
        if path is not None and path.exists():
            img = Image.open(path).convert("RGB").resize((thumb, thumb), Image.NEAREST)
            sheet.paste(img, (x, y))
        else:
            draw.rectangle([x, y, x + thumb - 1, y + thumb - 1], fill=(200, 200, 200))
            f = content_file(h.item, assets_dir)              # a clip: its file's name (the table has the path)
            label = f"{h.item.content_modality}: {f.name[:10]}" if f is not None and f.exists() else "no image"
            draw.text((x + 4, y + thumb // 2 - 6), label, fill=(80, 80, 80), font=font)
        colour = (20, 110, 40) if h.item.kind == "real" else (160, 40, 20)
        draw.text((x, y + thumb + 2), f"#{h.rank} {h.score:.3f} {h.item.kind}", fill=colour, font=font)
        for j, line in enumerate(textwrap.wrap(h.item.caption or h.item.class_name or h.item.id[:12],
                                               width=max(8, thumb // 6))[:2]):
            draw.text((x, y + thumb + 15 + 12 * j), line, fill=(30, 30, 30), font=font)
    if not hits:
        draw.text((pad, pad), "no hits", fill=(0, 0, 0), font=font)
    out = Path(out)
    atomic_write(out, lambda tmp: sheet.save(tmp, format="PNG"))
    return out

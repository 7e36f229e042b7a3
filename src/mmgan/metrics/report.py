"""RUN/report.html: one self-contained page (images embedded as base64 PNG, no external files).

It holds the metric table with each metric's protocol, the metrics recorded during training, sample
pictures of generated and real samples (drawn by the target's codec: sample grids for images, a
scatter over the mixture's modes for 2-D vectors), the loss curves (RUN/loss.png) and the feature
network used.
"""
from __future__ import annotations

import base64
import html
import io
import json
import time
from pathlib import Path

import numpy as np
import torch

from ..utils import atomic_write_text, read_jsonl
from ..plots import _plt

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.9em;width:100%}td,th{border:1px solid #ddd;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.proto{font-size:.85em;color:#555}.proto b{color:#333;font-weight:600}.muted{color:#777}
.imgs{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}.imgs figure{margin:0}
figcaption{font-size:.85em;color:#555;text-align:center}img{image-rendering:pixelated;max-width:100%}
"""


def _b64_png_bytes(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _img_tag(data: bytes | None, caption: str, width: int | None = None) -> str:
    if not data:
        return ""
    w = f' width="{width}"' if width else ""
    return (f'<figure><img src="{_b64_png_bytes(data)}"{w} alt="{html.escape(caption)}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _file_png(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _fig_png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _generated(ctx, n: int) -> torch.Tensor:
    """n samples from fixed latents: one row of 8 per class (label models) or per condition."""
    pipe = ctx.pipe
    g = torch.Generator().manual_seed(ctx.seed + 99)
    z = torch.randn(n, int(pipe.model_config["z_dim"]), generator=g)
    kwargs = {}
    mods = ctx.modalities
    if mods == ["label"]:
        kwargs["labels"] = (torch.arange(n) // 8) % max(1, ctx.num_classes)     # one row per class
    elif mods:
        cond, _, _ = ctx._conditions(n, "grouped8", np.random.default_rng(ctx.seed + 99))
        kwargs = cond                                                           # one row per condition
    was = pipe.conditioner.training
    try:
        out = pipe(z=z, num_images=n, output_type="pt", **kwargs)
    finally:
        pipe.conditioner.train(was)
    return out.tensor


def _real(ctx, n: int) -> torch.Tensor:
    """n real items of the target: rows of one class each (as the generated ones) when there are labels,
    else random."""
    train = ctx.train
    x = train.columns[ctx.target]
    rng = np.random.default_rng(ctx.seed + 99)
    if "label" in train.columns and ctx.num_classes >= 2:
        labels = train.columns["label"].numpy()
        idx = []
        for row in range(n // 8):
            pool = np.flatnonzero(labels == row % ctx.num_classes)
            if len(pool):
                idx += rng.choice(pool, size=8, replace=len(pool) < 8).tolist()
        if idx:
            return x[torch.as_tensor(idx)]
    return x[torch.as_tensor(np.sort(rng.choice(len(x), size=min(n, len(x)), replace=False)))]


def _history_plot(rows: list[dict]) -> bytes | None:
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        if r.get("source") != "training" or "step" not in r:
            continue
        v = r.get("results", {}).get(r.get("primary", ""))
        if isinstance(v, (int, float)):
            series.setdefault(f"{r['metric']} ({r['primary']})", []).append((int(r["step"]), float(v)))
    series = {k: sorted(v) for k, v in series.items() if len(v) >= 2}
    if not series:
        return None

    plt = _plt()
    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.4 * len(series)), squeeze=False)
    for ax, (k, pts) in zip(axes[:, 0], series.items()):
        s, v = zip(*pts)
        ax.plot(s, v, marker="o", lw=1.2)
        ax.set_title(k, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    return _fig_png(fig)


def _fmt(v) -> str:
    if isinstance(v, float):
        if v != v:
            return "nan"
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return html.escape(str(v))


def _protocol_html(p: dict) -> str:
    parts = []
    for k, v in p.items():
        if isinstance(v, (list, dict)):
            v = json.dumps(v)
            if len(v) > 160:
                v = v[:157] + "..."
        parts.append(f"<b>{html.escape(str(k))}</b>: {html.escape(str(v))}")
    return "<br>".join(parts)


def _table(results, skipped: dict) -> str:
    rows = ["<tr><th>metric</th><th>value</th><th>all values</th><th>protocol</th><th>time</th></tr>"]
    for r in results:
        arrow = "↑" if r.higher_is_better else "↓"
        vals = "<br>".join(f"{html.escape(k)} {_fmt(v)}" for k, v in r.values.items())
        rows.append(f"<tr><td><b>{html.escape(r.name)}</b></td><td class=num>{_fmt(r.value)} "
                    f"<span class=muted>{html.escape(r.primary)} {arrow}</span></td><td class=num>{vals}</td>"
                    f"<td class=proto>{_protocol_html(r.protocol)}</td><td class=num>{r.seconds:.1f}s</td></tr>")
    for k, why in skipped.items():
        rows.append(f"<tr><td>{html.escape(k)}</td><td class=muted>skipped</td><td colspan=3 class=proto>"
                    f"{html.escape(why)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _history_table(rows: list[dict]) -> str:
    if not rows:
        return "<p class=muted>none yet</p>"
    out = ["<tr><th>when</th><th>source</th><th>step</th><th>metric</th><th>value</th></tr>"]
    for r in rows[-200:]:
        v = r.get("results", {}).get(r.get("primary", ""))
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.get("time", 0)))
        out.append(f"<tr><td>{when}</td><td>{html.escape(str(r.get('source', '')))}</td><td class=num>"
                   f"{r.get('step', '')}</td><td>{html.escape(str(r.get('metric')))}</td><td class=num>{_fmt(v)}</td></tr>")
    return "<table>" + "".join(out) + "</table>"


def write_report(run_dir: str | Path, ctx, ev, path: str | Path | None = None) -> Path:
    run_dir = Path(run_dir)
    path = Path(path) if path else run_dir / "report.html"
    rows = read_jsonl(run_dir / "metrics.jsonl")
    figures = []
    try:                                          # the target's codec draws them (grids, a scatter, ...)
        n = ctx.codec.preview_count
        for fig in ctx.codec.report_figures(_generated(ctx, n), _real(ctx, n), ctx.info, ctx.name):
            figures.append(_img_tag(fig.png, fig.caption, fig.width))
    except Exception as e:  # a picture must never cost the numbers
        figures.append(f"<p class=muted>samples could not be drawn: {html.escape(str(e))}</p>")
    loss = _img_tag(_file_png(run_dir / "loss.png"), "training losses (RUN/loss.png)", 640)
    hist = _img_tag(_history_plot(rows), "metrics during training")
    fn = getattr(ctx, "_features", None)
    fn_html = "<p class=muted>not used</p>"
    if fn is not None and not isinstance(fn, (str, Path)):
        info = {k: v for k, v in fn.info.items() if k not in ("recipe",)}
        fn_html = (f"<p>{html.escape(fn.describe())}</p><p class=proto>{_protocol_html(info)}</p>"
                   + (f"<p class=proto><b>recipe</b>: {html.escape(json.dumps(fn.info['recipe']))}</p>"
                      if "recipe" in fn.info else ""))
    title = f"mmgan report: {run_dir.name}"
    cfg = ctx.pipe.config
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class=proto><b>checkpoint</b>: {html.escape(str(ev.checkpoint))} &nbsp; <b>step</b>: {ev.step}
&nbsp; <b>model</b>: {html.escape(str(cfg['model'].get('family')))} &nbsp; <b>conditions</b>:
{html.escape(', '.join(ctx.modalities) or 'none')} &nbsp; <b>data</b>: {html.escape(ctx.name)}
(version {html.escape(str(ctx.info.get('version', '?')))}) &nbsp; <b>written</b>: {time.strftime('%Y-%m-%d %H:%M:%S')}</p>
<h2>Metrics</h2>{_table(ev.results, ev.skipped)}
<p class=proto>Every number names its protocol: generated samples, conditions, reference split and feature network.
Numbers computed with different feature networks or sample counts are not comparable. Arrows: ↑ higher is better, ↓ lower.</p>
<h2>Samples</h2><div class=imgs>{''.join(figures)}</div>
<h2>Training</h2><div class=imgs>{loss or '<p class=muted>no loss.png in this folder</p>'}{hist}</div>
<h2>Feature network</h2>{fn_html}
<h2>All recorded evaluations (metrics.jsonl)</h2>{_history_table(rows)}
</body></html>
"""
    atomic_write_text(path, body)
    return path

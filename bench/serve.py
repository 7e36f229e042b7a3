"""Serving benchmark: latency under concurrency, batched throughput, a soak, and a schemathesis run.

    .venv/bin/python bench/serve.py                      # everything; writes bench/out/serve.md
    .venv/bin/python bench/serve.py --soak-seconds 10 --skip-schema     # quicker

What it does, all on loopback (127.0.0.1), bounded in count and time:
  1. makes a 32x32 label-conditioned dcgan run on digits (2 training steps: weights do not matter for speed),
  2. times the Pipeline alone (batch 1 and 64) for reference,
  3. starts `mmgan serve` in a subprocess with a real store (Milvus Lite in a temp folder) and a generator key,
  4. one-image requests from 1, 8 and 32 concurrent clients: p50 / p99 latency, requests/s,
  5. n=64 requests: images/s (stored, and with store=false),
  6. a soak: 16 concurrent clients for --soak-seconds, errors counted, server RSS sampled every second,
  7. schemathesis against /openapi.json with an admin key: the server must never answer 5xx.
The machine's load (`uptime`) is recorded before and after: other jobs share these cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "n/a"


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    i = min(len(xs) - 1, max(0, int(round(q / 100 * (len(xs) - 1)))))
    return xs[i]


def rss_tree_mb(pid: int) -> float:
    """Resident memory of a process and its children (from /proc), in MiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for t in Path(f"/proc/{p}/task").iterdir():
                kids = Path(f"/proc/{p}/task/{t.name}/children").read_text().split()
                todo += [int(k) for k in kids]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


# ---- setup ---------------------------------------------------------------------------------------------------
MODELS = {"dcgan64": 64, "dcgan16": 16}        # served name -> g_width (64 is the config default)


def make_run(tmp: Path, name: str, width: int) -> Path:
    from mmgan.api.train import train

    run = tmp / name
    train(data="digits", overrides=["model.condition=[label]", "data.resolution=32", "data.n=256", "train.batch_size=16",
                                    f"model.g_width={width}", f"model.d_width={width}", "train.progress=false",
                                    "train.tensorboard=false", "train.sample_every=1000", "train.ckpt_every=1000"],
          out=run, steps=2, log=lambda *_: None)
    return run


def pipeline_alone(run: Path) -> dict:
    import torch

    from mmgan.pipeline import Pipeline

    pipe = Pipeline.from_pretrained(run, device="cpu")
    params = sum(p.numel() for p in pipe.generator.parameters())
    out = {"params_M": params / 1e6}
    for n in (1, 64):
        pipe(labels=1, num_images=n, seed=0)                       # warm up
        times = []
        for i in range(20 if n == 1 else 10):
            t0 = time.perf_counter()
            pipe(labels=1, num_images=n, seed=i)
            times.append(time.perf_counter() - t0)
        out[f"ms_batch{n}"] = statistics.median(times) * 1000
        out[f"img_s_batch{n}"] = n / statistics.median(times)
        out[f"best_ms_batch{n}"] = min(times) * 1000          # the least disturbed call on shared cores
        out[f"best_img_s_batch{n}"] = n / min(times)
    out["threads"] = torch.get_num_threads()
    return out


class Server:
    def __init__(self, runs: dict[str, Path], tmp: Path, key_file: Path, extra: list[str] = (), store: str = "store"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / f"server-{store}.log", "w")
        cmd = [PY, "-m", "mmgan", "serve", *[f"{k}={v}" for k, v in runs.items()], "--store", str(tmp / store),
               "--keys", str(key_file),
               "--port", str(self.port), "--rate-per-minute", "0", "--log-level", "warning", *extra]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=tmp)

    def wait(self, timeout: float = 180) -> None:
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError("server did not start in time")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# ---- load ------------------------------------------------------------------------------------------------------
class RawHTTP:
    """A minimal keep-alive HTTP/1.1 client on asyncio streams: far less client CPU per request than httpx, which
    matters when the client shares two cores with the server it measures."""

    def __init__(self, host: str, port: int, key: str):
        self.host, self.port, self.key = host, port, key
        self.reader = self.writer = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {self.key}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        await self.writer.drain()
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(int(l.split(":", 1)[1]) for l in lines[1:] if l.lower().startswith("content-length:"))
        data = await self.reader.readexactly(length)
        if any(l.lower() == "connection: close" for l in lines[1:]):
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None


async def load(url: str, key: str, clients: int, seconds: float, body: dict, max_requests: int = 100_000,
               sampler=None) -> dict:
    """`clients` loops posting `body` to /v1/generate until `seconds` pass; latencies and errors."""
    host, port = url.split("//")[1].split(":")
    lat: list[float] = []
    errors: dict[str, int] = {}
    images = 0
    stop_at = time.perf_counter() + seconds
    sent = 0
    checked = False

    async def worker(w: int):
        nonlocal images, sent, checked
        conn = RawHTTP(host, int(port), key)
        i = 0
        try:
            while time.perf_counter() < stop_at and sent < max_requests:
                sent += 1
                i += 1
                b = dict(body, seed=(w * 1_000_003 + i * 7919 + int(time.time() * 1000)) % 2**31, label=i % 10)
                data = json.dumps(b).encode()
                t0 = time.perf_counter()
                try:
                    status, out = await conn.post("/v1/generate", data)
                except (OSError, asyncio.IncompleteReadError) as e:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                    await conn.close()
                    continue
                dt = time.perf_counter() - t0
                if status == 200:
                    lat.append(dt)
                    images += b.get("n", 1)
                    if not checked:                    # trust, but verify once: n images came back
                        checked = True
                        assert len(json.loads(out)["items"]) == b.get("n", 1)
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        finally:
            await conn.close()

    async def sample():
        while time.perf_counter() < stop_at:
            sampler()
            await asyncio.sleep(1.0)

    t0 = time.perf_counter()
    await asyncio.gather(*[worker(w) for w in range(clients)], *([sample()] if sampler else []))
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": len(lat), "errors": errors, "wall_s": wall, "req_s": len(lat) / wall,
            "img_s": images / wall, "p50_ms": pct(lat, 50) * 1000, "p90_ms": pct(lat, 90) * 1000,
            "p99_ms": pct(lat, 99) * 1000, "max_ms": max(lat) * 1000 if lat else float("nan")}


def scrape(url: str, name: str) -> str:
    text = httpx.get(url + "/metrics").text
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


# ---- schemathesis ----------------------------------------------------------------------------------------------
def schemathesis_run(url: str, admin_key: str, tmp: Path, max_examples: int) -> dict:
    exe = shutil.which("st", path=str(Path(PY).parent)) or shutil.which("schemathesis", path=str(Path(PY).parent))
    if exe is None:
        return {"skipped": "schemathesis is not installed (pip install schemathesis)"}
    cmd = [exe, "run", f"{url}/openapi.json", "--checks", "not_a_server_error", "--max-examples", str(max_examples),
           "-H", f"Authorization: Bearer {admin_key}", "--workers", "1", "--request-timeout", "30",
           "--phases", "examples,coverage,fuzzing,stateful"]
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=tmp)
    (tmp / "schemathesis.txt").write_text(out.stdout + out.stderr)
    tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-25:])
    return {"returncode": out.returncode, "seconds": time.time() - t0, "tail": tail, "command": " ".join(
        c if "Bearer" not in c else "Authorization: Bearer $ADMIN_KEY" for c in cmd)}


# ---- main --------------------------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "serve.md"))
    ap.add_argument("--seconds", type=float, default=10.0, help="per latency level")
    ap.add_argument("--soak-seconds", type=float, default=60.0)
    ap.add_argument("--soak-clients", type=int, default=16)
    ap.add_argument("--skip-soak", action="store_true")
    ap.add_argument("--skip-schema", action="store_true")
    ap.add_argument("--schema-examples", type=int, default=25)
    ap.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="mmgan-bench-serve-"))
    load_before = uptime()
    print(f"[bench] temp {tmp}; load: {load_before}", flush=True)
    runs = {name: make_run(tmp, name, width) for name, width in MODELS.items()}
    results: dict = {"pipeline": {name: pipeline_alone(run) for name, run in runs.items()}, "models": {}}
    print(f"[bench] pipeline alone: {results['pipeline']}", flush=True)

    from mmgan.server.keys import KeyRing

    ring = KeyRing(tmp / "keys.json")
    gen_key = ring.create("generator", "bench")[1]
    admin_key = ring.create("admin", "schemathesis")[1]
    server = Server(runs, tmp, ring.path)
    try:
        server.wait()
        pid = server.proc.pid
        for name in runs:
            asyncio.run(load(server.url, gen_key, 4, 3.0, {"n": 1, "model": name}))           # warm up
        results["rss_start_mb"] = rss_tree_mb(pid)
        for name in runs:
            res: dict = {"levels": []}
            for c in (1, 8, 32):
                r = asyncio.run(load(server.url, gen_key, c, args.seconds, {"n": 1, "model": name}))
                print(f"[bench] {name}, one image, {c} clients: {r}", flush=True)
                res["levels"].append(r)
            for key, clients, body in (("batch64", 1, {"n": 64, "response": "url"}),
                                       ("batch64_nostore", 1, {"n": 64, "store": False}),
                                       ("batch64_2clients", 2, {"n": 64, "response": "url"})):
                res[key] = asyncio.run(load(server.url, gen_key, clients, args.seconds, dict(body, model=name)))
                print(f"[bench] {name}, {key}: {res[key]}", flush=True)
            results["models"][name] = res
        results["batch_hist"] = scrape(server.url, "mmgan_batch_images")
        soak_model = next(iter(runs))
        if not args.skip_soak:
            for key, body in (("soak", {"n": 1}), ("soak_nostore", {"n": 1, "store": False})):
                samples: list[tuple[float, float]] = []
                t0 = time.perf_counter()
                sampler = lambda s=samples, t=t0: s.append((time.perf_counter() - t, rss_tree_mb(pid)))  # noqa: E731
                soak = asyncio.run(load(server.url, gen_key, args.soak_clients, args.soak_seconds,
                                        dict(body, model=soak_model), sampler=sampler))
                soak["rss_samples"], soak["model"] = samples, soak_model
                results[key] = soak
                print(f"[bench] {key}: { {k: v for k, v in soak.items() if k != 'rss_samples'} }", flush=True)
        results["rss_end_mb"] = rss_tree_mb(pid)
        if not args.skip_schema:
            results["schemathesis"] = schemathesis_run(server.url, admin_key, tmp, args.schema_examples)
            print(f"[bench] schemathesis: rc={results['schemathesis'].get('returncode')}", flush=True)
            results["server_5xx"] = "\n".join(l for l in scrape(server.url, "mmgan_http_requests_total").splitlines()
                                              if 'status="5' in l) or "none"
    finally:
        server.stop()
    # the same stored n=64 requests with --no-asset-fsync: what the PNG fsyncs cost
    server = Server(runs, tmp, ring.path, ["--no-asset-fsync"], store="store-nofsync")
    try:
        server.wait()
        results["nofsync"] = {}
        for name in runs:
            asyncio.run(load(server.url, gen_key, 2, 2.0, {"n": 8, "model": name}))          # warm up
            for key, clients in (("batch64", 1), ("batch64_2clients", 2)):
                r = asyncio.run(load(server.url, gen_key, clients, args.seconds, {"n": 64, "response": "url",
                                                                                  "model": name}))
                results["nofsync"].setdefault(name, {})[key] = r
                print(f"[bench] {name}, {key}, --no-asset-fsync: {r}", flush=True)
    finally:
        server.stop()
    results["load_before"], results["load_after"] = load_before, uptime()
    write_report(Path(args.out), results, args)
    print(f"[bench] wrote {args.out}")
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _loop_impl() -> str:
    import importlib.util

    have = [m for m in ("uvloop", "httptools") if importlib.util.find_spec(m)]
    return (" + ".join(have) + " (installed, so uvicorn uses them)") if have else "asyncio + h11 (uvloop/httptools absent)"


def write_report(path: Path, r: dict, args) -> None:
    pipes = r["pipeline"]
    p0 = next(iter(pipes.values()))
    lines = [
        "# mmgan serve: latency, throughput, soak, schema fuzzing",
        "",
        f"`{' '.join([Path(PY).name, 'bench/serve.py', *sys.argv[1:]])}` on {platform.node() or 'this machine'}, "
        f"{os.cpu_count()} CPU cores (shared with other jobs: see the load), Python {platform.python_version()}, "
        f"torch threads {p0['threads']}. Loopback only. Models: label-conditioned dcgan at 32x32 on digits, "
        + ", ".join(f"`{n}` (g_width {MODELS[n]}, {p['params_M']:.2f} M generator parameters)" for n, p in pipes.items())
        + "; both served by one `mmgan serve` process (uvicorn) with a real store (Milvus Lite in a temp folder; "
        f"every generated image is embedded and stored with provenance unless the request says store=false), "
        f"micro-batching (max 64 images, 2 ms wait). uvicorn event loop: {_loop_impl()}. Load from a minimal "
        f"keep-alive HTTP/1.1 client in this process (asyncio streams).",
        "",
        f"- load before: `{r['load_before']}`",
        f"- load after: `{r['load_after']}`",
        "",
        "## Pipeline alone (no HTTP, no store)",
        "",
        "Median (best) of 20 calls at batch 1 and of 10 at batch 64.",
        "",
        "| model | batch 1 ms | batch 1 images/s | batch 64 ms | batch 64 images/s |",
        "|---|---|---|---|---|",
    ]
    for n, p in pipes.items():
        lines.append(f"| {n} | {p['ms_batch1']:.1f} ({p['best_ms_batch1']:.1f}) | {p['img_s_batch1']:.0f} "
                     f"({p['best_img_s_batch1']:.0f}) | {p['ms_batch64']:.1f} ({p['best_ms_batch64']:.1f}) | "
                     f"{p['img_s_batch64']:.0f} ({p['best_img_s_batch64']:.0f}) |")
    lines += ["", "## One-image requests (POST /v1/generate, n=1, stored)", "",
              "| model | concurrent clients | requests | p50 ms | p90 ms | p99 ms | max ms | requests/s | errors |",
              "|---|---|---|---|---|---|---|---|---|"]
    for n, m in r["models"].items():
        for x in m["levels"]:
            lines.append(f"| {n} | {x['clients']} | {x['requests']} | {x['p50_ms']:.1f} | {x['p90_ms']:.1f} | "
                         f"{x['p99_ms']:.1f} | {x['max_ms']:.1f} | {x['req_s']:.1f} | {x['errors'] or 0} |")
    lines += ["", "## Batch 64 (POST /v1/generate, n=64)", "",
              "| model | case | requests | p50 ms/request | images/s | errors |", "|---|---|---|---|---|---|"]
    for n, m in r["models"].items():
        for name, key in (("1 client, stored, URLs back", "batch64"),
                          ("1 client, store=false, PNGs inline", "batch64_nostore"),
                          ("2 clients, stored, URLs back", "batch64_2clients")):
            x = m[key]
            lines.append(f"| {n} | {name} | {x['requests']} | {x['p50_ms']:.1f} | {x['img_s']:.0f} | {x['errors'] or 0} |")
        for name, key in (("1 client, stored with --no-asset-fsync", "batch64"),
                          ("2 clients, stored with --no-asset-fsync", "batch64_2clients")):
            x = r.get("nofsync", {}).get(n, {}).get(key)
            if x:
                lines.append(f"| {n} | {name} | {x['requests']} | {x['p50_ms']:.1f} | {x['img_s']:.0f} | "
                             f"{x['errors'] or 0} |")
    lines += ["", "Images per model call over the whole run (`mmgan_batch_images` histogram from /metrics):", "",
              "```", r.get("batch_hist", ""), "```"]
    for key, what in (("soak", "one-image requests, every image stored"),
                      ("soak_nostore", "one-image requests with store=false (the service alone)")):
        if key not in r:
            continue
        s = r[key]
        rss = [m for _, m in s["rss_samples"]]
        n = max(1, len(rss) // 6)
        first, last = statistics.mean(rss[:n]), statistics.mean(rss[-n:])
        per_item = (f" ({(last - first) * 1024 / max(1, s['requests']):.2f} KiB per stored item)"
                    if key == "soak" else "")
        lines += ["", f"## Soak: {s['clients']} concurrent clients, {s['wall_s']:.0f} s, model {s['model']}, {what}", "",
                  f"- requests: {s['requests']} ({s['req_s']:.1f}/s), errors: {s['errors'] or 0}",
                  f"- latency p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, max {s['max_ms']:.1f} ms",
                  f"- server RSS (MiB, sampled every second): first sixth mean {first:.1f}, last sixth mean {last:.1f}, "
                  f"min {min(rss):.1f}, max {max(rss):.1f}; growth {last - first:+.1f} MiB{per_item}",
                  "", "RSS samples (s: MiB): " + ", ".join(f"{t:.0f}: {m:.0f}" for t, m in s["rss_samples"][::5])]
    lines += ["", f"Server RSS after warm-up {r['rss_start_mb']:.1f} MiB, at the end {r['rss_end_mb']:.1f} MiB.", ""]
    st = r.get("schemathesis")
    if st:
        lines += ["## Schemathesis (every operation, admin key, check not_a_server_error)", ""]
        if "skipped" in st:
            lines.append(f"skipped: {st['skipped']}")
        else:
            lines += [f"`{st['command']}` — exit {st['returncode']} in {st['seconds']:.0f} s; server-side 5xx "
                      f"counted by /metrics: {r.get('server_5xx')}", "", "```", st["tail"], "```"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())

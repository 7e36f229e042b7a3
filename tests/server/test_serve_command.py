from __future__ import annotations

from mmgan.cli import build_parser, main
from mmgan.cli.serve import settings_from_args
from mmgan.server.keys import KeyRing


def test_keys_create_list_revoke(tmp_path, capsys):
    path = tmp_path / "keys.json"
    assert main(["keys", "create", "--role", "generator", "--name", "ci", "--keys", str(path)]) == 0
    key = capsys.readouterr().out.strip()
    rec = KeyRing(path).verify(key)
    assert rec is not None and rec.role == "generator" and rec.name == "ci"
    assert main(["keys", "list", "--keys", str(path)]) == 0
    listed = capsys.readouterr().out
    assert rec.id in listed and key not in listed
    assert main(["keys", "revoke", rec.id, "--keys", str(path)]) == 0
    assert KeyRing(path).verify(key) is None
    assert main(["keys", "revoke", rec.id, "--keys", str(path)]) == 1


def test_serve_flags_become_settings(tmp_path):
    args = build_parser().parse_args(["serve", "a=runs/1", "b=runs/2", "--store", str(tmp_path), "--max-n", "8",
                                      "--rate-per-minute", "30", "--cors-origin", "http://x", "--keys", "k.json"])
    s = settings_from_args(args)
    assert s.runs == {"a": "runs/1", "b": "runs/2"} and s.store == str(tmp_path) and s.host == "127.0.0.1"
    assert s.limits.max_n == 8 and s.limits.rate_per_minute == 30 and s.cors_origins == ["http://x"]
    assert str(s.keys_file) == "k.json" and s.auth


def test_no_auth_only_on_loopback(capsys):
    assert main(["serve", "runs/x", "--no-auth", "--host", "0.0.0.0"]) == 1
    assert "only allowed on loopback" in capsys.readouterr().err


def test_mmgan_serve_runs_uvicorn_on_loopback(tiny_run, tmp_path):
    """The real entry point: `mmgan serve NAME=RUN` in a subprocess answers /healthz, stops on SIGTERM."""
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = subprocess.Popen([sys.executable, "-m", "mmgan", "serve", f"d={tiny_run}", "--store", "memory", "--port",
                             str(port), "--keys", str(tmp_path / "keys.json")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.1)
        assert r.json()["models"] == ["d"]
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models").status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=60)[0]
    assert proc.returncode in (0, -signal.SIGTERM), out      # uvicorn re-raises the signal after a clean shutdown
    assert "Application shutdown complete" in out
    assert "no API keys" in out and f"http://127.0.0.1:{port}" in out

"""`mmgan store serve`: one process owns the folder, others connect by URI (or find it by --store)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import make_items
from mmgan.store import Store

HERE = Path(__file__).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_shares_a_store(tmp_path):
    path, port = tmp_path / "s", _free_port()
    with Store.open(path) as s:
        s.add(make_items(5))
    server = subprocess.Popen([sys.executable, "-m", "mmgan", "store", "serve", "--store", str(path),
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = server.stdout.readline()
        assert f"http://127.0.0.1:{port}" in line, line
        uri = f"http://127.0.0.1:{port}"
        for _ in range(100):                                # the gRPC port opens just after the record
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        with Store.open(uri=uri) as s:                      # by URI: reopened collection is loaded
            assert s.count() == 5 and not s.endpoint.embedded
            s.add(make_items(3, seed=7))
            assert s.search(make_items(3, seed=7)[1].vectors["image"], k=1)[0].item.id == make_items(3, seed=7)[1].id
        with Store.open(path) as s:                         # by path: finds the server and says so
            assert "served by" in s.endpoint.note and s.count() == 8
            assert s.assets == path / "assets"
        r = subprocess.run([sys.executable, "-m", "mmgan", "store", "stats", "--store", str(path)],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "items: 8" in r.stdout and "served by" in r.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not (path / "serve.json").exists()
    with Store.open(path) as s:                             # embedded again, with everything written
        assert s.endpoint.embedded and s.count() == 8


def test_uri_errors(tmp_path):
    with pytest.raises(RuntimeError, match="no Milvus server answers"):
        Store.open(uri=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(ValueError, match="--store"):
        Store.open(uri=str(tmp_path / "x.db"))

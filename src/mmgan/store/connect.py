"""Where a store lives and how to reach it: an embedded Milvus Lite folder, or any Milvus by URI.

A store folder (`--store DIR` on the command line) holds

    DIR/milvus/       the Milvus Lite data directory (one process may open it at a time)
    DIR/assets/       content-addressed files of the items (ab/abcdef....png)
    DIR/serve.json    while `mmgan store serve --store DIR` runs: its URI and pid

Both ways go through pymilvus: for a folder, mmgan starts Milvus Lite's gRPC server inside this
process on 127.0.0.1 (what pymilvus itself does for a `.db` path) and connects to its URI. When
another process holds the folder, mmgan connects to the `mmgan store serve` of that folder if one
runs, and otherwise says how to start one.
"""
from __future__ import annotations

import json
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from ..utils import atomic_write_json

DEFAULT_PATH_ENV = "MMGAN_STORE"
DEFAULT_PATH = "mmgan-store"
DEFAULT_PORT = 19530
MILVUS_DIRNAME = "milvus"
ASSETS_DIRNAME = "assets"
SERVE_FILENAME = "serve.json"


class StoreLockedError(RuntimeError):
    """The Milvus Lite folder is held by another process."""


class StoreConnectionError(RuntimeError):
    """No Milvus answers at the URI."""


@dataclass
class Endpoint:
    uri: str
    token: str = ""
    path: Path | None = None         # the store folder, when there is one
    embedded: bool = False           # Milvus Lite runs in this process: we are its only client
    assets: Path | None = None
    note: str = ""                   # what was decided, for the user (e.g. "connected to the running server")


def default_path() -> Path:
    return Path(os.environ.get(DEFAULT_PATH_ENV) or DEFAULT_PATH)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_open(uri: str, timeout: float = 0.5) -> bool:
    from urllib.parse import urlparse

    u = urlparse(uri)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or DEFAULT_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def read_serve_record(path: Path) -> dict | None:
    """The record of a live `mmgan store serve` for this folder, or None."""
    f = path / SERVE_FILENAME
    try:
        rec = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    if not _pid_alive(int(rec.get("pid", -1))) or not _port_open(rec.get("uri", "")):
        return None
    return rec


def _locked_by_other_process(milvus_dir: Path) -> bool:
    lock = milvus_dir / "LOCK"
    if not lock.exists():
        return False
    try:
        import fcntl
    except ImportError:                      # Windows: Milvus Lite's own error is all we have
        return False
    fd = os.open(str(lock), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _embedded_uri(milvus_dir: Path) -> str | None:
    from milvus_lite.server_manager import server_manager_instance

    return server_manager_instance.start_and_get_uri(str(milvus_dir))


def embedded_db(milvus_dir: Path):
    """The in-process Milvus Lite database behind an embedded endpoint (bulk reads), or None."""
    try:
        from milvus_lite.server_manager import server_manager_instance

        entry = server_manager_instance._servers.get(os.path.abspath(milvus_dir))   # noqa: SLF001
        return entry[1] if entry else None
    except Exception:                       # an internal of milvus-lite: a speed-up only, never required
        return None


def release_embedded(milvus_dir: Path) -> None:
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(str(milvus_dir))


def resolve(path: str | Path | None = None, uri: str | None = None, token: str | None = None,
            assets: str | Path | None = None) -> Endpoint:
    """Decide how to reach the store: URI if given, else the folder (embedded, or its running server)."""
    token = token or ""
    if uri:
        if path:
            raise ValueError("give the store as --store DIR or as --store-uri URI, not both")
        if uri.endswith(".db") or "://" not in uri:
            raise ValueError(f"--store-uri takes a Milvus address such as http://127.0.0.1:{DEFAULT_PORT}; "
                             f"for a local store folder use --store {uri}")
        if not _port_open(uri, timeout=2.0):
            raise StoreConnectionError(f"no Milvus server answers at {uri}; start one with "
                                       f"`mmgan store serve --store DIR` or check the address")
        return Endpoint(uri=uri, token=token, assets=Path(assets) if assets else None)
    path = Path(path) if path else default_path()
    if path.exists() and not path.is_dir():
        raise ValueError(f"store path {path} is a file; a store is a folder (it holds milvus/ and assets/)")
    path = path.absolute()
    assets_dir = Path(assets) if assets else path / ASSETS_DIRNAME
    rec = read_serve_record(path)
    if rec:
        return Endpoint(uri=rec["uri"], token=token, path=path, assets=assets_dir,
                        note=f"store {path} is served by `mmgan store serve` (pid {rec['pid']}); "
                             f"connected to {rec['uri']}")
    milvus_dir = path / MILVUS_DIRNAME
    if _locked_by_other_process(milvus_dir) and embedded_db(milvus_dir) is None:
        raise StoreLockedError(
            f"store {path} is open in another process (Milvus Lite admits one process per data folder). "
            f"Share it through a server: run `mmgan store serve --store {path}` and then use --store {path} "
            f"again (mmgan finds the server) or --store-uri http://127.0.0.1:{DEFAULT_PORT}")
    milvus_dir.mkdir(parents=True, exist_ok=True)
    local = _embedded_uri(milvus_dir)
    if local is None:
        if _locked_by_other_process(milvus_dir):
            raise StoreLockedError(f"store {path} was taken by another process just now; "
                                   f"run `mmgan store serve --store {path}` to share it")
        raise StoreConnectionError(f"could not start Milvus Lite on {milvus_dir} (see the log above)")
    return Endpoint(uri=local, token=token, path=path, embedded=True, assets=assets_dir)


def serve(path: str | Path | None = None, port: int = DEFAULT_PORT, host: str = "127.0.0.1") -> None:
    """Run Milvus Lite's server on the store folder until interrupted; other processes connect by URI."""
    from milvus_lite.adapter.grpc.server import run_server

    path = (Path(path) if path else default_path()).absolute()
    milvus_dir = path / MILVUS_DIRNAME
    milvus_dir.mkdir(parents=True, exist_ok=True)
    if _locked_by_other_process(milvus_dir):
        rec = read_serve_record(path)
        where = f" (already served at {rec['uri']}, pid {rec['pid']})" if rec else ""
        raise StoreLockedError(f"store {path} is open in another process{where}; stop it first")
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {host}; Milvus Lite has no authentication", file=sys.stderr)
    uri = f"http://127.0.0.1:{port}" if host in ("127.0.0.1", "localhost", "0.0.0.0") else f"http://{host}:{port}"
    import signal

    def _stop(signum, frame):                # SIGTERM: shut down like Ctrl-C (drain, close, remove the record)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    atomic_write_json(path / SERVE_FILENAME, {"uri": uri, "pid": os.getpid(), "path": str(path)})
    print(f"serving store {path} at {uri}; other mmgan commands reach it with --store {path} or --store-uri {uri}",
          flush=True)
    try:
        run_server(str(milvus_dir), host=host, port=port)
    finally:
        try:
            (path / SERVE_FILENAME).unlink()
        except OSError:
            pass

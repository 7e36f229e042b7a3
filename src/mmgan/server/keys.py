"""API keys: made by `mmgan keys create --role ROLE`, shown once, stored only as hashes.

A key reads `mmgan_<id>_<secret>`: the id finds the record, the secret's SHA-256 is compared in constant
time. The secret holds 256 random bits, so a fast hash is safe (no password stretching needed), and checking
a key costs microseconds on every request. The keys file is JSON, written atomically with mode 0600, and
re-read when it changes, so keys made or revoked while the server runs take effect at once.

Roles are ordered: viewer (search, read) < generator (also generate) < admin (also delete, manage models).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROLES = ("viewer", "generator", "admin")
PREFIX = "mmgan_"


def role_rank(role: str) -> int:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; valid: {', '.join(ROLES)}")
    return ROLES.index(role)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class KeyRecord:
    id: str
    role: str
    name: str
    hash: str
    created: float

    def public(self) -> dict:
        return {"id": self.id, "role": self.role, "name": self.name, "created": self.created}


class KeyRing:
    """The keys file, read lazily and re-read when its mtime changes."""

    def __init__(self, path: str | os.PathLike, recheck_s: float = 1.0):
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._records: dict[str, KeyRecord] = {}
        self.recheck_s = recheck_s                 # look at the file at most this often (a revoke takes <= 1 s)
        self._checked = float("-inf")

    # ---- reading -------------------------------------------------------------------------------
    def _load(self) -> dict[str, KeyRecord]:
        now = time.monotonic()
        if now - self._checked < self.recheck_s:
            return self._records
        self._checked = now
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._records = None, {}
            return self._records
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            data = json.loads(self.path.read_text() or "{}")
            self._records = {k["id"]: KeyRecord(**k) for k in data.get("keys", [])}
            self._stamp = stamp
        return self._records

    def records(self) -> list[KeyRecord]:
        with self._lock:
            self._checked = float("-inf")
            return sorted(self._load().values(), key=lambda r: r.created)

    def verify(self, key: str) -> KeyRecord | None:
        """The record for a presented key, or None. Constant-time in the secret."""
        if not key.startswith(PREFIX):
            return None
        kid, sep, secret = key[len(PREFIX):].partition("_")
        if not sep or not secret:
            return None
        with self._lock:
            rec = self._load().get(kid)
            if rec is None and time.monotonic() - self._checked > 0.1:    # a key made a moment ago
                self._checked = float("-inf")
                rec = self._load().get(kid)
        if rec is None:
            hmac.compare_digest(_hash(secret), _hash(""))      # same work for unknown ids
            return None
        return rec if hmac.compare_digest(_hash(secret), rec.hash) else None

    # ---- writing -------------------------------------------------------------------------------
    def _save(self, records: dict[str, KeyRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"format": "mmgan-keys", "version": 1, "keys": [asdict(r) for r in records.values()]}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._stamp, self._checked = None, float("-inf")

    def create(self, role: str, name: str = "") -> tuple[KeyRecord, str]:
        """A new key: returns its record and the key itself, which is not stored and cannot be shown again."""
        role_rank(role)
        with self._lock:
            self._checked = float("-inf")
            records = dict(self._load())
            kid = secrets.token_hex(6)
            while kid in records:
                kid = secrets.token_hex(6)
            secret = secrets.token_urlsafe(32)
            rec = KeyRecord(id=kid, role=role, name=name, hash=_hash(secret), created=round(time.time(), 3))
            records[kid] = rec
            self._save(records)
        return rec, f"{PREFIX}{kid}_{secret}"

    def revoke(self, kid: str) -> bool:
        with self._lock:
            self._checked = float("-inf")
            records = dict(self._load())
            if records.pop(kid, None) is None:
                return False
            self._save(records)
        return True

from __future__ import annotations

import json
import os
import stat
import time

import pytest

from mmgan.server.keys import KeyRing, role_rank


def test_create_shows_key_once_and_stores_only_its_hash(keyring):
    rec, key = keyring.create("generator", "ci")
    assert key.startswith(f"mmgan_{rec.id}_") and len(key) > 40
    text = keyring.path.read_text()
    assert key.split("_", 2)[2] not in text and key not in text
    assert json.loads(text)["keys"][0]["hash"] == rec.hash
    assert stat.S_IMODE(os.stat(keyring.path).st_mode) == 0o600
    assert keyring.verify(key) == rec


@pytest.mark.parametrize("bad", ["", "mmgan_", "mmgan_abc", "mmgan_abc_def", "Bearer x", "x" * 500])
def test_verify_rejects_malformed_and_unknown(keyring, bad):
    keyring.create("viewer")
    assert keyring.verify(bad) is None


def test_wrong_secret_and_revoked_key_fail(keyring):
    rec, key = keyring.create("admin")
    assert keyring.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert keyring.revoke(rec.id) and not keyring.revoke(rec.id)
    assert keyring.verify(key) is None


def test_other_process_edits_are_seen(tmp_path):
    a, b = KeyRing(tmp_path / "k.json"), KeyRing(tmp_path / "k.json")
    assert a.records() == []
    rec, key = b.create("viewer")          # e.g. `mmgan keys create` while the server runs
    time.sleep(0.15)
    assert a.verify(key) is not None       # a new key works at once
    b.revoke(rec.id)
    time.sleep(a.recheck_s + 0.05)
    assert a.verify(key) is None           # a revoked one within a second


def test_roles_are_ordered():
    assert role_rank("viewer") < role_rank("generator") < role_rank("admin")
    with pytest.raises(ValueError, match="valid: viewer, generator, admin"):
        role_rank("root")

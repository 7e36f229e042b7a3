"""kill -9 the indexer mid-way, run it again: no duplicates, and nothing committed is lost."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from mmgan.store import Store

HERE = Path(__file__).parent
N = 64


def _indexer(path: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(HERE / "crash_indexer.py"), str(path), str(N)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(HERE))


def test_sigkill_mid_index_then_rerun(tmp_path):
    path = tmp_path / "store"
    committed: list[str] = []
    for kill_after in (2, 5):                               # two crashes at different points
        p = _indexer(path)
        seen = 0
        for line in p.stdout:
            if line.startswith("COMMITTED"):
                committed += line.split()[1:]
                seen += 1
                if seen == kill_after:
                    os.kill(p.pid, signal.SIGKILL)          # most likely inside the next batch's embed/insert
                    break
            assert not line.startswith("DONE"), "indexer finished before it could be killed"
        p.wait()
        assert p.returncode == -signal.SIGKILL
    p = _indexer(path)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert "DONE" in out
    with Store.open(path) as s:
        rows = list(s._scan("", ["pk", "item_id"]))
        pks = [r["pk"] for r in rows]
        assert len(pks) == len(set(pks)), "duplicate rows after crash + rerun"
        ids = {r["item_id"] for r in rows}
        assert set(committed) <= ids, "an item committed before the crash is gone"
        assert s.count() == len(ids) == N
        assert s.count_rows() == 2 * N                      # image + text per item, none half-written
        assert all((s.assets / it.asset).exists() for it in s.get(sorted(ids)))

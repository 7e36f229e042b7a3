"""Runs several `mmgan` commands one after another in the processes of one torchrun launch, so that a
test of many presets pays for starting Python, torch and mmgan once (used by test_presets_distributed).

    torchrun --standalone --nproc-per-node 2 tests/training/_torchrun_jobs.py JOBS.json OUT_DIR

JOBS.json maps a job name to the mmgan arguments (["train", "--config", ...]). For each job, every
rank writes OUT_DIR/NAME.rank{R}.log (what the command printed) and OUT_DIR/NAME.rank{R}.rc (its
exit status) once the command has returned.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import traceback
from pathlib import Path

from mmgan.cli import main


def run(jobs_file: str, out_dir: str) -> int:
    jobs = json.loads(Path(jobs_file).read_text())
    out = Path(out_dir)
    rank = os.environ.get("RANK", "0")
    for name, argv in jobs.items():
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            try:
                rc = main(argv)
            except Exception:                    # noqa: BLE001 - recorded for the test, then the next job
                traceback.print_exc()
                rc = 99
        (out / f"{name}.rank{rank}.log").write_text(buf.getvalue())
        (out / f"{name}.rank{rank}.rc").write_text(str(rc))
    return 0


if __name__ == "__main__":
    sys.exit(run(*sys.argv[1:]))

"""The bench/ scripts are run by hand, not by the suite: check that every name they import from mmgan
(at the top or inside a function) still exists, so a move inside the package cannot break a benchmark
after it has trained for an hour."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def mmgan_imports(path: Path) -> list[tuple[str, str, int]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == "mmgan":
            out += [(node.module, a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.Import):
            out += [(a.name, "", node.lineno) for a in node.names if a.name.split(".")[0] == "mmgan"]
    return out


@pytest.mark.parametrize("script", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_every_mmgan_name_a_bench_script_imports_exists(script):
    missing = []
    for module, name, line in mmgan_imports(script):
        mod = importlib.import_module(module)
        if name and name != "*" and not hasattr(mod, name):
            try:
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                missing.append(f"{script.name}:{line}: from {module} import {name}")
    assert not missing, "bench imports that no longer exist:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_name(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from mmgan.runs import no_such_helper\n")
    assert mmgan_imports(bad) == [("mmgan.runs", "no_such_helper", 2)]
    assert not hasattr(importlib.import_module("mmgan.runs"), "no_such_helper")

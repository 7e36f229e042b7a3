"""The layering rules that import-linter cannot see: no mmgan import inside a function or class body
(the real dependencies are read from the import blocks; optional third-party extras may stay lazy), and
the import contracts themselves (pyproject.toml [tool.importlinter]) hold."""
from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "mmgan"


def _internal(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "mmgan"
    return isinstance(node, ast.Import) and any(a.name.split(".")[0] == "mmgan" for a in node.names)


def function_local_imports(path: Path) -> list[int]:
    found: list[int] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)) and nested and _internal(child):
                found.append(child.lineno)
            visit(child, inner)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def test_no_mmgan_import_inside_a_function():
    bad = [f"{p.relative_to(SRC.parent)}:{line}" for p in sorted(SRC.rglob("*.py")) for line in function_local_imports(p)]
    assert not bad, "mmgan imports inside functions (move them to the module's import block):\n" + "\n".join(bad)


def test_the_checker_sees_a_local_import(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("import os\n\ndef f():\n    from .x import y\n    import json\n    return y\n")
    assert function_local_imports(f) == [4]


def test_import_contracts_hold():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    r = subprocess.run([lint], cwd=SRC.parents[1], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:]

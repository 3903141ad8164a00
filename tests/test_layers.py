"""The layering of docs/architecture.md#layers: grading/ imports only the standard library and numpy."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = set(sys.stdlib_module_names) | {"numpy", "grading"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_grading_imports_only_stdlib_and_numpy() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) - ALLOWED)
        for path in sorted((ROOT / "grading").rglob("*.py"))
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"grading/ must import only the stdlib and numpy: {offenders}"


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("import sqlmodel\nfrom fastapi import FastAPI\nimport numpy as np\nimport json\n")
    assert _imports(module) - ALLOWED == {"sqlmodel", "fastapi"}


def test_registry_does_not_import_the_faces() -> None:
    offenders = [str(path.relative_to(ROOT)) for path in (ROOT / "registry").rglob("*.py") if "api" in _imports(path)]
    assert offenders == []

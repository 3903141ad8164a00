"""``registry.models`` imports a table's module when the table is first named: each module alone
brings the tables its foreign keys name (a flush needs them), and :func:`load_all` brings every one."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from sqlmodel import SQLModel

import registry.models
from registry.models import MODULES, load_all

ROOT = Path(__file__).resolve().parents[2]

_FOREIGN_KEYS_RESOLVE = (
    "import importlib, sys\n"
    "from sqlmodel import SQLModel\n"
    "importlib.import_module(f'registry.models.{sys.argv[1]}')\n"
    "for table in SQLModel.metadata.tables.values():\n"
    "    for key in table.foreign_keys:\n"
    "        key.column  # raises NoReferencedTableError when the named table is not loaded\n"
)


def test_each_table_module_alone_loads_the_tables_its_foreign_keys_name() -> None:
    for module in MODULES:
        result = subprocess.run(
            [sys.executable, "-c", _FOREIGN_KEYS_RESOLVE, module], cwd=ROOT, capture_output=True, text=True, timeout=120
        )
        assert result.returncode == 0, f"registry.models.{module}: {result.stderr.strip().splitlines()[-1]}"


def test_every_name_comes_from_the_module_listed_for_it() -> None:
    load_all()
    for module, names in MODULES.items():
        for name in names:
            value = getattr(registry.models, name)
            assert value is getattr(sys.modules[f"registry.models.{module}"], name)


def test_load_all_registers_every_table_module() -> None:
    load_all()
    defined = {
        table.__module__.rsplit(".", 1)[-1] for table in SQLModel.__subclasses__() if hasattr(table, "__table__")
    }
    assert defined <= set(MODULES)
    assert {path.stem for path in (ROOT / "registry" / "models").glob("*.py")} == {*MODULES, "__init__", "base"}


def test_the_names_for_type_checking_are_the_names_offered() -> None:
    tree = ast.parse((ROOT / "registry" / "models" / "__init__.py").read_text(encoding="utf-8"))
    checked = next(node for node in tree.body if isinstance(node, ast.If))  # if TYPE_CHECKING:
    imported = {
        (statement.module.rsplit(".", 1)[-1], alias.name)
        for statement in checked.body
        if isinstance(statement, ast.ImportFrom) and statement.module is not None
        for alias in statement.names
    }
    assert imported == {(module, name) for module, names in MODULES.items() for name in names}

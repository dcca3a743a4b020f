"""The store seam holds: no module outside the two store packages names a database driver."""

from __future__ import annotations

import ast
from pathlib import Path

import trackwire

SOURCE = Path(trackwire.__file__).parent
STORE_PACKAGES = ("collector/sqlite/", "collector/postgres/")
DRIVERS = ("sqlite3", "psycopg", "psycopg_pool")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_store_packages_import_a_database_driver() -> None:
    offenders = []
    for path in sorted(SOURCE.rglob("*.py")):
        relative = path.relative_to(SOURCE).as_posix()
        if relative.startswith(STORE_PACKAGES):
            continue
        named = _imports(path).intersection(DRIVERS)
        if named:
            offenders.append(f"{relative}: {', '.join(sorted(named))}")
    assert offenders == []


def test_the_store_packages_do_import_their_driver() -> None:
    # The check above would pass vacuously if the packages moved.
    assert "sqlite3" in _imports(SOURCE / "collector/sqlite/store.py")
    assert "psycopg" in _imports(SOURCE / "collector/postgres/store.py")

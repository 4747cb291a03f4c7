"""The package's rooms keep their doors: operator tools stay out of the functions, and no
module reaches into another's private names (a private name is free to change)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.paths import ROOT

PACKAGE = ROOT / "layers" / "hookline" / "hookline"


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def modules_reached_from(entry: Path) -> set[str]:
    """Every hookline module a handler imports, directly or through other hookline modules."""
    seen: set[str] = set()
    todo = [entry]
    while todo:
        for module, _ in imports_of(todo.pop()):
            if not module.startswith("hookline") or module in seen:
                continue
            seen.add(module)
            as_file = PACKAGE.parent / (module.replace(".", "/") + ".py")
            as_package = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
            todo.extend(p for p in (as_file, as_package) if p.exists())
    return seen


def test_no_handler_reaches_the_operator_tools() -> None:
    # Given each function's handler
    for handler in sorted((ROOT / "functions").glob("*/app.py")):
        # When its imports are followed through the package
        reached = modules_reached_from(handler)
        # Then none of them is in the ops room (cli, doctor, status, preview, rules report)
        assert reached, handler
        assert not {m for m in reached if m.startswith("hookline.ops")}, handler


def room_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if (PACKAGE.parent / "/".join(parts[:2]) / "__init__.py").exists() else module


def test_no_room_imports_another_rooms_private_names() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for module, names in imports_of(path):
            # inside one room (the store's aggregates and their plumbing) private names are shared
            if module.startswith("hookline") and room_of(module) != room_of(importer):
                offenders += [
                    f"{path.relative_to(PACKAGE)}: {module}.{n}"
                    for n in names
                    if n.startswith("_") and not n.endswith("__")
                ]
    assert offenders == []


def test_each_stage_has_its_room() -> None:
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert {"poll", "approval", "publish", "store", "ops"} <= rooms
    # the key-schema map, the one picture of the table, opens the store's facade
    assert "pk                    sk" in (PACKAGE / "store" / "__init__.py").read_text()


STAGES = ("poll", "compose", "approval", "publish")


def test_each_stage_takes_only_its_view_of_the_store() -> None:
    # Given the modules of the stages that a handler runs
    offenders = []
    for stage in STAGES:
        for path in sorted((PACKAGE / stage).rglob("*.py")):
            # When their imports from the store are listed
            for module, names in imports_of(path):
                if module == "hookline.store" and "Store" in names:
                    offenders.append(f"{path.relative_to(PACKAGE)} imports the whole facade")
    # Then none takes the facade: each names its stage's view or the one aggregate it uses,
    # so mypy holds it to the parts of the table it may touch
    assert offenders == []


MODULE_LINES = 500
FUNCTION_LINES = 80


def test_no_module_or_function_outgrows_a_reader() -> None:
    # Given every module of the package
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        # When its lines and its functions' lines are counted
        if source.count("\n") > MODULE_LINES:
            too_long.append(f"{path.relative_to(PACKAGE)}: {source.count(chr(10))} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}: {lines} lines")
    # Then a newcomer reads each in one sitting: no module over 500 lines, no function over 80
    assert too_long == []

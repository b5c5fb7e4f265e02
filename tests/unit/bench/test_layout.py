"""The bench package's modules import each other without a cycle (imports inside
functions count too)."""
import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import solas.bench

PACKAGE = Path(solas.bench.__file__).parent


def bench_imports(path: Path) -> set[str]:
    """The ``solas.bench.*`` modules ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("solas.bench.")}


def test_the_bench_modules_import_each_other_without_a_cycle():
    graph = {f"solas.bench.{p.stem}": bench_imports(p) for p in PACKAGE.glob("*.py")
             if p.stem != "__init__"}
    assert "solas.bench.end_to_end" in graph["solas.bench.run"]
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle in solas.bench: {exc.args[1]}") from None


def test_a_cycle_would_be_found():
    with pytest.raises(CycleError):
        list(TopologicalSorter({"a": {"b"}, "b": {"a"}}).static_order())

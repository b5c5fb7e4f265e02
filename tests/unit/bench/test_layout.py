"""The bench package's modules import each other without a cycle (imports inside
functions count too)."""
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import solas.bench
from tests.unit.tables.test_layout import imported_modules

PACKAGE = Path(solas.bench.__file__).parent


def bench_imports(path: Path) -> set[str]:
    """The ``solas.bench.*`` modules ``path`` imports, anywhere in it."""
    return {m for m in imported_modules(path) if m.startswith("solas.bench.")}


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

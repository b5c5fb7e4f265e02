"""tables/ holds the stream state; agents and processors import it, never the reverse."""
import ast
from pathlib import Path

import tables

PACKAGE = Path(tables.__file__).parent


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, anywhere in it (imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_nothing_in_tables_imports_agents():
    offenders = {p.name: sorted(m for m in imported_modules(p)
                                if m == "agents" or m.startswith("agents."))
                 for p in PACKAGE.glob("*.py")}
    assert not {k: v for k, v in offenders.items() if v}


def test_the_agents_and_processors_take_their_state_from_tables():
    repo = PACKAGE.parent
    assert "tables.annotations" in imported_modules(repo / "agents" / "annotation.py")
    assert "tables.sky" in imported_modules(repo / "solas" / "processors" / "filter.py")

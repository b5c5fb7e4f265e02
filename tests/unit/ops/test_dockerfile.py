"""The image is built from the tree as it is: every source the Dockerfile copies from the
build context exists, and every package pyproject installs is copied."""
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = REPO / "k8s" / "Dockerfile"


def copied_sources(text: str) -> list[str]:
    """The build-context sources of the Dockerfile's ``COPY`` lines (not ``--from``)."""
    sources = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] != ["COPY"] or any(w.startswith("--from") for w in words):
            continue
        sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def test_every_copied_source_exists():
    sources = copied_sources(DOCKERFILE.read_text())
    assert "tables" in sources
    missing = [s for s in sources if not (REPO / s).exists()]
    assert not missing, f"k8s/Dockerfile copies what the tree does not have: {missing}"


def test_every_installed_package_is_copied_into_the_image():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {re.sub(r"\*$", "", p) for p in patterns}
    assert packages <= set(copied_sources(DOCKERFILE.read_text()))
    assert all((REPO / p / "__init__.py").is_file() for p in packages)


def test_a_copy_from_another_stage_is_not_a_context_source():
    assert copied_sources("COPY --from=build /wheels /wheels\nCOPY a b ./\n") == ["a", "b"]

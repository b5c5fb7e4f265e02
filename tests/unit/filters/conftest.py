"""Shared fixtures of the filter tests: who owns which watchlist, watchmap, annotator."""
import pytest

from solas.filters import Access

# (kind, id or topic) -> (owner user id, public)
OWNED = {
    ("watchlist", 12): (1, False), ("watchlist", 5): (2, True),
    ("watchmap", 3): (1, False), ("watchmap", 7): (2, True), ("watchmap", 8): (1, False),
    ("annotator", "fastfinder"): (2, True), ("annotator", "secretbot"): (1, False),
}


def access_for(user: int):
    """The access callback the portal would give for ``user``."""
    def access(kind, key):
        if (kind, key) not in OWNED:
            return Access.MISSING
        owner, public = OWNED[(kind, key)]
        return Access.VISIBLE if public or owner == user else Access.PRIVATE
    return access


@pytest.fixture
def owner_access():
    """User 1: owns watchlist 12, watchmaps 3 and 8 and annotator secretbot (private)."""
    return access_for(1)


@pytest.fixture
def stranger_access():
    """User 2: sees public things and its own only."""
    return access_for(2)

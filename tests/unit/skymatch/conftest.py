"""Fixtures of the sky-matching tests: the real sky maps and watchlists."""
import pytest


@pytest.fixture(scope="session")
def skymaps_dir(settings_data_dir):
    return settings_data_dir / "skymaps"


@pytest.fixture(scope="session")
def watchlists_dir(settings_data_dir):
    return settings_data_dir / "watchlists"

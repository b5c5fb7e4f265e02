"""Shared fixtures of the unit tests."""
import pytest

from solas.settings import get_settings


@pytest.fixture(scope="session")
def settings_data_dir():
    """The shared real sample data (../shared/data)."""
    return get_settings().data_dir

"""Topic helpers that refuse before any I/O."""
import asyncio

import pytest

from solas.settings import Settings
from solas.topics import delete_topics


def test_delete_topics_refuses_an_empty_prefix():
    with pytest.raises(ValueError, match="prefix"):
        asyncio.run(delete_topics(Settings(), ""))

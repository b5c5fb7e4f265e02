"""Sherlock context for the API: stored classifications of objects, and classification
of any position against the catalogues loaded in MariaDB.

The index of :mod:`catalogs.classifier` is built once from the ``catalogue_sources``
table (in an executor) and rebuilt when the loaded catalogues change
(:func:`catalogs.store.context_version`, checked at most every ``refresh_s``).
Answers have the shape of the reference Sherlock service:
``{"classifications": {<id>: [classification, description]}, "crossmatches": [...]}``.
"""
from __future__ import annotations

import asyncio
import time

from catalogs.classifier import SherlockIndex, build_index, classify_positions
from catalogs.store import context_version, read_catalogues
from solas.settings import Settings
from solas.stores.mariadb import connect


class SherlockService:
    """Lazily built, periodically refreshed classifier of positions."""

    def __init__(self, settings: Settings, refresh_s: float = 300.0):
        self.settings = settings
        self.refresh_s = refresh_s
        self._index: SherlockIndex | None = None
        self._version: str | None = None
        self._checked = 0.0
        self._lock = asyncio.Lock()

    def _load(self) -> tuple[str, SherlockIndex | None]:
        with connect(self.settings) as conn, conn.cursor() as cur:
            version = context_version(cur)
            if version == self._version and self._index is not None:
                return version, self._index
            return version, build_index(read_catalogues(cur))

    async def index(self) -> SherlockIndex:
        """The current index (built or refreshed if due)."""
        async with self._lock:
            if self._index is None or time.monotonic() - self._checked > self.refresh_s:
                loop = asyncio.get_running_loop()
                self._version, self._index = await loop.run_in_executor(None, self._load)
                self._checked = time.monotonic()
            return self._index

    async def classify(self, ra: float, dec: float) -> dict:
        """Sherlock row (as a dict) of one position."""
        index = await self.index()
        result = classify_positions([ra], [dec], index).results[0]
        return result._asdict()


def answer(key: str, row: dict | None, lite: bool) -> dict:
    """The reference service's answer for one classified object or position."""
    if row is None:
        return {"classifications": {}, "crossmatches": []}
    crossmatch = {k: v for k, v in row.items() if k not in ("diaObjectId", "objectId")}
    has_match = row.get("catalogue_object_id") is not None
    return {"classifications": {key: [row.get("classification"), row.get("description")]},
            "crossmatches": [crossmatch] if has_match or not lite else []}

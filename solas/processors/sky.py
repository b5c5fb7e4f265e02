"""Every active watchlist and watchmap, in memory in every filter worker.

DESIGN section 1 asks that every worker sees every cone and map whatever partitions
it owns.  MariaDB is the source of truth (the portal writes it, then publishes the
id on ``watchlist-changes`` / ``watchmap-changes``).  Each worker reads those change
topics in full with its own consumer (no consumer group: all partitions, like a
faust GlobalTable's changelog reader) and reloads just the changed watchlist or
watchmap (with the GW sky map it was made from, if any) with one bulk query: live
within seconds, and no per-alert database round trip.  Start-up notes the change
topics' end offsets before loading everything, so no change made during the load is
missed.

A faust ``GlobalTable`` was not used: with several workers it is known not to
replicate to all of them (faust-streaming issue #283).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, NamedTuple

import numpy as np
import orjson
from aiokafka import AIOKafkaConsumer
from mocpy import MOC

from solas import metrics
from solas.settings import Settings
from solas.skymatch import (ConeIndex, MocIndex, SkyMap, WatchlistCones, read_moc_fits,
                            skymap_from_bytes)
from solas.stores import mariadb
from solas.topics import WATCHLIST_CHANGES, WATCHMAP_CHANGES, end_offsets, stage_topic

log = logging.getLogger(__name__)


class Change(NamedTuple):
    """One change message: which watchlist or watchmap to reload or drop."""

    kind: str        # "watchlist" | "watchmap"
    key: int


def load_watchlist(cursor, wl_id: int) -> WatchlistCones | None:
    """The cones of an active watchlist (None if it is gone or inactive)."""
    cursor.execute("SELECT radius, active FROM watchlists WHERE wl_id=%s", (wl_id,))
    head = cursor.fetchone()
    if head is None or not head[1]:
        return None
    cursor.execute("SELECT cone_id, ra, decl, radius, name FROM watchlist_cones "
                   "WHERE wl_id=%s", (wl_id,))
    rows = cursor.fetchall()
    cone_id, ra, dec, radius, name = (list(c) for c in zip(*rows)) if rows else ([],) * 5
    radius = np.array([np.nan if r is None else r for r in radius], dtype=float)
    return WatchlistCones.from_arrays(
        wl_id, np.asarray(cone_id, dtype=np.int64), np.asarray(ra, float),
        np.asarray(dec, float), radius, [n or "" for n in name],
        default_radius_arcsec=float(head[0] or 2.0))


class GwMap(NamedTuple):
    """The GW sky map a watchmap was made from (``mma_areas``)."""

    mw_id: int
    skymap: SkyMap
    """Its pixels within the watchmap's credible region (the watchmap's MOC)."""


class Watchmap(NamedTuple):
    """An active watchmap as the filter stage needs it."""

    moc: MOC
    gw: GwMap | None


def load_watchmap(cursor, ar_id: int) -> Watchmap | None:
    """The MOC of an active watchmap and its GW sky map if it was made from one (None if
    the watchmap is gone or inactive)."""
    cursor.execute("SELECT w.moc, w.active, w.mw_id, a.skymap FROM watchmaps w "
                   "LEFT JOIN mma_areas a ON a.mw_id = w.mw_id WHERE w.ar_id=%s", (ar_id,))
    row = cursor.fetchone()
    if row is None or not row[1] or not row[0]:
        return None
    moc = read_moc_fits(bytes(row[0]), f"watchmap {ar_id}")
    gw = None
    if row[2] is not None and row[3]:
        try:
            gw = GwMap(int(row[2]), skymap_from_bytes(bytes(row[3]), f"mma_areas {row[2]}"))
        except ValueError as exc:  # the MOC still matches; only the GW values are lost
            log.error("watchmap %d: GW sky map not loaded: %s", ar_id, exc)
    return Watchmap(moc, gw)


def active_ids(cursor) -> tuple[list[int], list[int]]:
    """Ids of the active watchlists and watchmaps."""
    cursor.execute("SELECT wl_id FROM watchlists WHERE active")
    lists = [r[0] for r in cursor.fetchall()]
    cursor.execute("SELECT ar_id FROM watchmaps WHERE active")
    return lists, [r[0] for r in cursor.fetchall()]


def parse_change(kind: str, value: bytes) -> Change:
    """A change message (see :mod:`solas.topics`) of a ``kind`` topic."""
    body = orjson.loads(value)
    if kind == "watchlist":
        return Change("watchlist", int(body["wl_id"]))
    return Change("watchmap", int(body["ar_id"]))


class SkyState:
    """The cone and MOC indexes of one worker, kept current from the change topics."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.cones = ConeIndex()
        self.mocs = MocIndex()
        self.gw_maps: dict[int, GwMap] = {}
        """GW sky maps of the active watchmaps made from one, by watchmap id."""
        self._task: asyncio.Task | None = None
        self.kinds = {stage_topic(settings, WATCHLIST_CHANGES): "watchlist",
                      stage_topic(settings, WATCHMAP_CHANGES): "watchmap"}

    def _fetch(self, changes: list[Change]) -> list[tuple[Change, object]]:
        """(change, cones or Watchmap or None) for each change: blocking MariaDB reads, run
        in an executor; a malformed stored item is logged and dropped, never fatal."""
        fetched = []
        with mariadb.connect(self.settings) as conn, conn.cursor() as cursor:
            for change in dict.fromkeys(changes):
                load = load_watchlist if change.kind == "watchlist" else load_watchmap
                try:
                    fetched.append((change, load(cursor, change.key)))
                except ValueError as exc:
                    log.error("%s %d not loaded: %s", change.kind, change.key, exc)
                    fetched.append((change, None))
        return fetched

    def _install(self, fetched: list[tuple[Change, object]]) -> None:
        """Swap the fetched items into the indexes (on the event loop's thread)."""
        for change, item in fetched:
            if change.kind == "watchlist":
                self.cones.remove_watchlist(change.key)
                if item is not None and len(item):
                    self.cones.add_watchlist(item)
            else:
                self.mocs.remove_moc(change.key)
                self.gw_maps.pop(change.key, None)
                if item is not None:
                    self.mocs.add_moc(change.key, item.moc)
                    if item.gw is not None:
                        self.gw_maps[change.key] = item.gw
        self.mocs.build()
        metrics.SKY_INDEX_ITEMS.labels("cones").set(len(self.cones))
        metrics.SKY_INDEX_ITEMS.labels("watchmaps").set(len(self.mocs))
        metrics.SKY_INDEX_ITEMS.labels("gw_maps").set(len(self.gw_maps))

    async def apply(self, changes: list[Change]) -> None:
        """Reload the watchlists and watchmaps named in ``changes``."""
        loop = asyncio.get_running_loop()
        self._install(await loop.run_in_executor(None, self._fetch, changes))

    def _all_changes(self) -> list[Change]:
        with mariadb.connect(self.settings) as conn, conn.cursor() as cursor:
            lists, maps = active_ids(cursor)
        return [Change("watchlist", i) for i in lists] + [Change("watchmap", i) for i in maps]

    async def start(self) -> None:
        """Load everything, then follow the change topics in the background."""
        start = {}
        for topic in self.kinds:
            start.update(await end_offsets(self.settings, topic))
        changes = await asyncio.get_running_loop().run_in_executor(None, self._all_changes)
        await self.apply(changes)
        log.info("sky state: %d watchlist cones, %d watchmaps", len(self.cones),
                 len(self.mocs))
        self._task = asyncio.create_task(self._follow(start))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()

    async def _follow(self, start: dict) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka, group_id=None,
                                    enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(list(start))
            for tp, offset in start.items():
                consumer.seek(tp, offset)
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                changes = [parse_change(self.kinds[tp.topic], r.value) for tp, records in batches.items()
                           for r in records if r.value]
                if changes:
                    await self.apply(changes)
        finally:
            await consumer.stop()

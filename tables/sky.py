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

What a worker holds is also kept in a RocksDB database of its own data dir (faust's
RocksDB options and binding, ``rocksdict``; layout in :mod:`tables.sky_store`)
together with the change-topic offsets it reflects, written in one write batch.  A
restarted worker installs that cache instead of reading every watchlist and watchmap
from MariaDB (1e6 cones take seconds) and resumes the change topics from the stored
offsets, so what changed while it was down is reloaded.  The full load is done when
the cache is empty, of another format, unreadable, or older than what the change topics
still hold.

A faust ``GlobalTable`` was not used: with several workers it is known not to
replicate to all of them (faust-streaming issue #283).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import NamedTuple

import numpy as np
import orjson
import rocksdict
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.stores.rocksdb import RocksDBOptions
from mocpy import MOC

from solas import metrics
from solas.processors.retry import until_done
from solas.settings import Settings
from solas.skymatch import (
    ConeIndex,
    MocIndex,
    SkyMap,
    WatchlistCones,
    read_moc_fits,
    skymap_from_bytes,
    skymap_to_bytes,
)
from solas.stores import mariadb
from solas.topics import (
    WATCHLIST_CHANGES,
    WATCHMAP_CHANGES,
    beginning_offsets,
    end_offsets,
    stage_topic,
)
from tables import sky_store

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
    stored: bytes = b""
    """The map as stored (:func:`~solas.skymatch.skymap_to_bytes`), for the cache."""


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
            stored = bytes(row[3])
            gw = GwMap(int(row[2]), skymap_from_bytes(stored, f"mma_areas {row[2]}"), stored)
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


def parse_changes(kinds: dict[str, str], batches: dict) -> list[Change]:
    """The changes of fetched change-topic records; a malformed message is logged and
    skipped (the next change of that list or map brings it up to date)."""
    changes = []
    for tp, records in batches.items():
        for record in records:
            if not record.value:
                continue
            try:
                changes.append(parse_change(kinds[tp.topic], record.value))
            except (ValueError, TypeError, KeyError) as exc:
                log.error("skipped change %s/%d/%d: %s: %s", tp.topic, tp.partition,
                          record.offset, type(exc).__name__, exc)
    return changes


Fetched = list[tuple[Change, object]]
"""(change, cones or Watchmap or None) of each change: what to install."""


def cache_entry(kind: str, item_id: int, item: WatchlistCones | Watchmap) -> bytes:
    """The cache entry of an active watchlist or watchmap."""
    if kind == "watchlist":
        return sky_store.encode_watchlist(item)
    gw = item.gw
    if gw is None:
        return sky_store.encode_watchmap(item_id, item.moc)
    return sky_store.encode_watchmap(item_id, item.moc, gw.mw_id,
                                     gw.stored or skymap_to_bytes(gw.skymap))


def cached_item(kind: str, item_id: int, value: bytes) -> WatchlistCones | Watchmap:
    """The watchlist or watchmap of a cache entry; CacheError if it does not read."""
    if kind == "watchlist":
        return sky_store.decode_watchlist(value, item_id)
    entry = sky_store.decode_watchmap(value, item_id)
    gw = None if entry.mw_id is None else GwMap(entry.mw_id, entry.skymap, entry.stored)
    return Watchmap(entry.moc, gw)


def cache_writes(fetched: Fetched) -> tuple[dict[bytes, bytes], list[bytes]]:
    """The entries to put and the keys to delete for fetched watchlists and watchmaps
    (the gone or inactive ones are deleted)."""
    puts, deletes = {}, []
    for change, item in fetched:
        key = sky_store.entry_key(change.kind, change.key)
        if item is None:
            deletes.append(key)
        else:
            puts[key] = cache_entry(change.kind, change.key, item)
    return puts, deletes


class SkyCache:
    """A worker's RocksDB copy of its sky state (layout: :mod:`tables.sky_store`).

    Opened with faust's own RocksDB options (``rocksdict``).  It never stops the worker:
    a database that does not open or write is logged and the worker goes on from
    MariaDB and the change topics alone.
    """

    def __init__(self, path: Path | None):
        self.path = path
        self.db: rocksdict.Rdict | None = None
        self._lock = threading.Lock()  # writes run in executor threads; close waits

    def open(self) -> None:
        """Open (or create) the database; without a path, or if it fails, no cache."""
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = RocksDBOptions().open(self.path)
        except Exception as exc:  # rocksdict raises plain Exception (lock, I/O, corruption)
            log.error("sky cache %s not opened, working without it: %s", self.path, exc)
            self.db = None

    def read(self, beginning: dict[TopicPartition, int], end: dict[TopicPartition, int]
             ) -> tuple[Fetched, dict[TopicPartition, int]] | None:
        """The cached watchlists and watchmaps and the change-topic offsets to resume
        from, or None when the full load is needed (reason logged)."""
        if self.db is None:
            return None
        try:
            if not sky_store.format_ok(self.db.get(sky_store.FORMAT_KEY)):
                log.info("sky cache %s is empty or of another format", self.path)
                return None
            raw = self.db.get(sky_store.OFFSETS_KEY)
            resume = sky_store.resume_offsets(
                sky_store.decode_offsets(raw) if raw is not None else {}, beginning, end)
            if resume is None:
                log.info("sky cache %s is behind what the change topics still hold",
                         self.path)
                return None
            fetched = []
            for key, value in self.db.items():
                parsed = sky_store.parse_entry_key(key)
                if parsed is not None:
                    fetched.append((Change(*parsed), cached_item(*parsed, value)))
        except ValueError as exc:  # CacheError, and what the decoders let through
            log.error("sky cache %s is corrupt (%s): full load from MariaDB", self.path, exc)
            return None
        except Exception as exc:  # rocksdict's read errors are plain Exceptions
            log.error("sky cache %s not read (%s): full load from MariaDB", self.path, exc)
            return None
        return fetched, resume

    def write(self, fetched: Fetched, offsets: dict[TopicPartition, int],
              reset: bool = False) -> None:
        """Store the fetched items (gone ones deleted) with the offsets they reflect, in
        one write batch; ``reset`` first drops everything else."""
        if self.db is None:
            return
        try:
            puts, deletes = cache_writes(fetched)
            with self._lock:
                if self.db is None:
                    return
                batch = rocksdict.WriteBatch(raw_mode=True)
                if reset:
                    for key in self.db.keys():
                        if key not in puts:
                            batch.delete(key)
                for key in deletes:
                    batch.delete(key)
                for key, value in puts.items():
                    batch.put(key, value)
                batch.put(sky_store.FORMAT_KEY, sky_store.format_value())
                batch.put(sky_store.OFFSETS_KEY, sky_store.encode_offsets(offsets))
                self.db.write(batch)
        except Exception as exc:  # rocksdict raises plain Exception; the batch is atomic
            log.error("sky cache %s not written (it keeps its previous state): %s",
                      self.path, exc)

    def close(self) -> None:
        """Close the database (after any write in progress)."""
        with self._lock:
            if self.db is not None:
                self.db.close()
                self.db = None


class SkyState:
    """The cone and MOC indexes of one worker, kept current from the change topics and
    cached in RocksDB at ``cache_path`` (no cache if None)."""

    def __init__(self, settings: Settings, cache_path: Path | None = None):
        self.settings = settings
        self.cones = ConeIndex()
        self.mocs = MocIndex()
        self.gw_maps: dict[int, GwMap] = {}
        """GW sky maps of the active watchmaps made from one, by watchmap id."""
        self.cache = SkyCache(cache_path)
        self.source = ""
        """Where the state came from at start: "cache" or "mariadb"."""
        self._offsets: dict[TopicPartition, int] = {}
        self._task: asyncio.Task | None = None
        self.kinds = {stage_topic(settings, WATCHLIST_CHANGES): "watchlist",
                      stage_topic(settings, WATCHMAP_CHANGES): "watchmap"}

    def _fetch(self, changes: list[Change]) -> Fetched:
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

    def _install(self, fetched: Fetched) -> None:
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

    async def apply(self, changes: list[Change],
                    offsets: dict[TopicPartition, int] | None = None) -> None:
        """Reload the watchlists and watchmaps named in ``changes`` and cache them with
        the change-topic ``offsets`` read so far."""
        loop = asyncio.get_running_loop()
        fetched = await loop.run_in_executor(None, self._fetch, changes) if changes else []
        if fetched:
            self._install(fetched)
        self._offsets.update(offsets or {})
        await loop.run_in_executor(None, self.cache.write, fetched, dict(self._offsets))

    def _all_changes(self) -> list[Change]:
        with mariadb.connect(self.settings) as conn, conn.cursor() as cursor:
            lists, maps = active_ids(cursor)
        return [Change("watchlist", i) for i in lists] + [Change("watchmap", i) for i in maps]

    async def _change_offsets(self) -> tuple[dict[TopicPartition, int],
                                             dict[TopicPartition, int]]:
        """Beginning and end offsets of every partition of the change topics."""
        beginning, end = {}, {}
        for topic in self.kinds:
            end.update(await end_offsets(self.settings, topic))
            beginning.update(await beginning_offsets(self.settings, topic))
        return beginning, end

    async def start(self) -> None:
        """Install the cache if the change topics still hold every change since it was
        written, else load everything from MariaDB (and fill the cache); then follow the
        change topics in the background from where the state stands."""
        loop = asyncio.get_running_loop()
        beginning, end = await self._change_offsets()
        await loop.run_in_executor(None, self.cache.open)
        cached = await loop.run_in_executor(None, self.cache.read, beginning, end)
        if cached is not None:
            fetched, start = cached
            self.source = "cache"
            self._install(fetched)
            self._offsets = dict(start)
        else:
            self.source, start = "mariadb", end
            fetched = await loop.run_in_executor(
                None, self._fetch, await loop.run_in_executor(None, self._all_changes))
            self._install(fetched)
            self._offsets = dict(end)
            await loop.run_in_executor(None, self.cache.write, fetched, dict(end), True)
        metrics.SKY_STATE_LOADS.labels(self.source).inc()
        log.info("sky state from %s: %d watchlist cones, %d watchmaps; %d change messages "
                 "to catch up", self.source, len(self.cones), len(self.mocs),
                 sum(end[tp] - start.get(tp, 0) for tp in end))
        self._task = asyncio.create_task(self._follow(start))

    async def stop(self) -> None:
        """Stop following the change topics and close the cache."""
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await asyncio.get_running_loop().run_in_executor(None, self.cache.close)

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
                offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()
                           if records}
                changes = parse_changes(self.kinds, batches)
                if offsets:  # MariaDB away: wait for it, never stop following
                    await until_done("filter", "sky_changes", self.apply, changes, offsets)
        finally:
            await consumer.stop()

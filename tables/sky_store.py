"""The stored form of a filter worker's sky state in its RocksDB cache (pure: no I/O).

:class:`~tables.sky.SkyState` keeps, in a RocksDB database of the worker's own
data dir, what it holds in memory, under these keys:

- ``format``: :data:`CACHE_FORMAT` in ASCII; any other value and the cache is ignored.
- ``offsets``: the next offset of every change-topic partition that the cached state
  reflects (JSON ``[[topic, partition, offset], ...]``).  It is written in the same
  RocksDB write batch as the entries it covers, so entries and offsets always agree.
- ``wl:<wl_id>``: the cones of an active watchlist (:meth:`WatchlistCones.to_bytes`:
  cone ids, positions, radii and names as numpy arrays).
- ``wm:<ar_id>``: an active watchmap: its MOC (FITS bytes) and, for a watchmap made from
  a GW sky map, the map's id and stored form (:func:`~solas.skymatch.skymap_to_bytes`),
  in a numpy archive.

Nothing is pickled: every archive is read with ``allow_pickle=False``, and anything that
does not read back exactly raises :class:`CacheError`.
"""
from __future__ import annotations

import io
import zipfile
from typing import Mapping, NamedTuple

import numpy as np
import orjson
from aiokafka import TopicPartition
from mocpy import MOC

from solas.skymatch import (
    SkyMap,
    SkyMatchError,
    WatchlistCones,
    moc_to_fits_bytes,
    read_moc_fits,
    skymap_from_bytes,
)

CACHE_FORMAT = 1
"""Version of this layout; a cache written with another one is rebuilt from MariaDB."""
FORMAT_KEY = b"format"
OFFSETS_KEY = b"offsets"
PREFIXES = {"watchlist": b"wl:", "watchmap": b"wm:"}
_WATCHMAP_MEMBERS = {"format", "ar_id", "moc", "mw_id", "skymap"}
_NO_GW_MAP = -1


class CacheError(ValueError):
    """A cache entry or key that does not read back."""


class CachedWatchmap(NamedTuple):
    """A watchmap read back from the cache."""

    moc: MOC
    mw_id: int | None
    """Id of the GW sky map (``mma_areas``) it was made from, if any."""
    skymap: SkyMap | None
    stored: bytes
    """The sky map's stored form (empty without one)."""


def format_value() -> bytes:
    """The value of :data:`FORMAT_KEY` written with this layout."""
    return str(CACHE_FORMAT).encode()


def format_ok(value: bytes | None) -> bool:
    """Whether a cache whose :data:`FORMAT_KEY` holds ``value`` has this layout."""
    return value == format_value()


def entry_key(kind: str, item_id: int) -> bytes:
    """The key of watchlist or watchmap ``item_id`` (``kind`` "watchlist"/"watchmap")."""
    return PREFIXES[kind] + str(int(item_id)).encode()


def parse_entry_key(key: bytes) -> tuple[str, int] | None:
    """(kind, id) of an entry key; None for the format and offsets keys."""
    if key in (FORMAT_KEY, OFFSETS_KEY):
        return None
    for kind, prefix in PREFIXES.items():
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            return kind, int(key[len(prefix):])
    raise CacheError(f"unknown cache key {key[:40]!r}")


def encode_watchlist(cones: WatchlistCones) -> bytes:
    """A watchlist's cache entry."""
    return cones.to_bytes()


def decode_watchlist(data: bytes, wl_id: int) -> WatchlistCones:
    """The cones of the entry of watchlist ``wl_id``."""
    try:
        cones = WatchlistCones.from_bytes(data)
    except SkyMatchError as err:
        raise CacheError(f"watchlist {wl_id}: {err}") from None
    if cones.wl_id != wl_id:
        raise CacheError(f"watchlist {wl_id}: the entry holds watchlist {cones.wl_id}")
    return cones


def encode_watchmap(ar_id: int, moc: MOC, mw_id: int | None = None,
                    skymap: bytes = b"") -> bytes:
    """A watchmap's cache entry: its MOC and, if it was made from a GW sky map, the map's
    id and stored form."""
    buf = io.BytesIO()
    np.savez(buf, format=np.int64(CACHE_FORMAT), ar_id=np.int64(ar_id),
             moc=np.frombuffer(moc_to_fits_bytes(moc), np.uint8),
             mw_id=np.int64(_NO_GW_MAP if mw_id is None else mw_id),
             skymap=np.frombuffer(skymap if mw_id is not None else b"", np.uint8))
    return buf.getvalue()


def decode_watchmap(data: bytes, ar_id: int) -> CachedWatchmap:
    """The MOC and GW sky map of the entry of watchmap ``ar_id``."""
    source = f"cached watchmap {ar_id}"
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CacheError(f"{source}: not a cache entry: {err}") from None
    if set(arrays) != _WATCHMAP_MEMBERS:
        raise CacheError(f"{source}: members {sorted(arrays)}")
    try:
        if int(arrays["format"]) != CACHE_FORMAT or int(arrays["ar_id"]) != ar_id:
            raise CacheError(f"{source}: format {arrays['format']} of watchmap "
                             f"{arrays['ar_id']}")
        mw_id = int(arrays["mw_id"])
        moc = read_moc_fits(arrays["moc"].astype(np.uint8).tobytes(), source)
        stored = arrays["skymap"].astype(np.uint8).tobytes()
        skymap = skymap_from_bytes(stored, source) if mw_id != _NO_GW_MAP else None
    except (TypeError, ValueError) as err:  # SkyMatchError is a ValueError
        raise CacheError(f"{source}: {err}") from None
    if mw_id == _NO_GW_MAP:
        return CachedWatchmap(moc, None, None, b"")
    return CachedWatchmap(moc, mw_id, skymap, stored)


def encode_offsets(offsets: Mapping[TopicPartition, int]) -> bytes:
    """The value of :data:`OFFSETS_KEY`."""
    return orjson.dumps(sorted([tp.topic, tp.partition, int(o)] for tp, o in offsets.items()))


def decode_offsets(data: bytes) -> dict[TopicPartition, int]:
    """Inverse of :func:`encode_offsets`."""
    try:
        rows = orjson.loads(data)
        offsets = {TopicPartition(str(t), int(p)): int(o) for t, p, o in rows}
    except (ValueError, TypeError) as err:  # orjson.JSONDecodeError is a ValueError
        raise CacheError(f"cached offsets: {err}") from None
    if any(o < 0 for o in offsets.values()):
        raise CacheError("cached offsets: negative offset")
    return offsets


def resume_offsets(stored: Mapping[TopicPartition, int],
                   beginning: Mapping[TopicPartition, int],
                   end: Mapping[TopicPartition, int]) -> dict[TopicPartition, int] | None:
    """Where to resume the change topics from a cache that reflects ``stored``, given the
    partitions' current ``beginning`` and ``end`` offsets; None if the cache cannot be
    used (no offsets, a partition gone, or a change since lost: retention deleted it,
    or the topic was recreated).  A partition the cache does not know is read from 0,
    which is only possible while nothing of it was deleted."""
    if not stored or not set(stored) <= set(end):
        return None
    resume = {}
    for tp, last in end.items():
        offset = stored.get(tp, 0)
        if not beginning.get(tp, 0) <= offset <= last:
            return None
        resume[tp] = offset
    return resume

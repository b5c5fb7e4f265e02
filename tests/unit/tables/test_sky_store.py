"""The stored form of a worker's sky state: entries read back exactly, anything else is
refused, and the decision whether the cache may be resumed from its offsets."""
import numpy as np
import pytest
from aiokafka import TopicPartition

from tables import sky_store
from tables.sky_store import CacheError
from solas.skymatch import WatchlistCones, read_moc_fits, read_skymap, skymap_to_bytes
from solas.skymatch.mocs import moc_ranges


@pytest.fixture(scope="module")
def moc(settings_data_dir):
    return read_moc_fits((settings_data_dir / "skymaps" / "MS181101ab.mock.90pct.moc.fits")
                         .read_bytes())


@pytest.fixture(scope="module")
def stored_map(settings_data_dir):
    whole = read_skymap(settings_data_dir / "skymaps" / "S200129m.bayestar.multiorder.fits")
    return skymap_to_bytes(whole, 0.9)


def cones(n: int = 50, wl_id: int = 7) -> WatchlistCones:
    rng = np.random.default_rng(wl_id)
    return WatchlistCones.from_arrays(
        wl_id, np.arange(100, 100 + n), rng.uniform(0, 360, n), rng.uniform(-90, 90, n),
        np.where(np.arange(n) % 3, rng.uniform(0.5, 30, n), np.nan),
        [f"src-{i}" if i % 4 else "" for i in range(n)], default_radius_arcsec=2.5)


def test_a_watchlist_reads_back_exactly():
    original = cones()
    back = sky_store.decode_watchlist(sky_store.encode_watchlist(original), 7)
    for field in ("cone_id", "ra", "dec", "radius_arcsec"):
        np.testing.assert_array_equal(getattr(back, field), getattr(original, field))
    assert back.name.tolist() == original.name.tolist()
    assert back.wl_id == 7 and (back.radius_arcsec[::3] == 2.5).all()


def test_an_empty_watchlist_reads_back():
    empty = WatchlistCones.from_arrays(3, np.zeros(0, np.int64), [], [])
    assert len(sky_store.decode_watchlist(sky_store.encode_watchlist(empty), 3)) == 0


def test_a_watchlist_entry_of_another_id_or_damaged_is_refused():
    data = sky_store.encode_watchlist(cones())
    with pytest.raises(CacheError, match="holds watchlist 7"):
        sky_store.decode_watchlist(data, 8)
    for bad in (data[: len(data) // 2], b"", b"\x93NUMPY" + data[6:]):
        with pytest.raises(CacheError):
            sky_store.decode_watchlist(bad, 7)


def test_a_watchmap_without_gw_map_reads_back(moc):
    back = sky_store.decode_watchmap(sky_store.encode_watchmap(12, moc), 12)
    np.testing.assert_array_equal(moc_ranges(back.moc), moc_ranges(moc))
    assert back.mw_id is None and back.skymap is None and back.stored == b""


def test_a_watchmap_with_its_gw_map_reads_back(moc, stored_map):
    back = sky_store.decode_watchmap(sky_store.encode_watchmap(5, moc, 31, stored_map), 5)
    np.testing.assert_array_equal(moc_ranges(back.moc), moc_ranges(moc))
    assert back.mw_id == 31 and back.stored == stored_map
    assert back.skymap.ipix.size > 0 and back.skymap.level.max() <= 0.9 + 1e-9


def test_damaged_watchmap_entries_are_refused(moc, stored_map):
    data = sky_store.encode_watchmap(5, moc, 31, stored_map)
    with pytest.raises(CacheError, match="watchmap 5"):
        sky_store.decode_watchmap(data, 6)
    with pytest.raises(CacheError):
        sky_store.decode_watchmap(data[:-100], 5)
    with pytest.raises(CacheError):  # a GW map whose bytes are not a stored map
        sky_store.decode_watchmap(sky_store.encode_watchmap(5, moc, 31, b"junk"), 5)
    with pytest.raises(CacheError):  # a watchlist entry is not a watchmap
        sky_store.decode_watchmap(sky_store.encode_watchlist(cones(wl_id=5)), 5)


def test_keys_name_their_item_and_unknown_keys_are_refused():
    assert sky_store.parse_entry_key(sky_store.entry_key("watchlist", 42)) == ("watchlist", 42)
    assert sky_store.parse_entry_key(sky_store.entry_key("watchmap", 9)) == ("watchmap", 9)
    assert sky_store.parse_entry_key(sky_store.FORMAT_KEY) is None
    assert sky_store.parse_entry_key(sky_store.OFFSETS_KEY) is None
    for bad in (b"wl:", b"wl:x1", b"other:1"):
        with pytest.raises(CacheError):
            sky_store.parse_entry_key(bad)


def test_only_this_format_is_accepted():
    assert sky_store.format_ok(sky_store.format_value())
    assert not sky_store.format_ok(None)
    assert not sky_store.format_ok(str(sky_store.CACHE_FORMAT + 1).encode())


TP = [TopicPartition("wl-changes", 0), TopicPartition("wl-changes", 1),
      TopicPartition("wm-changes", 0)]


def test_offsets_read_back_and_damaged_ones_are_refused():
    offsets = {TP[0]: 5, TP[1]: 0, TP[2]: 123456789012}
    assert sky_store.decode_offsets(sky_store.encode_offsets(offsets)) == offsets
    for bad in (b"", b"{}x", b'[["t", 0]]', b'[["t", 0, -1]]'):
        with pytest.raises(CacheError):
            sky_store.decode_offsets(bad)


def test_the_cache_resumes_where_it_stopped_while_the_topics_hold_every_later_change():
    end = {TP[0]: 10, TP[1]: 4, TP[2]: 7}
    begin = dict.fromkeys(TP, 0)
    stored = {TP[0]: 8, TP[1]: 4, TP[2]: 0}
    assert sky_store.resume_offsets(stored, begin, end) == stored
    # a partition the cache never saw is read from its start, if nothing was deleted
    assert sky_store.resume_offsets({TP[0]: 8}, begin, end) == {TP[0]: 8, TP[1]: 0,
                                                                 TP[2]: 0}


@pytest.mark.parametrize("stored, begin, end", [
    ({}, dict.fromkeys(TP, 0), dict.fromkeys(TP, 3)),                    # no offsets
    ({TP[0]: 2}, {TP[0]: 3}, {TP[0]: 9}),                                # truncated past
    ({TP[0]: 2}, {TP[0]: 0, TP[1]: 1}, {TP[0]: 9, TP[1]: 4}),            # unseen, truncated
    ({TP[0]: 12}, {TP[0]: 0}, {TP[0]: 9}),                               # topic recreated
    ({TP[0]: 2, TP[2]: 1}, {TP[0]: 0}, {TP[0]: 9}),                      # partition gone
])
def test_the_cache_is_not_resumed_when_a_change_may_be_lost(stored, begin, end):
    assert sky_store.resume_offsets(stored, begin, end) is None

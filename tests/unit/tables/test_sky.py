"""A worker's RocksDB sky cache on a real RocksDB database: what is written with its
offsets reads back after a reopen; a corrupt entry, another format or lost changes mean
the full load, and nothing raises."""
import logging

import numpy as np
import pytest
from aiokafka import TopicPartition

from tables import sky_store
from tables.sky import Change, GwMap, SkyCache, Watchmap
from solas.skymatch import (WatchlistCones, read_moc_fits, read_skymap, skymap_from_bytes,
                            skymap_to_bytes)
from solas.skymatch.mocs import moc_ranges

TP = TopicPartition("watchlist-changes", 0)


@pytest.fixture(scope="module")
def items(settings_data_dir):
    sky = settings_data_dir / "skymaps"
    moc = read_moc_fits((sky / "MS181101ab.mock.90pct.moc.fits").read_bytes())
    stored = skymap_to_bytes(read_skymap(sky / "S200129m.bayestar.multiorder.fits"), 0.9)
    gw_moc = read_moc_fits((sky / "V_147_sdss12.moc.fits").read_bytes())
    wl = WatchlistCones.from_arrays(4, np.arange(3), [1.0, 2.0, 3.0], [-1.0, 0.0, 1.0],
                                    [1.5, np.nan, 4.0], ["a", "b", ""])
    return [(Change("watchlist", 4), wl), (Change("watchmap", 8), Watchmap(moc, None)),
            (Change("watchmap", 9), Watchmap(gw_moc, GwMap(2, skymap_from_bytes(stored),
                                                            stored)))]


def reopened(path) -> SkyCache:
    cache = SkyCache(path)
    cache.open()
    assert cache.db is not None
    return cache


def test_written_state_reads_back_after_a_reopen(tmp_path, items):
    cache = reopened(tmp_path / "sky.db")
    cache.write(items, {TP: 3}, reset=True)
    cache.close()
    cache = reopened(tmp_path / "sky.db")
    fetched, resume = cache.read({TP: 0}, {TP: 5})
    cache.close()
    assert resume == {TP: 3}
    back = dict(fetched)
    np.testing.assert_array_equal(back[Change("watchlist", 4)].radius_arcsec, [1.5, 2.0, 4.0])
    assert back[Change("watchlist", 4)].name.tolist() == ["a", "b", ""]
    assert back[Change("watchmap", 8)].gw is None
    np.testing.assert_array_equal(moc_ranges(back[Change("watchmap", 8)].moc),
                                  moc_ranges(items[1][1].moc))
    gw = back[Change("watchmap", 9)].gw
    assert gw.mw_id == 2 and gw.stored == items[2][1].gw.stored
    np.testing.assert_array_equal(gw.skymap.ipix, items[2][1].gw.skymap.ipix)


def test_gone_items_are_deleted_and_a_reset_drops_the_rest(tmp_path, items):
    cache = reopened(tmp_path / "sky.db")
    cache.write(items, {TP: 3}, reset=True)
    cache.write([(Change("watchmap", 8), None)], {TP: 4})
    fetched, resume = cache.read({TP: 0}, {TP: 4})
    assert resume == {TP: 4} and {c for c, _ in fetched} == {Change("watchlist", 4),
                                                              Change("watchmap", 9)}
    cache.write(items[:1], {TP: 6}, reset=True)
    fetched, _ = cache.read({TP: 0}, {TP: 6})
    cache.close()
    assert [c for c, _ in fetched] == [Change("watchlist", 4)]


def test_lost_changes_or_another_format_mean_the_full_load(tmp_path, items):
    cache = reopened(tmp_path / "sky.db")
    assert cache.read({TP: 0}, {TP: 0}) is None  # empty
    cache.write(items, {TP: 3}, reset=True)
    assert cache.read({TP: 4}, {TP: 9}) is None  # retention deleted changes 3 and 4
    cache.db.put(sky_store.FORMAT_KEY, b"0")
    assert cache.read({TP: 0}, {TP: 9}) is None
    cache.close()


def test_a_corrupt_entry_means_the_full_load_not_a_crash(tmp_path, items, caplog):
    cache = reopened(tmp_path / "sky.db")
    cache.write(items, {TP: 3}, reset=True)
    key = sky_store.entry_key("watchmap", 9)
    cache.db.put(key, cache.db.get(key)[:-50])
    with caplog.at_level(logging.ERROR):
        assert cache.read({TP: 0}, {TP: 9}) is None
    assert "corrupt" in caplog.text
    cache.db.put(b"stray", b"1")
    assert cache.read({TP: 0}, {TP: 9}) is None
    cache.close()


def test_a_cache_that_does_not_open_leaves_the_worker_without_one(tmp_path, items, caplog):
    first = reopened(tmp_path / "sky.db")
    second = SkyCache(tmp_path / "sky.db")  # RocksDB's lock is held by the first
    with caplog.at_level(logging.ERROR):
        second.open()
    assert second.db is None and "not opened" in caplog.text
    second.write(items, {TP: 1})
    assert second.read({TP: 0}, {TP: 1}) is None
    first.close()
    none = SkyCache(None)
    none.open()
    assert none.read({TP: 0}, {TP: 1}) is None


def test_a_malformed_change_message_is_skipped_and_the_others_still_apply(caplog):
    from aiokafka.structs import ConsumerRecord
    from tables.sky import parse_changes

    def record(offset, value):
        return ConsumerRecord("watchlist-changes", 0, offset, 0, 0, None, value, None, 0,
                              len(value or b""), ())

    batches = {TP: [record(0, b'{"wl_id": 4, "action": "upsert"}'), record(1, b"not json"),
                    record(2, b'{"action": "upsert"}'), record(3, None),
                    record(4, b'{"wl_id": "7", "action": "delete"}')]}
    with caplog.at_level(logging.ERROR):
        changes = parse_changes({"watchlist-changes": "watchlist"}, batches)
    assert changes == [Change("watchlist", 4), Change("watchlist", 7)]
    assert "watchlist-changes/0/1" in caplog.text and "watchlist-changes/0/2" in caplog.text

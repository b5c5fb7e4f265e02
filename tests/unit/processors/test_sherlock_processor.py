"""The sherlock processor's classification step: per-object cache, version changes."""
import asyncio

import numpy as np
import orjson
import pytest
from prometheus_client import REGISTRY

from catalogs.classifier import build_index
from catalogs.sources import catalogue_path, read_catalogue
from catalogs.tns import TnsRow, build_tns_index
from solas.ingest import DEC_HEADER, RA_HEADER
from solas.processors.sherlock import (Context, ContextSource, Record, ResultCache,
                                       SherlockProcessor, located, with_context)
from solas.topics import SHERLOCKED

NAME = "fermi_4lac_dr3_h"


@pytest.fixture(scope="module")
def blazars(settings_data_dir):
    return read_catalogue(NAME, catalogue_path(NAME, settings_data_dir))


def processor_for(blazars, tns_rows=(), version="v1") -> SherlockProcessor:
    context = Context(build_index({NAME: blazars}), build_tns_index(tns_rows))
    processor = SherlockProcessor(ContextSource(lambda: version, lambda: context), None)
    processor.context, processor.version = context, version
    return processor


def tns_row(name: str, ra: float, dec: float) -> TnsRow:
    return TnsRow(name, "AT", ra, dec, None, None, None, None, None, None, None, None, 0)


def test_alerts_on_blazars_are_agn_and_get_the_tns_name_within_1_5_arcsec(blazars):
    ra, dec = blazars.ra[:3], blazars.dec[:3]
    processor = processor_for(blazars, [tns_row("2030abc", ra[0], dec[0] + 1.0 / 3600)])
    alerts = [{"object_id": i, "ra": float(r), "dec": float(d)}
              for i, (r, d) in enumerate(zip(ra, dec))]
    contexts = processor.classify(alerts)
    assert [c["sherlock"]["classification"] for c in contexts] == ["AGN"] * 3
    assert [c["sherlock"]["catalogue_table_name"] for c in contexts] == [NAME] * 3
    assert [c["tns_name"] for c in contexts] == ["2030abc", None, None]


def test_an_objects_context_is_reused_until_the_catalogue_version_changes(blazars):
    processor = processor_for(blazars)
    on = {"object_id": 7, "ra": float(blazars.ra[0]), "dec": float(blazars.dec[0])}
    away = {**on, "dec": float(np.clip(blazars.dec[0] + 1.0, -90, 90))}
    assert processor.classify([on])[0]["sherlock"]["classification"] == "AGN"
    assert processor.classify([away])[0]["sherlock"]["classification"] == "AGN"  # cached
    processor.version = "v2"
    assert processor.classify([away])[0]["sherlock"]["classification"] == "ORPHAN"


def test_the_cache_forgets_the_least_recently_used_object():
    cache = ResultCache(max_objects=2)
    cache.put("a", "v", {"x": 1})
    cache.put("b", "v", {"x": 2})
    assert cache.get("a", "v") == {"x": 1}
    cache.put("c", "v", {"x": 3})
    assert cache.get("b", "v") is None and cache.get("a", "v") and cache.get("c", "v")
    assert cache.get("a", "other version") is None


async def test_a_failing_catalogue_check_keeps_the_index_and_the_worker_running(blazars):
    """MariaDB away during the periodic version check: keep classifying with the index
    we have, and pick up the new version once it can be read."""
    calls = {"n": 0}
    context = Context(build_index({NAME: blazars}), build_tns_index(()))

    def version() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionRefusedError("MariaDB restarting")
        return "v2"

    processor = SherlockProcessor(ContextSource(version, lambda: context), None,
                                  refresh_s=0.0)
    processor.context, processor.version = context, "v1"
    await processor._refresh_if_changed()
    assert (processor.version, processor.context) == ("v1", context)
    await processor._refresh_if_changed()
    assert processor.version == "v2"


async def test_a_failed_reload_leaves_version_and_index_unchanged(blazars):
    context = Context(build_index({NAME: blazars}), build_tns_index(()))

    def load() -> Context:
        raise ConnectionRefusedError("MariaDB restarting")

    processor = SherlockProcessor(ContextSource(lambda: "v2", load), None, refresh_s=0.0)
    processor.context, processor.version = context, "v1"
    await processor._refresh_if_changed()
    assert (processor.version, processor.context) == ("v1", context)


def ingested_message(object_id: str, ra: float, dec: float, headers: bool) -> Record:
    body = {"survey": "ztf", "object_id": object_id, "source_id": 2**63 - 1, "ra": ra,
            "dec": dec, "detections": [{"jd": 2459427.5, "magpsf": 18.25, "ra": 1.0}]}
    extra = {RA_HEADER: repr(ra).encode(), DEC_HEADER: repr(dec).encode()} if headers else {}
    return Record(object_id.encode(), orjson.dumps(body), {"solas-raw-timestamp-ms": b"1", **extra})


def test_the_context_is_appended_to_the_record_text_as_a_merge_would_give():
    record = ingested_message("ZTF21aaaaaaa", 10.5, -3.25, headers=True)
    context = {"sherlock": {"classification": "AGN", "separation_arcsec": 0.4},
               "tns_name": None}
    spliced = with_context(record.value, context)
    assert orjson.loads(spliced) == {**orjson.loads(record.value), **context}
    assert orjson.loads(with_context(record.value + b"\n", context))["tns_name"] is None
    assert orjson.loads(with_context(b"{}", context)) == context


def test_the_position_comes_from_the_headers_or_else_from_the_record():
    with_headers = ingested_message("ZTF21aaaaaaa", 10.5, -3.25, headers=True)
    without = ingested_message("ZTF21aaaaaaa", 10.5, -3.25, headers=False)
    assert located(with_headers) == {"object_id": b"ZTF21aaaaaaa", "ra": 10.5, "dec": -3.25,
                                     "solar_system": False}
    assert located(without)["detections"] and located(without)["ra"] == 10.5
    assert located(with_headers._replace(key=None))["object_id"] == "ZTF21aaaaaaa"


async def test_a_batch_goes_on_classified_whether_or_not_it_has_position_headers(blazars):
    sent = []

    async def send(topic, key, value, headers):
        sent.append((topic, key, orjson.loads(value), headers))
        return asyncio.sleep(0)

    processor = processor_for(blazars)
    processor.send = send
    ra, dec = float(blazars.ra[0]), float(blazars.dec[0])
    records = [ingested_message("ZTF21aaaaaaa", ra, dec, headers=True),
               ingested_message("ZTF21bbbbbbb", ra, dec, headers=False)]
    assert await processor.process(records) == 2
    assert [s[2]["sherlock"]["classification"] for s in sent] == ["AGN", "AGN"]
    assert [s[2]["detections"] for s in sent] == [orjson.loads(r.value)["detections"]
                                                  for r in records]
    assert [(s[0], s[1], s[3]) for s in sent] == [(SHERLOCKED, r.key, r.headers)
                                                  for r in records]


async def test_malformed_records_are_counted_and_skipped_and_the_rest_go_on(blazars):
    sent = []

    async def send(topic, key, value, headers):
        sent.append(key)
        return asyncio.sleep(0)

    processor = processor_for(blazars)
    processor.send = send
    good = ingested_message("ZTF21aaaaaaa", float(blazars.ra[0]), float(blazars.dec[0]), True)
    bad = [Record(b"ZTF21bbbbbbb", b"not json", {}),                     # no headers, no JSON
           Record(b"ZTF21ccccccc", b"[1, 2]", {}),                       # JSON, not an object
           Record(b"ZTF21ddddddd", orjson.dumps({"object_id": "x"}), {}),  # no position
           good._replace(key=b"ZTF21eeeeeee", value=b"[truncated")]      # headers, bad body
    before = malformed_count()
    assert await processor.process([bad[0], good, *bad[1:]]) == 1
    assert sent == [good.key]
    assert malformed_count() - before == len(bad)


def malformed_count() -> float:
    return REGISTRY.get_sample_value("solas_stage_deadletter_alerts_total",
                                     {"stage": "sherlock", "reason": "malformed"}) or 0.0

"""The sherlock processor's classification step: per-object cache, version changes."""
import numpy as np
import pytest

from catalogs.classifier import build_index
from catalogs.sources import catalogue_path, read_catalogue
from catalogs.tns import TnsRow, build_tns_index
from solas.processors.sherlock import Context, ContextSource, ResultCache, SherlockProcessor

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

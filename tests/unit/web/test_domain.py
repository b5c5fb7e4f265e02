"""Form readers of filters, watchlists, watchmaps and annotations; the object answer."""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from astropy.io import fits

from solas.kafka_access import KafkaAccess, consumer_config
from solas.skymatch import read_moc_fits, read_skymap, skymap_from_bytes
from web import annotations, filters, objects, watchlists, watchmaps
from web.forms import BadRequest
from web.queries import visibility
from solas.filters import Access


def test_filter_input_and_defaults():
    data = filters.filter_input({"name": " f ", "selected": "objects.ncand", "run": "1",
                                 "output": "2", "public": "True"})
    assert data.name == "f" and data.tables == "objects" and data.run == 1 and data.public
    with pytest.raises(BadRequest, match="name"):
        filters.filter_input({"selected": "x"})
    with pytest.raises(BadRequest, match="run must be between 0 and 3"):
        filters.filter_input({"name": "f", "run": "4"})
    kept = filters.filter_input({"public": "0"}, {"name": "old", "selected": "s",
                                                  "tables": "objects, crossmatch_tns",
                                                  "conditions": "c", "public": 1, "run": 3,
                                                  "output": 4})
    assert kept == filters.FilterInput("old", "", "s", "objects, crossmatch_tns", "c",
                                       False, 3, 4)


def test_consumer_snippet_names_topic_and_server():
    text = filters.consumer_snippet("solas_filter_12", True, "kafka.example:9094", {})
    assert "lasair_consumer('kafka.example:9094', 'my-group', 'solas_filter_12')" in text
    compile(text, "snippet", "exec")


def test_private_consumer_snippet_uses_the_owners_scram_settings():
    access = KafkaAccess("kafka.example:9095", "kafka.example:9094", "SASL_SSL",
                         "SCRAM-SHA-512", "alice")
    text = filters.consumer_snippet("solas_filter_12", False, "kafka.example:9094",
                                    consumer_config(access, password="YOUR_KAFKA_PASSWORD"))
    assert "lasair_consumer" not in text and "kafka.example:9094" not in text
    for expected in ("'bootstrap.servers': 'kafka.example:9095'", "'sasl.username': 'alice'",
                     "'security.protocol': 'SASL_SSL'", "'sasl.mechanisms': 'SCRAM-SHA-512'",
                     "'sasl.password': 'YOUR_KAFKA_PASSWORD'", "['solas_filter_12']"):
        assert expected in text
    compile(text, "snippet", "exec")


def test_visibility_hides_others_private_items():
    assert visibility({"user": 1, "public": 0}, 1) is Access.VISIBLE
    assert visibility({"user": 1, "public": 1}, None) is Access.VISIBLE
    assert visibility({"user": 1, "public": 0}, 2) is Access.MISSING
    assert visibility({"user": 1, "public": 0}, None) is Access.MISSING
    assert visibility(None, 1) is Access.MISSING


def test_json_cones_report_bad_items_by_number():
    rows = watchlists.cones_from_json([
        {"name": "a", "ra": 10, "dec": 20}, {"name": "b, with comma", "ra": "1:00:00",
                                            "dec": "-10:30:00", "radius": 5},
        {"name": "c", "ra": 10, "dec": 95}, {"name": "", "ra": 1, "dec": 1}])
    assert rows.name.tolist() == ["a", "b, with comma"]
    assert rows.ra.tolist() == [10.0, 15.0] and rows.dec.tolist() == [20.0, -10.5]
    assert rows.radius_arcsec[1] == 5.0 and rows.radius_arcsec[0] != rows.radius_arcsec[0]
    assert [e.line for e in rows.errors] == [3, 4]
    for bad in (None, [], "x", [1]):
        with pytest.raises(BadRequest):
            watchlists.cones_from_json(bad)


def test_watchlist_and_watchmap_fields():
    fields = watchlists.watchlist_fields({"name": "w", "radius": "3.5", "active": "on"})
    assert fields["radius"] == 3.5 and fields["active"] and not fields["public"]
    with pytest.raises(BadRequest, match="radius"):
        watchlists.watchlist_fields({"name": "w", "radius": "0"})
    assert watchmaps.watchmap_fields({"name": "m", "level": "90"})["level"] == 0.9
    assert watchmaps.watchmap_fields({"name": "m", "level": "0.5"})["level"] == 0.5


def test_watchmap_uploads(settings_data_dir):
    sky = settings_data_dir / "skymaps"
    moc = watchmaps.read_upload((sky / "MS181101ab.mock.90pct.moc.fits").read_bytes(), "m")
    assert moc.source == "moc" and moc.area_deg2 == pytest.approx(31.0, rel=0.01)
    gw = watchmaps.read_upload((sky / "MS181101ab.mock.bayestar.fits").read_bytes(), "g", 0.9)
    assert gw.source == "skymap 90%" and gw.area_deg2 == pytest.approx(moc.area_deg2, rel=0.05)
    assert gw.preview_png[:4] == b"\x89PNG"
    with pytest.raises(BadRequest, match="(?s)not a MOC .* nor a HEALPix sky map"):
        watchmaps.read_upload(b"SIMPLE  =                    T", "junk")


def test_a_gw_upload_describes_its_event(settings_data_dir):
    sky = settings_data_dir / "skymaps"
    upload = watchmaps.read_upload((sky / "MS181101ab.mock.bayestar.fits").read_bytes(),
                                   "MS181101ab.mock.bayestar.fits", 0.9)
    gw = upload.gw
    assert gw.event_id == "MS181101ab" and gw.level == 90.0
    assert gw.event_date == dt.datetime(2018, 11, 1, 22, 22, 46, 654437)
    shipped = read_moc_fits((sky / "MS181101ab.mock.90pct.moc.fits").read_bytes())
    assert read_moc_fits(gw.moc90) == shipped and gw.area90_deg2 == pytest.approx(31.0, abs=0.05)
    assert read_moc_fits(gw.moc10).sky_fraction < read_moc_fits(gw.moc50).sky_fraction
    assert gw.params["DISTMEAN"] == pytest.approx(39.77, abs=0.01)
    assert gw.params["INSTRUME"] == "H1,L1,V1" and gw.params["CREATOR"] == "BAYESTAR"
    assert gw.params["area10_deg2"] < gw.params["area50_deg2"] < gw.area90_deg2
    region = skymap_from_bytes(gw.skymap)
    assert region.max_level == 0.9 and region.credible_region_moc(0.9) == shipped
    assert watchmaps.read_upload((sky / "MS181101ab.mock.90pct.moc.fits").read_bytes(),
                                 "m").gw is None


def test_gw_event_ids_and_dates_fall_back():
    skymap = read_skymap(flat_map_bytes(), max_level=0.999)
    gw = watchmaps.gw_area(skymap, "GW190814.LALInference.v1.fits.gz", 1.0)
    assert gw.event_id == "GW190814" and gw.event_date is None
    assert gw.level == pytest.approx(99.9)  # hits recorded up to 99.9% at most
    assert watchmaps.event_date({"MJD-OBS": 58423.93248442635}) == pytest.approx(
        dt.datetime(2018, 11, 1, 22, 22, 46, 654437), abs=dt.timedelta(milliseconds=1))
    assert watchmaps.event_date({"DATE-OBS": "garbage", "MJD-OBS": 58000.0}) == \
        dt.datetime(2017, 9, 4)


def flat_map_bytes():
    """An nside-2 flat NESTED map with no OBJECT nor date."""
    prob = np.linspace(1.0, 2.0, 48)
    table = fits.BinTableHDU.from_columns([fits.Column(name="PROB", format="D",
                                                       array=prob / prob.sum())])
    table.header.update(PIXTYPE="HEALPIX", ORDERING="NESTED", COORDSYS="C", NSIDE=2,
                        INDXSCHM="IMPLICIT")
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(buf)
    return buf.getvalue()


def test_annotation_messages():
    msg = annotations._annotation("lsst", {"objectId": "123", "topic": "t",
                                           "classification": "SN", "classdict": '{"p": 1}'}, -1)
    assert msg["diaObjectId"] == 123 and msg["classdict"] == {"p": 1}
    assert msg["version"] == "0.1" and msg["timestamp"].endswith("+00:00")
    with pytest.raises(BadRequest, match="annotation 2: classdict"):
        annotations._annotation("ztf", {"objectId": "ZTF21abiuvdk", "topic": "t",
                                        "classification": "x", "classdict": "[1]"}, 2)
    with pytest.raises(BadRequest, match="objectId"):
        annotations._annotation("ztf", {"objectId": "nope", "topic": "t",
                                        "classification": "x"}, -1)
    with pytest.raises(BadRequest, match="topic"):
        annotations.annotator_fields({"topic": "objects"})


def test_api_object_shapes():
    info = {"object_id": 5, "object": {"diaObjectId": 5}, "sherlock": None, "tns": None,
            "annotations": [], "watchlist_hits": [], "area_hits": [], "mma_hits": []}
    lc = {"rows": {"detections": [{"diaSourceId": 9, "psfFlux": 1.0}],
                   "forced": [{"psfFlux": 2.0}], "nondetections": []}}
    full = objects.api_object("lsst", info, lc, lite=False, lasair_added=True,
                              public_url="http://x")
    assert full["diaSourcesList"] == [{"diaSourceId": 9, "psfFlux": 1.0}]
    assert full["diaForcedSourcesList"] == [{"psfFlux": 2.0}]
    assert full["lasairData"]["imageUrls"][0]["Difference"] == \
        "http://x/objects/5/cutouts/9/Difference.png"
    lite = objects.api_object("lsst", info, lc, lite=True, lasair_added=False, public_url="")
    assert "diaForcedSourcesList" not in lite and "lasairData" not in lite
    info["object_id"], info["object"] = "ZTF21abiuvdk", {"objectId": "ZTF21abiuvdk"}
    ztf = objects.api_object("ztf", info, {"rows": {"detections": [{"candid": 1}],
                                                    "nondetections": [{"jd": 1.0}]}},
                             lite=False, lasair_added=True, public_url="")
    assert ztf["candidates"] == [{"candid": 1}, {"jd": 1.0}] and "sherlock" in ztf

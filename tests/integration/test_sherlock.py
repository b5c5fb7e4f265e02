"""Sky context on the real stack: catalogues and TNS into MariaDB, then every shipped ZTF
alert through ingest -> sherlock, checked against the classifier run on the files.
"""
from __future__ import annotations

import asyncio
import csv
import gzip

import numpy as np
import pytest

from catalogs.classifier import build_index, classify_positions
from catalogs.load import load_catalogues, load_tns
from catalogs.sources import CATALOGUES, catalogue_path, read_catalogue
from catalogs.store import read_catalogues
from catalogs.model import ROW_FIELDS, CatalogueRows
from solas.ingest import alert_from_ingested
from solas.replay import replay
from solas.stores import mariadb
from solas.topics import INGESTED, SHERLOCKED, end_offsets, read_topic, stage_topic
from solas.workers import start_worker, stop_worker, wait_for_done

pytestmark = pytest.mark.integration
TIMEOUT_S = 300


@pytest.fixture(scope="module")
def loaded(ztf):
    return {r.name: r.rows for r in load_catalogues(ztf, progress=False)}


def same_rows(a: CatalogueRows, b: CatalogueRows) -> None:
    for field in ROW_FIELDS:
        x, y = getattr(a, field), getattr(b, field)
        if x.dtype.kind == "f":
            np.testing.assert_allclose(x, y, equal_nan=True, err_msg=field)
        else:
            assert x.astype(str).tolist() == y.astype(str).tolist(), field


def test_every_catalogue_loads_and_reads_back_unchanged(ztf, loaded):
    assert set(loaded) == set(CATALOGUES)
    with mariadb.connect(ztf) as conn, conn.cursor() as cursor:
        stored = read_catalogues(cursor)
        cursor.execute("SELECT name, row_count FROM catalogues")
        counts = dict(cursor.fetchall())
    for name in ("gcvs", "spicy", "yale_bsc5", "milliquas", "hipparcos2"):
        direct = read_catalogue(name, catalogue_path(name, ztf.data_dir))
        assert counts[name] == len(direct) == loaded[name]
        same_rows(stored[name], direct)
    assert sum(counts.values()) > 300_000


def test_loading_again_replaces_rather_than_duplicates(ztf, loaded):
    name = next(iter(CATALOGUES))
    again = load_catalogues(ztf, [name], progress=False)
    with mariadb.connect(ztf) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM catalogue_sources WHERE catalogue=%s", (name,))
        assert cursor.fetchone()[0] == again[0].rows == loaded[name]


def tns_csv_at(path, source, ra: float, dec: float, name: str) -> None:
    """A TNS download whose one row is moved to (ra, dec) and renamed."""
    with gzip.open(source, "rt", newline="") as f:
        lines = f.read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('"objid"')
                 or "name_prefix" in line)
    rows = list(csv.DictReader(lines[start:]))
    rows[0].update(ra=str(ra), declination=str(dec), name=name)
    with open(path, "w", newline="") as f:
        f.write("\n".join(lines[:start]) + ("\n" if start else ""))
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerow(rows[0])


def test_every_ztf_alert_gets_the_context_the_classifier_gives(ztf, loaded, tmp_path):
    folder = ztf.data_dir / "alerts" / "ztf" / "pittgoogle-labelled"
    start = asyncio.run(end_offsets(ztf, stage_topic(ztf, SHERLOCKED)))
    ingested_start = asyncio.run(end_offsets(ztf, stage_topic(ztf, INGESTED)))
    stats = asyncio.run(replay(ztf, [str(folder)], progress=False))
    worker = start_worker(ztf, ["ingest"], 4, {"SOLAS_APP_ID": ztf.app_id,
                                               "SOLAS_RAW_TOPIC": ztf.raw_topic})
    try:
        wait_for_done(worker, "ingest", stats.messages, TIMEOUT_S)
    finally:
        stop_worker(worker)
    ingested = asyncio.run(read_topic(ztf, stage_topic(ztf, INGESTED), ingested_start, keep=lambda r: r.value))
    alerts = [alert_from_ingested(v)[0] for v in ingested]
    tns_csv_at(tmp_path / "tns.csv", ztf.data_dir / "catalogs" / "tns_raw.csv.gz",
               alerts[0].ra, alerts[0].dec, "2099zzz")
    assert load_tns(ztf, tmp_path / "tns.csv", progress=False) == 1

    total = sum(asyncio.run(end_offsets(ztf, stage_topic(ztf, INGESTED))).values())
    worker = start_worker(ztf, ["sherlock"], 4, {"SOLAS_APP_ID": ztf.app_id + "-sherlock"})
    try:
        wait_for_done(worker, "sherlock", total, TIMEOUT_S)
    finally:
        stop_worker(worker)
    out = [alert_from_ingested_context(v) for v in asyncio.run(
        read_topic(ztf, stage_topic(ztf, SHERLOCKED), start, keep=lambda r: r.value))]
    ours = {a.source_id for a in alerts}
    out = [record for record in out if record[0].source_id in ours]
    assert sorted(r[0].source_id for r in out) == sorted(ours)
    first: dict = {}  # context is computed once per object, at its first alert
    for alert, _, _ in out:
        first.setdefault(alert.object_id, alert)
    with mariadb.connect(ztf) as conn, conn.cursor() as cursor:
        index = build_index(read_catalogues(cursor))
    objects = list(first)
    expected = classify_positions(np.array([first[o].ra for o in objects]),
                                  np.array([first[o].dec for o in objects]), index).results
    expected = dict(zip(objects, expected))
    for alert, sherlock, tns_name in out:
        assert sherlock == expected[alert.object_id]._asdict(), alert.object_id
        assert tns_name == ("2099zzz" if alert.object_id == alerts[0].object_id else None)
    assert {s["classification"] for _, s, _ in out} <= {
        "VS", "CV", "BS", "AGN", "NT", "SN", "ORPHAN"}


def alert_from_ingested_context(value: bytes):
    import orjson
    body = orjson.loads(value)
    sherlock, tns_name = body.pop("sherlock"), body.pop("tns_name")
    alert, _ = alert_from_ingested(orjson.dumps(body))
    return alert, sherlock, tns_name

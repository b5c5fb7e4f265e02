"""The standard filter-stage workload of the benchmarks (issue: filter stage).

10 active watchlists (one of 1e6 cones; the shipped 4LAC and 3HSP lists; cones on
the sample alerts' positions), 100 active watchmaps (the shipped MOCs and GW
credible regions plus discs), 100 active filters of realistic shapes and 5
annotators, all owned by one user, written to the deployment's MariaDB and
announced on the change topics as the portal does.
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import NamedTuple

import astropy.units as u
import numpy as np
import orjson
from aiokafka import AIOKafkaProducer
from astropy.coordinates import Latitude, Longitude
from mocpy import MOC
from tqdm import tqdm

from solas.settings import Settings
from solas.skymatch import (
    moc_to_fits_bytes,
    read_moc_fits,
    read_skymap,
    read_watchlist_csv,
)
from solas.stores import mariadb
from solas.topics import WATCHLIST_CHANGES, WATCHMAP_CHANGES, filter_topic, stage_topic

BIG_LIST = 1_000_000
ANNOTATORS = ("fastfinder", "snclass", "agnscore", "variability", "photoz")
FILTER_SHAPES = {
    "ztf": [
        ("objects.objectId, objects.ncand, objects.rmag", "objects",
         "objects.ncand >= {k} AND objects.jdmax > jdnow() - 30"),
        ("objects.objectId, sherlock_classifications.classification",
         "objects, sherlock_classifications",
         "sherlock_classifications.classification IN ('SN', 'NT') AND objects.ncand >= {k}"),
        ("objects.objectId, watchlist_hits.name, watchlist_hits.arcsec",
         "objects, watchlist:{wl}", "objects.ncand >= 1"),
        ("objects.objectId, objects.gmag", "objects, watchmap:{ar}", "objects.ncandgp >= 1"),
        ("objects.objectId, objects.dmdt_r", "objects",
         "objects.rmag < 19.5 - {k} * 0.1 AND objects.dmdt_r < -0.02"),
        ("objects.objectId, {an}.classification", "objects, annotator:{an}",
         "{an}.classification = 'SN'"),
    ],
    "lsst": [
        ("objects.diaObjectId, objects.nDiaSources, objects.r_psfFlux", "objects",
         "objects.nDiaSources >= {k} AND objects.lastDiaSourceMjdTai > mjdnow() - 30"),
        ("objects.diaObjectId, sherlock_classifications.classification",
         "objects, sherlock_classifications",
         "sherlock_classifications.classification IN ('SN', 'NT') AND "
         "objects.nDiaSources >= {k}"),
        ("objects.diaObjectId, watchlist_hits.name, watchlist_hits.arcsec",
         "objects, watchlist:{wl}", "objects.nDiaSources >= 1"),
        ("objects.diaObjectId, objects.g_psfFlux", "objects, watchmap:{ar}",
         "objects.nDiaSources >= 1"),
        ("objects.diaObjectId, objects.latestR", "objects",
         "flux2mag(objects.latest_psfFlux) < 22 - {k} * 0.1 AND objects.latestR > 0.5"),
        ("objects.diaObjectId, {an}.classification", "objects, annotator:{an}",
         "{an}.classification = 'SN'"),
    ],
}


class Workload(NamedTuple):
    """Ids of what :func:`create_workload` made."""

    user: int
    watchlists: list[int]
    watchmaps: list[int]
    filters: list[int]
    cones: int


def random_sky(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions uniform on the sphere, deg."""
    return rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))


def _insert_watchlist(cursor, user: int, name: str, ra, dec, names, bar) -> int:
    cursor.execute("INSERT INTO watchlists (user, name, active, public, radius) "
                   "VALUES (%s, %s, 1, 0, 2)", (user, name))
    wl_id = cursor.lastrowid
    rows = [(wl_id, n, float(r), float(d)) for n, r, d in zip(names, ra, dec)]
    for start in range(0, len(rows), 20_000):
        cursor.executemany("INSERT INTO watchlist_cones (wl_id, name, ra, decl) "
                           "VALUES (%s, %s, %s, %s)", rows[start:start + 20_000])
        bar.update(len(rows[start:start + 20_000]))
    return wl_id


def _csv_cones(path: Path) -> tuple[list, list, list]:
    ra, dec, names = [], [], []
    for batch in read_watchlist_csv(path.read_text().splitlines(), source=path.name):
        ra += list(batch.ra)
        dec += list(batch.dec)
        names += list(batch.name)
    return ra, dec, names


def _watchlists(cursor, user: int, data_dir: Path, alert_positions, rng) -> list[int]:
    ids = []
    with tqdm(desc="watchlist cones", unit=" cones") as bar:
        ra, dec = random_sky(BIG_LIST, rng)
        ids.append(_insert_watchlist(cursor, user, "one million", ra, dec,
                                     [f"c{i}" for i in range(BIG_LIST)], bar))
        for csv in ("watchlist_4LAC_DR3_bllac.csv", "watchlist_3HSP.csv"):
            ra, dec, names = _csv_cones(data_dir / "watchlists" / csv)
            ids.append(_insert_watchlist(cursor, user, csv, ra, dec, names, bar))
        ra, dec = alert_positions
        for k in range(7):
            pick = rng.choice(len(ra), max(1, len(ra) // 10), replace=False)
            ids.append(_insert_watchlist(cursor, user, f"targets {k}", ra[pick], dec[pick],
                                         [f"t{k}-{i}" for i in pick], bar))
    return ids


def _mocs(data_dir: Path, rng: np.random.Generator) -> list[bytes]:
    maps = data_dir / "skymaps"
    fits = [read_moc_fits((maps / n).read_bytes(), n) for n in (
        "MS181101ab.mock.90pct.moc.fits", "V_147_sdss12.moc.fits", "P-GALEXGR6-AIS-FUV.fits")]
    fits += [read_skymap(maps / n).credible_region_moc(0.9) for n in (
        "S200129m.bayestar.multiorder.fits", "GW190814.LALInference.v1.fits.gz")]
    ra, dec = random_sky(100 - len(fits), rng)
    fits += [MOC.from_cone(lon=Longitude(r * u.deg), lat=Latitude(d * u.deg),
                           radius=float(rng.uniform(0.5, 10)) * u.deg, max_depth=10)
             for r, d in zip(ra, dec)]
    return [moc_to_fits_bytes(m) for m in fits]


def _filters(cursor, settings: Settings, user: int, wls: list[int], ars: list[int]
             ) -> list[int]:
    ids = []
    shapes = FILTER_SHAPES[settings.survey]
    for k in range(100):
        selected, tables, conditions = (text.format(k=1 + k % 5, wl=wls[k % len(wls)],
                                                    ar=ars[k % len(ars)],
                                                    an=ANNOTATORS[k % len(ANNOTATORS)])
                                        for text in shapes[k % len(shapes)])
        cursor.execute("INSERT INTO filters (user, name, selected, tables, conditions, "
                       "run, output) VALUES (%s, %s, %s, %s, %s, 1, 2)",
                       (user, f"bench {k}", selected, tables, conditions))
        fid = cursor.lastrowid
        cursor.execute("UPDATE filters SET topic_name=%s WHERE id=%s",
                       (filter_topic(settings, fid), fid))
        ids.append(fid)
    return ids


async def announce(settings: Settings, watchlists: list[int], watchmaps: list[int]) -> None:
    """Publish the change messages the portal would."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka)
    await producer.start()
    try:
        for wl_id in watchlists:
            await producer.send(stage_topic(settings, WATCHLIST_CHANGES), orjson.dumps(
                {"wl_id": wl_id, "action": "upsert"}), key=str(wl_id).encode())
        for ar_id in watchmaps:
            await producer.send(stage_topic(settings, WATCHMAP_CHANGES), orjson.dumps(
                {"ar_id": ar_id, "action": "upsert"}), key=str(ar_id).encode())
        await producer.flush()
    finally:
        await producer.stop()


def create_workload(settings: Settings, alert_positions, seed: int = 0) -> Workload:
    """Write the standard workload to MariaDB and announce it (see module docstring)."""
    rng = np.random.default_rng(seed)
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO users (username, email) VALUES (%s, %s)",
                       (f"bench{rng.integers(1 << 30)}", "bench@localhost"))
        user = cursor.lastrowid
        wls = _watchlists(cursor, user, settings.data_dir, alert_positions, rng)
        ars = []
        for k, moc in enumerate(tqdm(_mocs(settings.data_dir, rng), desc="watchmaps")):
            cursor.execute("INSERT INTO watchmaps (user, name, moc, active) "
                           "VALUES (%s, %s, %s, 1)", (user, f"map {k}", moc))
            ars.append(cursor.lastrowid)
        cursor.executemany("REPLACE INTO annotators (topic, owner, active, public, fast) "
                           "VALUES (%s, %s, 1, 1, 0)", [(a, user) for a in ANNOTATORS])
        filters = _filters(cursor, settings, user, wls, ars)
        cursor.execute("SELECT COUNT(*) FROM watchlist_cones WHERE wl_id IN (%s)"
                       % ", ".join(map(str, wls)))
        cones = cursor.fetchone()[0]
    asyncio.run(announce(settings, wls, ars))
    return Workload(user, wls, ars, filters, cones)

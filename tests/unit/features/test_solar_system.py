"""ss_objects / ss_sources rows and the ssSources point of real Rubin solar-system alerts."""
from __future__ import annotations

import datetime as dt
import math
from typing import NamedTuple

import pytest

from solas.features.solar_system import (
    aggregate_columns,
    aggregate_sql,
    dia_object_indices,
    keep_positions,
    solar_system_rows,
)
from solas.schema.tables import solar_system_lightcurve, solar_system_tables
from solas.settings import get_settings
from solas.stores.cassandra import solar_system_point
from solas.surveys import normalise, read_alert_file

LSST = get_settings().data_dir / "alerts" / "lsst"
NOW = dt.datetime(2026, 1, 1)


@pytest.fixture(scope="module")
def ampel():
    return [normalise(r, "lsst")
            for r in read_alert_file(LSST / "ampel-v9" / "2025-09-20.partition0.tar.gz")]


@pytest.fixture(scope="module")
def fink_sso():
    alerts = []
    for path in sorted((LSST / "fink-transfer-v10").glob("*.parquet")):
        alerts += [a for a in (normalise(r, "lsst") for r in read_alert_file(path))
                   if a.solar_system]
    return alerts


def test_v9_rows_hold_the_detection_the_ss_source_and_the_mpcorb_orbit(ampel):
    objects_spec, sources_spec = solar_system_tables("lsst")
    rows = solar_system_rows(ampel, NOW)
    sso = [a for a in ampel if a.is_solar_system]
    assert len(rows.sources) == len(rows.objects) == 9
    for alert, source, obj in zip(sso, rows.sources, rows.objects):
        assert list(source) == sources_spec.column_names
        assert set(obj) == set(objects_spec.column_names) - set(aggregate_columns())
        ss, orbit, dia = (alert.solar_system["ssSource"], alert.solar_system["MPCORB"],
                          alert.detections[-1])
        assert source["ssObjectId"] == obj["ssObjectId"] == alert.ss_object_id
        assert source["diaSourceId"] == alert.source_id and source["diaObjectId"] is None
        assert source["psfFlux"] == pytest.approx(dia["psfFlux"])
        assert source["band"] == dia["band"] and source["decl"] == alert.dec
        assert source["heliocentricDist"] == pytest.approx(ss["heliocentricDist"])
        assert obj["helioRange"] == pytest.approx(ss["heliocentricDist"])  # v10 name
        assert obj["topoRange"] == pytest.approx(ss["topocentricDist"])
        assert obj["phaseAngle"] == pytest.approx(ss["phaseAngle"])
        assert obj["designation"] == orbit["mpcDesignation"]
        assert (obj["q"], obj["e"], obj["incl"]) == (orbit["q"], orbit["e"], orbit["incl"])
        assert obj["lastDiaSourceMjdTai"] == alert.mjd and obj["latest_band"] == dia["band"]
        assert obj["latest_psfFlux"] == pytest.approx(dia["psfFlux"])
        assert isinstance(obj["hpx16"], int) and obj["timestamp"] == NOW
        # NaN never reaches MariaDB
        assert not any(math.isnan(v) for r in (source, obj) for v in r.values()
                       if isinstance(v, float))


def test_v10_rows_take_the_mpc_orbits_elements_and_designation(fink_sso):
    rows = solar_system_rows(fink_sso, NOW)
    assert len(rows.objects) == len(fink_sso)
    for alert, obj in zip(fink_sso, rows.objects):
        orbit = alert.solar_system["mpc_orbits"]
        assert obj["designation"] == orbit["designation"]
        for name in ("a", "q", "e", "i", "node", "argperi", "epoch_mjd", "h"):
            assert obj[name] == orbit[name], name
        assert obj["helioRange"] == alert.solar_system["ssSource"]["helioRange"]


def test_alerts_without_a_solar_system_part_give_no_rows(ampel):
    dia = [a for a in ampel if not a.is_solar_system]
    assert solar_system_rows(dia, NOW) == ([], [])
    assert dia_object_indices(ampel) == [i for i, a in enumerate(ampel) if a is dia[0]]


class Parsed(NamedTuple):
    alerts: list
    names: list


def test_keep_positions_keeps_the_same_items_of_every_list(ampel):
    parsed = Parsed(list(ampel), [str(i) for i in range(len(ampel))])
    kept = keep_positions(parsed, dia_object_indices(ampel))
    assert isinstance(kept, Parsed) and len(kept.alerts) == 1
    assert kept.names == [str(dia_object_indices(ampel)[0])]
    assert keep_positions(parsed, list(range(len(ampel)))) is parsed


def test_aggregate_sql_counts_every_band_from_ss_sources():
    sql = aggregate_sql(3)
    assert sql.startswith("INSERT INTO ss_objects (`ssObjectId`, `nDiaSources`")
    assert "WHERE s.ssObjectId IN (%s, %s, %s) GROUP BY s.ssObjectId" in sql
    for b in "ugrizy":
        assert f"SUM(s.band = '{b}')" in sql and f"`n{b}Sources`=VALUES(`n{b}Sources`)" in sql
    with pytest.raises(ValueError, match="at least one object"):
        aggregate_sql(0)


def test_the_cassandra_point_is_keyed_by_the_ss_object(ampel, fink_sso):
    spec = solar_system_lightcurve("lsst")["solar_system"]
    assert spec.primary_key == ("ssObjectId", "midpointMjdTai", "diaSourceId")
    for alert in [*ampel, *fink_sso]:
        point = solar_system_point(alert)
        if alert.ss_object_id is None:
            assert point is None
            continue
        assert point["ssObjectId"] == alert.ss_object_id
        assert point["diaSourceId"] == alert.source_id
        assert point["midpointMjdTai"] == alert.mjd and "diaObjectId" not in point
        assert point["phaseAngle"] == alert.solar_system["ssSource"]["phaseAngle"] or \
            point["phaseAngle"] != point["phaseAngle"]

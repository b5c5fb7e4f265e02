"""Write endpoints (filters, watchlists, watchmaps) for scripts and TOM systems, their
privacy between users, and the limits: rate, rows, uploads, read-only SQL."""
from __future__ import annotations

import asyncio
import io
import json
import time

import astropy.units as u
import numpy as np
import pytest
import requests
from lasair import LasairError, lasair_client
from mocpy import MOC

from solas.skymatch import separation_arcsec
from solas.stores.mariadb import readonly_credentials
from solas.topics import (WATCHLIST_CHANGES, WATCHMAP_CHANGES, end_offsets, read_topic,
                          stage_topic)
from web.queries import QueryError, ReadOnlyRunner
from web.sky import ID_COLUMNS, POSITION_COLUMNS

from .conftest import make_account

pytestmark = pytest.mark.integration


def auth(account) -> dict:
    return {"Authorization": f"Token {account.token}"}


def wait_ready(server, account, kind: str, ref_id: int, timeout: float = 120) -> dict:
    """Poll a watchlist/watchmap until its job is ready (or failed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = requests.get(f"{server.url}/api/{kind}/{ref_id}/", headers=auth(account))
        r.raise_for_status()
        body = r.json()
        if body["progress"]["state"] in ("ready", "failed"):
            return body
        time.sleep(0.3)
    raise TimeoutError(f"{kind} {ref_id} not ready")


def positions(server, sample_objects):
    ra, dec = POSITION_COLUMNS[server.settings.survey]
    oid = ID_COLUMNS[server.settings.survey]
    return [(r[oid], r[ra], r[dec]) for r in sample_objects if r[ra] is not None]


# ------------------------------------------------------------------ filters

def test_filter_create_get_patch_delete(server, alice):
    oid = ID_COLUMNS[server.settings.survey]
    r = requests.post(f"{server.url}/api/filters/", headers=auth(alice), json={
        "name": "bright", "description": "d", "selected": f"objects.{oid}",
        "tables": "objects", "conditions": "objects.hpx16 > 0", "public": False,
        "run": 1, "output": 2})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["topic"] == f"{server.settings.topic_prefix}{created['id']}"
    got = requests.get(f"{server.url}/api/filters/{created['id']}/", headers=auth(alice)).json()
    assert got["name"] == "bright" and got["run"] == 1 and got["public"] is False
    r = requests.patch(f"{server.url}/api/filters/{created['id']}/", headers=auth(alice),
                       json={"name": "renamed", "public": True})
    assert r.json() == created  # renaming keeps the topic
    listed = requests.get(f"{server.url}/api/filters/", headers=auth(alice)).json()["filters"]
    assert any(f["id"] == created["id"] and f["name"] == "renamed" for f in listed)
    r = requests.post(f"{server.url}/api/filters/", headers=auth(alice), data={
        "name": "bad", "selected": "objects.nope", "tables": "objects"})
    assert r.status_code == 400 and "nope" in r.json()["error"]
    assert requests.delete(f"{server.url}/api/filters/{created['id']}/",
                           headers=auth(alice)).status_code == 200
    assert requests.get(f"{server.url}/api/filters/{created['id']}/",
                        headers=auth(alice)).status_code == 404


def test_filters_need_a_token(server):
    r = requests.get(f"{server.url}/api/filters/")
    assert r.status_code == 401 and "token" in r.json()["error"]


# ---------------------------------------------------------------- watchlists

def test_watchlist_csv_upload_hits_and_errors(server, sample_objects, alice):
    near = positions(server, sample_objects)[:5]
    lines = ["name,ra,dec,radius"]
    for i, (_, ra, dec) in enumerate(near):
        lines.append(f"src{i},{ra + 1.0 / 3600 / max(np.cos(np.radians(dec)), 0.1)},{dec},3")
    lines += ["bad1,400,10", "bad2,10,abc", "far,10:00:00,+45:00:00"]
    upload = ("\n".join(lines) + "\n").encode()
    start = asyncio.run(end_offsets(server.settings, stage_topic(server.settings, WATCHLIST_CHANGES)))
    r = requests.post(f"{server.url}/api/watchlists/", headers=auth(alice),
                      data={"name": "mine", "radius": "2", "active": "true"},
                      files={"file": ("wl.csv", upload, "text/csv")})
    assert r.status_code == 201, r.text
    wl_id = r.json()["id"]
    body = wait_ready(server, alice, "watchlists", wl_id)
    assert body["progress"]["state"] == "ready"
    assert body["progress"]["cones"] == len(near) + 1
    assert [e[0] for e in body["progress"]["errors"]] == [len(near) + 2, len(near) + 3]
    assert "400" in body["progress"]["errors"][0][1]
    expected = set()
    for i, (oid, ra, dec) in enumerate(near):
        for other, ra2, dec2 in positions(server, sample_objects):
            cone_ra = ra + 1.0 / 3600 / max(np.cos(np.radians(dec)), 0.1)
            if separation_arcsec(cone_ra, dec, ra2, dec2) <= 3.0:
                expected.add((other, f"src{i}"))
    assert {(h["object_id"], h["name"]) for h in body["hits"]} == expected
    assert len(expected) >= len(near)
    changes = asyncio.run(read_topic(server.settings, stage_topic(server.settings, WATCHLIST_CHANGES), start,
                                     keep=lambda m: json.loads(m.value)))
    assert {"wl_id": wl_id, "action": "upsert"} in changes
    # the hits are usable in a filter at once
    client = lasair_client(alice.token, endpoint=f"{server.url}/api")
    oid = ID_COLUMNS[server.settings.survey]
    rows = client.query(f"objects.{oid}, watchlist_hits.name", f"objects, watchlist:{wl_id}",
                        "")
    assert {(row[oid], row["name"]) for row in rows} == expected


def test_watchlist_real_file_and_json_cones(server, alice, data_dir):
    path = data_dir / "watchlists" / "watchlist_4LAC_DR3_bllac.csv"
    with open(path, "rb") as f:
        r = requests.post(f"{server.url}/api/watchlists/", headers=auth(alice),
                          data={"name": "4LAC"}, files={"file": (path.name, f)})
    wl_id = r.json()["id"]
    body = wait_ready(server, alice, "watchlists", wl_id)
    rows = sum(1 for _ in open(path)) - 1
    assert body["progress"]["cones"] + len(body["progress"]["errors"]) == rows
    r = requests.post(f"{server.url}/api/watchlists/", headers=auth(alice), json={
        "name": "json", "radius": 5, "cones": [
            {"name": "a", "ra": 10.5, "dec": -3.25},
            {"name": "b", "ra": "12:34:56.7", "dec": "-01:02:03", "radius": 30},
            {"name": "c", "ra": 10, "dec": 100}]})
    body = wait_ready(server, alice, "watchlists", r.json()["id"])
    assert body["progress"]["cones"] == 2 and body["progress"]["errors"][0][0] == 3
    assert body["radius"] == 5.0


def test_oversized_upload_is_413(server, alice):
    big = io.BytesIO(b"\0" * (10 * 2**20))  # the test server takes 8 MiB watchmaps
    r = requests.post(f"{server.url}/api/watchmaps/", headers=auth(alice),
                      data={"name": "big"}, files={"file": ("big.fits", big)})
    assert r.status_code == 413 and "error" in r.json()


def test_private_things_are_invisible_to_others(server, sample_objects, alice, bob):
    r = requests.post(f"{server.url}/api/watchlists/", headers=auth(alice), json={
        "name": "secret", "cones": [{"name": "s", "ra": 1.0, "dec": 1.0}]})
    wl_id = r.json()["id"]
    wait_ready(server, alice, "watchlists", wl_id)
    oid = ID_COLUMNS[server.settings.survey]
    filt = requests.post(f"{server.url}/api/filters/", headers=auth(alice), json={
        "name": "private", "selected": f"objects.{oid}", "tables": f"objects, watchlist:{wl_id}"}
    ).json()
    for path in (f"watchlists/{wl_id}/", f"filters/{filt['id']}/"):
        r = requests.get(f"{server.url}/api/{path}", headers=auth(bob))
        assert r.status_code == 404, path
        assert requests.delete(f"{server.url}/api/{path}", headers=auth(bob)).status_code == 404
    listed = requests.get(f"{server.url}/api/watchlists/", headers=auth(bob)).json()
    assert wl_id not in [w["id"] for w in listed["watchlists"]]
    listed = requests.get(f"{server.url}/api/filters/", headers=auth(bob)).json()
    assert filt["id"] not in [f["id"] for f in listed["filters"]]
    bob_client = lasair_client(bob.token, endpoint=f"{server.url}/api")
    with pytest.raises(LasairError, match=f"no watchlist {wl_id}"):
        bob_client.query(f"objects.{oid}", f"objects, watchlist:{wl_id}", "")
    r = requests.post(f"{server.url}/api/filters/", headers=auth(bob), json={
        "name": "steal", "selected": f"objects.{oid}", "tables": f"watchlist:{wl_id}"})
    assert r.status_code == 400 and f"no watchlist {wl_id}" in r.json()["error"]
    # once public, others may use it
    requests.patch(f"{server.url}/api/watchlists/{wl_id}/", headers=auth(alice),
                   json={"public": True})
    assert bob_client.query(f"objects.{oid}", f"objects, watchlist:{wl_id}", "") == []


# ---------------------------------------------------------------- watchmaps

def test_watchmap_moc_upload_and_crossmatch(server, sample_objects, alice, data_dir):
    path = data_dir / "skymaps" / "V_147_sdss12.moc.fits"
    start = asyncio.run(end_offsets(server.settings, stage_topic(server.settings, WATCHMAP_CHANGES)))
    with open(path, "rb") as f:
        r = requests.post(f"{server.url}/api/watchmaps/", headers=auth(alice),
                          data={"name": "sdss", "active": "1"}, files={"file": (path.name, f)})
    assert r.status_code == 201, r.text
    made = r.json()
    moc = MOC.from_fits(path)
    assert made["area_deg2"] == pytest.approx(moc.sky_fraction * 41252.96, rel=1e-6)
    body = wait_ready(server, alice, "watchmaps", made["id"])
    pos = positions(server, sample_objects)
    inside = moc.contains_lonlat(np.array([p[1] for p in pos]) * u.deg,
                                 np.array([p[2] for p in pos]) * u.deg)
    assert inside.any()
    assert {h["object_id"] for h in body["hits"]} == {p[0] for p, i in zip(pos, inside) if i}
    changes = asyncio.run(read_topic(server.settings, stage_topic(server.settings, WATCHMAP_CHANGES), start,
                                     keep=lambda m: json.loads(m.value)))
    assert {"ar_id": made["id"], "action": "upsert"} in changes
    png = requests.get(f"{server.url}/watchmaps/{made['id']}/preview.png")
    assert png.status_code == 404  # private: anonymous visitors do not see it


def test_watchmap_from_gw_skymap(server, alice, data_dir):
    path = data_dir / "skymaps" / "MS181101ab.mock.bayestar.fits"
    with open(path, "rb") as f:
        r = requests.post(f"{server.url}/api/watchmaps/", headers=auth(alice),
                          data={"name": "gw", "level": "90", "public": "1"},
                          files={"file": (path.name, f)})
    assert r.status_code == 201, r.text
    assert r.json()["source"] == "skymap 90%"
    assert r.json()["area_deg2"] == pytest.approx(31.0, rel=0.05)  # the broker's 90% MOC
    png = requests.get(f"{server.url}/watchmaps/{r.json()['id']}/preview.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    r = requests.post(f"{server.url}/api/watchmaps/", headers=auth(alice), data={"name": "x"},
                      files={"file": ("junk.fits", b"SIMPLE  = not fits at all")})
    assert r.status_code == 400 and "not a MOC" in r.json()["error"]


# ------------------------------------------------------------------- limits

def test_hourly_limit_429_with_message(server):
    weak = make_account(server, "anonymous")
    client = lasair_client(weak.token, endpoint=f"{server.url}/api")
    for _ in range(10):
        client.cone(10.0, 10.0, 2.0, "count")
    with pytest.raises(LasairError, match="Request limit exceeded"):
        client.cone(10.0, 10.0, 2.0, "count")
    r = requests.get(f"{server.url}/api/cone/", params={"ra": 1, "dec": 1}, headers=auth(weak))
    assert r.status_code == 429 and "message" in r.json()
    codes = [requests.get(f"{server.url}/api/cone/", params={"ra": 1, "dec": 1}).status_code
             for _ in range(11)]
    assert 429 in codes and set(codes) <= {200, 429}


def test_readonly_runner_layers(server):
    async def attempts():
        runner = ReadOnlyRunner(server.settings, *readonly_credentials(server.settings),
                                timeout_s=1.0, grace_s=0.5)
        outcomes = {}
        for name, sql in {"multi": "SELECT 1; SELECT 2", "write": "DELETE FROM users",
                          "sleep": "SELECT SLEEP(20)"}.items():
            started = time.monotonic()
            try:
                await runner.run(sql)
                outcomes[name] = ("ran", time.monotonic() - started)
            except QueryError as err:
                outcomes[name] = (str(err), time.monotonic() - started)
        assert (await runner.run("SELECT 1 + 1")).rows == [(2,)]
        runner.close()
        return outcomes

    outcomes = asyncio.run(attempts())
    assert "syntax" in outcomes["multi"][0]
    assert "denied" in outcomes["write"][0]
    assert "stopped" in outcomes["sleep"][0] and outcomes["sleep"][1] < 5

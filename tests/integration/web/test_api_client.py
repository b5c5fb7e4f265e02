"""The REST API driven by the real PyPI ``lasair`` client, for every method it has."""
from __future__ import annotations

import asyncio
import json
import re

import pytest
import requests
from lasair import LasairError, lasair_client

from catalogs.load import load_catalogues
from solas.stores import mariadb
from solas.topics import ANNOTATIONS, end_offsets, read_topic, stage_topic
from web.sky import ID_COLUMNS, POSITION_COLUMNS

from .conftest import make_account

pytestmark = pytest.mark.integration


@pytest.fixture()
def client(server, alice):
    return lasair_client(alice.token, endpoint=f"{server.url}/api", timeout=30)


def first_object(server, sample_objects) -> dict:
    """A sample object with a position."""
    ra, dec = POSITION_COLUMNS[server.settings.survey]
    return next(r for r in sample_objects if r[ra] is not None and r[dec] is not None)


def oid_of(server, row):
    return row[ID_COLUMNS[server.settings.survey]]


def test_cone_all_nearest_count(server, sample_objects, client):
    row = first_object(server, sample_objects)
    ra, dec = (row[c] for c in POSITION_COLUMNS[server.settings.survey])
    found = client.cone(ra, dec, radius=5, requestType="all")
    assert found["count"] == len(found["objects"]) >= 1
    assert found["nearest"]["object"] == oid_of(server, row)
    assert found["nearest"]["separation"] < 0.01
    assert client.cone(ra, dec, radius=5, requestType="nearest")["nearest"] == found["nearest"]
    assert client.cone(ra, dec, radius=5, requestType="count") == {"count": found["count"]}
    assert client.cone((ra + 180) % 360, -dec, radius=5, requestType="all")["count"] == 0
    with pytest.raises(LasairError, match="Bad Request.*radius"):
        client.cone(ra, dec, radius=5000)
    with pytest.raises(LasairError, match="Bad Request.*dec"):
        client.cone(ra, 95.0)


def test_query_rows_columns_and_limit(server, sample_objects, client):
    oid = ID_COLUMNS[server.settings.survey]
    rows = client.query(f"objects.{oid}, objects.hpx16 AS cell", "objects",
                        f"objects.{oid} IS NOT NULL ORDER BY objects.{oid}", limit=3)
    assert isinstance(rows, list) and len(rows) == 3
    assert set(rows[0]) == {oid, "cell"}
    stored = sorted(oid_of(server, r) for r in sample_objects)
    assert [r[oid] for r in rows] == stored[:3]
    page2 = client.query(f"objects.{oid}", "objects", f"TRUE ORDER BY objects.{oid}",
                         limit=2, offset=1)
    assert [r[oid] for r in page2] == stored[1:3]


@pytest.mark.parametrize("conditions, problem", [
    ("1=1; DROP TABLE users", "not allowed|unexpected|statement"),
    ("objects.ncand > (SELECT 1)", "subquer"),
    ("SLEEP(5)", "SLEEP"),
    ("objects.nosuchcolumn > 1", "nosuchcolumn"),
    ("1=1 UNION SELECT password_hash FROM users", "UNION"),
    ("1=1 -- comment", "comment"),
])
def test_query_hostile_sql_is_a_clear_400(client, conditions, problem):
    with pytest.raises(LasairError) as err:
        client.query("objects.hpx16", "objects", conditions)
    assert err.value.message.startswith("Bad Request:")
    body = json.loads(err.value.message.removeprefix("Bad Request:"))
    assert re.search(problem, body["error"], re.I), body


def test_query_users_table_is_not_reachable(client):
    with pytest.raises(LasairError, match="users"):
        client.query("users.password_hash", "objects, users", "")


def test_object_lite_and_full(server, sample_objects, client):
    row = first_object(server, sample_objects)
    oid = oid_of(server, row)
    lite = client.object(oid, lite=True, lasair_added=True)
    full = client.object(oid, lite=False, lasair_added=True)
    bare = client.object(oid, lite=True, lasair_added=False)
    if server.settings.survey == "ztf":
        assert lite["objectId"] == oid and lite["objectData"]["objectId"] == oid
        detections = [c for c in lite["candidates"] if c.get("candid")]
        assert detections and all(c["objectId"] == oid for c in detections)
        assert "forcedphot" in full and len(full["candidates"]) >= len(lite["candidates"])
        assert "sherlock" in lite and "sherlock" not in bare
        assert lite["imageUrls"][0]["Science"].endswith("/Science.png")
    else:
        assert lite["diaObjectId"] == oid and lite["diaSourcesList"]
        assert "diaForcedSourcesList" in full and "lasairData" not in bare
    with pytest.raises(LasairError, match="404"):
        client.object("ZTF99aaaaaaa" if server.settings.survey == "ztf" else 12345)


@pytest.fixture(scope="module")
def bright_stars(server):
    load_catalogues(server.settings, ["yale_bsc5"], progress=False)
    with mariadb.connect(server.settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT ra, decl, id FROM catalogue_sources WHERE catalogue='yale_bsc5' "
                    "AND mag < 3 ORDER BY seq LIMIT 1")
        return cur.fetchone()


def test_sherlock_position_and_object(server, sample_objects, client, bright_stars):
    ra, dec, ident = bright_stars
    answer = client.sherlock_position(ra, dec, lite=False)
    (label, description), = answer["classifications"].values()
    assert label in ("VS", "BS") and description
    match = answer["crossmatches"][0]  # the star itself, from whichever catalogue of
    assert match["catalogue_object_id"] == ident or match["separationArcsec"] < 5  # stars
    far = client.sherlock_position((ra + 180) % 360, -dec)
    assert list(far["classifications"].values())[0][0] in ("ORPHAN", "BS", "VS")
    row = first_object(server, sample_objects)
    obj = client.sherlock_object(oid_of(server, row), lite=True)
    assert list(obj["classifications"]) == [str(oid_of(server, row))]


def test_annotate_and_annotate_list_reach_kafka(server, sample_objects, alice, client):
    topic = f"t_{alice.name}"
    with mariadb.connect(server.settings) as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO annotators (topic, owner, description, active, public) "
                    "VALUES (%s, %s, 'test', 1, 1)", (topic, alice.id))
    start = asyncio.run(end_offsets(server.settings, stage_topic(server.settings, ANNOTATIONS)))
    oids = [oid_of(server, r) for r in sample_objects[:3]]
    one = client.annotate(topic, oids[0], "SN Ia", version="1.0", explanation="fits",
                          classdict={"p": 0.9}, url="https://example.org")
    assert one == {"status": "success", "n": 1}
    many = client.annotate_list([{"objectId": o, "topic": topic, "classification": "AGN"}
                                 for o in oids[1:]])
    assert many == {"status": "success", "n": 2}
    sent = asyncio.run(read_topic(server.settings, stage_topic(server.settings, ANNOTATIONS), start,
                                  keep=lambda r: json.loads(r.value)))
    mine = [m for m in sent if m["topic"] == topic]
    id_col = ID_COLUMNS[server.settings.survey]
    assert [m[id_col] for m in mine] == oids
    assert mine[0]["classdict"] == {"p": 0.9} and mine[0]["classification"] == "SN Ia"
    # only the owner of an active annotator may annotate
    bob = make_account(server)
    other = lasair_client(bob.token, endpoint=f"{server.url}/api")
    with pytest.raises(LasairError, match="not allowed"):
        other.annotate(topic, oids[0], "junk")
    with pytest.raises(LasairError, match="does not exist"):
        client.annotate("no_such_topic_x", oids[0], "junk")
    r = requests.post(f"{server.url}/api/annotate/", data={
        "topic": topic, "objectId": oids[0], "classification": "x", "classdict": "{bad"},
        headers={"Authorization": f"Token {alice.token}"})
    assert r.status_code == 400 and "classdict" in r.json()["error"]


def test_auth_token_and_bad_tokens(server, alice):
    r = requests.post(f"{server.url}/api/auth-token/", data={"username": alice.name,
                                                              "password": alice.password})
    assert r.json() == {"token": alice.token}
    r = requests.post(f"{server.url}/api/auth-token/", data={"username": alice.name,
                                                              "password": "wrong-password"})
    assert r.status_code == 400 and "error" in r.json()
    bad = lasair_client("0" * 40, endpoint=f"{server.url}/api")
    with pytest.raises(LasairError, match="Unauthorized"):
        bad.cone(10.0, 10.0)
    r = requests.get(f"{server.url}/api/cone/?ra=1&dec=1", headers={"Authorization": "Bearer x"})
    assert r.status_code == 401 and "error" in r.json()
    r = requests.get(f"{server.url}/api/cone/", params={"ra": 1, "dec": 1,
                                                        "token": alice.token})
    assert r.status_code == 200

"""The portal's pages: accounts, CSRF, privacy, the filter builder, uploads and the
object page, over real HTTP with cookies."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

from web.sky import ID_COLUMNS

from .conftest import make_account

pytestmark = pytest.mark.integration


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html)[1]


def browser(server) -> tuple[requests.Session, str]:
    """A cookie session and its CSRF token."""
    s = requests.Session()
    return s, csrf_of(s.get(f"{server.url}/").text)


def register(server, name: str | None = None) -> tuple[requests.Session, str, str]:
    s, token = browser(server)
    name = name or f"p{uuid.uuid4().hex[:10]}"
    r = s.post(f"{server.url}/register", data={
        "csrf_token": token, "username": name, "email": f"{name}@example.org",
        "password": "correct horse", "password2": "correct horse"})
    assert r.status_code == 200 and name in r.text, r.text[:500]
    return s, csrf_of(r.text), name


def test_register_login_logout_profile_token(server):
    s, token, name = register(server)
    page = s.get(f"{server.url}/profile").text
    assert "No token yet" in page
    r = s.post(f"{server.url}/profile/tokens", data={"csrf_token": token})
    api_token = re.search(r'<code class="token">([0-9a-f]{40})</code>', r.text)[1]
    r = requests.get(f"{server.url}/api/filters/", headers={"Authorization": f"Token {api_token}"})
    assert r.status_code == 200
    s.post(f"{server.url}/logout", data={"csrf_token": token})
    assert "Log in" in s.get(f"{server.url}/").text
    s2, token2 = browser(server)
    r = s2.post(f"{server.url}/login", data={"csrf_token": token2, "username": name,
                                             "password": "wrong password"})
    assert "wrong password" in r.text
    r = s2.post(f"{server.url}/login?next=/profile",
                data={"csrf_token": token2, "username": name, "password": "correct horse"})
    assert r.url.endswith("/profile") and name in r.text


def test_forms_without_csrf_token_are_refused(server):
    s, token = browser(server)
    name = f"c{uuid.uuid4().hex[:8]}"
    data = {"username": name, "email": f"{name}@example.org", "password": "12345678abc",
            "password2": "12345678abc"}
    r = s.post(f"{server.url}/register", data=data)
    assert r.status_code == 403 and "security token" in r.text
    r = s.post(f"{server.url}/register", data={**data, "csrf_token": "forged"})
    assert r.status_code == 403
    other, other_token = browser(server)  # another visitor's token is no good either
    assert s.post(f"{server.url}/register",
                  data={**data, "csrf_token": other_token}).status_code == 403
    r = s.post(f"{server.url}/filters/run", data={"selected": "objects.hpx16"})
    assert r.status_code == 403
    r = s.post(f"{server.url}/filters/run", data={"selected": "objects.hpx16"},
               headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and "rows" in r.json()


def test_tampered_session_cookie_is_ignored(server):
    s, token, name = register(server)
    cookie = s.cookies.get("solas_session")
    forged = requests.Session()
    forged.cookies.set("solas_session", cookie[:-3] + ("AAA" if cookie[-3:] != "AAA" else "BBB"))
    assert name not in forged.get(f"{server.url}/").text
    assert name in s.get(f"{server.url}/").text


def test_builder_runs_and_saves_filters(server, sample_objects):
    s, token, name = register(server)
    oid = ID_COLUMNS[server.settings.survey]
    run = s.post(f"{server.url}/filters/run", headers={"X-CSRF-Token": token}, data={
        "selected": f"objects.{oid}, objects.hpx16", "tables": "objects",
        "conditions": "objects.hpx16 > 0"}).json()
    assert run["columns"] == [oid, "hpx16"] and len(run["rows"]) == len(sample_objects)
    bad = s.post(f"{server.url}/filters/run", headers={"X-CSRF-Token": token}, data={
        "selected": f"objects.{oid}", "conditions": "objects.hpx16 > 0; DROP TABLE x"}).json()
    assert "error" in bad
    r = s.post(f"{server.url}/filters/save", data={
        "csrf_token": token, "name": "page filter", "selected": f"objects.{oid}",
        "tables": "objects", "conditions": "objects.hpx16 > 0", "public": "1", "run": "1",
        "output": "2"})
    assert "page filter" in r.text and "consumer_snippet" not in r.text
    filter_id = int(re.search(r"/filters/(\d+)", r.url)[1])
    assert f"{server.settings.topic_prefix}{filter_id}" in r.text  # topic + snippet shown
    assert "lasair_consumer" in r.text
    # another user sees the public filter and copies it
    s2, token2, _ = register(server)
    page = s2.get(f"{server.url}/filters/{filter_id}").text
    assert "Copy to my filters" in page
    r = s2.post(f"{server.url}/filters/{filter_id}/copy", data={"csrf_token": token2})
    assert "Copy of page filter" in r.text
    copy_id = int(re.search(r"/filters/(\d+)", r.url)[1])
    assert copy_id != filter_id
    # ... but not a private one
    secret_name = f"secret-{uuid.uuid4().hex[:8]}"
    r = s.post(f"{server.url}/filters/save", data={
        "csrf_token": token, "name": secret_name, "selected": f"objects.{oid}",
        "tables": "objects"})
    hidden = int(re.search(r"/filters/(\d+)", r.url)[1])
    assert s2.get(f"{server.url}/filters/{hidden}").status_code == 404
    assert secret_name not in s2.get(f"{server.url}/filters").text
    assert s2.post(f"{server.url}/filters/{hidden}/copy",
                   data={"csrf_token": token2}).status_code == 404


def test_watchlist_upload_page_and_privacy(server, sample_objects):
    s, token, name = register(server)
    oid = ID_COLUMNS[server.settings.survey]
    ra, dec = (sample_objects[0][c] for c in (("ramean", "decmean")
               if server.settings.survey == "ztf" else ("ra", "decl")))
    csv = f"name,ra,dec\nhere,{ra},{dec}\nbroken,1\n".encode()
    r = s.post(f"{server.url}/watchlists?csrf_token={token}", data={"name": "page list"},
               files={"file": ("x.csv", csv)})
    assert r.status_code == 200 and "page list" in r.text
    wl_id = int(re.search(r"/watchlists/(\d+)", r.url)[1])
    for _ in range(100):
        progress = s.get(f"{server.url}/watchlists/{wl_id}/progress.json").json()
        if progress["state"] in ("ready", "failed"):
            break
    assert progress["state"] == "ready" and progress["hits"] >= 1
    page = s.get(f"{server.url}/watchlists/{wl_id}").text
    assert str(sample_objects[0][oid]) in page and "expected" in page  # hit + line error
    csv_text = s.get(f"{server.url}/watchlists/{wl_id}/hits.csv").text
    assert csv_text.splitlines()[0] == "object_id,cone_id,name,arcsec"
    other = requests.Session()
    assert other.get(f"{server.url}/watchlists/{wl_id}").status_code == 404
    assert "page list" not in other.get(f"{server.url}/watchlists").text
    obj = other.get(f"{server.url}/objects/{sample_objects[0][oid]}").text
    assert "page list" not in obj  # another user's private hit stays hidden
    assert "page list" in s.get(f"{server.url}/objects/{sample_objects[0][oid]}").text
    r = s.post(f"{server.url}/watchlists", data={"name": "no token"},
               files={"file": ("x.csv", csv)})
    assert r.status_code == 403


def test_object_page_and_cutouts(server, sample_objects):
    oid = ID_COLUMNS[server.settings.survey]
    page = requests.get(f"{server.url}/objects/{sample_objects[0][oid]}")
    assert page.status_code == 200
    assert 'id="lightcurve"' in page.text and '"kind":"detection"' in page.text
    urls = re.findall(r'src="(/objects/[^"]+\.png)"', page.text)
    assert len(urls) == 3
    png = requests.get(server.url + urls[0])
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert requests.get(f"{server.url}/objects/ZTF00aaaaaaa").status_code == 404
    search = requests.get(f"{server.url}/search", params={"q": sample_objects[0][oid]})
    assert search.url.endswith(f"/objects/{sample_objects[0][oid]}")


def test_search_by_tns_name_and_cone(server, sample_objects):
    from solas.stores import mariadb
    oid = ID_COLUMNS[server.settings.survey]
    target = sample_objects[1]
    with mariadb.connect(server.settings) as conn, conn.cursor() as cur:
        cur.execute(f"UPDATE objects SET tns_name='2099zzq' WHERE {oid}=%s", (target[oid],))
    try:
        r = requests.get(f"{server.url}/search", params={"q": "SN 2099zzq"})
        assert r.url.endswith(f"/objects/{target[oid]}")
    finally:
        with mariadb.connect(server.settings) as conn, conn.cursor() as cur:
            cur.execute(f"UPDATE objects SET tns_name=NULL WHERE {oid}=%s", (target[oid],))
    ra, dec = (target[c] for c in (("ramean", "decmean") if server.settings.survey == "ztf"
                                   else ("ra", "decl")))
    page = requests.get(f"{server.url}/search", params={"q": f"{ra} {dec} 3"}).text
    assert f'href="/objects/{target[oid]}"' in page
    assert "not a stored object id" in requests.get(f"{server.url}/search",
                                                    params={"q": "what?"}).text


def test_admin_creates_annotators_others_cannot(server):
    admin = make_account(server, "user", admin=True)
    s, token = browser(server)
    r = s.post(f"{server.url}/login", data={"csrf_token": token, "username": admin.name,
                                            "password": admin.password})
    token = csrf_of(r.text)
    topic = f"cls_{uuid.uuid4().hex[:6]}"
    r = s.post(f"{server.url}/annotators", data={"csrf_token": token, "topic": topic,
                                                 "owner": admin.name, "active": "1"})
    assert topic in r.text and "public" in r.text
    s2, token2, name2 = register(server)
    r = s2.post(f"{server.url}/annotators", data={"csrf_token": token2, "topic": "x_y"})
    assert r.status_code == 403
    assert s2.get(f"{server.url}/admin/users").status_code == 403
    # the admin makes the new user a power user
    users = s.get(f"{server.url}/admin/users").text
    user_id = re.search(rf'name="user_id" value="(\d+)">\s*<td>\d+</td><td>{name2}<', users)[1]
    s.post(f"{server.url}/admin/users", data={"csrf_token": token, "user_id": user_id,
                                              "user_class": "power"})
    assert "power" in s2.get(f"{server.url}/profile").text


def test_schema_page_lists_every_column(server):
    from solas.schema.tables import mariadb_tables
    page = requests.get(f"{server.url}/schema").text
    objects = next(t for t in mariadb_tables(server.settings.survey) if t.name == "objects")
    assert all(f"<code>{c}</code>" in page for c in objects.column_names)
    assert "watchlist:&lt;id&gt;" in page
    status = requests.get(f"{server.url}/status.json").json()
    assert status["objects"] >= 1 and "topics" in status

"""Hostile visitors of the portal (issue 32 items 4 and 6), over real HTTP: links and
redirects stay on the site, pages carry the security headers, nothing internal leaks."""
from __future__ import annotations

import pytest
import requests

from web.config import STATUS
from web.middleware import CONTENT_SECURITY_POLICY
from web.sky import ID_COLUMNS

from .test_pages import browser, register

pytestmark = pytest.mark.integration


def test_login_next_cannot_leave_the_site(server):
    s, token, name = register(server)
    s.post(f"{server.url}/logout", data={"csrf_token": token})
    s, token = browser(server)
    for target in ("%2F%09%2Fevil.example", "%2F%2Fevil.example", "https%3A%2F%2Fevil.example",
                   "%2F%5Cevil.example"):
        r = s.post(f"{server.url}/login?next={target}", allow_redirects=False,
                   data={"csrf_token": token, "username": name, "password": "correct horse"})
        assert r.status_code == 303 and r.headers["Location"] == "/", target
        s.post(f"{server.url}/logout", data={"csrf_token": token})
        s, token = browser(server)


def test_pages_and_api_carry_the_security_headers(server):
    for path in ("/", "/filters/new", "/api/cone/?ra=1&dec=1&radius=1", "/no-such-page"):
        r = requests.get(f"{server.url}{path}")
        assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in r.headers  # plain http here


def test_a_huge_cutout_source_id_is_not_found(server, sample_objects):
    oid = sample_objects[0][ID_COLUMNS[server.settings.survey]]
    for source in ("9" * 30, "9" * 5000, str(2**63)):
        r = requests.get(f"{server.url}/objects/{oid}/cutouts/{source}/Science.png")
        assert r.status_code == 404 and "64-bit" in r.text


def test_status_counts_only_public_or_own_items(server):
    s, token, _name = register(server)
    server.app[STATUS].clear()
    before = requests.get(f"{server.url}/status.json").json()
    mine_before = s.get(f"{server.url}/status.json").json()
    r = s.post(f"{server.url}/filters/save", data={
        "csrf_token": token, "name": "private", "selected": "objects."
        + ID_COLUMNS[server.settings.survey], "tables": "objects", "conditions": "",
        "run": "0", "output": "0"}, allow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    server.app[STATUS].clear()
    after = requests.get(f"{server.url}/status.json").json()
    mine = s.get(f"{server.url}/status.json").json()
    assert after["filters"] == before["filters"]  # another user's private filter: unseen
    assert mine["filters"] == mine_before["filters"] + 1


def _on_portal(server, coroutine):
    import asyncio
    return asyncio.run_coroutine_threadsafe(coroutine, server.loop).result(30)


def test_api_tokens_are_stored_hashed_and_still_work(server, alice):
    from web import accounts
    from web.config import SERVICES
    from web.security import new_api_token, token_digest
    pool = server.app[SERVICES].db
    stored = _on_portal(server, db_values(pool, alice.id))
    assert alice.token not in stored and token_digest(alice.token) in stored
    again = requests.post(f"{server.url}/api/auth-token/",
                          data={"username": alice.name, "password": alice.password}).json()
    assert again == {"token": alice.token}
    # a token stored in clear before this change is hashed at start-up and keeps working
    legacy = new_api_token()
    _on_portal(server, _insert_token(pool, legacy, alice.id))
    assert _on_portal(server, accounts.hash_clear_tokens(pool)) >= 1
    assert legacy not in _on_portal(server, db_values(pool, alice.id))
    r = requests.get(f"{server.url}/api/filters/", headers={"Authorization": f"Token {legacy}"})
    assert r.status_code == 200
    assert _on_portal(server, accounts.delete_token(pool, alice.id, legacy))
    r = requests.get(f"{server.url}/api/filters/", headers={"Authorization": f"Token {legacy}"})
    assert r.status_code == 401


async def db_values(pool, user_id: int) -> set[str]:
    from web import db
    return {r["token"] for r in await db.fetch_all(
        pool, "SELECT token FROM api_tokens WHERE user=%s", (user_id,))}


async def _insert_token(pool, token: str, user_id: int) -> None:
    from web import db
    await db.execute(pool, "INSERT INTO api_tokens (token, user) VALUES (%s, %s)",
                     (token, user_id))


def test_metrics_are_not_served_on_the_public_port(server):
    """Issue 32 item 6: /metrics was public (route names, counts, timings)."""
    assert requests.get(f"{server.url}/metrics").status_code == 404


def test_a_result_over_the_byte_cap_is_stopped_with_an_error(server, sample_objects):
    """Issue 32 item 2: a 300 MB result grew the portal by 1.1 GB (all rows buffered)."""
    from solas.stores.mariadb import readonly_credentials
    from web.queries import QueryError, ReadOnlyRunner
    oid = ID_COLUMNS[server.settings.survey]
    sql = f"SELECT objects.{oid}, objects.{oid} AS again FROM objects LIMIT 1000"

    async def refuse_then_answer():
        runner = ReadOnlyRunner(server.settings, *readonly_credentials(server.settings),
                                max_bytes=20)
        try:
            with pytest.raises(QueryError, match="larger than 20 bytes.*RESULT_MAX_BYTES"):
                await runner.run(sql)
            runner.max_bytes = 10**9  # the runner is still usable
            return await runner.run(sql)
        finally:
            runner.close()

    assert len(_on_portal(server, refuse_then_answer()).rows) == \
        min(1000, len(sample_objects))
    assert server.settings.result_max_bytes == 100 * 2**20


def test_the_owner_sees_why_a_filter_was_switched_off(server):
    """Issue 32 item 1: the stage's message is shown where the portal shows errors."""
    from solas.stores import mariadb
    s, token, _name = register(server)
    r = s.post(f"{server.url}/filters/save", data={
        "csrf_token": token, "name": "slow one", "selected": "objects."
        + ID_COLUMNS[server.settings.survey], "tables": "objects", "conditions": "",
        "run": "1", "output": "0"})
    filter_url = r.url
    fid = int(filter_url.rsplit("/", 1)[1])
    with mariadb.connect(server.settings) as conn, conn.cursor() as cursor:
        cursor.execute("UPDATE filters SET run=0, last_error='switched off: it ran longer "
                       "than 10 s', last_error_at=NOW(6) WHERE id=%s", (fid,))
    assert "switched off: it ran longer than 10 s" in s.get(filter_url).text
    assert "switched off" not in requests.get(filter_url).text  # not to others

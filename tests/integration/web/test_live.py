"""The live feed: matches published to the ``live`` topic reach WebSocket clients within
a second, each client seeing only public matches and its user's own."""
from __future__ import annotations

import asyncio
import re
import time

import aiohttp
import orjson
import pytest
import requests
from aiokafka import AIOKafkaProducer

from solas.topics import LIVE, stage_topic
from web.config import LIVE as LIVE_HUB

pytestmark = pytest.mark.integration
BIG_ID = 2**62 + 12345  # 64-bit ids must arrive exact


def login_cookie(server, account) -> str:
    s = requests.Session()
    token = re.search(r'csrf-token" content="([^"]+)"', s.get(f"{server.url}/").text)[1]
    s.post(f"{server.url}/login", data={"csrf_token": token, "username": account.name,
                                        "password": account.password})
    return f"solas_session={s.cookies['solas_session']}"


def make_filter(server, account, public: bool) -> int:
    r = requests.post(f"{server.url}/api/filters/", headers={
        "Authorization": f"Token {account.token}"}, json={
        "name": "live", "selected": "objects.hpx16", "tables": "objects", "public": public,
        "run": 1})
    return r.json()["id"]


def match(filter_id: int, user: int, public: bool, n: int) -> dict:
    return {"filter_id": filter_id, "filter_name": "live", "user": user, "public": public,
            "object_id": BIG_ID + n, "UTC": "2026-01-01T00:00:00", "row": {"n": n}}


async def receive(ws, count: int, timeout: float = 5.0) -> list[tuple[dict, float]]:
    out = []
    try:
        while len(out) < count:
            msg = await asyncio.wait_for(ws.receive(), timeout)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = orjson.loads(msg.data)
            if not data.get("hello"):
                out.append((data, time.monotonic()))
    except asyncio.TimeoutError:
        pass
    return out


def test_live_feed_privacy_and_latency(server, alice, bob):
    private = make_filter(server, alice, public=False)
    public = make_filter(server, alice, public=True)
    bobs = make_filter(server, bob, public=False)
    alice_cookie = login_cookie(server, alice)
    bob_cookie = login_cookie(server, bob)
    hub = server.app[LIVE_HUB]
    deadline = time.monotonic() + 30
    while not hub.ready.is_set() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert hub.ready.is_set()
    ws_url = server.url.replace("http", "ws")

    async def scenario():
        async with aiohttp.ClientSession() as anon, \
                aiohttp.ClientSession(headers={"Cookie": alice_cookie}) as a_sess, \
                aiohttp.ClientSession(headers={"Cookie": bob_cookie}) as b_sess:
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await b_sess.ws_connect(f"{ws_url}/ws/filter/{private}")
            with pytest.raises(aiohttp.WSServerHandshakeError):  # another site's page
                await a_sess.ws_connect(f"{ws_url}/ws/live", origin="https://evil.example")
            sockets = {"anon": await anon.ws_connect(f"{ws_url}/ws/live"),
                       "alice": await a_sess.ws_connect(f"{ws_url}/ws/live"),
                       "bob": await b_sess.ws_connect(f"{ws_url}/ws/live"),
                       "alice_private": await a_sess.ws_connect(f"{ws_url}/ws/filter/{private}"),
                       "bob_public": await b_sess.ws_connect(f"{ws_url}/ws/filter/{public}")}
            for ws in sockets.values():  # the hello frame
                assert orjson.loads((await ws.receive()).data)["hello"]
            expected = {"anon": [1], "alice": [0, 1], "bob": [1, 2], "alice_private": [0],
                        "bob_public": [1]}
            readers = {name: asyncio.create_task(receive(ws, len(expected[name]) + 1, 3.0))
                       for name, ws in sockets.items()}  # reading before anything is sent
            producer = AIOKafkaProducer(bootstrap_servers=server.settings.kafka)
            await producer.start()
            sent_at = {}
            try:
                for n, (fid, user, pub) in enumerate([(private, alice.id, False),
                                                      (public, alice.id, True),
                                                      (bobs, bob.id, False)]):
                    await producer.send_and_wait(stage_topic(server.settings, LIVE),
                                                 orjson.dumps(match(fid, user, pub, n)))
                    sent_at[n] = time.monotonic()
            finally:
                await producer.stop()
            got = {name: await task for name, task in readers.items()}
            for ws in sockets.values():
                await ws.close()
            return expected, got, sent_at

    expected, got, sent_at = asyncio.run(scenario())
    for name, want in expected.items():
        # unkeyed matches spread over the partitions: their order is not defined
        assert sorted(m["row"]["n"] for m, _ in got[name]) == want, name
        for m, at in got[name]:
            assert m["object_id"] == BIG_ID + m["row"]["n"]
            assert m["object_key"] == str(BIG_ID + m["row"]["n"])
            assert at - sent_at[m["row"]["n"]] < 1.0, (name, at - sent_at[m["row"]["n"]])

"""E-mail digests of filters with e-mail output, through a real local SMTP server."""
from __future__ import annotations

import dataclasses
import email
import socket
import uuid

import orjson
import pytest
from aiosmtpd.controller import Controller

from solas.processors.digest import send_digests
from solas.stores import mariadb

pytestmark = pytest.mark.integration


class Inbox:
    """aiosmtpd handler keeping every message it is sent."""

    def __init__(self):
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def queue_matches(settings, n: int, name: str) -> int:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO users (username, email) VALUES ('mailme', "
                       "'astro@example.org')")
        user = cursor.lastrowid
        cursor.execute("INSERT INTO filters (user, name, selected, tables, conditions, run, "
                       "output) VALUES (%s, %s, 'objects.objectId', 'objects', "
                       "'objects.ncand > 1', 1, 1)", (user, name))
        fid = cursor.lastrowid
        cursor.executemany("INSERT INTO email_queue (filter_id, object_key, payload) "
                           "VALUES (%s, %s, %s)",
                           [(fid, f"ZTF21aaaa{i:03d}", orjson.dumps({"ncand": i}).decode())
                            for i in range(n)])
        return fid


def queued(settings, fid: int) -> int:
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM email_queue WHERE filter_id=%s", (fid,))
        return cursor.fetchone()[0]


def test_a_digest_carries_every_queued_match_and_empties_the_queue(ztf):
    name = f"nightly SNe {uuid.uuid4().hex[:6]}"
    fid = queue_matches(ztf, 3, name)
    inbox, port = Inbox(), free_port()
    settings = dataclasses.replace(ztf, smtp=f"127.0.0.1:{port}")
    with pytest.raises(OSError):  # no SMTP server yet: the matches stay queued
        send_digests(settings)
    assert queued(ztf, fid) == 3
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert send_digests(settings) >= 1
    finally:
        controller.stop()
    mine = [m for m in inbox.messages if name in m["Subject"]]
    assert len(mine) == 1 and mine[0]["To"] == "astro@example.org"
    body = mine[0].get_payload()
    assert all(f"ZTF21aaaa{i:03d}" in body for i in range(3)) and "3 new matches" in \
        mine[0]["Subject"]
    assert queued(ztf, fid) == 0

"""E-mail digests: the matches of filters with output 1, sent to their owners.

Matches wait in ``email_queue`` (keyed by filter and object, so a replay never
queues one twice); :func:`send_digests` sends one message per filter through
``SOLAS_SMTP`` and removes exactly the rows it sent.
"""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from typing import NamedTuple

import orjson

from solas.settings import Settings
from solas.stores import mariadb

log = logging.getLogger(__name__)
MAX_ROWS_PER_MAIL = 1000

QUEUE_SQL = ("SELECT q.filter_id, f.name, u.email, q.object_key, q.payload FROM email_queue q "
             "JOIN filters f ON f.id = q.filter_id LEFT JOIN users u ON u.id = f.user "
             "ORDER BY q.filter_id, q.queued")


class Digest(NamedTuple):
    """The queued matches of one filter."""

    filter_id: int
    filter_name: str
    email: str | None
    matches: list[tuple[str, dict]]   # (object key, payload)


def group_digests(rows) -> list[Digest]:
    """Queue rows (filter, name, email, object, payload JSON) grouped per filter."""
    digests: dict[int, Digest] = {}
    for filter_id, name, email, key, payload in rows:
        digest = digests.setdefault(filter_id, Digest(filter_id, name, email, []))
        digest.matches.append((key, orjson.loads(payload)))
    return list(digests.values())


def compose(digest: Digest, sender: str, portal: str) -> EmailMessage:
    """The digest e-mail: one line per match, at most :data:`MAX_ROWS_PER_MAIL`."""
    message = EmailMessage()
    message["From"], message["To"] = sender, digest.email
    message["Subject"] = (f"Solas filter {digest.filter_name!r}: "
                          f"{len(digest.matches)} new matches")
    lines = [f"Filter {digest.filter_name} (id {digest.filter_id}) matched "
             f"{len(digest.matches)} objects:", ""]
    for key, payload in digest.matches[:MAX_ROWS_PER_MAIL]:
        fields = ", ".join(f"{k}={v}" for k, v in payload.items())
        lines.append(f"{key}: {fields}  {portal}/objects/{key}/")
    if len(digest.matches) > MAX_ROWS_PER_MAIL:
        lines.append(f"... and {len(digest.matches) - MAX_ROWS_PER_MAIL} more")
    message.set_content("\n".join(lines) + "\n")
    return message


class DigestRun(NamedTuple):
    """What one round of digests did."""

    sent: int
    """E-mails sent."""
    failed: int
    """Digests whose send failed (their matches stay queued)."""


def send_digests(settings: Settings) -> int:
    """Send every queued digest (blocking); returns the number of e-mails sent.  A
    filter whose owner has no address, or whose mail fails, keeps its queue."""
    return send_queued(settings).sent


def send_queued(settings: Settings) -> DigestRun:
    """:func:`send_digests`, counting the digests whose send failed.  Raises OSError if
    the SMTP server cannot be reached (nothing sent, every match still queued)."""
    host, _, port = settings.smtp.partition(":")
    sent = failed = 0
    with mariadb.connect(settings) as conn, conn.cursor() as cursor:
        cursor.execute(QUEUE_SQL)
        digests = group_digests(cursor.fetchall())
        if not digests:
            return DigestRun(0, 0)
        with smtplib.SMTP(host, int(port or 25), timeout=30) as smtp:
            for digest in digests:
                if not digest.email:
                    continue
                try:
                    smtp.send_message(compose(digest, settings.smtp_sender,
                                              settings.web_public_url))
                except smtplib.SMTPException as exc:
                    log.error("digest of filter %d not sent: %s", digest.filter_id, exc)
                    failed += 1
                    continue
                cursor.executemany("DELETE FROM email_queue WHERE filter_id=%s AND "
                                   "object_key=%s", [(digest.filter_id, k)
                                                     for k, _ in digest.matches])
                sent += 1
    return DigestRun(sent, failed)

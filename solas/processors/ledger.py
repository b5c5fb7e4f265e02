"""The ledger of filter matches sent (MariaDB ``filter_emitted``), judged without I/O.

A filter worker records each (filter, alert source id) pair it is about to send, with
the record it came from (its *origin*, ``topic/partition/offset``) and its own Kafka
transactional id (its *owner*), then sends the matches and the batch's offsets in one
Kafka transaction, then marks the pairs committed.  A pair found in the ledger is:

* **sent** when marked committed, or recorded for another record of the same alert;
* **to send again** when this worker recorded it for this very record and never marked
  it: its own earlier transaction was aborted (a retry, or the restart's
  ``init_transactions``, aborted it);
* **in doubt** when another worker recorded it for this very record and never marked
  it: after a rebalance that worker's transaction may still be open.  Kafka does not
  fence it (aiokafka sends no group generation with the offsets, KIP-447), so the pair
  is sent only once that transaction has surely ended without committing the offset.

:func:`settle_doubts` decides an in-doubt pair from the consumer group's committed
offset of the origin's partition and the entry's age.
"""
from __future__ import annotations

from typing import Iterable, Mapping, NamedTuple

from aiokafka import TopicPartition

Pair = tuple[int, int]
"""(filter id, alert source id)."""

ABORT_CLEANUP_S = 10.0
"""Kafka's ``transaction.abort.timed.out.transaction.cleanup.interval.ms``, s: how long
after its timeout an open transaction may still wait to be aborted by the broker."""


class LedgerEntry(NamedTuple):
    """One ``filter_emitted`` row."""

    pair: Pair
    origin: str       # topic/partition/offset of the record that matched
    committed: bool   # its Kafka transaction committed
    owner: str        # transactional id of the worker that recorded it
    age_s: float      # seconds since it was recorded, s (MariaDB's clock)


class Verdict(NamedTuple):
    """What the ledger says about a batch's matches."""

    sent: frozenset[Pair]
    in_doubt: tuple[LedgerEntry, ...]


class Settled(NamedTuple):
    """In-doubt entries decided: sent, aborted (send again), or still open."""

    sent: frozenset[Pair]
    aborted: frozenset[Pair]
    pending: tuple[LedgerEntry, ...]


def parse_origin(origin: str) -> tuple[TopicPartition, int]:
    """The partition and offset of an origin ``topic/partition/offset`` (Kafka topic
    names cannot contain ``/``)."""
    topic, partition, offset = origin.rsplit("/", 2)
    return TopicPartition(topic, int(partition)), int(offset)


def judge_entries(entries: Iterable[LedgerEntry], matches: Mapping[Pair, str],
                  owner: str) -> Verdict:
    """Sort the ledger ``entries`` of the batch's ``matches`` (pair -> origin) for worker
    ``owner``; a match with no entry was never sent and is in neither set."""
    sent, doubt = set(), []
    for entry in entries:
        origin = matches.get(entry.pair)
        if origin is None:
            continue
        if entry.committed or entry.origin != origin:
            sent.add(entry.pair)
        elif entry.owner != owner:
            doubt.append(entry)
    return Verdict(frozenset(sent), tuple(doubt))


def settle_doubts(entries: Iterable[LedgerEntry], committed: Mapping[TopicPartition, int],
                  transaction_timeout_s: float) -> Settled:
    """Decide in-doubt ``entries`` from the consumer group's ``committed`` offsets.

    An offset committed past the origin means the other worker's transaction committed:
    the pair was sent.  Otherwise the pair was not sent once the entry is older than the
    transaction timeout plus the broker's abort clean-up (the transaction began after the
    entry was written, so it has ended by then); younger entries stay pending."""
    sent, aborted, pending = set(), set(), []
    for entry in entries:
        tp, offset = parse_origin(entry.origin)
        if committed.get(tp, -1) > offset:
            sent.add(entry.pair)
        elif entry.age_s > transaction_timeout_s + ABORT_CLEANUP_S:
            aborted.add(entry.pair)
        else:
            pending.append(entry)
    return Settled(frozenset(sent), frozenset(aborted), tuple(pending))

"""Judging the ledger of filter matches: what was sent, what to send again, and what
another worker's open transaction holds."""
import pytest
from aiokafka import TopicPartition

from solas.processors.ledger import (ABORT_CLEANUP_S, LedgerEntry, judge_entries,
                                     parse_origin, settle_doubts)

ORIGIN = "sherlocked/1/500"
TP = TopicPartition("sherlocked", 1)
TIMEOUT = 30.0


def entry(pair=(7, 11), origin=ORIGIN, committed=False, owner="solas-filter-1", age_s=1.0):
    return LedgerEntry(pair, origin, committed, owner, age_s)


def test_origin_gives_partition_and_offset():
    assert parse_origin("ns.sherlocked/3/12345") == (TopicPartition("ns.sherlocked", 3), 12345)
    with pytest.raises(ValueError):
        parse_origin("sherlocked-3-12345")


def test_committed_or_other_record_is_sent_and_own_uncommitted_is_sent_again():
    matches = {(7, 11): ORIGIN, (7, 12): ORIGIN, (8, 11): ORIGIN}
    verdict = judge_entries([
        entry((7, 11), committed=True, owner="solas-filter-2"),
        entry((7, 12), origin="sherlocked/0/3", owner="solas-filter-2"),
        entry((8, 11), owner="solas-filter-1"),    # this worker's aborted attempt
    ], matches, "solas-filter-1")
    assert verdict.sent == {(7, 11), (7, 12)}
    assert verdict.in_doubt == ()


def test_another_workers_uncommitted_entry_for_this_record_is_in_doubt():
    doubtful = entry(owner="solas-filter-2")
    verdict = judge_entries([doubtful, entry((9, 9))], {(7, 11): ORIGIN}, "solas-filter-1")
    assert verdict.sent == frozenset() and verdict.in_doubt == (doubtful,)


def test_an_offset_committed_past_the_origin_means_sent():
    settled = settle_doubts([entry(age_s=500.0)], {TP: 501}, TIMEOUT)
    assert settled.sent == {(7, 11)} and not settled.aborted and not settled.pending


def test_an_offset_at_the_origin_is_not_past_it():
    young = settle_doubts([entry(age_s=1.0)], {TP: 500}, TIMEOUT)
    assert young.pending == (entry(age_s=1.0),) and not young.sent
    old = settle_doubts([entry(age_s=TIMEOUT + ABORT_CLEANUP_S + 0.1)], {TP: 500}, TIMEOUT)
    assert old.aborted == {(7, 11)} and not old.pending


def test_no_committed_offset_waits_out_the_transaction_timeout():
    settled = settle_doubts([entry((1, 1), age_s=TIMEOUT), entry((2, 2), age_s=TIMEOUT + 11)],
                            {TopicPartition("sherlocked", 0): 10 ** 6}, TIMEOUT)
    assert [e.pair for e in settled.pending] == [(1, 1)] and settled.aborted == {(2, 2)}

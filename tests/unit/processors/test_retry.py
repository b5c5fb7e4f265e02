"""Retrying transient errors, giving up at once on permanent ones, and splitting a
batch down to the items a store refuses."""
import asyncio

import pymysql
import pytest

from solas.processors import retry
from solas.processors.retry import (
    PermanentFailure,
    refused_positions,
    store_apart,
    until_done,
)
from solas.stores.faults import SCHEMA, classify_fault

TOO_LONG = pymysql.err.DataError(1406, "Data too long for column 'name' at row 1")
NO_COLUMN = pymysql.err.OperationalError(1054, "Unknown column 'name' in 'field list'")
GONE = pymysql.err.OperationalError(2006, "MySQL server has gone away")


class Table:
    """A store that refuses names longer than ``width`` (DATA), or every write once its
    column is dropped (SCHEMA), and fails ``outages`` writes as if the server were away."""

    def __init__(self, width=8, dropped=False, outages=0):
        self.width, self.dropped, self.outages = width, dropped, outages
        self.rows: dict[int, str] = {}
        self.writes = 0

    async def write(self, names, positions):
        self.writes += 1
        if self.outages:
            self.outages -= 1
            raise GONE
        if self.dropped:
            raise NO_COLUMN
        if any(len(names[p]) > self.width for p in positions):
            raise TOO_LONG
        self.rows.update((p, names[p]) for p in positions)


@pytest.fixture(autouse=True)
def short_backoff(monkeypatch):
    monkeypatch.setattr(retry, "FIRST_BACKOFF_S", 0.001)


def test_a_transient_error_is_retried_until_the_write_succeeds():
    table, names = Table(outages=3), ["a", "b"]
    asyncio.run(until_done("filter", "store", table.write, names, [0, 1],
                           classify=classify_fault))
    assert table.rows == {0: "a", 1: "b"} and table.writes == 4


def test_a_permanent_error_is_raised_at_once_naming_stage_and_step():
    table = Table(dropped=True)
    with pytest.raises(PermanentFailure) as caught:
        asyncio.run(until_done("filter", "store", table.write, ["a"], [0],
                               classify=classify_fault))
    assert table.writes == 1
    failure = caught.value
    assert (failure.stage, failure.step, failure.fault.kind) == ("filter", "store", SCHEMA)
    assert failure.error is NO_COLUMN and "Unknown column 'name'" in str(failure)


def test_by_default_every_error_is_retried():
    table = Table(outages=2)
    asyncio.run(until_done("filter", "store", table.write, ["a"], [0]))
    assert table.rows == {0: "a"}


def test_a_value_that_does_not_fit_refuses_only_its_own_item():
    names = ["ok", "x" * 20, "fine", "good", "y" * 9, "z"]
    table = Table(outages=1)
    refused = asyncio.run(store_apart("filter", "store",
                                      lambda p: table.write(names, p), len(names),
                                      classify_fault))
    assert refused_positions(refused) == {1, 4}
    assert [r.positions for r in refused] == [[1], [4]]
    assert all(r.failure.fault.reason.startswith("DataError (1406)") for r in refused)
    assert table.rows == {0: "ok", 2: "fine", 3: "good", 5: "z"}


def test_a_schema_mismatch_refuses_the_whole_batch_in_one_write():
    names = [f"n{i}" for i in range(500)]
    table = Table(dropped=True)
    refused = asyncio.run(store_apart("filter", "store",
                                      lambda p: table.write(names, p), len(names),
                                      classify_fault))
    assert [len(r.positions) for r in refused] == [500] and table.writes == 1
    assert refused[0].failure.fault.kind == SCHEMA


def test_nothing_to_store_writes_nothing():
    table = Table()
    assert asyncio.run(store_apart("filter", "store", lambda p: table.write([], p), 0,
                                   classify_fault)) == []
    assert table.writes == 0

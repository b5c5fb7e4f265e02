"""Retrying a batch step until it succeeds: a store, the broker or a registry being
away must delay a batch, never lose it or crash the worker.  An error that retrying
cannot cure (a schema mismatch, a value that does not fit: see
:mod:`solas.stores.faults`) must not stall the stage either: a step given a classifier
raises it at once as :class:`PermanentFailure`, and the processor sends the batch, or
the part of it at fault (:func:`store_apart`), to the dead-letter topic."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import NamedTuple, TypeVar

from solas import metrics
from solas.stores.faults import DATA, Fault, always_transient

log = logging.getLogger(__name__)
T = TypeVar("T")
FIRST_BACKOFF_S = 0.5
"""Wait before the first retry, s (doubled at each retry)."""
MAX_BACKOFF_S = 10.0
"""Longest wait between retries, s."""
Classifier = Callable[[BaseException], Fault]


class PermanentFailure(Exception):
    """A batch step failed with an error that retrying cannot cure."""

    def __init__(self, stage: str, step: str, fault: Fault, error: BaseException):
        super().__init__(f"{stage}/{step}: {fault.reason}")
        self.stage, self.step, self.fault, self.error = stage, step, fault, error


async def until_done(stage: str, step: str, call: Callable[..., Awaitable[T]], *args: object,
                     classify: Classifier = always_transient) -> T:
    """``await call(*args)``, retried with exponential back-off (at most
    :data:`MAX_BACKOFF_S`) while ``classify`` calls its errors transient (by default
    all are); a permanent one is raised at once as :class:`PermanentFailure`."""
    backoff = FIRST_BACKOFF_S
    while True:
        try:
            return await call(*args)
        except Exception as exc:  # drivers raise many kinds; none may lose data
            fault = classify(exc)
            if fault.permanent:
                raise PermanentFailure(stage, step, fault, exc) from exc
            metrics.STAGE_RETRIES.labels(stage, step).inc()
            log.error("%s/%s failed (%s); retrying in %.1f s", stage, step, fault.reason,
                      backoff)
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, MAX_BACKOFF_S)


class Refused(NamedTuple):
    """Items a store refused for good, and why."""

    positions: list[int]
    """Positions of the refused items in the sequence given to :func:`store_apart`."""
    failure: PermanentFailure


async def store_apart(stage: str, step: str, write: Callable[[list[int]], Awaitable[object]],
                      count: int, classify: Classifier) -> list[Refused]:
    """Write ``count`` items (``write`` takes their positions), retrying transient
    errors; returns what was refused for good.  A data fault (:data:`DATA`: some values
    do not fit) splits the items in halves, down to the single items at fault, so the
    good ones are stored; any other permanent fault (the schema) refuses them all at once.
    Writes are idempotent upserts, so writing an item again is harmless."""
    refused: list[Refused] = []
    pending: list[list[int]] = [list(range(count))] if count else []
    while pending:
        positions = pending.pop()
        try:
            await until_done(stage, step, write, positions, classify=classify)
        except PermanentFailure as failure:
            if failure.fault.kind != DATA or len(positions) == 1:
                refused.append(Refused(positions, failure))
            else:
                half = len(positions) // 2
                pending += [positions[half:], positions[:half]]
    return sorted(refused, key=lambda r: r.positions[0])


def refused_positions(refused: Sequence[Refused]) -> set[int]:
    """Every position of ``refused``."""
    return {p for r in refused for p in r.positions}

"""Retrying a batch step until it succeeds: a store, the broker or a registry being
away must delay a batch, never lose it or crash the worker."""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable, TypeVar

from solas import metrics

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BACKOFF_S = 10.0


async def until_done(stage: str, step: str, call: Callable[..., Awaitable[T]], *args,
                     permanent: tuple[type[BaseException], ...] = ()) -> T:
    """``await call(*args)``, retried with exponential back-off (at most
    :data:`MAX_BACKOFF_S`); errors of the data itself (``permanent``) are raised at once."""
    backoff = 0.5
    while True:
        try:
            return await call(*args)
        except permanent:
            raise
        except Exception as exc:  # drivers raise many kinds; none may lose data
            metrics.STAGE_RETRIES.labels(stage, step).inc()
            log.error("%s/%s failed (%s: %s); retrying in %.1f s", stage, step,
                      type(exc).__name__, exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(2 * backoff, MAX_BACKOFF_S)

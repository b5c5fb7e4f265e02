"""Faust's aiokafka transport with the workers' fetch sizing and safe offset commits.

faust asks the broker for records with ``fetch.min.bytes`` = 1, so each fetch
returns as soon as any record is there: at a few hundred alerts per second a
worker's consumer thread fetched a few alerts at a time and spent a fifth of the
ingest worker's CPU on fetching.  These consumers wait until
:attr:`~solas.settings.Settings.consumer_fetch_min_bytes` are ready, or
:attr:`~solas.settings.Settings.consumer_fetch_max_wait_ms` have passed.

faust 0.15.3 also commits past messages still being processed when an agent
runs several actors (faust-streaming issue #606): it commits the first run of
consecutive acknowledged offsets, checking the run's start against the last
commit only when that commit is above 0, and then one offset too leniently.
One ingest actor finishing its batch before another could commit over the
other's batch, and a ``kill -9`` then lost it.  These consumers never commit
at or past the lowest offset handed to a stream and not yet acknowledged.
"""
from __future__ import annotations

from typing import Iterable

import aiokafka
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, Message
from faust.types.tuples import ack_lock

from solas.settings import Settings


def transport_for(settings: Settings) -> type[driver.Transport]:
    """The faust transport class whose worker consumers use ``settings``' fetch sizing."""

    class ConsumerThread(driver.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport) -> aiokafka.AIOKafkaConsumer:
            consumer = super()._create_worker_consumer(transport)
            return with_fetch_sizing(consumer, settings)

    class Consumer(driver.Consumer):
        def _new_consumer_thread(self) -> ConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        def _new_offset(self, tp: TP) -> int | None:
            """faust's offset to commit for ``tp``, held below its messages in flight."""
            with ack_lock:
                head = lowest_in_flight(self._unacked_messages, tp,
                                        self._committed_offset[tp])
                if head is None:
                    return super()._new_offset(tp)
                acked = self._acked[tp]
                held = [offset for offset in acked if offset > head]
                acked[:] = [offset for offset in acked if offset < head]
                try:
                    return super()._new_offset(tp) if acked else None
                finally:
                    acked.extend(held)

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


def with_fetch_sizing(consumer: aiokafka.AIOKafkaConsumer, settings: Settings
                      ) -> aiokafka.AIOKafkaConsumer:
    """``consumer`` (not yet started) with the fetch sizing of ``settings``: aiokafka
    passes these to its fetcher when the consumer starts."""
    consumer._fetch_min_bytes = settings.consumer_fetch_min_bytes
    consumer._fetch_max_bytes = settings.consumer_fetch_max_bytes
    consumer._fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms
    return consumer


def lowest_in_flight(messages: Iterable[Message], tp: TP, committed: int | None
                     ) -> int | None:
    """The lowest offset of ``tp`` among ``messages`` (those handed to streams) that is
    not acknowledged and not below the ``committed`` offset; None if there is none."""
    return min((m.offset for m in messages
                if m.tp == tp and not m.acked and (committed is None or m.offset >= committed)),
               default=None)

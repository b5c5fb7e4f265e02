"""Faust's aiokafka transport with the workers' fetch sizing.

faust asks the broker for records with ``fetch.min.bytes`` = 1, so each fetch
returns as soon as any record is there: at a few hundred alerts per second a
worker's consumer thread fetched a few alerts at a time and spent a fifth of the
ingest worker's CPU on fetching.  These consumers wait until
:attr:`~solas.settings.Settings.consumer_fetch_min_bytes` are ready, or
:attr:`~solas.settings.Settings.consumer_fetch_max_wait_ms` have passed.
"""
from __future__ import annotations

import aiokafka
from faust.transport.drivers import aiokafka as driver

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

    class Transport(driver.Transport):
        pass

    Transport.Consumer = Consumer
    return Transport


def with_fetch_sizing(consumer: aiokafka.AIOKafkaConsumer, settings: Settings
                      ) -> aiokafka.AIOKafkaConsumer:
    """``consumer`` (not yet started) with the fetch sizing of ``settings``: aiokafka
    passes these to its fetcher when the consumer starts."""
    consumer._fetch_min_bytes = settings.consumer_fetch_min_bytes
    consumer._fetch_max_wait_ms = settings.consumer_fetch_max_wait_ms
    return consumer

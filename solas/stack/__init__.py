"""The local real service stack: Kafka (KRaft), Cassandra, MariaDB and Prometheus.

Everything runs on 127.0.0.1 with its state under ``$SOLAS_HOME``; see
:mod:`solas.stack.manager` for ``install``/``up``/``down``/``status`` and
:class:`solas.stack.base.Service` for the interface each service implements.
"""
from solas.stack.base import Service, ServiceStatus
from solas.stack.manager import (down, install, restart_service, service, services,
                                 start_service, status, stop_service, up)
from solas.stack.process import StackError

__all__ = ["Service", "ServiceStatus", "StackError", "down", "install", "restart_service",
           "service", "services", "start_service", "status", "stop_service", "up"]

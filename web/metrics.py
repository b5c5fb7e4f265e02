"""The portal's Prometheus metrics (declared in :mod:`solas.metrics`): a middleware
counting requests by route template, method and status.  They are served on their own
port (``SOLAS_WEB_METRICS_PORT``, see :func:`web.main.run_web`), never on the public
web port."""
from __future__ import annotations

import time

from aiohttp import web

from solas import metrics


def route_name(request: web.Request) -> str:
    """The route template (``/api/filters/{id}/``), never the raw path: bounded labels."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler):
    """Count and time every request, including the errors rendered further in."""
    start = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = route_name(request)
        metrics.API_REQUESTS.labels(route, request.method, str(status)).inc()
        metrics.API_REQUEST_DURATION.labels(route).observe(time.perf_counter() - start)


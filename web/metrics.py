"""The portal's Prometheus metrics (declared in :mod:`solas.metrics`): a middleware
counting requests by route template, method and status, and the ``/metrics`` page."""
from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

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


async def metrics_page(request: web.Request) -> web.Response:
    """``/metrics`` in the Prometheus text format."""
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

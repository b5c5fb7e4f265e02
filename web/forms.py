"""Reading request parameters: query string, urlencoded or multipart forms, JSON bodies.

The PyPI ``lasair`` client posts forms whose booleans are Python's ``True``/``False``
strings; scripts may post JSON.  Every parser raises :class:`BadRequest` naming the
parameter, which the error middleware turns into 400 ``{"error": ...}``.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

import orjson
from aiohttp import web

from solas.filters.build import ZTF_OBJECT_ID
from web.security import is_http_url

TRUE = {"1", "true", "yes", "on", "t", "y"}
FALSE = {"0", "false", "no", "off", "f", "n", ""}


class Problem(Exception):
    """An error answered to the client: HTTP ``status`` and a message fit to show."""

    status = 400

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(Problem):
    status = 400


class Unauthorized(Problem):
    status = 401


class Forbidden(Problem):
    status = 403


class NotFound(Problem):
    status = 404


class TooLarge(Problem):
    status = 413


class TooManyRequests(Problem):
    status = 429


async def request_params(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """Parameters of a request: the query string, overridden by a form or JSON body."""
    params: dict[str, Any] = dict(request.query)
    params.pop("token", None)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and request.body_exists:
        if request.content_length is not None and request.content_length > max_bytes:
            raise TooLarge(f"the request body is larger than {max_bytes} bytes")
        if request.content_type == "application/json":
            body = await request.read()
            if len(body) > max_bytes:
                raise TooLarge(f"the request body is larger than {max_bytes} bytes")
            try:
                data = orjson.loads(body) if body.strip() else {}
            except orjson.JSONDecodeError as err:
                raise BadRequest(f"the body is not valid JSON: {err}") from None
            if not isinstance(data, dict):
                raise BadRequest("the JSON body must be an object")
            params.update(data)
        elif request.content_type in ("application/x-www-form-urlencoded",
                                      "multipart/form-data"):
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return params


def text(params: Mapping, name: str, default: str | None = None, *, required: bool = False,
         max_length: int = 65_535) -> str | None:
    """A string parameter (numbers in JSON are taken as their text)."""
    value = params.get(name)
    if value is None or (required and value == ""):
        if required:
            raise BadRequest(f"{name}: this parameter is required")
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise BadRequest(f"{name}: expected a string")
    if len(value) > max_length:
        raise BadRequest(f"{name}: longer than {max_length} characters")
    return value


def link(params: Mapping, name: str, *, max_length: int = 1024) -> str:
    """An optional http(s) URL parameter ('' if absent): any other scheme
    (``javascript:``, ``data:``, ...) is refused, so it can be shown as a link."""
    value = text(params, name, "", max_length=max_length) or ""
    if value and not is_http_url(value):
        raise BadRequest(f"{name}: must be an http:// or https:// URL")
    return value


def boolean(params: Mapping, name: str, default: bool) -> bool:
    """A boolean parameter: true/false, 1/0, yes/no, on/off (any case)."""
    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in TRUE:
        return True
    if isinstance(value, str) and value.strip().lower() in FALSE:
        return False
    raise BadRequest(f"{name}: expected true or false, not {value!r}")


def number(params: Mapping, name: str, default: float | None = None, *,
           low: float | None = None, high: float | None = None) -> float:
    """A finite float parameter within [low, high]."""
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise BadRequest(f"{name}: this parameter is required")
        return default
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{name}: {value!r} is not a number") from None
    if not math.isfinite(result):
        raise BadRequest(f"{name}: must be finite")
    if low is not None and result < low or high is not None and result > high:
        raise BadRequest(f"{name} must be between {low:g} and {high:g}")
    return result


def integer(params: Mapping, name: str, default: int | None = None, *, low: int = 0,
            high: int = 2**63 - 1) -> int:
    """A whole-number parameter within [low, high]."""
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise BadRequest(f"{name}: this parameter is required")
        return default
    if isinstance(value, bool) or not re.fullmatch(r"\s*[+-]?\d{1,19}\s*", str(value)):
        raise BadRequest(f"{name}: {value!r} is not a whole number")
    result = int(value)
    if not low <= result <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return result


def object_id(survey: str, value: Any, name: str = "objectId") -> int | str:
    """An object id of the survey: a 64-bit integer (lsst) or ZTFyyaaaaaaa (ztf)."""
    raw = str(value).strip() if value is not None else ""
    if not raw:
        raise BadRequest(f"{name}: this parameter is required")
    if survey == "ztf":
        if not re.fullmatch(ZTF_OBJECT_ID, raw):
            raise BadRequest(f"{name}: {raw!r} is not a ZTF object id (ZTFyyaaaaaaa)")
        return raw
    if not re.fullmatch(r"\d{1,19}", raw) or int(raw) > 2**63 - 1:
        raise BadRequest(f"{name}: {raw!r} is not a Rubin diaObjectId (a 64-bit integer)")
    return int(raw)


def choice(params: Mapping, name: str, options: tuple[str, ...], default: str) -> str:
    """One of ``options``."""
    value = params.get(name) or default
    if value not in options:
        raise BadRequest(f"{name} must be one of {', '.join(options)}, not {value!r}")
    return value

"""A Confluent schema registry over HTTP, as a :data:`SchemaLookup`."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from solas.surveys.avro import SchemaLookup


class RegistryUnavailable(RuntimeError):
    """The registry could not be asked: the packet may be fine, so retry, don't discard."""


def confluent_registry(url: str, timeout_s: float = 10.0) -> SchemaLookup:
    """Schema id -> schema JSON text from ``GET <url>/schemas/ids/<id>``; ``None`` for an
    id the registry does not know (404); :class:`RegistryUnavailable` otherwise."""
    base = url.rstrip("/")

    def lookup(schema_id: int) -> str | None:
        try:
            with urllib.request.urlopen(f"{base}/schemas/ids/{int(schema_id)}",
                                        timeout=timeout_s) as response:
                return json.loads(response.read())["schema"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise RegistryUnavailable(f"schema registry {base}: HTTP {exc.code}") from exc
        except (OSError, ValueError, KeyError) as exc:
            raise RegistryUnavailable(f"schema registry {base}: {exc}") from exc

    return lookup

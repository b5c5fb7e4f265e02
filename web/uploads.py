"""Streaming uploads: multipart files written to a temporary file with a size limit."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from aiohttp import web

from web.forms import BadRequest, TooLarge

CHUNK = 1 << 16


class Upload(NamedTuple):
    """The fields of a multipart form: text values and at most one stored file."""

    fields: dict[str, str]
    path: Path | None
    filename: str | None
    size: int


async def read_multipart(request: web.Request, file_field: str, max_bytes: int,
                         max_field_bytes: int = 1 << 20) -> Upload:
    """Stream a multipart form; the file goes to a temporary file (caller deletes it).

    Raises TooLarge past ``max_bytes`` (the partial file is removed)."""
    if request.content_length is not None and request.content_length > max_bytes + (1 << 20):
        raise TooLarge(f"the upload is larger than {max_bytes // 2**20} MiB")
    reader = await request.multipart()
    fields: dict[str, str] = {}
    path, filename, size = None, None, 0
    try:
        while (part := await reader.next()) is not None:
            if part.name == file_field and part.filename is not None:
                if path is not None:
                    raise BadRequest(f"{file_field}: send one file only")
                fd, name = tempfile.mkstemp(prefix="solas-upload-")
                path, filename = Path(name), part.filename
                with os.fdopen(fd, "wb") as out:
                    while chunk := await part.read_chunk(CHUNK):
                        size += len(chunk)
                        if size > max_bytes:
                            raise TooLarge(f"the file is larger than {max_bytes // 2**20} MiB")
                        out.write(chunk)
            else:
                value = bytearray()
                while chunk := await part.read_chunk(CHUNK):
                    value += chunk
                    if len(value) > max_field_bytes:
                        raise TooLarge(f"field {part.name} is too large")
                fields[part.name or ""] = bytes(value).decode("utf-8", "replace")
    except BaseException:
        if path is not None:
            path.unlink(missing_ok=True)
        raise
    return Upload(fields, path, filename, size)

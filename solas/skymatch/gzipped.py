"""Decompressing uploads with a bound: a small gzip file can hold gigabytes of zeros."""
from __future__ import annotations

import zlib

#: Most bytes a gzipped MOC or sky map may decompress to (a flat nside-2048 map of
#: float64 probabilities is 400 MB).
MAX_DECOMPRESSED_BYTES = 512 * 2**20


class TooLarge(ValueError):
    """The data decompresses to more than the limit."""


def gunzip(data: bytes, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """The decompressed bytes of gzip ``data`` (every member), never holding more than
    ``limit`` + 64 KiB of output: :class:`TooLarge` beyond ``limit``, ``EOFError`` or
    ``zlib.error`` (an ``OSError``-like error: catch both) for corrupt or cut data."""
    out: list[bytes] = []
    size, rest = 0, data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        while pending:
            chunk = inflater.decompress(pending, 1 << 16)
            size += len(chunk)
            if size > limit:
                raise TooLarge(f"it decompresses to more than {limit:,} bytes")
            out.append(chunk)
            pending = inflater.unconsumed_tail
            if inflater.eof:
                break
        if not inflater.eof:
            chunk = inflater.flush()
            if not inflater.eof:
                raise EOFError("the gzip stream is cut short")
            out.append(chunk)
        rest = inflater.unused_data
    return b"".join(out)

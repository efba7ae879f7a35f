"""Content-Encoding: which coding a request gets, and a body compressed in it, the same bytes
every time.

One negotiation (`coding_for`) serves both the response cache, which looks up the stored
answer in the request's coding before any view runs, and the compression of answers the cache
does not keep, so the two can never disagree. Compression is deterministic (gzip with a fixed
header and no timestamp, RFC 1952 MTIME 0; brotli at fixed settings), so the bytes behind a
strong ETag (`"<hash>:br"`, `"<hash>:gzip"`) are the same in every worker, after every eviction
and as the earlier flask-compress setup sent them.
"""

from __future__ import annotations

import functools
import gzip
import struct
import zlib
from typing import Literal

import brotli
from flask import Response, request
from werkzeug.http import parse_accept_header

Coding = Literal["br", "gzip", "identity"]
IDENTITY: Coding = "identity"
CODINGS: tuple[Coding, ...] = ("br", "gzip")  # preferred in this order when a client ties
# Cheap enough for a miss, each body compressed once. Measured on 10k-post bodies (bench corpus):
# brotli 3 makes a 14 KB detail 3% bigger than 4 (4.4 KB, not 4.3) in 0.11 ms instead of
# 0.19; gzip 4 makes it 2% bigger than 6 in 0.15 ms instead of 0.17, and halves a feed's time.
BROTLI_QUALITY = 3
GZIP_LEVEL = 4
# RFC 1952 header: deflate, no flags, MTIME 0 (none), no extra flags, OS 255 (unknown). Written
# here rather than by `gzip.compress`, whose OS byte differs between Python versions.
GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
COMPRESSED = frozenset(
    {
        "application/json",
        "application/problem+json",
        "application/yaml",
        "text/css",
        "text/html",
        "application/javascript",
        "text/javascript",
        "application/xml",
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
    }
)


@functools.lru_cache(maxsize=256)
def negotiate(accept_encoding: str) -> Coding:
    """The coding for an `Accept-Encoding` value: the best of br and gzip the client accepts
    (br on a tie), identity when it accepts neither or rates `identity` higher."""
    accept = parse_accept_header(accept_encoding)
    matched = accept.best_match(CODINGS)
    best = next((coding for coding in CODINGS if coding == matched), None)
    if best is None:
        return IDENTITY
    named = {value.lower(): quality for value, quality in accept}
    if named.get(IDENTITY, 0) > named.get(best, named.get("*", 0)):
        return IDENTITY
    return best


def coding_for() -> Coding:
    """This request's coding."""
    return negotiate(request.headers.get("Accept-Encoding", ""))


def compress(data: bytes, coding: Coding) -> bytes:
    if coding == "br":
        compressed: bytes = brotli.compress(data, quality=BROTLI_QUALITY)
        return compressed
    if coding == "gzip":
        trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
        return GZIP_HEADER + zlib.compress(data, GZIP_LEVEL, wbits=-zlib.MAX_WBITS) + trailer
    return data


def decompress(data: bytes, coding: str) -> bytes:
    if coding == "br":
        decompressed: bytes = brotli.decompress(data)
        return decompressed
    if coding == "gzip":
        return gzip.decompress(data)
    return data


def worth_compressing(response: Response, min_size: int) -> bool:
    """A whole 200 of a text type, at least `min_size` bytes, not encoded yet."""
    return (
        response.status_code == 200
        and response.mimetype in COMPRESSED
        and "Content-Encoding" not in response.headers
        and (response.content_length is None or response.content_length >= min_size)
    )


def encode(response: Response, coding: Coding, min_size: int) -> Response:
    """Compress the body in `coding` when worthwhile, and mark its strong ETag with the coding
    (`"<hash>"` becomes `"<hash>:br"`): one ETag names one sequence of bytes."""
    if coding == IDENTITY or not worth_compressing(response, min_size):
        return response
    response.direct_passthrough = False  # a file: read it whole (a spec, Swagger UI's files)
    data = response.get_data()
    if len(data) < min_size:
        return response
    response.set_data(compress(data, coding))
    response.headers["Content-Encoding"] = coding
    etag, weak = response.get_etag()
    if etag and not weak:
        response.set_etag(f"{etag}:{coding}")
    return response


def decode(response: Response) -> Response:
    """The inverse of `encode`: the identity body and its ETag back."""
    coding = response.headers.get("Content-Encoding")
    if coding is None:
        return response
    response.set_data(decompress(response.get_data(), coding))
    del response.headers["Content-Encoding"]
    etag, weak = response.get_etag()
    if etag and not weak and etag.endswith(f":{coding}"):
        response.set_etag(etag[: -len(coding) - 1])
    return response

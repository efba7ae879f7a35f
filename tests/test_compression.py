"""contentapi.web.compression: one negotiation, deterministic bytes, ETags that name them."""

from __future__ import annotations

import gzip

import brotli
import pytest
from flask import Response

from contentapi.web.compression import compress, decode, decompress, encode, negotiate

BODY = ('{"title":"Fermentación lenta","html":"<p>Harina, agua y sal.</p>"}' * 40).encode()


@pytest.mark.parametrize(
    ("accept_encoding", "coding"),
    [
        ("", "identity"),
        ("gzip", "gzip"),
        ("GZIP", "gzip"),
        ("br", "br"),
        ("br, gzip", "br"),
        ("gzip, deflate, br", "br"),  # a tie: br is smaller
        ("br;q=0.5, gzip", "gzip"),
        ("*", "br"),
        ("br;q=0, *", "gzip"),
        ("gzip;q=0", "identity"),
        ("deflate, zstd", "identity"),
        ("identity", "identity"),
        ("identity, gzip;q=0.5", "identity"),
        ("identity;q=0.5, gzip", "gzip"),
        ("gzip;q=abc, br;q=0.1", "br"),  # an invalid q is ignored
    ],
)
def test_compression_negotiate(accept_encoding, coding):
    assert negotiate(accept_encoding) == coding


def test_compression_gzip_has_no_timestamp_and_is_the_same_bytes_at_any_time(monkeypatch):
    monkeypatch.setattr(gzip.time, "time", lambda: 1_700_000_000)
    first = compress(BODY, "gzip")
    monkeypatch.setattr(gzip.time, "time", lambda: 1_700_000_007)
    assert compress(BODY, "gzip") == first
    assert first[:10] == b"\x1f\x8b\x08\0\0\0\0\0\0\xff"  # RFC 1952: MTIME none, OS unknown
    assert gzip.decompress(first) == BODY
    assert gzip.decompress(compress(b"", "gzip")) == b""


def test_compression_brotli_is_deterministic_and_round_trips():
    packed = compress(BODY, "br")
    assert packed == compress(BODY, "br")
    assert len(packed) < len(BODY) // 5
    assert brotli.decompress(packed) == decompress(packed, "br") == BODY
    assert compress(BODY, "identity") == decompress(BODY, "identity") == BODY


def _json(body: bytes = BODY, status: int = 200, mimetype: str = "application/json") -> Response:
    response = Response(body, status=status, mimetype=mimetype)
    response.set_etag("abc")
    return response


@pytest.mark.parametrize("coding", ["br", "gzip"])
def test_compression_encode_marks_the_etag_and_decode_undoes_it(coding):
    response = encode(_json(), coding, min_size=500)
    assert response.headers["Content-Encoding"] == coding
    assert response.headers["ETag"] == f'"abc:{coding}"'
    assert response.content_length == len(response.get_data()) < len(BODY)
    plain = decode(response)
    assert plain.get_data() == BODY
    assert plain.headers["ETag"] == '"abc"'
    assert "Content-Encoding" not in plain.headers


def test_compression_encode_leaves_what_is_not_worth_it():
    cases = [
        (_json(b"{}"), "br"),  # under min_size
        (_json(status=404), "br"),
        (_json(status=206), "gzip"),  # a range is part of the identity bytes
        (_json(mimetype="image/png"), "gzip"),
        (_json(), "identity"),
    ]
    for response, coding in cases:
        before = response.get_data()
        encode(response, coding, min_size=500)
        assert "Content-Encoding" not in response.headers
        assert response.get_data() == before
        assert response.headers["ETag"] == '"abc"'
    weak = _json()
    weak.set_etag("abc", weak=True)
    assert encode(weak, "br", min_size=500).headers["ETag"] == 'W/"abc"'

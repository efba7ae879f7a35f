"""The framework's limit: a bare Flask app answering every GET with a precomputed 20 KB JSON body.

`bench/service.py` runs it on the same gunicorn, with the same workers and threads, right after
contentapi, so each contentapi figure can be read as a fraction of what Flask alone can do.
"""

from __future__ import annotations

import json

from flask import Flask, Response

SIZE = 20_000


def _body() -> bytes:
    """A JSON list of post-like summaries, padded to exactly SIZE bytes."""
    items = [
        {"slug": f"post-{n}", "title": f"Post number {n}", "excerpt": "Lorem ipsum dolor. " * 8}
        for n in range(60)
    ]
    text = json.dumps({"data": items})
    while len(text) > SIZE - 20:
        items.pop()
        text = json.dumps({"data": items})
    return (text[:-1] + ', "pad": "' + "x" * (SIZE - len(text) - 11) + '"}').encode()


BODY = _body()
assert len(BODY) == SIZE, len(BODY)

app = Flask(__name__)


@app.get("/", defaults={"path": ""})
@app.get("/<path:path>")
def answer(path: str) -> Response:
    return Response(BODY, mimetype="application/json")

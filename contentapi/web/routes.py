"""Route facts, declared where each route is registered.

    @bp.get("/api/v1/posts", endpoint="index")
    @declare(cacheable=True, query=ListArgs)
    def index() -> Response: ...

`cacheable`: the shared response cache may keep the answer (it must then depend only on the
index version, the clock, the base URL and the parsed query). `query`: the parameters the route
takes (anything else is a 400). `http_cache`: what `Cache-Control` tells caches in front
(`public`, `private` for answers behind a token, `no-store` for probes). A test fails for any
GET route that declares nothing.

The query is parsed once, before the view; views read it with `query_args()`, and the cache
key and every link to this resource are built from `canonical_query()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from flask import Flask, current_app, g, request

from contentapi.service.store import store_of
from contentapi.web import params
from contentapi.web.params import Query, QueryArgs, parse_query, schema_for

HttpCache = Literal["public", "private", "no-store"]
View = TypeVar("View", bound=Callable[..., object])
ATTRIBUTE = "route_facts"


@dataclass(frozen=True)
class RouteFacts:
    cacheable: bool
    query: type[QueryArgs]
    http_cache: HttpCache = "public"


def declare(
    *, cacheable: bool, query: type[QueryArgs] = QueryArgs, http_cache: HttpCache = "public"
) -> Callable[[View], View]:
    """Attach the route's facts to its view function (put it under the route decorator)."""
    facts = RouteFacts(cacheable, query, http_cache)

    def mark(view: View) -> View:
        setattr(view, ATTRIBUTE, facts)
        return view

    return mark


def declare_blueprint(app: Flask, name: str, facts: RouteFacts) -> None:
    """The same facts for every route of a blueprint the project does not write (Swagger UI)."""
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith(f"{name}."):
            setattr(view, ATTRIBUTE, facts)


def facts_of(app: Flask, endpoint: str | None) -> RouteFacts | None:
    view = app.view_functions.get(endpoint or "")
    found: RouteFacts | None = getattr(view, ATTRIBUTE, None)
    return found


def current_facts() -> RouteFacts | None:
    """The facts of the route this request matched (None for an unknown route)."""
    return facts_of(current_app, request.endpoint)


def parse_declared_query() -> None:
    """Before the view: check the query against the route's declaration (a 400 names every
    bad or unknown parameter) and keep the parsed values in `g.query_args`."""
    facts = current_facts()
    if facts is None or request.method == "OPTIONS":
        return
    settings = store_of(current_app).settings
    g.query_args = parse_query(facts.query, settings)


def query_args() -> dict[str, Any]:
    """This request's parameters, parsed and checked against the route's declaration (defaults
    applied) before the view ran."""
    args: dict[str, Any] = g.query_args
    return args


def canonical_query(**changes: Any) -> Query:
    """This request's query in its one spelling (`params.canonical_query`), with `changes`
    (parsed values, e.g. `page=2`) applied."""
    facts = current_facts()
    if facts is None:
        raise RuntimeError(f"{request.endpoint} declares no query")
    schema = schema_for(facts.query, store_of(current_app).settings)
    return params.canonical_query(schema, {**query_args(), **changes})

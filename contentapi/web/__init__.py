"""The web layer: where posts become HTTP.

`app` is the factory; `views` holds one blueprint per resource (thin: parse parameters, query
the index, serialise); `params` parses query strings, `errors` makes every failure a
problem+json body, `routes` holds what each route declares about itself (cacheable, query
schema, HTTP cache policy), and the HTTP rules are split by concern: `response_cache`,
`headers` (Host check, validators, cache and security headers, CORS, compression),
`compression` (which coding a request gets, and deterministic bytes in it), `auth` (bearer
tokens, signed tokens), `prebuilt` (default details stored finished) and `fastpath` (those
answered before Flask).

May import everything else in the package; nothing outside `web` imports it.
"""

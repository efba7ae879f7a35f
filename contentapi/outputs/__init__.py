"""Outputs over an index: pure functions from an immutable `Index` to what clients read.

`query` selects and pages posts, `serialize` shapes them as the JSON the contract promises,
`feeds` writes RSS, Atom, JSON Feed and sitemaps, `search` ranks posts for a query.

May import: `contentapi.engine`, `contentapi.settings`, libraries. Must not import Flask,
Werkzeug, `contentapi.service` or `contentapi.web`: URLs come in as a `serialize.Links`.
"""

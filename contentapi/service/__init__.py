"""The running service: state and operations around the pure engine.

`store` holds the current index and swaps in a new one atomically on reload; `watch` reloads
on file changes; `logs` configures logging; `cli` holds the `flask content` commands and
`export` the static export.

May import: `contentapi.engine`, `contentapi.outputs`, `contentapi.settings`. Only `cli` and
`export` may touch Flask (they drive an app they are given); the rest must not.
"""

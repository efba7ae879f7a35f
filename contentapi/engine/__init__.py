"""The content engine: where bytes become posts.

`loader` reads the content folder (the only module that touches the filesystem); `reader`
splits front matter from body with safe YAML; `schema` validates the front matter; `analysis`
and `render` derive text, toc, images and HTML from a body; `index` assembles an immutable,
versioned `Index`; `parsecache` keeps parse results between restarts.

May import: the standard library, parsing and rendering libraries, `contentapi.settings`.
Must not import: Flask, Werkzeug, or `contentapi.outputs`, `.service`, `.web`.
"""

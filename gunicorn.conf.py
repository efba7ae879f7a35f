"""gunicorn settings for contentapi: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

import gc
import multiprocessing
import os

from contentapi.service import watch
from contentapi.service.store import store_of

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Requests are CPU-bound Python with no I/O waits beyond the socket: one worker per core,
# plus one so a worker busy rendering a post does not leave a core idle.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
# Build the index once in the master; workers share its memory copy-on-write after fork.
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 0
# The request line holds the whole URL: `q` may be 1,000 characters (openapi.yaml), which
# percent-encoded take up to 6,000 bytes for accented Latin text (`ñ` is `%C3%B1`), more than
# gunicorn's default 4,094. 8,190 is the most gunicorn allows short of "unlimited" (0). Longer
# lines get gunicorn's own HTML 414, before the app sees them.
limit_request_line = 8190
# The app logs every request itself (`contentapi.access`: method, path, status, duration, and
# JSON with CONTENTAPI_LOG_FORMAT=json), so gunicorn's own access line would only repeat it at
# a cost on every request. `--access-logfile -` turns it back on, in this format:
accesslog = None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
errorlog = "-"

# Threads do not survive fork: watchers start in each worker, not in the preloading master.
watch.DEFERRED = True


def when_ready(server):
    """In the master, after the preloaded app is built and before the first fork: freeze every
    object it holds, so the workers' garbage collections never write to (and so copy) the
    pages the index lives in."""
    gc.collect()
    gc.freeze()


def post_worker_init(worker):
    """Catch up with changes made while the worker booted, watch if configured, and in the
    background fill the artifact store (one worker does, the others wait and read) and build
    the search index."""
    # Fewer, larger young collections: with the defaults (700, 10, 10) a search or list
    # request met a 15-100 ms collection of the worker's caches often enough to set its p99.
    gc.set_threshold(50_000, 20, 100)
    store = store_of(worker.wsgi)
    if store.settings.watching:
        store.reload_if_changed()
        store.watcher = watch.Watcher(store).start()
    store.warm_up()

"""gunicorn settings for contentapi: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every value can be overridden on the command line or with GUNICORN_CMD_ARGS.
"""

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
accesslog = "-"
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'
errorlog = "-"

# Threads do not survive fork: watchers start in each worker, not in the preloading master.
watch.DEFERRED = True


def post_worker_init(worker):
    """Catch up with changes made while the worker booted, watch if configured, and build
    the search index in the background."""
    store = store_of(worker.wsgi)
    if store.settings.watching:
        store.reload()
        store.watcher = watch.Watcher(store).start()
    store.warm_up()

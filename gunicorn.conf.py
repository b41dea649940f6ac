"""gunicorn settings, used by run.py and by `gunicorn -c gunicorn.conf.py 'run:app'`."""

import gc
import multiprocessing

bind = ["127.0.0.1:5000"]
workers = min(2 * multiprocessing.cpu_count() + 1, 8)
threads = 1
timeout = 60
accesslog = "-"
# The app is imported once, before the workers are forked: they start serving at once instead of
# each importing it at the same time, and share its code in memory.
preload_app = True


def pre_fork(server, worker):
    """The preloaded app's objects go to the collector's permanent generation (Python's advice
    for fork without exec): a worker's full collections no longer walk them, and touching
    their reference counts does not unshare their memory pages."""
    gc.freeze()


def post_fork(server, worker):
    """A worker starts with empty database pools: it must not use a connection the process it
    was forked from opened (building the app opens none; this keeps it so if that changes).
    `close=False` leaves those connections to their owner."""
    app = worker.app.wsgi()
    if "sqlalchemy" not in getattr(app, "extensions", {}):
        return
    from lms.extensions import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)

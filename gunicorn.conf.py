"""gunicorn settings, used by run.py and by `gunicorn -c gunicorn.conf.py 'run:app'`."""

import multiprocessing

bind = ["127.0.0.1:5000"]
workers = min(2 * multiprocessing.cpu_count() + 1, 8)
threads = 1
timeout = 60
accesslog = "-"

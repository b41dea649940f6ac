"""The app as gunicorn serves it for the benchmark: run.py's app plus the /bench/ceiling page.

`gunicorn -c gunicorn.conf.py 'bench.wsgi:app'`, configured from the environment like run.py
(DATABASE_URL, SECRET_KEY, LMS_DEMO_PASSWORD).
"""

from lms import create_app

app = create_app({"BENCHMARK": True})

"""Profile one page in-process with pyinstrument (installed into the venv, not a requirement).

    python bench/profile_page.py --database-url sqlite:////tmp/lms.db --user staff00042 /dashboard
    python bench/profile_page.py --database-url ... --user hr /reports/matrix?page=3 --times 20

Signs in through the login form of the Flask test client (CSRF on), asks for the page once to
warm up, then `--times` times under the profiler; prints the mean time a request and the
profile (pyinstrument's text tree; `--html FILE` writes the HTML one). A page of a data set made
by bench/generate.py; the demo password is `--password` (bench/run.py uses bench-password-1).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--user", default="hr")
    parser.add_argument("--password", default="bench-password-1")
    parser.add_argument("--times", type=int, default=10)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--html", type=Path)
    parser.add_argument("--interval", type=float, default=0.0005)
    args = parser.parse_args()

    from pyinstrument import Profiler

    from bench.generate import sqlalchemy_url
    from lms import create_app

    os.environ["LMS_DEMO_PASSWORD"] = args.password
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": sqlalchemy_url(args.database_url), "SECRET_KEY": "profile"}
    )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    reply = client.post(
        "/login", data={"csrf_token": token, "username": args.user, "password": args.password}
    )
    assert reply.status_code == 302, reply.status_code
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/").get_data(as_text=True) or ""
    )

    def ask():
        if args.method == "GET":
            return client.get(args.path)
        return client.post(args.path, data={"csrf_token": token.group(1) if token else ""})

    first = ask()
    print(f"{args.method} {args.path}: {first.status_code}, {len(first.get_data())} bytes")
    profiler = Profiler(interval=args.interval)
    started = time.perf_counter()
    profiler.start()
    for _n in range(args.times):
        reply = ask()
        reply.get_data()
    profiler.stop()
    elapsed = time.perf_counter() - started
    print(f"{elapsed / args.times * 1000:.1f} ms a request over {args.times}")
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()

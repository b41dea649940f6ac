"""Start the platform: `python run.py [--demo] [--host H] [--port P]`; also `flask --app run.py`."""

import argparse
import runpy
import sys
from pathlib import Path

from gunicorn.app.base import BaseApplication

from lms import create_app
from lms.cli import setup_site
from lms.content import ContentError
from lms.extensions import db

app = create_app()


class Server(BaseApplication):
    """gunicorn serving the app already built here, with gunicorn.conf.py's settings."""

    def __init__(self, application, options: dict):
        self.application, self.options = application, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        return self.application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--demo", action="store_true", help="create one demo account per persona")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    with app.app_context():
        try:
            lines = setup_site(demo=args.demo)
        except ContentError as e:
            sys.exit("The course files have errors; nothing was loaded:\n" + str(e))
        print("\n".join(lines))
        # Workers are forked: none may inherit the setup's open database connections.
        db.engine.dispose()
    config = runpy.run_path(str(Path(__file__).with_name("gunicorn.conf.py")))
    config["bind"] = [f"{args.host}:{args.port}"]
    print(f"Serving on http://{args.host}:{args.port}/ (Ctrl+C stops)", flush=True)
    Server(app, config).run()


if __name__ == "__main__":
    main()

"""Entry point of the `medcurate` command: logging, then the app with every command group."""
import logging
import sys

from pipelines.cli_common import app
from pipelines.commands import curate, mix, pubmed  # noqa: F401  (importing registers the commands)
from pipelines.commands import pmc  # noqa: F401


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)
    app()


if __name__ == "__main__":
    main()

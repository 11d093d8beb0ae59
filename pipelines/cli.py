"""Entry point of the `medcurate` command: logging, then the app with every command group."""
import logging
import sys

from pipelines.cli_common import app
from pipelines.commands import curate, mix, pubmed  # noqa: F401  (importing registers the commands)
from pipelines.commands import replay, summary, tokenizer, train  # noqa: F401
from pipelines.commands import pmc  # noqa: F401
from pipelines.commands import guidelines  # noqa: F401


def main() -> None:
    # Our own progress at INFO; libraries (Dask's scheduler chatter) only when they warn.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger("medcurate").setLevel(logging.INFO)
    app()


if __name__ == "__main__":
    main()

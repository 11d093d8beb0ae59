"""params.yaml: the defaults of every command, shared with DVC."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULT_PARAMS = Path("params.yaml")


class ParamsError(ValueError):
    pass


def load_params(path: Path | str | None = None) -> dict:
    """Load params.yaml; a missing default file gives empty params, a missing named file is an error."""
    explicit = path is not None
    path = Path(path) if explicit else DEFAULT_PARAMS
    if not path.is_file():
        if explicit:
            raise ParamsError(f"params file not found: {path}")
        return {}
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return data


def param(params: dict, dotted: str, default: Any = None) -> Any:
    """`param(p, "filter.min_chars", 200)` reads nested keys, falling back to `default`."""
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def pick(given: Any, params: dict, dotted: str, default: Any = None) -> Any:
    """A command-line value wins; otherwise params.yaml; otherwise the built-in default."""
    return given if given is not None else param(params, dotted, default)

"""setup.cfg's torch floor is the oldest torch whose public API train/ imports unconditionally."""
import ast
import configparser
from pathlib import Path

import torch
from packaging.requirements import Requirement
from packaging.version import Version

from train.parallel import TORCH_FLOOR

REPO = Path(__file__).resolve().parents[2]

# The first torch release in which each module (or name in it) is public. Modules newer than the
# floor may only be imported inside `try: ... except ImportError`, as train/attention.py does.
SINCE = {
    ("torch.distributed.fsdp", "fully_shard"): "2.6",  # FSDP2 public API (before: torch.distributed._composable.fsdp)
    ("torch.distributed.fsdp", "MixedPrecisionPolicy"): "2.6",
    ("torch.distributed.fsdp", "FSDPModule"): "2.6",
    ("torch.distributed.tensor", None): "2.5",  # DTensor public (before: torch.distributed._tensor)
    ("torch.distributed.device_mesh", None): "2.2",
    ("torch.distributed.checkpoint.state_dict", None): "2.2",
    ("torch.nn.attention.varlen", None): "2.10",  # varlen_attn
}


def torch_requirement() -> Requirement:
    parser = configparser.ConfigParser()
    parser.read(REPO / "setup.cfg")
    lines = [line.strip() for line in parser["options"]["install_requires"].splitlines() if line.strip()]
    found = [Requirement(line) for line in lines if Requirement(line).name == "torch"]
    assert len(found) == 1, lines
    return found[0]


def torch_imports() -> list[tuple[str, str | None, bool, str]]:
    """(module, name or None, optional, file) for every torch import in train/.

    Optional: inside `try` with an `except ImportError` that carries on (does not raise again)."""
    out = []
    for path in sorted((REPO / "train").glob("*.py")):
        tree = ast.parse(path.read_text())
        guarded = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                and not any(isinstance(n, ast.Raise) for stmt in h.body for n in ast.walk(stmt))
                for h in node.handlers
            ):
                guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("torch"):
                out += [(node.module, alias.name, id(node) in guarded, path.name) for alias in node.names]
            elif isinstance(node, ast.Import):
                out += [(a.name, None, id(node) in guarded, path.name) for a in node.names if a.name.startswith("torch")]
    return out


def since(module: str, name: str | None) -> Version | None:
    version = SINCE.get((module, name)) or SINCE.get((module, None))
    return Version(version) if version else None


def test_setup_cfg_torch_floor_is_the_fsdp2_floor():
    req = torch_requirement()
    floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
    assert floors == [Version(TORCH_FLOOR)] == [Version("2.6")], str(req)
    assert Version("2.6.0") in req.specifier and Version("2.5.1") not in req.specifier
    assert req.specifier.contains(torch.__version__.split("+")[0])  # the torch we test with satisfies it


def test_the_floor_is_what_the_unguarded_imports_of_train_need():
    imports = torch_imports()
    assert ("torch.distributed.fsdp", "fully_shard", False, "parallel.py") in imports  # required, not optional
    needed = {(m, n, f): since(m, n) for m, n, guarded, f in imports if not guarded and since(m, n)}
    assert max(needed.values()) == Version(TORCH_FLOOR), needed
    # Newer APIs are optional: imported only where an ImportError is handled.
    newer = [(m, n, f) for m, n, guarded, f in imports if since(m, n) and since(m, n) > Version(TORCH_FLOOR)]
    assert newer and all(guarded for m, n, guarded, f in imports if (m, n, f) in newer)
    assert ("torch.nn.attention.varlen", "varlen_attn", True, "attention.py") in imports

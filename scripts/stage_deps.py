"""The code each DVC stage runs, found by walking imports, as the `deps` of dvc.yaml.

    python scripts/stage_deps.py            # list what each stage's code deps should be
    python scripts/stage_deps.py --check    # exit 1, naming them, if a stage's deps miss a module it imports
    python scripts/stage_deps.py --write    # rewrite the code deps in dvc.yaml (all else kept as written)

A stage's entry is the `medcurate` command of its `cmd`: the module-level imports of the command's
module, plus the imports inside the command function. From there every project module reached is
walked whole, imports inside functions included (the commands import lazily, and so do some library
modules), and so are the modules of the params sections the stage names (their dataclasses hold
the defaults). A folder is listed when every module in it is reached, otherwise its files. Fetch stages
(`always_changed`) run every time and are skipped. tests/test_dvc_deps.py runs the check.
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("curation", "sources", "pipelines", "train")  # the project's code; anything else is data


def module_path(name: str) -> Path | None:
    """The file of a project module or package, or None for anything else."""
    if name.split(".")[0] not in PACKAGES:
        return None
    base = REPO.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def has_code(path: Path) -> bool:
    """False for a module that is only a docstring (most __init__.py): it cannot change an output."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:]
    return bool(body)


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(nodes, package: str) -> set[str]:
    """Modules named by the import statements among `nodes` (and `from M import name`'s M.name)."""
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing package
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def with_parents(name: str) -> list[str]:
    """Importing a.b.c runs a/__init__.py and a/b/__init__.py first."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(roots: set[str]) -> set[Path]:
    """The files of every project module reached from `roots`, walking all of each module's imports."""
    seen: set[Path] = set()
    todo = [parent for name in roots for parent in with_parents(name)]
    while todo:
        path = module_path(todo.pop())
        if path is None or path in seen:
            continue
        seen.add(path)
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for found in imported_names(ast.walk(ast.parse(path.read_text(encoding="utf-8"))), package):
            todo.extend(with_parents(found))
    return seen


def command_entry(words: list[str]) -> tuple[Path, set[str]]:
    """Where a `medcurate ...` command line starts: the file of its command module, and the modules
    it imports at module level (not inside its other commands) and inside the command function."""
    import typer

    from pipelines.cli import app

    command = typer.main.get_command(app)
    for word in words:
        if not hasattr(command, "commands") or word not in command.commands:
            break
        command = command.commands[word]
    function = getattr(command.callback, "__wrapped__", command.callback)
    path = module_path(function.__module__)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    body = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == function.__name__)
    package = function.__module__.rpartition(".")[0]
    return path, set(with_parents(package)) | imported_names(tree.body, package) | imported_names(ast.walk(body), package)


def stage_commands(stage: dict) -> list[list[str]]:
    body = stage.get("do", stage)
    cmds = body["cmd"] if isinstance(body["cmd"], list) else [body["cmd"]]
    return [shlex.split(cmd)[1:] for cmd in cmds if cmd.split()[0] == "medcurate"]


def section_modules(stage: dict) -> set[str]:
    """The modules of the params sections a stage names (`params: [pmc.parse, run.shard_mb]`):
    their dataclasses hold the defaults of the keys left out (pipelines/params.py SECTIONS)."""
    from pipelines.params import SECTIONS

    names = {str(entry).split(".")[0] for entry in stage.get("do", stage).get("params", [])}
    return {SECTIONS[name].partition(":")[0] for name in names if name in SECTIONS}


def code_files(stage: dict) -> set[Path]:
    files: set[Path] = closure(section_modules(stage))
    for words in stage_commands(stage):
        path, roots = command_entry(words)
        files |= {path} | closure(roots)
    return {f for f in files if has_code(f)}


def _modules_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*.py") if "__pycache__" not in p.parts and has_code(p)}


def as_deps(files: set[Path]) -> list[str]:
    """The fewest paths covering `files`: a folder when every module in it is among them."""
    deps: set[Path] = set()
    for path in files:
        top = path
        for folder in path.relative_to(REPO).parents:
            if folder == Path("."):
                break
            if _modules_under(REPO / folder) <= files:
                top = REPO / folder  # the outermost complete folder wins
        deps.add(top)
    return sorted(p.relative_to(REPO).as_posix() for p in deps)


def is_code(dep: str) -> bool:
    return Path(dep).parts[0] in PACKAGES


def covered(dep_paths: list[str], files: set[Path]) -> set[Path]:
    roots = [REPO / d for d in dep_paths]
    return {f for f in files if any(f == r or r in f.parents for r in roots)}


def load_dvc(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def flow_list(indent: str, key: str, items: list[str], width: int = 110) -> str:
    """`key: [a, b, ...]` wrapped at `width`, continuation lines aligned after the bracket."""
    lead = f"{indent}{key}: ["
    lines, line = [], lead
    for i, item in enumerate(items):
        quoted = json.dumps(item) if re.search(r"[{}\[\],:#]", item) else item  # `${item}` must be quoted in a flow list
        piece = quoted + ("]" if i == len(items) - 1 else ",")
        if line != lead and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = " " * len(lead) + piece
        else:
            line += ("" if line == lead else " ") + piece
    return "\n".join(lines + [line])


def with_deps(text: str, stage: str, deps: list[str]) -> str:
    """dvc.yaml's text with the flow-style `deps: [...]` of `stage` replaced; everything else kept."""
    start = re.search(rf"^  {re.escape(stage)}:\n", text, re.MULTILINE)
    found = re.compile(r"^(\s+)deps: \[[^\]]*\]", re.MULTILINE).search(text, start.end())
    return text[: found.start()] + flow_list(found.group(1), "deps", deps) + text[found.end() :]


def checked_stages(dvc: dict):
    """(name, stage, code files it imports) of every stage that is not re-run on every repro."""
    for name, stage in dvc["stages"].items():
        body = stage.get("do", stage)
        if body.get("always_changed") or not stage_commands(stage):
            continue
        yield name, body, code_files(stage)


def missing_deps(dvc: dict) -> dict[str, list[str]]:
    """Per stage, the project modules it imports that its deps do not cover."""
    missing = {}
    for name, body, files in checked_stages(dvc):
        uncovered = files - covered([str(d) for d in body.get("deps", [])], files)
        if uncovered:
            missing[name] = sorted(p.relative_to(REPO).as_posix() for p in uncovered)
    return missing


def write(dvc_path: Path) -> None:
    text = dvc_path.read_text(encoding="utf-8")
    for name, body, files in checked_stages(load_dvc(dvc_path)):
        data = [str(d) for d in body["deps"] if not is_code(str(d))]
        text = with_deps(text, name, data + as_deps(files))
    dvc_path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a stage's deps miss a module it imports")
    parser.add_argument("--write", action="store_true", help="rewrite the code deps of dvc.yaml")
    parser.add_argument("--dvc", type=Path, default=REPO / "dvc.yaml")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    if args.write:
        write(args.dvc)
    dvc = load_dvc(args.dvc)
    if args.check:
        missing = missing_deps(dvc)
        for name, files in missing.items():
            print(f"{args.dvc.name}: stage {name} imports but does not depend on: {', '.join(files)}", file=sys.stderr)
        return 1 if missing else 0
    for name, _body, files in checked_stages(dvc):
        print(f"{name}: {', '.join(as_deps(files))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

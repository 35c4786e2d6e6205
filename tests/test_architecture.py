"""The shape of the code: stages that import only downwards, no cycles, light commands that
stay light, and dependencies that are used where they are declared."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from casekit import PROJECT

SRC = PROJECT / "src" / "eventledger"
# The pipeline, bottom to top. A module may import from its own stage and from any stage
# below; stages of one rank (publish, author) may not import each other.
RANKS = {
    "": 0,  # eventledger/__init__, atomic, git: helpers with no knowledge of records
    "issues": 1,
    "syntax": 2,
    "model": 3,
    "read": 4,
    "check": 5,
    "publish": 6,
    "site": 6,
    "author": 6,
    "cli": 7,
    "__main__": 8,  # python -m eventledger runs the CLI
}


def _stage(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts:
        return ""
    if parts[0] in RANKS:
        return parts[0]
    return ""  # a top-level helper module


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(path: Path, *, runtime_only: bool) -> set[str]:
    """Every eventledger module a file imports (at any depth; under TYPE_CHECKING only when
    runtime_only is false)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("eventledger"):
                # `from package import submodule` depends on the submodule, not on what the
                # package's __init__ gathers from its other submodules.
                subs = {f"{node.module}.{a.name}" for a in node.names} & MODULES
                found |= subs if subs else {node.module}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("eventledger")}
    return found


MODULES = set(_modules())


def _graph(*, runtime_only: bool) -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: {m for m in _imports(path, runtime_only=runtime_only) if m in modules} - {name}
        for name, path in modules.items()
    }


def test_every_stage_has_a_rank() -> None:
    stages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert stages - set(RANKS) == set()


def test_no_module_imports_a_higher_stage() -> None:
    upward = []
    for module, imported in _graph(runtime_only=False).items():
        here = _stage(module)
        for target in imported:
            there = _stage(target)
            if there == here:
                continue
            if RANKS[there] >= RANKS[here]:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_import_cycle() -> None:
    graph = _graph(runtime_only=True)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


@pytest.mark.parametrize("module", ["eventledger.publish.diff", "eventledger.publish.verify"])
def test_json_commands_do_not_import_pandas(module: str) -> None:
    """diff and verify read JSON, CSV and Parquet: pandas and Pandera would cost them a second."""
    code = (
        f"import sys, {module}; print(sorted(m for m in ('pandas', 'pandera') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


# Distribution name -> the module it is imported as, where they differ.
IMPORT_NAMES = {"pyyaml": "yaml"}


def test_runtime_dependencies_are_imported_by_the_tool() -> None:
    """A runtime dependency nothing imports is weight every user installs; a library only the
    tests use belongs with the dev dependencies."""
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {d.split("==")[0].lower() for d in project["dependencies"]}
    imported: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    unused = sorted(d for d in declared if IMPORT_NAMES.get(d, d).replace("-", "_") not in imported)
    assert unused == []

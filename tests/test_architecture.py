"""Imports point one way (docs/architecture.md): every module's imports are checked against the rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> the packages of ours it may import (besides itself)
ALLOWED: dict[str, frozenset[str]] = {
    "config": frozenset(),
    "geo": frozenset({"config"}),
    "layers": frozenset({"config"}),
    "ingest": frozenset({"config", "geo", "layers"}),
    "synthetic": frozenset({"config", "geo", "layers"}),
    "jobs": frozenset({"config", "geo", "layers", "ingest"}),
    "web": frozenset({"config", "layers", "jobs"}),
    "cli": frozenset({"config", "geo", "layers", "ingest", "synthetic", "jobs", "web"}),
    "benchmarks": frozenset({"config", "geo", "layers", "ingest", "synthetic", "jobs", "web"}),
    "tests": frozenset({"config", "geo", "layers", "ingest", "synthetic", "jobs", "web", "cli", "benchmarks"}),
}
OURS = frozenset(ALLOWED)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, dotted module) of every import in ``source``, relative imports resolved against ``module``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """The imports of ``module`` (whose text is ``source``) that break the rule, as readable lines."""
    package = module.split(".")[0]
    allowed = ALLOWED[package]
    out = []
    for line, name in imported_modules(source, module, is_package):
        target = name.split(".")[0]
        if target in OURS and target != package and target not in allowed:
            out.append(f"{module} line {line}: imports {name} ({package}/ may import only {', '.join(sorted(allowed)) or 'nothing of ours'})")
    return out


def our_modules() -> list[tuple[Path, str]]:
    modules = []
    for package in sorted(OURS):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            modules.append((path, ".".join(rel.parts)))
    return modules


def test_every_module_imports_one_way() -> None:
    modules = our_modules()
    assert len(modules) > 100, "the walk found the packages"
    broken = [v for path, module in modules for v in violations(path.read_text(), module, path.name == "__init__.py")]
    assert broken == []


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        ("geo.flags", "from layers.store import Store\n", "geo.flags line 1: imports layers.store"),
        ("layers.export", "import geo.metric\n", "layers.export line 1: imports geo.metric"),
        ("ingest.boundaries", "from jobs.runs import Run\n", "ingest.boundaries line 1: imports jobs.runs"),
        ("jobs.detect", "from cli.main import cli\n", "jobs.detect line 1: imports cli.main"),
        ("jobs.detect", "from synthetic.scenes import make\n", "jobs.detect line 1: imports synthetic.scenes"),
        ("web.api", "x = 1\nfrom geo.flags import flag\n", "web.api line 2: imports geo.flags"),
        ("synthetic.scenes", "from tests.geo import helpers\n", "synthetic.scenes line 1: imports tests.geo"),
        ("config.settings", "from layers import catalog\n", "config.settings line 1: imports layers"),
        ("benchmarks.bench_x", "from cli.main import cli\n", "benchmarks.bench_x line 1: imports cli.main"),
        ("geo.change.detection", "from ...jobs import runs\n", "imports jobs"),
    ],
)
def test_a_module_that_breaks_the_rule_is_named(module: str, source: str, expected: str) -> None:
    found = violations(source, module)
    assert len(found) == 1 and expected in found[0], found


def test_allowed_imports_pass() -> None:
    assert violations("from config import Settings\nimport numpy\nfrom . import kernel\n", "geo.change.detection") == []
    assert violations("from jobs.detect import detect\nfrom web import create_app\n", "cli.main") == []

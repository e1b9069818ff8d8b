"""Every predicate a browser test waits for is a function, never a bare expression.

Playwright evaluates a bare-expression predicate with ``eval`` each time it polls, and the app's
Content-Security-Policy (no ``unsafe-eval``) refuses that: such a wait passes when the condition
already holds at the first check and errors when it has to poll — a test that fails by timing
(it failed this way in CI once). This reads the tests' source, so it needs no browser: the
predicate of every ``wait_for_function`` call (first argument or ``expression=``) must be a string
literal, or a module-level string constant of the tests, that is a JavaScript function.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
# `function`, `async`, `(args) =>` or `name =>`; a parenthesised expression without an arrow is not one
FUNCTION = re.compile(r"\s*(async\b|function\b|\([^()]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)")


def _constants(paths: list[Path]) -> dict[str, list[str]]:
    """Module-level string constants (``NAME = "..."`` or ``NAME: str = "..."``) of ``paths``, by name."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for node in ast.parse(path.read_text(), filename=str(path)).body:
            targets, value = ([node.target], node.value) if isinstance(node, ast.AnnAssign) else (
                (node.targets, node.value) if isinstance(node, ast.Assign) else ([], None))
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                for target in targets:
                    if isinstance(target, ast.Name):
                        found.setdefault(target.id, []).append(value.value)
    return found


def _bad_waits(path: Path, constants: dict[str, list[str]]) -> list[str]:
    bad = []
    tree = ast.parse(path.read_text(), filename=str(path))
    params = {a.arg for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for a in f.args.args}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "wait_for_function"):
            continue
        arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "expression"), None)
        where = f"{path.name}:{node.lineno}"
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            texts = [arg.value]
        elif isinstance(arg, ast.Name) and arg.id in constants:
            texts = constants[arg.id]
        elif isinstance(arg, ast.Name) and arg.id in params:
            continue  # a helper's parameter: its callers pass a literal or a constant, checked at theirs
        else:
            bad.append(f"{where}: predicate is not a string literal or a module constant ({ast.dump(arg)[:40] if arg else 'missing'})")
            continue
        bad += [f"{where}: {text.strip()[:60]!r}" for text in texts if not FUNCTION.match(text)]
    return bad


def test_every_wait_predicate_is_a_function() -> None:
    files = sorted(TESTS.rglob("*.py"))
    constants = _constants(files)
    bad = [b for f in files for b in _bad_waits(f, constants)]
    assert not bad, "wait_for_function given something other than a function (CSP refuses eval): " + "; ".join(bad)


def test_the_check_catches_bare_expressions(tmp_path: Path) -> None:
    sample = tmp_path / "sample_browser.py"
    sample.write_text(
        'READY_JS = "window.ready === true"\n'
        'OK_JS: str = "() => window.ready"\n'
        'page.wait_for_function("window.x > 1")\n'
        'page.wait_for_function("(window.x > 1)")\n'
        'page.wait_for_function(expression="window.y")\n'
        'page.wait_for_function(READY_JS)\n'
        'page.wait_for_function(f"() => window.{name}")\n'
        'page.wait_for_function("() => window.x > 1")\n'
        'page.wait_for_function("x => x > 1", arg=1)\n'
        'page.wait_for_function("function () { return true; }")\n'
        'page.wait_for_function("([a, b]) => a < b", arg=[1, 2])\n'
        'page.wait_for_function(OK_JS)\n'
    )
    bad = _bad_waits(sample, _constants([sample]))
    assert [b.split(":")[1] for b in bad] == ["3", "4", "5", "6", "7"], bad

"""Every predicate a browser test waits for is a function, never a bare expression.

Playwright evaluates a bare-expression predicate with ``eval`` while it polls, and the app's
Content-Security-Policy (no ``unsafe-eval``) refuses that: such a wait passes when the condition
already holds at the first check and errors when it has to poll — a test that fails by timing
(it failed this way in CI once). This reads the browser tests' source, so it needs no browser.
"""

from __future__ import annotations

import ast
from pathlib import Path

WAITS = {"wait_for_function"}


def _bare_predicates(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WAITS):
            continue
        if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
            continue  # a name (a module constant) is checked where it is defined
        text = node.args[0].value.lstrip()
        if not (text.startswith("(") or text.startswith("function") or text.startswith("async")):
            found.append(f"{path.name}:{node.lineno}: {text[:60]!r}")
    return found


def _function_constants(path: Path) -> list[str]:
    """Module constants named *_JS that a wait uses must be functions too."""
    found = []
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                text = node.value.value.lstrip()
                if isinstance(target, ast.Name) and target.id.endswith("IDLE_JS") and not text.startswith("("):
                    found.append(f"{path.name}:{node.lineno}: {target.id}")
    return found


def test_every_wait_predicate_is_a_function() -> None:
    here = Path(__file__).parent
    files = sorted(here.glob("*.py")) + sorted(here.parent.glob("**/*browser*.py"))
    bad = [b for f in dict.fromkeys(files) for b in _bare_predicates(f) + _function_constants(f)]
    assert not bad, "wait_for_function given a bare expression (CSP refuses its eval): " + "; ".join(bad)


def test_the_check_catches_a_bare_expression(tmp_path: Path) -> None:
    sample = tmp_path / "sample_browser.py"
    sample.write_text('page.wait_for_function("window.x > 1")\npage.wait_for_function("() => window.x > 1")\n')
    assert _bare_predicates(sample) == ["sample_browser.py:1: 'window.x > 1'"]

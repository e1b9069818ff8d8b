"""The login throttle's rule, on a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers import Store, open_store
from layers.login_throttle import ThrottleRule, clear, record_failure, retry_after

RULE = ThrottleRule(max_failures=5, window_s=900)
ACCOUNT = ("account", "ana")
ADDRESS = ("address", "192.0.2.1")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = open_store(tmp_path / "t.gpkg")
    yield st
    st.close()


def _fail(store: Store, at: float, *subjects: tuple[str, str]) -> None:
    record_failure(store, RULE, subjects or (ACCOUNT, ADDRESS), clock=lambda: at)  # type: ignore[arg-type]


def _wait(store: Store, at: float, *subjects: tuple[str, str]) -> int:
    return retry_after(store, RULE, subjects or (ACCOUNT, ADDRESS), clock=lambda: at)  # type: ignore[arg-type]


def test_five_failures_lock_until_the_oldest_leaves_the_window(store: Store) -> None:
    for i in range(4):
        _fail(store, 1000.0 + 60 * i)
        assert _wait(store, 1000.0 + 60 * i + 1) == 0
    _fail(store, 1240.0)
    assert _wait(store, 1240.5) == 660  # 1000 + 900 - 1240.5, rounded up
    assert _wait(store, 1899.0) == 1
    assert _wait(store, 1900.0) == 0  # the 1000 s failure has left the window; four remain
    _fail(store, 1901.0)
    assert _wait(store, 1901.0) == 1960 - 1901  # now the 1060 s failure holds the lock


def test_subjects_are_independent(store: Store) -> None:
    for i in range(5):
        _fail(store, 100.0 + i, ACCOUNT, ("address", f"10.0.0.{i}"))
    assert _wait(store, 110.0, ACCOUNT) > 0
    assert _wait(store, 110.0, ("account", "bob"), ("address", "10.0.0.0")) == 0
    assert _wait(store, 110.0, ("address", "10.0.0.9")) == 0


def test_failures_outside_the_window_do_not_count(store: Store) -> None:
    for i in range(10):
        _fail(store, 1000.0 * i)
    assert _wait(store, 9000.0) == 0
    (failures,) = store.read("login_throttle", where={"scope": "account", "subject": "ana"})["failures"]
    assert failures == [9000.0]  # older ones are dropped when a new one is written


def test_clear(store: Store) -> None:
    for i in range(5):
        _fail(store, 10.0 + i)
    clear(store, "account", "ana")
    assert _wait(store, 20.0, ACCOUNT) == 0 and _wait(store, 20.0, ADDRESS) > 0

"""Review decisions: recorded with the status in one transaction, conflicts kept and refused, the trail append-only."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

import pandas as pd
import pytest

from layers import open_store
from layers.errors import ReviewConflict, ReviewError, StoreError
from layers.reviews import Decision, decide, decide_many, latest_review, trail, versions

from .review_fixtures import review_store

pytestmark = pytest.mark.backend  # every test runs on the GeoPackage and on PostGIS


@pytest.fixture
def store_file(store_url: str) -> str:
    return str(review_store(store_url, n=6))


def _status(store: object, cid: str) -> tuple[str, int]:
    row = store.read("clearings", where={"clearing_id": cid}, columns=["review_status", "status_version"]).iloc[0]  # type: ignore[attr-defined]
    return row["review_status"], (0 if pd.isna(row["status_version"]) else int(row["status_version"]))


def test_decision_sets_status_and_appends_trail(store_file: str) -> None:
    with open_store(store_file) as store:
        row = decide(store, Decision("CL-000", "dismiss", 0, reason="agriculture", comment="  cassava field "), "ana")
        assert _status(store, "CL-000") == ("dismissed", 1)
        assert row["from_status"] == "new" and row["to_status"] == "dismissed" and row["comment"] == "cassava field"
        decide(store, Decision("CL-000", "field_check", 1), "bo")
        got = trail(store, "CL-000")
        assert list(got["decision"]) == ["dismiss", "field_check"] and list(got["user"]) == ["ana", "bo"]
        assert list(got["from_status"]) == ["new", "dismissed"] and list(got["outcome"]) == ["applied", "applied"]
        assert _status(store, "CL-000") == ("field_check", 2)
        assert latest_review(store, "CL-000")["user"] == "bo"  # type: ignore[index]


def test_conflict_is_refused_and_kept_in_the_trail(store_file: str) -> None:
    with open_store(store_file) as store:
        decide(store, Decision("CL-001", "confirm", 0), "ana")
        with pytest.raises(ReviewConflict) as err:
            decide(store, Decision("CL-001", "dismiss", 0, reason="water"), "bo")
        assert err.value.latest is not None and err.value.latest["user"] == "ana" and err.value.version == 1
        got = trail(store, "CL-001")
        assert len(got) == 2 and list(got["outcome"]) == ["applied", "conflict"]
        assert _status(store, "CL-001") == ("confirmed", 1)


def test_racing_analysts_one_wins(store_file: str) -> None:
    """Two threads decide on the same version through one store: exactly one is applied."""
    outcomes: list[str] = []
    with open_store(store_file) as store:
        barrier = threading.Barrier(2)

        def go(user: str) -> None:
            barrier.wait()
            try:
                decide(store, Decision("CL-002", "confirm", 0), user)
                outcomes.append("applied")
            except ReviewConflict:
                outcomes.append("conflict")

        threads = [threading.Thread(target=go, args=(u,)) for u in ("ana", "bo")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["applied", "conflict"]
        assert len(trail(store, "CL-002")) == 2 and _status(store, "CL-002")[1] == 1


def _decide_until_applied(url: str, cid: str, decision: str, user: str, barrier: threading.Barrier, out: list[object]) -> None:
    """An analyst of their own (their own store object: another process of the web app) decides on
    version 0; when another decision came first, they look again and decide on the new version."""
    try:
        with open_store(url) as store:
            barrier.wait(60)
            version = 0
            while True:
                try:
                    decide(store, Decision(cid, decision, version, reason="water" if decision == "dismiss" else None), user)
                    out.append(user)
                    return
                except ReviewConflict as err:
                    version = err.version
    except BaseException as err:  # reported by the test
        out.append(err)


@pytest.mark.parametrize("analysts", [2, 8])
def test_analysts_deciding_at_once_all_land_and_the_later_decision_is_the_status(store_file: str, analysts: int) -> None:
    """Decisions on one clearing at the same moment: every one lands in the trail, none is lost or
    applied twice, and the clearing's status is the decision applied last."""
    decisions = ["confirm", "dismiss", "field_check"]
    barrier = threading.Barrier(analysts)
    out: list[object] = []
    threads = [threading.Thread(target=_decide_until_applied, args=(store_file, "CL-004", decisions[i % 3], f"analyst{i}", barrier, out))
               for i in range(analysts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(map(str, out)) == sorted(f"analyst{i}" for i in range(analysts))
    with open_store(store_file, readonly=True) as store:
        got = trail(store, "CL-004")
        applied = got[got["outcome"] == "applied"]
        assert sorted(applied["user"]) == sorted(f"analyst{i}" for i in range(analysts))  # each applied exactly once
        assert list(applied["status_version"]) == list(range(analysts))  # in time order, one version after another
        assert len(got) - len(applied) == (got["outcome"] == "conflict").sum()  # the rest were kept as conflicts
        assert _status(store, "CL-004") == (applied["to_status"].iloc[-1], analysts)


def test_two_stores_on_one_file(store_file: str) -> None:
    """Two processes' connections: the second decision on the old version conflicts."""
    with open_store(store_file) as a, open_store(store_file) as b:
        decide(a, Decision("CL-003", "confirm", 0), "ana")
        with pytest.raises(ReviewConflict):
            decide(b, Decision("CL-003", "confirm", 0), "bo")


@pytest.mark.parametrize(("decision", "says"), [
    (Decision("CL-000", "approve", 0), "not one of"),
    (Decision("CL-000", "dismiss", 0), "needs a reason"),
    (Decision("CL-000", "dismiss", 0, reason="boredom"), "needs a reason"),
    (Decision("CL-000", "dismiss", 0, reason="other"), "needs a comment"),
    (Decision("CL-000", "confirm", 0, reason="water"), "only a dismissal"),
    (Decision("CL-000", "confirm", 0, comment="x" * 2001), "longer than"),
    (Decision("CL-000", "confirm", -1), "negative"),
    (Decision("CL-000", "confirm", 0, mode="sample"), "names its sample"),
    (Decision("CL-404", "confirm", 0), "no clearing"),
])
def test_bad_decisions(store_file: str, decision: Decision, says: str) -> None:
    with open_store(store_file) as store:
        with pytest.raises(ReviewError, match=says):
            decide(store, decision, "ana")
        assert trail(store, decision.clearing_id).empty and _status(store, "CL-000") == ("new", 0)


def test_merged_clearing_refuses_decisions(store_file: str) -> None:
    with open_store(store_file) as store:
        store.upsert("clearings", pd.DataFrame([{"clearing_id": "CL-004", "merged_into": "CL-005"}]))
        with pytest.raises(ReviewError, match="merged into CL-005"):
            decide(store, Decision("CL-004", "confirm", 0), "ana")


def test_trail_is_append_only(store_file: str) -> None:
    with open_store(store_file) as store:
        decide(store, Decision("CL-000", "confirm", 0), "ana")
        with pytest.raises(StoreError):
            store.delete("reviews", where={"clearing_id": "CL-000"})
        with pytest.raises(StoreError):
            store.upsert("reviews", trail(store, "CL-000").assign(comment="rewritten"))
    # the store itself refuses, whoever writes to it
    if store_file.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store_file, autocommit=True) as pg, pytest.raises(psycopg.Error, match="append-only"):
            pg.execute("UPDATE reviews SET \"user\" = 'mallory'")
        return
    conn = sqlite3.connect(store_file)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE reviews SET user = 'mallory'")
    conn.close()


def test_status_and_trail_land_together(store_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A trail write that fails leaves the status as it was."""
    with open_store(store_file) as store:
        real = store.upsert

        def failing(layer: str, frame: pd.DataFrame) -> object:
            if layer == "reviews":
                raise StoreError("disk full")
            return real(layer, frame)

        monkeypatch.setattr(store, "upsert", failing)
        with pytest.raises(StoreError):
            decide(store, Decision("CL-000", "confirm", 0), "ana")
        monkeypatch.undo()
        assert _status(store, "CL-000") == ("new", 0) and trail(store, "CL-000").empty


def test_bulk(store_file: str) -> None:
    with open_store(store_file) as store:
        decide(store, Decision("CL-001", "confirm", 0), "bo")
        out = decide_many(store, [Decision(c, "field_check", 0) for c in ("CL-000", "CL-001", "CL-404", "CL-002")], "ana",
                          now=dt.datetime(2026, 1, 2, tzinfo=dt.UTC))
        assert [r["clearing_id"] for r in out.recorded] == ["CL-000", "CL-002"]
        assert [c.clearing_id for c in out.conflicts] == ["CL-001"] and out.refused[0][0] == "CL-404"
        assert versions(store, ["CL-000", "CL-001", "CL-002", "CL-003"]) == {"CL-000": 1, "CL-001": 1, "CL-002": 1, "CL-003": 0}

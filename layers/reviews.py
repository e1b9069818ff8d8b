"""Review decisions on clearings: checked, recorded in the append-only ``reviews`` trail, and applied.

A decision (confirm, dismiss with a reason, or needs field check) names the clearing's *status
version* it was made on: the number of decisions recorded on the clearing when the analyst saw
it. :func:`decide` records it only if that is still the clearing's version; otherwise another
analyst decided in between: the decision is still kept in the trail (``outcome`` "conflict", the
status unchanged) and :class:`layers.errors.ReviewConflict` carries the newer decision. The status
update and the trail row land in one transaction, so the trail and the status never disagree;
nothing in the trail is ever updated or deleted (the store refuses to).

Decisions made in *sample* mode (a unit of a random accuracy sample, :mod:`layers.review_sample`)
say so (``mode``, ``sample_id``); only those count in the accuracy estimate.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from layers.errors import ReviewConflict, ReviewError
from layers.store import Store

logger = logging.getLogger(__name__)

# decision -> the review status it sets
DECISIONS: dict[str, str] = {"confirm": "confirmed", "dismiss": "dismissed", "field_check": "field_check"}
DISMISS_REASONS: dict[str, str] = {
    "agriculture": "Agriculture",
    "plantation_rotation": "Plantation rotation",
    "seasonal": "Seasonal change",
    "cloud_shadow": "Cloud or shadow artefact",
    "water": "Water",
    "natural": "Natural (fire, wind, landslide)",
    "other": "Other (say why in the comment)",
}
MODES = ("queue", "sample")
MAX_COMMENT_CHARS = 2000
TRAIL_COLUMNS = ["review_id", "clearing_id", "user", "decision", "from_status", "to_status", "reason", "comment",
                 "decided", "status_version", "outcome", "mode", "sample_id"]


@dataclass(frozen=True)
class Decision:
    """One analyst's decision on one clearing (or sample unit), as submitted."""

    clearing_id: str
    decision: str
    version: int
    reason: str | None = None
    comment: str = ""
    mode: str = "queue"
    sample_id: str | None = None

    def checked(self) -> Decision:
        """This decision if it is well-formed; :class:`ReviewError` says what is wrong otherwise."""
        if self.decision not in DECISIONS:
            raise ReviewError(f"decision {self.decision[:40]!r} is not one of {', '.join(DECISIONS)}")
        if self.decision == "dismiss":
            if self.reason not in DISMISS_REASONS:
                raise ReviewError(f"a dismissal needs a reason, one of {', '.join(DISMISS_REASONS)}")
            if self.reason == "other" and not self.comment.strip():
                raise ReviewError("a dismissal for another reason needs a comment saying which")
        elif self.reason:
            raise ReviewError(f"only a dismissal takes a reason, not {self.decision!r}")
        if len(self.comment) > MAX_COMMENT_CHARS:
            raise ReviewError(f"the comment is longer than {MAX_COMMENT_CHARS} characters")
        if self.version < 0:
            raise ReviewError("the status version cannot be negative")
        if self.mode not in MODES:
            raise ReviewError(f"mode {self.mode[:20]!r} is not one of {', '.join(MODES)}")
        if (self.mode == "sample") != bool(self.sample_id):
            raise ReviewError("a sample decision names its sample, and only a sample decision does")
        return self


def _version(value: Any) -> int:
    return 0 if value is None or pd.isna(value) else int(value)


def latest_review(store: Store, clearing_id: str) -> dict[str, Any] | None:
    """The last decision recorded on ``clearing_id``, or ``None``."""
    rows = trail(store, clearing_id)  # a short list; same-second decisions keep their order
    return None if rows.empty else _record(rows.iloc[-1])


def _record(row: pd.Series) -> dict[str, Any]:
    return {k: (None if not isinstance(v, list | dict) and pd.isna(v) else v) for k, v in row.items()}


def trail(store: Store, clearing_id: str) -> pd.DataFrame:
    """Every decision on ``clearing_id``, oldest first."""
    return store.read("reviews", where={"clearing_id": clearing_id}, columns=TRAIL_COLUMNS, order_by=["decided"])


def _sample_unit(store: Store, decision: Decision) -> pd.DataFrame:
    units = store.read("review_samples", where={"sample_id": decision.sample_id, "unit_id": decision.clearing_id},
                       columns=["unit_id", "clearing_id"])
    if units.empty:
        raise ReviewError(f"{decision.clearing_id} is not a unit of sample {decision.sample_id}")
    return units


def decide(store: Store, decision: Decision, user: str, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Record ``decision`` by ``user`` and set the clearing's review status; returns the trail row.

    Raises
    ------
    ReviewError
        When the decision is malformed, the clearing is unknown, or it was merged into another
        (decide on that one).
    ReviewConflict
        When the clearing's status version is no longer ``decision.version``.
    """
    decision = decision.checked()
    if not user:
        raise ReviewError("a decision needs the name of the analyst who made it")
    conflict: ReviewConflict | None = None
    with store.transaction():  # read, compare and write as one: no decision can slip in between
        # stamped once the store's writer lock is held, so that the trail's time order is the order
        # in which decisions were applied, on every backend
        when = now or dt.datetime.now(dt.UTC)
        if decision.mode == "sample":
            _sample_unit(store, decision)
        rows = store.read("clearings", where={"clearing_id": decision.clearing_id},
                          columns=["clearing_id", "review_status", "status_version", "merged_into"])
        point_unit = rows.empty and decision.mode == "sample"
        if rows.empty and not point_unit:
            raise ReviewError(f"no clearing {decision.clearing_id[:60]!r}")
        if point_unit:  # a point of the no-alert stratum: its versions are its decisions
            from_status = "new"
            current = len(trail(store, decision.clearing_id))
        else:
            row = rows.iloc[0]
            if isinstance(row["merged_into"], str) and row["merged_into"]:
                raise ReviewError(f"clearing {decision.clearing_id} was merged into {row['merged_into']}; decide on that one")
            from_status = str(row["review_status"]) if isinstance(row["review_status"], str) else "new"
            current = _version(row["status_version"])
        if current != decision.version:
            conflict = ReviewConflict(decision.clearing_id, decision.version, current, latest_review(store, decision.clearing_id))
        to_status = DECISIONS[decision.decision]
        review = {
            "review_id": uuid.uuid4().hex, "clearing_id": decision.clearing_id, "user": user, "decision": decision.decision,
            "from_status": from_status, "to_status": to_status, "reason": decision.reason, "comment": decision.comment.strip(),
            "decided": pd.Timestamp(when), "status_version": decision.version,
            "outcome": "conflict" if conflict else "applied", "mode": decision.mode, "sample_id": decision.sample_id,
        }
        if not point_unit and conflict is None:
            store.upsert("clearings", pd.DataFrame([{
                "clearing_id": decision.clearing_id, "review_status": to_status, "status_version": current + 1,
            }]))
        store.upsert("reviews", pd.DataFrame([review], columns=TRAIL_COLUMNS))
    if conflict is not None:  # recorded in the trail (committed), not applied
        logger.info("review: %s %s %s refused: %s", user, decision.decision, decision.clearing_id, conflict)
        raise conflict
    logger.info("review: %s %s %s (version %d -> %d)", user, decision.decision, decision.clearing_id, current, current + 1)
    return review


@dataclass(frozen=True)
class BulkOutcome:
    """What a bulk decision did: the rows recorded, and the clearings refused with why."""

    recorded: list[dict[str, Any]]
    conflicts: list[ReviewConflict]
    refused: list[tuple[str, str]]


def decide_many(store: Store, decisions: Iterable[Decision], user: str, *, now: dt.datetime | None = None) -> BulkOutcome:
    """:func:`decide` each of ``decisions`` in one transaction; one that conflicts or is refused
    leaves the others recorded (each decision is its own savepoint)."""
    recorded: list[dict[str, Any]] = []
    conflicts: list[ReviewConflict] = []
    refused: list[tuple[str, str]] = []
    with store.transaction():
        for decision in decisions:
            try:
                recorded.append(decide(store, decision, user, now=now))
            except ReviewConflict as err:
                conflicts.append(err)
            except ReviewError as err:
                refused.append((decision.clearing_id, str(err)))
    return BulkOutcome(recorded, conflicts, refused)


def versions(store: Store, clearing_ids: Sequence[str]) -> dict[str, int]:
    """The status version of each of ``clearing_ids`` that exists."""
    rows = store.read("clearings", where={"clearing_id": list(clearing_ids)}, columns=["clearing_id", "status_version"])
    return {str(c): _version(v) for c, v in zip(rows["clearing_id"], rows["status_version"], strict=True)}

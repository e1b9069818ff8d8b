"""Conditions a store query may put on a field besides equality and lists: ranges and list members.

``store.read(..., where={"risk": AtLeast(60), "first_detected": Between(d0, d1), "flags": Contains("protected_area")})``.
Every backend translates them; they are plain data, so a filter built once (:mod:`layers.filters`)
serves the review queue, the map and exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Between:
    """``low <= value <= high``; either end may be ``None`` (open)."""

    low: Any = None
    high: Any = None


def AtLeast(low: Any) -> Between:  # noqa: N802 - reads as a condition, like Between
    """``value >= low``."""
    return Between(low, None)


class Contains:
    """A JSON list field that holds any of ``values`` among its items."""

    __slots__ = ("values",)

    def __init__(self, *values: Any) -> None:
        if not values:
            raise ValueError("Contains needs at least one value")
        self.values = tuple(values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Contains) and other.values == self.values

    def __hash__(self) -> int:
        return hash(("Contains", self.values))

    def __repr__(self) -> str:
        return f"Contains{self.values!r}"


@dataclass(frozen=True)
class Not:
    """The rows whose field is not ``value`` (nor in it, for a list); NULL counts as "not"."""

    value: Any


Condition = Between | Contains | Not

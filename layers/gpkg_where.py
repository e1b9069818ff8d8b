"""SQL of the store's query conditions (:mod:`layers.conditions`) for SQLite."""

from __future__ import annotations

from typing import Any

from layers.conditions import Between, Contains, Not
from layers.values import to_sql


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def condition_sql(name: str, ftype: str, cond: Between | Contains | Not) -> tuple[str, list[Any]]:
    """The SQL of one :mod:`layers.conditions` condition on field ``name`` and its parameters."""
    col = _quote(name)
    if isinstance(cond, Contains):
        # flags and the like are JSON lists of strings: ask SQLite's JSON functions
        marks = ",".join("?" * len(cond.values))
        return f"EXISTS (SELECT 1 FROM json_each({col}) WHERE json_each.value IN ({marks}))", list(cond.values)
    if isinstance(cond, Not):
        values = list(cond.value) if isinstance(cond.value, list | tuple | set) else [cond.value]
        marks = ",".join("?" * len(values))
        return f"({col} IS NULL OR {col} NOT IN ({marks}))", [to_sql(ftype, v) for v in values]
    parts: list[str] = []
    params: list[Any] = []
    if cond.low is not None:
        parts.append(f"{col} >= ?")
        params.append(to_sql(ftype, cond.low))
    if cond.high is not None:
        parts.append(f"{col} <= ?")
        params.append(to_sql(ftype, cond.high))
    return (" AND ".join(parts) or "1"), params

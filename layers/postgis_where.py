"""SQL of a store query's ``where`` and ``bbox`` for PostgreSQL, with the GeoPackage store's meaning.

Equality, lists (``= ANY`` of an array cast to the column's type, so that a list of 100 000 ids
is one parameter), ``None`` (IS NULL) and the :mod:`layers.conditions` conditions; text compares
byte-wise (text columns are ``COLLATE "C"``) as SQLite does, so ranges and orders agree whatever the database's
locale; a bbox is the envelope test the GiST index answers, as the GeoPackage's R-tree does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from layers.catalog import Field, Layer
from layers.conditions import Between, Contains, Not
from layers.errors import LayerError
from layers.gpkg_schema import quote
from layers.postgis_values import PG_TYPES, placeholder, to_pg
from layers.schema import GEOMETRY, SRS_ID
from layers.store import BBox


def field(layer: Layer, name: str) -> Any:
    if name == "fid":  # the row id, as the GeoPackage backend reads it too (a feature fetched by its id)
        return Field("fid", "integer", "The store's row id.")
    try:
        return layer.field(name)
    except KeyError as err:
        raise LayerError(f"layer {layer.name!r} has no field {name!r}; fields: {', '.join(layer.field_names)}") from err


def column(name: str, ftype: str) -> str:
    """A column as compared and ordered (text columns are declared ``COLLATE "C"``: byte-wise, as SQLite's)."""
    return quote(name)


def order_sql(layer: Layer, order_by: tuple[str, ...] | list[str]) -> str:
    """ORDER BY of ``order_by`` (``-name`` descending) then ``fid``, NULLs where SQLite puts them."""
    parts = []
    for n in order_by:
        f = field(layer, n.lstrip("-"))
        parts.append(column(f.name, f.type) + (" DESC NULLS LAST" if n.startswith("-") else " ASC NULLS FIRST"))
    return " ORDER BY " + ", ".join([*parts, "fid"])


def condition_sql(name: str, ftype: str, cond: Between | Contains | Not) -> tuple[str, list[Any]]:
    """The SQL of one :mod:`layers.conditions` condition on field ``name`` and its parameters."""
    col = column(name, ftype)
    if isinstance(cond, Contains):
        # a JSON list holding any of the values: one containment test per value (GIN-indexable)
        tests = [f"{quote(name)} @> %s::jsonb" for _ in cond.values]
        return "(" + " OR ".join(tests) + ")", [to_pg("json", [v]) for v in cond.values]
    if isinstance(cond, Not):
        values = list(cond.value) if isinstance(cond.value, list | tuple | set) else [cond.value]
        return f"({quote(name)} IS NULL OR NOT ({col} = ANY(%s::{PG_TYPES[ftype]}[])))", [[to_pg(ftype, v) for v in values]]
    parts: list[str] = []
    params: list[Any] = []
    if cond.low is not None:
        parts.append(f"{col} >= {placeholder(ftype)}")
        params.append(to_pg(ftype, cond.low))
    if cond.high is not None:
        parts.append(f"{col} <= {placeholder(ftype)}")
        params.append(to_pg(ftype, cond.high))
    return (" AND ".join(parts) or "TRUE"), params


def where_sql(layer: Layer, where: Mapping[str, Any] | None, bbox: BBox | None) -> tuple[str, list[Any]]:
    """`` WHERE …`` (or nothing) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in (where or {}).items():
        fld = field(layer, name)
        if isinstance(value, Between | Contains | Not):
            clause, values = condition_sql(name, fld.type, value)
            clauses.append(clause)
            params += values
        elif isinstance(value, list | tuple | set | np.ndarray | pd.Series):
            values = [to_pg(fld.type, v) for v in value]
            if not values:
                clauses.append("FALSE")
                continue
            # SQLite's IN never matches NULL: neither does = ANY
            clauses.append(f"{column(name, fld.type)} = ANY(%s::{PG_TYPES[fld.type]}[])")
            params.append(values)
        elif value is None:
            clauses.append(f"{quote(name)} IS NULL")
        else:
            clauses.append(f"{column(name, fld.type)} = {placeholder(fld.type)}")
            params.append(to_pg(fld.type, value))
    if bbox is not None:
        if not layer.geometry_type:
            raise LayerError(f"layer {layer.name!r} has no geometry to filter by bbox")
        w, s, e, n = (float(v) for v in bbox)
        clauses.append(f"{GEOMETRY} && ST_MakeEnvelope(%s, %s, %s, %s, {SRS_ID})")
        params += [w, s, e, n]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

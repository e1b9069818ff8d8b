"""The map's search: a clearing by its id, a concession or a protected area by its name.

Every read goes through :func:`layers.redaction.read_redacted` as the caller's role sees the
layer, so a search finds only what the role could find by panning (a viewer: confirmed
clearings only) and matches only fields the role sees. Answers are places to fly to: the
layer, a label and the feature's bounding box (W, S, E, N degrees).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from layers.catalog import CATALOG
from layers.errors import FilterError
from layers.redaction import (
    Access,
    Role,
    check_role,
    may_read,
    read_redacted,
    source_layer,
    visible_fields,
)
from layers.store import Store

logger = logging.getLogger(__name__)

MAX_QUERY_CHARS = 100
MAX_RESULTS = 10
_QUERY = re.compile(r"[\w .,'()/&:-]{1,100}")


@dataclass(frozen=True)
class Searchable:
    """A field searched in a layer: ``exact`` (an id, case-insensitive) or ``contains`` (a name)."""

    layer: str
    field: str
    match: str
    label: str


SEARCHABLE: tuple[Searchable, ...] = (
    Searchable("clearings", "clearing_id", "exact", "clearing_id"),
    Searchable("protected_areas", "name", "contains", "name"),
    Searchable("concessions", "holder", "contains", "holder"),
    Searchable("concessions", "source_id", "exact", "holder"),
)


def _bounds(geom: Any) -> list[float]:
    w, s, e, n = geom.bounds
    return [round(float(v), 6) for v in (w, s, e, n)]


def search(store: Store, who: Access | Role, text: str, *, limit: int = MAX_RESULTS) -> list[dict[str, Any]]:
    """Places matching ``text``: ``[{"layer", "title", "label", "id", "bbox"}]``, ids first.

    Raises
    ------
    FilterError
        When ``text`` is empty, too long or holds characters no id or name has (parameter ``q``).
    """
    access = who if isinstance(who, Access) else Access(check_role(who))
    query = " ".join(str(text).split())
    if not query:
        raise FilterError("q", "give a clearing id, a concession or a protected area name")
    if len(query) > MAX_QUERY_CHARS or not _QUERY.fullmatch(query):
        raise FilterError("q", f"{query[:40]!r} is not an id or a name (letters, digits, space and . , ' ( ) / & : -; at most {MAX_QUERY_CHARS})")
    needle = query.casefold()
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for item in SEARCHABLE:
        layer = CATALOG[item.layer]
        if not may_read(layer, access.role):
            continue
        src = source_layer(layer, access)
        names = {f.name for f in visible_fields(src, src.field_names, access.role)}
        if item.field not in names or item.label not in names:
            continue
        if item.match == "exact":
            frame = read_redacted(store, layer, access, where={item.field: [query, query.upper()]}, columns=list(dict.fromkeys([item.field, item.label])), limit=limit)
        else:
            frame = read_redacted(store, layer, access, columns=list(dict.fromkeys([item.field, item.label])))
            values = frame[item.field].astype("string").str.casefold()
            frame = frame[values.str.contains(needle, regex=False, na=False).to_numpy()]
            frame = frame.assign(_starts=values[values.str.contains(needle, regex=False, na=False)].str.startswith(needle).to_numpy())
            frame = frame.sort_values(["_starts", item.field], ascending=[False, True], kind="stable").head(limit)
        for fid, row in frame.iterrows():
            key = (item.layer, str(fid))
            if key in seen or row.geometry is None or row.geometry.is_empty:
                continue
            seen.add(key)
            found.append({
                "layer": item.layer, "title": layer.title, "label": str(row[item.label]),
                "id": fid if isinstance(fid, int | str) else str(fid), "bbox": _bounds(row.geometry),
            })
    return found[:limit]

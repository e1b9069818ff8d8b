"""Everything the review desk shows about one clearing, read once and redacted for the viewer's role.

The clearing with its flags and reasons; the concessions and protected areas it touches (their
attributes); the seizures linked to it (through the one redaction function, so a role sees of a
seizure what it sees on the map); the run that found it; its review trail; and, when a later
detection merged it into another, that one (and the clearings merged into it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from layers.catalog import get_layer
from layers.redaction import Role, read_redacted, redact
from layers.reviews import trail
from layers.store import Store

_REF_LAYERS = ("concessions", "protected_areas")


@dataclass(frozen=True)
class Dossier:
    """One clearing for the desk (``clearing`` is a dict of its fields plus ``geometry``)."""

    clearing: dict[str, Any]
    trail: pd.DataFrame
    links: pd.DataFrame
    seizures: pd.DataFrame
    touches: dict[str, gpd.GeoDataFrame]
    run: dict[str, Any] | None
    merged_from: list[str] = field(default_factory=list)

    @property
    def version(self) -> int:
        v = self.clearing.get("status_version")
        return 0 if v is None or pd.isna(v) else int(v)


def _plain(value: Any) -> Any:
    if isinstance(value, list | dict | shapely.Geometry):
        return value
    return None if pd.isna(value) else value


def find_clearing(store: Store, clearing_id: str) -> gpd.GeoDataFrame:
    """The clearing's row (empty when there is none)."""
    return store.read("clearings", where={"clearing_id": clearing_id})


def clearing_dossier(store: Store, clearing_id: str, role: Role) -> Dossier | None:
    """The dossier of ``clearing_id`` as ``role`` may see it; ``None`` when there is no such clearing."""
    rows = redact(get_layer("clearings"), find_clearing(store, clearing_id), role)
    if rows.empty:
        return None
    row = rows.iloc[0]
    clearing = {k: _plain(v) for k, v in row.items()}
    geom = row.geometry
    touches: dict[str, gpd.GeoDataFrame] = {}
    for name in _REF_LAYERS:
        layer = get_layer(name)
        near = read_redacted(store, layer, role, bbox=tuple(geom.bounds))
        hit = near[near.intersects(geom)] if len(near) else near
        touches[name] = hit
    links = redact(get_layer("links"), store.read("links", where={"clearing_id": clearing_id}, order_by=["-score"]), role)
    seizures = pd.DataFrame()
    if len(links) and "seizure_id" in links.columns:
        found = read_redacted(store, get_layer("seizures"), role, where={"seizure_id": list(links["seizure_id"])})
        seizures = pd.DataFrame(found.drop(columns=found.geometry.name)) if len(found) else pd.DataFrame()
    run = None
    if clearing.get("run_id"):
        runs = store.read("ingest_runs", where={"run_id": clearing["run_id"]})
        run = {k: _plain(v) for k, v in runs.iloc[0].items()} if len(runs) else None
    merged = store.read("clearings", where={"merged_into": clearing_id}, columns=["clearing_id"], geometry=False)
    return Dossier(
        clearing=clearing, trail=redact(get_layer("reviews"), trail(store, clearing_id), role), links=links,
        seizures=seizures, touches=touches, run=run, merged_from=[str(c) for c in merged["clearing_id"]],
    )

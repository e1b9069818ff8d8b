"""What a watch-area digest says: the new clearings of one subscription, as its owner's role sees them.

"New" means: matching the subscription's filters now, inside the area, not merged into another,
not dismissed, and not listed in an earlier digest of the same subscription (the outbox keeps each
digest's clearing ids). Every row is read through the redaction gate with the owner's role:

- the viewer's digest lists confirmed clearings only, without seizures (a commodity filter then
  matches nothing: the viewer sees no seizure);
- an ngo digest gives per clearing the counts of ``links_generalised`` (over generalised seizures);
- the exact roles get the count of linked seizures and their commodity groups.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

import pandas as pd
import shapely

from layers.catalog import get_layer
from layers.conditions import Not
from layers.evidence import plain
from layers.redaction import Access, read_redacted
from layers.store import Store
from layers.watch_areas import WatchFilters

logger = logging.getLogger(__name__)

DIGEST_FIELDS = ("clearing_id", "area_ha", "first_detected", "confidence", "risk", "flags", "reasons", "review_status")


def sent_clearings(store: Store, subscription_id: str) -> set[str]:
    """Clearing ids listed in any earlier digest of the subscription (any channel, sent or not)."""
    rows = store.read("outbox", where={"subscription_id": subscription_id}, columns=["clearing_ids"])
    return {str(c) for ids in rows["clearing_ids"] for c in (ids or [])}


def _links(store: Store, access: Access, ids: list[str]) -> dict[str, dict[str, int]]:
    """Per clearing: linked seizures by commodity group, as the role sees them."""
    if access.role == "viewer" or not ids:
        return {}
    out: dict[str, dict[str, int]] = {}
    if access.generalised:
        rows = read_redacted(store, get_layer("links"), access, where={"clearing_id": ids})
        for rec in rows.to_dict("records"):
            out[str(rec["clearing_id"])] = {"seizures": int(rec["seizures"] or 0), "timber": int(rec["seizures_timber"] or 0),
                                            "wildlife": int(rec["seizures_wildlife"] or 0)}
        return out
    links = read_redacted(store, get_layer("links"), access, where={"clearing_id": ids}, columns=["clearing_id", "seizure_id"])
    if links.empty:
        return {}
    groups = read_redacted(store, get_layer("seizures"), access, where={"seizure_id": sorted(set(links["seizure_id"]))},
                           columns=["seizure_id", "commodity_group"], geometry=False)
    group_of = dict(zip(groups["seizure_id"], groups["commodity_group"], strict=True))
    for cid, sid in zip(links["clearing_id"], links["seizure_id"], strict=True):
        counts = out.setdefault(str(cid), {"seizures": 0, "timber": 0, "wildlife": 0})
        counts["seizures"] += 1
        group = group_of.get(sid)
        if group in ("timber", "wildlife"):
            counts[str(group)] += 1
    return out


def new_clearings(store: Store, access: Access, area: shapely.Geometry, filters: WatchFilters, exclude: Iterable[str]) -> pd.DataFrame:
    """The clearings a digest would list (redacted for ``access``), riskiest first, with a ``links`` column."""
    where: dict[str, Any] = {**filters.where(), "merged_into": None}
    if access.role != "viewer":
        where["review_status"] = Not("dismissed")
    frame = read_redacted(store, get_layer("clearings"), access, bbox=tuple(area.bounds), where=where)
    if frame.empty:
        return frame.assign(links=[])
    frame = frame[frame.intersects(area)]
    skip = set(exclude)
    frame = frame[~frame["clearing_id"].astype(str).isin(skip)]
    links = _links(store, access, [str(c) for c in frame["clearing_id"]])
    frame = frame.assign(links=[links.get(str(c), {"seizures": 0, "timber": 0, "wildlife": 0}) for c in frame["clearing_id"]])
    if filters.commodity:
        if access.role == "viewer":
            return frame.iloc[0:0]
        keep = [any(link.get(c, 0) > 0 for c in filters.commodity) for link in frame["links"]]
        frame = frame[keep]
    return frame.sort_values(["risk", "clearing_id"], ascending=[False, True], na_position="last")


def digest_payload(frame: pd.DataFrame, *, digest_id: str, subscription: dict[str, Any], area_name: str, role: str, created: dt.datetime,
                   public_url: str, limit: int) -> dict[str, Any]:
    """The digest as delivered: JSON-ready, at most ``limit`` clearings listed (the rest counted)."""
    base = public_url.rstrip("/")
    items = []
    for rec in frame.head(limit).to_dict("records"):
        geom = rec.get("geometry")
        centre = geom.centroid if geom is not None else None
        item = {f: plain(rec.get(f)) for f in DIGEST_FIELDS}
        item["lat"] = round(centre.y, 5) if centre is not None else None
        item["lon"] = round(centre.x, 5) if centre is not None else None
        if role != "viewer":
            item["linked_seizures"] = rec.get("links")
            item["report_url"] = f"{base}/reports/clearings/{rec['clearing_id']}"
        items.append(item)
    return {
        "digest_id": digest_id, "subscription_id": subscription["subscription_id"], "watch_area": area_name, "role": role,
        "created": plain(created), "filters": subscription.get("filters") or {}, "frequency": subscription.get("frequency"),
        "total": len(frame), "listed": len(items), "clearings": items,
    }

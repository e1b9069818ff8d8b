"""``ecowatch analyse``: legality flags and risk of every clearing, and clearing-seizure links."""

from __future__ import annotations

import logging

import pandas as pd

from config import Settings
from geo.flags import legality_flags
from geo.matching import match_seizures
from ingest.runs import Run, recorded_run
from layers.store import Store

logger = logging.getLogger(__name__)


def analyse(store: Store, settings: Settings) -> Run:
    """Recompute flags, reasons and risk of all clearings and rebuild the ``links`` layer, in one transaction."""
    with recorded_run(store, "analyse") as run:
        clearings = store.read("clearings", columns=["clearing_id", "first_detected", "confidence"])
        run.read = len(clearings)
        coverage = store.read("coverage", where={"kind": "concessions"})
        flags = legality_flags(
            clearings,
            store.read("protected_areas", columns=["name", "designation"]),
            store.read("concessions", columns=["holder", "purpose", "source"]),
            coverage,
            coverage_min_share=settings.concession_coverage_min_share,
        )
        seizures = store.read("seizures", columns=["seizure_id", "date", "commodity_group"])
        links = match_seizures(clearings, seizures, radius_km=settings.match_radius_km, max_lag_days=settings.match_max_lag_days)
        update = pd.concat([clearings[["clearing_id"]], flags], axis=1)
        with store.transaction():
            counts = store.upsert("clearings", update)
            store.replace("links", links)
        run.written = counts.written + len(links)
        n_flagged = int(sum(bool(set(f) - {"inside_concession"}) for f in flags["flags"]))
        run.message = (
            f"{len(clearings)} clearing(s) assessed ({counts.updated + counts.inserted} changed), {n_flagged} with a suspicious flag; "
            f"{len(links)} clearing-seizure link(s) from {len(seizures)} seizure(s)"
        )
    return run

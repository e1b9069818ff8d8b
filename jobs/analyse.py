"""``ecowatch analyse``: flags and risk of every clearing, clearing–seizure links, corridor hotspots."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pandas as pd

from config import Settings
from geo.corridors import segment_corridors
from geo.flags import SUSPICIOUS, FlagParams, References, legality_flags, national_borders
from geo.hotspots import (
    all_periods,
    count_by_location,
    h3_cells,
    h3_polygons,
    h3_weights,
    hotspot_table,
    period_of,
    segment_weights,
    with_ring,
)
from geo.matching import match_seizures, nearest_features
from geo.risk import risk_scores
from jobs.progress import Progress, Stages
from jobs.runs import Run, recorded_run
from layers.catalog import get_layer
from layers.redaction import generalise_points
from layers.store import STORE_CRS, Store

logger = logging.getLogger(__name__)


def flag_params(settings: Settings) -> FlagParams:
    return FlagParams(
        coverage_min_share=settings.concession_coverage_min_share, near_corridor_km=settings.near_corridor_km,
        near_border_km=settings.near_border_km, near_crossing_km=settings.near_crossing_km, spill_min_ha=settings.spill_min_ha,
        spill_max_distance_m=settings.spill_max_distance_m, no_clearing_purposes=settings.no_clearing_purposes,
    )


def references(store: Store) -> References:
    """The reference layers from the store."""
    return References(
        protected_areas=store.read("protected_areas", columns=["name", "designation"]),
        concessions=store.read("concessions", columns=["holder", "purpose", "purpose_category", "valid_from", "valid_to", "cancelled"]),
        concession_coverage=store.read("coverage", where={"kind": "concessions"}),
        corridors=store.read("corridors", columns=["name", "sub_corridor"]),
        borders=national_borders(store.read("countries", columns=["name"])),
        crossings=store.read("border_crossings", columns=["name"]),
    )


def _hotspots(
    settings: Settings, segments: gpd.GeoDataFrame, clearings: gpd.GeoDataFrame, flagged: np.ndarray, seizures: gpd.GeoDataFrame, synthetic: bool
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Per-period Gi* hotspots on corridor segments and on the H3 grid."""
    empty = gpd.GeoDataFrame({"period": []}, geometry=[], crs=STORE_CRS)
    dates = pd.concat([clearings["first_detected"], seizures["date"]]).dropna()
    if dates.empty or segments.empty:
        return empty, empty
    periods = all_periods(dates.min(), dates.max(), settings.hotspot_period)
    c_frame = pd.DataFrame({"period": period_of(clearings["first_detected"], settings.hotspot_period).to_numpy(), "area_ha": clearings["area_ha"].to_numpy(), "flagged": flagged})
    s_frame = pd.DataFrame({"period": period_of(seizures["date"], settings.hotspot_period).to_numpy(), "commodity_group": seizures["commodity_group"].to_numpy()})
    # corridor segments
    ids = segments["segment_id"].to_numpy()
    ci, _ = nearest_features(clearings.geometry.representative_point(), segments, settings.corridor_buffer_km)
    si, _ = nearest_features(seizures.geometry, segments, settings.corridor_buffer_km)
    c_frame["location"] = np.where(ci >= 0, ids[np.maximum(ci, 0)], None)
    s_frame["location"] = np.where(si >= 0, ids[np.maximum(si, 0)], None)
    order = pd.Index(ids)
    counts = count_by_location(order, periods, c_frame, s_frame)
    table = hotspot_table(counts, segment_weights(segments, settings.gi_distance_km), order)
    geo = segments.set_index("segment_id")
    seg_out = gpd.GeoDataFrame(
        table.rename(columns={"location": "segment_id"}).assign(sub_corridor=lambda t: geo.loc[t["segment_id"], "sub_corridor"].to_numpy(), synthetic=synthetic),
        geometry=geo.loc[table["location"]].geometry.to_numpy(), crs=segments.crs,
    )
    # H3 grid
    c_pts = clearings.geometry.representative_point()
    c_frame["location"] = h3_cells(c_pts.x.to_numpy(), c_pts.y.to_numpy(), settings.h3_resolution)
    s_frame["location"] = h3_cells(seizures.geometry.x.to_numpy(), seizures.geometry.y.to_numpy(), settings.h3_resolution)
    cells = with_ring(set(c_frame["location"]) | set(s_frame["location"]))
    counts = count_by_location(pd.Index(cells), periods, c_frame, s_frame)
    table = hotspot_table(counts, h3_weights(cells), pd.Index(cells))
    polys = dict(zip(cells, h3_polygons(cells), strict=True))
    cell_out = gpd.GeoDataFrame(
        table.rename(columns={"location": "cell"}).assign(synthetic=synthetic), geometry=[polys[c] for c in table["location"]], crs=STORE_CRS
    )
    return seg_out, cell_out


STAGES = ("read", "flags and risk", "matching", "corridor ties", "hotspots", "generalised counts", "written")


def published_seizures(seizures: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The seizures as roles that see generalised seizures see them: cell centres, suppressed cells left out.

    Rows are in an order that follows only what is published (cell, date, commodity group) and
    get positional ids, so nothing computed from them depends on an exact point or an internal id.
    """
    layer = get_layer("seizures")
    assert layer.generalise_deg is not None
    pub = generalise_points(seizures, layer.generalise_deg)
    if pub.empty:
        return pub.reset_index(drop=True)
    order = np.lexsort((
        pub["commodity_group"].astype(str).to_numpy(), pub["date"].astype(str).to_numpy(), pub.geometry.x.to_numpy(), pub.geometry.y.to_numpy(),
    ))
    pub = pub.iloc[order].reset_index(drop=True)
    pub["seizure_id"] = [f"p{i}" for i in range(len(pub))]
    return pub


def link_counts(links: pd.DataFrame, seizures: pd.DataFrame, clearings: pd.DataFrame, synthetic: bool) -> pd.DataFrame:
    """Per clearing: the seizures linked to it, in all and per commodity group (0 when none)."""
    group = links["seizure_id"].map(dict(zip(seizures["seizure_id"], seizures["commodity_group"], strict=True)))
    table = pd.crosstab(links["clearing_id"], group) if len(links) else pd.DataFrame()
    ids = pd.Index(sorted(clearings["clearing_id"].astype(str)), name="clearing_id")
    table = table.reindex(index=ids, columns=["timber", "wildlife"], fill_value=0).fillna(0).astype("int64")
    total = links.groupby("clearing_id").size().reindex(ids, fill_value=0) if len(links) else pd.Series(0, index=ids)
    return pd.DataFrame({
        "clearing_id": ids.to_numpy(), "seizures": total.to_numpy(dtype="int64"),
        "seizures_timber": table["timber"].to_numpy(), "seizures_wildlife": table["wildlife"].to_numpy(), "synthetic": synthetic,
    })


def analyse(store: Store, settings: Settings, *, progress: Progress | None = None) -> Run:
    """Recompute flags, reasons and risk of all clearings, links, seizure ties and hotspots, in one transaction.

    ``progress`` is told of each of :data:`STAGES` as it ends (a bar in the CLI).
    """
    stages = Stages(progress, "analyse", STAGES)
    with recorded_run(store, "analyse", data_dir=settings.data_dir) as run:
        clearings = store.read("clearings", columns=["clearing_id", "first_detected", "confidence", "area_ha", "synthetic"])
        seizures = store.read("seizures", columns=["seizure_id", "date", "commodity_group", "synthetic", "location_precision"])
        run.read = len(clearings) + len(seizures)
        # a partner's generalised seizures (a grid cell, jobs.ingest_partner) are matched at no scale:
        # no links, corridor ties or hotspot counts from a cell centre
        seizures = seizures[seizures["location_precision"].astype("string").fillna("") != "grid"].drop(columns="location_precision")
        refs = references(store)
        stages.done("read")
        flags = legality_flags(clearings, refs, flag_params(settings))
        risk = risk_scores(flags["flags"].tolist(), clearings["confidence"].tolist(), clearings["area_ha"].fillna(0).tolist(), settings.risk_weights)
        stages.done("flags and risk")
        update = pd.concat([clearings[["clearing_id"]].reset_index(drop=True), flags.reset_index(drop=True), risk], axis=1)
        # matching and hotspots take the operating point the settings name; every clearing is flagged
        used = clearings if settings.analysis_confidence == "all" else clearings[clearings["confidence"] == "high"]
        links = match_seizures(
            used, seizures, radius_km=settings.match_radius_km, max_lag_days=settings.match_max_lag_days,
            max_candidates=settings.match_max_candidates,
        )
        stages.done("matching")
        segments = segment_corridors(refs.corridors, settings.segment_km)
        si, sd = nearest_features(seizures.geometry, segments, settings.corridor_buffer_km)
        xi, xd = nearest_features(seizures.geometry, refs.crossings, None)
        ties = pd.DataFrame({
            "seizure_id": seizures["seizure_id"].to_numpy(),
            "corridor_segment": np.where(si >= 0, segments["segment_id"].to_numpy()[np.maximum(si, 0)] if len(segments) else None, None),
            "corridor_distance_km": np.round(sd, 3),
            "border_crossing": np.where(xi >= 0, refs.crossings["name"].to_numpy()[np.maximum(xi, 0)] if len(refs.crossings) else None, None),
            "crossing_distance_km": np.round(xd, 3),
        })
        stages.done("corridor ties")
        flagged = np.array([bool(set(f) & SUSPICIOUS) for f in flags["flags"]], dtype=bool)
        synthetic = bool(clearings["synthetic"].fillna(False).any() or seizures["synthetic"].fillna(False).any())
        in_use = clearings.index.isin(used.index)
        hot_segments, hot_cells = _hotspots(settings, segments, used, flagged[in_use], seizures, synthetic)
        stages.done("hotspots")
        # what roles that see generalised seizures read in place of links and hotspots: the same
        # analyses over the seizures as they see them, so that their counts are counts of what
        # they may see and say nothing finer than a cell (layers.catalog: generalised_from)
        pub = published_seizures(seizures)
        pub_synthetic = bool(clearings["synthetic"].fillna(False).any() or pub["synthetic"].fillna(False).any())
        pub_links = match_seizures(
            clearings, pub, radius_km=settings.match_radius_km, max_lag_days=settings.match_max_lag_days,
            max_candidates=settings.match_max_candidates,
        )
        gen_links = link_counts(pub_links, pub, clearings, pub_synthetic)
        gen_segments, gen_cells = _hotspots(settings, segments, clearings, flagged, pub, pub_synthetic)
        stages.done("generalised counts")
        with store.transaction():
            counts = store.upsert("clearings", update)
            store.replace("links", links)
            store.replace("corridor_segments", segments)
            store.upsert("seizures", ties)
            store.replace("hotspot_segments", hot_segments)
            store.replace("hotspot_cells", hot_cells)
            store.replace("links_generalised", gen_links)
            store.replace("hotspot_segments_generalised", gen_segments)
            store.replace("hotspot_cells_generalised", gen_cells)
            if synthetic:
                for layer in ("hotspot_segments", "hotspot_cells", "links"):
                    store.set_layer_info(layer, synthetic=True)
            if pub_synthetic:
                for layer in ("hotspot_segments_generalised", "hotspot_cells_generalised", "links_generalised"):
                    store.set_layer_info(layer, synthetic=True)
        stages.done("written")
        run.written = counts.written + len(links) + len(hot_segments) + len(hot_cells) + len(gen_links) + len(gen_segments) + len(gen_cells)
        latest = hot_segments[hot_segments["latest"]] if len(hot_segments) else hot_segments
        n_hot = int(latest["hot_class"].str.startswith("hot").sum()) if len(latest) else 0
        which = "every clearing (low and high confidence)" if settings.analysis_confidence == "all" else "confirmed (high) clearings only"
        run.message = (
            f"{len(clearings)} clearing(s) assessed, {int(flagged.sum())} with a suspicious flag; matching and hotspots use "
            f"{which} ({len(used)}, setting analysis_confidence); "
            f"{len(links)} clearing-seizure link(s) from {len(seizures)} seizure(s); "
            f"{len(segments)} corridor segment(s), {n_hot} hot in the latest period"
        )
    return run

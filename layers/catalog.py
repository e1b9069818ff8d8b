"""The layer catalogue: every layer of the store declared once, as data.

The store builds its schema from these declarations; the map, the API and every export read
their titles, styles, popup fields and field roles from here.

The redaction policy is declared here too, per layer and per field, and applied by the one
function :func:`layers.redaction.redact`. Roles that see exact locations (planner, analyst,
admin) read everything. Roles that see *generalised* seizures (ngo) read:

- a field by its :attr:`Field.generalised` rule: ``show``; ``drop`` (law-enforcement detail, and
  every value that would locate a seizure more finely than its grid cell: distances, nearest
  features with their distances); ``opaque`` (an identifier shown as a keyed HMAC, see
  :mod:`layers.opaque_ids`); ``cell`` (a value that describes a location, replaced by the cell's);
- a layer by :attr:`Layer.generalised_from` (its rows come from another table, which ``analyse``
  computes over the seizures as these roles see them: cell centres, suppressed cells left out),
  or not at all when :attr:`Layer.refused_generalised` says why.
"""

from __future__ import annotations

from layers.internal_tables import INTERNAL_LAYERS
from layers.layer_types import Field as Field
from layers.layer_types import FieldType as FieldType
from layers.layer_types import GeneralisedRule as GeneralisedRule
from layers.layer_types import GeometryType as GeometryType
from layers.layer_types import Layer as Layer
from layers.layer_types import plain_field as _f

_FINER_THAN_CELL = "locates the seizure more finely than its grid cell"


def _g(name: str, type_: FieldType, description: str, rule: GeneralisedRule, why: str) -> Field:
    """A field with a declared rule for roles that see generalised seizures."""
    return Field(name, type_, description, generalised=rule, why=why)


_SOURCE = _f("source", "text", "Where the record came from (file name or provider).")
MIN_ZOOM_DETAIL = 9  # web-map zoom (about 300 m a pixel) from which clearings and seizures are drawn
# (value, colour) pairs, in legend order (a list: JSON objects may be re-sorted on the way)
HOT_COLOURS = [
    ["hot 99 %", "#b2182b"], ["hot 95 %", "#ef8a62"], ["hot 90 %", "#fddbc7"], ["not significant", "#d9d9d9"],
    ["cold 90 %", "#d1e5f0"], ["cold 95 %", "#67a9cf"], ["cold 99 %", "#2166ac"],
]
# review status colours of clearings, and how an unconfirmed (low-confidence) clearing is drawn weaker
STATUS_COLOURS = [["new", "#ff1744"], ["field_check", "#ff9100"], ["confirmed", "#b71c1c"], ["dismissed", "#9e9e9e"]]
LOW_CONFIDENCE_STYLE = {
    "field": "confidence", "value": "low", "label": "low confidence (unconfirmed early warning)",
    "dashArray": "4 3", "fillOpacity": 0.12, "weight": 1.5,
}
# the emerging-trend labels of hotspots (geo/trends.py defines them; a test checks they agree)
TREND_LABELS = ["new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical", "no pattern"]
_SYNTHETIC = _f("synthetic", "boolean", "True when the record was generated, not observed.")
# how the map draws a partner's shared seizure: as its grid cell (size in cell_deg, the point at its
# centre), its popup giving the cell size and the origin (fields shown only when they hold a value)
SHARED_CELL = {
    "field": "location_precision", "value": "grid", "size": "cell_deg",
    "label": "shared seizure, location generalised to a cell",
    "fields": ["cell_deg", "origin_url", "origin_collection", "origin_feature_id"],
}

HOT_FIELDS: tuple[Field, ...] = (
    _f("period", "text", "Period (2024Q1, or 2024-03 for months)."),
    _f("cleared_ha", "real", "Hectares of clearings first detected in the period."),
    _f("flagged_clearings", "integer", "Clearings with a suspicious flag first detected in the period."),
    _f("seizures_timber", "integer", "Timber seizures in the period."),
    _f("seizures_wildlife", "integer", "Wildlife seizures in the period."),
    _f("incidents", "integer", "Flagged clearings + seizures: the variable of Gi*."),
    _f("gi_z", "real", "Getis-Ord Gi* z-score."),
    _f("gi_p", "real", "Two-sided p-value of Gi*."),
    _f("hot_class", "text", "hot / cold at 99, 95 or 90 % confidence, or not significant."),
    _f("trend", "text", "Emerging trend over all periods: new, consecutive, intensifying, persistent, diminishing, sporadic, oscillating, historical or no pattern."),
    _f("latest", "boolean", "True for the latest period (what the map shows)."),
    _SYNTHETIC,
)

LAYERS: tuple[Layer, ...] = (
    Layer(
        "aoi", "Areas of interest", "MULTIPOLYGON",
        (_f("name", "text", "AOI name used by --aoi."), _SOURCE),
        key=("name",), popup=("name",),
        style={"color": "#222222", "weight": 2, "dashArray": "6 4", "fillOpacity": 0.0},
        public=True,
    ),
    Layer(
        "countries", "Countries", "MULTIPOLYGON",
        (_f("name", "text", "Country name."), _f("iso_n3", "text", "ISO 3166-1 numeric code."), _SOURCE),
        key=("name",), popup=("name",),
        style={"color": "#7a7a7a", "weight": 1, "fillColor": "#f2efe6", "fillOpacity": 0.6},
        public=True,
    ),
    Layer(
        "concessions", "Concessions", "MULTIPOLYGON",
        (
            _f("source_id", "text", "The record's id in its source."),
            _f("holder", "text", "Concession holder or its pseudonym."),
            _f("purpose", "text", "Purpose as written in the source."),
            _f("purpose_category", "text", "plantation: rubber / oil palm / acacia / sugar cane / cassava, agro-industry, mining, logging, tourism or other."),
            _f("status", "text", "Status as written in the source."),
            _f("valid_from", "date", "Contract start."),
            _f("valid_to", "date", "Contract end (start + duration)."),
            _f("cancelled", "boolean", "Cancelled by government decision."),
            _f("country", "text", "Country."),
            _f("area_ha", "real", "Area, hectares (equal-area)."),
            _SOURCE,
        ),
        key=("source", "source_id"), popup=("holder", "purpose", "valid_from", "valid_to", "cancelled", "area_ha"),
        style={"color": "#b8860b", "weight": 1.5, "fillColor": "#f0c040", "fillOpacity": 0.25},
        public=True,
    ),
    Layer(
        "protected_areas", "Protected areas", "MULTIPOLYGON",
        (
            _f("source_id", "text", "The record's id in its source."),
            _f("name", "text", "Protected area name."),
            _f("designation", "text", "Designation (national park, wildlife sanctuary, ...)."),
            _f("iucn_category", "text", "IUCN management category, when known."),
            _f("area_ha", "real", "Area, hectares (equal-area)."),
            _SOURCE,
        ),
        key=("source", "source_id"), popup=("name", "designation", "iucn_category", "area_ha"),
        style={"color": "#2e7d32", "weight": 1.5, "fillColor": "#66bb6a", "fillOpacity": 0.25},
        public=True,
    ),
    Layer(
        "corridors", "Economic corridors", "MULTILINESTRING",
        (
            _f("source_id", "text", "The record's id in its source."),
            _f("name", "text", "Corridor name."),
            _f("sub_corridor", "text", "Branch of the corridor."),
            _f("kind", "text", "Kind of line (schematic, road, rail)."),
            _SOURCE,
        ),
        key=("source", "source_id"), popup=("name", "sub_corridor", "kind"),
        style={"color": "#c62828", "weight": 3, "opacity": 0.8},
        public=True,
    ),
    Layer(
        "border_crossings", "Border crossings", "POINT",
        (_f("source_id", "text", "The record's id in its source."), _f("name", "text", "Crossing name."), _f("kind", "text", "Kind of crossing."), _SOURCE),
        key=("source", "source_id"), popup=("name", "kind"),
        style={"color": "#4a148c", "fillColor": "#ce93d8", "radius": 6, "fillOpacity": 0.9, "weight": 2},
        public=True,
    ),
    Layer(
        "coverage", "Boundary data coverage", "MULTIPOLYGON",
        (_f("kind", "text", "Boundary kind the source provides (concessions, protected-areas)."), _SOURCE),
        key=("kind", "source"), popup=("kind", "source"),
        style={"color": "#555555", "weight": 1, "dashArray": "2 4", "fillOpacity": 0.0},
        on_map=False,
        public=True,
    ),
    Layer(
        "scenes", "Imagery scenes", "MULTIPOLYGON",
        (
            _f("scene_id", "text", "Provider's id of the acquisition (or file name)."),
            _f("provider", "text", "sentinelhub, stac or local."),
            _f("aoi", "text", "AOI the scene was fetched for."),
            _f("acquired", "date", "Acquisition date."),
            _f("cloud_share", "real", "Share of the AOI that is cloud, shadow or no data (0-1)."),
            _f("path", "text", "Local path of the COG."),
            _f("crs", "text", "CRS of the raster."),
            _SYNTHETIC,
        ),
        key=("provider", "aoi", "scene_id"), popup=("scene_id", "acquired", "cloud_share"),
        style={"color": "#0277bd", "weight": 1, "fillOpacity": 0.0}, on_map=False,
    ),
    Layer(
        "observation_gaps", "Observation gaps", "MULTIPOLYGON",
        (
            _f("aoi", "text", "AOI the gap belongs to."),
            _f("since", "date", "No valid observation from this date to the end of the monitoring period."),
            _f("until", "date", "End of the monitoring period checked."),
            _f("area_ha", "real", "Area, hectares (equal-area)."),
            _f("run_id", "text", "Detection run that found the gap."),
        ),
        key=("aoi", "since"), popup=("since", "until", "area_ha"),
        style={"color": "#607d8b", "weight": 1, "fillColor": "#90a4ae", "fillOpacity": 0.35, "dashArray": "3 3"},
    ),
    Layer(
        "clearings", "Flagged clearings", "MULTIPOLYGON",
        (
            _f("clearing_id", "text", "Stable id: a re-run that sees the same clearing keeps it."),
            _f("aoi", "text", "AOI it was detected in."),
            _f("area_ha", "real", "Area, hectares (equal-area)."),
            _f("first_detected", "date", "Date of the first valid observation showing the clearing."),
            _f("last_observed", "date", "Date of the last valid observation of the clearing."),
            _f("confidence", "text", "low (one observation) or high (confirmed by the next)."),
            _f("ndvi_drop", "real", "Median NDVI drop from the baseline."),
            _f("nbr_drop", "real", "Median drop of the SWIR index (NBR or NDMI: see method) from the baseline."),
            _f("method", "text", "Detection method and bands used, e.g. NDMI (B04 B08 B11; mask SCL)."),
            _f("flags", "json", "Flag codes (protected_area, outside_concessions, inside_concession, no_concession_data)."),
            _f("reasons", "json", "One sentence per flag, for people."),
            _f("risk", "integer", "Risk score 0-100."),
            _f("risk_reasons", "json", "What made up the risk score (flag and points)."),
            _f("review_status", "text", "new, confirmed, dismissed or field_check."),
            _f("quicklooks", "json", "Paths of the before/after true-colour and NDVI PNG chips, by name, relative to the data folder (setting data_dir)."),
            _f("run_id", "text", "Detection run that first found it."),
            _f("status_version", "integer", "Number of review decisions made on it (0 or empty: none); a decision names the version it was made on."),
            _f("merged_into", "text", "Id of the clearing a later detection merged this one into, when it was."),
            _SYNTHETIC,
        ),
        key=("clearing_id",),
        # the review queue: risk, then confidence ("high" sorts before "low"), within a status
        indexes=(("review_status", "-risk", "confidence", "clearing_id"), ("-risk", "confidence", "clearing_id"),
                 ("aoi", "review_status", "-risk", "confidence", "clearing_id")), sparse_indexes=("merged_into",), popup=("clearing_id", "area_ha", "first_detected", "confidence", "flags", "reasons", "risk", "review_status"),
        style={"color": "#d50000", "weight": 2, "fillColor": "#ff1744", "fillOpacity": 0.5, "by": "review_status", "colors": STATUS_COLOURS,
               "weaker": LOW_CONFIDENCE_STYLE},
        min_zoom=MIN_ZOOM_DETAIL,
        public=True, public_where={"review_status": "confirmed"},
    ),
    Layer(
        "seizures", "Seizures", "POINT",
        (
            _g("seizure_id", "text", "Natural key: the source's id (often a case number), or a keyed hash of the record.", "opaque",
               "may be a case number: shown as a keyed HMAC, stable across exports"),
            _g("date", "date", "Date of the seizure.", "show",
               "every value these roles read is computed from the cell, so the date narrows no location"),
            _f("commodity_group", "text", "timber or wildlife."),
            _f("commodity", "text", "What was seized."),
            _f("species", "text", "Scientific name."),
            _f("cites_appendix", "text", "CITES appendix of the species (I, II, III)."),
            _f("quantity", "real", "Quantity."),
            _f("unit", "text", "Unit of the quantity (kg, t, m3, pieces, logs)."),
            _f("transport_mode", "text", "road, river, sea, air, rail."),
            _f("origin_country", "text", "Declared or suspected origin."),
            _f("transit_country", "text", "Countries of transit, as given."),
            _f("destination_country", "text", "Destination."),
            _f("agency", "text", "Seizing agency.", sensitive=True),
            _f("case_reference", "text", "Case reference.", sensitive=True),
            _f("notes", "text", "Free-text notes.", sensitive=True),
            _g("location_precision", "text", "exact, place, district, province or country; grid for a partner's generalised seizure.",
               "cell", "replaced by the grid cell's size"),
            _f("cell_deg", "real", "For location_precision grid: the size of the partner's grid cell, degrees (the point is its centre)."),
            _f("origin_url", "text", "For a seizure read from a partner's OGC API: the collection's items URL."),
            _f("origin_collection", "text", "That partner collection's id."),
            _g("origin_feature_id", "text", "The feature's id in the partner's collection.", "opaque",
               "the partner's own id of the record: shown as a keyed HMAC, like the seizure's"),
            _f("place", "text", "Place of the seizure as named in the source (a border crossing, port, town), when given.", sensitive=True),
            _g("corridor_segment", "text", "Nearest corridor segment (within the corridor buffer).", "drop",
               "a nearest feature: with the cell it narrows the location (Voronoi region)"),
            _g("corridor_distance_km", "real", "Distance to that segment, km.", "drop", _FINER_THAN_CELL),
            _g("border_crossing", "text", "Nearest border crossing.", "drop",
               "a nearest feature: with the cell it narrows the location (Voronoi region)"),
            _g("crossing_distance_km", "real", "Distance to that crossing, km.", "drop", _FINER_THAN_CELL),
            _SOURCE,
            _SYNTHETIC,
        ),
        key=("seizure_id",),
        popup=("date", "commodity_group", "commodity", "species", "quantity", "unit", "case_reference", "location_precision",
               *SHARED_CELL["fields"]),
        generalise_deg=0.1, min_zoom=MIN_ZOOM_DETAIL,
        style={"color": "#1a237e", "fillColor": "#42a5f5", "radius": 5, "fillOpacity": 0.9, "weight": 1, "cells": SHARED_CELL},
    ),
    Layer(
        "corridor_segments", "Corridor segments", "MULTILINESTRING",
        (
            _f("segment_id", "text", "Segment id: sub-corridor and number from its start."),
            _f("corridor", "text", "Corridor name."),
            _f("sub_corridor", "text", "Branch of the corridor."),
            _f("km_from", "real", "Distance of the segment's start from the corridor's start, km."),
            _f("km_to", "real", "Distance of its end, km."),
        ),
        key=("segment_id",), popup=("segment_id", "corridor", "km_from", "km_to"),
        style={"color": "#8d6e63", "weight": 2}, on_map=False,
        public=True,
    ),
    Layer(
        "hotspot_segments", "Corridor hotspots", "MULTILINESTRING",
        (_f("segment_id", "text", "Corridor segment."), _f("sub_corridor", "text", "Branch of the corridor."), *HOT_FIELDS),
        key=("segment_id", "period"),
        popup=("segment_id", "sub_corridor", "period", "hot_class", "trend", "incidents", "cleared_ha", "flagged_clearings", "seizures_timber", "seizures_wildlife", "gi_z"),
        style={"weight": 6, "opacity": 0.9, "color": "#9e9e9e", "by": "hot_class", "colors": HOT_COLOURS,
               "labels": {"field": "trend", "title": "Trend", "values": TREND_LABELS}},
        map_where={"latest": True}, generalised_from="hotspot_segments_generalised",
        public=True,
    ),
    Layer(
        "hotspot_cells", "Hotspot grid (H3)", "MULTIPOLYGON",
        (_f("cell", "text", "H3 cell id."), *HOT_FIELDS),
        key=("cell", "period"),
        popup=("cell", "period", "hot_class", "trend", "incidents", "cleared_ha", "seizures_timber", "seizures_wildlife", "gi_z"),
        style={"weight": 0.5, "color": "#616161", "fillOpacity": 0.45, "fillColor": "#e0e0e0", "by": "hot_class", "colors": HOT_COLOURS,
               "labels": {"field": "trend", "title": "Trend", "values": TREND_LABELS}},
        map_where={"latest": True}, generalised_from="hotspot_cells_generalised",
        public=True,
    ),
    Layer(
        "links", "Clearing-seizure links", None,
        (
            _f("clearing_id", "text", "Linked clearing."),
            _f("seizure_id", "text", "Linked seizure."),
            _f("distance_km", "real", "Distance from the seizure to the clearing, km."),
            _f("lag_days", "integer", "Days from first detection to the seizure."),
            _f("score", "real", "Match score 0-1, falling with distance and lag."),
            _f("reasons", "json", "Why the two are linked."),
        ),
        key=("clearing_id", "seizure_id"), on_map=False, generalised_from="links_generalised",
    ),
    # what roles that see generalised seizures read instead of links and hotspots: `analyse`
    # computes them over the seizures as those roles see them (cell centres, suppressed cells
    # left out), so that no count names or counts a seizure they may not see, and none says
    # more about a location than the cell
    Layer(
        "links_generalised", "Linked seizures per clearing", None,
        (
            _f("clearing_id", "text", "The clearing."),
            _f("seizures", "integer", "Seizures linked to it (within the matching radius and lag of their cell centre)."),
            _f("seizures_timber", "integer", "Timber seizures among them."),
            _f("seizures_wildlife", "integer", "Wildlife seizures among them."),
            _SYNTHETIC,
        ),
        key=("clearing_id",), on_map=False,
        description="Clearing-seizure links as roles that see generalised seizures read them: counts per clearing over the published seizures.",
    ),
    Layer(
        "hotspot_segments_generalised", "Corridor hotspots (generalised seizures)", "MULTILINESTRING",
        (_f("segment_id", "text", "Corridor segment."), _f("sub_corridor", "text", "Branch of the corridor."), *HOT_FIELDS),
        key=("segment_id", "period"), on_map=False,
        description="Corridor hotspots over the published seizures (cell centres, suppressed cells left out).",
    ),
    Layer(
        "hotspot_cells_generalised", "Hotspot grid (H3, generalised seizures)", "MULTIPOLYGON",
        (_f("cell", "text", "H3 cell id."), *HOT_FIELDS),
        key=("cell", "period"), on_map=False,
        description="H3 hotspots over the published seizures (cell centres, suppressed cells left out).",
    ),
    Layer(
        "reviews", "Review decisions", None,
        (
            _f("review_id", "text", "Id of the decision."),
            _f("clearing_id", "text", "Clearing decided on."),
            _f("user", "text", "Analyst who decided.", sensitive=True),
            _f("decision", "text", "confirm, dismiss or field_check."),
            _f("from_status", "text", "Review status before the decision."),
            _f("to_status", "text", "Review status after it (confirmed, dismissed, field_check)."),
            _f("reason", "text", "Why it was dismissed: agriculture, plantation_rotation, seasonal, cloud_shadow, water, natural, other."),
            _f("comment", "text", "The analyst's comment.", sensitive=True),
            _f("decided", "datetime", "When, UTC."),
            _f("status_version", "integer", "The clearing's status version the decision was made on."),
            _f("outcome", "text", "applied (the status changed), or conflict (another decision came first: recorded, not applied)."),
            _f("mode", "text", "queue (risk-sorted triage) or sample (a random sample unit: counts towards accuracy)."),
            _f("sample_id", "text", "The sample the decision answers, in sample mode."),
        ),
        key=("review_id",), on_map=False, append_only=True,
        indexes=(("clearing_id", "decided"), ("mode", "sample_id")),
    ),
    Layer(
        "review_samples", "Accuracy sample units", None,
        (
            _f("sample_id", "text", "Sample the unit belongs to."),
            _f("unit_id", "text", "Id of the unit: a clearing id, or a point id for the no-alert stratum."),
            _f("stratum", "text", "Stratum: confidence|AOI|period of an alert, or 'no_alert|AOI' for points outside every alert."),
            _f("clearing_id", "text", "The clearing reviewed for the unit (for a point: the clearing made for it, if any)."),
            _f("stratum_units", "integer", "Alerts in the stratum when the sample was drawn (N_h)."),
            _f("stratum_area_ha", "real", "Mapped area of the stratum, hectares (A_h)."),
            _f("drawn", "datetime", "When the sample was drawn, UTC."),
            _f("lon", "real", "Longitude of a point unit."),
            _f("lat", "real", "Latitude of a point unit."),
        ),
        key=("sample_id", "unit_id"), on_map=False,
        indexes=(("clearing_id",),),
    ),
    Layer(
        "ingest_runs", "Ingest and analysis runs", None,
        (
            _f("run_id", "text", "Run id."),
            _f("command", "text", "The command that ran."),
            _f("started", "datetime", "Start, UTC."),
            _f("finished", "datetime", "End, UTC."),
            _f("status", "text", "running, completed, failed or interrupted (its process ended without finishing)."),
            _f("n_read", "integer", "Records read."),
            _f("n_written", "integer", "Records written (inserted or updated)."),
            _f("n_rejected", "integer", "Records rejected."),
            _f("n_repaired", "integer", "Records repaired with a warning."),
            _f("rejects_file", "text", "Path of the rejects file, when any record was rejected."),
            _f("message", "text", "Summary or error message."),
            _f("pid", "integer", "Process id of the run (how a later run tells that a 'running' one is gone)."),
            _f("host", "text", "Host name of the machine the run ran on."),
        ),
        key=("run_id",), on_map=False,
        refused_generalised="run messages and record counts cover every seizure read, suppressed ones too",
    ),
    *INTERNAL_LAYERS,
)

CATALOG: dict[str, Layer] = {layer.name: layer for layer in LAYERS}


def get_layer(name: str) -> Layer:
    """The declaration of layer ``name``; ``KeyError`` lists the known ones."""
    try:
        return CATALOG[name]
    except KeyError:
        raise KeyError(f"no layer {name!r}; layers: {', '.join(CATALOG)}") from None

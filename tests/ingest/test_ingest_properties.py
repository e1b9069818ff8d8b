"""Invariants over generated files of good and bad records (hypothesis):

every record either lands or is rejected, never both, never neither; a good record lands and a
bad one is rejected; ingesting the same file again changes no row count and writes nothing.
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import load_settings
from jobs.ingest_boundaries import ingest_boundaries
from jobs.ingest_seizures import ingest_seizures
from layers import open_store

HEADER = ["seizure_id", "date", "commodity_group", "species", "quantity", "unit", "lon", "lat", "commodity", "notes"]
BAD_SEIZURE = {
    "ambiguous date": {"date": "03/05/2024"},
    "no date": {"date": ""},
    "NaN quantity": {"quantity": "NaN"},
    "negative quantity": {"quantity": "-3"},
    "lon out of range": {"lon": "181.5"},
    "swapped": {"lon": "13.6", "lat": "107.4"},
    "bad group": {"commodity_group": "ivory"},
    "not a species": {"species": "42 crates"},
    "formula as a quantity": {"quantity": "=1+1"},  # numeric fields take numbers only (a formula-like note is data)
    "group conflict": {"commodity_group": "wildlife", "species": "Dalbergia oliveri"},
    "ragged": {"extra": "cell"},
}

good_row = st.fixed_dictionaries({
    "date": st.dates(min_value=__import__("datetime").date(2000, 1, 1), max_value=__import__("datetime").date(2024, 12, 31)).map(lambda d: d.isoformat()),
    "species": st.sampled_from(["Manis javanica", "Panthera tigris", "Cuora amboinensis", "Dalbergia oliveri", "Aquilaria crassna"]),
    "quantity": st.floats(min_value=0, max_value=1e6, allow_nan=False).map(lambda q: f"{q:.3f}"),
    "unit": st.sampled_from(["kg", "t", "m3", "pieces", "logs", "tonnes", "pcs"]),
    "lon": st.floats(min_value=92.5, max_value=111.5).map(lambda v: f"{v:.6f}"),
    "lat": st.floats(min_value=5.5, max_value=29.5).map(lambda v: f"{v:.6f}"),
    "with_id": st.booleans(),
})
row = st.tuples(good_row, st.one_of(st.none(), st.sampled_from(sorted(BAD_SEIZURE))))


def _group(species: str) -> str:
    return "timber" if species.split()[0] in ("Dalbergia", "Aquilaria") else "wildlife"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(row, min_size=1, max_size=25), repeat=st.lists(st.integers(0, 24), max_size=3))
def test_every_seizure_row_lands_or_is_rejected_never_both(rows, repeat):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        expected_good: set[str] = set()
        lines: list[list[str]] = []
        for k, (good, defect) in enumerate(rows):
            cells = {"seizure_id": f"H-{k}" if good["with_id"] else "", "commodity_group": _group(good["species"]), "commodity": "goods",
                     "notes": f"row-{k}", **{c: good[c] for c in ("date", "species", "quantity", "unit", "lon", "lat")}}
            extra = []
            if defect is not None:
                change = dict(BAD_SEIZURE[defect])
                extra = [change.pop("extra")] if "extra" in change else []
                cells.update(change)
            else:
                expected_good.add(f"row-{k}")
            lines.append([cells[h] for h in HEADER] + extra)
        for j in repeat:  # a later row with the id of an earlier one and other values: rejected
            if j < len(rows) and rows[j][0]["with_id"]:
                dup = list(lines[j])
                dup[HEADER.index("notes")] = f"dup-{j}"
                lines.append(dup)
        path = folder / "generated.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(lines)
        cfg = load_settings({}, data_dir=folder, rejects_max_share=1.0)
        with open_store(folder / "s.gpkg") as store:
            run = ingest_seizures(store, cfg, path)
            landed = set(store.read("seizures")["notes"])
            rejected = _rejected_notes(run)
            assert landed.isdisjoint(rejected)
            assert landed | rejected == {line[HEADER.index("notes")] for line in lines}
            assert landed == expected_good
            assert (run.read, run.written + run.rejected) == (len(lines), len(lines))
            count = store.count("seizures")
            again = ingest_seizures(store, cfg, path)
            assert (again.written, store.count("seizures"), again.rejected) == (0, count, run.rejected)


def _rejected_notes(run) -> set[str]:
    if not run.rejected:
        return set()
    with open(run.rejects_path, newline="", encoding="utf-8") as fh:
        return {json.loads(r["record"])["notes"] for r in csv.DictReader(fh)}


BAD_FEATURE = {
    "no geometry": None,
    "a line": {"type": "LineString", "coordinates": [[107.0, 13.0], [107.1, 13.1]]},
    "outside the region": shapely.geometry.mapping(shapely.box(12.0, 41.0, 12.1, 41.1)),
    "empty": {"type": "Polygon", "coordinates": []},
    "open ring": {"type": "Polygon", "coordinates": [[[107.0, 13.0], [107.1, 13.0], [107.1, 13.1]]]},
}
feature = st.tuples(
    st.floats(min_value=95.0, max_value=110.0), st.floats(min_value=8.0, max_value=25.0), st.booleans(),
    st.one_of(st.none(), st.sampled_from(sorted(BAD_FEATURE))),
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(features=st.lists(feature, min_size=1, max_size=12))
def test_every_boundary_feature_lands_or_is_rejected_never_both(features):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out, good = [], set()
        for k, (x, y, bowtie, defect) in enumerate(features):
            ring = [[x, y], [x + 0.1, y + 0.1], [x + 0.1, y], [x, y + 0.1], [x, y]] if bowtie else [[x, y], [x + 0.1, y], [x + 0.1, y + 0.1], [x, y + 0.1], [x, y]]
            geom = {"type": "Polygon", "coordinates": [ring]} if defect is None else BAD_FEATURE[defect]
            if defect is None:
                good.add(f"aoi-{k}")
            out.append({"type": "Feature", "properties": {"name": f"aoi-{k}"}, "geometry": geom})
        path = folder / "aoi.geojson"
        path.write_text(json.dumps({"type": "FeatureCollection", "features": out}))
        cfg = load_settings({}, data_dir=folder, rejects_max_share=1.0)
        with open_store(folder / "s.gpkg") as store:
            run = ingest_boundaries(store, cfg, "aoi", path)
            landed = set(store.read("aoi")["name"])
            rejected = set()
            if run.rejected:
                with open(run.rejects_path, newline="", encoding="utf-8") as fh:
                    rejected = {json.loads(r["record"])["name"] for r in csv.DictReader(fh)}
            assert landed.isdisjoint(rejected) and landed | rejected == {f"aoi-{k}" for k in range(len(features))}
            assert landed == good
            assert run.repaired == sum(1 for _, _, bowtie, defect in features if bowtie and defect is None)
            again = ingest_boundaries(store, cfg, "aoi", path)
            assert (again.written, store.count("aoi")) == (0, len(good))

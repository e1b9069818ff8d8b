"""The redaction policy against an attacker: what an ngo reads locates no seizure finer than its cell.

For every layer the catalogue declares, exported in every format, and every route of the app
served as ngo, the attacks of :mod:`tests.layers.attacks` run on what was received. The policy
holds when, for every seizure, no attack's estimate is closer to the true point than the centre
of the seizure's published cell, and every count equals the count over the published
(unsuppressed) seizures. Two tests put a leak back and show the attacker catches it.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from config import Settings, load_settings
from layers import catalog
from layers.opaque_ids import opaque_ids
from tests.layers import attacks

# the full crawls take minutes: `make test` runs them in its `slow` step (pyproject.toml)
pytestmark = pytest.mark.slow

KEY_TEXT = "attacker-test-secret-" + "k" * 24
KEY = KEY_TEXT.encode()


def _settings(tmp: Path) -> Settings:
    return load_settings({}, data_dir=tmp, id_secret=KEY_TEXT)


def _run(tmp: Path, seizures=None, *, thorough: bool = True) -> tuple[attacks.Truth, attacks.Outputs, Settings]:
    settings = _settings(tmp)
    truth = attacks.build_scenario(tmp / "s.gpkg", settings, attacks.scenario_seizures() if seizures is None else seizures)
    (tmp / "out").mkdir()
    return truth, attacks.ngo_outputs(tmp / "s.gpkg", settings, KEY, tmp / "out", thorough=thorough), settings


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[attacks.Truth, attacks.Outputs, Settings]:
    return _run(tmp_path_factory.mktemp("attacker"))


def test_the_scenario_has_something_to_hide(scenario) -> None:
    truth, out, _ = scenario
    assert truth.visible.sum() >= 20 and (~truth.visible).sum() >= 5
    assert len(attacks.published_seizures(out)) == truth.visible.sum()
    assert sum(attacks.published_link_counts(out).values()) > 0 and attacks.published_cell_counts(out)
    assert {"links", "hotspot_cells", "hotspot_segments", "seizures", "clearings"} <= {layer for _, layer in out.features}
    # run messages count every seizure read; the internal tables (accounts, sessions, logs) no role reads
    assert out.refused == {"ingest_runs"} | {lyr.name for lyr in catalog.LAYERS if lyr.internal}


def test_nothing_names_a_seizure_or_carries_a_hidden_field(scenario) -> None:
    truth, out, _ = scenario
    hidden_values = set(truth.ids) | {f"CR/{i:04d}/2023" for i in range(300)} | {"Forestry Administration", "informant"}
    suppressed = {sid for sid, v in zip(opaque_ids(KEY, "seizures", truth.ids), truth.visible, strict=True) if not v}
    for where, body in out.bodies.items():
        text = body.decode("utf-8")
        assert not [v for v in hidden_values if v in text], where
        assert not [v for v in suppressed if v in text], f"{where} names a suppressed seizure"


def test_every_count_is_a_count_of_the_published_seizures(scenario) -> None:
    truth, out, settings = scenario
    pub = attacks.published_seizures(out)
    lon, lat = pub["lon"].to_numpy(float), pub["lat"].to_numpy(float)
    assert out.api_counts["seizures"] == truth.visible.sum()
    assert attacks.link_counts(pub, lon, lat, attacks.clearings_of(out), settings) == attacks.published_link_counts(out)
    assert attacks.cell_counts(pub, lon, lat, settings) == attacks.published_cell_counts(out)
    # every published seizure is counted once on the grid, and no other
    per_period = {}
    for f in out.layer("hotspot_cells"):
        p = f["properties"]
        per_period[p["period"]] = per_period.get(p["period"], 0) + p["seizures_timber"] + p["seizures_wildlife"]
    assert sum(per_period.values()) == truth.visible.sum()
    on_segments = sum(f["properties"]["seizures_timber"] + f["properties"]["seizures_wildlife"] for f in out.layer("hotspot_segments"))
    assert on_segments <= truth.visible.sum()


def test_no_attack_beats_the_cell_centre(scenario) -> None:
    truth, out, settings = scenario
    assert attacks.judge(truth, KEY, attacks.multilaterate(out)) == []
    estimates, differ = attacks.count_attack(out, settings)
    assert differ == [] and attacks.judge(truth, KEY, estimates) == []


def test_exports_and_api_agree_feature_for_feature(scenario) -> None:
    """Differencing the two channels gives nothing: they carry the same features (the API shows the latest period of hotspots)."""
    _, out, _ = scenario
    for (channel, layer), feats in out.features.items():
        if channel not in ("api", "ogc"):
            continue
        exported = {f["id"]: f for f in out.features[("export-geojson", layer)]}
        if channel == "ogc":  # every feature, every period: the same set as the export
            assert set(exported) == {f["id"] for f in feats}, layer
        for f in feats:
            assert exported[f["id"]] == f, (channel, layer, f["id"])


def test_suppressed_seizures_and_positions_inside_a_cell_change_nothing_an_ngo_reads(tmp_path: Path, scenario) -> None:
    """The strongest form: move every seizure elsewhere in its cell and add two in a new cell; every byte stays the same."""
    _, base, _ = scenario
    _, moved, _ = _run(tmp_path, attacks.scenario_seizures(jitter=99, extra_suppressed=True))
    assert moved.bodies.keys() == base.bodies.keys()
    for where in base.bodies:
        assert _same_render(moved.bodies[where]) == _same_render(base.bodies[where]), where


def _same_render(body: bytes) -> bytes:
    """``body`` with folium's element names (``map_<32 random hex digits>``, new on every render),
    the session's CSRF token (new on every login) and an evidence report's time and digest made equal."""
    body = re.sub(rb'name="csrf_token" value="[^"]*"', b'name="csrf_token" value="X"', body)
    body = re.sub(rb'name="csrf-token" content="[^"]*"', b'name="csrf-token" content="X"', body)
    # an evidence report's time of making, and its digest (over that time too); all else it states is compared
    body = re.sub(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z", b"TIME", body)
    body = re.sub(rb"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])", b"SHA256", body)
    return re.sub(rb"_[0-9a-f]{32}(?![0-9a-f])", b"_X", body)


def test_the_attacker_catches_a_distance_put_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seizures = catalog.CATALOG["seizures"]
    leaky = dataclasses.replace(seizures, fields=tuple(
        dataclasses.replace(f, generalised="show") if f.name in ("corridor_segment", "corridor_distance_km", "border_crossing", "crossing_distance_km") else f
        for f in seizures.fields
    ))
    monkeypatch.setitem(catalog.CATALOG, "seizures", leaky)
    truth, out, _ = _run(tmp_path, thorough=False)  # the leak is in every export and API answer: the quick crawl finds it
    wins = attacks.judge(truth, KEY, attacks.multilaterate(out))
    assert len(wins) >= truth.visible.sum() // 2, wins


def test_the_attacker_catches_counts_over_exact_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jobs.analyse

    def exact(seizures):  # what analyse did before: count every seizure where it is
        out = seizures.reset_index(drop=True)
        return out.assign(seizure_id=[f"p{i}" for i in range(len(out))])

    monkeypatch.setattr(jobs.analyse, "published_seizures", exact)
    truth, out, settings = _run(tmp_path, thorough=False)  # the counts are in every export and API answer
    estimates, differ = attacks.count_attack(out, settings)
    assert differ  # the counts say more than the published seizures
    wins = attacks.judge(truth, KEY, estimates)
    assert wins, "counts over exact points should let the attacker beat the cell centre for some seizure"


def test_the_demo_store_as_a_partner_ngo_reads_it(demo_store: Path, tmp_path: Path) -> None:
    """The issue's reproduction, on the demo: no distance, no internal id, every count a count of the published seizures."""
    from layers.opaque_ids import load_id_key

    settings = load_settings({}, data_dir=demo_store.parent)
    key = load_id_key(settings, create=False)
    out = attacks.ngo_outputs(demo_store, settings, key, tmp_path, thorough=False)  # the OGC API's first pages only: a large store
    pub = attacks.published_seizures(out)
    assert 0 < len(pub) < 1180  # generalised, some cells suppressed
    assert attacks.distance_constraints(out) == {} and attacks.multilaterate(out) == {}
    for _, f in out.all_features():
        assert not [k for k in f["properties"] if "distance" in k or k in ("case_reference", "agency", "notes", "place")]
    lon, lat = pub["lon"].to_numpy(float), pub["lat"].to_numpy(float)
    assert attacks.cell_counts(pub, lon, lat, settings) == attacks.published_cell_counts(out)
    assert attacks.link_counts(pub, lon, lat, attacks.clearings_of(out), settings) == attacks.published_link_counts(out)

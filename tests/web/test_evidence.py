"""Evidence reports: the PDF (pdftotext, pdftoppm), the seal and ``report verify``, roles, and what an ngo report lets one infer."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from scipy import ndimage

from cli.main import cli
from config import load_settings
from layers import open_store
from web import create_app

from .conftest import FAST_HASH, PASSWORDS, log_in
from .evidence_store import (
    IMAGED,
    IMAGED_AREA_HA,
    LINK_DISTANCE_KM,
    REVIEW_COMMENT,
    REVIEWER,
    SEGMENT,
    build_evidence_store,
)

# a chip is not blank when the standard deviation of its grey levels (0-255) inside its frame is above this
CHIP_MIN_STD = 8.0
FRAME_RGB = (0x00, 0x80, 0x6B)  # the chips' frame colour in web/static/evidence-report.css
# exact seizure points of the map store (tests/web/conftest.py): none may show in an ngo report
SEIZURE_POINTS = [(107.40, 13.70), (107.48, 13.735), (102.60, 17.95)]
ID_SECRET = "evidence-test-id-secret-0123456789abcdef"


def _require_poppler() -> None:
    if shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None:
        message = "PDF tests need pdftotext and pdftoppm (scripts/system-deps.sh installs poppler-utils)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("evidence")
    build_evidence_store(folder)
    return folder


@pytest.fixture
def env(folder: Path) -> dict[str, str]:
    return {"ECOWATCH_DATA_DIR": str(folder), "ECOWATCH_ID_SECRET": ID_SECRET}


def _report(env: dict[str, str], folder: Path, out: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["report", *args, "-o", str(out), "--store", str(folder / "t.gpkg")], env=env)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def planner_pdf(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_poppler()
    out = tmp_path_factory.mktemp("pdf") / "report.pdf"
    result = CliRunner().invoke(cli, ["report", IMAGED, "--role", "planner", "-o", str(out), "--store", str(folder / "t.gpkg")],
                                env={"ECOWATCH_DATA_DIR": str(folder), "ECOWATCH_ID_SECRET": ID_SECRET})
    assert result.exit_code == 0, result.output
    return out


def _ppm(path: Path) -> np.ndarray:
    """A binary PPM (P6, what pdftoppm writes by default) as an array (row, col, 3)."""
    data = path.read_bytes()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P6" and int(maxval) == 255
    return np.frombuffer(pixels[: int(width) * int(height) * 3], np.uint8).reshape(int(height), int(width), 3)


def test_pdf_text_holds_id_area_and_flags(planner_pdf: Path) -> None:
    text = subprocess.run(["pdftotext", "-layout", str(planner_pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert IMAGED in text
    assert f"{IMAGED_AREA_HA:.2f} ha" in text
    for flag in ("protected_area", "outside_concessions"):
        assert flag in text
    sealed = json.loads(planner_pdf.with_suffix(".json").read_text())
    assert sealed["sha256"] in text.replace("\n", "")  # the digest is printed in the report
    assert "CASE-S-1" in text and REVIEWER.split()[0] in text  # a planner's report has them


def test_pdf_chips_are_not_blank(planner_pdf: Path, tmp_path: Path) -> None:
    # 96 dpi: one CSS pixel is one rendered pixel, so the 3 px frames are exact
    subprocess.run(["pdftoppm", "-r", "96", "-f", "1", "-l", "1", str(planner_pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page*.ppm"))
    assert pages
    rgb = _ppm(pages[0]).astype(int)
    frame = np.all(np.abs(rgb - np.array(FRAME_RGB)) <= 2, axis=-1)
    labels, n = ndimage.label(frame)
    boxes = [b for b in ndimage.find_objects(labels) if (b[0].stop - b[0].start) > 100 and (b[1].stop - b[1].start) > 100]
    sealed = json.loads(planner_pdf.with_suffix(".json").read_text())
    assert len(boxes) == len(sealed["report"]["chips"]) == 4, n
    grey = rgb.mean(axis=-1)
    for rows, cols in boxes:
        inside = grey[rows.start + 5:rows.stop - 5, cols.start + 5:cols.stop - 5]
        assert inside.std() > CHIP_MIN_STD, (rows, cols, inside.std())


def test_verify_passes_on_the_original_and_fails_on_a_changed_copy(planner_pdf: Path, tmp_path: Path) -> None:
    original = planner_pdf.with_suffix(".json")
    runner = CliRunner()
    ok = runner.invoke(cli, ["report", "verify", str(original)])
    assert ok.exit_code == 0 and "verified" in ok.output
    doc = json.loads(original.read_text())
    expect = doc["sha256"]
    assert runner.invoke(cli, ["report", "verify", str(original), "--expect", expect]).exit_code == 0
    assert runner.invoke(cli, ["report", "verify", str(original), "--expect", "0" * 64]).exit_code == 1
    doc["report"]["clearing"]["area_ha"] = 2.5
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    bad = runner.invoke(cli, ["report", "verify", str(changed)])
    assert bad.exit_code == 1 and "content changed" in bad.output
    # the same data in another key order and layout is the same report
    doc["report"]["clearing"]["area_ha"] = IMAGED_AREA_HA
    reordered = tmp_path / "reordered.json"
    reordered.write_text(json.dumps({"report": doc["report"], "sha256": expect}, indent=4, sort_keys=False))
    assert runner.invoke(cli, ["report", "verify", str(reordered)]).exit_code == 0
    notjson = tmp_path / "x.json"
    notjson.write_text("{")
    assert runner.invoke(cli, ["report", "verify", str(notjson)]).exit_code == 1


def test_html_report_from_the_command_line(folder: Path, env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    _report(env, folder, out, IMAGED)
    html = out.read_text()
    assert "<script" not in html.replace("&lt;script", "")  # the hostile case reference is not there, and no script is
    assert "http://" not in html and "https://" not in html  # self-contained
    assert CliRunner().invoke(cli, ["report", "verify", str(out.with_suffix(".json"))]).exit_code == 0


def test_usage_errors(folder: Path, env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["report", IMAGED, "--store", str(folder / "t.gpkg")], env=env).exit_code == 2
    assert runner.invoke(cli, ["report", IMAGED, "-o", str(tmp_path / "r.txt")], env=env).exit_code == 2
    missing = runner.invoke(cli, ["report", "CL-none", "-o", str(tmp_path / "r.html"), "--store", str(folder / "t.gpkg")], env=env)
    assert missing.exit_code == 1 and "no clearing" in missing.output


# --- the app -------------------------------------------------------------------------------------------


@pytest.fixture
def report_app(folder: Path) -> Iterator[Flask]:
    app = create_app(load_settings({}, data_dir=folder, id_secret=ID_SECRET, **FAST_HASH), store_url=str(folder / "t.gpkg"))
    app.config["TESTING"] = True
    yield app
    app.extensions["ecowatch"].close()


@pytest.fixture
def as_role(report_app: Flask) -> Callable[[str], FlaskClient]:
    def make(role: str) -> FlaskClient:
        client = report_app.test_client()
        assert log_in(client, role, PASSWORDS[role]).status_code == 303
        return client
    return make


def _numbers(value: Any) -> Iterator[float]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from _numbers(v)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield float(value)


def test_ngo_report_holds_nothing_that_locates_or_names_a_case(as_role: Callable[[str], FlaskClient]) -> None:
    client = as_role("ngo")
    page = client.get(f"/reports/clearings/{IMAGED}")
    assert page.status_code == 200
    sealed = client.get(f"/reports/clearings/{IMAGED}.json")
    assert sealed.status_code == 200
    doc = json.loads(sealed.data)
    for body in (page.get_data(as_text=True), sealed.get_data(as_text=True)):
        for secret in ("CASE-", "Forestry Administration", "truck at the crossing", REVIEWER, "Sokha", REVIEW_COMMENT[:20],
                       "alert(2)", "S-1", "S-2", "S-9", "seizure_id", "distance_km", "agency", "case_reference", "lag_days"):
            assert secret not in body, secret
    report = doc["report"]
    assert report["seizures"] == {"kind": "counts", "linked": 2, "timber": 1, "wildlife": 1, "note": report["seizures"]["note"]}
    assert all("user" not in t and "comment" not in t for t in report["trail"]) and len(report["trail"]) == 1
    # inference: no number in the report is a seizure's coordinate or a link's distance or lag
    numbers = list(_numbers(report))
    for lon, lat in SEIZURE_POINTS:
        assert not any(abs(x - lon) < 1e-3 or abs(x - lat) < 1e-3 for x in numbers), (lon, lat)
    assert not any(abs(x - LINK_DISTANCE_KM) < 1e-3 or x in (104.0, 120.0, 9.5) for x in numbers)
    assert report["run"] == {"run_id": "run-1"}  # no run message: it counts every seizure read


def test_planner_report_has_the_detail(as_role: Callable[[str], FlaskClient]) -> None:
    doc = json.loads(as_role("planner").get(f"/reports/clearings/{IMAGED}.json").data)["report"]
    rows = doc["seizures"]["rows"]
    assert [r["seizure_id"] for r in rows] == ["S-1", "S-2"]
    assert rows[0]["case_reference"] == "CASE-S-1" and rows[0]["lon"] == pytest.approx(107.40) and rows[0]["distance_km"] == LINK_DISTANCE_KM
    assert doc["trail"][0]["user"] == REVIEWER and doc["trail"][0]["comment"] == REVIEW_COMMENT
    assert doc["geometry"]["utm"]["crs"] == "EPSG:32648"
    assert doc["geometry"]["utm"]["polygons"][0][0][0] == [761200.0, 1506000.0]
    assert {o["source_id"] for o in doc["overlaps"]["concessions"]} == {"EL-1"}


def test_page_escapes_and_has_a_strict_policy(as_role: Callable[[str], FlaskClient]) -> None:
    response = as_role("planner").get(f"/reports/clearings/{IMAGED}")
    html = response.get_data(as_text=True)
    assert "<img src=x onerror" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<script>alert(2)</script>" not in html
    policy = response.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy and "'sha256-" in policy
    assert re.search(r'src="(?!data:image/png;base64,)', html) is None  # every image is inline


def test_segment_report_follows_the_role(as_role: Callable[[str], FlaskClient]) -> None:
    planner = json.loads(as_role("planner").get(f"/reports/segments/{SEGMENT}.json").data)["report"]
    ngo = json.loads(as_role("ngo").get(f"/reports/segments/{SEGMENT}.json").data)["report"]
    assert planner["periods"][0]["hot_class"] == "hot 99 %" and planner["periods"][0]["seizures_timber"] == 2
    assert ngo["periods"][0]["hot_class"] == "not significant" and ngo["periods"][0]["seizures_timber"] == 0
    assert ngo["geometry"]["length_km"] == planner["geometry"]["length_km"] > 9


@pytest.mark.parametrize("role", ["viewer"])
def test_roles_without_reports_are_refused(as_role: Callable[[str], FlaskClient], role: str) -> None:
    client = as_role(role)
    for path in (f"/reports/clearings/{IMAGED}", f"/reports/clearings/{IMAGED}.json", f"/reports/segments/{SEGMENT}"):
        assert client.get(path).status_code == 403


def test_anonymous_and_unknown(report_app: Flask, as_role: Callable[[str], FlaskClient]) -> None:
    assert report_app.test_client().get(f"/reports/clearings/{IMAGED}").status_code == 302
    assert as_role("planner").get("/reports/clearings/CL-nothing").status_code == 404
    assert as_role("planner").get("/reports/clearings/%3Cx%3E").status_code == 404


def test_desk_links_the_report(as_role: Callable[[str], FlaskClient]) -> None:
    html = as_role("analyst").get(f"/review/clearings/{IMAGED}").get_data(as_text=True)
    assert f'href="/reports/clearings/{IMAGED}.pdf"' in html and f'href="/reports/clearings/{IMAGED}"' in html


def test_downloads_are_logged(folder: Path, as_role: Callable[[str], FlaskClient]) -> None:
    from layers.access_log import read_events

    as_role("ngo").get(f"/reports/clearings/{IMAGED}.json")
    with open_store(folder / "t.gpkg", readonly=True) as store:
        events = read_events(store)
    assert any(e == "export" and "evidence report" in str(d) for e, d in zip(events["event"], events["detail"], strict=True))

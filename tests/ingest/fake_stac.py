"""A fake STAC API with a COG file server, for the real ``pystac-client`` and our range-request client.

Items look like Earth Search's ``sentinel-2-l2a``: one COG per band under the common-name keys
(``blue`` ... ``swir22``, ``scl``) with ``eo:bands``; B8A, B11, B12 and SCL at 20 m; reflectance
stored with the baseline 04.00 offset (+1 000) and declared as ``raster:bands`` scale 0.0001,
offset -0.1. Values come from the reference scenes, so a correct reader recovers them exactly.
The file server answers HTTP range requests and counts requests and bytes per file; it can be
told to answer some COG requests with a redirect instead.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from werkzeug.wrappers import Request, Response

from ingest.imagery.cog import BANDS
from ingest.imagery.stac import COMMON_NAMES
from tests.ingest.fake_servers import Hits
from tests.ingest.reference_scenes import CRS, RES, TRANSFORM, Reference

CORE = "https://api.stacspec.org/v1.0.0/core"
ITEM_SEARCH = "https://api.stacspec.org/v1.0.0/item-search"
QUERY = "https://api.stacspec.org/v1.0.0/item-search#query"
TWENTY_M = ("B8A", "B11", "B12", "SCL")
COLLECTION = "sentinel-2-l2a"


def write_assets(ref: Reference, folder: Path, days: list[dt.date]) -> None:
    """One COG per band and date in ``folder`` (``<YYYYMMDD>_<key>.tif``): 64 px blocks, uncompressed, so that
    a small AOI's range reads are a small part of the file (GDAL reads at least 16 KB at a time)."""
    folder.mkdir(parents=True, exist_ok=True)
    for day in days:
        for index, band in enumerate(BANDS):
            data = ref.scenes[day][index]
            transform, res = TRANSFORM, RES
            if band in TWENTY_M:
                data, res = data[::2, ::2], 2 * RES
                transform = Affine(res, 0.0, TRANSFORM.c, 0.0, -res, TRANSFORM.f)
            if band != "SCL":
                data = np.where(data > 0, data.astype(np.uint32) + 1000, 0).astype(np.uint16)
            path = folder / f"{day:%Y%m%d}_{COMMON_NAMES[band]}.tif"
            with rasterio.open(path, "w", driver="COG", width=data.shape[1], height=data.shape[0], count=1, dtype="uint16",
                               crs=CRS, transform=transform, nodata=0, blocksize=64, compress="none") as dst:
                dst.write(data, 1)


@dataclass
class FakeStac:
    """The fake API's state; call it as a WSGI app. ``base`` is set once it is served."""

    ref: Reference
    folder: Path
    days: list[dt.date]
    base: str = ""
    asset_base: str = ""  # where asset URLs point (default: this server)
    with_query: bool = True
    extra_items: list[dict[str, Any]] = field(default_factory=list)
    hits: Hits = field(default_factory=Hits)
    fail_files: dict[str, deque[int]] = field(default_factory=dict)  # file name -> statuses to answer (0: serve)
    redirect: Callable[[Request], str | None] | None = None  # a COG request -> Location to answer 302 with (None: serve)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.route(request)(environ, start_response)

    def route(self, request: Request) -> Response:
        if request.path in ("", "/"):
            self.hits.add("landing")
            return _json(self.landing())
        if request.path == "/search":
            self.hits.add("search")
            return _json(self.search(request.get_json() if request.method == "POST" else dict(request.args)))
        if request.path.startswith("/cogs/"):
            name = request.path.removeprefix("/cogs/")
            with self.lock:
                status = self.fail_files[name].popleft() if self.fail_files.get(name) else None
            self.hits.add("cog")
            if status:  # 0 or None: serve normally
                return Response("scripted failure", status=status)
            location = self.redirect(request) if self.redirect is not None else None
            if location is not None:
                self.hits.add("redirect")
                return Response("moved", status=302, headers={"Location": location})
            path = self.folder / name
            if "/" in name or not path.is_file():
                return Response("not found", status=404)
            response = Response(path.read_bytes(), mimetype="image/tiff")
            response.make_conditional(request, accept_ranges=True, complete_length=path.stat().st_size)
            self.hits.add(f"bytes:{name}", len(response.get_data()) if request.method == "GET" else 0)
            return response
        return Response("not found", status=404)

    def landing(self) -> dict[str, Any]:
        return {
            "type": "Catalog", "id": "fake-stac", "stac_version": "1.0.0", "description": "ecowatch test catalogue",
            "conformsTo": [CORE, ITEM_SEARCH] + ([QUERY] if self.with_query else []),
            "links": [
                {"rel": "self", "href": f"{self.base}/", "type": "application/json"},
                {"rel": "root", "href": f"{self.base}/", "type": "application/json"},
                {"rel": "search", "href": f"{self.base}/search", "type": "application/geo+json", "method": "POST"},
                {"rel": "search", "href": f"{self.base}/search", "type": "application/geo+json", "method": "GET"},
            ],
        }

    def item(self, day: dt.date) -> dict[str, Any]:
        base = self.asset_base or self.base
        assets = {}
        for band in BANDS:
            key = COMMON_NAMES[band]
            asset: dict[str, Any] = {
                "href": f"{base}/cogs/{day:%Y%m%d}_{key}.tif", "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"], "eo:bands": [{"name": band}],
            }
            if band != "SCL":
                asset["raster:bands"] = [{"nodata": 0, "data_type": "uint16", "scale": 0.0001, "offset": -0.1}]
            assets[key] = asset
        assets["thumbnail"] = {"href": f"{base}/thumb.jpg", "type": "image/jpeg", "roles": ["thumbnail"]}
        return {
            "type": "Feature", "stac_version": "1.0.0", "id": f"S2B_48PXB_{day:%Y%m%d}_0_L2A", "collection": COLLECTION,
            "geometry": {"type": "Polygon", "coordinates": [[[107.0, 13.0], [108.0, 13.0], [108.0, 14.0], [107.0, 14.0], [107.0, 13.0]]]},
            "bbox": [107.0, 13.0, 108.0, 14.0],
            "properties": {"datetime": f"{day.isoformat()}T03:31:00Z", "eo:cloud_cover": round(self.ref.cloud_cover(day), 2)},
            "links": [], "assets": assets,
        }

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        start, end = (dt.date.fromisoformat(v[:10]) for v in str(body["datetime"]).split("/"))
        limit = float(((body.get("query") or {}).get("eo:cloud_cover") or {}).get("lte", 100.0))
        features = [self.item(d) for d in self.days if start <= d <= end and self.ref.cloud_cover(d) <= limit]
        features += [i for i in self.extra_items if start <= dt.date.fromisoformat(i["properties"]["datetime"][:10]) <= end]
        return {"type": "FeatureCollection", "features": features, "links": []}


def _json(payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), mimetype="application/geo+json")

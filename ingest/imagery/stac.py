"""The ``stac`` provider: a STAC API searched with ``pystac-client``, COG assets read remotely.

* Search: items of ``stac_collection`` intersecting the AOI in the period, with
  ``eo:cloud_cover`` at most the maximum (through the API's query extension when it has one,
  and checked here in any case); one acquisition per UTC date, its items least cloudy first.
* Assets: each band's asset is found by its key (``B04`` or Earth Search's ``red``) or its
  ``eo:bands`` name; every asset URL must pass the allow-list (:mod:`ingest.imagery.urls`), so a
  catalogue cannot make us read local files or internal addresses. Requests to the API itself
  may only go to the API's own scheme, host and port.
* Fetch: every asset is read onto the AOI's grid (:mod:`ingest.imagery.warp`): only the blocks
  under the AOI are fetched, with HTTP range requests made by our own client
  (:mod:`ingest.imagery.remote`, not GDAL's ``/vsicurl/``), which sends each request and each
  redirect only to URLs the allow-list admits; a redirect elsewhere fails the run. SCL and the
  20 m bands are resampled to the grid by nearest neighbour. Stored values are turned into
  harmonised reflectance x 10 000 with the asset's ``raster:bands`` scale and offset (Earth
  Search's ``offset: -0.1`` removes the baseline 04.00 offset).
"""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import ExitStack
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import numpy as np
import rasterio
import shapely
import shapely.geometry
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from pystac_client.exceptions import APIError
from pystac_client.stac_api_io import StacApiIO
from rasterio.errors import RasterioIOError
from requests import Request, Response, Session
from requests.adapters import HTTPAdapter
from urllib3 import Retry

from config import Settings
from ingest.errors import RecordError
from ingest.imagery.cog import BANDS, BLOCK_PX, cog_writer
from ingest.imagery.errors import ProviderError, RemoteReadError, URLNotAllowedError
from ingest.imagery.grid import AoiGrid
from ingest.imagery.providers import Acquisition, Provider, SearchResult
from ingest.imagery.remote import RangeClient
from ingest.imagery.urls import check_url
from ingest.imagery.warp import onto_grid, to_dn

logger = logging.getLogger(__name__)

COMMON_NAMES = {"B02": "blue", "B03": "green", "B04": "red", "B08": "nir", "B8A": "nir08", "B11": "swir16", "B12": "swir22", "SCL": "scl"}


@dataclass(frozen=True)
class AssetRef:
    """One band of one item: its checked URL and how stored values map to reflectance."""

    url: str
    scale: float = 1e-4
    offset: float = 0.0


@dataclass(frozen=True)
class StacItem:
    """A usable item: its id, cloud cover and one asset per band."""

    id: str
    cloud_cover: float | None
    assets: dict[str, AssetRef]


def _is_tiff(asset: dict[str, Any]) -> bool:
    kind = str(asset.get("type", "")).lower()
    href = urlsplit(str(asset.get("href", ""))).path.lower()
    return "tiff" in kind or (not kind and href.endswith((".tif", ".tiff")))


def _find_asset(assets: dict[str, dict[str, Any]], band: str) -> tuple[str, dict[str, Any]] | None:
    """The asset holding ``band``: by key (``B04``, ``red``), else by ``eo:bands``/``bands`` name."""
    keys = {band.lower(), COMMON_NAMES[band]}
    for key, asset in assets.items():
        if key.lower() in keys and _is_tiff(asset):
            return key, asset
    for key, asset in assets.items():
        names = {str(b.get("name", "")).upper() for b in (asset.get("eo:bands") or []) + (asset.get("bands") or []) if isinstance(b, dict)}
        if band in names and len(names) == 1 and _is_tiff(asset):
            return key, asset
    return None


def _scaling(asset: dict[str, Any]) -> tuple[float, float]:
    """``(scale, offset)`` to reflectance from ``raster:bands`` (STAC 1.0) or ``bands`` (1.1); DN by default."""
    info = (asset.get("raster:bands") or asset.get("bands") or [{}])[0]
    scale = info.get("scale", info.get("raster:scale", asset.get("raster:scale")))
    offset = info.get("offset", info.get("raster:offset", asset.get("raster:offset")))
    return (float(scale) if scale is not None else 1e-4), (float(offset) if offset is not None else 0.0)


class StacProvider(Provider):
    """Sentinel-2 L2A COGs listed by a STAC API (Earth Search by default); no credentials."""

    name = "stac"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.url = settings.stac_url
        api = urlsplit(self.url)
        self._api_origin = (api.scheme.lower(), (api.hostname or "").lower(), api.port)

    def source(self) -> dict[str, object]:
        return {"stac_url": self.url, "collection": self.settings.stac_collection}

    def _only_the_api(self, request: Request) -> None:
        """``request_modifier`` of pystac-client: refuse any request that is not to the STAC API's own origin."""
        url = str(request.url)
        parts = urlsplit(url)
        if (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port) != self._api_origin:
            raise URLNotAllowedError(url, f"the catalogue linked outside the STAC API at {self.url}")

    def _no_redirect_off_the_api(self, response: Response, *args: object, **kwargs: object) -> None:
        """Response hook of the search session: ``requests`` follows redirects by itself, after the
        ``request_modifier`` has seen only the first request; a redirect off the API's origin
        is refused before it is followed."""
        if response.is_redirect:
            target = urljoin(str(response.url), response.headers.get("Location", ""))
            parts = urlsplit(target)
            if (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port) != self._api_origin:
                raise URLNotAllowedError(target, f"the STAC API at {self.url} redirected outside itself")

    def _retry(self) -> Retry:
        """Retries of a search or asset request: 5xx, 429 (after its ``Retry-After``), broken connections."""
        return Retry(
            total=self.settings.imagery_max_attempts - 1, backoff_factor=self.settings.imagery_retry_s,
            status_forcelist=(429, 500, 502, 503, 504), allowed_methods=None, respect_retry_after_header=True,
        )

    def _client(self) -> Client:
        # Client.open hands its own request_modifier and timeout to the StacApiIO it is given
        io = StacApiIO(max_retries=self._retry())
        io.session.hooks["response"].append(self._no_redirect_off_the_api)
        return Client.open(self.url, stac_io=io, request_modifier=self._only_the_api, timeout=self.settings.http_timeout_s)

    def search(self, aoi: shapely.Geometry, date_from: dt.date, date_to: dt.date, max_cloud: float) -> SearchResult:
        """Items over ``aoi`` in the period, one acquisition per date; items with refused or missing
        assets are rejected with the reason."""
        try:
            client = self._client()
            query = {"eo:cloud_cover": {"lte": max_cloud}} if max_cloud < 100 and client.conforms_to(ConformanceClasses.QUERY) else None
            search = client.search(
                collections=[self.settings.stac_collection], intersects=shapely.geometry.mapping(aoi),
                datetime=f"{date_from.isoformat()}/{date_to.isoformat()}", query=query,
            )
            raw = list(search.items_as_dicts())
        except APIError as err:
            raise ProviderError(self.url, f"STAC search failed: {str(err)[:300]}") from err
        found = SearchResult()
        usable: list[tuple[dt.date, StacItem]] = []
        for item in raw:
            props = item.get("properties") or {}
            cover = props.get("eo:cloud_cover")
            if cover is not None and float(cover) > max_cloud:
                continue
            try:
                usable.append((self._date(item), self._item(item)))
            except RecordError as err:
                found.rejects.append(err)
        usable.sort(key=lambda p: (p[0], p[1].cloud_cover if p[1].cloud_cover is not None else 100.0, p[1].id))
        for day, group in groupby(usable, key=lambda p: p[0]):
            items = [i for _, i in group]
            covers = [i.cloud_cover for i in items if i.cloud_cover is not None]
            found.acquisitions.append(Acquisition(f"S2L2A_{day:%Y%m%d}", day, min(covers) if covers else None, tuple(i.id for i in items), items))
        logger.info("STAC %s: %d item(s), %d date(s), %d rejected", self.settings.stac_collection, len(raw), len(found.acquisitions), len(found.rejects))
        return found

    def _date(self, item: dict[str, Any]) -> dt.date:
        stamp = (item.get("properties") or {}).get("datetime") or ""
        try:
            return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).astimezone(dt.UTC).date()
        except ValueError as err:
            raise RecordError(self.url, str(item.get("id")), "properties.datetime", stamp, "not an ISO 8601 date-time") from err

    def _item(self, item: dict[str, Any]) -> StacItem:
        """The item's asset for every band, each URL checked against the allow-list."""
        item_id = str(item.get("id"))
        self_href = next((link.get("href") for link in item.get("links", []) if link.get("rel") == "self"), None)
        refs: dict[str, AssetRef] = {}
        for band in BANDS:
            hit = _find_asset(item.get("assets") or {}, band)
            if hit is None:
                raise RecordError(self.url, item_id, f"assets.{COMMON_NAMES[band]}", None, f"no GeoTIFF asset for band {band}")
            key, asset = hit
            href = str(asset.get("href", ""))
            url = urljoin(self_href, href) if self_href and not urlsplit(href).scheme else href
            try:
                check_url(url, schemes=self.settings.stac_asset_schemes, hosts=self.settings.stac_asset_hosts)
            except URLNotAllowedError as err:
                raise RecordError(self.url, item_id, f"assets.{key}", url, err.reason) from err
            scale, offset = _scaling(asset) if band != "SCL" else (1.0, 0.0)
            refs[band] = AssetRef(url, scale, offset)
        cover = (item.get("properties") or {}).get("eo:cloud_cover")
        return StacItem(item_id, float(cover) if cover is not None else None, refs)

    def _range_client(self, session: Session) -> RangeClient:
        adapter = HTTPAdapter(max_retries=self._retry())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return RangeClient(session, schemes=tuple(self.settings.stac_asset_schemes), hosts=tuple(self.settings.stac_asset_hosts),
                           timeout_s=self.settings.http_timeout_s)

    def fetch(self, acquisition: Acquisition, grid: AoiGrid, path: Path) -> None:
        """Read the AOI's window of every band of the date's items onto ``grid``, least cloudy item first.

        Raises
        ------
        RecordError
            When an asset cannot be opened or read (after the retries): the acquisition is rejected.
        URLNotAllowedError
            When a server redirects a read outside the allow-list
            (:class:`~ingest.imagery.errors.RedirectNotAllowedError`): the run fails.
        """
        items: list[StacItem] = acquisition.handle
        tags = {"ECOWATCH_SOURCE": f"stac {self.settings.stac_collection} " + " ".join(i.id for i in items)}
        with Session() as session, rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"), ExitStack() as stack:
            remote = self._range_client(session)
            sources = []
            for item in items:
                vrts = {}
                for band, ref in item.assets.items():
                    try:
                        ds = stack.enter_context(remote.open(ref.url))
                    except (RemoteReadError, RasterioIOError) as err:
                        raise RecordError(ref.url, item.id, f"assets {band}", None, f"cannot be opened: {_reason(err)}") from err
                    vrts[band] = stack.enter_context(onto_grid(ds, grid))
                sources.append((item, vrts))
            with cog_writer(path, grid, acquisition.acquired, tags=tags) as dst:
                for win in grid.tiles(BLOCK_PX * 2):
                    dst.write(self._mosaic(remote, sources, win), window=win)
            logger.debug("%s: %d range request(s), %d bytes", acquisition.scene_id, remote.n_requests, remote.n_bytes)

    def _mosaic(self, remote: RangeClient, sources: list[tuple[StacItem, dict[str, Any]]], win: rasterio.windows.Window) -> np.ndarray:
        """Bands ``(band, row, col)`` of one window: each pixel from the first item with data there."""
        shape = (int(win.height), int(win.width))
        out = np.zeros((len(BANDS), *shape), dtype=np.uint16)
        filled = np.zeros(shape, dtype=bool)
        for item, vrts in sources:
            try:
                scl = vrts["SCL"].read(1, window=win)
                remote.raise_failure()  # a request that failed although GDAL returned data
                take = (scl != 0) & ~filled
                if not take.any():
                    continue
                for index, band in enumerate(BANDS):
                    ref = item.assets[band]
                    data = scl if band == "SCL" else to_dn(vrts[band].read(1, window=win), scale=ref.scale, offset=ref.offset)
                    out[index][take] = data[take]
                remote.raise_failure()
            except (RemoteReadError, RasterioIOError) as err:
                failure = remote.failure or err  # GDAL's error hides our client's, when it had one
                if isinstance(failure, URLNotAllowedError):
                    raise failure from err  # a refused redirect fails the run
                source = failure.source if isinstance(failure, RemoteReadError) else self.url
                raise RecordError(source, item.id, "assets", None, f"reading failed: {_reason(failure)}") from failure
            filled |= take
            if filled.all():
                break
        return out


def _reason(err: Exception) -> str:
    """What went wrong, for a reject: our client's own reason, else GDAL's message."""
    if isinstance(err, RemoteReadError):
        return err.reason
    return str(err.__cause__ or err)

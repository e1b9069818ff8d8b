"""The ``sentinelhub`` provider: the ``sentinelhub`` package's Catalog search and Process API.

Works with any Sentinel Hub deployment — the commercial service or the free Copernicus Data
Space Ecosystem — through ``sentinelhub_base_url`` and ``sentinelhub_token_url``: the data
collection is defined with ``service_url=None``, so every request follows the configured base
URL (the package's own ``SENTINEL2_L2A`` is pinned to the commercial host).

* Search: Catalog API items of ``sentinel-2-l2a`` intersecting the AOI in the period with
  ``eo:cloud_cover`` at most the maximum; one acquisition per UTC date.
* Fetch: the AOI's grid split into tiles of at most ``sentinelhub_max_px`` (the API's limit is
  2 500 x 2 500 px), one Process API request per tile (:data:`~ingest.imagery.evalscript.EVALSCRIPT`,
  the day's granules mosaicked least cloudy first, nearest-neighbour resampling), tiles
  downloaded ``sentinelhub_threads`` at a time and written into the COG where they belong.
* Retries are the package's: 429 after the wait the service asks for (at most
  ``imagery_max_rate_limited`` times), 5xx and broken connections ``imagery_max_attempts``
  times with a backoff from ``imagery_retry_s`` (x3 each time). The OAuth token is refreshed
  before it expires.

Credentials come from settings and are never logged: the OAuth library's debug logging, which
prints the token request body, is held at INFO.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from itertools import groupby
from pathlib import Path

import numpy as np
import requests
import shapely
from oauthlib.oauth2 import OAuth2Error
from rasterio.windows import Window
from sentinelhub import (
    CRS,
    BBox,
    DataCollection,
    Geometry,
    MimeType,
    MosaickingOrder,
    ResamplingType,
    SentinelHubCatalog,
    SentinelHubDownloadClient,
    SentinelHubRequest,
    SHConfig,
)
from sentinelhub.download.models import DownloadRequest
from sentinelhub.exceptions import (
    DownloadFailedException,
    OutOfRequestsException,
    SHRateLimitWarning,
)

from config import Settings
from ingest.imagery.cog import BANDS, cog_writer
from ingest.imagery.errors import CredentialsError, ProviderError
from ingest.imagery.evalscript import EVALSCRIPT, OUTPUT_BANDS
from ingest.imagery.grid import AoiGrid
from ingest.imagery.providers import Acquisition, Provider, SearchResult

logger = logging.getLogger(__name__)

COLLECTION_NAME = "ECOWATCH_SENTINEL2_L2A"
_CREDENTIAL_HELP = (
    "set ECOWATCH_SENTINELHUB_CLIENT_ID and ECOWATCH_SENTINELHUB_CLIENT_SECRET to an OAuth client of the deployment "
    "at ECOWATCH_SENTINELHUB_BASE_URL, and ECOWATCH_SENTINELHUB_TOKEN_URL to that deployment's token URL"
)


@cache
def collection() -> DataCollection:
    """Sentinel-2 L2A with ``service_url=None``: requests go to the configured base URL."""
    return DataCollection.SENTINEL2_L2A.define_from(COLLECTION_NAME, service_url=None)


def sh_config(settings: Settings) -> SHConfig:
    """A ``SHConfig`` from our settings only (no config file, no ``SH_*`` environment variables)."""
    return SHConfig(
        use_defaults=True,
        sh_client_id=settings.sentinelhub_client_id,
        sh_client_secret=settings.sentinelhub_client_secret.get_secret_value(),
        sh_base_url=settings.sentinelhub_base_url.rstrip("/"),
        sh_token_url=settings.sentinelhub_token_url,
        max_download_attempts=settings.imagery_max_attempts,
        download_sleep_time=settings.imagery_retry_s,
        max_retries=settings.imagery_max_rate_limited,
        download_timeout_seconds=settings.http_timeout_s,
    )


def _quiet_oauth_debug() -> None:
    """requests-oauthlib logs the token request body (with the client secret) at DEBUG: hold it at INFO."""
    for name in ("requests_oauthlib", "oauthlib"):
        log = logging.getLogger(name)
        if log.level < logging.INFO:
            log.setLevel(logging.INFO)


class SentinelHubProvider(Provider):
    """Sentinel-2 L2A from a Sentinel Hub deployment (commercial or Copernicus Data Space)."""

    name = "sentinelhub"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        _quiet_oauth_debug()
        self.config = sh_config(settings)
        self.base_url = self.config.sh_base_url

    def source(self) -> dict[str, object]:
        return {"base_url": self.base_url, "collection": collection().api_id, "evalscript": EVALSCRIPT}

    def _check_credentials(self) -> None:
        if not (self.config.sh_client_id and self.config.sh_client_secret):
            raise CredentialsError("sentinelhub", f"no credentials: {_CREDENTIAL_HELP}")

    def search(self, aoi: shapely.Geometry, date_from: dt.date, date_to: dt.date, max_cloud: float) -> SearchResult:
        """Catalog items over ``aoi`` in the period, grouped into one acquisition per date."""
        self._check_credentials()
        catalog = SentinelHubCatalog(config=self.config)
        start = dt.datetime.combine(date_from, dt.time(0, 0), tzinfo=dt.UTC)
        end = dt.datetime.combine(date_to, dt.time(23, 59, 59), tzinfo=dt.UTC)
        with self._service_errors("Catalog search"):
            features = list(catalog.search(
                collection(), time=(start, end), geometry=Geometry(aoi, CRS.WGS84),
                filter=f"eo:cloud_cover <= {max_cloud:g}" if max_cloud < 100 else None,
                fields={"include": ["id", "properties.datetime", "properties.eo:cloud_cover"], "exclude": []},
            ))
        found = SearchResult()
        dated = sorted(((dt.datetime.fromisoformat(f["properties"]["datetime"].replace("Z", "+00:00")).date(), f) for f in features), key=lambda p: p[0])
        for day, group in groupby(dated, key=lambda p: p[0]):
            items = [f for _, f in group]
            covers = [float(f["properties"]["eo:cloud_cover"]) for f in items if f["properties"].get("eo:cloud_cover") is not None]
            found.acquisitions.append(
                Acquisition(f"S2L2A_{day:%Y%m%d}", day, max(covers) if covers else None, tuple(sorted(str(f["id"]) for f in items)))
            )
        logger.info("Sentinel Hub catalogue: %d item(s), %d date(s)", len(features), len(found.acquisitions))
        return found

    def _request(self, day: dt.date, grid: AoiGrid, window: Window) -> DownloadRequest:
        epsg = grid.crs.to_epsg()
        if epsg is None:
            raise ProviderError("sentinelhub", f"the AOI grid's CRS has no EPSG code ({grid.crs}); Sentinel Hub needs one")
        request = SentinelHubRequest(
            evalscript=EVALSCRIPT,
            input_data=[
                SentinelHubRequest.input_data(
                    collection(),
                    time_interval=(dt.datetime.combine(day, dt.time(0, 0)), dt.datetime.combine(day, dt.time(23, 59, 59))),
                    mosaicking_order=MosaickingOrder.LEAST_CC,
                    upsampling=ResamplingType.NEAREST,
                    downsampling=ResamplingType.NEAREST,
                    other_args={"processing": {"harmonizeValues": True}},
                )
            ],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=BBox(grid.window_bounds(window), crs=CRS(epsg)),
            size=(int(window.width), int(window.height)),
            config=self.config,
        )
        return request.download_list[0]

    def fetch(self, acquisition: Acquisition, grid: AoiGrid, path: Path) -> None:
        """Render the acquisition's date on ``grid``, tile by tile, into the COG ``path``."""
        self._check_credentials()
        tiles = grid.tiles(self.settings.sentinelhub_max_px)
        threads = self.settings.sentinelhub_threads
        client = SentinelHubDownloadClient(config=self.config)
        tags = {"ECOWATCH_SOURCE": f"sentinelhub {collection().api_id} " + " ".join(acquisition.source_ids)}
        if len(tiles) > 1:
            logger.info("%s: %d tiles of at most %d px", acquisition.scene_id, len(tiles), self.settings.sentinelhub_max_px)
        with cog_writer(path, grid, acquisition.acquired, tags=tags) as dst:
            for first in range(0, len(tiles), threads):
                batch = tiles[first:first + threads]
                download = [self._request(acquisition.acquired, grid, win) for win in batch]
                with self._service_errors(f"Process API ({acquisition.acquired})"):
                    arrays = client.download(download, max_threads=threads, decode_data=True)
                for win, array in zip(batch, arrays, strict=True):
                    dst.write(self._bands(array, win), window=win)

    def _bands(self, array: object, window: Window) -> np.ndarray:
        """A decoded Process API tile -> the cache's 8 bands ``(band, row, col)``, SCL 0 where ``dataMask`` is 0."""
        shape = (int(window.height), int(window.width), len(OUTPUT_BANDS))
        data = np.asarray(array)
        if data.shape != shape or data.dtype != np.uint16:
            raise ProviderError(self.base_url, f"the Process API returned a {data.dtype} array of shape {data.shape}; expected uint16 {shape}")
        bands = np.moveaxis(data, -1, 0)
        out = np.ascontiguousarray(bands[: len(BANDS)])
        out[:, bands[len(BANDS)] == 0] = 0
        return out

    @contextmanager
    def _service_errors(self, what: str) -> Iterator[None]:
        """Turn the package's errors into ours (naming the service, never a credential); log its 429 warnings."""
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", SHRateLimitWarning)
                try:
                    yield
                finally:
                    limited = sum(issubclass(w.category, SHRateLimitWarning) for w in caught)
                    if limited:
                        logger.warning("Sentinel Hub answered 429 Too Many Requests %d time(s) during the %s; waited as asked", limited, what)
            for w in caught:
                if not issubclass(w.category, SHRateLimitWarning):
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        except OAuth2Error as err:
            raise CredentialsError(self.config.sh_token_url, f"the token endpoint refused the credentials ({err.error}); {_CREDENTIAL_HELP}") from err
        except OutOfRequestsException as err:
            raise ProviderError(
                self.base_url, f"{what}: still answered 429 Too Many Requests after {self.config.max_retries} attempts; try again later"
            ) from err
        except DownloadFailedException as err:
            response = getattr(err.request_exception, "response", None)
            status = getattr(response, "status_code", None)
            if status in (401, 403):
                raise CredentialsError(
                    self.base_url, f"{what}: HTTP {status}, the credentials were refused or lack access; {_CREDENTIAL_HELP}"
                ) from err
            if response is not None:
                detail = f"HTTP {status} {response.reason}: {response.text[:300].strip()}"
            else:
                detail = f"{type(err.request_exception).__name__}: {err.request_exception}"
            tries = f" after {self.config.max_download_attempts} attempt(s)" if status is None or status >= 500 else ""
            raise ProviderError(self.base_url, f"{what} failed{tries}: {detail}") from err
        except requests.RequestException as err:
            raise ProviderError(self.base_url, f"{what} failed: {type(err).__name__}: {err}") from err

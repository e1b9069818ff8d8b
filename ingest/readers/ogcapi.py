"""A partner's OGC API – Features collection, read page by page through its ``next`` links.

The partner's URL (given on the command line) passes the same allow-list as imagery URLs
(:func:`ingest.imagery.urls.check_url`: only the schemes in ``partner_schemes``, never a
link-local or metadata address, no user:password URLs); every page after the first, and every
redirect, must stay on that URL's origin (scheme, host and port) — a ``next`` link or a redirect
elsewhere fails the read before anything is requested there, so the token is never sent to
another host. Each page is at most ``ingest_max_file_mb``, the pages at most
``partner_max_pages``; a page seen twice ends the read (a loop). The token, when given, goes in
``Authorization: Bearer`` and is never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import orjson
import requests

from ingest.errors import SourceError
from ingest.imagery.errors import URLNotAllowedError
from ingest.imagery.urls import check_url

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000
GEOJSON_TYPES = ("application/geo+json", "application/json")


@dataclass
class PartnerCollection:
    """What was read: the collection's items URL, its title, the features in order, pages read."""

    items_url: str
    title: str
    features: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class PartnerReader:
    """Reads collections of one partner API (see the module docstring)."""

    def __init__(self, base_url: str, *, token: str | None, schemes: tuple[str, ...], max_bytes: int, max_pages: int, timeout: float) -> None:
        base = base_url.rstrip("/")
        host = urlsplit(base).netloc
        try:
            check_url(base, schemes=schemes, hosts=[host])
        except URLNotAllowedError as err:
            raise SourceError(base_url, f"the partner URL is refused: {err.detail} (setting partner_schemes)") from None
        self.base = base
        self.origin = _origin(base)
        self.max_bytes, self.max_pages, self.timeout = max_bytes, max_pages, timeout
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/geo+json, application/json;q=0.9"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.hooks["response"].append(self._no_redirect_elsewhere)

    def _same_origin(self, url: str, what: str) -> str:
        if _origin(url) != self.origin:
            raise SourceError(self.base, f"{what} {url[:200]!r} leaves the partner's origin; refused (nothing was requested there)")
        return url

    def _no_redirect_elsewhere(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.is_redirect:
            self._same_origin(urljoin(str(response.url), response.headers.get("Location", "")), "a redirect to")

    def get_json(self, url: str) -> Any:
        """The JSON document at ``url`` (on the partner's origin), size-capped; clear errors for 401/403/404."""
        self._same_origin(url, "the URL")
        try:
            with self.session.get(url, timeout=self.timeout, stream=True) as response:
                if response.status_code in (401, 403):
                    raise SourceError(url, f"the partner refused the request ({response.status_code}): check the token (--token-env) and its role")
                if response.status_code == 404:
                    raise SourceError(url, "not found (404): check the URL and --collection")
                if response.status_code != 200:
                    raise SourceError(url, f"the partner answered HTTP {response.status_code}")
                body = bytearray()
                for chunk in response.iter_content(65536):
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise SourceError(url, f"a page is larger than {self.max_bytes / 1e6:g} MB (setting ingest_max_file_mb)")
        except requests.RequestException as err:
            raise SourceError(url, f"cannot read the partner's API: {type(err).__name__}: {str(err)[:200]}") from err
        try:
            return orjson.loads(bytes(body))
        except orjson.JSONDecodeError as err:
            raise SourceError(url, f"not JSON: {err}") from None

    def read_collection(self, collection: str) -> PartnerCollection:
        """Every feature of ``collection``, following ``next`` links from the first page."""
        if not collection or "/" in collection or "?" in collection or "#" in collection:
            raise SourceError(self.base, f"collection {collection[:60]!r} is not a collection id")
        about = self.get_json(f"{self.base}/collections/{collection}")
        title = str(about.get("title") or collection) if isinstance(about, dict) else collection
        items_url = f"{self.base}/collections/{collection}/items"
        out = PartnerCollection(items_url=items_url, title=title)
        url: str | None = items_url + "?" + urlencode({"limit": PAGE_SIZE})
        seen: set[str] = set()
        while url is not None:
            if url in seen:
                raise SourceError(url, "the partner's next links loop back to a page already read")
            if out.pages >= self.max_pages:
                raise SourceError(items_url, f"more than {self.max_pages} pages (setting partner_max_pages)")
            seen.add(url)
            page = self.get_json(url)
            if not isinstance(page, dict) or page.get("type") != "FeatureCollection" or not isinstance(page.get("features"), list):
                raise SourceError(url, "not a GeoJSON FeatureCollection")
            out.features += page["features"]
            out.pages += 1
            url = self._next(url, page)
        logger.info("partner %s: %d feature(s) of %s in %d page(s)", self.base, len(out.features), collection, out.pages)
        return out

    def _next(self, url: str, page: dict[str, Any]) -> str | None:
        for link in page.get("links") or []:
            if isinstance(link, dict) and link.get("rel") == "next" and isinstance(link.get("href"), str):
                if link.get("type") not in (None, *GEOJSON_TYPES):
                    continue
                return self._same_origin(urljoin(url, link["href"]), "a next link to")
        return None

"""Remote GeoTIFFs read with HTTP range requests that go to allowed URLs only, redirects included.

GDAL's ``/vsicurl/`` follows HTTP redirects by itself (we found no GDAL 3.10 option that stops
it), so an allowed host could send a read on to an internal address. Here GDAL gets no URL at
all: rasterio opens the file through a Python opener (a GDAL virtual file system plugin,
:mod:`rasterio.abc`), and every byte comes from :class:`RangeClient`, which

* checks each URL against the allow-list (:func:`ingest.imagery.urls.check_url`) *before* it is
  requested, the asset's own URL and every redirect target (``Location``) alike, at most
  :data:`MAX_REDIRECTS` hops; a refused target is never contacted. The URL as ``requests``
  sends it is checked too, and must give the same scheme, host and port to the allow-list's
  URL parser and to urllib3's, which decides where the connection goes;
* reads lazily: GDAL asks for the header, then only for the tiles under the windows it reads.
  Bytes are fetched in aligned pieces of :data:`CHUNK` bytes, the missing pieces of one read in
  one request, and kept in a small cache per file for as long as it is open (the header is read
  once; a later fetch, e.g. a refresh, downloads again). A fetch that starts where the previous
  one ended reads ahead, twice as far each time up to :data:`MAX_AHEAD` pieces (tiles stored one
  after another are then read in few requests).

Errors cannot cross GDAL's C code, so a failed request is kept on the client (the first one) and
the read returns short; the caller then raises it with :meth:`RangeClient.raise_failure`.
Use one client per fetch, on one thread (rasterio's opener registry is per thread).
"""

from __future__ import annotations

import io
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urljoin, urlsplit

import rasterio
import requests
import urllib3
from rasterio.abc import FileContainer
from rasterio.errors import RasterioIOError
from rasterio.io import DatasetReader
from urllib3.util import parse_url

from ingest.imagery.errors import (
    ProviderError,
    RedirectNotAllowedError,
    RemoteReadError,
    URLNotAllowedError,
)
from ingest.imagery.urls import check_url

logger = logging.getLogger(__name__)

CHUNK = 16 * 1024
"""Bytes per cached piece of a remote file (as GDAL's ``/vsicurl/``); reads fetch whole pieces."""
CACHE_BYTES = 8 * 1024 * 1024
"""Most bytes of one remote file kept in memory (least recently used pieces go first)."""
MAX_AHEAD = 64
"""Most pieces read ahead of a sequential read (1 MB)."""
MAX_REDIRECTS = 5
"""Redirect hops followed per request, each target checked against the allow-list."""

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


@dataclass
class RangeClient:
    """HTTP range requests for the remote files of one fetch, only ever to allowed URLs.

    Parameters
    ----------
    session
        The ``requests`` session (its adapters hold the retries for 5xx, 429 and broken
        connections); redirects are never followed by it.
    schemes, hosts
        The allow-list, as :func:`ingest.imagery.urls.check_url` takes it.
    timeout_s
        Timeout of one request, seconds.

    Attributes
    ----------
    n_requests, n_bytes
        Requests made (redirects included) and bytes received so far.
    failure
        The first request that failed, if one did; every later request raises it again.
    """

    session: requests.Session
    schemes: tuple[str, ...]
    hosts: tuple[str, ...]
    timeout_s: float
    n_requests: int = 0
    n_bytes: int = 0
    failure: ProviderError | None = field(default=None, repr=False)

    def open(self, url: str) -> DatasetReader:
        """The GeoTIFF at ``url`` as an open rasterio dataset whose reads go through this client.

        Raises
        ------
        URLNotAllowedError, RemoteReadError
            When ``url`` is refused or cannot be read (raised instead of GDAL's own error).
        rasterio.errors.RasterioIOError
            When the bytes are not a GeoTIFF GDAL can open.
        """
        check_url(url, schemes=self.schemes, hosts=self.hosts)
        remote = RemoteFile(self, url)
        try:
            ds = rasterio.open(remote.name, opener=remote, driver="GTiff")
        except RasterioIOError:
            self.raise_failure()
            raise
        if self.failure is not None:
            ds.close()
            raise self.failure
        return ds

    def raise_failure(self) -> None:
        """Raise the first request failure since the client was made, if there was one."""
        if self.failure is not None:
            raise self.failure

    def get_range(self, url: str, start: int, end: int) -> tuple[bytes, int]:
        """Bytes ``start`` to ``end`` (inclusive, clipped to the file) of ``url``, and the file's size.

        Every URL requested, ``url`` and each redirect target, passes the allow-list first.

        Raises
        ------
        URLNotAllowedError
            ``url`` is refused (:class:`RedirectNotAllowedError` when a redirect target is).
            Once a request of this client failed, that failure is raised again, unrequested.
        RemoteReadError
            An HTTP error or broken connection after the retries, too many redirects, or an
            answer that is not the range asked for.
        """
        if self.failure is not None:  # GDAL may read on after a failed read: no more requests
            raise self.failure
        target = url
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                prepared = self._prepare(target, start, end)
            except URLNotAllowedError as err:
                if target == url:
                    raise
                raise RedirectNotAllowedError(url, target, err.detail) from err
            try:
                settings = self.session.merge_environment_settings(str(prepared.url), {}, True, None, None)  # proxies, CA bundle
                with self.session.send(prepared, allow_redirects=False, timeout=self.timeout_s, **settings) as response:
                    self.n_requests += 1
                    if response.is_redirect:
                        target = urljoin(target, response.headers["Location"])
                        continue
                    return self._range_body(url, response, start, end)
            except requests.RequestException as err:
                cause = err.args[0] if err.args else err  # urllib3's error, whose reason is the useful part
                why = getattr(cause, "reason", None) or cause
                raise RemoteReadError(url, f"bytes {start}-{end} could not be read (after the retries): {str(why)[:300]}") from err
        raise RemoteReadError(url, f"more than {MAX_REDIRECTS} redirects")

    def _prepare(self, target: str, start: int, end: int) -> requests.PreparedRequest:
        """The GET of bytes ``start``-``end`` of ``target``, once ``target`` and the URL as it will
        be sent (requests normalises it) pass the allow-list.

        Raises
        ------
        URLNotAllowedError
            When either is refused, or when the allow-list's URL parser and urllib3's (which
            decides where the connection goes) read a different scheme, host or port in it.
        """
        check_url(target, schemes=self.schemes, hosts=self.hosts)
        headers = {"Range": f"bytes={start}-{end}", "Accept-Encoding": "identity"}
        try:
            prepared = self.session.prepare_request(requests.Request("GET", target, headers=headers))
        except requests.RequestException as err:
            raise URLNotAllowedError(target, f"not a valid URL ({err})") from err
        sent = prepared.url or ""
        check_url(sent, schemes=self.schemes, hosts=self.hosts)
        if not _parsers_agree(sent):
            raise URLNotAllowedError(sent, "URL parsers disagree on its scheme, host or port")
        return prepared

    def _range_body(self, url: str, response: requests.Response, start: int, end: int) -> tuple[bytes, int]:
        """The body of a ``206 Partial Content`` answer for ``start``-``end``, checked, and the file size."""
        if response.status_code == 200:
            raise RemoteReadError(url, "the server does not answer HTTP range requests (200 instead of 206)")
        if response.status_code != 206:
            raise RemoteReadError(url, f"HTTP {response.status_code} {response.reason} for bytes {start}-{end}")
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if match is None or int(match[1]) != start or int(match[2]) < start:
            raise RemoteReadError(url, f"answered bytes {response.headers.get('Content-Range')!r} for bytes {start}-{end}")
        first, last, size = (int(g) for g in match.groups())
        want = last - first + 1
        try:
            body = response.raw.read(want + 1, decode_content=False)
        except (urllib3.exceptions.HTTPError, OSError) as err:  # the connection broke mid-body
            raise RemoteReadError(url, f"bytes {start}-{end} broke off: {str(err)[:300]}") from err
        if len(body) != want or last != min(end, size - 1):
            raise RemoteReadError(url, f"answered {len(body)} bytes for bytes {start}-{end} of {size}")
        self.n_bytes += want
        return body, size


class RemoteFile(FileContainer):
    """One remote file as rasterio's opener sees it: a single name whose reads are range requests.

    Other names GDAL may look for (``.ovr``, ``.aux.xml`` ...) do not exist; nothing is requested
    for them.
    """

    def __init__(self, client: RangeClient, url: str) -> None:
        self.client = client
        self.url = url
        # the name GDAL sees (and shows in its messages): the URL's file name; rasterio puts each
        # opener under a prefix of its own, so equal names of two URLs do not clash
        self.name = re.sub(r"[^\w.-]", "_", PurePosixPath(urlsplit(url).path).name).lstrip(".") or "asset.tif"
        self._size: int | None = None
        self._chunks: OrderedDict[int, bytes] = OrderedDict()
        self._cached = 0
        self._next = 0  # the piece after the last one fetched
        self._ahead = 0  # pieces read ahead by the last fetch

    def open(self, path: str, mode: str = "r", **kwds: object) -> RangeFile:
        self._only(path)
        if "w" in mode or "a" in mode or "+" in mode:
            raise PermissionError(f"{self.url} is read-only")
        return RangeFile(self)

    def isfile(self, path: str) -> bool:
        return path == self.name

    def isdir(self, path: str) -> bool:
        return False

    def ls(self, path: str) -> list[str]:
        return []

    def mtime(self, path: str) -> int:
        return 0

    def rm(self, path: str) -> None:
        raise PermissionError(f"{self.url} is read-only")

    def size(self, path: str) -> int:
        self._only(path)
        return self.file_size()

    def _only(self, path: str) -> None:
        if path != self.name:
            raise FileNotFoundError(path)

    def file_size(self) -> int:
        """The file's size in bytes, known from the first answer (the first piece, with the header).

        Raises
        ------
        URLNotAllowedError, RemoteReadError
            As :meth:`RangeClient.get_range`.
        """
        if self._size is None:
            body, self._size = self.client.get_range(self.url, 0, CHUNK - 1)
            self._keep(_pieces(0, body))
            self._next = 1
        return self._size

    def read_at(self, pos: int, n: int) -> bytes:
        """Up to ``n`` bytes from offset ``pos`` (fewer at the end of the file).

        Raises
        ------
        URLNotAllowedError, RemoteReadError
            As :meth:`RangeClient.get_range`.
        """
        size = self.file_size()
        end = min(pos + max(n, 0), size)
        if pos >= end:
            return b""
        first, last = pos // CHUNK, (end - 1) // CHUNK
        got = {i: self._chunks[i] for i in range(first, last + 1) if i in self._chunks}
        for i in got:
            self._chunks.move_to_end(i)
        for run in _runs(i for i in range(first, last + 1) if i not in got):
            stop = run[-1] + 1
            self._ahead = min(max(2 * self._ahead, 1), MAX_AHEAD) if run[0] == self._next else 0
            for _ in range(self._ahead):  # up to the next cached piece or the end of the file
                if stop * CHUNK >= size or stop in self._chunks:
                    break
                stop += 1
            body, _ = self.client.get_range(self.url, run[0] * CHUNK, min(stop * CHUNK, size) - 1)
            self._next = stop
            fetched = dict(_pieces(run[0], body))
            got |= fetched
            self._keep(fetched.items())
        joined = b"".join(got[i] for i in range(first, last + 1))
        return joined[pos - first * CHUNK:end - first * CHUNK]

    def _keep(self, pieces: Iterable[tuple[int, bytes]]) -> None:
        for i, piece in pieces:
            if i not in self._chunks:
                self._cached += len(piece)
            self._chunks[i] = piece
        while self._cached > CACHE_BYTES and len(self._chunks) > 1:
            _, dropped = self._chunks.popitem(last=False)
            self._cached -= len(dropped)


class RangeFile(io.RawIOBase):
    """A seekable read-only handle on a :class:`RemoteFile` (GDAL may open several at once)."""

    def __init__(self, remote: RemoteFile) -> None:
        super().__init__()
        self._remote = remote
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END:
            try:
                offset += self._remote.file_size()
            except ProviderError as err:
                self._remote.client.failure = self._remote.client.failure or err
        elif whence == io.SEEK_CUR:
            offset += self._pos
        self._pos = max(offset, 0)
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        """Bytes from the position; on a failed request none (GDAL then fails), the error kept."""
        try:
            if size is None or size < 0:
                size = self._remote.file_size() - self._pos
            data = self._remote.read_at(self._pos, size)
        except ProviderError as err:  # cannot cross GDAL's C code: kept, raised by the caller
            self._remote.client.failure = self._remote.client.failure or err
            return b""
        self._pos += len(data)
        return data


def _parsers_agree(url: str) -> bool:
    """Whether ``urlsplit`` (the allow-list's parser) and urllib3 (which opens the connection) read
    the same scheme, host and port in ``url``."""
    split, parsed = urlsplit(url), parse_url(url)
    return (split.scheme.lower(), (split.hostname or "").lower(), split.port) == (
        (parsed.scheme or "").lower(), (parsed.host or "").strip("[]").lower(), parsed.port
    )


def _pieces(index: int, body: bytes) -> list[tuple[int, bytes]]:
    """``body`` fetched from piece ``index`` on, cut into pieces of :data:`CHUNK` bytes."""
    return [(index + k, body[k * CHUNK:(k + 1) * CHUNK]) for k in range((len(body) + CHUNK - 1) // CHUNK)]


def _runs(indexes: Iterable[int]) -> Iterator[list[int]]:
    """Consecutive runs of ascending ``indexes``: 1 2 3 7 8 -> [1 2 3] [7 8]."""
    run: list[int] = []
    for i in indexes:
        if run and i != run[-1] + 1:
            yield run
            run = []
        run.append(i)
    if run:
        yield run
